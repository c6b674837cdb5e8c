"""Temperature scaling (Guo et al., ICML 2017): one scalar per task, fitted on held-out windows.

The controller acts on the network's confidence, so it must be calibrated in every
configuration it runs. The temperature is fitted on validation windows pooled over the
configurations the controller can choose (the same weights serve all of them), and the
expected calibration error is then reported per modality subset.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from .data import WindowSet
from .inputs import Configuration, default_configuration
from .metrics import expected_calibration_error, softmax
from .train import predict_logits

__all__ = ["calibration_report", "fit_temperature"]


def fit_temperature(model: nn.Module, val: WindowSet,
                    configs: Sequence[Configuration] | None = None) -> dict[str, float]:
    """Fit and store one temperature per task (minimising NLL); returns them by task."""
    temp: torch.Tensor = model.temperature  # type: ignore[assignment]
    temp.fill_(1.0)
    configs = list(configs) if configs else [default_configuration(val.modalities)]
    pooled: dict[str, list[np.ndarray]] = {}
    labels: dict[str, list[np.ndarray]] = {}
    for cfg in configs:
        for t, z in predict_logits(model, val, cfg).items():
            pooled.setdefault(t, []).append(z)
            labels.setdefault(t, []).append(val.labels[t])
    out = {}
    for i, t in enumerate(pooled):
        logits = torch.from_numpy(np.concatenate(pooled[t]))
        y = torch.from_numpy(np.concatenate(labels[t]))
        keep = y >= 0
        out[t] = _fit_one(logits[keep], y[keep])
        temp[i] = out[t]
    return out


def _fit_one(logits: torch.Tensor, y: torch.Tensor) -> float:
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), y)
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    if len(y):
        opt.step(closure)  # type: ignore[no-untyped-call]
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def calibration_report(model: nn.Module, ws: WindowSet,
                       configs: Sequence[Configuration]) -> dict[str, dict[str, float]]:
    """ECE per task for each configuration, keyed by the configuration's name."""
    out = {}
    for cfg in configs:
        logits = predict_logits(model, ws, cfg)
        out[cfg.name()] = {t: expected_calibration_error(softmax(z), ws.labels[t])
                           for t, z in logits.items()}
    return out
