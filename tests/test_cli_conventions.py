"""Every command as its neighbours (gpspipe, mcap, ros2 bag, jtop) behave: -v/-q anywhere,
--json a flag, -o FILE for what a command prints, -o - refused where stdout cannot hold it."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pytest

from sensekit.cli import COMMANDS, command_parser, main


def all_parsers() -> list[argparse.ArgumentParser]:
    found = []
    todo = [command_parser(name) for name in sorted(COMMANDS)]
    while todo:
        parser = todo.pop()
        found.append(parser)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo += list(action.choices.values())
    return found


def test_every_command_takes_verbose_and_quiet_and_json_is_always_a_flag() -> None:
    for parser in all_parsers():
        options = parser._option_string_actions
        assert {"-v", "--verbose", "-q", "--quiet"} <= set(options), parser.prog
        if "--json" in options:
            assert options["--json"].nargs == 0, f"{parser.prog}: --json takes a value"
        if "-o" in options:
            assert options["-o"] is options["--output"], f"{parser.prog}: -o is not --output"


def test_verbose_counts_from_both_sides_of_the_command(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    assert main(["-v", "probe", "--emu", "-v"]) == 0
    assert logging.getLogger().level == logging.DEBUG
    assert main(["probe", "--emu", "-q"]) == 0
    assert logging.getLogger().level == logging.WARNING


def test_probe_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--emu", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["serial"] == [] and found["i2c"]
    assert all(f["address"].startswith("0x") and f["confidence"] for f in found["i2c"])


def test_power_meters_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["power", "meters", "--json"]) == 0
    meters = json.loads(capsys.readouterr().out)
    assert meters["estimate"]["found"] is True
    assert all(("rails" in m) == m["found"] for m in meters.values())


@pytest.mark.parametrize("line", [
    ["demo", "-o", "-"],
    ["power", "measure", "-o", "-", "--", "true"],
    ["windows", "x.mcap", "-o", "-"],
])
def test_stdout_is_refused_where_the_result_is_a_folder(
        line: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(line) == 2
    assert "stdout cannot hold" in capsys.readouterr().err


def test_every_fleet_job_takes_the_fleets_output_and_the_common_options() -> None:
    from sensekit.fleet.cli import job_parser
    from sensekit.fleet.jobs import JOBS, Job

    # a job that leaves the command's -o and --json to the fleet without naming them
    plain = Job("plain", "sensekit.log.cli.info", "log", "x:y", lambda stem, _: stem)
    for job in [*JOBS.values(), plain]:
        options = job_parser(job)._option_string_actions
        assert options["-o"].required, job.name  # the fleet's folder, not the command's file
        assert {"-v", "-q", "--json", "--force"} <= set(options), job.name
