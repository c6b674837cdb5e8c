"""replay:// as a source: pacing, interleaving, timestamps, and the controller's knobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from log_helpers import MS, gps_packet, imu_packet, light_packet

import sensekit
from sensekit.clock import FakeClock
from sensekit.errors import DeviceNotFound
from sensekit.log.recorder import Recorder


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "walk.mcap"
    with Recorder(path, clock=FakeClock()) as rec:
        rec.add_device("imu", {"driver": "mpu6050", "modes": ["normal", "low-power"],
                               "mode": "normal", "power_model": "mpu6050"})
        for i in range(50):  # 5 s: IMU at 1 kHz in 100 ms packets, GPS and light at 1 Hz
            rec.write(imu_packet(i * 100 * MS, 100))
            if i % 10 == 5:
                rec.write(gps_packet(i * 100 * MS))
                rec.write(light_packet(i * 100 * MS, 300.0))
    return path


def test_replay_as_fast_as_possible_keeps_timestamps(recording: Path) -> None:
    with sensekit.open(f"replay://{recording}?speed=0#imu") as src:
        packets = list(src)
    t = np.concatenate([p.t_ns for p in packets])
    np.testing.assert_array_equal(t, np.arange(5000) * MS)
    assert all(p.stream == "imu" and p.modality == "imu" for p in packets)
    np.testing.assert_array_equal(packets[7]["accel_mps2"], imu_packet(700 * MS, 100)["accel_mps2"])


def test_real_time_replay_takes_recorded_time_over_speed(recording: Path,
                                                         clock: FakeClock) -> None:
    start = clock.now_ns()
    src = sensekit.open(f"replay://{recording}?speed=2#imu", clock=clock)
    n = sum(len(p) for p in src)
    assert n == 5000
    elapsed = (clock.now_ns() - start) / 1e9
    assert elapsed == pytest.approx(4.999 / 2, abs=0.01)


def test_all_streams_interleave_in_time_order(recording: Path) -> None:
    with sensekit.open(f"replay://{recording}?speed=0") as src:
        packets = list(src)
    starts = [int(p.t_ns[0]) for p in packets]
    assert starts == sorted(starts)
    assert {p.stream for p in packets} == {"imu", "gps", "light"}
    assert [p.stream for p in packets[5:8]] == ["imu", "gps", "light"] or \
        [p.stream for p in packets[5:8]] == ["imu", "light", "gps"]


def test_set_rate_subsamples_and_sleep_drops(recording: Path) -> None:
    src = sensekit.open(f"replay://{recording}?speed=0#imu")
    assert src.rate_hz == pytest.approx(1000.0)
    assert src.modes == ("normal", "low-power") and src.mode == "normal"
    assert src.modality == "imu" and src.power_model == "mpu6050"
    first = src.read()
    assert first is not None and len(first) == 100
    assert src.set_rate(100.0, reason="still") == 100.0
    second = src.read()
    assert second is not None and len(second) == 10
    assert np.all(np.diff(second.t_ns) == 10 * MS)
    src.sleep(reason="budget")
    assert src.read() is None and src.skipped_asleep == 100
    src.wake()
    src.set_mode("low-power", reason="policy")
    assert [(c.setting, c.new) for c in src.changes] == [
        ("rate", 100.0), ("power", "asleep"), ("power", "awake"), ("mode", "low-power")]
    rest = sum(len(p) for p in src)
    assert rest == 10 * 47 and src.subsampled_out == 90 * 48
    src.close()


def test_opening_at_a_lower_rate_subsamples_from_the_start(recording: Path) -> None:
    with sensekit.open(f"replay://{recording}?speed=0#imu", rate_hz=50.0) as src:
        assert src.rate_hz == 50.0
        t = np.concatenate([p.t_ns for p in src])
    assert len(t) == 250 and np.all(np.diff(t) == 20 * MS)


def test_a_split_recording_replays_as_one(tmp_path: Path, clock: FakeClock) -> None:
    rec = Recorder(tmp_path / "ride.mcap", clock=clock, split_s=1.0)
    for i in range(35):
        rec.write(imu_packet(i * 100 * MS, 100))
        clock.advance(0.1)
    rec.close()
    assert len(rec.paths) == 4
    with sensekit.open(f"replay://{tmp_path}/ride-*.mcap?speed=0#imu") as src:
        assert src.total_samples() == 3500
        t = np.concatenate([p.t_ns for p in src])
    np.testing.assert_array_equal(t, np.arange(3500) * MS)


def test_missing_stream_or_file_is_named(recording: Path, tmp_path: Path) -> None:
    with pytest.raises(DeviceNotFound, match="has no stream 'camera'; it has gps, imu, light"):
        sensekit.open(f"replay://{recording}#camera")
    with pytest.raises(DeviceNotFound, match="no recording at"):
        sensekit.open(f"replay://{tmp_path}/nope.mcap#imu")
