"""One block of a capture as columns: its sentences, where every field lies, and the values a
fix takes from the last sentence of its epoch that gives them.

The pieces the columnar decoder (:mod:`.batch`) is made of; see there for how they fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .epoch import MAX_SKY

__all__ = ["GGA", "GLL", "GNS", "GSA", "GST", "GSV", "KEYS", "RMC", "VTG", "ZDA", "Block",
           "Setters", "SkyTable", "Value"]

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
#: The sentence types decoded (``body[2:6]``), in the order of :meth:`Block.kinds`' numbers.
KEYS = (b"GGA,", b"RMC,", b"GLL,", b"GNS,", b"GSA,", b"VTG,", b"ZDA,", b"GST,", b"GSV,")
GGA, RMC, GLL, GNS, GSA, VTG, ZDA, GST, GSV = range(9)
_CODES = np.array([int.from_bytes(k, "big") for k in KEYS], np.int64)


class Block:
    """One block's sentences: their types, epochs, and where each field of each one lies."""

    def __init__(self, buf: bytes, starts: I64, stops: I64) -> None:
        self.buf = buf
        self.arr = np.frombuffer(buf, np.uint8)
        self.starts, self.stops = starts, stops
        self.commas = np.flatnonzero(self.arr == 44)
        self.c0 = np.searchsorted(self.commas, starts)
        self.nf = np.searchsorted(self.commas, stops) - self.c0 + 1
        self.epoch = np.zeros(len(starts), np.int64)
        self._rows: tuple[I64, I64, I64, I64] | None = None  # the last rows' c0, nf, stops

    def kinds(self, encapsulated: Bools) -> tuple[I64, Bools]:
        """Handler index of each sentence (-1: passed on) and which are vendor (``P``)."""
        arr, s, last = self.arr, self.starts, len(self.arr) - 1
        code = np.zeros(len(s), np.int64)
        for k in range(2, 6):
            code = (code << 8) | arr[np.minimum(s + k, last)]
        code[self.stops - s < 6] = 0                   # body[2:6] shorter than a key
        kind = np.full(len(s), -1, np.int64)
        for i, c in enumerate(_CODES.tolist()):
            kind[code == c] = i
        first = arr[np.minimum(s, last)]
        vendor = (first == 80) & ~encapsulated
        kind[vendor | encapsulated] = -1
        return kind, vendor

    def span(self, k: int, rows: I64) -> tuple[I64, I64]:
        """Start and stop of field ``k`` (``k >= 1``, every row has it) of the given rows."""
        cached = self._rows
        if cached is None or cached[0] is not rows:
            cached = self._rows = (rows, self.c0[rows], self.nf[rows], self.stops[rows])
        _, c0, nf, stops = cached
        commas = self.commas
        start = commas[c0 + k - 1] + 1
        stop = np.where(k < nf - 1, commas[np.minimum(c0 + k, len(commas) - 1)], stops)
        return start, stop

    def text(self, start: int, stop: int) -> bytes:
        return self.buf[start:stop]

    def is_char(self, span: tuple[I64, I64], char: str) -> Bools:
        start, stop = span
        first = self.arr[np.minimum(start, len(self.arr) - 1)]
        out: Bools = (stop - start == 1) & (first == ord(char))
        return out


class Setters:
    """For one value of a fix: which sentences give it, in stream order, and where."""

    def __init__(self) -> None:
        self.rows: list[I64] = []
        self.parts: list[tuple[Any, ...]] = []

    def add(self, rows: I64, *parts: Any) -> None:
        if len(rows):
            self.rows.append(rows)
            self.parts.append(parts)

    def last(self, block: Block) -> tuple[I64, list[Any]]:
        """The epoch of each epoch's last setter and that setter's parts."""
        if not self.rows:
            return np.zeros(0, np.int64), []
        rows = np.concatenate(self.rows)
        parts = [np.concatenate([np.broadcast_to(np.asarray(p[i]), len(r))
                                 for p, r in zip(self.parts, self.rows, strict=True)])
                 for i in range(len(self.parts[0]))]
        if len(self.rows) > 1:                    # several sentence types: in stream order
            order = np.argsort(rows, kind="stable")
            rows, parts = rows[order], [p[order] for p in parts]
        epochs = block.epoch[rows]
        last = np.ones(len(rows), bool)
        last[:-1] = epochs[1:] != epochs[:-1]
        return epochs[last], [p[last] for p in parts]


class Value:
    """One value of a fix in every epoch of a block: the parts its last setter gave, if any."""

    def __init__(self, setters: Setters, block: Block, n_epochs: int) -> None:
        epochs, self.parts = setters.last(block)
        self.index = np.full(n_epochs, -1, np.int64)
        self.index[epochs] = np.arange(len(epochs))
        self.block = block

    def get(self, e: int) -> tuple[Any, ...] | None:
        j = int(self.index[e])
        return None if j < 0 else tuple(p[j] for p in self.parts)

    def given(self, epochs: range) -> Bools:
        return self.index[epochs.start:epochs.stop] >= 0

    def spans(self, epochs: range, part: int = 0) -> tuple[I64, I64]:
        """Start and stop of span ``part`` for each epoch (empty where not given)."""
        index = self.index[epochs.start:epochs.stop]
        has = index >= 0
        start = np.zeros(len(index), np.int64)
        stop = np.zeros(len(index), np.int64)
        if self.parts:
            start[has] = self.parts[2 * part][index[has]]
            stop[has] = self.parts[2 * part + 1][index[has]]
        return start, stop

    def numbers(self, epochs: range, part: int, default: float) -> npt.NDArray[Any]:
        index = self.index[epochs.start:epochs.stop]
        out = np.full(len(index), default)
        if self.parts:
            has = index >= 0
            out[has] = self.parts[part][index[has]]
        return out


class SkyTable:
    """The GSV and GSA bodies of a block's epochs, sliced out only when a fix's satellites
    are asked for (most never are)."""

    __slots__ = ("buf", "gsa", "gsv")

    def __init__(self, block: Block, gsv: I64, gsa: I64, n_epochs: int) -> None:
        self.buf = block.buf
        self.gsv = self._ranges(block, gsv, n_epochs)
        self.gsa = self._ranges(block, gsa, n_epochs)

    @staticmethod
    def _ranges(block: Block, rows: I64, n: int) -> tuple[list[int], list[int], list[int],
                                                            list[int]]:
        """Starts and stops of the rows' bodies, and each epoch's first and end row (capped
        at MAX_SKY bodies)."""
        bounds = np.searchsorted(block.epoch[rows], np.arange(n + 1))
        lo = bounds[:-1]
        return (block.starts[rows].tolist(), block.stops[rows].tolist(), lo.tolist(),
                np.minimum(bounds[1:], lo + MAX_SKY).tolist())

    def _slice(self, ranges: tuple[list[int], list[int], list[int], list[int]],
               e: int) -> list[bytes]:
        starts, stops, lo, hi = ranges
        buf = self.buf
        return [buf[starts[i]:stops[i]] for i in range(lo[e], hi[e])]

    def bodies(self, e: int) -> tuple[list[bytes], list[bytes]]:
        """GSV and GSA bodies of epoch ``e``."""
        return self._slice(self.gsv, e), self._slice(self.gsa, e)

    def gsa_bodies(self, e: int) -> list[bytes]:
        return self._slice(self.gsa, e)
