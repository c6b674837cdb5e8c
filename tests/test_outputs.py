"""The one place outputs are checked and written: never over an input, never over a file
unasked, never half written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sensekit.errors import ConfigError, OutputRefused
from sensekit.outputs import atomic_output, check_folder, check_output, temporary_name


def test_an_input_is_recognised_through_links_and_folders(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("t,x\n")
    (tmp_path / "soft.csv").symlink_to(src)
    os.link(src, tmp_path / "hard.csv")
    export = tmp_path / "export"
    export.mkdir()
    (export / "Accelerometer.csv").write_text("t\n")
    for out, inputs in ((src, [src]), (tmp_path / "soft.csv", [src]),
                        (tmp_path / "hard.csv", [src]),
                        (tmp_path / "export" / ".." / "in.csv", [src]),
                        (export / "Accelerometer.csv", [export])):
        with pytest.raises(OutputRefused, match="is an input"):
            check_output(out, inputs=inputs, force=True)
    assert check_output(export / "new.mcap", inputs=[export]) == export / "new.mcap"
    assert issubclass(OutputRefused, ConfigError)  # a usage error: exit status 2


def test_existing_files_and_folders(tmp_path: Path) -> None:
    old = tmp_path / "old.mcap"
    old.write_bytes(b"keep")
    with pytest.raises(OutputRefused, match=r"exists\. Hint: add --force"):
        check_output(old)
    assert check_output(old, force=True) == old
    with pytest.raises(OutputRefused, match="is a folder"):
        check_output(tmp_path, force=True)
    with pytest.raises(OutputRefused, match="is a file, not a folder"):
        check_folder(old)
    assert check_folder(tmp_path / "a" / "b").is_dir()


def test_atomic_output_renames_when_complete_and_keeps_the_old_file_on_failure(
        tmp_path: Path) -> None:
    out = tmp_path / "sub" / "plot.png"
    with atomic_output(out) as tmp:
        assert tmp.parent == out.parent and tmp.suffix == ".png" and tmp.name.startswith(".")
        assert tmp == temporary_name(out)
        tmp.write_bytes(b"first")
        assert not out.exists()  # never seen half written
    assert out.read_bytes() == b"first"
    for interruption in (RuntimeError("disk"), KeyboardInterrupt()):
        with pytest.raises(type(interruption)), atomic_output(out, force=True) as tmp:
            tmp.write_bytes(b"half")
            raise interruption
        assert out.read_bytes() == b"first"
        assert sorted(p.name for p in out.parent.iterdir()) == ["plot.png"]


def test_an_output_made_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    with pytest.raises(OutputRefused, match="exists"), atomic_output(out) as tmp:
        tmp.write_text("mine")
        out.write_text("someone else's")  # while the work ran
    assert out.read_text() == "someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
