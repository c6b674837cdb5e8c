from __future__ import annotations

from pathlib import Path

import pytest

from sensekit.controller.demo import POLICIES, stage
from sensekit.log.reader import open as open_log
from sensekit.testing.scenario import SimConfig, simulate

pytest.importorskip("onnxruntime")


def test_the_demo_stage_runs_the_whole_pipeline(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "day.mcap"
    simulate(path, SimConfig(duration_s=40, seed=5))
    with open_log(path) as log:
        streams = {s: log.read(s) for s in log.stream_names()}
    text = stage(streams, tmp_path)
    for policy in POLICIES:
        assert f"| {policy} |" in text
    assert (tmp_path / "policies.png").stat().st_size > 10_000
    live = capsys.readouterr().out
    assert "live view" in live and "t=    0s" in live and "sensors" in live


def test_the_stage_needs_labels(tmp_path: Path) -> None:
    assert "no labels" in stage({}, tmp_path)
