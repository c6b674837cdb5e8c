"""The emulated receiver's output decodes back to its trajectory; its line rate is enforced."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from sensekit.clock import FakeClock
from sensekit.drivers.gps.capture import decode_capture
from sensekit.testing.gps_receiver import GpsReceiverEmulator


def test_bursts_decode_to_the_trajectory_in_every_quadrant() -> None:
    def path(t_s: float) -> tuple[float, float, float, float, float, bool]:
        return -33.8568 - t_s * 1e-4, -151.2153 + t_s * 1e-4, -12.5, 3.0, 225.0, t_s < 3

    emu = GpsReceiverEmulator(path, talker="GN", start_utc=dt.datetime(2024, 2, 29, 23, 59, 58),
                              sentences=("GGA", "GSA", "GSV", "RMC", "VTG", "GLL", "ZDA"))
    fixes = decode_capture(b"".join(emu.burst(float(t)) for t in range(5))).fixes
    assert [f.time_iso for f in fixes] == [
        "2024-02-29T23:59:58.000Z", "2024-02-29T23:59:59.000Z", "2024-03-01T00:00:00.000Z",
        "2024-03-01T00:00:01.000Z", "2024-03-01T00:00:02.000Z"]
    assert [f.mode for f in fixes] == [3, 3, 3, 1, 1]
    for t, fix in enumerate(fixes[:3]):
        lat, lon, alt, speed, track, _ = path(float(t))
        assert (fix.lat_deg, fix.lon_deg) == (pytest.approx(lat, abs=2e-6),
                                              pytest.approx(lon, abs=2e-6))
        assert (fix.alt_msl_m, fix.speed_mps, fix.track_deg) == pytest.approx(
            (alt, speed, track), abs=1e-3)
    assert all(math.isnan(f.lat_deg) for f in fixes[3:])


def test_a_burst_longer_than_the_line_carries_is_cut(clock: FakeClock) -> None:
    emu = GpsReceiverEmulator(clock=clock, baud=4800, rate_hz=10.0)   # 48 bytes per epoch
    clock.advance(0.05)
    assert len(emu.take_due(clock.now_ns())) <= 48 and emu.cut_sentences > 0
