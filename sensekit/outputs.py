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

An output of ``-`` is stdout (:data:`STDOUT`): :func:`atomic_output` then hands out a temporary
file and copies it to stdout once complete, so formats that are written with seeks (MCAP's
summary) stream as well as text, and a failure sends nothing at all.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import OutputRefused

__all__ = ["STDOUT", "PathLike", "add_force_argument", "atomic_output", "check_folder",
           "check_output", "fsync_dir", "is_stdout", "refuse_stdout", "same_file", "temporary_name"]

PathLike = str | os.PathLike[str]

FORCE_HINT = "add --force to replace it, or give another output"

#: The output name that means stdout, as in most command-line tools.
STDOUT = "-"


def is_stdout(path: PathLike | None) -> bool:
    """Whether ``path`` is ``-``: the result goes to stdout."""
    return path is not None and os.fspath(path) == STDOUT


def refuse_stdout(path: PathLike | None, what: str, hint: str = "give a path") -> None:
    """Refuse ``-o -`` where the result cannot be one stream (``what``: what it is instead).

    Raises:
        OutputRefused: ``path`` is ``-``.
    """
    if is_stdout(path):
        raise OutputRefused(f"-o -: stdout cannot hold {what}. Hint: {hint}")


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
                 what: str = "output", stdout: bool = False) -> Path:
    """Check that ``path`` may be written; return it as a :class:`~pathlib.Path`.

    ``-`` (stdout) passes only where the caller can stream the result (``stdout=True``, and
    the result written through :func:`atomic_output`).

    Raises:
        OutputRefused: ``path`` is one of ``inputs`` (or resolves to one), is a folder, or
            exists and ``force`` is off; or is ``-`` and ``stdout`` is off.
    """
    out = Path(path)
    if is_stdout(path):
        if not stdout:
            refuse_stdout(path, f"the {what}")
        return out  # stdout is never an input, and never "exists"
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
    if is_stdout(path):
        with _stdout_output() as tmp:
            yield tmp
        return
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


@contextlib.contextmanager
def _stdout_output() -> Iterator[Path]:
    """A temporary file, copied to stdout when the block completes, removed in any case."""
    folder = Path(tempfile.mkdtemp(prefix="sensekit-stdout-"))
    try:
        yield folder / "output"
        sys.stdout.flush()
        with open(folder / "output", "rb") as fh:
            shutil.copyfileobj(fh, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
