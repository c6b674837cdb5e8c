"""The command line: every job's options are its command's, the summary, exit codes, URLs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import make_recording

from sensekit.cli import main
from sensekit.fleet import JOBS, run_fleet
from sensekit.fleet.cli import job_parser
from sensekit.fleet.outputs import MANIFEST


@pytest.mark.parametrize("name", sorted(JOBS))
def test_every_job_takes_its_commands_options(name: str) -> None:
    job = JOBS[name]
    text = job_parser(job).format_help()
    assert "INPUT" in text and "--output" in text and "--scheduler" in text
    dests = {a.dest for a in job_parser(job)._actions}
    assert job.recording not in dests and "inputs" in dests


def test_export_help_lists_the_export_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fleet", "export", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--to {parquet,csv,foxglove}" in out and "--streams" in out and "--workers" in out


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fleet", "info", str(tmp_path)])  # no -o
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["fleet", "export", "x.mcap", "-o", "out", "--to", "xlsx"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["fleet", "info", "x.mcap", "-o", "out", "--workers", "2",
              "--scheduler", "tcp://h:8786"])
    assert exc.value.code == 2
    assert main(["fleet", "info", str(tmp_path / "none"), "-o", str(tmp_path / "o")]) == 2
    assert "no recording at" in capsys.readouterr().err
    make_recording(tmp_path / "a.mcap")
    assert main(["fleet", "info", str(tmp_path / "a.mcap"), "-o", str(tmp_path / "a.mcap")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_cli_runs_a_local_cluster_and_prints_json(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    make_recording(tmp_path / "a.mcap")
    (tmp_path / "b.mcap").write_bytes(b"junk")
    code = main(["fleet", "info", str(tmp_path / "*.mcap"), "-o", str(tmp_path / "out"),
                 "--workers", "1", "--json"])
    captured = capsys.readouterr()
    assert code == 1  # one recording failed
    doc = json.loads(captured.out)
    assert doc["workers"] == 1 and doc["counts"] == {"ok": 1, "failed": 1, "skipped": 0}
    assert [(Path(r["input"]).name, r["status"]) for r in doc["results"]] == [
        ("a.mcap", "ok"), ("b.mcap", "failed")]
    assert {"duration_s", "output", "error", "attempts"} <= set(doc["results"][0])
    assert "dashboard http" in captured.err
    assert "fleet info [" not in captured.err  # no progress bar: stdout is not a terminal


def test_cli_on_a_running_cluster_by_its_scheduler_address(
        tmp_path: Path, client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    make_recording(tmp_path / "a.mcap")
    out = tmp_path / "out"
    args = ["fleet", "repair", str(tmp_path / "a.mcap"), "-o", str(out), "--scheduler",
            client.scheduler.address]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "1 recordings: 1 ok, 0 failed, 0 skipped" in first and "2 workers" in first
    assert main(args) == 0
    assert "skipped" in capsys.readouterr().out.splitlines()[0]
    assert sorted(p.name for p in out.iterdir()) == ["a.mcap", MANIFEST]


def test_fsspec_urls_for_inputs_and_outputs(tmp_path: Path) -> None:
    """Recordings and results on a non-local filesystem (fsspec's in-memory one, shared by
    the worker threads of an in-process cluster, stands in for s3://)."""
    import distributed
    import fsspec

    fs = fsspec.filesystem("memory")
    for name in ("a", "b"):
        fs.pipe(f"/bucket/logs/{name}.mcap",
                make_recording(tmp_path / f"{name}.mcap", seed=ord(name)).read_bytes())
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=":0") as client:
        result = run_fleet("info", ["memory://bucket/logs/*.mcap"], "memory://bucket/out",
                           client=client)
        again = run_fleet("info", ["memory://bucket/logs"], "memory://bucket/out",
                          client=client)
        for _ in range(2):  # a folder result, uploaded and then replaced whole
            folders = run_fleet("export", ["memory://bucket/logs"], "memory://bucket/csv",
                                {"to": "csv"}, client=client, force=True)
    assert [r.status for r in folders.results] == ["ok", "ok"]
    assert sorted(fs.find("/bucket/csv")) == [
        "/bucket/csv/a-csv/imu.csv", "/bucket/csv/b-csv/imu.csv", f"/bucket/csv/{MANIFEST}"]
    assert [r.status for r in result.results] == ["ok", "ok"]
    assert [r.status for r in again.results] == ["skipped", "skipped"]
    output = str(result.results[0].output)
    assert output.startswith("memory://") and output.endswith("/bucket/out/a.json")
    doc = json.loads(fs.cat("/bucket/out/a.json"))
    assert doc["streams"]["imu"]["samples"] == 200
    assert sorted(json.loads(fs.cat(f"/bucket/out/{MANIFEST}"))["outputs"]) == ["a.json",
                                                                                "b.json"]
    assert sorted(fs.ls("/bucket/out", detail=False)) == [
        f"/bucket/out/{n}" for n in ("a.json", "b.json", MANIFEST)]


def test_import_sensekit_and_fleet_loads_no_dask() -> None:
    code = ("import sys, sensekit, sensekit.fleet, sensekit.fleet.cli, sensekit.fusion.shards;"
            "from sensekit.fleet.cli import job_parser; from sensekit.fleet import JOBS;"
            "[job_parser(j) for j in JOBS.values()];"
            "print([m for m in ('dask', 'distributed', 'fsspec', 'torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_sources_and_names(tmp_path: Path) -> None:
    from sensekit.fleet.engine import output_names
    from sensekit.fleet.sources import expand

    (tmp_path / "a" / "deep").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    for rel in ("a/x.mcap", "a/deep/y.mcap", "b/x.mcap", "a/notes.txt"):
        (tmp_path / rel).write_bytes(b"0123")
    found = expand([str(tmp_path / "a"), str(tmp_path / "b" / "*.mcap"),
                    str(tmp_path / "a" / "x.mcap")], (".mcap",))
    assert [(s.rel, s.size) for s in found] == [("deep/y.mcap", 4), ("x.mcap", 4),
                                                ("x.mcap", 4)]
    names = output_names(JOBS["info"], found, {})
    assert names[0] == "deep/y.json" and len(set(names)) == 3
    assert all(n.startswith("x-") for n in names[1:])


def test_which_folders_import_as_one_recording(tmp_path: Path) -> None:
    from sensekit.fleet.jobs import IMPORT_SUFFIXES, is_export_folder
    from sensekit.fleet.sources import expand

    def files(folder: str, *names: str) -> None:
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            (tmp_path / folder / name).write_text("t\n")

    files("app/ride", "Light.csv", "GPS.csv")  # another app's per-sensor files
    files("app/walk", "metadata.csv", "Accelerometer.csv", "extra.txt")  # Sensor Logger
    files("app/tmd", "sensorfile_a_Car_1.csv.gz", "sensorfile_b_Bus_2.csv")
    files("app", "bench.csv")

    def found(options: dict[str, Any]) -> list[str]:
        srcs = expand([str(tmp_path / "app")], IMPORT_SUFFIXES,
                      lambda fs, path: is_export_folder(fs, path, options))
        return [s.rel for s in srcs]

    assert found({}) == ["bench.csv", "ride", "tmd/sensorfile_a_Car_1.csv.gz",
                         "tmd/sensorfile_b_Bus_2.csv", "walk"]
    assert found({"map": ["t_ns=t"]}) == [
        "bench.csv", "ride/GPS.csv", "ride/Light.csv", "tmd/sensorfile_a_Car_1.csv.gz",
        "tmd/sensorfile_b_Bus_2.csv", "walk/Accelerometer.csv", "walk/extra.txt",
        "walk/metadata.csv"]
