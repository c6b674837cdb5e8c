"""Decoding a captured NMEA log (a file of raw receiver bytes, gpsd's ``#`` headers allowed)."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ...errors import ConfigError, LogFormatError
from .batch import CaptureDecoder
from .epoch import EpochStats, Fix
from .nmea import ReaderStats

__all__ = ["BLOCK", "GIVE_UP", "CaptureStream", "DecodedCapture", "decode_capture",
           "header_date", "read_capture"]

#: Bytes decoded at a time: large enough that numpy's per-call cost vanishes, small enough to
#: keep memory flat (a few times this).
BLOCK = 4 << 20
#: Bytes of input without one good sentence after which a file is declared not NMEA.
GIVE_UP = 16 << 20

_DATE_HEADER = re.compile(rb"^#\s*Date:\s*(\d{4}-\d{2}-\d{2})", re.MULTILINE)


@dataclass
class DecodedCapture:
    """Fixes of a capture and what the reader and assembler counted."""

    fixes: list[Fix]
    reader: ReaderStats
    epochs: EpochStats


def header_date(data: bytes) -> _dt.date | None:
    """The date of a gpsd ``# Date: yyyy-mm-dd`` header line, if there is one."""
    match = _DATE_HEADER.search(data[:4096])
    if match is None:
        return None
    try:
        return _dt.date.fromisoformat(match.group(1).decode())
    except ValueError:
        return None


def decode_capture(data: bytes, date: _dt.date | None = None,
                   chunk: int = BLOCK) -> DecodedCapture:
    """Decode captured receiver bytes into fixes (the columnar decoder, a block at a time).

    Args:
        data: The capture; ``#`` comment lines are skipped.
        date: Date of epochs before the first RMC/ZDA date (default: the ``# Date:`` header).
        chunk: Bytes decoded at a time (any size gives the same result).
    """
    if data[-1:] not in (b"\n", b""):
        data += b"\n"
    stream = CaptureStream((data[i:i + chunk] for i in range(0, len(data), chunk)),
                           date or header_date(data))
    return DecodedCapture(list(stream), stream.reader, stream.epochs)


class CaptureStream:
    """Fixes of a capture read as a sequence of byte blocks, in bounded memory.

    Iterate it for the fixes; :attr:`reader` and :attr:`epochs` count what was seen. Memory
    stays bounded whatever the input (a line without end is dropped as it goes), so
    ``/dev/zero`` is read at a constant size; with ``give_up`` it stops with
    :class:`~sensekit.errors.LogFormatError` after that many bytes without one good sentence.

    Args:
        blocks: The bytes, in pieces of any size (a megabyte or more decodes fastest).
        date: Date of epochs before the first RMC/ZDA date (default: a ``# Date:`` header in
            the first block).
        give_up: Bytes after which input without a single NMEA sentence is refused.
        name: How errors name the input.
    """

    def __init__(self, blocks: Iterable[bytes], date: _dt.date | None = None, *,
                 give_up: int | None = None, name: str = "input") -> None:
        self._blocks = iter(blocks)
        self._date = date
        self.give_up = give_up
        self.name = name
        self._decoder: CaptureDecoder | None = None

    @property
    def reader(self) -> ReaderStats:
        return self._get_decoder(b"").reader.stats

    @property
    def epochs(self) -> EpochStats:
        return self._get_decoder(b"").assembler.stats

    def _get_decoder(self, first: bytes) -> CaptureDecoder:
        if self._decoder is None:
            self._decoder = CaptureDecoder(self._date or header_date(first))
        return self._decoder

    def __iter__(self) -> Iterator[Fix]:
        seen = 0
        for block in self._blocks:
            decoder = self._get_decoder(block)
            yield from decoder.feed(block)
            seen += len(block)
            if self.give_up is not None and seen >= self.give_up \
                    and decoder.reader.stats.accepted == 0:
                raise LogFormatError(
                    f"{self.name}: no NMEA sentence with a good checksum in the first "
                    f"{seen:,} bytes (is it a binary capture, or a device that never sends "
                    "text?)")
        yield from self._get_decoder(b"").flush()


def read_capture(path: str | Path, date: _dt.date | None = None) -> DecodedCapture:
    """Decode the capture file at ``path``, read a block at a time.

    Raises:
        ConfigError: the file cannot be read.
        LogFormatError: nothing in it looks like NMEA (decided within :data:`GIVE_UP` bytes
            for an endless input such as ``/dev/zero``).
    """
    try:
        with open(path, "rb") as f:
            stream = CaptureStream(_blocks(f), date, give_up=GIVE_UP, name=str(path))
            fixes = list(stream)
            size = f.tell()
    except OSError as exc:
        raise ConfigError(f"cannot read NMEA capture {path}: {exc.strerror or exc}. "
                          "Hint: check the path") from exc
    if size and stream.reader.accepted == 0:
        raise LogFormatError(f"{path}: no NMEA sentence with a good checksum in {size} bytes "
                             "(is it a binary capture?)")
    return DecodedCapture(fixes, stream.reader, stream.epochs)


def _blocks(f: BinaryIO) -> Iterator[bytes]:
    """The file's bytes a block at a time, a newline added to a last line without one."""
    last = b""
    while block := f.read(BLOCK):
        last = block[-1:]
        yield block
    if last not in (b"\n", b""):
        yield b"\n"
