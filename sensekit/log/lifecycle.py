"""A recording file's life on disk: ``NAME.mcap.part`` while written, ``NAME.mcap`` when closed.

- While it grows, a recording is ``NAME.mcap.part``: readable (``sensekit info``, ``log
  repair``, :func:`sensekit.log.open` read it up to its last flushed chunk), and never mistaken
  for a finished file.
- A clean close writes the index, calls ``fsync`` on the file, renames it to ``NAME.mcap`` and
  calls ``fsync`` on the folder, so the rename survives a power cut too.
- A :class:`SpaceReserve` keeps enough disk space aside, in the same folder, to write the
  index whatever happens: when the disk fills up (ENOSPC) the reserve is freed, the file is
  cut back to its last complete flush and closed with its index, and the recording stops with
  a message saying what was kept.
- A ``.part`` file left by a crash or power loss is named when the next recording starts in
  that folder (:func:`leftover_parts`), and by ``sensekit info``, so it is never forgotten.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO, cast

from ..errors import OutputRefused
from ..outputs import PathLike, check_output, fsync_dir
from .summary import ChannelDecl, SummaryWriter

__all__ = ["PART_SUFFIX", "Opener", "SpaceReserve", "check_recording_outputs",
           "close_with_index", "final_path", "leftover_parts", "metadata_record",
           "numbered_path", "part_path", "publish", "summary_bytes_needed"]

PART_SUFFIX = ".part"

#: Opens a path in a binary mode (``"wb"``, ``"r+b"``); tests pass one that models a full disk.
Opener = Callable[[Path, str], BinaryIO]

#: Space kept for the index whatever the file holds (schemas, channels, statistics, footer).
SUMMARY_BASE_BYTES = 64 * 1024
#: Index bytes per record the summary lists (a chunk index is about 80 bytes plus 10 per
#: channel; metadata and attachment indexes about 40 plus the name).
SUMMARY_BYTES_PER_RECORD = 256

_OP_METADATA = 0x0C


def part_path(path: Path) -> Path:
    """The name a recording has while it is being written: ``NAME.mcap.part``."""
    return path.with_name(path.name + PART_SUFFIX)


def final_path(path: Path) -> Path:
    """The finished name of ``NAME.mcap.part`` (``path`` itself if it is not a ``.part``)."""
    return path.with_name(path.name.removesuffix(PART_SUFFIX))


def numbered_path(base: Path, index: int) -> Path:
    """File ``index`` of a split recording: ``STEM-0000.mcap``, ``STEM-0001.mcap``..."""
    return base.with_name(f"{base.stem}-{index:04d}{base.suffix}")


def _numbered_siblings(base: Path) -> list[Path]:
    pattern = re.compile(rf"{re.escape(base.stem)}-\d{{4,}}{re.escape(base.suffix)}"
                         rf"({re.escape(PART_SUFFIX)})?")
    try:
        return sorted(p for p in base.parent.iterdir() if pattern.fullmatch(p.name))
    except OSError:
        return []


def check_recording_outputs(base: Path, *, split: bool, inputs: Iterable[PathLike] = (),
                            force: bool = False) -> list[Path]:
    """Check that a recording may be written at ``base``; return the leftovers to name.

    A ``.part`` of the same name is a recording that did not close (a crash or a power cut):
    it is never replaced, ``force`` or not.

    Raises:
        OutputRefused: the output is an input, exists without ``force``, or its ``.part`` is
            there.
    """
    inputs = list(inputs)
    first = numbered_path(base, 0) if split else base
    check_output(first, inputs=inputs, force=force, what="recording")
    ours = _numbered_siblings(base) if split else [p for p in (base, part_path(base))
                                                     if p.exists()]
    for path in ours:
        if path.name.endswith(PART_SUFFIX):
            raise OutputRefused(
                f"{path} is an unfinished recording (left by a crash or power loss, or still "
                f"being written); it is never replaced. Hint: 'sensekit log repair {path}' "
                "closes it with an index; then move it away or record under another name")
        if not force:
            raise OutputRefused(f"recording {path} exists. Hint: add --force to replace it, "
                                "or give another output")
    return leftover_parts(base.parent)


def default_opener(path: Path, mode: str) -> BinaryIO:
    return cast(BinaryIO, open(path, mode))  # the caller closes it


def leftover_parts(folder: Path, *, besides: Iterable[Path] = ()) -> list[Path]:
    """``.part`` recordings in ``folder``: unfinished (a crash, a power cut, or still running)."""
    skip = {Path(p).name for p in besides}
    try:
        found = [p for p in folder.iterdir()
                 if p.name.endswith(PART_SUFFIX) and p.is_file() and p.name not in skip]
    except OSError:
        return []
    return sorted(found)


def summary_bytes_needed(records: int, decls: Iterable[ChannelDecl]) -> int:
    """Bytes the index of a file with ``records`` chunks, metadata and attachments may take."""
    declared = sum(2 * len(d.schema_data) + 512 for d in decls)
    return SUMMARY_BASE_BYTES + declared + SUMMARY_BYTES_PER_RECORD * records


class SpaceReserve:
    """Disk space held in a hidden file beside the recording, freed to close it on a full disk.

    Args:
        path: The reserve file (in the recording's folder, so it frees space on that disk).
        opener: How files are opened (a test injects a disk that fills up).
    """

    def __init__(self, path: Path, opener: Opener = default_opener) -> None:
        self.path = path
        self.size = 0
        self._opener = opener

    def ensure(self, size: int) -> None:
        """Hold at least ``size`` bytes.

        Raises:
            OSError: the disk has no room for it (ENOSPC); what was held stays held.
        """
        if size <= self.size:
            return
        zeros = bytes(1 << 16)
        with self._opener(self.path, "r+b" if self.size else "wb") as fh:
            fh.seek(self.size)
            while (left := size - fh.tell()) > 0:
                fh.write(zeros[:left])
            fh.flush()
            os.fsync(fh.fileno())  # the blocks must really be allocated, not just promised
            self.size = size

    def release(self) -> None:
        """Free the space (the file is removed)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.size = 0


def metadata_record(name: str, values: dict[str, str]) -> bytes:
    """An MCAP Metadata record (opcode 0x0C) holding ``values``."""
    def text(s: str) -> bytes:
        raw = s.encode()
        return struct.pack("<I", len(raw)) + raw

    entries = b"".join(text(k) + text(v) for k, v in values.items())
    body = text(name) + struct.pack("<I", len(entries)) + entries
    return struct.pack("<BQ", _OP_METADATA, len(body)) + body


def close_with_index(part: Path, data_end: int, decls: list[ChannelDecl], *,
                     stopped: str | None, opener: Opener = default_opener,
                     fsync: bool = True) -> None:
    """Cut ``part`` back to ``data_end`` (the end of its last complete flush) and close it
    with an index: a ``sensekit.stopped`` record saying why (when ``stopped``), then the
    summary section and footer.

    Raises:
        OSError: the index could not be written either; the file is then cut back to
            ``data_end`` (readable by a scan, and by ``sensekit log repair``).
    """
    try:
        with opener(part, "r+b") as out, open(part, "rb") as source:
            out.truncate(data_end)
            out.seek(data_end)
            if stopped:
                out.write(metadata_record("sensekit.stopped", {"reason": stopped}))
            out.flush()  # the summary re-reads the data section through ``source``
            SummaryWriter(out, source, decls).finish()
            out.flush()
            if fsync:
                os.fsync(out.fileno())
    except OSError:
        with contextlib.suppress(OSError):
            os.truncate(part, data_end)
        raise


def publish(part: Path, *, fsync: bool = True) -> Path:
    """Rename a closed ``NAME.mcap.part`` to ``NAME.mcap`` (and fsync the folder)."""
    final = final_path(part)
    os.replace(part, final)
    if fsync:
        fsync_dir(final.parent)
    return final
