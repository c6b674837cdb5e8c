"""Shared by the NMEA tests: the corpus logs, a streaming reference decoder, fix comparison."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from sensekit.drivers.gps.batch import CaptureDecoder
from sensekit.drivers.gps.capture import header_date
from sensekit.drivers.gps.epoch import EpochAssembler, EpochStats, Fix
from sensekit.drivers.gps.nmea import NmeaReader, ReaderStats

ROOT = Path(__file__).resolve().parents[3]
GPSD = Path(os.environ.get("SENSEKIT_CORPUS", ROOT.parent / "shared" / "corpus")) / "gpsd"
LOGS = sorted(GPSD.glob("*.log")) if GPSD.is_dir() else []


def fix_key(fix: Fix) -> tuple[Any, ...]:
    """Everything a user can read from a fix (NaN compared as equal)."""
    gsv, gsa = fix.sky_sentences()
    numbers = (fix.lat_deg, fix.lon_deg, fix.alt_msl_m, fix.speed_mps, fix.track_deg, fix.hdop,
               fix.pdop, fix.vdop, fix.lat_err_m, fix.lon_err_m, fix.alt_err_m)
    return (fix.t_ns, fix.utc_ns, fix.tod_ns, fix.mode, fix.sats_used, fix.sentences,
            tuple(gsv), tuple(gsa), *(None if math.isnan(x) else x for x in numbers))


def stream(chunks: list[bytes], date: Any = None
           ) -> tuple[list[Fix], ReaderStats, EpochStats]:
    """The streaming reader and assembler over ``chunks`` (what a live port does)."""
    reader, assembler = NmeaReader(comments=True), EpochAssembler(date=date)
    fixes: list[Fix] = []
    for chunk in chunks:
        fixes += assembler.push_bodies(*reader.feed_bodies(chunk))
    return fixes + assembler.flush(), reader.stats, assembler.stats


def batch(chunks: list[bytes], date: Any = None
          ) -> tuple[list[Fix], ReaderStats, EpochStats]:
    """The columnar decoder over ``chunks``."""
    decoder = CaptureDecoder(date)
    fixes: list[Fix] = []
    for chunk in chunks:
        fixes += decoder.feed(chunk)
    return fixes + decoder.flush(), decoder.reader.stats, decoder.assembler.stats


def split(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` cut into pieces of ``sizes`` (cycled)."""
    out, at, k = [], 0, 0
    while at < len(data):
        size = max(1, sizes[k % len(sizes)])
        out.append(data[at:at + size])
        at, k = at + size, k + 1
    return out


def whole(data: bytes) -> bytes:
    return data if data.endswith(b"\n") else data + b"\n"


def date_of(data: bytes) -> Any:
    return header_date(data)
