"""The policy plot's energy axis reads in plain numbers at any span; no empty legend."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from sensekit.controller.evaluate import PolicyResult
from sensekit.controller.report import plot_results, results_figure

pytest.importorskip("matplotlib")
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def result(policy: str, energy_j: float, f1: float) -> PolicyResult:
    return PolicyResult(policy, f1, f1, energy_j * 0.8, energy_j * 0.2, 100.0, energy_j + 100,
                        1.0, 2.0, float("nan"), 10.0, 600.0)


def labelled_ticks(ax: Any) -> list[str]:
    axis = ax.xaxis
    lo, hi = sorted(axis.get_view_interval())
    return [label.get_text() for label, at in zip(axis.get_ticklabels(), axis.get_ticklocs(),
                                                  strict=True)
            if lo <= at <= hi and label.get_text()]


@pytest.mark.parametrize("energies", [
    (21.0, 24.0, 33.0),  # a factor of 1.6: matplotlib's log axis labels none of it
    (20.0, 55.0),  # a factor of 2.75
    (12.0, 30.0, 95.0),  # most of a decade
    (0.3, 4.0, 600.0),  # over three decades
])
def test_energy_axis_has_at_least_two_plain_labels(energies: tuple[float, ...]) -> None:
    results = [result("static:accel@50", energies[0], 0.6)] + [
        result(f"policy{k}", e, 0.7 + k / 100) for k, e in enumerate(energies[1:])]
    fig = results_figure(results)
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = labelled_ticks(ax)
    assert len(labels) >= 2, labels
    for text in labels:  # 20, 1,000, 0.5: never $10^{1}$ or $2\times10^{1}$
        assert "$" not in text and "\\" not in text and "e" not in text, text
        float(text.replace(",", ""))
    plt.close(fig)


def test_policies_alone_draw_no_empty_legend(tmp_path: Path) -> None:
    results = [result("always-on", 40.0, 0.9), result("adaptive", 12.0, 0.88)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "No artists with labels found to put in legend"
        fig = results_figure(results)
        assert fig.axes[0].get_legend() is None
        plt.close(fig)
        plot_results(results, str(tmp_path / "p.png"))
    with_statics = results_figure([*results, result("static:accel@50", 5.0, 0.7)])
    legend = with_statics.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["static configurations",
                                                           "static Pareto front"]
    plt.close(with_statics)
