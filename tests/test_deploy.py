"""The systemd unit in deploy/: valid for systemd, and its command records a rig."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "sensekit-record.service"
RIG = '[rig]\nname = "bench"\n\n[devices.imu]\ndriver = "mpu6050"\nurl = "emu://"\nrate_hz = 100\n'


def unit_sections() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


def test_unit_has_what_a_service_needs() -> None:
    unit = unit_sections()
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"  # what sensekit record stops cleanly on
    assert unit["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_unit() -> None:
    done = subprocess.run(["systemd-analyze", "verify", str(UNIT)], capture_output=True,
                          text=True, timeout=60)
    # verify exits 0 on a setting it ignores but says so: any word from it is a fault.
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def exec_start_for(rig: Path) -> list[str]:
    """The unit's ExecStart= as systemd would run it, with this venv and a test rig."""
    line = unit_sections()["Service"]["ExecStart"]
    line = line.replace("%%", "%").replace("$$", "$")  # systemd's escapes
    line = line.replace("/opt/sensekit-venv/bin/sensekit", f"{sys.executable} -m sensekit")
    line = line.replace("/etc/sensekit/rig.toml", f"{rig} --duration 1")
    return shlex.split(line)


def test_the_units_command_records_the_rig(tmp_path: Path) -> None:
    rig = tmp_path / "rig.toml"
    rig.write_text(RIG)
    cmd = exec_start_for(rig)
    assert cmd[:2] == ["/bin/sh", "-c"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    made = [p.name for p in tmp_path.glob("rig-*.mcap")]
    assert len(made) == 1 and re.fullmatch(r"rig-\d{8}T\d{6}Z(-\d+)?\.mcap", made[0]), made
    info = subprocess.run([sys.executable, "-m", "sensekit", "info", made[0], "--json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert info.returncode == 0 and '"imu"' in info.stdout, info.stderr
