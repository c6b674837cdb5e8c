from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sensekit import __version__
from sensekit.bench import case, format_table, write_json
from sensekit.cli import main


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"sensekit {__version__}"
    assert main([]) == 0
    assert "bench" in capsys.readouterr().out


def test_unknown_command_fails(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_bench_list_and_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--list"]) == 0
    assert main(["bench", "nosuch"]) == 2
    assert "unknown benchmark 'nosuch'" in capsys.readouterr().err


def test_case_ratio_orientation_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    faster = case("throughput", 200.0, "items/s", 50.0)
    quicker = case("latency", 1.0, "ms", 4.0, higher_is_better=False)
    assert faster.ratio == 4.0 and quicker.ratio == 4.0
    assert case("alone", 3.0, "x").ratio is None
    format_table("demo", [faster, quicker], sys.stdout)
    assert "4.00x" in capsys.readouterr().out
    write_json(tmp_path / "b.json", [faster, case("alone", 3.0, "x")])
    data = json.loads((tmp_path / "b.json").read_text())
    assert data[0] == {"name": "throughput", "value": 200.0, "unit": "items/s",
                       "baseline": 50.0, "ratio": 4.0}
    assert "baseline" not in data[1]


def test_import_sensekit_stays_light() -> None:
    code = ("import sys, sensekit, sensekit.cli, sensekit.drivers, sensekit.config;"
            "heavy = [m for m in ('torch', 'cv2', 'smbus2', 'serial', 'sounddevice', 'mcap',"
            " 'matplotlib', 'pandas') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
