"""Accuracy against energy: the static configurations' Pareto front and the policies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .evaluate import PolicyResult

__all__ = ["pareto_front", "plot_results", "results_figure"]


def _energy(r: PolicyResult) -> float:
    return r.sensor_j + r.compute_j


def pareto_front(results: Sequence[PolicyResult]) -> list[PolicyResult]:
    """Results no other result beats on both macro-F1 (higher) and sensor+compute energy."""
    ordered = sorted(results, key=lambda r: (_energy(r), -r.macro_f1))
    front: list[PolicyResult] = []
    best = -1.0
    for r in ordered:
        if r.macro_f1 > best:
            front.append(r)
            best = r.macro_f1
    return front


def plot_results(results: Sequence[PolicyResult], path: str) -> None:
    """Macro-F1 against sensor+compute energy; static configurations grey, front drawn."""
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
        ax.scatter([_energy(r) for r in statics], [r.macro_f1 for r in statics], s=12,
                   color="0.6", label="static configurations")
        front = pareto_front(statics)
        ax.plot([_energy(r) for r in front], [r.macro_f1 for r in front], color="0.3",
                drawstyle="steps-post", label="static Pareto front")
    for r in others:
        ax.scatter([_energy(r)], [r.macro_f1], s=40, zorder=3)
        ax.annotate(r.policy, (_energy(r), r.macro_f1), textcoords="offset points",
                    xytext=(5, 4), fontsize=8, parse_math=False)
    # A recording too short for any window spends no energy: log axes need positive values.
    if min(map(_energy, results), default=0.0) > 0:
        _readable_log_axis(ax, [_energy(r) for r in results])
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
