"""``sensekit bench ahrs``: registered, compares both paths with the peers; its streaming path
gives what the causal filter gives over the arrays, its batch path the whole-recording
estimate."""

from __future__ import annotations

import numpy as np
import pytest

from sensekit.bench import BENCHMARKS
from sensekit.bench import ahrs as bench
from sensekit.testing.motion import make_trial


def small_trial(quick: bool):  # type: ignore[no-untyped-def]
    tr = make_trial("combined", 0, rate_hz=100.0, rest_s=3.0, move_s=12.0)
    return tr.gyr, tr.acc, tr.mag, 100.0, tr.quat, tr.movement, "synthetic (test)"


def test_streamed_equals_the_causal_filter_over_the_arrays() -> None:
    from sensekit.orientation import Ahrs

    g, a, m, rate, *_ = small_trial(True)
    causal = Ahrs(rate, backend="complementary").estimate(g, a, m, offline=False)
    streamed = bench._streamed("complementary", 7)(g, a, m, rate)
    assert np.abs(causal - streamed).max() < 1e-4  # float32 packets


def test_the_batch_case_times_the_whole_recording_estimate() -> None:
    from sensekit.orientation import Ahrs

    g, a, m, rate, *_ = small_trial(True)
    whole = Ahrs(rate, backend="complementary").estimate(g, a, m, offline=True)
    np.testing.assert_array_equal(bench._sensekit("complementary")(g, a, m, rate), whole)


def test_benchmark_reports_both_paths_against_the_peers(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("imufusion")
    pytest.importorskip("ahrs")
    assert BENCHMARKS["ahrs"][0] == "sensekit.bench.ahrs"
    monkeypatch.setattr(bench, "_trial", small_trial)
    cases = bench.run(quick=True)
    names = [c.name for c in cases]
    assert any(n.startswith("batch 9-axis") and n.endswith("vs imufusion") for n in names)
    assert any(n.startswith("batch 6-axis") and n.endswith("vs madgwick") for n in names)
    assert any("streaming 9-axis" in n and "20-sample" in n for n in names)
    assert all(c.ratio is not None and c.value > 0 for c in cases)
    assert all("deg" in c.note for c in cases if c.name.startswith("batch"))
    assert all("Pi 4" in c.note for c in cases if c.name.startswith("streaming"))
