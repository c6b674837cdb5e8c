"""On a real microphone (``SENSEKIT_HW=1``; ``SENSEKIT_MIC_URL``, default the default input)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import sensekit
from sensekit.packets import concat

pytestmark = pytest.mark.hardware
URL = os.environ.get("SENSEKIT_MIC_URL", "mic://")


def test_real_microphone_rate_and_timestamps() -> None:
    with sensekit.open("audio", URL, rate_hz=16000) as mic:
        packets = [p for p in (mic.read(timeout_s=1.0) for _ in range(60)) if p is not None]
    joined = concat(packets)
    span_s = (joined.t_ns[-1] - joined.t_ns[0]) / 1e9
    assert len(joined) / span_s == pytest.approx(16000, rel=0.01)  # resampled if not native
    assert np.all(np.diff(joined.t_ns) > 0)
    print(f"native {packets[0].meta['native_rate_hz']} Hz, dropped {mic.stats.dropped}")
