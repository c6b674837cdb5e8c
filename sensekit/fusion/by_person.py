"""Figures by person: splits that leave people out, and the scores that say how a network does
on someone it never saw (numpy only).

- :func:`leave_one_out`: one fold per group (person); :func:`nested_folds`: the inner folds of
  an outer one (every other person left out in turn, the outer one never seen).
- :func:`macro_f1_over`: macro-F1 over a fixed list of classes (a prediction of a class outside
  the list is an error, and a listed class nobody predicted or had scores 0).
- :func:`balanced_accuracy`: mean recall over the classes a person has (macro-F1 of a
  one-class person is not defined).
- :func:`bootstrap_people`: a 95% interval by resampling people (their windows pooled), also of
  a paired difference between two predictors on the same windows.
- :func:`confusion`, :func:`per_person`, :func:`summary`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .metrics import expected_calibration_error, softmax

__all__ = ["balanced_accuracy", "bootstrap_people", "confusion", "ece_by_person",
           "leave_one_out", "macro_f1_over", "nested_folds", "per_person", "summary"]

I64 = npt.NDArray[np.int64]
Score = Callable[[I64, I64], float]


def leave_one_out(people: npt.NDArray[Any]) -> Iterator[tuple[Any, npt.NDArray[np.bool_]]]:
    """``(person, is_theirs)`` for each person, in sorted order."""
    for p in sorted(set(people.tolist())):
        yield p, people == p


def nested_folds(people: Sequence[Any], outer: Any) -> list[tuple[Any, Any]]:
    """The inner folds of outer fold ``outer``: ``(outer, inner)`` for every other person."""
    return [(outer, q) for q in sorted(people) if q != outer]


def macro_f1_over(y: I64, pred: I64, labels: Sequence[int]) -> float:
    """Macro-F1 over ``labels`` (every listed class counts, also one nobody has)."""
    f1 = []
    for c in labels:
        tp = float(np.sum((y == c) & (pred == c)))
        denom = float(np.sum(y == c) + np.sum(pred == c))
        f1.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(f1)) if f1 else float("nan")


def balanced_accuracy(y: I64, pred: I64) -> float:
    """Mean recall over the classes present in ``y``."""
    classes = np.unique(y)
    return float(np.mean([(pred[y == c] == c).mean() for c in classes])) if len(classes) else \
        float("nan")


def confusion(y: I64, pred: I64, n: int) -> list[list[int]]:
    """Rows: truth, columns: prediction, classes 0..n-1."""
    out = np.zeros((n, n), np.int64)
    np.add.at(out, (y, pred), 1)
    rows: list[list[int]] = out.tolist()
    return rows


def bootstrap_people(y: I64, pred: I64, people: npt.NDArray[Any], score: Score, *,
                     n: int = 1000, seed: int = 0, other: I64 | None = None) -> list[float]:
    """95% interval of ``score`` over ``n`` resamples of the people (windows pooled); with
    ``other`` (another predictor's predictions on the same windows), of the paired difference
    ``score(pred) - score(other)``."""
    rng = np.random.default_rng(seed)
    names = sorted(set(people.tolist()))
    rows = {p: np.flatnonzero(people == p) for p in names}
    values = []
    for _ in range(n):
        pick = np.concatenate([rows[names[i]] for i in rng.integers(len(names), size=len(names))])
        v = score(y[pick], pred[pick])
        if other is not None:
            v -= score(y[pick], other[pick])
        values.append(v)
    lo, hi = np.percentile(values, [2.5, 97.5])
    return [round(float(lo), 3), round(float(hi), 3)]


def per_person(y: I64, pred: I64, people: npt.NDArray[Any], classes: Sequence[str]
               ) -> dict[str, dict[str, Any]]:
    """Balanced accuracy, windows and classes of each person."""
    out = {}
    for p, mine in leave_one_out(people):
        out[str(p)] = {"balanced_accuracy": round(balanced_accuracy(y[mine], pred[mine]), 3),
                       "windows": int(mine.sum()),
                       "classes": [classes[c] for c in np.unique(y[mine])]}
    return out


def ece_by_person(logits: npt.NDArray[np.floating], y: I64, people: npt.NDArray[Any]
                  ) -> dict[str, Any]:
    """ECE (15 bins, top-class confidence) pooled and per person."""
    probs = softmax(logits)
    return {"pooled": round(expected_calibration_error(probs, y), 3),
            "per_person": {str(p): round(expected_calibration_error(probs[m], y[m]), 3)
                           for p, m in leave_one_out(people)}}


def summary(y: I64, pred: I64, people: npt.NDArray[Any], classes: Sequence[str],
            labels: Sequence[int], *, bootstrap: int = 1000) -> dict[str, Any]:
    """Pooled macro-F1 over ``labels`` with its interval over people (``bootstrap`` resamples;
    none with one person or 0), accuracy, per-person balanced accuracy (mean and worst),
    per-class F1 and the confusion matrix."""
    def score(a: I64, b: I64) -> float:
        return macro_f1_over(a, b, labels)

    pp = per_person(y, pred, people, classes)
    worst = min(pp, key=lambda p: pp[p]["balanced_accuracy"])
    return {
        "macro_f1": round(score(y, pred), 3),
        "ci95_people": (bootstrap_people(y, pred, people, score, n=bootstrap)
                        if bootstrap > 0 and len(pp) > 1 else None),
        "accuracy": round(float((y == pred).mean()), 3),
        "per_class_f1": {classes[c]: round(macro_f1_over(y, pred, [c]), 3) for c in labels},
        "mean_person_balanced_accuracy": round(float(np.mean(
            [v["balanced_accuracy"] for v in pp.values()])), 3),
        "worst_person": worst, "worst_person_balanced_accuracy": pp[worst]["balanced_accuracy"],
        "per_person": pp,
        "confusion": {"classes": list(classes), "rows_truth_cols_predicted":
                      confusion(y, pred, len(classes))},
        "windows": len(y),
    }
