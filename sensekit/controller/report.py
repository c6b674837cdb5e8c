"""Accuracy against energy: the static Pareto front and the policies, per recording and pooled."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .evaluate import PolicyResult

__all__ = ["energy_j", "pareto_front", "plot_fronts", "plot_results", "results_figure"]

#: Colours of the policies, in the order they are given (statics are grey).
_COLOURS = ("tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown")


def energy_j(r: PolicyResult) -> float:
    """What the front is drawn against: sensor plus compute energy."""
    return r.sensor_j + r.compute_j


def pareto_front(results: Sequence[PolicyResult]) -> list[PolicyResult]:
    """Results no other result beats on both macro-F1 (higher) and sensor+compute energy."""
    ordered = sorted((r for r in results if not math.isnan(r.macro_f1)),
                     key=lambda r: (energy_j(r), -r.macro_f1))
    front: list[PolicyResult] = []
    best = -1.0
    for r in ordered:
        if r.macro_f1 > best:
            front.append(r)
            best = r.macro_f1
    return front


def _joules(x: float, _pos: Any) -> str:
    """A tick label in plain numbers (no powers of ten, no offset)."""
    return f"{x:g}"


def _axes_style(ax: Any, small: bool, log: bool) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if not log:  # nothing spent energy (a recording too short for a window): linear
        ax.ticklabel_format(style="plain", useOffset=False)
        ax.set_xlabel("sensor + compute energy (J, modelled)")
        ax.set_ylabel("macro-F1")
        return
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(_joules))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    size = 7 if small else 9
    ax.tick_params(labelsize=size)
    ax.set_xlabel("sensor + compute energy (J, modelled)", fontsize=size)
    ax.set_ylabel("macro-F1", fontsize=size)
    ax.grid(True, which="major", alpha=0.3)


def _draw(ax: Any, statics: Sequence[PolicyResult], policies: Sequence[PolicyResult],
          title: str, small: bool) -> None:
    shown = [r for r in statics if not math.isnan(r.macro_f1) and energy_j(r) > 0]
    drawn = [p for p in policies if not math.isnan(p.macro_f1) and energy_j(p) > 0]
    if shown:
        ax.scatter([energy_j(r) for r in shown], [r.macro_f1 for r in shown], s=6 if small
                   else 8, color="0.65", label="static points", zorder=1)
        front = pareto_front(shown)
        ax.plot([energy_j(r) for r in front], [r.macro_f1 for r in front], color="0.25",
                drawstyle="steps-post", label="static Pareto front", zorder=2)
    for k, r in enumerate(drawn):
        ax.scatter([energy_j(r)], [r.macro_f1], s=30 if small else 50, zorder=3,
                   color=_COLOURS[k % len(_COLOURS)], marker="D", label=r.policy)
    _axes_style(ax, small, log=bool(shown or drawn))
    ax.set_title(title, fontsize=8 if small else 11)
    handles, _ = ax.get_legend_handles_labels()
    if handles:  # no empty legends
        ax.legend(loc="lower right", fontsize=6 if small else 8)


def plot_fronts(per_recording: Sequence[tuple[str, Sequence[PolicyResult],
                                              Sequence[PolicyResult]]],
                pooled: Sequence[PolicyResult], statics: Sequence[PolicyResult],
                path: str, title: str | None = None) -> None:
    """The pooled front (every static point, the policies on it) and, below it, each
    recording's front with its policies; one PNG. ``title`` names the pooled panel (default:
    how many recordings it pools)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    many = len(per_recording) > 1
    cols = 3
    rows = math.ceil(len(per_recording) / cols) if many else 0
    fig = plt.figure(figsize=(11, 5 + 3.2 * rows))
    grid = fig.add_gridspec(1 + rows, cols, height_ratios=[1.6] + [1.0] * rows)
    title = title or (f"pooled over {len(per_recording)} recordings" if many else
                      Path(per_recording[0][0]).name if per_recording else "policies")
    _draw(fig.add_subplot(grid[0, :]), statics, pooled, title, small=False)
    for k, (name, results, front) in enumerate(per_recording if many else ()):
        ax = fig.add_subplot(grid[1 + k // cols, k % cols])
        stem = Path(name).stem
        _draw(ax, front, results, stem if len(stem) <= 44 else "..." + stem[-41:], small=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_results(results: Sequence[PolicyResult], path: str) -> None:
    """One set of results (a single recording's policies and static points) as one plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = results_figure(results)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def results_figure(results: Sequence[PolicyResult]) -> Any:
    """The figure :func:`plot_results` saves."""
    import matplotlib.pyplot as plt

    statics = [r for r in results if r.policy.startswith("static:")]
    others = [r for r in results if not r.policy.startswith("static:")]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if statics:
        ax.scatter([energy_j(r) for r in statics], [r.macro_f1 for r in statics], s=12,
                   color="0.6", label="static configurations")
        front = pareto_front(statics)
        ax.plot([energy_j(r) for r in front], [r.macro_f1 for r in front], color="0.3",
                drawstyle="steps-post", label="static Pareto front")
    for r in others:
        ax.scatter([energy_j(r)], [r.macro_f1], s=40, zorder=3)
        ax.annotate(r.policy, (energy_j(r), r.macro_f1), textcoords="offset points",
                    xytext=(5, 4), fontsize=8, parse_math=False)
    # A recording too short for any window spends no energy: log axes need positive values.
    if min(map(energy_j, results), default=0.0) > 0:
        _readable_log_axis(ax, [energy_j(r) for r in results])
    else:
        ax.set_xscale("symlog")
    ax.set_xlabel("sensor + compute energy (J, modelled)")
    ax.set_ylabel("macro-F1")
    ax.set_title("Sampling policies: accuracy against energy")
    ax.grid(True, which="both", alpha=0.3)
    if statics:  # the policies are named beside their points; only the grey ones need a key
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def _readable_log_axis(ax: Any, values: Sequence[float]) -> None:
    """An energy axis labelled in plain numbers (20, 50, 100, 1,000 J; never 10^1.3 or
    2x10^1): logarithmic with ticks at powers of ten over more than two decades, at 1-2-5
    steps down to a factor of 5, at every integer multiple down to a factor of 2; below that
    a log scale shows nothing a linear one does not, so the axis is linear."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, ScalarFormatter

    ratio = max(values) / min(values)
    if ratio < 2:
        ax.xaxis.set_major_formatter(ScalarFormatter(useOffset=False))
        return
    ax.set_xscale("log")
    subs = (1.0,) if ratio > 100 else (1.0, 2.0, 5.0) if ratio >= 5 else \
        tuple(float(k) for k in range(1, 10))
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(_plain))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _plain(value: float, _pos: int | None = None) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"
