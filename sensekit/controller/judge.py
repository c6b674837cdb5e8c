"""Judging policies on people outside every tuning set: choices on tuning people, figures on
held-out people, intervals over people.

A policy's result on one person is an :class:`Outcome`: the confusion of its labelled windows
and the sensor + compute energy it spent. Outcomes pool by adding (macro-F1 over every window
together, energies summed), so a bootstrap over people resamples whole people and pools them
(:func:`bootstrap_people`).

- :func:`choose_static` picks the static point the tuning people would choose: the best
  macro-F1 on them among the points that spend no more than a given energy there (the static
  front at a policy's energy).
- :func:`choose_cheapest` picks the cheapest candidate within a margin of a reference
  macro-F1 (how the adaptive policy's thresholds are chosen on the tuning people).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .evaluate import PolicyResult, accuracy_of, macro_f1_of
from .front import FrontTable

__all__ = ["Outcome", "bootstrap_people", "choose_cheapest", "choose_static", "interval",
           "outcome", "pool"]


@dataclass(frozen=True)
class Outcome:
    """A policy's labelled windows by true and predicted class, and what it spent."""

    confusion: npt.NDArray[np.int64]
    energy_j: float
    windows: int = 0

    @property
    def macro_f1(self) -> float:
        return macro_f1_of(self.confusion)

    @property
    def accuracy(self) -> float:
        return accuracy_of(self.confusion)


def outcome(result: PolicyResult) -> Outcome:
    """A result's confusion and sensor + compute energy."""
    return Outcome(np.asarray(result.confusion, np.int64), result.sensor_j + result.compute_j,
                   result.windows)


def pool(outcomes: Sequence[Outcome]) -> Outcome:
    """Several people's (or recordings') outcomes as one."""
    return Outcome(np.sum([o.confusion for o in outcomes], axis=0),
                   float(sum(o.energy_j for o in outcomes)), sum(o.windows for o in outcomes))


def choose_static(table: FrontTable, max_energy_j: float) -> int:
    """Index of the point with the best macro-F1 on ``table`` among those spending at most
    ``max_energy_j`` (sensor + compute; ties: the cheaper); the cheapest point when none
    fits."""
    energy = table.sensor_j + table.compute_j
    f1 = np.array([macro_f1_of(c) for c in table.confusion])
    f1 = np.where(np.isnan(f1), -1.0, f1)
    fits = np.flatnonzero(energy <= max_energy_j)
    if not len(fits):
        return int(np.argmin(energy))
    return int(min(fits, key=lambda k: (-f1[k], energy[k], k)))


def choose_cheapest(candidates: Mapping[str, Outcome], reference_f1: float,
                    margin: float) -> str:
    """The cheapest candidate whose macro-F1 is at least ``reference_f1 - margin``; the best
    macro-F1 when none is."""
    ok = [k for k, o in candidates.items() if o.macro_f1 >= reference_f1 - margin]
    if ok:
        return min(ok, key=lambda k: (candidates[k].energy_j, k))
    return max(candidates, key=lambda k: (candidates[k].macro_f1, -candidates[k].energy_j))


def bootstrap_people(per_person: Mapping[str, Mapping[str, Outcome]],
                     stat: Callable[[Mapping[str, Outcome]], float], *, draws: int = 1000,
                     seed: int = 0) -> npt.NDArray[np.float64]:
    """``stat`` of the pooled outcomes of ``draws`` resamples of the people (with
    replacement). ``per_person``: person -> policy -> outcome; ``stat`` takes policy ->
    pooled outcome."""
    people = sorted(per_person)
    rng = np.random.default_rng(seed)
    out = np.empty(draws)
    for b in range(draws):
        picked = [people[i] for i in rng.integers(0, len(people), len(people))]
        policies = per_person[picked[0]]
        pooled = {p: pool([per_person[q][p] for q in picked]) for p in policies}
        out[b] = stat(pooled)
    return out


def interval(values: npt.NDArray[np.float64], level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap values (NaN draws left out)."""
    ok = values[~np.isnan(values)]
    if not len(ok):
        return math.nan, math.nan
    lo, hi = np.quantile(ok, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)
