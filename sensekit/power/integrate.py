"""Energy from power samples: the trapezoid over the real timestamps, gaps reported.

Samples closer than ``max_gap_ns`` are joined by a straight line (the trapezoid rule); a longer
interval, or one next to a NaN sample, is a gap: it is not bridged, it is reported with its
start and end, and the energy integrated says how much time it covers. A window that starts or
ends between two samples is cut there, with the power interpolated on the line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Integral", "default_max_gap_ns", "trapezoid"]

#: An interval this many times the median sample interval is a gap.
GAP_FACTOR = 3.0


@dataclass(frozen=True)
class Integral:
    """Energy over a window, how much of the window it covers, and the gaps in it.

    Attributes:
        energy_j: Joules over the covered part of the window.
        covered_s: Seconds of the window with samples on both sides (not in a gap).
        window_s: Length of the window asked for.
        gaps: ``(start_ns, end_ns)`` of every uncovered stretch inside the window, including
            any before the first or after the last sample.
    """

    energy_j: float
    covered_s: float
    window_s: float
    gaps: tuple[tuple[int, int], ...] = ()

    @property
    def average_w(self) -> float:
        """Mean power over the covered time (NaN when nothing is covered)."""
        return self.energy_j / self.covered_s if self.covered_s > 0 else float("nan")

    @property
    def coverage(self) -> float:
        """Fraction of the window covered by samples."""
        return self.covered_s / self.window_s if self.window_s > 0 else 0.0


def default_max_gap_ns(t_ns: npt.NDArray[np.int64]) -> int:
    """:data:`GAP_FACTOR` times the median interval of ``t_ns`` (1 s when too few samples)."""
    if len(t_ns) < 3:
        return 1_000_000_000
    return int(GAP_FACTOR * float(np.median(np.diff(np.sort(t_ns)))))


def trapezoid(t_ns: npt.NDArray[np.int64], power_w: npt.NDArray[np.floating],
              start_ns: int | None = None, end_ns: int | None = None,
              max_gap_ns: int | None = None) -> Integral:
    """Integrate ``power_w`` sampled at ``t_ns`` over ``[start_ns, end_ns]``.

    Args:
        t_ns: Sample times (host monotonic ns), any order.
        power_w: Power at each sample; NaN marks a missing reading.
        start_ns, end_ns: The window (default: first to last sample).
        max_gap_ns: Longest interval bridged (default :func:`default_max_gap_ns`).
    """
    order = np.argsort(t_ns, kind="stable")
    t = np.asarray(t_ns, np.int64)[order]
    w = np.asarray(power_w, np.float64)[order]
    if len(t) == 0:
        a, b = start_ns or 0, end_ns or 0
        return Integral(0.0, 0.0, (b - a) / 1e9, ((a, b),) if b > a else ())
    a = int(t[0]) if start_ns is None else int(start_ns)
    b = int(t[-1]) if end_ns is None else int(end_ns)
    gap = default_max_gap_ns(t) if max_gap_ns is None else max_gap_ns
    t0, t1, w0, w1 = t[:-1], t[1:], w[:-1], w[1:]
    dt = (t1 - t0).astype(np.float64)
    joined = (dt <= gap) & ~np.isnan(w0) & ~np.isnan(w1) & (dt > 0)
    lo = np.maximum(t0, a)
    hi = np.minimum(t1, b)
    inside = joined & (hi > lo)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(dt > 0, (w1 - w0) / np.where(dt > 0, dt, 1.0), 0.0)
    w_lo = w0 + slope * (lo - t0)
    w_hi = w0 + slope * (hi - t0)
    span = np.where(inside, (hi - lo).astype(np.float64), 0.0)
    energy = float(np.sum(np.where(inside, 0.5 * (w_lo + w_hi) * span, 0.0))) / 1e9
    covered = float(span.sum()) / 1e9
    return Integral(energy, covered, max(b - a, 0) / 1e9, _gaps(t, joined, a, b))


def _gaps(t: npt.NDArray[np.int64], joined: npt.NDArray[np.bool_], a: int,
          b: int) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    if a < t[0]:
        out.append((a, min(int(t[0]), b)))
    for i in np.flatnonzero(~joined):
        lo, hi = max(int(t[i]), a), min(int(t[i + 1]), b)
        if hi > lo:
            out.append((lo, hi))
    if b > t[-1]:
        out.append((max(int(t[-1]), a), b))
    merged: list[tuple[int, int]] = []
    for lo, hi in out:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return tuple(merged)
