"""A recording's life on disk: NAME.mcap.part while written, renamed on a clean close, closed
with its index when the disk fills up, split into numbered files, never written over."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from log_helpers import MS, imu_packet
from mcap.reader import make_reader

import sensekit.log as sklog
from sensekit.clock import FakeClock
from sensekit.errors import OutputRefused
from sensekit.log.recorder import Recorder, RecordingStopped


class SmallDisk:
    """A disk of ``capacity`` bytes holding every file in ``folder``, as a full SD card is.

    A write that would take the folder's files past the capacity writes what fits, then fails
    with ENOSPC; removing a file frees its bytes (sizes are the real files' sizes).
    """

    def __init__(self, folder: Path, capacity: int) -> None:
        self.folder, self.capacity = folder, capacity
        self.refused = 0

    def used(self) -> int:
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())

    def open(self, path: Path, mode: str) -> DiskFile:
        return DiskFile(self, open(path, mode, buffering=0))


class DiskFile:
    def __init__(self, disk: SmallDisk, fh: Any) -> None:
        self.disk, self.fh = disk, fh

    def write(self, data: bytes) -> int:
        end = self.fh.tell() + len(data)
        grow = max(0, end - os.fstat(self.fh.fileno()).st_size)
        room = self.disk.capacity - self.disk.used()
        if grow > room:
            self.disk.refused += 1
            fits = len(data) - (grow - max(room, 0))
            if fits > 0:
                self.fh.write(data[:fits])
            raise OSError(errno.ENOSPC, "No space left on device")
        return int(self.fh.write(data))

    def __enter__(self) -> DiskFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fh, name)


def record_until_full(path: Path, clock: FakeClock, capacity: int) -> tuple[Recorder, int]:
    """Record 100-sample IMU packets until the disk is full; return the recorder and the
    samples written before the last flush that succeeded."""
    disk = SmallDisk(path.parent, capacity)
    rec = Recorder(path, clock=clock, flush_s=0.2, opener=disk.open)
    flushed = 0
    with pytest.raises(RecordingStopped) as stopped:
        for i in range(100_000):
            if rec._chunk_started_ns is None:  # the previous packet ended with a flush
                flushed = rec.samples
            rec.write(imu_packet(i * 100 * MS, 100))
            clock.advance(0.1)
    assert disk.refused >= 1
    assert "disk full while writing" in str(stopped.value)
    assert "closed with its index" in str(stopped.value)
    return rec, flushed


def test_recording_is_a_part_file_until_closed(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "ride.mcap"
    rec = Recorder(path, clock=clock, flush_s=0.1)
    rec.write(imu_packet(0, 100))
    clock.advance(0.2)
    rec.write(imu_packet(100 * MS, 100))
    part = tmp_path / "ride.mcap.part"
    assert rec.writing == part and part.is_file() and not path.exists()
    with sklog.open(part) as log:  # readable while it grows
        assert not log.indexed and len(log.read("imu")) == 200
    rec.write(imu_packet(200 * MS, 100))
    rec.close()
    assert path.is_file() and not part.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ride.mcap"]  # no reserve left
    with sklog.open(path) as log:
        assert log.indexed and len(log.read("imu")) == 300


def test_full_disk_leaves_an_indexed_readable_file(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "full.mcap"
    rec, flushed = record_until_full(path, clock, capacity=400_000)
    rec.write(imu_packet(10**12, 100))  # after the stop: counted, not written
    rec.close()
    assert rec.dropped == 100 and flushed > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.mcap"]
    with open(path, "rb") as fh:  # the mcap package reads it through its index
        reader = make_reader(fh)
        summary = reader.get_summary()
        assert summary is not None and summary.statistics is not None
        assert summary.statistics.message_count == sum(1 for _ in reader.iter_messages())
    with sklog.open(path) as log:
        assert log.indexed
        assert len(log.read("imu")) == flushed  # everything up to the last flush
        assert log.metadata("sensekit.stopped") == [{"reason": "disk full"}]


def test_full_disk_at_the_start_writes_nothing(tmp_path: Path, clock: FakeClock) -> None:
    disk = SmallDisk(tmp_path, 10_000)  # less than the space kept to close a file
    rec = Recorder(tmp_path / "none.mcap", clock=clock, opener=disk.open)
    with pytest.raises(RecordingStopped, match=r"disk full.*nothing was written"):
        rec.write(imu_packet(0, 100))
    rec.close()
    assert list(tmp_path.iterdir()) == []


def test_split_by_size_and_duration(tmp_path: Path, clock: FakeClock) -> None:
    by_time = Recorder(tmp_path / "t.mcap", clock=clock, flush_s=0.5, split_s=2.0)
    with by_time:
        for i in range(50):
            by_time.write(imu_packet(i * 100 * MS, 100))
            clock.advance(0.1)
    assert [p.name for p in by_time.paths] == [f"t-{i:04d}.mcap" for i in range(3)]
    by_size = Recorder(tmp_path / "s.mcap", clock=clock, flush_s=0.5, split_bytes=30_000)
    with by_size:
        for i in range(50):
            by_size.write(imu_packet(i * 100 * MS, 100))
            clock.advance(0.1)
    assert len(by_size.paths) >= 3
    for rec in (by_time, by_size):
        total = 0
        for path in rec.paths:
            with sklog.open(path) as log:
                assert log.indexed
                total += len(log.read("imu"))
        assert total == 5000
    assert not list(tmp_path.glob("*.part"))


def test_existing_recordings_are_kept_unless_forced(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "ride.mcap"
    with Recorder(path, clock=clock) as rec:
        rec.write(imu_packet(0, 100))
    before = path.read_bytes()
    with pytest.raises(OutputRefused, match=r"ride\.mcap exists.*--force"):
        Recorder(path, clock=clock)
    assert path.read_bytes() == before
    with Recorder(path, clock=clock, force=True) as rec:
        rec.write(imu_packet(0, 50))
    with sklog.open(path) as log:
        assert len(log.read("imu")) == 50
    rig = tmp_path / "rig.toml"
    rig.write_text("[devices.imu]\n")
    with pytest.raises(OutputRefused, match="is an input"):
        Recorder(rig, clock=clock, force=True, inputs=[rig])
    assert rig.read_text() == "[devices.imu]\n"


def test_split_recordings_are_kept_unless_forced(tmp_path: Path, clock: FakeClock) -> None:
    (tmp_path / "s-0003.mcap").write_bytes(b"an earlier session")
    with pytest.raises(OutputRefused, match=r"s-0003\.mcap exists"):
        Recorder(tmp_path / "s.mcap", clock=clock, split_s=1.0)


def test_leftover_part_is_named_and_never_replaced(tmp_path: Path, clock: FakeClock,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    crashed = tmp_path / "ride.mcap.part"
    rec = Recorder(tmp_path / "ride.mcap", clock=clock, flush_s=0.1)
    rec.write(imu_packet(0, 100))
    rec.flush()
    data = crashed.read_bytes()  # as a power cut leaves it: never closed
    for force in (False, True):
        with pytest.raises(OutputRefused, match=r"ride\.mcap\.part is an unfinished recording"):
            Recorder(tmp_path / "ride.mcap", clock=clock, force=force)
    assert crashed.read_bytes() == data
    with caplog.at_level(logging.WARNING, logger="sensekit.log.recorder"):
        other = Recorder(tmp_path / "walk.mcap", clock=clock)
    assert other.leftovers == [crashed]
    assert "ride.mcap.part is an unfinished recording" in caplog.text
    assert "sensekit log repair" in caplog.text
