"""Text sources read in bounded memory: plain or gzip files, zip members, CSV rows.

Every error names the place as ``file:line:column`` (:func:`place`). A zip archive is checked
before anything is read: members whose declared sizes add up past ``max_bytes`` (a zip bomb,
or an export too large for this machine) are refused, and each member's stream is counted
as it is read, since a declared size can lie.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from ...errors import LogFormatError

__all__ = ["MAX_UNZIPPED_BYTES", "TextSource", "csv_rows", "file_source", "is_number",
           "iso_utc_ns", "place", "sniff_delimiter", "zip_sources"]

#: Default limit on what the members of one zip archive may expand to.
MAX_UNZIPPED_BYTES = 8 << 30
GZIP_MAGIC = b"\x1f\x8b"


def place(path: str | os.PathLike[str], line: int | None = None,
          column: int | None = None) -> str:
    """``path:line:column``, as compilers name a place in a file (line and column from 1)."""
    text = str(path)
    if line is not None:
        text += f":{line}"
        if column is not None:
            text += f":{column}"
    return text


def is_number(text: str) -> bool:
    """Whether ``float(text)`` succeeds."""
    try:
        float(text)
    except ValueError:
        return False
    return True


_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d+))?)?"
                  r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?$")


def iso_utc_ns(text: str) -> tuple[int, bool] | None:
    """UTC epoch ns of ISO 8601 text and whether it had a zone (none: read as UTC).

    Fractions of a second of any length and zones written ``Z``, ``+01``, ``+0100`` or
    ``+01:00`` are read on every Python version (3.10's ``fromisoformat`` takes fewer).
    """
    m = _ISO.match(text.strip())
    if m is None:
        return None
    date, clock, fraction, zone = m.groups()
    digits = (fraction or "")[:9].ljust(9, "0")
    if zone == "Z":
        zone = "+00:00"
    elif zone is not None:
        zone = zone[:3] + ":" + (zone[3:].lstrip(":") or "00")
    try:
        when = dt.datetime.fromisoformat(f"{date}T{clock or '00:00'}{zone or ''}")
    except ValueError:
        return None
    zoned = when.tzinfo is not None
    if not zoned:
        when = when.replace(tzinfo=dt.timezone.utc)
    delta = when - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + int(digits), zoned


@dataclass(frozen=True)
class TextSource:
    """A text file to read: ``name`` for messages, ``open`` for a fresh binary stream."""

    name: str
    open: Callable[[], BinaryIO]
    size: int = 0

    @property
    def stem(self) -> str:
        """The file name without folders and without .csv/.gz/.txt suffixes."""
        name = Path(self.name).name
        while Path(name).suffix.lower() in (".gz", ".csv", ".txt", ".tsv"):
            name = name[:-len(Path(name).suffix)]
        return name

    def text(self) -> IO[str]:
        """The content as UTF-8 text (gzip recognised by its magic bytes, not its name)."""
        raw: Any = self.open()
        if not isinstance(raw, io.BufferedReader):
            raw = io.BufferedReader(raw)
        stream: Any = gzip.GzipFile(fileobj=raw) if raw.peek(2)[:2] == GZIP_MAGIC else raw
        return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")

    def is_empty(self) -> bool:
        """True for a file with no bytes or only whitespace (the first 4 KiB tell)."""
        try:
            with self.text() as fh:
                return not fh.read(4096).strip()
        except (UnicodeDecodeError, OSError, EOFError):
            return False


def file_source(path: str | os.PathLike[str]) -> TextSource:
    """A plain or gzip file.

    Raises:
        LogFormatError: the file does not exist or is not a file.
    """
    p = Path(path)
    if not p.is_file():
        raise LogFormatError(f"{p}: no such file")
    return TextSource(str(p), lambda: p.open("rb"), p.stat().st_size)


class _Counted(io.RawIOBase):
    """A zip member's stream that stops with an error past ``limit`` bytes."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                 limit: int) -> None:
        self.archive, self.inner = archive, archive.open(info)
        self.name, self.limit, self.read_so_far = name, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        self.read_so_far += len(data)
        if self.read_so_far > self.limit:
            raise LogFormatError(f"{self.name}: expands past {self.limit:,} bytes; refused as "
                                 "a possible zip bomb (raise the limit if it is genuine)")
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        self.archive.close()
        super().close()


def zip_sources(path: str | os.PathLike[str], *, max_bytes: int = MAX_UNZIPPED_BYTES,
                suffixes: tuple[str, ...] = (".csv", ".csv.gz", ".json")) -> list[TextSource]:
    """The members of a zip archive ending in ``suffixes`` (case ignored), in name order.

    Raises:
        LogFormatError: not a readable zip, or its members would expand past ``max_bytes``.
    """
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()
                     and i.filename.lower().endswith(suffixes)]
    except (zipfile.BadZipFile, OSError) as exc:
        raise LogFormatError(f"{p}: not a readable zip archive ({exc})") from None
    total = sum(i.file_size for i in infos)
    if total > max_bytes:
        raise LogFormatError(f"{p}: its members would expand to {total:,} bytes, past the "
                             f"limit of {max_bytes:,}; refused as a possible zip bomb (raise "
                             "the limit if it is genuine)")

    def opener(info: zipfile.ZipInfo) -> Callable[[], BinaryIO]:
        def open_member() -> BinaryIO:
            # A member may expand a little past its declared size, never past the limit.
            limit = min(info.file_size + (1 << 20), max_bytes)
            member = _Counted(zipfile.ZipFile(p), info, f"{p}/{info.filename}", limit)
            return io.BufferedReader(member)
        return open_member

    return [TextSource(f"{p}/{i.filename}", opener(i), i.file_size)
            for i in sorted(infos, key=lambda i: i.filename)]


def csv_rows(src: TextSource, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` of every non-blank row, in bounded memory.

    Raises:
        LogFormatError: the file is not UTF-8 text, is cut off, or cannot be read; the
            message names the line.
    """
    line = 0
    try:
        with src.text() as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            for cells in reader:
                line = reader.line_num
                if cells and any(c.strip() for c in cells):
                    yield line, cells
    except UnicodeDecodeError as exc:
        raise LogFormatError(f"{place(src.name, line + 1)}: not UTF-8 text ({exc.reason} at "
                             f"byte {exc.start} of a read block); save it as UTF-8") from None
    except csv.Error as exc:
        raise LogFormatError(f"{place(src.name, line + 1)}: not valid CSV ({exc})") from None
    except (EOFError, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        raise LogFormatError(f"{place(src.name, line + 1)}: cut off or damaged ({exc})") from None
    except OSError as exc:
        raise LogFormatError(f"{src.name}: cannot read ({exc.strerror or exc})") from None


def sniff_delimiter(src: TextSource) -> str:
    """``,``, ``;`` or tab: whichever splits the first lines into the most equal columns."""
    try:
        with src.text() as fh:
            head = [fh.readline() for _ in range(5)]
    except (UnicodeDecodeError, OSError, EOFError):
        return ","
    lines = [ln for ln in head if ln.strip()]
    best, best_cols = ",", 1
    for delim in (",", ";", "\t"):
        counts = {ln.count(delim) for ln in lines}
        if len(counts) == 1 and (cols := counts.pop() + 1) > best_cols:
            best, best_cols = delim, cols
    return best
