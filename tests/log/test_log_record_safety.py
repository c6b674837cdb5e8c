"""`sensekit record` never replaces an input or a recording unasked, splits long sessions, names
the rig line of a failing device, and handles Ctrl-C however early it comes."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from log_helpers import MS, imu_packet

import sensekit.log as sklog
from sensekit.cli import main
from sensekit.clock import FakeClock
from sensekit.log.recorder import Recorder


@pytest.fixture
def walk(tmp_path: Path) -> Path:
    path = tmp_path / "walk.mcap"
    clock = FakeClock()
    with Recorder(path, clock=clock, flush_s=0.2) as rec:
        for i in range(40):
            clock.advance(0.1)
            rec.write(imu_packet(i * 100 * MS, 100))
    return path


def rig_file(tmp_path: Path, walk: Path, extra: str = "", speed: float = 0) -> Path:
    rig = tmp_path / "rig.toml"
    rig.write_text(f'[rig]\nname = "bench"\n\n[devices.imu]\ndriver = "replay"\n'
                   f'url = "replay://{walk}?speed={speed:g}#imu"\n{extra}')
    return rig


def test_record_refuses_to_write_over_its_rig(tmp_path: Path, walk: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    rig = rig_file(tmp_path, walk)
    before = rig.read_bytes()
    (tmp_path / "link.mcap").symlink_to(rig)
    os.link(rig, tmp_path / "hard.mcap")
    replayed = walk.read_bytes()
    for out in ("rig.toml", "link.mcap", "hard.mcap", "walk.mcap"):  # walk.mcap: replayed
        assert main(["record", str(rig), "-q", "-o", str(tmp_path / out), "--force"]) == 2
        err = capsys.readouterr().err
        assert "is an input" in err and len(err.strip().splitlines()) == 1
        assert rig.read_bytes() == before and walk.read_bytes() == replayed


def test_record_replaces_a_recording_only_with_force(tmp_path: Path, walk: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    rig = rig_file(tmp_path, walk)
    out = tmp_path / "ride.mcap"
    out.write_bytes(b"yesterday's ride")
    assert main(["record", str(rig), "-q", "-o", str(out), "-d", "0.3"]) == 2
    assert "ride.mcap exists. Hint: add --force" in capsys.readouterr().err
    assert out.read_bytes() == b"yesterday's ride"
    assert main(["record", str(rig), "-q", "-o", str(out), "-d", "0.3", "--force"]) == 0
    with sklog.open(out) as log:
        assert len(log.read("imu")) == 4000


def test_record_splits_by_size_into_numbered_files(tmp_path: Path, walk: Path) -> None:
    rig = rig_file(tmp_path, walk, "\n[record]\nflush_s = 0.05\n", speed=8)
    out = tmp_path / "ride.mcap"
    assert main(["record", str(rig), "-q", "-o", str(out), "-d", "1",
                 "--split-size", "20k"]) == 0
    files = sorted(tmp_path.glob("ride-*.mcap"))
    assert len(files) >= 2 and files[0].name == "ride-0000.mcap"
    total = 0
    for path in files:
        with sklog.open(path) as log:
            assert log.indexed
            total += len(log.read("imu"))
    assert total == 4000 and not list(tmp_path.glob("*.part"))


def test_split_options_are_checked(tmp_path: Path, walk: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    rig = rig_file(tmp_path, walk)
    for bad in (["--split-size", "0"], ["--split-duration", "soon"], ["-d", "-1"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["record", str(rig), "-q", *bad])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "positive" in err or "not a number" in err
    assert sorted(tmp_path.iterdir()) == sorted([rig, walk])


def test_leftover_part_is_named_at_the_next_start(tmp_path: Path, walk: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    rig = rig_file(tmp_path, walk)
    crashed = tmp_path / "monday.mcap.part"
    crashed.write_bytes(walk.read_bytes()[:5000])
    with caplog.at_level(logging.WARNING):
        assert main(["record", str(rig), "-q", "-o", str(tmp_path / "tuesday.mcap"),
                     "-d", "0.2"]) == 0
    assert "monday.mcap.part is an unfinished recording" in caplog.text
    assert crashed.read_bytes() == walk.read_bytes()[:5000]
    assert main(["info", str(crashed)]) == 0
    assert "unfinished (.part)" in capsys.readouterr().out


def test_device_error_names_rig_file_line_and_device(tmp_path: Path, walk: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    rig = rig_file(tmp_path, walk, f'\n[devices.gps]\ndriver = "replay"\n'
                                   f'url = "replay://{tmp_path}/gone.mcap#gps"\n')
    assert main(["record", str(rig), "-q", "-o", str(tmp_path / "x.mcap")]) == 1
    err = capsys.readouterr().err
    assert f"{rig}:8: device 'gps' (replay at replay://{tmp_path}/gone.mcap#gps)" in err
    assert "no recording at" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.mcap").exists() and not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("where", ["importlib.import_module", "sensekit.config.load_rig",
                                   "sensekit.open", "sensekit.log.recorder.Recorder.add_driver",
                                   "sensekit.hub.Hub.attach"])
def test_ctrl_c_in_the_first_moments_of_record(tmp_path: Path, walk: Path, where: str,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(where, interrupted)
    rig = rig_file(tmp_path, walk)
    before = sorted(tmp_path.iterdir())
    assert main(["record", str(rig), "-q", "-o", str(tmp_path / "x.mcap")]) == 130
    assert capsys.readouterr().err == "sensekit record: interrupted\n"
    assert sorted(tmp_path.iterdir()) == before  # nothing half made
