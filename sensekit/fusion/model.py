"""The fusion network: one encoder per modality at its own resolution, masked fusion, task heads.

Encoders (registered by name, :mod:`sensekit.fusion.encoders`) turn each present modality into
one token. Fusion is attention over those tokens plus
an always-present token, so a window where every sensor is off still has one key to attend to
(attention over an all-masked set is NaN in PyTorch). Encoders of absent modalities are not
run. Each task head reads the always-present token of the shared trunk, so concurrent tasks
share the low-level layers (multi-task) and each head can be used alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .encoders import make_encoder, make_head
from .inputs import ModalityInput, modalities_to_json

__all__ = ["FusionNet", "MaskedFusion", "create_model", "list_models", "register_model"]

Builder = Callable[..., nn.Module]
_BUILDERS: dict[str, Builder] = {}


def register_model(fn: Builder) -> Builder:
    """Register a builder under its function name (timm style)."""
    _BUILDERS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`."""
    from . import baseline, context  # noqa: F401  (register the baseline and context_small)

    return sorted(_BUILDERS)


def create_model(name: str, *, modalities: Mapping[str, ModalityInput],
                 tasks: Mapping[str, Sequence[str]], **kwargs: Any) -> nn.Module:
    """Build a registered network.

    Args:
        name: A name from :func:`list_models` (``"fusion_small"``).
        modalities: Modality name -> :class:`ModalityInput`.
        tasks: Task name -> class names, one head per task.
        **kwargs: Passed to the builder (``dim``, ``width``...).

    Raises:
        ConfigError: unknown name, or no modalities or tasks.
    """
    names = list_models()
    if name not in _BUILDERS:
        raise ConfigError(f"unknown fusion model {name!r}; registered: {', '.join(names)}")
    if not modalities or not tasks:
        raise ConfigError(f"model {name!r} needs at least one modality and one task")
    model = _BUILDERS[name](modalities=dict(modalities),
                            tasks={t: list(c) for t, c in tasks.items()}, **kwargs)
    # Kept with the module so weights can be saved with what built them (the settings in
    # full, so a later change of a builder's defaults does not change what they load into).
    vars(model)["build_info"] = {"name": name, "modalities": modalities_to_json(modalities),
                                 "tasks": {t: list(c) for t, c in tasks.items()},
                                 "kwargs": {**getattr(model, "settings", {}), **kwargs}}
    return model


class FusionBlock(nn.Module):
    """Pre-norm self-attention with a key mask, then a feed-forward layer."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.out = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: Tensor, keep: Tensor) -> Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(b, n, 3, self.heads, d // self.heads) \
            .permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads)
        # keep[:, 0] (the always-present token) is always True, so no row is all -inf.
        scores = scores.masked_fill(~keep[:, None, None, :], float("-inf"))
        att = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.out(att)
        y: Tensor = x + self.ffn(self.ln2(x))
        return y


class MaskedFusion(nn.Module):
    """Attention over modality tokens plus one token that is never masked."""

    def __init__(self, n_modalities: int, dim: int, heads: int, layers: int) -> None:
        super().__init__()
        self.always = nn.Parameter(torch.zeros(1, 1, dim))
        self.embed = nn.Parameter(torch.randn(n_modalities, dim) * 0.02)
        self.blocks = nn.ModuleList(FusionBlock(dim, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(dim)

    def forward(self, tokens: Tensor, present: Tensor) -> Tensor:
        """Fuse ``tokens`` (B, M, D) where ``present`` (B, M) is True; returns (B, D)."""
        b = tokens.shape[0]
        x = torch.cat([self.always.expand(b, -1, -1), tokens + self.embed], dim=1)
        keep = torch.cat([torch.ones_like(present[:, :1]), present], dim=1)
        for blk in self.blocks:
            x = blk(x, keep)
        return self.ln(x[:, 0])  # type: ignore[no-any-return]


class FusionNet(nn.Module):
    """Multi-modal, multi-resolution network with one head per task.

    ``forward(inputs, present)`` takes a dict of the modalities that are on (absent ones are
    simply not in the dict and their encoders are not run) and an optional per-sample presence
    mask (B,) per modality (modality dropout, windows where a sensor delivered nothing). It
    returns temperature-scaled logits per task; softmax gives calibrated probabilities once
    :func:`sensekit.fusion.calibrate.fit_temperature` has been run. Temperatures are one per
    task times a correction per modality subset (a camera-only window is not as sure of itself
    as an all-sensor one), looked up from the presence mask.
    """

    temperature: Tensor
    subset_temperature: Tensor

    def __init__(self, modalities: Mapping[str, ModalityInput],
                 tasks: Mapping[str, Sequence[str]], *, dim: int = 64, width: int = 32,
                 heads: int = 4, layers: int = 1,
                 spectrum: bool | Sequence[str] = False, spectrum_hz: float = 12.5,
                 task_heads: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.modalities = dict(modalities)
        self.order = list(self.modalities)
        self.tasks = {t: list(c) for t, c in tasks.items()}
        kinds = _head_kinds(self.tasks, task_heads or {})
        self.settings = {"dim": dim, "width": width, "heads": heads, "layers": layers,
                         "spectrum": spectrum if isinstance(spectrum, bool) else list(spectrum),
                         "spectrum_hz": spectrum_hz, "task_heads": kinds}
        self.dim = dim
        wants = set(self.modalities) if spectrum is True else set(spectrum or ())
        self.encoders = nn.ModuleDict({m: make_encoder(s, dim, width, m in wants, spectrum_hz)
                                       for m, s in self.modalities.items()})
        self.fusion = MaskedFusion(len(self.order), dim, heads, layers)
        self.heads = nn.ModuleDict({t: make_head(kinds[t], dim, len(c))
                                    for t, c in self.tasks.items()})
        self.register_buffer("temperature", torch.ones(len(self.tasks)))
        self.register_buffer("subset_temperature",
                             torch.ones(2 ** len(self.order), len(self.tasks)))

    def subset_index(self, present: Tensor) -> Tensor:
        """Index of each window's modality subset (bit i: modality ``order[i]`` present)."""
        bits = 2 ** torch.arange(present.shape[1], device=present.device)
        return (present.long() * bits).sum(1)

    def encode(self, inputs: Mapping[str, Tensor],
               present: Mapping[str, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """Tokens (B, M, D) and presence (B, M); absent encoders are skipped."""
        unknown = set(inputs) - set(self.order)
        if unknown:
            raise ConfigError(f"inputs {sorted(unknown)} are not modalities of this network "
                              f"({self.order})")
        ref = next(iter(inputs.values()))
        b = ref.shape[0]
        tokens, masks = [], []
        for m in self.order:
            if m in inputs:
                tokens.append(self.encoders[m](inputs[m]))
                p = present.get(m) if present is not None else None
                masks.append(torch.ones(b, dtype=torch.bool, device=ref.device) if p is None
                             else p.to(torch.bool))
            else:
                tokens.append(ref.new_zeros(b, self.dim))
                masks.append(torch.zeros(b, dtype=torch.bool, device=ref.device))
        return torch.stack(tokens, 1), torch.stack(masks, 1)

    def forward_features(self, inputs: Mapping[str, Tensor],
                         present: Mapping[str, Tensor] | None = None) -> Tensor:
        """The shared trunk: the fused always-present token (B, D)."""
        return self.fusion(*self.encode(inputs, present))  # type: ignore[no-any-return]

    def forward_head(self, features: Tensor, task: str | None = None,
                     present: Tensor | None = None) -> dict[str, Tensor]:
        """Temperature-scaled logits of one task, or all tasks.

        ``present`` (B, M), if given, applies the per-subset temperature correction.
        """
        names = self.tasks if task is None else [task]
        idx = {t: i for i, t in enumerate(self.tasks)}
        temp = self.temperature.unsqueeze(0)
        if present is not None:
            temp = temp * self.subset_temperature[self.subset_index(present)]
        return {t: self.heads[t](features) / temp[:, idx[t], None] for t in names}

    def forward(self, inputs: Mapping[str, Tensor],
                present: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
        tokens, mask = self.encode(inputs, present)
        return self.forward_head(self.fusion(tokens, mask), present=mask)


def _head_kinds(tasks: Mapping[str, Sequence[str]], given: Mapping[str, str]
                ) -> dict[str, str]:
    """Each task's head: as given, else its declaration's (:mod:`sensekit.fusion.tasks`), else
    a linear layer (a task no declaration names, such as a data set's ``class``)."""
    from .tasks import registered

    declared = registered()
    return {t: given.get(t) or (declared[t].head if t in declared else "linear") for t in tasks}


@register_model
def fusion_small(*, modalities: Mapping[str, ModalityInput],
                 tasks: Mapping[str, Sequence[str]], **kw: Any) -> FusionNet:
    """64-wide tokens, one fusion block, the step-rate band of the inertial spectra (up to
    5 Hz): the default network (well under 250k parameters)."""
    return FusionNet(modalities, tasks, **{"dim": 64, "width": 32, "layers": 1,
                                           "spectrum": True, "spectrum_hz": 5.0, **kw})


@register_model
def fusion_tiny(*, modalities: Mapping[str, ModalityInput],
                tasks: Mapping[str, Sequence[str]], **kw: Any) -> FusionNet:
    """32-wide tokens: for tests and the smallest boards."""
    return FusionNet(modalities, tasks, **{"dim": 32, "width": 16, "heads": 2, **kw})
