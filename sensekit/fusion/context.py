"""The network trained on real phones: window statistics, masked fusion, context over windows.

Per window, each present modality's rate-free statistics (:mod:`sensekit.fusion.window_stats`)
go through their registered encoder (``stats``) into one token; masked attention fuses the
tokens with a token that is never masked (:class:`~sensekit.fusion.model.MaskedFusion`), giving
one vector per window (:meth:`ContextFusion.fuse`). A GRU reads the vectors of the last
``context`` windows of the recording (causal; windows before the start, or where the network
did not run, are zeros and masked), and each task head reads ``LayerNorm(GRU + current)``
(:meth:`ContextFusion.head`). It deploys as two graphs (:func:`sensekit.fusion.export.
export_context_onnx`): ``fuse`` once per window and ``context`` over the last windows' vectors.

Training (:func:`fit_context`) follows the recipe of ``fusion/real_recipe.py``: batches balanced
over classes and then over people within a class, every window also seen at slower rates
(:attr:`WindowSet.views`, the same view over a whole context), whole modalities dropped per
sample over its context (and a share reduced to one modality alone), noise on the standardised
features, label smoothing, and each task's loss only where the window has that task's label
(simulated running and cycling windows teach the activity head and nothing else).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

from ..progress import Progress
from .data import WindowSet
from .encoders import Normalise, make_encoder, make_head
from .inputs import ModalityInput, modalities_from_json
from .model import MaskedFusion, _head_kinds, register_model
from .rules import Rule, apply_rules, rules_from_json
from .temperature import apply_calibration

__all__ = ["ContextFusion", "ContextOptions", "context_index", "context_logits",
           "context_small", "fit_context", "set_feature_normalisation"]

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


class ContextFusion(nn.Module):
    """Window statistics of several modalities, fused per window, read over ``context`` windows.

    Args:
        modalities: The learned inputs (``features`` layout), by modality name.
        tasks: Task -> class names, one head each.
        dim: Token and context size.
        heads, layers: Attention heads and fusion blocks.
        context: Windows the GRU reads (the current one included); 1: none before it.
        rules: Post-processing rules (:class:`~sensekit.fusion.rules.Rule`, as JSON).
        rule_inputs: Modalities the rules read that are not learned inputs (as JSON).
        calibration: Applied after the rules (:mod:`sensekit.fusion.temperature`, as JSON).
        task_heads: Registered head per task (default: the task's declaration's).
    """

    temperature: Tensor

    def __init__(self, modalities: Mapping[str, ModalityInput],
                 tasks: Mapping[str, Sequence[str]], *, dim: int = 48, heads: int = 4,
                 layers: int = 1, context: int = 12,
                 rules: Sequence[Mapping[str, Any]] = (),
                 rule_inputs: Mapping[str, Any] | None = None,
                 calibration: Mapping[str, Any] | None = None,
                 task_heads: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.modalities = dict(modalities)
        self.order = list(self.modalities)
        self.tasks = {t: list(c) for t, c in tasks.items()}
        kinds = _head_kinds(self.tasks, task_heads or {})
        self.rules: list[Rule] = rules_from_json(rules)
        self.rule_inputs = modalities_from_json(rule_inputs or {})
        self.calibration: dict[str, Any] = dict(calibration or {"method": "none"})
        self.settings = {"dim": dim, "heads": heads, "layers": layers, "context": context,
                         "rules": [r.as_json() for r in self.rules],
                         "rule_inputs": {m: s.as_json() for m, s in self.rule_inputs.items()},
                         "calibration": self.calibration, "task_heads": kinds}
        self.dim, self.context = dim, context
        self.encoders = nn.ModuleDict({m: make_encoder(s, dim, dim)
                                       for m, s in self.modalities.items()})
        self.fusion = MaskedFusion(len(self.order), dim, heads, layers)
        self.gru = nn.GRU(dim, dim, batch_first=True)
        self.out_norm = nn.LayerNorm(dim)
        self.heads = nn.ModuleDict({t: make_head(kinds[t], dim, len(c))
                                    for t, c in self.tasks.items()})
        self.register_buffer("temperature", torch.ones(len(self.tasks)))

    def set_calibration(self, calibration: Mapping[str, Any]) -> None:
        """Use ``calibration`` after the rules from now on (and save it with the weights)."""
        self.calibration = dict(calibration)
        self.settings["calibration"] = self.calibration
        info = vars(self).get("build_info")
        if info is not None:
            info["kwargs"]["calibration"] = self.calibration

    def postprocess(self, logits: Mapping[str, F32], inputs: Mapping[str, F32],
                    present: Mapping[str, npt.NDArray[np.bool_]] | None = None
                    ) -> dict[str, F32]:
        """The declared rules (reading ``inputs``, the rules' modalities' window inputs), then
        the calibration."""
        out = apply_rules(self.rules, logits, self.tasks, inputs, present)
        return apply_calibration(self.calibration, out)

    @property
    def inputs(self) -> dict[str, ModalityInput]:
        """Every modality a window must be cut for: learned inputs, then the rules' inputs."""
        return {**self.modalities, **self.rule_inputs}

    def fuse(self, inputs: Mapping[str, Tensor], present: Tensor) -> Tensor:
        """One vector per window: ``inputs`` (B, C, 1) per learned modality (any order; absent
        ones zeros), ``present`` (B, M) in :attr:`order` -> (B, dim)."""
        b = present.shape[0]
        tokens = [self.encoders[m](inputs[m]) if m in inputs else present.new_zeros(
            (b, self.dim), dtype=torch.float32) for m in self.order]
        return self.fusion(torch.stack(tokens, 1), present.bool())  # type: ignore[no-any-return]

    def head(self, fused: Tensor, valid: Tensor) -> dict[str, Tensor]:
        """Temperature-scaled logits per task from the last windows' vectors (B, K, dim),
        ``valid`` (B, K) where a window's vector exists (the last one always)."""
        z = fused * valid.unsqueeze(-1)
        h, _ = self.gru(z)
        out = self.out_norm(h[:, -1] + z[:, -1])
        return {t: self.heads[t](out) / self.temperature[i]
                for i, t in enumerate(self.tasks)}

    def forward(self, inputs: Mapping[str, Tensor], present: Mapping[str, Tensor] | None = None,
                valid: Tensor | None = None) -> dict[str, Tensor]:
        """Logits per task.

        Args:
            inputs: Per learned modality: single windows (B, ...) of the modality's own shape,
                or, with ``valid``, (B, K, ...) for K windows of context ending with the one to
                label.
            present: Per modality (B,) or (B, K) (default: present wherever given).
            valid: (B, K) where a context window exists; None: single windows (K = 1).
        """
        ref = next(iter(inputs.values()))
        b, k = (ref.shape[0], 1) if valid is None else (valid.shape[0], valid.shape[1])
        lead = 1 if valid is None else 2

        def on(m: str) -> Tensor:
            if m not in inputs:
                return torch.zeros(b * k, dtype=torch.bool)
            if present is not None and m in present:
                return present[m].bool().reshape(b * k)
            return torch.ones(b * k, dtype=torch.bool)

        mask = torch.stack([on(m) for m in self.order], -1)
        flat = {m: x.reshape(b * k, *x.shape[lead:]) for m, x in inputs.items()}
        fused = self.fuse(flat, mask).reshape(b, k, self.dim)
        return self.head(fused, torch.ones(b, k) if valid is None else valid.float())


@register_model
def context_small(*, modalities: Mapping[str, ModalityInput],
                  tasks: Mapping[str, Sequence[str]], **kw: Any) -> ContextFusion:
    """48-wide tokens, one fusion block, a GRU over 12 windows (60 s of 5 s windows): the
    network trained on real phones (well under 250k parameters)."""
    return ContextFusion(modalities, tasks, **{"dim": 48, "heads": 4, "layers": 1,
                                               "context": 12, **kw})


def context_index(groups: I64, index: I64, k: int) -> I64:
    """(N, k): each window's row and the rows of the ``k - 1`` windows before it on the same
    recording's grid (group), oldest first; -1 where there is none (before the start, or a
    window that was not kept)."""
    n = len(groups)
    out = np.full((n, k), -1, np.int64)
    lookup = {(int(g), int(i)): r for r, (g, i) in enumerate(zip(groups, index, strict=True))}
    for r in range(n):
        g, i = int(groups[r]), int(index[r])
        for j in range(k):
            out[r, j] = lookup.get((g, i - (k - 1 - j)), -1)
    return out


def _norm(model: ContextFusion, modality: str) -> Normalise:
    norm: Normalise = model.encoders[modality].norm  # type: ignore[assignment]
    return norm


def set_feature_normalisation(model: ContextFusion, ws: WindowSet) -> None:
    """Each encoder's mean and std per feature, from the windows where its modality is
    present (stored with the weights)."""
    for m in model.order:
        rows = ws.inputs[m][ws.present[m]]
        if not len(rows):
            continue
        mean = rows.mean(0).reshape(-1)
        std = np.maximum(rows.std(0).reshape(-1), 1e-3)
        norm = _norm(model, m)
        with torch.no_grad():
            norm.mean.copy_(torch.as_tensor(mean).reshape(norm.mean.shape))
            norm.std.copy_(torch.as_tensor(std).reshape(norm.std.shape))


@dataclass
class ContextOptions:
    """How :func:`fit_context` trains (the defaults are the shipped recipe's).

    Attributes:
        steps: Optimiser steps (no early stopping: with six people there is no validation
            person to stop on who is not also a test person).
        batch_size: Contexts per step.
        lr, weight_decay: AdamW with a one-cycle schedule.
        label_smoothing: Of every task's cross-entropy.
        task_weights: Loss weight per task (others 1).
        modality_dropout: Each present modality of a sample is dropped over its whole context
            with this probability (at least one stays).
        alone: Modalities a sample may be reduced to alone, and ``alone_p`` how often.
        noise: Gaussian noise on the standardised features.
        views: Rate augmentation: draw, per sample, the recording as it was or one of the
            window set's views.
        seed: Seed of everything.
        progress: Show a progress bar.
    """

    steps: int = 600
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-3
    label_smoothing: float = 0.1
    task_weights: Mapping[str, float] = field(default_factory=lambda: {"activity": 0.5})
    modality_dropout: float = 0.4
    alone: Sequence[str] = ()
    alone_p: float = 0.15
    noise: float = 0.05
    views: bool = True
    seed: int = 0
    progress: bool = False


class _Batches:
    """Draws training contexts: balanced classes, then people, then windows."""

    def __init__(self, ws: WindowSet, order: Sequence[str], k: int, strata: I64,
                 tasks: Sequence[str]) -> None:
        self.ws, self.order = ws, list(order)
        self.ctx = context_index(ws.groups, ws.index, k)
        key = np.full(len(ws), -1, np.int64)
        offset = 0
        for t in tasks:  # a window's class is that of the first task it is labelled for
            y = ws.labels[t]
            free = (key < 0) & (y >= 0)
            key[free] = offset + y[free]
            offset += len(ws.classes[t])
        self.cells: list[list[I64]] = []
        for c in np.unique(key[key >= 0]):
            rows = np.flatnonzero(key == c)
            self.cells.append([rows[strata[rows] == p] for p in np.unique(strata[rows])])
        self.views = ["", *ws.views]
        self.x = {m: torch.from_numpy(np.ascontiguousarray(ws.inputs[m])) for m in order}
        self.p = {m: torch.from_numpy(ws.present[m]) for m in order}
        self.vx = {v: {m: torch.from_numpy(np.ascontiguousarray(x[m])) for m in x if m in order}
                   for v, (x, _) in ws.views.items()}
        self.vp = {v: {m: torch.from_numpy(p[m]) for m in p if m in order}
                   for v, (_, p) in ws.views.items()}

    def rows(self, n: int, rng: np.random.Generator) -> I64:
        out = np.empty(n, np.int64)
        for i, c in enumerate(rng.integers(len(self.cells), size=n)):
            people = self.cells[c]
            rows = people[rng.integers(len(people))]
            out[i] = rows[rng.integers(len(rows))]
        return out

    def gather(self, rows: I64, view: Sequence[str] | None = None
               ) -> tuple[dict[str, Tensor], dict[str, Tensor], Tensor]:
        """Inputs (B, K, C, 1), presence (B, K) and validity (B, K) of the contexts ending at
        ``rows``, each sample from its view (``""``: as recorded)."""
        ctx = torch.from_numpy(self.ctx[rows])
        valid = ctx >= 0
        at = ctx.clamp(min=0)
        x = {m: self.x[m][at] for m in self.order}
        p = {m: self.p[m][at] & valid for m in self.order}
        for v in set(view or ()) - {""}:
            sel = torch.from_numpy(np.asarray([name == v for name in view or ()]))
            for m in self.vx[v]:
                x[m][sel] = self.vx[v][m][at[sel]]
                p[m][sel] = self.vp[v][m][at[sel]] & valid[sel]
        return x, p, valid


def _drop(p: dict[str, Tensor], order: Sequence[str], opts: ContextOptions,
          rng: np.random.Generator) -> None:
    """Modality dropout over whole contexts, and samples reduced to one modality alone."""
    b = next(iter(p.values())).shape[0]
    have = np.stack([p[m].any(1).numpy() for m in order], 1)
    drop = rng.random(have.shape) < opts.modality_dropout
    alone = [order.index(m) for m in opts.alone if m in order]
    if alone:
        pick = np.asarray(alone)[rng.integers(len(alone), size=b)]
        only = (rng.random(b) < opts.alone_p) & have[np.arange(b), pick]
        drop[only] = True
        drop[only, pick[only]] = False
    drop[~(have & ~drop).any(1)] = False
    for i, m in enumerate(order):
        p[m] &= ~torch.from_numpy(drop[:, i])[:, None]


def fit_context(model: ContextFusion, ws: WindowSet, opts: ContextOptions | None = None,
                strata: I64 | None = None) -> ContextFusion:
    """Train ``model`` on every window of ``ws`` (see the module docstring).

    Args:
        model: A :class:`ContextFusion` (its normalisation is set from ``ws``).
        ws: Windows of whole recordings (``groups``, ``index``), labelled per task (-1: no
            label), with rate views if ``opts.views``.
        opts: Settings.
        strata: Who recorded each window (balancing is over classes, then these); default:
            the recording.
    """
    opts = opts or ContextOptions()
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    set_feature_normalisation(model, ws)
    tasks = [t for t in model.tasks if t in ws.labels]
    batches = _Batches(ws, model.order, model.context, ws.groups if strata is None else strata,
                       tasks)
    optim = torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, opts.lr, total_steps=opts.steps)
    labels = {t: torch.from_numpy(ws.labels[t]) for t in tasks}
    scale = {m: _norm(model, m).std.reshape(1, 1, -1, 1) for m in model.order}
    model.train()
    with Progress("train", opts.steps, unit=" steps", enabled=opts.progress) as bar:
        for _ in range(opts.steps):
            rows = batches.rows(opts.batch_size, rng)
            view = ([batches.views[i] for i in rng.integers(len(batches.views),
                                                            size=len(rows))]
                    if opts.views else None)
            x, p, valid = batches.gather(rows, view)
            _drop(p, model.order, opts, rng)
            x = {m: (v + opts.noise * scale[m] * torch.randn_like(v)) * p[m][..., None, None]
                 for m, v in x.items()}
            logits = model(x, p, valid)
            loss = torch.stack([
                opts.task_weights.get(t, 1.0) * F.cross_entropy(
                    logits[t], labels[t][rows], ignore_index=-1,
                    label_smoothing=opts.label_smoothing)
                for t in tasks if bool((labels[t][rows] >= 0).any())]).sum()
            optim.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optim.step()
            sched.step()
            bar.update(1)
    model.eval()
    return model


@torch.no_grad()
def context_logits(model: ContextFusion, ws: WindowSet, *, view: str = "",
                   keep: Sequence[str] | None = None, post: bool = True,
                   batch_size: int = 1024) -> dict[str, F32]:
    """Logits per task for every window of ``ws`` with the context it has in ``ws``.

    Args:
        model: The network.
        ws: Windows of whole recordings (``groups``, ``index``).
        view: One of ``ws.views`` (a slower rate), or ``""`` (as recorded).
        keep: Only these modalities (the others as if their sensor were off).
        post: Apply the model's rules (their modalities read from ``ws``, if ``keep`` keeps
            them) and calibration.
    """
    model.eval()
    batches = _Batches(ws, model.order, model.context, ws.groups, [])
    out: dict[str, list[F32]] = {}
    for start in range(0, len(ws), batch_size):
        rows = np.arange(start, min(len(ws), start + batch_size))
        x, p, valid = batches.gather(rows, [view] * len(rows) if view else None)
        if keep is not None:
            p = {m: v if m in keep else torch.zeros_like(v) for m, v in p.items()}
        x = {m: v * p[m][..., None, None] for m, v in x.items()}
        for t, z in model(x, p, valid).items():
            out.setdefault(t, []).append(z.numpy())
    logits = {t: np.concatenate(v) for t, v in out.items()}
    if not post:
        return logits
    read = {r.modality for r in model.rules}
    inputs = {m: ws.inputs[m] for m in read if m in ws.inputs and (keep is None or m in keep)}
    return model.postprocess(logits, inputs, {m: ws.present[m] for m in inputs})
