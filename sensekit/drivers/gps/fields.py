"""Conversions of NMEA 0183 field text (bytes) into SI values.

Each converter takes the raw field bytes and returns a value or ``None``/NaN when the field is
empty; a field that is present but unreadable raises :class:`ValueError`, which the epoch
assembler counts as a bad field (the sentence's checksum was fine, the receiver wrote nonsense,
as the Tripnav TN-200 does with a latitude of 36000.0000 when it has no fix).
"""

from __future__ import annotations

import datetime as _dt
import functools
import math

__all__ = ["KNOT_MPS", "UNIX_EPOCH_ORDINAL", "angle", "day_number", "float_or_nan", "tod_ns"]

#: One knot in metres per second (1852 m per hour, exact).
KNOT_MPS = 1852.0 / 3600.0
#: ``date.toordinal()`` of 1970-01-01.
UNIX_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
DAY_NS = 86_400 * 1_000_000_000

_TOD_CACHE: dict[bytes, int | None] = {}


def float_or_nan(text: bytes) -> float:
    """``float`` of a field; NaN for an empty field."""
    return float(text) if text else math.nan


def angle(text: bytes, hemisphere: bytes, limit: int) -> float:
    """Degrees from NMEA ``(d)ddmm.mmmm`` and a hemisphere letter; NaN when empty.

    Raises:
        ValueError: not a number, minutes of 60 or more, or beyond ``limit`` degrees.
    """
    if not text:
        return math.nan
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"angle {text!r} is not a number")
    degrees = int(value / 100.0)
    minutes = value - degrees * 100.0
    if not 0.0 <= minutes < 60.0 or degrees > limit:
        raise ValueError(f"angle {text!r} out of range")
    result = degrees + minutes / 60.0
    if result > limit:
        raise ValueError(f"angle {text!r} beyond {limit} degrees")
    if hemisphere in (b"S", b"W"):
        return -result
    if hemisphere not in (b"N", b"E"):
        raise ValueError(f"hemisphere {hemisphere!r}")
    return result


def tod_ns(text: bytes) -> int | None:
    """Nanoseconds since midnight of ``hhmmss[.sss]``; None when empty or impossible.

    A leap second (``235960``) is accepted; hours past 23 or minutes past 59 are not.
    """
    cached = _TOD_CACHE.get(text, -1)
    if cached != -1:
        return cached
    value = _parse_tod(text)
    if len(_TOD_CACHE) > 4096:
        _TOD_CACHE.clear()
    _TOD_CACHE[text] = value
    return value


def _parse_tod(text: bytes) -> int | None:
    if len(text) < 6 or not text[:6].isdigit():
        return None
    hh, mm, ss = int(text[0:2]), int(text[2:4]), int(text[4:6])
    if hh > 23 or mm > 59 or ss > 60:
        return None
    frac = 0
    if len(text) > 6:
        digits = text[7:]
        if text[6:7] != b"." or (digits and not digits.isdigit()):
            return None
        frac = int(digits[:9].ljust(9, b"0")) if digits else 0
    return ((hh * 60 + mm) * 60 + ss) * 1_000_000_000 + frac


def day_number(day: int, month: int, year: int) -> int:
    """Days since 1970-01-01 of a calendar date.

    Raises:
        ValueError: no such date (a year beyond any ``date`` too).
    """
    try:
        return _dt.date(year, month, day).toordinal() - UNIX_EPOCH_ORDINAL
    except OverflowError:
        raise ValueError(f"no date {year}-{month}-{day}") from None


@functools.lru_cache(maxsize=64)
def rmc_date(text: bytes) -> int | None:
    """Day number of RMC's ``ddmmyy`` (two-digit years below 69 are 20xx); None when empty."""
    if not text:
        return None
    if len(text) != 6 or not text.isdigit():
        raise ValueError(f"date {text!r}")
    yy = int(text[4:6])
    return day_number(int(text[0:2]), int(text[2:4]), yy + (2000 if yy < 69 else 1900))
