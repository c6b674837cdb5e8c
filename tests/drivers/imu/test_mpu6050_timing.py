"""Timing of the MPU-6050 driver against the emulated part on simulated time."""

from __future__ import annotations

import numpy as np
import pytest

import sensekit
from sensekit.clock import FakeClock
from sensekit.drivers.imu.mpu6050 import Mpu6050
from sensekit.errors import SampleDropped
from sensekit.testing.mpu6050_emu import Mpu6050Emulator


def run(imu: Mpu6050, clock: FakeClock, seconds: float, rng: np.random.Generator,
        poll_s: float = 0.05, jitter_s: float = 0.005) -> np.ndarray:
    """Read for ``seconds`` of simulated time, the reader waking every poll_s +- jitter_s."""
    stamps = []
    end = clock.now_ns() + seconds * 1e9
    while clock.now_ns() < end:
        clock.advance(poll_s + rng.uniform(-jitter_s, jitter_s))
        packet = imu.read(timeout_s=0.0)
        if packet is not None:
            stamps.append(packet.t_ns)
    return np.concatenate(stamps)


def test_ten_minutes_at_1khz_with_a_fast_clock_stay_within_one_period() -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator(clock_ppm=8000, record_truth=True, noise=False)
    imu = sensekit.open("mpu6050", "emu://", emulator=emu, clock=clock, rate_hz=1000)
    assert isinstance(imu, Mpu6050) and imu.rate_hz == 1000.0
    stamps = run(imu, clock, 600.0, np.random.default_rng(3))
    truth = emu.truth_ns
    assert len(stamps) >= 600 * 1000 * 1.008 - 100  # every sample of the fast clock arrived
    assert imu.stats.dropped == 0
    truth = truth[:len(stamps)]
    period = 1e9 / 1000
    err = np.abs(stamps - truth)
    assert err.max() < period, err.max()
    diffs = np.diff(stamps)
    assert diffs.min() > 0              # no overlap between bursts
    assert diffs.max() < 1.5 * period   # and no gap
    imu.close()


def test_a_stalled_reader_loses_what_the_fifo_lost_and_counts_it() -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator(clock_ppm=-3000, record_truth=True)
    imu = sensekit.open("mpu6050", "emu://", emulator=emu, clock=clock, rate_hz=1000)
    rng = np.random.default_rng(5)
    first = run(imu, clock, 5.0, rng)
    clock.advance(0.5)  # the reader stalls: 500 samples made, the FIFO holds 85
    with pytest.warns(SampleDropped, match="FIFO overflow"):
        assert imu.read(timeout_s=0.0) is None
    second = run(imu, clock, 5.0, rng)
    made = emu.fifo_pushed
    delivered = len(first) + len(second)
    # Every sample the part made is delivered or counted as dropped; the count is estimated
    # from time (as on hardware, the driver does not ask the emulator), within two samples.
    lost = made - delivered - _unread(emu)
    assert abs(imu.stats.dropped - lost) <= 2 and imu.stats.dropped_estimated
    assert 400 < imu.stats.dropped < 600
    # The timeline stays honest across the loss: stamps match the true times they belong to.
    truth = emu.truth_ns
    assert np.abs(first - truth[:len(first)]).max() < 1e6
    resume = len(first) + lost
    assert np.abs(second - truth[resume:resume + len(second)]).max() < 1e6
    imu.close()


def _unread(emu: Mpu6050Emulator) -> int:
    """Whole samples still waiting in the FIFO."""
    return len(emu.fifo) // 12


@pytest.mark.parametrize("ppm", [-8000.0, 8000.0])
def test_the_first_bursts_are_within_one_period_whatever_the_reader_jitter(ppm: float) -> None:
    # The hardest part of the fit is the first few reads; try many jitter patterns there.
    worst = 0.0
    for seed in range(40):
        clock = FakeClock()
        emu = Mpu6050Emulator(clock_ppm=ppm, record_truth=True, noise=False)
        imu = sensekit.open("mpu6050", "emu://", emulator=emu, clock=clock, rate_hz=1000)
        stamps = run(imu, clock, 0.5, np.random.default_rng(seed))
        worst = max(worst, float(np.abs(stamps - emu.truth_ns[:len(stamps)]).max()))
    assert worst < 0.9e6, worst
