"""Accuracy, macro-F1 and expected calibration error, in numpy (no torch)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["accuracy", "expected_calibration_error", "macro_f1", "softmax", "task_scores"]

Array = npt.NDArray[np.floating]


def softmax(logits: Array) -> npt.NDArray[np.float64]:
    """Row-wise softmax, stable for large logits."""
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]


def accuracy(y_true: npt.NDArray[np.int64], y_pred: npt.NDArray[np.int64]) -> float:
    """Fraction of windows predicted right (windows labelled -1 are ignored)."""
    keep = y_true >= 0
    return float((y_true[keep] == y_pred[keep]).mean()) if keep.any() else float("nan")


def macro_f1(y_true: npt.NDArray[np.int64], y_pred: npt.NDArray[np.int64]) -> float:
    """Unweighted mean of per-class F1 over the classes that occur in labels or predictions."""
    keep = y_true >= 0
    t, p = y_true[keep], y_pred[keep]
    if t.size == 0:
        return float("nan")
    f1s = []
    for c in np.union1d(t, p):
        tp = np.sum((t == c) & (p == c))
        denom = np.sum(t == c) + np.sum(p == c)
        f1s.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(f1s))


def expected_calibration_error(probs: Array, y_true: npt.NDArray[np.int64],
                               bins: int = 15) -> float:
    """ECE of the top-class confidence (Guo et al. 2017, equal-width bins)."""
    keep = y_true >= 0
    probs, y = np.asarray(probs)[keep], y_true[keep]
    if y.size == 0:
        return float("nan")
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.mean() * abs(float((pred[sel] == y[sel]).mean()) - float(conf[sel].mean()))
    return float(ece)


def task_scores(logits: Array, y_true: npt.NDArray[np.int64], n_classes: int) -> dict[str, float]:
    """Accuracy, macro-F1, ECE and the number of labelled windows for one task."""
    probs = softmax(logits)
    pred = probs.argmax(axis=1).astype(np.int64)
    return {"accuracy": accuracy(y_true, pred), "macro_f1": macro_f1(y_true, pred),
            "ece": expected_calibration_error(probs, y_true), "n": float((y_true >= 0).sum())}
