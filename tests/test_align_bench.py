"""The align benchmark's pandas peer computes the same windows as sensekit."""

from __future__ import annotations

import numpy as np
import pytest

from sensekit.align import StreamSpec, align
from sensekit.bench import BENCHMARKS
from sensekit.bench import align as bench


def test_pandas_peer_agrees_with_align_on_messy_streams() -> None:
    pytest.importorskip("pandas")
    streams = bench.make_streams(bench.MULTI_RATE, 200_000, seed=3)
    specs = {k: StreamSpec(s.rate_hz) for k, s in bench.MULTI_RATE.items()}
    windows = align(streams, specs, bench.WINDOW_S, bench.HOP_S)
    k0 = windows[0].index
    peer = bench.pandas_windows(streams, specs, k0, windows[-1].index)
    bench._agree(windows, peer, k0)  # raises where any slot differs
    assert peer["imu"]["mask"].shape == (len(windows), 2000)
    inner = peer["imu"]["mask"][1:-1]  # windows wholly inside the recording
    assert 0.9 < inner.mean() < 1.0  # gaps and collisions leave holes
    broken = {k: dict(v) for k, v in peer.items()}
    broken["gps"]["t_ns"] = np.roll(broken["gps"]["t_ns"], 1)
    with pytest.raises(AssertionError, match=r"gps\.t_ns"):
        bench._agree(windows, broken, k0)


def test_benchmark_is_registered_and_reports_both_sides() -> None:
    pytest.importorskip("pandas")
    assert BENCHMARKS["align"][0] == "sensekit.bench.align"
    cases = bench._compare("small", bench.EQUAL_COUNT, 20_000, repeats=1)
    assert [c.unit for c in cases] == ["s", "Msamples/s"]
    assert all(c.baseline is not None and c.ratio is not None for c in cases)
    assert "checked equal" in cases[0].note
