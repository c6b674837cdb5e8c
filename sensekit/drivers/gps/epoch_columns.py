"""The streaming assembler's sentence handlers (:mod:`.sentences`), as columns over a block.

For each value of a fix, every sentence that would set it in the streaming assembler is found
with the same tests (status ``A``, a field not empty...), and the last one of each epoch wins.
Dates are parsed once per distinct date, by the streaming code's own functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from .block import (
    GGA,
    GLL,
    GNS,
    GSA,
    GST,
    GSV,
    KEYS,
    RMC,
    VTG,
    ZDA,
    Block,
    Setters,
    SkyTable,
    Value,
)
from .decimals import ints
from .epoch import MAX_SKY
from .fields import KNOT_MPS, day_number, rmc_date
from .sentences import HANDLERS, EpochFields

__all__ = ["EpochColumns"]

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
BITS = np.array([HANDLERS[k][3] for k in KEYS], np.int64)        # EpochFields.kinds bits
_KMH_MPS = 1.0 / 3.6
NO_DAY = -(2**62)             # "no date" in day arrays (day numbers before 1970 are < 0)


class EpochColumns:
    """Every value of every epoch of a block (see :class:`Value`), dates, kinds, sky lists."""

    NAMES = ("fix_ok", "position", "alt", "sats", "hdop", "pdop", "vdop", "speed", "track",
             "gsa_mode", "gst")

    def __init__(self, block: Block, kind: I64, rows: I64, n_epochs: int, stats: Any) -> None:
        self.block, self.n = block, n_epochs
        self.stats = stats
        setters: dict[str, Setters] = {name: Setters() for name in self.NAMES}
        by_kind = {k: rows[kind[rows] == k] for k in range(9)}
        for handler, k in ((_gga, GGA), (_rmc, RMC), (_gll, GLL), (_gns, GNS), (_gsa, GSA),
                           (_vtg, VTG), (_gst, GST)):
            handler(block, by_kind[k], setters)
        self.values = {name: Value(s, block, n_epochs) for name, s in setters.items()}
        self.dates = self._dates(by_kind[RMC], by_kind[ZDA])
        self.kinds = np.zeros(n_epochs, np.int64)
        np.bitwise_or.at(self.kinds, block.epoch[rows], BITS[kind[rows]])
        self.sky = SkyTable(block, by_kind[GSV], by_kind[GSA], n_epochs)

    def _dates(self, rmc: I64, zda: I64) -> list[int | None]:
        """Day number per epoch from its last readable RMC/ZDA date; unreadable ones counted.

        Each distinct date is parsed once, by the streaming code's own functions.
        """
        block = self.block
        rows: list[I64] = []
        days: list[I64] = []
        if len(rmc):
            start, stop = block.span(9, rmc)
            value, wrong = ints(block.buf, block.arr, start, stop)
            # rmc_date wants exactly six digits: anything else it refuses, as is
            given = stop > start
            six = given & ~wrong & (stop - start == 6) & \
                (block.arr[np.minimum(start, len(block.arr) - 1)] != 43) & (value >= 0)
            self._bad(given & ~six)
            day = self._unique(value[six], lambda v: rmc_date(b"%06d" % v))
            rows.append(rmc[six][day != NO_DAY])
            days.append(day[day != NO_DAY])
        if len(zda):
            parts = [ints(block.buf, block.arr, *block.span(k, zda)) for k in (2, 3, 4)]
            spans = [block.span(k, zda) for k in (2, 3, 4)]
            given = np.logical_and.reduce([b > a for a, b in spans])
            readable = given & ~np.logical_or.reduce([w for _, w in parts])
            self._bad(given & ~readable)
            triples = np.stack([v[readable] for v, _ in parts], axis=1)
            day = self._unique_rows(triples)
            rows.append(zda[readable][day != NO_DAY])
            days.append(day[day != NO_DAY])
        dates: list[int | None] = [None] * self.n
        if rows:
            all_rows, all_days = np.concatenate(rows), np.concatenate(days)
            order = np.argsort(all_rows, kind="stable")
            for e, day in zip(block.epoch[all_rows[order]].tolist(),
                              all_days[order].tolist(), strict=True):
                dates[e] = day
        return dates

    def _bad(self, mask: Bools) -> None:
        self.stats.bad_fields += int(np.count_nonzero(mask))

    def _unique(self, keys: I64, parse: Callable[[int], int | None]) -> I64:
        """``parse`` of each distinct key (NO_DAY where it raises ValueError, counted)."""
        distinct, back = np.unique(keys, return_inverse=True)
        days = np.array([_try(parse, k) for k in distinct.tolist()], np.int64)
        out = days[back.reshape(-1)] if len(keys) else np.zeros(0, np.int64)
        self._bad(out == NO_DAY)
        return out

    def _unique_rows(self, triples: npt.NDArray[np.int64]) -> I64:
        if not len(triples):
            return np.zeros(0, np.int64)
        distinct, back = np.unique(triples, axis=0, return_inverse=True)
        days = np.array([_try(lambda t: day_number(*t), tuple(t))
                         for t in distinct.tolist()], np.int64)
        out = days[back.reshape(-1)]
        self._bad(out == NO_DAY)
        return out

    def apply(self, ep: EpochFields, e: int) -> None:
        """Put epoch ``e``'s values onto ``ep`` (the open epoch, or a new one)."""
        text, v = self.block.text, self.values
        if (got := v["fix_ok"].get(e)) is not None:
            ep.fix_ok = bool(got[0])
        if (got := v["position"].get(e)) is not None:
            ep.lat, ep.ns, ep.lon, ep.ew = (text(got[i], got[i + 1]) for i in range(0, 8, 2))
        for attr in ("alt", "sats", "hdop", "pdop", "vdop", "track"):
            if (got := v[attr].get(e)) is not None:
                setattr(ep, attr, text(got[0], got[1]))
        if (got := v["speed"].get(e)) is not None:
            ep.speed, ep.speed_scale = text(got[0], got[1]), float(got[2])
        if (got := v["gsa_mode"].get(e)) is not None:
            ep.gsa_mode = int(got[0])
        if (got := v["gst"].get(e)) is not None:
            ep.gst = [b""] * 6 + [text(got[i], got[i + 1]) for i in range(0, 6, 2)]
        if self.dates[e] is not None:
            ep.date = self.dates[e]
        ep.kinds |= int(self.kinds[e])
        gsv, gsa = self.sky.bodies(e)
        ep.gsa.extend(gsa[:MAX_SKY - len(ep.gsa)])
        ep.gsv.extend(gsv[:MAX_SKY - len(ep.gsv)])



def _try(parse: Callable[[Any], int | None], key: Any) -> int:
    """``parse(key)``, NO_DAY where it raises ValueError or gives None."""
    try:
        value = parse(key)
    except ValueError:
        return NO_DAY
    return NO_DAY if value is None else value


# -- the handlers, as columns ------------------------------------------------------------------

def _nonempty(span: tuple[I64, I64]) -> Bools:
    return span[1] > span[0]


def _position(block: Block, rows: I64, valid: Bools, at: int,
              setters: dict[str, Setters]) -> None:
    setters["fix_ok"].add(rows, valid)
    lat = block.span(at, rows)
    sets = valid & _nonempty(lat)
    spans = [x[sets] for k in range(at, at + 4) for x in block.span(k, rows)]
    setters["position"].add(rows[sets], *spans)


def _gga(block: Block, rows: I64, setters: dict[str, Setters]) -> None:
    if not len(rows):
        return
    quality = block.span(6, rows)
    valid = _nonempty(quality) & ~block.is_char(quality, "0")
    _position(block, rows, valid, 2, setters)
    for attr, k, needs_valid in (("alt", 9, True), ("sats", 7, True), ("hdop", 8, False)):
        span = block.span(k, rows)
        sets = _nonempty(span) & (valid if needs_valid else True)
        setters[attr].add(rows[sets], span[0][sets], span[1][sets])


def _rmc(block: Block, rows: I64, setters: dict[str, Setters]) -> None:
    if not len(rows):
        return
    valid = block.is_char(block.span(2, rows), "A")
    has_mode = block.nf[rows] >= 13
    if has_mode.any():
        mode_rows = rows[has_mode]
        valid[has_mode] &= ~block.is_char(block.span(12, mode_rows), "N")
    _position(block, rows, valid, 3, setters)
    speed, track = block.span(7, rows), block.span(8, rows)
    sets = valid & _nonempty(speed)
    setters["speed"].add(rows[sets], speed[0][sets], speed[1][sets], KNOT_MPS)
    sets = valid & _nonempty(track)
    setters["track"].add(rows[sets], track[0][sets], track[1][sets])


def _gll(block: Block, rows: I64, setters: dict[str, Setters]) -> None:
    if not len(rows):
        return
    valid = block.is_char(block.span(6, rows), "A")
    has_mode = block.nf[rows] >= 8
    if has_mode.any():
        valid[has_mode] &= ~block.is_char(block.span(7, rows[has_mode]), "N")
    _position(block, rows, valid, 1, setters)


def _gns(block: Block, rows: I64, setters: dict[str, Setters]) -> None:
    if not len(rows):
        return
    start, stop = block.span(6, rows)
    valid = np.array([bool(block.buf[a:b].strip(b"N"))
                      for a, b in zip(start.tolist(), stop.tolist(), strict=True)], bool)
    _position(block, rows, valid, 2, setters)
    for attr, k, needs_valid in (("alt", 9, True), ("hdop", 8, False)):
        span = block.span(k, rows)
        sets = _nonempty(span) & (valid if needs_valid else True)
        setters[attr].add(rows[sets], span[0][sets], span[1][sets])


def _gsa(block: Block, rows: I64, setters: dict[str, Setters]) -> None:
    if not len(rows):
        return
    mode = block.span(2, rows)
    for char in "123":
        sets = block.is_char(mode, char)
        setters["gsa_mode"].add(rows[sets], int(char))
    sets = _nonempty(block.span(16, rows))
    for attr, k in (("pdop", 15), ("hdop", 16), ("vdop", 17)):
        start, stop = block.span(k, rows[sets])
        setters[attr].add(rows[sets], start, stop)


def _vtg(block: Block, rows: I64, setters: dict[str, Setters]) -> None:
    if not len(rows):
        return
    nf = block.nf[rows]
    modern = block.is_char(block.span(2, rows), "T")
    skip = modern & (nf > 9)
    if skip.any():
        skip[skip] = block.is_char(block.span(9, rows[skip]), "N")
    rows, nf, modern = rows[~skip], nf[~skip], modern[~skip]
    track = block.span(1, rows)
    empty = (np.zeros(len(rows), np.int64), np.zeros(len(rows), np.int64))
    knots = _pick(modern, _field_or_empty(block, rows, 5, nf > 5), block.span(3, rows))
    kmh = _pick(modern, _field_or_empty(block, rows, 7, nf > 7), block.span(4, rows)
                if len(rows) else empty)
    sets = _nonempty(track)
    setters["track"].add(rows[sets], track[0][sets], track[1][sets])
    by_knots = _nonempty(knots)
    by_kmh = ~by_knots & _nonempty(kmh)
    setters["speed"].add(rows[by_knots], knots[0][by_knots], knots[1][by_knots], KNOT_MPS)
    setters["speed"].add(rows[by_kmh], kmh[0][by_kmh], kmh[1][by_kmh], _KMH_MPS)


def _gst(block: Block, rows: I64, setters: dict[str, Setters]) -> None:
    if len(rows):
        setters["gst"].add(rows, *(x for k in (6, 7, 8) for x in block.span(k, rows)))


def _field_or_empty(block: Block, rows: I64, k: int, has: Bools) -> tuple[I64, I64]:
    start = np.zeros(len(rows), np.int64)
    stop = np.zeros(len(rows), np.int64)
    if has.any():
        start[has], stop[has] = block.span(k, rows[has])
    return start, stop


def _pick(which: Bools, a: tuple[I64, I64], b: tuple[I64, I64]) -> tuple[I64, I64]:
    return np.where(which, a[0], b[0]), np.where(which, a[1], b[1])
