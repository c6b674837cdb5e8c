"""sensekit fleet on a local Dask cluster: one result per recording, the manifest, reruns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import make_recording

from sensekit.errors import ConfigError
from sensekit.fleet import run_fleet
from sensekit.fleet.outputs import MANIFEST, STATE, TMP_SUFFIX
from sensekit.log.cli.info import recording_report, report_json
from sensekit.log.reader import LogReader


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """Two days with a recording of the same name each, and one file that is not MCAP."""
    for day, seed in (("day1", 1), ("day2", 2)):
        (tmp_path / "logs" / day).mkdir(parents=True)
        make_recording(tmp_path / "logs" / day / "walk.mcap", seconds=2 + seed, seed=seed)
    (tmp_path / "logs" / "day2" / "broken.mcap").write_bytes(b"not a recording")
    return tmp_path / "logs"


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_info_writes_one_result_per_recording_and_reports_failures(
        logs: Path, tmp_path: Path, client: Any) -> None:
    out = tmp_path / "out"
    result = run_fleet("info", [str(logs)], str(out), client=client)
    by_input = {Path(r.input).relative_to(logs).as_posix(): r for r in result.results}
    assert {k: r.status for k, r in by_input.items()} == {
        "day1/walk.mcap": "ok", "day2/broken.mcap": "failed", "day2/walk.mcap": "ok"}
    assert "broken.mcap" in str(by_input["day2/broken.mcap"].error)
    assert _files(out) == ["day1/walk.json", "day2/walk.json", MANIFEST]
    for day in ("day1", "day2"):
        doc = json.loads((out / day / "walk.json").read_text())
        expected = report_json(*recording_report(logs / day / "walk.mcap"))
        assert doc["streams"]["imu"]["samples"] == expected["streams"]["imu"]["samples"]
    assert by_input["day1/walk.mcap"].facts == {"streams": 1, "samples": 300}
    manifest = json.loads((out / MANIFEST).read_text())["outputs"]
    assert sorted(manifest) == ["day1/walk.json", "day2/walk.json"]
    assert manifest["day1/walk.json"]["size"] == (logs / "day1" / "walk.mcap").stat().st_size
    assert result.counts() == {"ok": 2, "failed": 1, "skipped": 0} and result.retries == 0


def test_rerun_skips_unchanged_inputs_and_redoes_changed_ones(
        logs: Path, tmp_path: Path, client: Any) -> None:
    out = tmp_path / "out"
    (logs / "day2" / "broken.mcap").unlink()
    run_fleet("info", [str(logs)], str(out), client=client)
    again = run_fleet("info", [str(logs)], str(out), client=client)
    assert [r.status for r in again.results] == ["skipped", "skipped"]
    # Same size, other content (the writing library's name in the header, still a valid
    # recording): only the hash tells it changed.
    path = logs / "day1" / "walk.mcap"
    data = path.read_bytes()
    path.write_bytes(data.replace(b"sensekit/", b"Sensekit/", 1))
    assert path.stat().st_size == len(data) and path.read_bytes() != data
    before = json.loads((out / MANIFEST).read_text())["outputs"]["day1/walk.json"]
    third = run_fleet("info", [str(logs)], str(out), client=client)
    assert [r.status for r in third.results] == ["ok", "skipped"]
    after = json.loads((out / MANIFEST).read_text())["outputs"]["day1/walk.json"]
    assert after["sha256"] == third.results[0].sha256 != before["sha256"]
    forced = run_fleet("info", [str(logs)], str(out), client=client, force=True)
    assert [r.status for r in forced.results] == ["ok", "ok"]
    # Other options make other results: redone, not skipped.
    other = run_fleet("info", [str(logs)], str(out), {"skip_corrupt": True}, client=client)
    assert [r.status for r in other.results] == ["ok", "ok"]


def test_a_result_the_fleet_did_not_write_is_kept_unless_forced(
        logs: Path, tmp_path: Path, client: Any) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "walk.json").write_text("the user's own notes")
    result = run_fleet("info", [str(logs / "day1")], str(out), client=client)
    assert result.results[0].status == "failed"
    assert "--force replaces it" in str(result.results[0].error)
    assert (out / "walk.json").read_text() == "the user's own notes"
    forced = run_fleet("info", [str(logs / "day1")], str(out), client=client, force=True)
    assert forced.results[0].status == "ok"
    assert json.loads((out / "walk.json").read_text())["streams"]["imu"]


def test_an_output_that_would_overwrite_its_input_is_refused(
        logs: Path, client: Any) -> None:
    with pytest.raises(ConfigError, match="would be written over it"):
        run_fleet("repair", [str(logs / "day1" / "walk.mcap")], str(logs / "day1"),
                  client=client)
    assert LogReader(logs / "day1" / "walk.mcap").streams["imu"].samples == 300


def test_globs_and_same_names_from_two_arguments(logs: Path, tmp_path: Path,
                                                 client: Any) -> None:
    out = tmp_path / "out"
    result = run_fleet("repair", [str(logs / "day1" / "walk.mcap"),
                                  str(logs / "day2" / "w*.mcap")], str(out), client=client)
    names = sorted(Path(r.output or "").name for r in result.results)
    assert len(names) == 2 and names[0] != names[1]
    assert all(n.startswith("walk-") and n.endswith(".mcap") for n in names)
    for r in result.results:
        with LogReader(r.output or "") as rep, LogReader(r.input) as src:
            assert rep.streams["imu"].samples == src.streams["imu"].samples
        assert r.facts["messages"] > 0


def test_export_job_takes_the_export_options(logs: Path, tmp_path: Path, client: Any) -> None:
    out = tmp_path / "out"
    (logs / "day2" / "broken.mcap").unlink()
    run_fleet("export", [str(logs)], str(out), {"to": "csv"}, client=client)
    run_fleet("export", [str(logs)], str(out), {"to": "foxglove"}, client=client)
    assert _files(out) == ["day1/walk-csv/imu.csv", "day1/walk.foxglove.mcap",
                           "day2/walk-csv/imu.csv", "day2/walk.foxglove.mcap", MANIFEST]
    rows = (out / "day2" / "walk-csv" / "imu.csv").read_text().count("\n")
    assert rows == 1 + 400
    # A folder result is replaced whole when its input changes.
    shutil.copy(logs / "day1" / "walk.mcap", logs / "day2" / "walk.mcap")
    run_fleet("export", [str(logs)], str(out), {"to": "csv"}, client=client)
    assert (out / "day2" / "walk-csv" / "imu.csv").read_text().count("\n") == 1 + 300
    assert not [p for p in out.rglob("*") if TMP_SUFFIX in p.name or p.name == STATE]


def test_windows_job_writes_shards_that_training_reads(tmp_path: Path, client: Any) -> None:
    from sensekit.fusion.inputs import sensor_modalities
    from sensekit.fusion.recordings import recording_windows
    from sensekit.fusion.shards import WindowShards
    from sensekit.testing.scenario import SimConfig, simulate

    logs = tmp_path / "logs"
    logs.mkdir()
    for seed in (1, 2):
        simulate(logs / f"day{seed}.mcap", SimConfig(duration_s=8.0, seed=seed))
    make_recording(logs / "unlabelled.mcap")
    result = run_fleet("windows", [str(logs)], str(tmp_path / "shards"),
                       {"shard_windows": 3, "format": "parquet"}, client=client)
    assert [r.status for r in result.results] == ["ok", "ok", "failed"]
    assert "labels" in str(result.results[2].error)
    assert result.results[0].facts == {"shards": 2, "windows": 4}
    assert _files(tmp_path / "shards") == [
        "day1.windows/part-00000.parquet", "day1.windows/part-00001.parquet",
        "day2.windows/part-00000.parquet", "day2.windows/part-00001.parquet", MANIFEST]
    data = WindowShards([tmp_path / "shards"], buffer=2)
    direct = [recording_windows(logs / f"day{s}.mcap", sensor_modalities()) for s in (1, 2)]
    assert len(data) == sum(len(w) for w in direct) == 8
    batch = next(iter(data.batches(8)))
    assert sorted(batch.labels["activity"]) == sorted(
        [int(y) for w in direct for y in w.labels["activity"]])


def test_import_job_takes_export_folders_and_event_files(tmp_path: Path, corpus: Path,
                                                         client: Any) -> None:
    from fleet_helpers import make_sensor_logger_export

    exports = tmp_path / "exports"
    make_sensor_logger_export(exports / "Walk-1")
    make_sensor_logger_export(exports / "phone2" / "Walk-2", seconds=3)
    (exports / "phone2" / "notes.md").write_text("not a recording")
    tmd = sorted((corpus / "us_tmd").glob("sensorfile_AndreaCarpineti_Still_14833*.csv.gz"))
    out = tmp_path / "out"
    result = run_fleet("import", [str(exports), str(corpus / "us_tmd" / "*Still_14833*.csv.gz")],
                       str(out), {"label": ["activity=walking"]}, client=client)
    assert [r.status for r in result.results] == ["ok"] * (2 + len(tmd)), result.results
    expected = ["Walk-1.mcap", "phone2/Walk-2.mcap"] + [
        p.name.replace(".csv.gz", ".mcap") for p in tmd]
    assert _files(out) == sorted([*expected, MANIFEST])
    assert result.results[1].facts["format"] == "sensor-logger"
    assert result.results[2].facts["format"] == "us-tmd"
    with LogReader(out / "phone2" / "Walk-2.mcap") as log:
        assert "labels" in log.streams
        assert [s.samples for n, s in log.streams.items() if n != "labels"] == [300]


def test_evaluate_policy_job_gives_what_the_command_gives(tmp_path: Path, client: Any,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    from sensekit.cli import main
    from sensekit.testing.scenario import SimConfig, simulate

    rec = tmp_path / "day.mcap"
    simulate(rec, SimConfig(duration_s=8.0, seed=4))
    options = {"policy": ["always-on", "duty-cycle:2/4"]}
    result = run_fleet("evaluate-policy", [str(rec)], str(tmp_path / "out"), options,
                       client=client)
    assert result.results[0].status == "ok", result.results[0].error
    assert set(result.results[0].facts["policies"]) == {"always-on", "duty-cycle:2/4"}
    capsys.readouterr()
    assert main(["evaluate-policy", str(rec), "--policy", "always-on", "--policy",
                 "duty-cycle:2/4", "--json"]) == 0
    single = json.loads(capsys.readouterr().out)  # --json is a flag: rows on stdout
    # Compute energy comes from the inference time measured on the spot; the rest is exact.
    timed = {"compute_j", "total_j", "battery_life_h", "compute_j_by_kind", "recording"}

    def steady(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k not in timed} for r in rows]

    fleet = json.loads((tmp_path / "out" / "day.json").read_text())
    assert steady(fleet) == steady(single)


def test_evaluate_job_scores_each_recording_with_the_weights(
        tmp_path: Path, client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    from sensekit.cli import main
    from sensekit.testing.scenario import SimConfig, simulate

    rec = tmp_path / "logs" / "day.mcap"
    rec.parent.mkdir()
    simulate(rec, SimConfig(duration_s=8.0, seed=5))
    result = run_fleet("evaluate", [str(rec.parent)], str(tmp_path / "out"),
                       {"weights": "sim_har"}, client=client)
    assert result.results[0].status == "ok", result.results[0].error
    assert result.results[0].facts["activity"]["windows"] > 0
    capsys.readouterr()
    assert main(["evaluate", "sim_har", str(rec), "--json"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert json.loads((tmp_path / "out" / "day.json").read_text()) == single
