"""Benchmarks users run on their own Pi or Jetson: ``sensekit bench NAME`` or ``bench all``.

Each benchmark module provides ``run(quick: bool) -> list[Case]`` and runs sensekit and its
peer (the library or the naive way people use without sensekit) in the same process and run,
so the ratio holds whatever the machine. A ratio above 1 always means sensekit did better.

Every figure is repeated. A module that repeats its measurements itself (both sides in turn,
so that a change of machine load hits both alike) returns cases made with :func:`repeated`,
which carry one ratio per repeat; the runner (:mod:`sensekit.bench.report`) calls any other
module's ``run`` several times and merges its cases with :func:`merge_runs`. Either way a case
reports the median of its ratios and their spread (min-max).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

__all__ = ["BENCHMARKS", "Case", "case", "format_table", "merge_runs", "repeated",
           "write_json"]

#: name -> (module, one-line description). Modules are imported only when run.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "ahrs": ("sensekit.bench.ahrs",
             "orientation updates/s, batch and streaming, vs imufusion and ahrs (Madgwick)"),
    "align": ("sensekit.bench.align", "multi-rate windows with masks vs pandas.merge_asof"),
    "fleet": ("sensekit.bench.fleet",
              "recordings/s on Dask workers vs a plain loop; per-task overhead"),
    "fusion": ("sensekit.bench.fusion",
               "fusion network size, window-to-prediction latency, accuracy vs DeepConvLSTM"),
    "camera": ("sensekit.bench.camera",
               "CPU per DNN-ready frame: dual-mode DNN capture vs 1080p then resize"),
    "hub": ("sensekit.bench.hub", "camera frames to K reader processes vs multiprocessing.Queue "
            "and a bare shared-memory ring"),
    "mcap": ("sensekit.bench.mcap", "IMU written and read: packet messages vs one per sample"),
    "nmea": ("sensekit.bench.nmea", "NMEA 0183 decoding into fixes vs pynmea2"),
    "soak": ("sensekit.bench.soak", "a day of a rig's data through a shared hub to 8 "
             "processes: memory, shared memory, losses ($SENSEKIT_SOAK_HOURS to change it)"),
}


@dataclass(frozen=True)
class Case:
    """One measured figure, possibly repeated.

    Attributes:
        name: What was measured (``"light K=8"``).
        value: sensekit's figure (the median over repeats).
        unit: Its unit (``"frames/s"``, ``"s"``).
        baseline: The peer's figure from the same run(s) (median), if a peer was compared.
        ratio: Median of the per-repeat ratios, oriented so that above 1 means sensekit did
            better.
        note: What the peer was, or what the figure means.
        values: sensekit's figure in each repeat.
        baselines: The peer's figure in each repeat.
        ratios: The ratio of each repeat (sensekit and the peer measured back to back).
    """

    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    note: str = ""
    values: tuple[float, ...] = ()
    baselines: tuple[float, ...] = ()
    ratios: tuple[float, ...] = ()

    @property
    def repeats(self) -> int:
        """How many times the figure was measured."""
        return max(len(self.values), 1)

    @property
    def spread(self) -> tuple[float, float] | None:
        """(min, max) of the ratios, or of the values for a case without a peer."""
        figures = self.ratios or tuple(v for v in self.values if not math.isnan(v))
        return (min(figures), max(figures)) if figures else None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Case:
        """The case :meth:`as_json` wrote."""
        values = tuple(data.get("values", (data["value"],)))
        baselines = tuple(data.get("baselines", () if data.get("baseline") is None
                                   else (data["baseline"],)))
        ratios = tuple(data.get("ratios", () if data.get("ratio") is None else (data["ratio"],)))
        return cls(data["name"], float(data["value"]), data["unit"], data.get("baseline"),
                   data.get("ratio"), data.get("note", ""), values, baselines, ratios)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "value": self.value, "unit": self.unit}
        if self.baseline is not None:
            out["baseline"] = self.baseline
        if self.ratio is not None:
            out["ratio"] = self.ratio
        if self.note:
            out["note"] = self.note
        if len(self.values) > 1:
            out["values"] = list(self.values)
            if self.baselines:
                out["baselines"] = list(self.baselines)
            if self.ratios:
                out["ratios"] = list(self.ratios)
            spread = self.spread
            if spread is not None:
                out["spread"] = list(spread)
        return out


def _ratio(value: float, baseline: float | None, higher_is_better: bool) -> float | None:
    if baseline is None or not baseline > 0 or not value > 0:
        return None
    return value / baseline if higher_is_better else baseline / value


def case(name: str, value: float, unit: str, baseline: float | None = None, *,
         higher_is_better: bool = True, note: str = "") -> Case:
    """A :class:`Case` of one measurement; the ratio is oriented so above 1 is better."""
    ratio = _ratio(value, baseline, higher_is_better)
    return Case(name, float(value), unit, None if baseline is None else float(baseline),
                ratio, note, (float(value),),
                () if baseline is None else (float(baseline),),
                () if ratio is None else (ratio,))


def repeated(name: str, values: Sequence[float], unit: str,
             baselines: Sequence[float] | None = None, *, higher_is_better: bool = True,
             note: str = "") -> Case:
    """A :class:`Case` from repeated measurements, ``values[i]`` paired with ``baselines[i]``.

    The ratio is the median of the pairwise ratios: each pair ran back to back, so a change of
    machine load between repeats moves both sides of a pair alike.
    """
    if not values:
        raise ValueError(f"case {name!r}: no measurement")
    if baselines is not None and len(baselines) != len(values):
        raise ValueError(f"case {name!r}: {len(values)} values but {len(baselines)} baselines")
    vals = tuple(float(v) for v in values)
    bases = () if baselines is None else tuple(float(b) for b in baselines)
    pairs = [_ratio(v, b, higher_is_better) for v, b in zip(vals, bases, strict=False)]
    ratios = tuple(r for r in pairs if r is not None)
    return Case(name, _median(vals), unit, _median(bases) if bases else None,
                _median(ratios) if ratios else None, note, vals, bases, ratios)


def _median(xs: Sequence[float]) -> float:
    finite = [x for x in xs if not math.isnan(x)]
    return float(statistics.median(finite)) if finite else math.nan


def merge_runs(runs: Sequence[Sequence[Case]]) -> list[Case]:
    """Cases of several runs of one benchmark, merged by name (first run's order)."""
    by_name: dict[str, list[Case]] = {}
    for cases in runs:
        for c in cases:
            by_name.setdefault(c.name, []).append(c)
    merged = []
    for name, same in by_name.items():
        vals = tuple(v for c in same for v in (c.values or (c.value,)))
        bases = tuple(b for c in same for b in c.baselines)
        ratios = tuple(r for c in same for r in c.ratios)
        merged.append(Case(name, _median(vals), same[0].unit, _median(bases) if bases else None,
                           _median(ratios) if ratios else None, same[-1].note, vals, bases,
                           ratios))
    return merged


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.4g}" if abs(x) < 1e5 else f"{x:,.0f}"


def _spread_text(c: Case) -> str:
    spread = c.spread
    if spread is None or c.repeats < 2:
        return "-"
    if c.ratios:
        return f"{spread[0]:.2f}-{spread[1]:.2f}x"
    return f"{_fmt(spread[0])}-{_fmt(spread[1])}"


def format_table(title: str, cases: Sequence[Case], stream: TextIO) -> None:
    """Print cases as an aligned table: median figures, ratio, its min-max over repeats."""
    rows = [("case", "sensekit", "peer", "ratio", "spread", "runs", "unit")]
    rows += [(c.name, _fmt(c.value), _fmt(c.baseline),
              "-" if c.ratio is None else f"{c.ratio:.2f}x", _spread_text(c), str(c.repeats),
              c.unit) for c in cases]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(f"== {title}", file=stream)
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) if j in (0, 6) else cell.rjust(w)
                        for j, (cell, w) in enumerate(zip(row, widths, strict=True))),
              file=stream)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=stream)
    for c in cases:
        if c.note:
            print(f"  {c.name}: {c.note}", file=stream)


def write_json(path: str | Path, cases: Sequence[Case]) -> None:
    """Write the cases as a JSON list of objects."""
    Path(path).write_text(json.dumps([c.as_json() for c in cases], indent=2) + "\n")
