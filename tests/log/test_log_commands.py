"""The recording commands, run as a user runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from log_helpers import MS, gps_packet, imu_packet

import sensekit.log as sklog
from sensekit.cli import main
from sensekit.clock import FakeClock
from sensekit.log.recorder import Recorder


@pytest.fixture
def walk(tmp_path: Path) -> Path:
    path = tmp_path / "walk.mcap"
    clock = FakeClock()
    with Recorder(path, clock=clock, flush_s=0.5) as rec:
        for i in range(20):
            clock.advance(0.1)
            rec.write(imu_packet(i * 100 * MS, 100))
            if i % 10 == 0:
                rec.write(gps_packet(i * 100 * MS))
    return path


def test_record_a_rig_then_info(walk: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    rig = tmp_path / "rig.toml"
    out = tmp_path / "again.mcap"
    rig.write_text(f'[rig]\nname = "bench"\n\n[devices.imu]\ndriver = "replay"\n'
                   f'url = "replay://{walk}?speed=0#imu"\n\n[record]\noutput = "{out}"\n'
                   'duration_s = 0.5\n')
    assert main(["record", str(rig), "-q"]) == 0
    assert "imu" in capsys.readouterr().out
    with sklog.open(out) as log:
        assert len(log.read("imu")) == 2000
        assert log.devices()["imu"]["driver"] == "replay"
        assert b'name = "bench"' in log.attachment("rig.toml")
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["streams"]["imu"]["samples"] == 2000
    assert info["streams"]["imu"]["rate_hz"] == pytest.approx(1000.0)


def test_info_table_and_repair(walk: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(walk.read_bytes()[: walk.stat().st_size * 2 // 3] + bytes(1000))
    assert main(["info", str(cut)]) == 0
    text = capsys.readouterr().out
    assert "no index (cut off" in text and "cut at byte" in text
    assert main(["log", "repair", str(cut)]) == 0
    assert "cut off at byte" in capsys.readouterr().out
    with sklog.open(tmp_path / "cut.repaired.mcap") as log:
        assert log.indexed and len(log.read("imu")) > 0


def test_export_and_import_commands(walk: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(walk), "--to", "csv", "-o", str(tmp_path / "csv")]) == 0
    assert (tmp_path / "csv" / "imu.csv").is_file()
    assert main(["export", str(walk), "--to", "foxglove", "-o", str(tmp_path / "f.mcap")]) == 0
    assert "2,002 messages" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "csv" / "gps.csv"), "-o", str(tmp_path / "g.mcap"),
                 "--modality", "gps", "--map", "t_ns=t_ns", "--map", "lat_deg=lat_deg",
                 "--map", "lon_deg=lon_deg"]) == 0
    with sklog.open(tmp_path / "g.mcap") as log:
        assert log.read("gps")["lat_deg"].tolist() == [52.52, 52.52]


def test_replay_command_publishes_every_sample(walk: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(walk), "--speed", "0", "-q"]) == 0
    out = capsys.readouterr().out
    assert "imu" in out and "2,000 samples" in out and "gps" in out


def test_record_with_a_missing_device_writes_nothing(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    rig = tmp_path / "rig.toml"
    out = tmp_path / "never.mcap"
    rig.write_text(f'[devices.imu]\ndriver = "replay"\nurl = "replay://{tmp_path}/gone.mcap#imu"'
                   f'\n\n[record]\noutput = "{out}"\n')
    assert main(["record", str(rig), "-q"]) == 1  # a device missing: the run failed
    assert "no recording at" in capsys.readouterr().err
    assert not out.exists()


def test_errors_name_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"hello world, not mcap")
    assert main(["info", str(junk)]) == 1
    assert "junk.bin is not an MCAP file" in capsys.readouterr().err
    assert main(["import", str(junk)]) == 1  # a file that holds no recording: the run failed
    err = capsys.readouterr().err
    assert "junk.bin" in err and "Sensor Logger" not in err


def _has_samples(path: Path) -> bool:
    try:
        with sklog.open(path) as log:
            return "imu" in log.stream_names() and len(log.read("imu")) > 0
    except (OSError, ValueError):
        return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_record_command_stops_cleanly_on_ctrl_c_and_sigterm(walk: Path, tmp_path: Path,
                                                            signum: int) -> None:
    rig = tmp_path / "rig.toml"
    out = tmp_path / "live.mcap"
    rig.write_text(f'[devices.imu]\ndriver = "replay"\nurl = "replay://{walk}#imu"\n\n'
                   f'[record]\noutput = "{out}"\nflush_s = 0.2\n')
    proc = subprocess.Popen([sys.executable, "-m", "sensekit", "record", str(rig)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    growing = out.with_name(out.name + ".part")
    deadline = time.monotonic() + 30
    while not _has_samples(growing) and time.monotonic() < deadline:
        time.sleep(0.05)  # the file in progress is readable up to its last flush
    assert _has_samples(growing), "the recording in progress never showed a sample"
    proc.send_signal(signum)
    stdout, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and f"wrote {out}" in stdout
    with sklog.open(out) as log:
        assert log.indexed and 0 < len(log.read("imu")) <= 2000
