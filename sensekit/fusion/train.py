"""Training and evaluation of fusion networks on :class:`~sensekit.fusion.data.WindowSet` s.

One set of weights is trained across the controller's configurations: every batch draws a rate
per modality from its rate set (rate augmentation) and switches whole sensors off per window
(modality dropout), so the same weights are then evaluated in every configuration.
Reproducible with a seed; progress bar; checkpoint of the best epoch; early stopping.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

from ..progress import Progress
from .augment import Augment, draw_configuration, resample
from .data import WindowSet
from .encoders import Normalise
from .inputs import Configuration, default_configuration
from .metrics import task_scores
from .shards import WindowShards

__all__ = ["TrainOptions", "TrainResult", "batch_tensors", "evaluate", "fit", "predict_logits",
           "set_normalisation"]

log = logging.getLogger(__name__)


@dataclass
class TrainOptions:
    """How to train (defaults suit the small sensekit networks on a CPU)."""

    epochs: int = 40
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-3
    patience: int = 10
    seed: int = 0
    modality_dropout: float = 0.5
    rate_augment: bool = True
    distill: float = 0.0
    leave_one_out: float = 0.0
    augment: Augment | None = field(default_factory=Augment)
    checkpoint: Path | None = None
    progress: bool = True


@dataclass
class TrainResult:
    """What happened: per-epoch validation score, the best epoch and its score."""

    history: list[float]
    best_epoch: int
    best_score: float


def set_normalisation(model: nn.Module, stats: Mapping[str, tuple[Any, Any]]) -> None:
    """Write per-channel mean/std of the training data into the model's normalisers."""
    mods = getattr(model, "modalities", {})
    encoders = getattr(model, "encoders", None)
    if encoders is not None:
        for m, (mean, std) in stats.items():
            if mods[m].xyz:
                # The same scale on x, y, z and no offset: a rotated sensor (another placement
                # of the phone) stays in range, and gravity keeps telling the orientation.
                rms = float(np.sqrt(np.mean(np.square(mean) + np.square(std))))
                mean, std = np.zeros_like(mean), np.full_like(std, rms)
            _copy_norm(encoders[m].norm, mean, std)
    elif isinstance(getattr(model, "norm", None), Normalise):  # early fusion: stacked channels
        _copy_norm(getattr(model, "norm"), np.concatenate([stats[m][0] for m in mods]),  # noqa: B009
                   np.concatenate([stats[m][1] for m in mods]))


def _copy_norm(norm: Normalise, mean: Any, std: Any) -> None:
    with torch.no_grad():
        norm.mean.copy_(torch.as_tensor(mean).reshape(norm.mean.shape))
        norm.std.copy_(torch.as_tensor(std).reshape(norm.std.shape))


def batch_tensors(ws: WindowSet, idx: npt.NDArray[np.int64], rates: Mapping[str, float],
                  gen: torch.Generator | None = None
                  ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Inputs of modalities in ``rates`` (resampled to those rates) and their presence flags.

    With ``gen`` (training) the way a slower rate is made is drawn too: decimation at a random
    phase mostly, averaging sometimes; without it, decimation from the first sample.
    """
    inputs, present = {}, {}
    average, phase = False, 0.0
    if gen is not None:
        average = bool(torch.rand(1, generator=gen).item() < 0.3)
        phase = float(torch.rand(1, generator=gen).item())
    for m, rate in rates.items():
        x = torch.from_numpy(ws.inputs[m][idx])
        inputs[m] = resample(x, ws.modalities[m], rate, average=average, phase=phase)
        present[m] = torch.from_numpy(ws.present[m][idx])
    return inputs, present


def _drop_modalities(present: dict[str, Tensor], p: float, gen: torch.Generator,
                     leave_one_out: float = 0.0) -> None:
    """Switch whole sensors off, as the controller does: a share ``p`` of the windows keep a
    random subset of their sensors, its size drawn uniformly from 1 to all, so single sensors
    (the controller's cheapest configurations) are seen as often as near-complete sets; a share
    ``leave_one_out`` of those lose exactly one sensor (the network should not lean on any)."""
    if p <= 0 or len(present) < 2:
        return
    names = list(present)
    keep = torch.stack([present[m] for m in names], 1)
    b, m = keep.shape
    chosen = torch.rand(b, generator=gen) < p
    size = torch.randint(1, m + 1, (b, 1), generator=gen)
    rank = torch.rand(keep.shape, generator=gen).argsort(1).argsort(1)
    subset = keep & (rank < size)
    if leave_one_out > 0:
        one = torch.rand(b, generator=gen) < leave_one_out
        victim = torch.multinomial(keep.float() + 1e-6, 1, generator=gen).squeeze(1)
        minus_one = keep.clone()
        minus_one[torch.arange(b), victim] = False
        subset = torch.where(one[:, None], minus_one, subset)
    empty = ~subset.any(1) & keep.any(1)
    if empty.any():  # give back one of the sensors that was on
        pick = torch.multinomial(keep[empty].float(), 1, generator=gen).squeeze(1)
        subset[empty.nonzero().squeeze(1), pick] = True
    new = torch.where(chosen[:, None], subset, keep)
    for i, name in enumerate(names):
        present[name] = new[:, i]


def _loss(model: nn.Module, ws: WindowSet, idx: npt.NDArray[np.int64], opts: TrainOptions,
          gen: torch.Generator) -> Tensor:
    rates = draw_configuration(ws.modalities, gen, opts.rate_augment)
    inputs, present = batch_tensors(ws, idx, rates, gen)
    if opts.augment is not None:
        inputs = opts.augment(inputs, ws.modalities, gen)
    full = dict(present)
    _drop_modalities(present, opts.modality_dropout, gen, opts.leave_one_out)
    logits = model(inputs, present)
    labels = {t: torch.from_numpy(ws.labels[t][idx]) for t in logits}
    losses = [F.cross_entropy(logits[t], labels[t], ignore_index=-1)
              for t in logits if (labels[t] >= 0).any()]
    if opts.distill > 0:
        # The all-sensor pass is supervised too, and teaches the reduced pass its answer:
        # what a switched-off sensor told, the others learn to tell where they can.
        teacher = model(inputs, full)
        for t in logits:
            if (labels[t] >= 0).any():
                losses.append(F.cross_entropy(teacher[t], labels[t], ignore_index=-1))
            soft = F.softmax(teacher[t].detach(), -1)
            losses.append(opts.distill * F.kl_div(F.log_softmax(logits[t], -1), soft,
                                                  reduction="batchmean"))
    return torch.stack(losses).sum()


def _epoch_batches(train: WindowSet | WindowShards, batch_size: int, rng: np.random.Generator,
                   epoch: int) -> Iterator[tuple[WindowSet, npt.NDArray[np.int64]]]:
    """One epoch's batches as (window set, rows): a permutation of an in-memory set, or shards
    streamed through their shuffle buffer (memory for a few shards, not the whole set)."""
    if isinstance(train, WindowShards):
        for batch in train.batches(batch_size, epoch=epoch):
            yield batch, np.arange(len(batch))
        return
    order = rng.permutation(len(train))
    for i in range(max(1, len(train) // batch_size)):
        yield train, order[i * batch_size:(i + 1) * batch_size]


def fit(model: nn.Module, train: WindowSet | WindowShards, val: WindowSet | None = None,
        opts: TrainOptions | None = None) -> TrainResult:
    """Train ``model`` on ``train``; keep the weights of the best epoch on ``val``.

    ``train`` is a :class:`WindowSet` in memory or :class:`~sensekit.fusion.shards.WindowShards`
    on disk (``sensekit windows`` / ``sensekit fleet windows``), read a shard at a time.

    The validation score is the mean macro-F1 over tasks and :func:`score_configurations`;
    without
    ``val`` the last epoch is kept. The best weights are also saved to ``opts.checkpoint``.
    """
    opts = opts or TrainOptions()
    torch.manual_seed(opts.seed)
    gen = torch.Generator().manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    set_normalisation(model, train.stats())
    optim = torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    steps = max(1, len(train) // opts.batch_size) * opts.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, opts.lr, total_steps=steps)
    history: list[float] = []
    best = (-1.0, -1, copy.deepcopy(model.state_dict()))
    bar = Progress("train", opts.epochs, unit=" epochs", enabled=opts.progress)
    for epoch in range(opts.epochs):
        model.train()
        for batch, idx in _epoch_batches(train, opts.batch_size, rng, epoch):
            optim.zero_grad()
            _loss(model, batch, idx, opts, gen).backward()  # type: ignore[no-untyped-call]
            optim.step()
            sched.step()
        score = _score(model, val) if val is not None else float(epoch)
        history.append(score)
        if score > best[0]:
            best = (score, epoch, copy.deepcopy(model.state_dict()))
            if opts.checkpoint is not None:
                torch.save(best[2], opts.checkpoint)
        bar.update(1, info=f"val macro-F1 {score:.3f}" if val is not None else "")
        if val is not None and epoch - best[1] >= opts.patience:
            log.info("early stop at epoch %d (best %d)", epoch, best[1])
            break
    bar.close()
    model.load_state_dict(best[2])
    model.eval()
    return TrainResult(history, best[1], best[0])


def score_configurations(mods: Mapping[str, Any]) -> list[Configuration]:
    """Configurations the validation score averages over: all sensors on, each sensor alone,
    and each sensor left out (so early stopping does not favour one shortcut modality)."""
    full = default_configuration(mods)
    out = [full]
    if len(full.rates) > 1:
        out += [Configuration({m: r}) for m, r in full.rates.items()]
    if len(full.rates) > 2:
        out += [Configuration({k: v for k, v in full.rates.items() if k != m})
                for m in full.rates]
    return out


def _score(model: nn.Module, ws: WindowSet) -> float:
    """Mean macro-F1 over configurations and the tasks ``ws`` labels."""
    scores = [evaluate(model, ws, c) for c in score_configurations(ws.modalities)]
    values = [s["macro_f1"] for sc in scores for s in sc.values() if s["n"] > 0]
    return float(np.mean(values)) if values else -1.0


@torch.no_grad()
def predict_logits(model: nn.Module, ws: WindowSet, config: Configuration | None = None,
                   batch_size: int = 256) -> dict[str, npt.NDArray[np.float32]]:
    """Logits per task for every window, the model fed only the modalities of ``config``.

    A network that reads several consecutive windows (:class:`~sensekit.fusion.context.
    ContextFusion`) reads each window with the ones before it in ``ws`` (same group,
    consecutive ``index``), and its rules and calibration are applied."""
    from .context import ContextFusion, context_logits

    if isinstance(model, ContextFusion):
        keep = None if config is None else list(config.rates)
        return context_logits(model, ws, keep=keep)
    model.eval()
    cfg = config or default_configuration(ws.modalities)
    out: dict[str, list[npt.NDArray[np.float32]]] = {}
    for start in range(0, len(ws), batch_size):
        idx = np.arange(start, min(len(ws), start + batch_size))
        inputs, present = batch_tensors(ws, idx, cfg.rates)
        for t, z in model(inputs, present).items():
            out.setdefault(t, []).append(z.numpy())
    return {t: np.concatenate(v) for t, v in out.items()}


def evaluate(model: nn.Module, ws: WindowSet,
             config: Configuration | None = None) -> dict[str, dict[str, float]]:
    """Accuracy, macro-F1 and ECE per task on ``ws`` in ``config`` (default: all on)."""
    logits = predict_logits(model, ws, config)
    return {t: task_scores(z, ws.labels[t], len(ws.classes[t])) for t, z in logits.items()}
