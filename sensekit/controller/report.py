"""Accuracy against energy: the static configurations' Pareto front and the policies."""

from __future__ import annotations

from collections.abc import Sequence

from .evaluate import PolicyResult

__all__ = ["pareto_front", "plot_results"]


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
    ax.set_xscale("log" if min(map(_energy, results), default=0.0) > 0 else "symlog")
    ax.set_xlabel("sensor + compute energy (J, modelled)")
    ax.set_ylabel("macro-F1")
    ax.set_title("Sampling policies: accuracy against energy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
