"""Calibration after the network, in numpy: fitted on held-out logits, applied at run time.

Methods (chosen by ``fusion/real_recipe.py`` on inner folds, never on the people it is judged on):

- ``none``: the logits as they are (label smoothing in training already softens them).
- ``scalar``: one temperature per task (Guo et al. 2017), minimising the negative log-likelihood.
- ``per_predicted_class``: one temperature per predicted class: a window's logits are divided by
  the temperature of its top class, so the top class stays the top class and a class whose
  predictions are often wrong on new people (a smooth train ride called "still") is made less
  sure of itself than one that is rarely wrong. A class predicted on fewer than
  :data:`MIN_WINDOWS` windows takes the scalar temperature.

A calibration is plain JSON (``{"method": ..., "temperature": {task: T or [T per class]}}``),
saved with the weights and the ONNX manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from .metrics import softmax

__all__ = ["METHODS", "MIN_WINDOWS", "apply_calibration", "fit_calibration", "fit_scalar"]

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
METHODS = ("none", "scalar", "per_predicted_class")
#: Fewest windows predicted as a class to fit that class's own temperature.
MIN_WINDOWS = 30
_GRID = np.exp(np.linspace(np.log(0.25), np.log(8.0), 121))


def _nll(logits: npt.NDArray[np.floating], y: I64, t: float) -> float:
    p = softmax(np.asarray(logits, np.float64) / t)
    return float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))


def fit_scalar(logits: npt.NDArray[np.floating], y: I64) -> float:
    """The temperature (0.25-8, on a log grid) with the least negative log-likelihood."""
    keep = y >= 0
    if not keep.any():
        return 1.0
    z, t = np.asarray(logits)[keep], y[keep]
    return float(min(_GRID, key=lambda v: _nll(z, t, float(v))))


def fit_calibration(method: str, logits: Mapping[str, npt.NDArray[np.floating]],
                    labels: Mapping[str, I64]) -> dict[str, Any]:
    """Fit ``method`` on held-out ``logits`` (task -> (N, classes)) and their ``labels``."""
    if method not in METHODS:
        raise ValueError(f"calibration method {method!r}: use one of {METHODS}")
    temps: dict[str, Any] = {}
    for task, z in logits.items():
        y = labels[task]
        if method == "scalar":
            temps[task] = fit_scalar(z, y)
        elif method == "per_predicted_class":
            overall = fit_scalar(z, y)
            top = np.asarray(z).argmax(1)
            temps[task] = [fit_scalar(z[top == k], y[top == k])
                           if int(((top == k) & (y >= 0)).sum()) >= MIN_WINDOWS else overall
                           for k in range(np.asarray(z).shape[1])]
    return {"method": method, "temperature": temps}


def apply_calibration(calibration: Mapping[str, Any] | None,
                      logits: Mapping[str, npt.NDArray[np.floating]]) -> dict[str, F32]:
    """``logits`` with ``calibration`` applied (None or ``none``: unchanged)."""
    out = {t: np.asarray(z, np.float32) for t, z in logits.items()}
    if not calibration or calibration.get("method", "none") == "none":
        return out
    for task, temp in calibration.get("temperature", {}).items():
        if task not in out:
            continue
        z = out[task]
        if isinstance(temp, list):
            t = np.asarray(temp, np.float32)[z.argmax(1)][:, None]
        else:
            t = np.float32(temp)
        out[task] = (z / t).astype(np.float32)
    return out
