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


#: Fewest labelled validation windows of one modality subset to fit its own correction.
MIN_SUBSET_WINDOWS = 30


def fit_temperature(model: nn.Module, val: WindowSet,
                    configs: Sequence[Configuration] | None = None) -> dict[str, float]:
    """Fit and store the temperatures (minimising NLL); returns the per-task ones.

    One temperature per task is fitted on the windows of every configuration pooled; a network
    with per-subset temperatures (:class:`~sensekit.fusion.model.FusionNet`) then gets a
    correction per modality subset, fitted on that subset's windows when it has at least
    :data:`MIN_SUBSET_WINDOWS` of them (1 otherwise).
    """
    temp: torch.Tensor = model.temperature  # type: ignore[assignment]
    per_subset: torch.Tensor | None = getattr(model, "subset_temperature", None)
    temp.fill_(1.0)
    if per_subset is not None:
        per_subset.fill_(1.0)
    configs = list(configs) if configs else [default_configuration(val.modalities)]
    logits, labels, subsets = _collect(model, val, configs)
    out = {}
    for i, t in enumerate(logits):
        keep = labels[t] >= 0
        out[t] = _fit_one(logits[t][keep], labels[t][keep])
        temp[i] = out[t]
        if per_subset is None:
            continue
        for s in torch.unique(subsets[keep]):
            sel = keep & (subsets == s)
            if int(sel.sum()) >= MIN_SUBSET_WINDOWS:
                per_subset[s, i] = _fit_one(logits[t][sel] / out[t], labels[t][sel])
    return out


def _collect(model: nn.Module, val: WindowSet, configs: Sequence[Configuration]
             ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], torch.Tensor]:
    """Unscaled logits and labels per task over all configurations, and each row's subset."""
    order = getattr(model, "order", list(val.modalities))
    pooled: dict[str, list[np.ndarray]] = {}
    labels: dict[str, list[np.ndarray]] = {}
    subsets = []
    for cfg in configs:
        for t, z in predict_logits(model, val, cfg).items():
            pooled.setdefault(t, []).append(z)
            labels.setdefault(t, []).append(val.labels[t])
        bits = [(val.present[m] & (m in cfg.rates)).astype(np.int64) << i
                for i, m in enumerate(order)]
        subsets.append(np.sum(bits, axis=0))
    return ({t: torch.from_numpy(np.concatenate(v)) for t, v in pooled.items()},
            {t: torch.from_numpy(np.concatenate(v)) for t, v in labels.items()},
            torch.from_numpy(np.concatenate(subsets)))


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
