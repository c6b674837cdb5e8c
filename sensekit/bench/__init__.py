"""Benchmarks users run on their own Pi or Jetson: ``sensekit bench NAME``.

Each benchmark module provides ``run(quick: bool) -> list[Case]`` and runs sensekit and its
peer (the library or the naive way people use without sensekit) in the same process and run,
so the ratio holds whatever the machine. A ratio above 1 always means sensekit did better.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

__all__ = ["BENCHMARKS", "Case", "case", "format_table", "write_json"]

#: name -> (module, one-line description). Modules are imported only when run.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "align": ("sensekit.bench.align", "multi-rate windows with masks vs pandas.merge_asof"),
    "fleet": ("sensekit.bench.fleet",
              "recordings/s on Dask workers vs a plain loop; per-task overhead"),
    "fusion": ("sensekit.bench.fusion",
               "fusion network size, window-to-prediction latency, accuracy vs DeepConvLSTM"),
    "camera": ("sensekit.bench.camera",
               "CPU per DNN-ready frame: dual-mode DNN capture vs 1080p then resize"),
    "hub": ("sensekit.bench.hub", "camera frames to K reader processes vs multiprocessing.Queue"),
    "mcap": ("sensekit.bench.mcap", "IMU written and read: packet messages vs one per sample"),
    "nmea": ("sensekit.bench.nmea", "NMEA 0183 decoding into fixes vs pynmea2"),
}


@dataclass(frozen=True)
class Case:
    """One measured figure.

    Attributes:
        name: What was measured (``"light K=8"``).
        value: sensekit's figure.
        unit: Its unit (``"frames/s"``, ``"s"``).
        baseline: The peer's figure from the same run, if a peer was compared.
        ratio: value over baseline, oriented so that above 1 means sensekit did better.
        note: What the peer was, or what the figure means.
    """

    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and v != ""}


def case(name: str, value: float, unit: str, baseline: float | None = None, *,
         higher_is_better: bool = True, note: str = "") -> Case:
    """Build a :class:`Case`, computing the ratio so that above 1 means sensekit is better."""
    ratio = None
    if baseline is not None and baseline > 0 and value > 0:
        ratio = value / baseline if higher_is_better else baseline / value
    return Case(name, float(value), unit, None if baseline is None else float(baseline),
                ratio, note)


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.4g}" if abs(x) < 1e5 else f"{x:,.0f}"


def format_table(title: str, cases: Sequence[Case], stream: TextIO) -> None:
    """Print cases as an aligned table."""
    rows = [("case", "sensekit", "peer", "ratio", "unit")]
    rows += [(c.name, _fmt(c.value), _fmt(c.baseline),
              "-" if c.ratio is None else f"{c.ratio:.2f}x", c.unit) for c in cases]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    print(f"== {title}", file=stream)
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) if j in (0, 4) else cell.rjust(w)
                        for j, (cell, w) in enumerate(zip(row, widths, strict=True))), file=stream)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=stream)
    for c in cases:
        if c.note:
            print(f"  {c.name}: {c.note}", file=stream)


def write_json(path: str | Path, cases: Sequence[Case]) -> None:
    """Write the cases as a JSON list of objects."""
    Path(path).write_text(json.dumps([c.as_json() for c in cases], indent=2) + "\n")
