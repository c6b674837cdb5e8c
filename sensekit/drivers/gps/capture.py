"""Decoding a captured NMEA log (a file of raw receiver bytes, gpsd's ``#`` headers allowed)."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError, LogFormatError
from .epoch import EpochAssembler, EpochStats, Fix
from .nmea import NmeaReader, ReaderStats

__all__ = ["DecodedCapture", "decode_capture", "header_date", "read_capture"]

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
                   chunk: int = 1 << 16) -> DecodedCapture:
    """Decode captured receiver bytes into fixes.

    Args:
        data: The capture; ``#`` comment lines are skipped.
        date: Date of epochs before the first RMC/ZDA date (default: the ``# Date:`` header).
        chunk: Bytes fed at a time (any size gives the same result).
    """
    reader = NmeaReader(comments=True)
    assembler = EpochAssembler(date=date or header_date(data))
    fixes: list[Fix] = []
    if data[-1:] not in (b"\n", b""):
        data += b"\n"
    for start in range(0, len(data), chunk):
        fixes += assembler.push_bodies(*reader.feed_bodies(data[start:start + chunk]))
    fixes += assembler.flush()
    return DecodedCapture(fixes, reader.stats, assembler.stats)


def read_capture(path: str | Path, date: _dt.date | None = None) -> DecodedCapture:
    """Decode the capture file at ``path``.

    Raises:
        ConfigError: the file cannot be read.
        LogFormatError: nothing in it looks like NMEA.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read NMEA capture {path}: {exc.strerror or exc}. "
                          "Hint: check the path") from exc
    decoded = decode_capture(data, date)
    if data and decoded.reader.accepted == 0:
        raise LogFormatError(f"{path}: no NMEA sentence with a good checksum in {len(data)} bytes "
                             "(is it a binary capture?)")
    return decoded
