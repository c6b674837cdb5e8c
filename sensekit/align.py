"""Multi-rate windows with masks: :func:`align` (offline) and :class:`Aligner` (online).

Streams of different rates (IMU at 100-1000 Hz, audio at 16 kHz, GPS and light at 1-10 Hz,
camera at 1-30 fps) become fixed windows in which every modality keeps its native resolution,
its exact timestamps and a mask of the slots that hold a real sample. Nothing is interpolated.

The rules, identical online and offline:

- **Grid.** Window ``k`` is the half-open interval ``[origin + k*hop, origin + k*hop + window)``
  in int64 ns of the host monotonic clock. ``origin_ns`` defaults to 0, so windows start at
  multiples of the hop whatever order the data arrives in.
- **Which windows.** From the first window that contains a sample of any stream to the last one
  that starts at or before the newest sample. Windows in which no stream has a single sample
  (every sensor off) are skipped; :attr:`Window.index` shows the jump.
- **Slots.** A stream declared at ``rate_hz`` gets ``n = max(1, round(rate_hz * window_s))``
  slots per window, each ``window / n`` wide. A sample at ``t`` goes to slot
  ``floor((t - t_start) * n / window)``, computed in exact integer arithmetic. A stream running
  slower than declared (the sampling controller lowered its rate) fills fewer slots: the mask
  says which, coverage drops below 1. A stream running faster, or drifting, may put two samples
  in one slot: the earliest keeps the slot and the other is counted in ``collisions``.
- **Timestamps.** ``Window.t_ns[stream]`` holds each slot's exact sample time, :data:`NO_TIME`
  where the slot is empty; empty slots of ``Window.data`` are zero.
- **Bad timestamps** are handled and counted per stream (:class:`StreamStats`): out-of-order
  samples are sorted into place, duplicates of a timestamp keep the first sample to arrive,
  intervals longer than ``gap_s`` are counted as gaps.
- **Step signals.** A stream declared with ``hold_s`` reports a value that stands until the
  next report (a phone's light sensor reports only when the light changes). An empty slot of
  such a stream takes the latest earlier sample if it is at most ``hold_s`` old at the slot's
  start, also from before the window; :attr:`Window.held` marks those slots (``mask`` still
  marks real samples only, so coverage counts what arrived), their ``t_ns`` is the held
  sample's own time, and :meth:`Window.valid` is ``mask | held``. A held stream may stay
  silent for minutes, so online it never holds a window open and is never listed as missed.

Online, a window closes when every stream not declared absent has delivered a sample at or after
its end (its watermark, less ``reorder_s``), so a slow stream does not close windows early; or
when the newest sample of any stream is ``max_lateness_s`` past the window's end, after which a
stream that had not caught up is listed in :attr:`Window.missed`, counted in ``windows_missed``,
and its samples that arrive for closed windows are counted as ``late`` and dropped. Buffered data
older than the oldest open window is dropped, so memory stays bounded. Given the same data, and no
stream beyond those bounds, online and offline give identical windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import ConfigError, describe
from .packets import Packet

__all__ = ["NO_TIME", "Aligner", "StreamSpec", "StreamStats", "Window", "align"]

#: Timestamp of an empty slot in :attr:`Window.t_ns`.
NO_TIME = int(np.iinfo(np.int64).min)
#: Slots of the widest stream placed per batch of windows: bounds memory after long gaps.
_CHUNK_SLOTS = 1 << 21

Array = npt.NDArray[Any]
I64 = npt.NDArray[np.int64]
#: One stream given to :func:`align`: packets, or ``(t_ns, {field: array})``.
StreamData = Packet | Sequence[Packet] | tuple[Array, Mapping[str, Array]]


@dataclass(frozen=True)
class StreamSpec:
    """How one stream is cut into slots.

    Attributes:
        rate_hz: Declared rate; sets the number of slots per window.
        fields: Payload fields to keep (default: all fields of the first packet).
        gap_s: An interval between consecutive samples longer than this counts as a gap
            (default 1.5 periods, i.e. at least one sample missing).
        reorder_s: How far behind its own newest sample this stream may still deliver samples
            (online: windows wait that much longer for it).
        hold_s: A step signal: an empty slot holds the latest earlier sample up to this age
            (None: samples are points in time and an empty slot is missing).
    """

    rate_hz: float
    fields: tuple[str, ...] | None = None
    gap_s: float | None = None
    reorder_s: float = 0.0
    hold_s: float | None = None

    def slots(self, window_ns: int) -> int:
        """Slots per window of ``window_ns``."""
        return max(1, round(self.rate_hz * window_ns / 1e9))


@dataclass
class StreamStats:
    """What happened to one stream's samples (counts since the aligner was made).

    Attributes:
        samples: Samples received.
        out_of_order: Samples older than one received before them (sorted into place).
        duplicates: Samples whose timestamp was already present (dropped, first one kept).
        late: Samples for windows already closed (dropped; online only).
        gaps: Intervals between consecutive samples longer than the stream's ``gap_s``.
        longest_gap_ns: Longest such interval.
        collisions: Samples that found their slot taken, summed over emitted windows.
        windows_missed: Windows closed (online) before this stream had reached their end.
    """

    samples: int = 0
    out_of_order: int = 0
    duplicates: int = 0
    late: int = 0
    gaps: int = 0
    longest_gap_ns: int = 0
    collisions: int = 0
    windows_missed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class Window:
    """One window: every stream at its native resolution, with masks and exact timestamps.

    Arrays are read-only views (overlapping windows share memory); copy before writing.

    Attributes:
        index: Window number ``k`` on the grid (``t_start_ns = origin + k * hop``).
        t_start_ns: Start, included.
        t_end_ns: End, excluded.
        data: ``data[stream][field]``: ``n`` slots of the field, zero where empty. A stream
            that has never delivered a sample has no fields yet (``{}``).
        t_ns: Exact sample time per slot, :data:`NO_TIME` where empty.
        mask: True where a slot holds a real sample.
        coverage: Fraction of slots filled (0: the modality is absent).
        collisions: Samples that found their slot taken in this window.
        missed: Streams that had not reached the window's end when it was closed (online).
        held: For streams declared ``hold_s``: True where an empty slot holds an earlier
            sample (its value in ``data``, its time in ``t_ns``).
    """

    index: int
    t_start_ns: int
    t_end_ns: int
    data: Mapping[str, Mapping[str, Array]]
    t_ns: Mapping[str, I64]
    mask: Mapping[str, npt.NDArray[np.bool_]]
    coverage: Mapping[str, float]
    collisions: Mapping[str, int]
    missed: tuple[str, ...] = ()
    held: Mapping[str, npt.NDArray[np.bool_]] = field(default_factory=dict)

    def valid(self, stream: str) -> npt.NDArray[np.bool_]:
        """Slots of ``stream`` with a value: a real sample, or a held one."""
        held = self.held.get(stream)
        mask = self.mask[stream]
        return mask if held is None else mask | held

    def __repr__(self) -> str:
        cover = ", ".join(f"{k}={v:.2f}" for k, v in self.coverage.items())
        return (f"Window(index={self.index}, [{self.t_start_ns / 1e9:.3f} s, "
                f"{self.t_end_ns / 1e9:.3f} s), coverage: {cover}"
                + (f", missed: {', '.join(self.missed)})" if self.missed else ")"))

    def slot_starts_ns(self, stream: str) -> I64:
        """Start time of each slot of ``stream`` (where a sample would fall into it)."""
        n = len(self.mask[stream])
        width = self.t_end_ns - self.t_start_ns
        return self.t_start_ns + (np.arange(n, dtype=np.int64) * width + n - 1) // n


@dataclass(frozen=True)
class _Grid:
    origin_ns: int
    window_ns: int
    hop_ns: int

    def start(self, k: int) -> int:
        return self.origin_ns + k * self.hop_ns

    def first_containing(self, t: int) -> int:
        return (t - self.origin_ns - self.window_ns) // self.hop_ns + 1

    def last_ending_by(self, t: int) -> int:
        return (t - self.origin_ns - self.window_ns) // self.hop_ns

    def last_starting_by(self, t: int) -> int:
        return (t - self.origin_ns) // self.hop_ns


class _Stream:
    """Buffered samples of one stream: sorted, without duplicates, none before the frontier."""

    def __init__(self, name: str, spec: StreamSpec, grid: _Grid) -> None:
        if not spec.rate_hz > 0:
            raise ConfigError(describe(f"stream {name!r}: rate_hz must be > 0, got {spec.rate_hz}",
                                       hint="declare the sensor's nominal rate"))
        self.name, self.spec = name, spec
        self.n = spec.slots(grid.window_ns)
        self.hop_slots = grid.hop_ns * self.n // grid.window_ns
        self.aligned = grid.hop_ns * self.n % grid.window_ns == 0
        self.gap_ns = round((spec.gap_s if spec.gap_s is not None else 1.5 / spec.rate_hz) * 1e9)
        self.reorder_ns = round(spec.reorder_s * 1e9)
        self.layout: dict[str, tuple[np.dtype[Any], tuple[int, ...]]] | None = None
        self.pending: list[tuple[I64, dict[str, Array]]] = []
        self.t: I64 = np.empty(0, np.int64)
        self.fields: dict[str, Array] = {}
        self.rows: I64 | None = None
        self.wm: int | None = None
        self.t_min: int | None = None
        self.last_final: int | None = None
        self.hold_ns = None if spec.hold_s is None else round(spec.hold_s * 1e9)
        #: the newest finalized sample, held into later windows (step signals)
        self.carry: tuple[int, dict[str, Array]] | None = None
        self.absent = False
        self.stats = StreamStats()

    def add(self, t: I64, fields: Mapping[str, Array], frontier: int | None, copy: bool) -> None:
        """Take samples in arrival order; count out-of-order and late ones."""
        self.stats.samples += len(t)
        if len(t) == 0:
            return
        cols = self._columns(fields)
        newest = np.maximum.accumulate(t)
        earlier = np.concatenate(([NO_TIME if self.wm is None else self.wm], newest[:-1]))
        self.stats.out_of_order += int(np.count_nonzero(t < earlier))
        self.wm = int(newest[-1]) if self.wm is None else max(self.wm, int(newest[-1]))
        self.absent = False
        if frontier is not None and int(t.min()) < frontier:
            keep = t >= frontier
            self.stats.late += int(len(t) - np.count_nonzero(keep))
            t, cols, copy = t[keep], {k: v[keep] for k, v in cols.items()}, False
        if len(t):
            low = int(t.min())
            self.t_min = low if self.t_min is None else min(self.t_min, low)
            if copy:
                t, cols = t.copy(), {k: v.copy() for k, v in cols.items()}
            self.pending.append((t, cols))

    def _columns(self, fields: Mapping[str, Array]) -> dict[str, Array]:
        if self.layout is None:
            names = self.spec.fields if self.spec.fields is not None else tuple(fields)
            missing = [k for k in names if k not in fields]
            if missing:
                raise ConfigError(f"stream {self.name!r}: packet lacks fields {missing} named in "
                                  f"its StreamSpec (has {sorted(fields)})")
            self.layout = {k: (np.asarray(fields[k]).dtype, np.shape(fields[k])[1:])
                           for k in names}
            self.fields = {k: np.empty((0, *shape), dt) for k, (dt, shape) in self.layout.items()}
        cols = {}
        for name, (dtype, shape) in self.layout.items():
            col = np.asarray(fields.get(name)) if name in fields else None
            if col is None or col.dtype != dtype or col.shape[1:] != shape:
                got = "nothing" if col is None else f"{col.dtype}{col.shape[1:]}"
                raise ConfigError(describe(
                    f"stream {self.name!r}: field {name!r} is {got}, earlier packets had "
                    f"{dtype}{shape}", hint="a stream's fields must keep their dtype and shape "
                    "(start a new Aligner after a resolution change)"))
            cols[name] = col
        return cols

    def consolidate(self) -> None:
        """Merge pending packets into the sorted buffer; drop and count duplicates."""
        if not self.pending:
            return
        self._materialise()
        chunks = ([(self.t, self.fields)] if len(self.t) else []) + self.pending
        self.pending = []
        t, cols = chunks[0]
        if len(chunks) > 1:
            t = np.concatenate([c[0] for c in chunks])
            cols = {k: np.concatenate([c[1][k] for c in chunks]) for k in self.fields}
        rows = None  # fields stay in arrival order; rows[i] is sorted sample i's row
        if len(t) > 1 and bool(np.any(t[1:] < t[:-1])):
            rows = np.argsort(t, kind="stable")  # stable: the first to arrive comes first
            t = t[rows]
        if len(t) > 1:
            dup = t[1:] == t[:-1]
            if dup.any():
                keep = np.concatenate(([True], ~dup))
                self.stats.duplicates += int(np.count_nonzero(dup))
                t = t[keep]
                rows = np.flatnonzero(keep) if rows is None else rows[keep]
        self.t, self.fields, self.rows = t, dict(cols), rows

    def _materialise(self) -> None:
        if self.rows is not None:
            self.fields = {k: v[self.rows] for k, v in self.fields.items()}
            self.rows = None

    def finalize(self, before: int) -> None:
        """Count gaps among the samples older than ``before`` and drop them."""
        i = int(np.searchsorted(self.t, before))
        if i:
            seg = self.t[:i] if self.last_final is None else np.concatenate(
                ([self.last_final], self.t[:i]))
            d = np.diff(seg)
            long = d[d > self.gap_ns]
            self.stats.gaps += len(long)
            if len(long):
                self.stats.longest_gap_ns = max(self.stats.longest_gap_ns, int(long.max()))
            self.last_final = int(self.t[i - 1])
            if self.hold_ns is not None:
                row = i - 1 if self.rows is None else int(self.rows[i - 1])
                self.carry = (self.last_final, {k: v[row].copy() for k, v in self.fields.items()})
            # Copies, so that the dropped samples' memory is released.
            keep = slice(i, None) if self.rows is None else self.rows[i:]
            self.t = self.t[i:].copy()
            self.fields = {k: v[keep].copy() for k, v in self.fields.items()}
            self.rows = None

    def first_at_or_after(self, t: int) -> int | None:
        i = int(np.searchsorted(self.t, t))
        return int(self.t[i]) if i < len(self.t) else None


@dataclass
class _Placed:
    """One stream's samples for a batch of windows: window j is ``[offs[j]:offs[j] + n]``."""

    t: I64
    mask: npt.NDArray[np.bool_]
    fields: dict[str, Array]
    offs: I64
    filled: I64
    collisions: I64
    known: bool = True
    held: npt.NDArray[np.bool_] | None = None


def _slots(st: _Stream, grid: _Grid, ka: int, m: int) -> tuple[I64, I64, int, I64]:
    """Flat slot and buffer index of every (window, sample) pair, in slot order."""
    n, width = st.n, grid.window_ns
    s_a = grid.start(ka)
    lo, hi = np.searchsorted(st.t, [s_a, grid.start(ka + m - 1) + width])
    t = st.t[lo:hi]
    if st.aligned:  # slot grids of all windows coincide: place each sample once
        slot = (t - s_a) * n // width
        return slot, np.arange(lo, hi), (m - 1) * st.hop_slots + n, \
            np.arange(m, dtype=np.int64) * st.hop_slots
    starts = s_a + np.arange(m, dtype=np.int64) * grid.hop_ns
    first, last = np.searchsorted(t, starts), np.searchsorted(t, starts + width)
    count = last - first
    win = np.repeat(np.arange(m, dtype=np.int64), count)
    src = np.arange(int(count.sum())) + np.repeat(first - (np.cumsum(count) - count), count)
    slot = win * n + (t[src] - starts[win]) * n // width
    return slot, src + lo, m * n, np.arange(m, dtype=np.int64) * n


def _slot_starts(st: _Stream, grid: _Grid, ka: int, m: int, total: int) -> I64:
    """Start time of every flat slot of windows ``ka .. ka + m - 1``."""
    n, width = st.n, grid.window_ns
    k = np.arange(total, dtype=np.int64)
    if st.aligned:
        return grid.start(ka) + (k * width + n - 1) // n
    win, i = k // n, k % n
    return grid.start(ka) + win * grid.hop_ns + (i * width + n - 1) // n


def _hold(st: _Stream, grid: _Grid, ka: int, m: int, placed: _Placed) -> None:
    """Fill the empty slots of a step signal with the latest earlier sample, up to its age."""
    assert st.hold_ns is not None
    empty = np.flatnonzero(~placed.mask)
    starts = _slot_starts(st, grid, ka, m, len(placed.mask))[empty]
    prev = np.searchsorted(st.t, starts, side="left") - 1
    t_prev = st.t[np.maximum(prev, 0)] if len(st.t) else np.zeros(len(prev), np.int64)
    t_prev = np.where(prev >= 0, t_prev, NO_TIME)
    from_carry = (prev < 0) & (st.carry is not None)
    if st.carry is not None:
        t_prev = np.where(from_carry, st.carry[0], t_prev)
    ok = (t_prev != NO_TIME) & (starts - t_prev <= st.hold_ns)
    held = np.zeros(len(placed.mask), bool)
    held[empty[ok]] = True
    dst, src, carry = empty[ok], prev[ok], from_carry[ok]
    rows = src if st.rows is None else st.rows[np.maximum(src, 0)]
    t = placed.t.copy()
    t[dst] = t_prev[ok]
    fields = {}
    for name, col in placed.fields.items():
        out = col.copy()
        out[dst[~carry]] = st.fields[name][rows[~carry]]
        if carry.any() and st.carry is not None:
            out[dst[carry]] = st.carry[1][name]
        out.flags.writeable = False
        fields[name] = out
    t.flags.writeable = held.flags.writeable = False
    placed.t, placed.fields, placed.held = t, fields, held


def _place(st: _Stream, grid: _Grid, ka: int, m: int) -> _Placed:
    """Put the earliest sample of each slot in place for windows ``ka .. ka + m - 1``."""
    placed = _place_samples(st, grid, ka, m)
    if st.hold_ns is not None:
        _hold(st, grid, ka, m, placed)
    return placed


def _place_samples(st: _Stream, grid: _Grid, ka: int, m: int) -> _Placed:
    slot, src, total, offs = _slots(st, grid, ka, m)
    keep = np.ones(len(slot), bool)
    keep[1:] = slot[1:] != slot[:-1]
    dst, src_kept = slot[keep], src[keep]
    mask = np.zeros(total, bool)
    mask[dst] = True
    t = np.full(total, NO_TIME, np.int64)
    t[dst] = st.t[src_kept]
    rows = src_kept if st.rows is None else st.rows[src_kept]
    fields = {}
    for name, col in st.fields.items():
        out = np.zeros((total, *col.shape[1:]), col.dtype)
        out[dst] = col[rows]
        fields[name] = out
    for a in (t, mask, *fields.values()):
        a.flags.writeable = False
    return _Placed(t, mask, fields, offs, _per_window(dst, offs, st.n),
                   _per_window(slot[~keep], offs, st.n))


def _per_window(sorted_slots: I64, offs: I64, n: int) -> I64:
    """How many of ``sorted_slots`` fall in each window ``[offs, offs + n)``."""
    bounds = np.searchsorted(sorted_slots, np.concatenate((offs, offs + n)))
    return (bounds[len(offs):] - bounds[:len(offs)]).astype(np.int64)


def _empty(st: _Stream) -> _Placed:
    """Placement for a stream that has never delivered a sample."""
    t = np.full(st.n, NO_TIME, np.int64)
    mask = np.zeros(st.n, bool)
    t.flags.writeable = mask.flags.writeable = False
    zero = np.zeros(1, np.int64)
    return _Placed(t, mask, {}, zero, zero, zero, known=False)


class Aligner:
    """Online aligner: push packets as they arrive, get the windows that became complete.

    Args:
        specs: Stream name -> :class:`StreamSpec`.
        window_s: Window length.
        hop_s: Distance between window starts (default: ``window_s``); ``0 < hop_s <= window_s``.
        origin_ns: Where the grid starts (windows start at ``origin_ns + k * hop``).
        max_lateness_s: How far the newest sample of any stream may run past a window's end
            before the window closes without the streams that have not caught up
            (default: ``window_s``). Bounds buffering when a sensor is off.

    Example:
        >>> aligner = Aligner({"imu": StreamSpec(100.0), "gps": StreamSpec(1.0)}, 2.0, 1.0)
        >>> sub = hub.subscribe("imu", "gps")  # doctest: +SKIP
        >>> for packet in sub.poll(timeout_s=0.1):  # doctest: +SKIP
        ...     for window in aligner.push(packet):
        ...         model(window)
        >>> last = aligner.flush()  # end of data  # doctest: +SKIP
    """

    def __init__(self, specs: Mapping[str, StreamSpec], window_s: float,
                 hop_s: float | None = None, *, origin_ns: int = 0,
                 max_lateness_s: float | None = None) -> None:
        window_ns = round(window_s * 1e9)
        hop_ns = window_ns if hop_s is None else round(hop_s * 1e9)
        if not 0 < hop_ns <= window_ns:
            raise ConfigError(describe(f"window_s={window_s}, hop_s={hop_s}: need "
                                       "0 < hop_s <= window_s", hint="samples between windows "
                                       "would be lost; use a hop no longer than the window"))
        if not specs:
            raise ConfigError("Aligner needs at least one stream in specs")
        self._grid = _Grid(int(origin_ns), window_ns, hop_ns)
        self._streams = {name: _Stream(name, spec, self._grid) for name, spec in specs.items()}
        widest = max(st.n for st in self._streams.values())
        if (_CHUNK_SLOTS + 2 * widest) * window_ns >= 1 << 63:  # bound of (t - start) * n
            raise ConfigError(f"window_s={window_s} with {widest} slots overflows int64 "
                              "slot arithmetic; use shorter windows")
        lateness = window_s if max_lateness_s is None else max_lateness_s
        self._lateness_ns = round(lateness * 1e9)
        per_window = max(st.hop_slots if st.aligned else st.n for st in self._streams.values())
        self._chunk = max(1, _CHUNK_SLOTS // max(1, per_window))
        self._next: int | None = None

    @property
    def stats(self) -> Mapping[str, StreamStats]:
        """Per-stream counts (live)."""
        return MappingProxyType({k: st.stats for k, st in self._streams.items()})

    @property
    def slots(self) -> Mapping[str, int]:
        """Slots per window for each stream."""
        return MappingProxyType({k: st.n for k, st in self._streams.items()})

    @property
    def watermarks_ns(self) -> dict[str, int | None]:
        """Newest sample time (or heartbeat) per stream; None before its first sample."""
        return {k: st.wm for k, st in self._streams.items()}

    @property
    def frontier_ns(self) -> int | None:
        """Start of the oldest open window: samples older than this are late."""
        return None if self._next is None else self._grid.start(self._next)

    def buffered(self) -> dict[str, int]:
        """Samples held per stream (memory in use)."""
        return {k: len(st.t) + sum(len(p[0]) for p in st.pending)
                for k, st in self._streams.items()}

    def push(self, packet: Packet) -> list[Window]:
        """Take one packet; return the windows it completed (oldest first)."""
        self._ingest(packet, copy=True)
        return self._emit(self._closable(), final=False)

    def advance(self, stream: str, t_ns: int) -> list[Window]:
        """Tell that ``stream`` has nothing older than ``t_ns`` still to come (a heartbeat)."""
        st = self._stream(stream)
        st.wm = int(t_ns) if st.wm is None else max(st.wm, int(t_ns))
        return self._emit(self._closable(), final=False)

    def mark_absent(self, stream: str, absent: bool = True) -> list[Window]:
        """Declare ``stream`` off (windows stop waiting for it) or on again.

        A stream that delivers a sample is present again automatically.
        """
        self._stream(stream).absent = absent
        return self._emit(self._closable(), final=False)

    def flush(self) -> list[Window]:
        """End of data: close every window up to the one holding the newest sample."""
        marks = [st.wm for st in self._streams.values() if st.wm is not None]
        if not marks:
            return []
        return self._emit(self._grid.last_starting_by(max(marks)), final=True)

    def _stream(self, name: str) -> _Stream:
        try:
            return self._streams[name]
        except KeyError:
            raise ConfigError(describe(f"stream {name!r} is not one of the aligner's streams "
                                       f"({', '.join(self._streams)})", hint="add a StreamSpec "
                                       "for it or filter the subscription")) from None

    def _ingest(self, packet: Packet, copy: bool) -> None:
        self._stream(packet.stream).add(packet.t_ns, packet.fields, self.frontier_ns, copy)

    def _closable(self) -> int | None:
        """Newest window that may close now, by watermarks and the lateness bound."""
        marks = [st.wm for st in self._streams.values() if st.wm is not None]
        if not marks:
            return None
        k = self._grid.last_ending_by(max(marks) - self._lateness_ns)
        active = [st for st in self._streams.values() if not st.absent and st.hold_ns is None]
        if all(st.wm is not None for st in active):
            slowest = min((st.wm - st.reorder_ns for st in active if st.wm is not None),
                          default=max(marks))
            k = max(k, self._grid.last_ending_by(slowest))
        return k

    def _missed(self, end_ns: int) -> tuple[str, ...]:
        return tuple(name for name, st in self._streams.items()
                     if not st.absent and st.hold_ns is None
                     and (st.wm is None or st.wm - st.reorder_ns < end_ns))

    def _emit(self, last: int | None, final: bool) -> list[Window]:
        if last is None:
            return []
        if self._next is None:
            starts = [st.t_min for st in self._streams.values() if st.t_min is not None]
            if not starts or last < self._grid.first_containing(min(starts)):
                return []
            self._next = self._grid.first_containing(min(starts))
        if last < self._next:
            return []
        for st in self._streams.values():
            st.consolidate()
        windows = self._build(self._next, last, final)
        self._next = last + 1
        for st in self._streams.values():
            st.finalize(self._grid.start(self._next))
        return windows

    def _build(self, k: int, last: int, final: bool) -> list[Window]:
        """Windows ``k .. last``, in batches, jumping over stretches with no data at all."""
        windows: list[Window] = []
        while k <= last:
            nexts = [st.first_at_or_after(self._grid.start(k)) for st in self._streams.values()]
            soonest = min((t for t in nexts if t is not None), default=None)
            if soonest is None:
                break
            k = max(k, self._grid.first_containing(soonest))
            m = min(last + 1 - k, self._chunk)
            if m <= 0:
                break
            windows += self._batch(k, m, final)
            k += m
        return windows

    def _batch(self, ka: int, m: int, final: bool) -> list[Window]:
        placed = {name: _place(st, self._grid, ka, m) if st.layout is not None else _empty(st)
                  for name, st in self._streams.items()}
        total = sum(p.filled if p.known else np.zeros(m, np.int64) for p in placed.values())
        windows = []
        for j in np.flatnonzero(total):
            start = self._grid.start(ka + int(j))
            end = start + self._grid.window_ns
            windows.append(self._window(ka + int(j), start, end, placed, int(j),
                                        () if final else self._missed(end)))
        return windows

    def _window(self, k: int, start: int, end: int, placed: Mapping[str, _Placed], j: int,
                missed: tuple[str, ...]) -> Window:
        data, t_ns, mask, coverage, collisions, held = {}, {}, {}, {}, {}, {}
        for name, p in placed.items():
            n = self._streams[name].n
            jj = j if p.known else 0
            o = int(p.offs[jj])
            data[name] = {f: a[o:o + n] for f, a in p.fields.items()}
            t_ns[name], mask[name] = p.t[o:o + n], p.mask[o:o + n]
            if p.held is not None:
                held[name] = p.held[o:o + n]
            coverage[name] = int(p.filled[jj]) / n
            collisions[name] = int(p.collisions[jj])
            self._streams[name].stats.collisions += collisions[name]
        for name in missed:
            self._streams[name].stats.windows_missed += 1
        return Window(k, start, end, data, t_ns, mask, coverage, collisions, missed,
                      MappingProxyType(held))


def _packets(data: Mapping[str, StreamData] | Iterable[Packet]) -> Iterator[Packet]:
    if not isinstance(data, Mapping):
        yield from data
        return
    for name, item in data.items():
        if isinstance(item, Packet):
            yield item if item.stream == name else Packet(name, item.t_ns, item.fields)
        elif isinstance(item, tuple):
            t, fields = item
            yield Packet(name, np.asarray(t, np.int64), dict(fields))
        else:
            for p in item:
                yield p if p.stream == name else Packet(name, p.t_ns, p.fields)


def align(data: Mapping[str, StreamData] | Iterable[Packet], specs: Mapping[str, StreamSpec],
          window_s: float, hop_s: float | None = None, *, origin_ns: int = 0,
          stats: dict[str, StreamStats] | None = None) -> list[Window]:
    """Cut recorded streams into windows (offline); same windows as :class:`Aligner` online.

    Args:
        data: Stream name -> a :class:`Packet`, a list of packets, or ``(t_ns, {field: array})``;
            or packets of any streams in arrival order. A stream may be missing (sensor off).
        specs: Stream name -> :class:`StreamSpec`.
        window_s: Window length.
        hop_s: Distance between window starts (default: ``window_s``).
        origin_ns: Where the grid starts.
        stats: If given, filled with each stream's :class:`StreamStats`.

    Returns:
        The windows, oldest first.
    """
    aligner = Aligner(specs, window_s, hop_s, origin_ns=origin_ns)
    for packet in _packets(data):
        aligner._ingest(packet, copy=False)
    windows = aligner.flush()
    if stats is not None:
        stats.update(aligner.stats)
    return windows
