"""The honest-difficulty baseline: per-window statistics and multinomial logistic regression.

If this simple model scores above 90% macro-F1 on held-out simulated scenarios, the simulator is
too easy to tell anything about the network. Features per present modality and channel: mean,
standard deviation, minimum, maximum (images: mean and standard deviation of each colour), plus
a presence flag per modality; absent modalities contribute zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812

from .data import WindowSet
from .inputs import Configuration, default_configuration
from .metrics import task_scores

__all__ = ["StatsLogReg", "window_statistics"]

F32 = npt.NDArray[np.float32]


def window_statistics(ws: WindowSet, config: Configuration | None = None) -> F32:
    """(N, features) statistics of the modalities switched on in ``config``."""
    cfg = config or default_configuration(ws.modalities)
    cols = []
    for m in ws.modalities:
        x = ws.inputs[m]
        on = ws.present[m] & (m in cfg.rates)
        flat = x.reshape(len(x), x.shape[1], -1)
        parts = [flat.mean(-1), flat.std(-1)]
        if ws.modalities[m].kind != "image":
            parts += [flat.min(-1), flat.max(-1)]
        feats = np.concatenate(parts, axis=1) * on[:, None]
        cols += [feats, on[:, None].astype(np.float32)]
    return np.concatenate(cols, axis=1).astype(np.float32)


@dataclass
class StatsLogReg:
    """One L2-regularised logistic regression per task on :func:`window_statistics`."""

    l2: float = 1e-3

    def fit(self, ws: WindowSet) -> StatsLogReg:
        x = window_statistics(ws)
        self.mean, self.std = x.mean(0), x.std(0) + 1e-6
        z = torch.from_numpy((x - self.mean) / self.std)
        self.weights: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for t, classes in ws.classes.items():
            y = torch.from_numpy(ws.labels[t])
            keep = y >= 0
            self.weights[t] = self._fit_task(z[keep], y[keep], len(classes))
        return self

    def _fit_task(self, z: torch.Tensor, y: torch.Tensor,
                  k: int) -> tuple[torch.Tensor, torch.Tensor]:
        w = torch.zeros(z.shape[1], k, requires_grad=True)
        b = torch.zeros(k, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = F.cross_entropy(z @ w + b, y) + self.l2 * w.pow(2).sum()
            loss.backward()  # type: ignore[no-untyped-call]
            return loss

        opt.step(closure)  # type: ignore[no-untyped-call]
        return w.detach(), b.detach()

    def logits(self, ws: WindowSet, config: Configuration | None = None) -> dict[str, F32]:
        z = torch.from_numpy((window_statistics(ws, config) - self.mean) / self.std)
        return {t: (z @ w + b).numpy() for t, (w, b) in self.weights.items()}

    def evaluate(self, ws: WindowSet,
                 config: Configuration | None = None) -> dict[str, dict[str, float]]:
        """Accuracy, macro-F1 and ECE per task."""
        return {t: task_scores(z, ws.labels[t], len(ws.classes[t]))
                for t, z in self.logits(ws, config).items()}
