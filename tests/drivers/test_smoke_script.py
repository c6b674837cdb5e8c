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
