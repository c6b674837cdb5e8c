"""Recording from the hub."""

from __future__ import annotations

import threading
from pathlib import Path

from log_helpers import MS, gps_packet, imu_packet

import sensekit.log as sklog
from sensekit.clock import FakeClock
from sensekit.hub import Hub
from sensekit.log.record import record_subscription
from sensekit.log.recorder import Recorder


def test_recorder_writes_what_the_hub_publishes(tmp_path: Path, clock: FakeClock) -> None:
    hub = Hub()
    sub = hub.subscribe("imu", "gps", name="recorder")
    stop = threading.Event()
    for i in range(20):
        hub.publish(imu_packet(i * 100 * MS, 100))
        if i % 10 == 0:
            hub.publish(gps_packet(i * 100 * MS))
    rec = Recorder(tmp_path / "hub.mcap", clock=clock)
    calls = []

    def on_packet(packet: object) -> None:
        calls.append(packet)
        if len(calls) == 22:
            stop.set()

    record_subscription(rec, sub, duration_s=None, stop=stop, clock=clock, on_packet=on_packet)
    rec.close()
    hub.close()
    with sklog.open(tmp_path / "hub.mcap") as log:
        assert len(log.read("imu")) == 2000 and len(log.read("gps")) == 2
    assert rec.dropped == 0


def test_a_recording_without_packets_is_still_a_valid_file(tmp_path: Path,
                                                          clock: FakeClock) -> None:
    rec = Recorder(tmp_path / "empty.mcap", clock=clock, rig_config="[rig]\n")
    rec.add_device("imu", {"driver": "mpu6050", "url": "i2c://1/0x68"})
    rec.close()
    with sklog.open(tmp_path / "empty.mcap") as log:
        assert log.indexed and log.streams == {}
        assert log.devices()["imu"]["url"] == "i2c://1/0x68"


def test_rate_and_mode_changes_are_recorded(tmp_path: Path, clock: FakeClock) -> None:
    from sensekit.driver import ModeChange

    rec = Recorder(tmp_path / "changes.mcap", clock=clock)
    rec.write(imu_packet(0, 100))
    changes = [ModeChange(50 * MS, "mpu6050 at emu://", "imu", "rate", 1000.0, 100.0, "still"),
               ModeChange(80 * MS, "mpu6050 at emu://", "imu", "power", "awake", "asleep", "")]
    # The controller changes a device from its own thread; the recorder writes it later.
    worker = threading.Thread(target=lambda: [rec.add_change(c) for c in changes])
    worker.start()
    worker.join()
    rec.write(imu_packet(100 * MS, 100))
    rec.close()
    with sklog.open(tmp_path / "changes.mcap") as log:
        assert log.changes() == changes
