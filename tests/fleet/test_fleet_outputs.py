"""Results appear whole or not at all; the manifest is replaced, never half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sensekit.fleet.outputs import MANIFEST, OutputDir, replace_atomically


def test_a_failed_write_leaves_nothing_and_the_old_result_stays(tmp_path: Path) -> None:
    out = OutputDir(str(tmp_path))
    (tmp_path / "a.json").write_text("old")
    with pytest.raises(RuntimeError), out.writing("a.json", "t1") as tmp:
        tmp.write_text("half")
        raise RuntimeError("the job failed")
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert (tmp_path / "a.json").read_text() == "old"
    with out.writing("a.json", "t2") as tmp:
        tmp.write_text("new")
    assert (tmp_path / "a.json").read_text() == "new"


def test_a_folder_result_replaces_the_old_folder_whole(tmp_path: Path) -> None:
    old, new = tmp_path / "r.csv", tmp_path / ".r.csv.x.fleet-tmp"
    old.mkdir()
    (old / "gps.csv").write_text("old")
    (old / "imu.csv").write_text("old")
    new.mkdir()
    (new / "imu.csv").write_text("new")
    replace_atomically(new, old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]
    assert [p.name for p in old.iterdir()] == ["imu.csv"]


def test_sweep_removes_only_this_runs_temporaries(tmp_path: Path) -> None:
    out = OutputDir(str(tmp_path))
    for name in (".a.json.run1-1234.fleet-tmp", ".a.json.ab12.old.fleet-tmp",
                 ".b.json.run1-99.fleet-tmp", ".notes.fleet-tmp", "a.json"):
        (tmp_path / name).write_text("x")
    assert out.sweep(["a.json"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".b.json.run1-99.fleet-tmp", ".notes.fleet-tmp", "a.json"]


def test_manifest_round_trip_and_attempt_numbers(tmp_path: Path) -> None:
    out = OutputDir(str(tmp_path))
    assert out.read_manifest() == {}
    out.write_manifest("info", {"b.json": {"size": 2}, "a.json": {"size": 1}})
    assert json.loads((tmp_path / MANIFEST).read_text())["job"] == "info"
    assert out.read_manifest() == {"a.json": {"size": 1}, "b.json": {"size": 2}}
    assert [out.mark_attempt("r1", "k") for _ in range(3)] == [1, 2, 3]
    assert out.mark_attempt("r1", "other") == 1
    out.forget_run("r1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST]
