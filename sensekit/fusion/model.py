"""The fusion network: one encoder per modality at its own resolution, masked fusion, task heads.

Encoders turn each present modality into one token. Fusion is attention over those tokens plus
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
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

from ..errors import ConfigError
from .augment import is_inertial
from .inputs import ModalityInput, modalities_to_json

__all__ = ["FusionNet", "ImageEncoder", "LowRateEncoder", "MaskedFusion", "SeriesEncoder",
           "create_model", "list_models", "register_model"]

Builder = Callable[..., nn.Module]
_BUILDERS: dict[str, Builder] = {}


def register_model(fn: Builder) -> Builder:
    """Register a builder under its function name (timm style)."""
    _BUILDERS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`."""
    from . import baseline  # noqa: F401  (registers the baseline)

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


class SeparableConv1d(nn.Sequential):
    """Depthwise then pointwise 1-D convolution, batch norm, ReLU."""

    def __init__(self, cin: int, cout: int, k: int, stride: int) -> None:
        super().__init__(nn.Conv1d(cin, cin, k, stride, k // 2, groups=cin, bias=False),
                         nn.Conv1d(cin, cout, 1, bias=False), nn.BatchNorm1d(cout), nn.ReLU())


class SeparableConv2d(nn.Sequential):
    """Depthwise then pointwise 2-D convolution (MobileNet block without the residual)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
                         nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class Normalise(nn.Module):
    """Per-channel standardisation stored with the weights (and exported with the graph)."""

    mean: Tensor
    std: Tensor

    def __init__(self, channels: int, dims: int) -> None:
        super().__init__()
        shape = (1, channels) + (1,) * dims
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


class SeriesEncoder(nn.Module):
    """1-D convolutions over a raw window (IMU) or log-mel frames (audio), any length.

    With ``magnitude`` (inertial sensors) the norm of each x/y/z triplet is added as a channel:
    it does not change when the device is carried another way round. With ``spectrum`` the log
    power spectrum of that norm over the window, on a fixed 25 Hz grid, feeds the token too (as
    in DeepSense): the step rate, which tells a brisk walk from a jog whatever the amplitude,
    is one bin of it, where the convolutions only see a few tenths of a second at a time.
    ``spectrum_hz`` keeps the bins up to that frequency: the shipped network keeps the gait
    band (5 Hz); with the whole band it learnt to read the jolts of a real trouser pocket as
    a vehicle's vibration on some training runs (see fusion/README.md).
    """

    SPECTRUM_STEPS = 50  # 2 s at 25 Hz: 0.5 Hz bins up to 12.5 Hz, any input rate
    dft_cos: Tensor
    dft_sin: Tensor

    def __init__(self, channels: int, dim: int, width: int, magnitude: bool = False,
                 spectrum: bool = False, spectrum_hz: float = 12.5) -> None:
        super().__init__()
        self.norm = Normalise(channels, 1)
        self.magnitude = magnitude and channels % 3 == 0
        cin = channels + channels // 3 if self.magnitude else channels
        self.body = nn.Sequential(
            nn.Conv1d(cin, width, 5, 2, 2, bias=False), nn.BatchNorm1d(width), nn.ReLU(),
            SeparableConv1d(width, 2 * width, 5, 2), SeparableConv1d(2 * width, dim, 5, 2))
        self.proj = nn.Linear(2 * dim, dim)
        self.use_spectrum = self.magnitude and spectrum
        if self.use_spectrum:
            n = self.SPECTRUM_STEPS
            bins = min(n // 2, int(spectrum_hz * n / 25.0)) + 1  # 0.5 Hz apart
            k = torch.arange(bins, dtype=torch.float64)
            angle = 2 * math.pi * torch.arange(n, dtype=torch.float64)[:, None] * k / n
            self.register_buffer("dft_cos", angle.cos().float())
            self.register_buffer("dft_sin", angle.sin().float())
            self.spectrum = nn.Linear((channels // 3) * bins, dim)

    def _spectrum(self, mag: Tensor) -> Tensor:
        m = F.interpolate(mag, size=self.SPECTRUM_STEPS, mode="linear", align_corners=False)
        m = m - m.mean(-1, keepdim=True)
        power = (m @ self.dft_cos).pow(2) + (m @ self.dft_sin).pow(2)
        out: Tensor = self.spectrum(torch.log(power + 1e-3).flatten(1))
        return out

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(x)
        extra = None
        if self.magnitude:
            b, c, t = x.shape
            mag = x.reshape(b, c // 3, 3, t).pow(2).sum(2).sqrt()
            x = torch.cat([x, mag], dim=1)
            if self.use_spectrum:
                extra = self._spectrum(mag)
        h = self.body(x)
        token: Tensor = self.proj(torch.cat([h.mean(-1), h.amax(-1)], dim=1))
        return token if extra is None else token + extra


class ImageEncoder(nn.Module):
    """Depthwise-separable CNN for a camera frame at the DNN-mode resolution."""

    def __init__(self, channels: int, dim: int, width: int) -> None:
        super().__init__()
        self.norm = Normalise(channels, 2)
        w = max(8, width // 2)
        self.body = nn.Sequential(
            nn.Conv2d(channels, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
            SeparableConv2d(w, 2 * w, 2), SeparableConv2d(2 * w, 4 * w, 2),
            SeparableConv2d(4 * w, dim, 2))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        token: Tensor = self.proj(self.body(self.norm(x)).mean((-2, -1)))
        return token


class LowRateEncoder(nn.Module):
    """Statistics over a few samples (GPS, light at 1 Hz) and a small MLP."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.norm = Normalise(channels, 1)
        self.mlp = nn.Sequential(nn.Linear(4 * channels, dim), nn.ReLU(), nn.Linear(dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(x)
        mean = x.mean(-1)
        std = (x - mean.unsqueeze(-1)).pow(2).mean(-1).sqrt()
        token: Tensor = self.mlp(torch.cat([mean, std, x.amin(-1), x.amax(-1)], dim=1))
        return token


def make_encoder(name: str, spec: ModalityInput, dim: int, width: int,
                 spectrum: bool = False, spectrum_hz: float = 12.5) -> nn.Module:
    if spec.kind == "series":
        return SeriesEncoder(spec.channels, dim, width, magnitude=is_inertial(name),
                             spectrum=spectrum, spectrum_hz=spectrum_hz)
    if spec.kind == "image":
        return ImageEncoder(spec.channels, dim, width)
    return LowRateEncoder(spec.channels, dim)


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
                 spectrum: bool | Sequence[str] = False, spectrum_hz: float = 12.5) -> None:
        super().__init__()
        self.settings = {"dim": dim, "width": width, "heads": heads, "layers": layers,
                         "spectrum": spectrum if isinstance(spectrum, bool) else list(spectrum),
                         "spectrum_hz": spectrum_hz}
        self.modalities = dict(modalities)
        self.order = list(self.modalities)
        self.tasks = {t: list(c) for t, c in tasks.items()}
        self.dim = dim
        wants = set(self.modalities) if spectrum is True else set(spectrum or ())
        self.encoders = nn.ModuleDict({m: make_encoder(m, s, dim, width, m in wants, spectrum_hz)
                                       for m, s in self.modalities.items()})
        self.fusion = MaskedFusion(len(self.order), dim, heads, layers)
        self.heads = nn.ModuleDict({t: nn.Linear(dim, len(c)) for t, c in self.tasks.items()})
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
