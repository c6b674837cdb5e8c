"""The campaign files in power/campaigns are what the harness reads: keys, meters, commands."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from sensekit.power.cli import _campaign, add_arguments
from sensekit.power.meters import available_meters, split_spec
from sensekit.power.model import available_models

CAMPAIGNS = sorted((Path(__file__).parents[2] / "power" / "campaigns").glob("*.toml"))


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize("path", CAMPAIGNS, ids=[p.stem for p in CAMPAIGNS])
def test_campaign_file_is_complete(path: Path) -> None:
    settings = _campaign(_parse(["measure", "--config", str(path)]))
    name, _ = split_spec(settings["meter"])
    assert name in available_meters()
    assert isinstance(settings["command"], list) and settings["command"]
    workload = Path(__file__).parents[2] / settings["command"][1]
    assert workload.is_file(), f"{path.name}: workload {workload} missing"
    if "platform" in settings:
        assert settings["platform"] in available_models()


def test_command_line_overrides_the_campaign_file() -> None:
    path = next(p for p in CAMPAIGNS if p.stem == "pi5_pmic_cpu_steps")
    settings = _campaign(_parse(["measure", "--config", str(path), "--rate", "5", "--", "true"]))
    assert settings["rate_hz"] == 5 and settings["command"] == ["true"]
    assert settings["meter"] == "pi5"
