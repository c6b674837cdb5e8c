from __future__ import annotations

import numpy as np
import pytest

from sensekit.clock import Clock, FakeClock, MonotonicClock, RateFitter


def test_clocks_follow_the_protocol() -> None:
    assert isinstance(MonotonicClock(), Clock)
    assert isinstance(FakeClock(), Clock)
    a = MonotonicClock().now_ns()
    assert MonotonicClock().now_ns() >= a


def test_fake_clock_moves_only_when_told() -> None:
    c = FakeClock(0)
    assert c.now_ns() == 0
    c.sleep(0.5)
    assert c.now_ns() == 500_000_000
    with pytest.raises(ValueError):
        c.advance(-1)
    with pytest.raises(ValueError):
        c.set_ns(1)


def simulate(rate: float, ppm: float, seconds: float, rng: np.random.Generator,
             poll_s: float = 0.02, jitter_s: float = 0.005) -> tuple[np.ndarray, np.ndarray]:
    """True sample times of a device whose clock is off by ``ppm``, read by a jittery poller."""
    period = 1e9 / rate / (1 + ppm * 1e-6)
    fitter = RateFitter(rate)
    t0 = 5e9 + 0.3 * period
    stamps, truth = [], []
    read_count = 0
    t = 5e9
    while t < 5e9 + seconds * 1e9:
        t += poll_s * 1e9 + rng.uniform(-jitter_s, jitter_s) * 1e9
        available = int((t - t0) // period) + 1
        n = available - read_count
        if n <= 0:
            continue
        latency = rng.uniform(0.0, 0.0004) * 1e9  # bus transfer
        stamps.append(fitter.stamp(n, int(t + latency)))
        truth.append(t0 + period * np.arange(read_count, available))
        read_count = available
    return np.concatenate(stamps), np.concatenate(truth)


@pytest.mark.parametrize("ppm", [-8000.0, 0.0, 8000.0])
def test_rate_fitter_tracks_a_drifting_clock_within_one_period(ppm: float) -> None:
    rng = np.random.default_rng(1)
    rate = 1000.0
    stamps, truth = simulate(rate, ppm, 60.0, rng)
    period = 1e9 / rate
    diffs = np.diff(stamps)
    assert diffs.min() > 0  # no overlap, strictly increasing
    assert diffs.max() < 1.6 * period  # no gap
    settled = slice(len(stamps) // 20, None)  # after the first few seconds of fitting
    err = np.abs(stamps[settled] - truth[settled])
    assert err.max() < period, err.max()


def test_rate_fitter_skip_keeps_the_gap_honest() -> None:
    f = RateFitter(100.0)
    a = f.stamp(10, 1_000_000_000)
    f.skip(5)
    b = f.stamp(10, 1_200_000_000)
    assert b[0] - a[-1] >= 5 * 10_000_000
    assert f.samples_seen == 25


def test_clock_map_applies_each_step_from_its_time_on() -> None:
    from sensekit.clock import ClockMap, ClockStep

    cmap = ClockMap([ClockStep(0, 1_000, "false", "system clock")])
    cmap.add(ClockStep(50, 5_000, "true", "NTP step"))
    assert cmap.utc_ns(-10) == 990 and cmap.utc_ns(49) == 1_049 and cmap.utc_ns(50) == 5_050
    t = np.array([-10, 0, 49, 50, 60], np.int64)
    assert cmap.utc_array(t).tolist() == [cmap.utc_ns(int(x)) for x in t]
    assert [cmap.host_ns(cmap.utc_ns(int(x))) for x in t] == t.tolist()
    assert cmap.offset_range == (1_000, 5_000)
    with pytest.raises(ValueError, match="precedes"):
        cmap.add(ClockStep(10, 0))
    assert ClockStep.from_record(cmap.current.record()) == cmap.current
    assert ClockMap.constant(7).utc_ns(3) == 10
