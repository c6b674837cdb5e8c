"""Decoding a capture a block at a time: the columnar twin of the streaming assembler.

:class:`CaptureDecoder` gives the same fixes and counts as :class:`~.nmea.NmeaReader` feeding
an :class:`~.epoch.EpochAssembler` (``eager=False``) on the same bytes, however they are
split into blocks (property-tested on the gpsd corpus and on fuzzed streams), but works on
columns instead of one sentence at a time:

1. the reader checks every line of a block at once and hands over where each sentence body
   lies (:meth:`~.nmea.NmeaReader.feed_spans`), without a bytes object per line;
2. sentence types, field positions (from the comma positions) and the flags each handler
   tests (``status == "A"``, an empty field...) are numpy arrays over the block;
3. epochs are numbered from the time fields (a new epoch where a timed sentence's time differs
   from the last time seen), and for every value of a fix the last sentence of its epoch
   that gives it wins, as in the streaming assembler;
4. the numbers of the epochs closed within the block are converted column by column; an
   epoch with an unreadable value goes through the streaming assembler's own conversion, so
   the counting of bad fields is the same.

The epoch still open at the end of a block becomes the assembler's current epoch, so the next
block (or :meth:`CaptureDecoder.flush`) continues it. No host times: a capture's fixes have
``t_ns == 0``, as :func:`~.capture.decode_capture` always gave them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gc
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from .block import KEYS, Block
from .decimals import NO_TIME, times_of_day
from .epoch import EpochAssembler, Fix
from .epoch_columns import NO_DAY, EpochColumns
from .fields import DAY_NS
from .fix_columns import fixes_of
from .nmea import NmeaReader
from .sentences import HANDLERS, EpochFields

__all__ = ["CaptureDecoder"]

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
NONE = -1                     # "no time" in the tod arrays (times of day are >= 0)
_WHERE = np.array([HANDLERS[k][0] for k in KEYS], np.int64)       # time field (0: none)
_NEED = np.array([HANDLERS[k][1] for k in KEYS], np.int64)        # fields needed


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a block is decoded.

    A block makes thousands of fixes that all live on; each time the collector runs it walks
    every one of them again, which cost about a fifth of the decoding time. Nothing made here
    forms a reference cycle, so reference counting frees all of it as usual meanwhile. A
    collector the caller had turned off stays off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class CaptureDecoder:
    """Bytes of a capture in, fixes out, a block at a time (see the module docstring).

    Args:
        date: Date of epochs seen before any RMC/ZDA date.
        comments: Skip ``#`` lines (gpsd's capture headers).

    Attributes:
        reader: The reader (its :attr:`~.nmea.NmeaReader.stats` count what it saw).
        assembler: The assembler holding the epoch being built, the date and the counts.
    """

    def __init__(self, date: _dt.date | None = None, comments: bool = True) -> None:
        self.reader = NmeaReader(comments=comments)
        self.assembler = EpochAssembler(date=date)

    def feed(self, data: bytes) -> list[Fix]:
        """Fixes completed by ``data`` (blocks of a megabyte or more are what this is for)."""
        buf, starts, stops, encapsulated = self.reader.feed_spans(data)
        if not len(starts):
            return []
        with _collector_paused():
            return self._assemble(Block(buf, starts, stops), encapsulated)

    def flush(self) -> list[Fix]:
        """Close the epoch being built and give out every held fix."""
        return self.assembler.flush()

    # -- stage 1: which sentences count, and their epochs ------------------------------------
    def _assemble(self, block: Block, encapsulated: Bools) -> list[Fix]:
        stats = self.assembler.stats
        kind, vendor = block.kinds(encapsulated)
        passed = kind < 0
        stats.vendor += int(np.count_nonzero(vendor))
        stats.unknown += int(np.count_nonzero(passed)) - int(np.count_nonzero(vendor))
        short = ~passed & (block.nf < _NEED[np.maximum(kind, 0)])
        stats.short_sentences += int(np.count_nonzero(short))
        keep = ~passed & ~short
        tod, tstart, tstop = self._times(block, kind, keep)
        rows = np.flatnonzero(keep)
        if not len(rows):
            return []
        n_epochs = self._number_epochs(block, rows, tod[rows])
        cols = EpochColumns(block, kind, rows, n_epochs, self.assembler.stats)
        return self._close_epochs(cols, rows, tod, (tstart, tstop), n_epochs)

    def _times(self, block: Block, kind: I64, keep: Bools) -> tuple[I64, I64, I64]:
        """Time of day of each timed sentence (NONE if untimed) and where its field lies;
        drops (and counts) sentences whose time no clock shows."""
        tod = np.full(len(kind), NONE, np.int64)
        tstart = np.zeros(len(kind), np.int64)
        tstop = np.zeros(len(kind), np.int64)
        where = _WHERE[np.maximum(kind, 0)]
        for k in (1, 5):
            rows = np.flatnonzero(keep & (kind >= 0) & (where == k))
            start, stop = block.span(k, rows)
            given = stop > start
            rows, start, stop = rows[given], start[given], stop[given]
            values = times_of_day(block.buf, block.arr, start, stop)
            impossible = values == NO_TIME
            if impossible.any():                          # a time no clock shows: rejected
                keep[rows[impossible]] = False
                self.assembler.stats.bad_times += int(np.count_nonzero(impossible))
            tod[rows], tstart[rows], tstop[rows] = values, start, stop
        return tod, tstart, tstop

    def _number_epochs(self, block: Block, rows: I64, tods: I64) -> int:
        """Epoch of each kept sentence: 0 continues the open one; +1 where the time changes."""
        current = self.assembler._ep
        prev0 = NONE if current is None or current.tod is None else current.tod
        timed = tods != NONE
        seen = np.maximum.accumulate(np.where(timed, np.arange(len(tods)), -1))
        before = np.empty_like(seen)
        before[0], before[1:] = -1, seen[:-1]
        prev = np.where(before >= 0, tods[np.maximum(before, 0)], prev0)
        boundary = timed & (prev != NONE) & (tods != prev)
        block.epoch[rows] = np.cumsum(boundary)
        return int(block.epoch[rows[-1]]) + 1

    # -- stage 3: closing epochs ---------------------------------------------------------------
    def _close_epochs(self, cols: EpochColumns, rows: I64, tod: I64, tspan: tuple[I64, I64],
                      n_epochs: int) -> list[Fix]:
        out: list[Fix] = []
        asm = self.assembler
        first_timed = self._first_timed(cols.block, rows, tod)
        current = asm._ep
        if current is None:
            current = asm._ep = EpochFields(0, None)
        def tfield(row: int) -> bytes:
            return cols.block.text(int(tspan[0][row]), int(tspan[1][row]))

        if current.tod is None and 0 in first_timed:
            row = first_timed[0]
            current.tod, current.tfield = int(tod[row]), tfield(row)
        cols.apply(current, 0)
        if n_epochs == 1:
            return out
        asm._close(out)                                   # epoch 0: the streaming way
        starts = [first_timed[e] for e in range(1, n_epochs)]
        tods = tod[starts].tolist()
        inner = fixes_of(cols, asm, range(1, n_epochs - 1), tods[:-1])
        _date_all(asm, inner, tods[:-1], cols.dates[1:n_epochs - 1], out)
        last = n_epochs - 1
        asm._ep = EpochFields(0, tods[-1], tfield(starts[-1]))
        cols.apply(asm._ep, last)
        return out

    @staticmethod
    def _first_timed(block: Block, rows: I64, tod: I64) -> dict[int, int]:
        """Row of each epoch's first timed sentence (an epoch after the first starts there)."""
        timed = rows[tod[rows] != NONE]
        epochs = block.epoch[timed]
        first = np.ones(len(timed), bool)
        first[1:] = epochs[1:] != epochs[:-1]
        return dict(zip(epochs[first].tolist(), timed[first].tolist(), strict=True))


def _date_all(asm: EpochAssembler, fixes: list[Fix], tods: list[int],
              dates: list[int | None], out: list[Fix]) -> None:
    """``asm._date`` of each fix in turn, as columns when the day is known (the usual case):
    each epoch's day is the last date given at or before it, plus the midnights passed since
    (a time of day more than half a day below the one before)."""
    if asm._day is None or asm._held or not fixes:
        for fix, tod, date in zip(fixes, tods, dates, strict=True):
            asm._date(tod, date, fix, out)
        return
    times = np.array(tods, np.int64)
    days = np.array([NO_DAY if d is None else d for d in dates], np.int64)
    given = days != NO_DAY
    before = np.empty_like(times)
    before[1:] = times[:-1]
    before[0] = times[0] if asm._last_tod is None else asm._last_tod   # no midnight without one
    midnight = ~given & (times < before - DAY_NS // 2)
    passed = np.cumsum(midnight)
    last = np.maximum.accumulate(np.where(given, np.arange(len(times)), -1))
    base = np.where(last >= 0, days[np.maximum(last, 0)], asm._day)
    day = base + passed - np.where(last >= 0, passed[np.maximum(last, 0)], 0)
    for fix, utc in zip(fixes, (day * DAY_NS + times).tolist(), strict=True):
        fix.utc_ns = utc
    out.extend(fixes)
    asm._day, asm._last_tod = int(day[-1]), int(times[-1])
