"""Where results go: never over an input, never over a file unasked, never half written.

Every command and library function that writes files goes through this module:

- :func:`check_output` refuses an output that is, or resolves to, one of the inputs (through
  symlinks and hard links: files are compared by device and inode), a folder where a file is
  expected, and an existing file unless ``force`` is given. It runs before anything is opened
  for writing, so a refused command has changed nothing.
- :func:`atomic_output` hands out a temporary name in the output's folder and renames it onto
  the output only once the work completed, after an ``fsync`` of the file (and then of the
  folder): a reader never sees half a file, and a failure or Ctrl-C leaves an existing output
  as it was.
- :func:`add_force_argument` gives every command the same ``--force`` flag.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import OutputRefused

__all__ = ["PathLike", "add_force_argument", "atomic_output", "check_folder", "check_output",
           "fsync_dir", "same_file", "temporary_name"]

PathLike = str | os.PathLike[str]

FORCE_HINT = "add --force to replace it, or give another output"


def add_force_argument(parser: argparse.ArgumentParser) -> None:
    """The one ``--force`` flag: replace output files that exist."""
    parser.add_argument("--force", action="store_true",
                        help="replace output files that already exist (inputs never)")


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether ``a`` and ``b`` are the same file (symlinks followed, hard links seen)."""
    try:
        sa, sb = os.stat(a), os.stat(b)
    except (OSError, ValueError):
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _input_it_is(out: Path, inputs: Iterable[PathLike]) -> Path | None:
    for src in inputs:
        if same_file(out, src) or _file_in_folder(out, Path(src)):
            return Path(src)
    return None


def _file_in_folder(out: Path, folder: Path) -> bool:
    """Whether ``out`` is an existing file inside the input folder ``folder`` (a Sensor Logger
    export is a folder of CSV files: each is an input)."""
    if not folder.is_dir() or not out.exists():
        return False
    return out.resolve().is_relative_to(folder.resolve())


def check_output(path: PathLike, *, inputs: Iterable[PathLike] = (), force: bool = False,
                 what: str = "output") -> Path:
    """Check that ``path`` may be written; return it as a :class:`~pathlib.Path`.

    Raises:
        OutputRefused: ``path`` is one of ``inputs`` (or resolves to one), is a folder, or
            exists and ``force`` is off.
    """
    out = Path(path)
    src = _input_it_is(out, inputs)
    if src is not None:
        same = "" if str(src) == str(out) else f" (the same file as the input {src})"
        raise OutputRefused(f"{what} {out} is an input{same}: sensekit never writes over its "
                            "input. Hint: give another output path")
    if out.is_dir():
        raise OutputRefused(f"{what} {out} is a folder; a file name is expected there. "
                            f"Hint: give a file path such as {out / 'out'}")
    if not force and (out.exists() or out.is_symlink()):
        raise OutputRefused(f"{what} {out} exists. Hint: {FORCE_HINT}")
    return out


def check_folder(path: PathLike, *, inputs: Iterable[PathLike] = ()) -> Path:
    """Check that ``path`` can be the folder results are written into, and create it.

    Raises:
        OutputRefused: ``path`` is a file, or one of ``inputs``.
    """
    folder = Path(path)
    src = _input_it_is(folder, inputs)
    if src is not None:
        raise OutputRefused(f"output folder {folder} is the input {src}. Hint: give another "
                            "output folder")
    if folder.exists() and not folder.is_dir():
        raise OutputRefused(f"output folder {folder} is a file, not a folder. Hint: give a "
                            "folder path (it is created when missing)")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def temporary_name(out: Path) -> Path:
    """The name an output is written under until it is complete: hidden, in the same folder,
    ending in the same suffix (writers such as matplotlib choose the format by it)."""
    return out.with_name(f".{out.stem}.{os.getpid()}.tmp{out.suffix}")


@contextlib.contextmanager
def atomic_output(path: PathLike, *, inputs: Iterable[PathLike] = (), force: bool = False,
                  what: str = "output") -> Iterator[Path]:
    """Yield a temporary path to write; rename it onto ``path`` when the block completes.

    The output is checked first (:func:`check_output`) and its folder created. If the block
    raises (or is interrupted), the temporary file is removed and ``path`` is untouched.
    """
    inputs = list(inputs)
    out = check_output(path, inputs=inputs, force=force, what=what)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(out)
    try:
        yield tmp
        _fsync_file(tmp)
        # Checked again: the work may have taken hours, and someone may have made the file.
        check_output(out, inputs=inputs, force=force, what=what)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(out.parent)


def _fsync_file(path: Path) -> None:
    if not path.exists():
        return  # the writer wrote nothing; the rename then reports the missing file
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: PathLike) -> None:
    """fsync a folder, so a rename or a new file in it survives power loss (best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder; the rename still happened
    finally:
        os.close(fd)
