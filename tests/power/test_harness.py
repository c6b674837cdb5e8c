"""The harness: a tiny Python workload with phase markers, measured, reported, re-rendered."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import pytest

from sensekit.cli import main
from sensekit.power.harness import measure
from sensekit.power.markers import Phase, pair_markers, parse_marker
from sensekit.power.meters.jetson import JetsonMeter
from sensekit.power.report import load_run, phase_rows

FIXTURES = Path(__file__).parent / "fixtures"
NANO_W = 1.904  # POM_5V_IN of the fake Jetson Nano tree (in_power0_input 1904 mW)

WORKLOAD = """
import sys, time
from sensekit.power import phase
with phase("warm up"):
    time.sleep(0.05)
with phase("work"):
    with phase("inner"):
        time.sleep(0.03)
    time.sleep(0.02)
with phase("crash"):
    pass
from sensekit.power.markers import send_marker
send_marker("B", "left open")
sys.exit(3)
"""


def _workload(tmp_path: Path) -> list[str]:
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    return [sys.executable, str(script)]


@pytest.mark.parametrize("channel", ["socket", "fifo"])
def test_measure_takes_phases_and_writes_the_run(tmp_path: Path, channel: str) -> None:
    meter = JetsonMeter(str(FIXTURES / "sysfs_nano_jp4"), rate_hz=100).open()
    run_dir = measure(_workload(tmp_path), meter, tmp_path / "run", markers=channel,
                      platform="jetson_nano", settle_s=0.05, render=False)
    meter.close()
    run = load_run(run_dir)
    assert run.info["exit_code"] == 3
    names = [p.name for p in run.phases]
    assert names == ["warm up", "work", "inner", "crash", "left open"]
    by_name = {p.name: p for p in run.phases}
    assert by_name["warm up"].end_ns - by_name["warm up"].start_ns >= 50_000_000
    assert by_name["work"].start_ns <= by_name["inner"].start_ns < by_name["inner"].end_ns \
        <= by_name["work"].end_ns
    assert not by_name["left open"].complete and by_name["left open"].end_ns == \
        run.info["end_ns"]
    rows = {r.name: r for r in phase_rows(run)}
    assert set(rows) >= {"workload", "baseline (before)", "warm up", "work"}
    work = rows["work"].integral
    assert work.coverage == pytest.approx(1.0)
    assert work.energy_j == pytest.approx(NANO_W * work.window_s, rel=1e-4)
    assert rows["work"].floor_j == pytest.approx(1.3 * work.window_s)
    with (run_dir / "samples.csv").open() as f:
        header = next(csv.reader(f))
    assert header[:4] == ["t_ns", "t_s", "total_w", "POM_5V_IN_voltage_v"]
    assert len(run.samples) >= 10
    assert run.samples.total_w == pytest.approx([NANO_W] * len(run.samples))


def test_report_rerenders_table_png_and_battery_life(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    meter = JetsonMeter(str(FIXTURES / "sysfs_nano_jp4"), rate_hz=50).open()
    run_dir = measure(_workload(tmp_path), meter, tmp_path / "run", platform="jetson_nano")
    meter.close()
    png = run_dir / "power.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    png.unlink()
    assert main(["power", "report", str(run_dir), "--battery-wh", "10"]) == 0
    out = capsys.readouterr().out
    assert "| work |" in out and "ESTIMATE" not in out
    text = (run_dir / "report.md").read_text()
    assert "projected battery life" in text and f"{10 / NANO_W:.1f} h" in text
    assert "left open (no end marker)" in text
    assert png.is_file()
    if (run_dir / "samples.parquet").exists():
        import pyarrow.parquet as pq

        table = pq.read_table(run_dir / "samples.parquet")
        assert table.column("total_w").to_pylist() == pytest.approx(
            list(load_run(run_dir).samples.total_w))


def test_cli_measure_with_estimate_meter_is_labelled(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    code = main(["power", "measure", "--meter", "estimate", "--rate", "20", "--out",
                 str(tmp_path / "run"), "--", sys.executable, "-c", "pass"])
    assert code == 0
    captured = capsys.readouterr()
    assert "ESTIMATE" in captured.err and "J (ESTIMATE)" in captured.out
    text = (tmp_path / "run/report.md").read_text()
    assert "ESTIMATE, not a measurement" in text
    info = json.loads((tmp_path / "run/run.json").read_text())
    assert info["meter"]["estimate"] is True
    if (tmp_path / "run/samples.parquet").exists():
        import pyarrow.parquet as pq

        schema = pq.read_schema(tmp_path / "run/samples.parquet")
        assert schema.metadata[b"sensekit.estimate"] == b"true"


def test_shell_workload_marks_phases_through_the_fifo(tmp_path: Path) -> None:
    meter = JetsonMeter(str(FIXTURES / "sysfs_nano_jp4"), rate_hz=100).open()
    script = 'echo "B - shell step" > "$SENSEKIT_POWER_MARKERS"; sleep 0.1; ' \
             'echo "E - shell step" > "$SENSEKIT_POWER_MARKERS"'
    run_dir = measure(["sh", "-c", script], meter, tmp_path / "run", markers="fifo",
                      render=False)
    meter.close()
    (step,) = load_run(run_dir).phases
    assert step.name == "shell step" and step.complete
    assert 0.1 <= (step.end_ns - step.start_ns) / 1e9 < 1.0


def test_cli_measure_from_a_campaign_file(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    tree = tmp_path / "sys"
    shutil.copytree(FIXTURES / "sysfs_orin_nano_jp5", tree)
    config = tmp_path / "campaign.toml"
    config.write_text(f"""
[measure]
meter = "jetson@{tree}"
rate_hz = 50
out = "{tmp_path / 'run'}"
platform = "jetson_orin_nano"
command = ["{sys.executable}", "-c", "pass"]

[record]
psu = "bench supply 5.0 V"
""")
    assert main(["power", "measure", "--config", str(config)]) == 0
    info = json.loads((tmp_path / "run/run.json").read_text())
    assert info["meter"]["total"] == "VDD_IN" and info["notes"]["psu"] == "bench supply 5.0 V"
    assert info["rate_hz"] == 50


def test_cli_errors_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["power", "measure", "--meter", "estimate"]) == 2
    assert "after '--'" in capsys.readouterr().err
    assert main(["power", "report", str(tmp_path)]) == 1
    assert "run.json" in capsys.readouterr().err


def test_markers_parse_and_pair() -> None:
    assert parse_marker("B 12 load model") == ("B", 12, "load model")
    assert parse_marker("E - shell step", arrived_ns=77) == ("E", 77, "shell step")
    assert parse_marker("X 12 a") is None and parse_marker("B twelve a") is None
    events = [("B", 1, "a"), ("B", 2, "a"), ("E", 3, "a"), ("E", 4, "a"), ("E", 5, "b"),
              ("B", 6, "c")]
    phases, unmatched = pair_markers(events, end_ns=9)
    assert phases == [Phase("a", 1, 4), Phase("a", 2, 3), Phase("c", 6, 9, complete=False)]
    assert unmatched == 1


def test_cli_meters_lists_what_is_found(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["power", "meters"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("jetson")
    assert "estimate   found (estimate)" in out  # any Linux machine has /proc/stat
    assert "ina219, ina226, ina3221: name them with a URL" in out


def test_failing_meter_leaves_gaps_and_errors_in_the_report(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from sensekit.errors import DeviceIOError
    from sensekit.power.meters.pi5 import Pi5PmicMeter

    text = (FIXTURES / "pi5_pmic_read_adc_idle.txt").read_text()
    calls = {"n": 0}

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] > 3:
            raise DeviceIOError("pi5 at vcgencmd: vcgencmd pmic_read_adc exited 255")
        return text

    meter = Pi5PmicMeter(runner=flaky, rate_hz=40, retries=0).open()
    run_dir = measure([sys.executable, "-c", "import time; time.sleep(0.3)"], meter,
                      tmp_path / "run")
    meter.close()
    run = load_run(run_dir)
    workload = next(r for r in phase_rows(run) if r.name == "workload").integral
    assert workload.coverage < 0.5 and workload.gaps
    report = (run_dir / "report.md").read_text()
    assert "meter errors:" in report and "exited 255" in report
    assert "gap without samples" in report and "USB" in report
