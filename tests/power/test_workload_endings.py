"""`sensekit power measure` when the workload is missing, fails, is killed or is stopped: a
clear line, the workload's exit status (as `time` and `timeout` give it), and the run written."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sensekit.cli import main


def measure(tmp_path: Path, *command: str, out: str = "run") -> list[str]:
    return ["power", "measure", "--meter", "estimate", "--rate", "50",
            "--out", str(tmp_path / out), "--", *command]


@pytest.mark.parametrize(("command", "code", "said"), [
    (["no-such-workload-anywhere"], 127, "'no-such-workload-anywhere': command not found"),
    ([os.devnull], 126, "cannot be executed"),
    ([sys.executable, "-c", "raise SystemExit(3)"], 3, "exited with 3"),
    ([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"], 137,
     "killed by SIGKILL"),
], ids=["not-found", "not-executable", "exit-3", "killed"])
def test_exit_status_follows_the_workload(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          command: list[str], code: int, said: str) -> None:
    assert main(measure(tmp_path, *command)) == code
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if x.startswith("sensekit power:"))
    assert said in line and "Traceback" not in err
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["exit_code"] == code  # the run is written whatever the workload did
    assert (tmp_path / "run" / "report.md").is_file()


def test_shell_characters_in_the_command_draw(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    command = ["sh", "-c", r"echo 'cost: $\price$ of $x^$' > /dev/null"]
    assert main(measure(tmp_path, *command)) == 0
    png = tmp_path / "run" / "power.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert r"$\price$" in (tmp_path / "run" / "report.md").read_text()


def test_existing_run_is_replaced_only_with_force(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(measure(tmp_path, "true")) == 0
    before = (tmp_path / "run" / "run.json").read_bytes()
    assert main(measure(tmp_path, "true")) == 2
    assert "holds a run already" in capsys.readouterr().err
    assert (tmp_path / "run" / "run.json").read_bytes() == before
    assert main([*measure(tmp_path, "true")[:-2], "--force", "--", "true"]) == 0


@pytest.mark.parametrize(("text", "said"), [
    ('[measure]\nrate_hz = "x"\ncommand = ["true"]\n', "campaign.toml:2: [measure] rate_hz"),
    ('[measure]\ncommand = ["true"]\nsettle_s = -1\n', "campaign.toml:3: [measure] settle_s"),
    ('[measure]\ncommand = ["true"]\nmeter = 5\n', "campaign.toml:3: [measure] meter"),
    ('[measure]\ncommand = "true"\n', "campaign.toml:2: [measure] command"),
    ("[measure\n", "campaign.toml: not valid TOML"),
    ("\udcff", "not UTF-8 text"),
])
def test_malformed_campaign_is_one_line_naming_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, said: str) -> None:
    campaign = tmp_path / "campaign.toml"
    campaign.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert main(["power", "measure", "--config", str(campaign)]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_harness_stops_the_workload_and_keeps_the_run(tmp_path: Path,
                                                                   signum: int) -> None:
    started = tmp_path / "started"
    # Python's own Ctrl-C handling even where the suite runs in the background (which
    # starts every process with SIGINT ignored).
    workload = ("import pathlib, signal, time; "
                "signal.signal(signal.SIGINT, signal.default_int_handler); "
                f"pathlib.Path({str(started)!r}).touch(); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-m", "sensekit", *measure(
        tmp_path, sys.executable, "-c", workload)], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)  # some readings while the workload runs
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum  # the workload was stopped by the same signal
    name = signal.Signals(signum).name
    # (A Python workload prints its own KeyboardInterrupt; sensekit prints one line.)
    assert f"interrupted by {name}" in err and not re.search(r'File ".*sensekit', err)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["interrupted_by"] == name and info["signal"] == name
    rows = (tmp_path / "run" / "samples.csv").read_text().splitlines()
    assert len(rows) > 2 and (tmp_path / "run" / "report.md").is_file()
