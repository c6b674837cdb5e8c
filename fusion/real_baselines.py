"""The baselines of ``fusion/real_recipe.py``, on the same windows and folds as the network.

- The published method: a random forest (200 trees) on the mean, minimum, maximum and standard
  deviation of each sensor's magnitude in the 5 s window; a sensor a window lacks is -1.
- The leakage forest: the same forest given only which sensors a window has and the
  accelerometer's native rate, nothing about motion. By person it must score near chance; with
  windows split at random it need not (that is the leak a by-person split guards against).
- DeepConvLSTM (Ordonez and Roggen 2016, sensekit's ``deepconvlstm``) on the raw accelerometer
  and gyroscope held on a 10 Hz grid (zeros where a phone has no gyroscope), per-channel
  standardised on the training windows, trained with the network's balanced sampling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from real_data import BASELINE_SENSORS, raw_input_spec


def columns(sensors: Sequence[str]) -> np.ndarray:
    """The statistics columns of ``sensors``."""
    names = list(BASELINE_SENSORS)
    return np.concatenate([np.arange(4 * names.index(s), 4 * names.index(s) + 4)
                           for s in sensors])


def forest(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, *,
           trees: int, seed: int = 0) -> np.ndarray:
    """Class predictions of a random forest fitted on ``train`` rows, for ``test`` rows."""
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=trees, n_jobs=1, random_state=seed)
    model.fit(x[train], y[train])
    return np.asarray(model.predict(x[test]), np.int64)


def statistics(base: np.ndarray, sensors: Sequence[str]) -> np.ndarray:
    """The published statistics of ``sensors``, -1 where a window lacks one."""
    return np.nan_to_num(base[:, columns(sensors)], nan=-1.0)


def presence(base: np.ndarray, accel_rate: np.ndarray) -> np.ndarray:
    """Which sensors each window has, and the accelerometer's native rate."""
    have = ~np.isnan(base.reshape(len(base), -1, 4)[:, :, 0])
    return np.column_stack([have.astype(np.float32), accel_rate])


def balanced_rows(y: np.ndarray, strata: np.ndarray, rows: np.ndarray, n: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``n`` rows: a class uniformly, then a stratum (person) of it, then a window."""
    cells = [[rows[(y[rows] == c) & (strata[rows] == p)]
              for p in np.unique(strata[rows][y[rows] == c])] for c in np.unique(y[rows])]
    out = np.empty(n, np.int64)
    for i, c in enumerate(rng.integers(len(cells), size=n)):
        group = cells[c][rng.integers(len(cells[c]))]
        out[i] = group[rng.integers(len(group))]
    return out


def deepconvlstm(raw: np.ndarray, y: np.ndarray, strata: np.ndarray, train: np.ndarray,
                 test: np.ndarray, classes: Sequence[str], opts: dict[str, Any], *,
                 seed: int = 0) -> np.ndarray:
    """Logits of DeepConvLSTM trained on ``train`` rows, for ``test`` rows."""
    from sensekit.fusion.model import create_model

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    window_s = raw.shape[-1] / 10.0
    net: Any = create_model("deepconvlstm", modalities=raw_input_spec(window_s),
                            tasks={"transport": list(classes)}, filters=opts["filters"],
                            hidden=opts["hidden"])
    rows = np.flatnonzero(train)
    mean = raw[rows].mean((0, 2))
    std = raw[rows].std((0, 2)) + 1e-3
    with torch.no_grad():
        net.norm.mean.copy_(torch.from_numpy(mean).reshape(net.norm.mean.shape))
        net.norm.std.copy_(torch.from_numpy(std).reshape(net.norm.std.shape))
    x, target = torch.from_numpy(raw), torch.from_numpy(y)
    optim = torch.optim.Adam(net.parameters(), lr=opts["lr"])
    net.train()
    for _ in range(opts["steps"]):
        b = balanced_rows(y, strata, rows, opts["batch_size"], rng)
        loss = F.cross_entropy(net.forward_stacked(x[b])["transport"], target[b])
        optim.zero_grad()
        loss.backward()
        optim.step()
    net.eval()
    out = []
    with torch.no_grad():
        for start in range(0, int(test.sum()), 1024):
            idx = np.flatnonzero(test)[start:start + 1024]
            out.append(net.forward_stacked(x[idx])["transport"].numpy())
    return np.concatenate(out)
