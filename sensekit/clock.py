"""Clocks and sample-time fitting.

All ordering in sensekit uses int64 nanoseconds of a monotonic host clock. Code takes a
:class:`Clock` instead of calling :mod:`time`, so tests run on a :class:`FakeClock` and never
sleep for real.

:class:`RateFitter` turns "the reader found N new samples at host time r" into one timestamp
per sample. Device clocks drift (an MPU-6050's sample clock is off by up to about 1 %, USB
microphones by about 100 ppm) and readers wake late, so the sample period is fitted from the
sample count against host time, and bursts are joined so they neither overlap nor leave gaps.
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Clock", "ClockMap", "ClockStep", "FakeClock", "MonotonicClock", "RateFitter",
           "WallClockWatch", "default_clock"]


@runtime_checkable
class Clock(Protocol):
    """Source of host monotonic time and of waiting."""

    def now_ns(self) -> int:
        """Monotonic time in integer nanoseconds."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class MonotonicClock:
    """The host's monotonic clock (``time.monotonic_ns``)."""

    def now_ns(self) -> int:
        return time.monotonic_ns()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "MonotonicClock()"


class FakeClock:
    """A clock that only moves when told to; ``sleep`` advances it instantly.

    Safe to share between threads. ``sleep`` from several threads each advance the clock,
    which suits single-threaded simulations; threaded tests should call :meth:`advance` from
    the test and let workers poll.
    """

    def __init__(self, start_ns: int = 1_000_000_000) -> None:
        self._t = int(start_ns)
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        with self._lock:
            return self._t

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> int:
        """Move time forward by ``seconds`` (negative is refused); return the new time."""
        if seconds < 0:
            raise ValueError(f"a monotonic clock cannot go back ({seconds} s)")
        with self._lock:
            self._t += round(seconds * 1e9)
            return self._t

    def set_ns(self, t_ns: int) -> None:
        """Jump to ``t_ns`` (never backwards)."""
        with self._lock:
            if t_ns < self._t:
                raise ValueError(f"a monotonic clock cannot go back ({t_ns} < {self._t})")
            self._t = int(t_ns)

    def __repr__(self) -> str:
        return f"FakeClock(now_ns={self._t})"


_DEFAULT = MonotonicClock()


def default_clock() -> Clock:
    """The process-wide monotonic clock."""
    return _DEFAULT


@dataclass(frozen=True)
class ClockStep:
    """From host time ``t_ns`` on, UTC is ``t_ns + offset_ns`` (until the next step).

    Attributes:
        t_ns: Host time (the packets' ``t_ns`` clock) where this mapping starts to apply.
        offset_ns: UTC epoch ns minus host ns.
        synchronized: ``"true"``, ``"false"`` or ``"unknown"``: whether the wall clock the
            offset was read from was synchronised (NTP, GPS), or ``"relative"`` when the source
            had no wall clock at all (times since boot or since start, no start given).
        source: Where the offset came from (``"system clock"``, ``"file name"``, ``"--start"``).
    """

    t_ns: int
    offset_ns: int
    synchronized: str = "unknown"
    source: str = ""

    def record(self) -> dict[str, str]:
        """The step as an MCAP metadata record (``sensekit.clock``)."""
        return {"t_ns": str(self.t_ns), "offset_ns": str(self.offset_ns),
                "synchronized": self.synchronized, "source": self.source}

    @classmethod
    def from_record(cls, record: Mapping[str, str]) -> ClockStep:
        """Inverse of :meth:`record` (raises ``KeyError``/``ValueError`` on a bad record)."""
        return cls(int(record["t_ns"]), int(record["offset_ns"]),
                   record.get("synchronized", "unknown"), record.get("source", ""))


class ClockMap:
    """Host time to UTC: the one mapping every log writer and reader applies.

    A recording starts with one :class:`ClockStep` and gains one each time the wall clock is
    stepped (NTP or GPS setting a Pi's clock, which has no RTC). Between steps the offset is
    constant, so UTC never jumps except at a recorded step.
    """

    def __init__(self, steps: Iterable[ClockStep] = ()) -> None:
        self.steps: list[ClockStep] = sorted(steps, key=lambda s: s.t_ns)
        if not self.steps:
            self.steps = [ClockStep(-(2**62), 0, "relative", "none")]

    @classmethod
    def constant(cls, offset_ns: int, synchronized: str = "unknown",
                 source: str = "") -> ClockMap:
        """One offset for all time."""
        return cls([ClockStep(-(2**62), int(offset_ns), synchronized, source)])

    @classmethod
    def constant_zero(cls) -> ClockMap:
        """Host time is UTC (offset 0): what a codec uses when given no map."""
        return cls.constant(0)

    def add(self, step: ClockStep) -> None:
        """Apply ``step`` from its ``t_ns`` on (steps are added in time order)."""
        if step.t_ns < self.steps[-1].t_ns:
            raise ValueError(f"clock step at {step.t_ns} ns precedes the last one "
                             f"({self.steps[-1].t_ns} ns)")
        self.steps.append(step)

    @property
    def current(self) -> ClockStep:
        """The latest step."""
        return self.steps[-1]

    def step_at(self, t_ns: int) -> ClockStep:
        """The step in force at host time ``t_ns`` (the first one for earlier times)."""
        i = bisect.bisect_right([s.t_ns for s in self.steps], t_ns) - 1
        return self.steps[max(i, 0)]

    def utc_ns(self, t_ns: int) -> int:
        """UTC epoch ns of host time ``t_ns``."""
        return int(t_ns) + self.step_at(int(t_ns)).offset_ns

    def log_time_ns(self, t_ns: int) -> int:
        """MCAP ``log_time`` of host time ``t_ns``: its UTC, never below 0 (MCAP times are
        unsigned; only a relative time base with negative times reaches 0)."""
        return max(0, self.utc_ns(t_ns))

    def utc_array(self, t_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """:meth:`utc_ns` of every element."""
        starts = np.array([s.t_ns for s in self.steps], np.int64)
        offsets = np.array([s.offset_ns for s in self.steps], np.int64)
        idx = np.maximum(np.searchsorted(starts, t_ns, side="right") - 1, 0)
        return np.asarray(t_ns, np.int64) + offsets[idx]

    def host_ns(self, utc_ns: int) -> int:
        """Host time of UTC ``utc_ns``: the latest step whose span holds it (the first step's
        offset for a time no span holds, such as one skipped by a forward step)."""
        ends = [s.t_ns for s in self.steps[1:]] + [2**63 - 1]
        for step, end in reversed(list(zip(self.steps, ends, strict=True))):
            t = int(utc_ns) - step.offset_ns
            if (t >= step.t_ns or step is self.steps[0]) and t < end:
                return t
        return int(utc_ns) - self.steps[0].offset_ns

    @property
    def offset_range(self) -> tuple[int, int]:
        """Smallest and largest offset of any step."""
        offsets = [s.offset_ns for s in self.steps]
        return min(offsets), max(offsets)

    def __repr__(self) -> str:
        return f"ClockMap({self.steps!r})"


_SYNC_TEXT = {True: "true", False: "false", None: "unknown"}


class WallClockWatch:
    """Notices when the wall clock is stepped against the host clock (NTP or GPS setting a
    Pi's clock, a user running ``date``), and when its synchronisation state changes.

    The host monotonic clock is slewed by NTP but never stepped, so their difference stays
    within microseconds unless the wall clock is set; a change past ``step_ns`` is a step.

    Args:
        clock: The host clock packets are stamped with.
        wall: UTC epoch ns now (``time.time_ns``).
        synchronized: Whether the wall clock is synchronised (True, False, None: unknown).
        step_ns: Smallest change of offset that counts as a step.
        every_s: Look at most this often (host clock seconds).
    """

    def __init__(self, clock: Clock, wall: Callable[[], int],
                 synchronized: Callable[[], bool | None], *, step_ns: int = 10_000_000,
                 every_s: float = 1.0) -> None:
        self.clock, self.wall, self.synchronized = clock, wall, synchronized
        self.step_ns, self.every_ns = step_ns, round(every_s * 1e9)
        self._last: int | None = None

    def offset_ns(self) -> tuple[int, int]:
        """``(host now, wall minus host)``, read with the host clock on both sides."""
        before = self.clock.now_ns()
        wall = self.wall()
        after = self.clock.now_ns()
        middle = (before + after) // 2
        return middle, wall - middle

    def check(self, current: ClockStep) -> ClockStep | None:
        """A new step when the wall clock moved or its state changed since ``current``."""
        now = self.clock.now_ns()
        if self._last is not None and now - self._last < self.every_ns:
            return None
        self._last = now
        at, offset = self.offset_ns()
        state = _SYNC_TEXT[self.synchronized()]
        moved = abs(offset - current.offset_ns) > self.step_ns
        if not moved and state == current.synchronized:
            return None
        source = "wall clock stepped" if moved else "synchronisation state changed"
        return ClockStep(max(at, current.t_ns), offset, state, source)


class RateFitter:
    """Timestamps for samples produced by a device clock and read in bursts.

    Model: sample ``k`` (counted from the first sample read) was taken at ``a + b*k`` host
    nanoseconds. Every read of ``n`` samples at host time ``r`` says "sample ``k_last`` was
    taken no later than ``r``", so all reads lie on or above the true line. The line is fitted
    as the support line of the lower convex hull of the last ``window`` reads, taken at the
    middle of the window (the linear-programming fit of Moon, Skelly and Towsley, "Estimation
    and removal of clock skew from network delay measurements", INFOCOM 1999): the reads that
    happened just after a sample pin it down, late reads (a busy reader) do not pull it. So the
    period ``b`` follows the device's real clock, not its nominal rate, and the offset is
    bounded by the least delay seen.

    With ``exhaustive=True`` (each read takes every sample that exists, as a FIFO count does),
    a read also says "sample ``k_last + 1`` was not taken yet", a bound from below; the line is
    then the middle of the upper and lower support lines, which halves the error while only a
    few reads are known. :meth:`anchor` adds the moment sampling (re)started, which bounds the
    first burst from below.

    Consecutive bursts are joined: a new burst starts one period after the previous burst's last
    stamp and slews towards the fitted line, with each step held within [0.5, 1.5] periods, so
    bursts never overlap and never leave a gap.

    Args:
        nominal_rate_hz: The rate the device was configured for (the starting estimate).
        window: How many recent reads the fit uses.
        exhaustive: Reads take every sample there is (see above).
    """

    def __init__(self, nominal_rate_hz: float, window: int = 256,
                 exhaustive: bool = False) -> None:
        if nominal_rate_hz <= 0:
            raise ValueError(f"nominal rate must be positive, got {nominal_rate_hz}")
        self.nominal_period_ns = 1e9 / nominal_rate_hz
        self.exhaustive = exhaustive
        self._reads: deque[tuple[int, int]] = deque(maxlen=window)
        self._floors: deque[tuple[int, int]] = deque(maxlen=window)
        self._count = 0
        self._last_stamp: int | None = None
        self._origin: int | None = None

    def _line(self) -> tuple[float, float]:
        """Offset and period ``(a, b)`` of the fitted line (relative to the origin)."""
        a, b = _support_line(self._reads, self.nominal_period_ns)
        if not self.exhaustive or len(self._floors) < 2:
            return a, b
        # The floors bound the line from below: mirror them and fit the same way.
        mirrored = deque((k, -t) for k, t in self._floors)
        a_low, b_low = _support_line(mirrored, -self.nominal_period_ns)
        return (a - a_low) / 2, (b - b_low) / 2

    @property
    def period_ns(self) -> float:
        """The fitted sample period in nanoseconds."""
        if not self._reads:
            return self.nominal_period_ns
        return self._line()[1]

    @property
    def samples_seen(self) -> int:
        """Samples stamped so far, plus any skipped with :meth:`skip`."""
        return self._count

    def anchor(self, start_ns: int) -> None:
        """Note that the next sample will be taken after ``start_ns`` (sampling began then)."""
        if self._origin is None:
            self._origin = start_ns
        self._reads.append((self._count - 1, start_ns - self._origin))
        self._floors.append((self._count, start_ns - self._origin))

    def stamp(self, n: int, read_ns: int, floor_ns: int | None = None) -> npt.NDArray[np.int64]:
        """Timestamps for ``n`` new samples, the newest of which was available at ``read_ns``.

        ``floor_ns`` (exhaustive reads): a time at which the next sample did not exist yet,
        such as just before the FIFO count was read (default ``read_ns``).
        """
        if n <= 0:
            return np.empty(0, np.int64)
        if self._origin is None:
            self._origin = read_ns
        last_index = self._count + n - 1
        self._reads.append((last_index, read_ns - self._origin))
        floor = read_ns if floor_ns is None else floor_ns
        self._floors.append((last_index + 1, floor - self._origin))
        a, b = self._line()
        end = self._origin + a + b * last_index
        if self._last_stamp is None:
            stamps = end - b * np.arange(n - 1, -1, -1, dtype=np.float64)
        else:
            start = self._last_stamp + b
            step = (end - start) / (n - 1) if n > 1 else 0.0
            step = min(max(step, 0.5 * b), 1.5 * b)
            if n == 1:
                start = min(max(end, self._last_stamp + 0.5 * b), self._last_stamp + 1.5 * b)
            stamps = start + step * np.arange(n, dtype=np.float64)
        out = np.round(stamps).astype(np.int64)
        self._count += n
        self._last_stamp = int(out[-1])
        return out

    def skip(self, n: int) -> None:
        """Account for ``n`` samples known to be lost (e.g. counted by an emulator)."""
        if n < 0:
            raise ValueError(f"cannot skip {n} samples")
        self._count += n
        if self._last_stamp is not None:
            self._last_stamp += round(self.period_ns * n)

    def restart(self) -> None:
        """Forget the offset after an unknown loss (keeps the fitted period as nominal)."""
        self.nominal_period_ns = self.period_ns
        self._reads.clear()
        self._floors.clear()
        self._count = 0
        self._last_stamp = None
        self._origin = None


def _support_line(points: deque[tuple[int, int]], nominal: float) -> tuple[float, float]:
    """The line under ``points`` that touches their lower hull at their mean abscissa."""
    if len(points) < 2:
        k, t = points[-1]
        return t - nominal * k, nominal
    hull = _lower_hull(points)
    mid = sum(p[0] for p in points) / len(points)
    (k0, t0), (k1, t1) = hull[0], hull[-1]
    for (ka, ta), (kb, tb) in itertools.pairwise(hull):
        (k0, t0), (k1, t1) = (ka, ta), (kb, tb)
        if kb >= mid:
            break
    slope = (t1 - t0) / (k1 - k0) if k1 != k0 else nominal
    # A fit far from nominal means the reads were too few or too bunched to trust.
    lo, hi = sorted((0.9 * nominal, 1.1 * nominal))
    b = min(max(slope, lo), hi)
    if b == slope:
        return t0 - b * k0, b
    return min(t - b * k for k, t in points), b


def _lower_hull(points: deque[tuple[int, int]]) -> list[tuple[int, int]]:
    """Lower convex hull of points sorted by their first coordinate (monotone chain)."""
    hull: list[tuple[int, int]] = []
    for p in points:
        while len(hull) >= 2:
            (ax, ay), (bx, by) = hull[-2], hull[-1]
            # Drop the middle point when it lies on or above the chord from a to p.
            if (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) <= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    return hull
