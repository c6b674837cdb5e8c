"""Numbers and times of day read from many NMEA fields at once, exactly as Python reads one.

The columnar decoder (:mod:`.batch`) knows where each field lies in a block of bytes. For the
common shapes (``-12.345``, ``08``, ``202640.000``) these functions read every field with numpy,
one character position at a time across all fields, and give exactly what ``float(text)``,
``int(text)`` and :func:`.fields.tod_ns` give: a decimal of at most 15 digits is an integer
below 2**53 divided by a power of ten below 10**23, both exact in a double, so one correctly
rounded division yields the correctly rounded value that ``float`` computes. Any other shape
(exponents, spaces, ``inf``, underscores, long fields) is handed to Python itself, field by
field, so the results never differ.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from .fields import tod_ns

__all__ = ["NO_TIME", "floats", "ints", "times_of_day"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
U8 = npt.NDArray[np.uint8]
#: ``times_of_day`` of an empty field, and of one no clock shows.
NO_TIME = -1
WIDTH = 18                                     # longest field read by numpy
_POW10 = np.array([float(10**k) for k in range(WIDTH + 1)])
_EMPTY = np.zeros(1, np.uint8)     # stands in for an empty buffer (every field is then empty)


class _Digits:
    """The digits of many fields, read one character position at a time."""

    def __init__(self, arr: U8, start: I64, stop: I64, signed: bool) -> None:
        arr = arr if len(arr) else _EMPTY
        last = len(arr) - 1
        self.length = stop - start
        first = arr[np.minimum(start, last)]
        self.negative = (first == 45) & (self.length > 0)
        sign = (self.negative | (first == 43)) & signed & (self.length > 0)
        at = start + sign
        n = len(start)
        self.value = np.zeros(n, np.int64)
        self.digits = np.zeros(n, np.int64)
        self.decimals = np.zeros(n, np.int64)
        self.dots = np.zeros(n, np.int64)
        self.other = np.zeros(n, bool)
        width = int(min(WIDTH, self.length.max(initial=0)))
        for k in range(width):
            inside = at + k < stop
            char = arr[np.minimum(at + k, last)]
            digit = inside & (char >= 48) & (char <= 57)
            dot = inside & (char == 46)
            self.other |= inside & ~digit & ~dot
            self.value = np.where(digit, self.value * 10 + (char.astype(np.int64) - 48),
                                  self.value)
            self.digits += digit
            self.decimals += digit & (self.dots > 0)
            self.dots += dot
        self.short = stop - at <= width


def _python(buf: bytes, start: I64, stop: I64, rows: I64, parse: Callable[[bytes], Any],
            values: npt.NDArray[Any], bad: Bools) -> None:
    """Read ``rows`` with Python's own ``parse``; a row it refuses, or whose value does not
    fit the array (an int of 20 digits), is marked bad for the caller to read some other way."""
    for row, a, b in zip(rows.tolist(), start[rows].tolist(), stop[rows].tolist(),
                         strict=True):
        try:
            values[row] = parse(buf[a:b])
        except (ValueError, OverflowError):
            bad[row] = True


def floats(buf: bytes, arr: U8, start: I64, stop: I64) -> tuple[F64, Bools]:
    """``float`` of each field (NaN where empty), and which ``float`` refuses."""
    d = _Digits(arr, start, stop, signed=True)
    plain = d.short & ~d.other & (d.dots <= 1) & (d.digits >= 1) & (d.digits <= 15)
    value = d.value.astype(np.float64) / _POW10[np.minimum(d.decimals, WIDTH)]
    values = np.where(d.length == 0, math.nan, np.where(d.negative, -value, value))
    bad = np.zeros(len(start), bool)
    odd = np.flatnonzero(~plain & (d.length > 0))
    if len(odd):
        _python(buf, start, stop, odd, float, values, bad)
    return values, bad


def ints(buf: bytes, arr: U8, start: I64, stop: I64) -> tuple[I64, Bools]:
    """``int`` of each non-empty field (0 where empty), and which ``int`` refuses (or gives a
    number beyond int64)."""
    d = _Digits(arr, start, stop, signed=True)
    plain = d.short & ~d.other & (d.dots == 0) & (d.digits >= 1) & (d.digits <= 18)
    values = np.where(d.length == 0, 0, np.where(d.negative, -d.value, d.value))
    bad = np.zeros(len(start), bool)
    odd = np.flatnonzero(~plain & (d.length > 0))
    if len(odd):
        _python(buf, start, stop, odd, int, values, bad)
    return values, bad


def times_of_day(buf: bytes, arr: U8, start: I64, stop: I64) -> I64:
    """:func:`.fields.tod_ns` of each field: ns since midnight, :data:`NO_TIME` where it
    gives None (empty, or a time no clock shows)."""
    arr = arr if len(arr) else _EMPTY
    last = len(arr) - 1
    length = stop - start

    def two(k: int) -> tuple[I64, Bools]:
        a = arr[np.minimum(start + k, last)].astype(np.int64) - 48
        b = arr[np.minimum(start + k + 1, last)].astype(np.int64) - 48
        return a * 10 + b, (a >= 0) & (a <= 9) & (b >= 0) & (b <= 9)

    (hh, ok_h), (mm, ok_m), (ss, ok_s) = two(0), two(2), two(4)
    ok = (length >= 6) & ok_h & ok_m & ok_s & (hh <= 23) & (mm <= 59) & (ss <= 60)
    longer = length > 6
    ok &= ~longer | (arr[np.minimum(start + 6, last)] == 46)
    frac = _Digits(arr, np.minimum(start + 7, stop), stop, signed=False)
    ok &= ~frac.other & (frac.dots == 0) & (length <= WIDTH)
    # The first nine digits after the point count, as ns.
    scaled = np.where(frac.digits > 9, frac.value // (10 ** np.clip(frac.digits - 9, 0, 9)),
                      frac.value * 10 ** np.clip(9 - frac.digits, 0, 9))
    values = np.where(ok, ((hh * 60 + mm) * 60 + ss) * 1_000_000_000 + scaled, NO_TIME)
    for row in np.flatnonzero(length > WIDTH).tolist():
        value = tod_ns(buf[int(start[row]):int(stop[row])])
        values[row] = NO_TIME if value is None else value
    return values
