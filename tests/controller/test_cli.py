"""``sensekit evaluate-policy``: folders of recordings, per recording and pooled, --json on
stdout, --plot of each recording's and the pooled front."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sensekit.cli import main
from sensekit.testing.scenario import SimConfig, simulate

pytest.importorskip("onnxruntime")

KEYS = {"policy", "macro_f1", "accuracy", "sensor_j", "compute_j", "total_j",
        "windows_processed", "front", "recording"}


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("days")
    for seed in (6, 7):
        simulate(folder / f"day-{seed}.mcap", SimConfig(duration_s=6, seed=seed))
    return folder


@pytest.mark.slow  # about 30 s of CPU: every static point of two simulated days
def test_json_is_a_flag_printing_every_policy_and_static_point(
        days: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate-policy", str(days), "--policy", "always-on", "--policy",
                 "static:accel@25+gps@1:power_save", "--pareto", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all(set(r) >= KEYS for r in rows)
    pooled = [r for r in rows if r["recording"] == "pooled"]
    each = {r["recording"] for r in rows} - {"pooled"}
    assert each == {str(days / "day-6.mcap"), str(days / "day-7.mcap")}
    statics = [r for r in pooled if r["policy"].startswith("static:")]
    assert len(statics) > 1000 and any(r["front"] for r in statics)
    names = {r["policy"] for r in statics}
    # reduced rates, the low-power cycle mode the network cannot take is left out, modes, duty
    assert {"static:accel@25", "static:accel@100+gyro@100", "static:gps@1:power_save",
            "static:camera@16", "static:camera@32:photo", "static:gps@1~10/60"} <= names
    # a policy's pooled row adds its recordings' energies
    per = [r for r in rows if r["policy"] == "always-on" and r["recording"] != "pooled"]
    total = next(r for r in pooled if r["policy"] == "always-on")
    assert total["sensor_j"] == pytest.approx(sum(r["sensor_j"] for r in per))


def test_plot_draws_each_recording_and_the_pool(days: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "fronts.png"
    assert main(["evaluate-policy", str(days / "day-6.mcap"), str(days / "day-7.mcap"),
                 "--policy", "always-on", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "pooled over 2 recordings" in out and str(days / "day-6.mcap") in out
    assert png.stat().st_size > 20_000
    assert main(["evaluate-policy", str(tmp_path), "--json"]) == 2  # a folder without any
    assert "no .mcap recordings" in capsys.readouterr().err


def test_plot_axes_read_in_joules_without_offsets() -> None:
    from sensekit.controller.report import _joules

    assert [_joules(x, None) for x in (0.5, 2.0, 100.0, 2000.0)] == ["0.5", "2", "100", "2000"]
