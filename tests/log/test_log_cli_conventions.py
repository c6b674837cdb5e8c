"""The recording commands as neighbours (``mcap``, ``ros2 bag``) behave: ``-o -`` streams the
result to stdout where one stream holds it, ``--json`` is a flag, ``-v``/``-q`` go anywhere."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from log_helpers import MS, gps_packet, imu_packet
from mcap.reader import make_reader

from sensekit.cli import main
from sensekit.clock import FakeClock
from sensekit.log.recorder import Recorder


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    path = tmp_path / "rec.mcap"
    with Recorder(path, clock=FakeClock()) as rec:
        for i in range(20):
            rec.write(imu_packet(i * 100 * MS, 100))
            if i % 10 == 0:
                rec.write(gps_packet(i * 100 * MS))
    return path


def test_repair_to_stdout_streams_a_valid_recording(
        recorded: Path, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["log", "repair", str(recorded), "-o", "-", "-q"]) == 0
    out = capsysbinary.readouterr()
    topics = {ch.topic for ch in make_reader(io.BytesIO(out.out)).get_summary().channels.values()}
    assert {"imu", "gps"} <= topics
    assert b"wrote stdout" in out.err  # the note goes where it does not spoil the stream
    assert list(tmp_path.iterdir()) == [recorded]  # no file and no temporary left behind


def test_export_one_stream_as_csv_to_stdout(recorded: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(recorded), "--to", "csv", "--streams", "imu", "-o", "-"]) == 0
    out = capsys.readouterr()
    table = pd.read_csv(io.StringIO(out.out))
    assert len(table) == 20 * 100 and list(table.columns[:2]) == ["t_ns", "wall_ns"]
    assert "wrote stdout" in out.err


@pytest.mark.parametrize("how", [["--to", "parquet"], ["--to", "csv"]])
def test_export_refuses_stdout_where_one_stream_cannot_hold_it(
        recorded: Path, how: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(recorded), *how, "-o", "-"]) == 2
    assert "stdout cannot hold" in capsys.readouterr().err


def test_export_json_names_the_files(recorded: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(recorded), "--to", "csv", "-o", str(tmp_path / "t"),
                 "--json"]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert sorted(Path(f).name for f in files) == ["gps.csv", "imu.csv"]


def test_info_json_to_a_file_and_options_anywhere(recorded: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "info.json"
    assert main(["-q", "info", "--json", str(recorded), "-o", str(out), "-v"]) == 0
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text())["streams"]
    assert main(["info", str(recorded), "--json", "-o", str(out)]) == 2  # no silent overwrite
    assert "--force" in capsys.readouterr().err
    assert main(["info", str(recorded), "-o", str(recorded), "--force"]) == 2  # never the input
    assert recorded.stat().st_size > 0 and out.exists()


def test_json_is_a_flag_not_an_option_taking_a_path(recorded: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["info", str(recorded), f"--json={tmp_path / 'x.json'}"])
    assert exit_info.value.code == 2
    assert not (tmp_path / "x.json").exists()


def test_replay_json_counts_every_sample(recorded: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(recorded), "--speed", "0", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == {"gps": 2, "imu": 2000}


def test_import_and_foxglove_export_stream_to_stdout(
        recorded: Path, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["export", str(recorded), "--to", "foxglove", "-o", "-"]) == 0
    out = capsysbinary.readouterr()
    assert out.out.startswith(b"\x89MCAP") and b"wrote stdout: " in out.err
    assert main(["export", str(recorded), "--to", "csv", "-o", str(tmp_path / "csv")]) == 0
    capsysbinary.readouterr()
    assert main(["import", str(tmp_path / "csv" / "gps.csv"), "-o", "-", "--modality", "gps",
                 "--map", "t_ns=t_ns", "--map", "lat_deg=lat_deg", "--map",
                 "lon_deg=lon_deg"]) == 0
    out = capsysbinary.readouterr()
    summary = make_reader(io.BytesIO(out.out)).get_summary()
    assert {ch.topic for ch in summary.channels.values()} == {"gps"}
    assert b"wrote stdout" in out.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["csv", "rec.mcap"]
