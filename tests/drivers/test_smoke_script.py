"""The bring-up smoke script reads every emulated part once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "drivers" / "smoke.py"


def test_smoke_script_reads_every_part_once() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--emu"], capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 7 and all(line.startswith("ok   ") for line in lines)
    assert any("lux=300.0" in line for line in lines)


def test_hardware_checks_pass_on_the_emulated_parts() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--emu", "--check", "all"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    results = [line for line in out.stdout.splitlines() if " check " in line]
    names = {line.split(" check ")[1].split(" ")[0] for line in results}
    assert names == {"mpu-self-test", "mpu-wake-on-motion", "mpu-gyro-startup", "mpu9250-mag",
                     "ina219-overrange", "ina219-timing", "power-loss", "gps-baud",
                     "jetson-camera"}
    assert all(line.startswith("ok   check") for line in results)
    assert ">>> tap or shove the board" in out.stdout  # what a person on a board is asked


def test_every_not_verified_item_in_the_drivers_names_a_check_the_script_has() -> None:
    import re

    root = SCRIPT.parents[1] / "sensekit" / "drivers"
    text = SCRIPT.read_text(encoding="utf-8")
    named = set()
    for path in root.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        pattern = r"Not verified on hardware:(.{0,400}?)(?:\n\n|\"\"\")"
        for match in re.finditer(pattern, source, re.S):
            checks = re.findall(r"--check\s+([a-z0-9-]+)", match.group(1).replace("\n", " "))
            assert checks, f"{path.name} says what is not verified but names no smoke check"
            named |= set(checks)
    assert len(named) >= 6
    for name in named:
        assert f'HardwareCheck("{name}"' in text, name


def test_a_check_on_a_board_needs_the_parts_url() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "--check", "mpu-self-test"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode != 0 and "--check NAME@URL" in out.stderr
