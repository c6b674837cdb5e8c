"""One stream's events put in time order in bounded memory.

Event files (one sensor event a line, all sensors interleaved) are nearly in time order: the
phone writes events as it gets them, a little late or early. The events of each stream are
spilled to a file in file order as they are parsed; reading them back, a reorder window of
:data:`REORDER_NS` sorts them: an event is passed on once the stream has seen a time that much
later. So memory holds one window of one stream, whatever the file's size. An event that
arrives later than the window (the file went back in time by more than that) is kept and
passed on at the end, and counted in a note; :meth:`~sensekit.log.reader.LogReader.read` sorts
a stream whose messages overlap.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["BLOCK", "REORDER_NS", "EventSpill"]

#: How far back in time an event may arrive and still be sorted into place.
REORDER_NS = 60_000_000_000
#: Events read back at a time.
BLOCK = 1 << 16
#: Negative events whose distance to the line before is kept to decide mirroring.
_MIRROR_SAMPLE = 100_000

Rows = npt.NDArray[Any]


class EventSpill:
    """One stream's events on disk, in file order: time, the time of the line before (-1 when
    there was none), and ``width`` values."""

    def __init__(self, folder: Path, name: str, width: int) -> None:
        self.path = folder / f"{len(list(folder.iterdir()))}.events"
        self.name = name
        self.dtype = np.dtype([("t", "<i8"), ("prev", "<i8"), ("v", "<f8", (width,))])
        self.count = 0
        self.negatives = 0
        self._mirror_err: list[int] = []
        self._fh = self.path.open("wb")

    def append(self, t: list[int], prev: list[int], values: list[list[float]]) -> None:
        """Add events (parsed from consecutive lines)."""
        rows = np.empty(len(t), self.dtype)
        rows["t"], rows["prev"], rows["v"] = t, prev, values
        self._fh.write(rows.tobytes())
        self.count += len(rows)
        neg = rows[(rows["t"] < 0) & (rows["prev"] >= 0)]
        self.negatives += int((rows["t"] < 0).sum())
        room = _MIRROR_SAMPLE - len(self._mirror_err)
        if room > 0 and len(neg):
            self._mirror_err.extend((-neg["t"][:room] - neg["prev"][:room]).tolist())

    def close(self) -> None:
        self._fh.close()

    def mirror_median_ns(self) -> float | None:
        """Median of ``-t`` minus the time of the line before, over negative events."""
        return float(np.median(self._mirror_err)) if self._mirror_err else None

    def sorted_rows(self, mirror: bool, tally: dict[str, int]) -> Iterator[Rows]:
        """The events in time order, ``-t`` for negative times when ``mirror``; duplicates
        (same time) are left out and counted in ``tally`` (``duplicates``, ``differing``,
        ``late``)."""
        self.close()
        if self.count == 0:
            return
        data = np.memmap(self.path, self.dtype, mode="r", shape=(self.count,))
        window = np.empty(0, self.dtype)
        late: list[Rows] = []
        last: Rows | None = None
        frontier = -(2**63)
        for start in range(0, self.count, BLOCK):
            block = np.array(data[start:start + BLOCK])
            if mirror:
                block["t"] = np.where(block["t"] < 0, -block["t"], block["t"])
            frontier = max(frontier, int(block["t"].max()))
            window = _sort(np.concatenate([window, block]))
            cut = int(np.searchsorted(window["t"], frontier - REORDER_NS, side="left"))
            out, window = window[:cut], window[cut:]
            if last is not None and len(out) and out["t"][0] < last["t"]:
                behind = out["t"] < last["t"]
                late.append(out[behind])
                out = out[~behind]
            if len(out):
                out = _dedupe(out, last, tally)
                last = out[-1:].copy() if len(out) else last
                yield out
        if len(window):
            yield _dedupe(window, last, tally)
        del data
        if late:
            rows = _sort(np.concatenate(late))
            tally["late"] = tally.get("late", 0) + len(rows)
            yield _dedupe(rows, None, tally)


def _sort(rows: Rows) -> Rows:
    return rows[np.argsort(rows["t"], kind="stable")]


def _dedupe(rows: Rows, last: Rows | None, tally: dict[str, int]) -> Rows:
    """Rows without repeats of the time before them (the first of each time is kept)."""
    both = rows if last is None else np.concatenate([last, rows])
    same = np.zeros(len(both), bool)
    same[1:] = both["t"][1:] == both["t"][:-1]
    values = both["v"].reshape(len(both), -1)
    equal = np.ones(len(both), bool)
    equal[1:] = np.all((values[1:] == values[:-1])
                       | (np.isnan(values[1:]) & np.isnan(values[:-1])), axis=1)
    skip = len(both) - len(rows)  # the row before this block is not part of the result
    same, equal = same[skip:], equal[skip:]
    if same.any():
        tally["duplicates"] = tally.get("duplicates", 0) + int(same.sum())
        tally["differing"] = tally.get("differing", 0) + int((same & ~equal).sum())
    return rows[~same]
