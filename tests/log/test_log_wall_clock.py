"""Wall-clock time in every log: UTC log_time, the recorded clock mapping and its steps."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from log_helpers import MS, gps_packet, imu_packet
from mcap.reader import make_reader

import sensekit.log as sklog
import sensekit.log.recorder as recorder_module
from sensekit.cli import main
from sensekit.clock import FakeClock
from sensekit.log.exporters import to_dataframe, to_foxglove_mcap
from sensekit.log.recorder import Recorder

ROOT = Path(__file__).resolve().parents[2]
WALL0 = 1_714_809_600_000_000_000  # 2024-05-04T08:00:00Z
HOUR = 3_600 * 10**9


def _messages(path: Path) -> list[tuple[str, int, int]]:
    with open(path, "rb") as fh:
        return [(c.topic, m.log_time, m.publish_time)
                for _, c, m in make_reader(fh).iter_messages(log_time_order=False)]


class SteppingWall:
    """A wall clock that NTP sets an hour forward after ``at_ns`` of host time."""

    def __init__(self, clock: FakeClock, at_ns: int) -> None:
        self.clock, self.at_ns = clock, at_ns

    def __call__(self) -> int:
        now = self.clock.now_ns()
        return WALL0 + now + (HOUR if now >= self.at_ns else 0)


def _record_through_a_step(path: Path, clock: FakeClock,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    wall = SteppingWall(clock, at_ns=clock.now_ns() + 2_000 * MS)
    # timesyncd says "synchronised" from the moment it sets the clock.
    monkeypatch.setattr(recorder_module, "clock_synchronized",
                        lambda: clock.now_ns() >= wall.at_ns)
    with Recorder(path, clock=clock, wall_clock=wall, flush_s=0.5) as rec:
        for i in range(40):
            t0 = clock.now_ns()
            rec.write(imu_packet(t0, 10, rate_hz=100.0))
            if i % 10 == 0:
                rec.write(gps_packet(t0))
            clock.advance(0.1)
            rec.tick()


def test_recorded_log_time_is_utc_and_the_packet_keeps_host_time(tmp_path: Path) -> None:
    clock = FakeClock(5 * 10**9)
    path = tmp_path / "r.mcap"
    with Recorder(path, clock=clock, wall_offset_ns=WALL0, clock_synced=True) as rec:
        rec.write(imu_packet(6 * 10**9, 100))
        rec.write(gps_packet(6 * 10**9))
    msgs = _messages(path)
    assert {t for _, t, _ in msgs} >= {WALL0 + 6 * 10**9}
    assert all(log_time == publish for _, log_time, publish in msgs)
    with sklog.open(path) as log:
        assert log.log_time_is_utc
        imu = log.read("imu")
        assert imu.t_ns[0] == 6 * 10**9  # host monotonic time, as stamped
        assert log.utc_ns(int(imu.t_ns[0])) == WALL0 + 6 * 10**9
        frame = to_dataframe(log, "imu")
        assert frame["wall_ns"].iloc[0] == WALL0 + 6 * 10**9
        assert len(log.read("imu", 6 * 10**9 + 50 * MS, 6 * 10**9 + 60 * MS)) == 10


def test_a_clock_step_is_recorded_followed_and_reported(tmp_path: Path, clock: FakeClock,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    path = tmp_path / "step.mcap"
    start = clock.now_ns()
    _record_through_a_step(path, clock, monkeypatch)
    with sklog.open(path) as log:
        steps = log.clock_map.steps
        assert [s.synchronized for s in steps] == ["false", "true"]
        assert steps[1].offset_ns - steps[0].offset_ns == HOUR
        assert steps[1].source == "wall clock stepped"
        step_t = steps[1].t_ns
        assert 0 <= step_t - (start + 2_000 * MS) <= 200 * MS
        imu = log.read("imu")
        assert len(imu) == 400 and (np.diff(imu.t_ns) > 0).all()
        frame = to_dataframe(log, "imu")
    # log_time follows the recorded mapping: one offset before the step, the other after,
    # and it moves only there.
    offsets = frame["wall_ns"] - frame["t_ns"]
    assert set(offsets) == {WALL0, WALL0 + HOUR}
    jumps = np.flatnonzero(np.diff(offsets.to_numpy()))
    assert len(jumps) == 1 and frame["t_ns"].iloc[jumps[0] + 1] >= step_t
    imu_times = sorted(t for topic, t, _ in _messages(path) if topic == "imu")
    assert imu_times[0] == WALL0 + start and imu_times[-1] > WALL0 + HOUR
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "clock synchronised:  false (system clock)" in text
    assert "clock step 1:        +3600.000 s at 2.0 s (wall clock stepped), synchronised: " \
           "true" in text


def test_a_log_written_before_utc_log_time_reads_and_repair_rewrites_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "demo.mcap"
    shutil.copy(ROOT / "data" / "demo.mcap", old)  # written by sensekit-log/1
    with sklog.open(old) as log:
        assert not log.log_time_is_utc
        offset = log.wall_offset_ns
        imu = log.read("imu")
        names = set(log.streams)
        raw = [(c.topic, t) for c, t, _ in log.raw_messages()]
    assert raw[0][1] < 10**17  # host time, not a date
    assert main(["log", "repair", str(old), "-o", str(tmp_path / "new.mcap")]) == 0
    capsys.readouterr()
    with sklog.open(tmp_path / "new.mcap") as log:
        assert log.log_time_is_utc
        assert set(log.streams) == names
        np.testing.assert_array_equal(log.read("imu").t_ns, imu.t_ns)
        new = [(c.topic, t) for c, t, _ in log.raw_messages()]
        assert sorted(new) == sorted((topic, t + offset) for topic, t in raw)
        assert log.clock_map.utc_ns(0) == offset
        assert log.metadata("sensekit.log")[0]["format"] == "sensekit-log/2"
    assert main(["info", str(tmp_path / "new.mcap")]) == 0
    assert "log_time is UTC" in capsys.readouterr().out


def test_foxglove_export_of_an_old_log_has_utc_log_time(tmp_path: Path) -> None:
    old = ROOT / "data" / "demo.mcap"
    out = tmp_path / "fox.mcap"
    with sklog.open(old) as log:
        offset = log.wall_offset_ns
        first_gps = int(log.read("gps").t_ns[0])
        to_foxglove_mcap(log, out)
    gps = sorted(t for topic, t, _ in _messages(out) if topic == "gps")
    assert gps[0] == first_gps + offset
    assert min(t for _, t, _ in _messages(out)) > 1_600_000_000 * 10**9
