"""Modality encoders, registered by name: each turns one modality's input into one token.

A modality's :class:`~sensekit.fusion.inputs.ModalityInput` names its encoder (``encoder``,
by default the one named like its layout). Built-ins sit in the lazy table :data:`ENCODERS`;
a third-party encoder registers in the ``sensekit.encoders`` entry-point group. An encoder is
an :class:`Encoder`: built by :meth:`Encoder.from_input` from the input declaration and the
network's settings, it maps (B, C, T) or (B, C, H, W) to a (B, dim) token.

- ``series``: 1-D convolutions over a raw window (IMU) or log-mel frames (audio), any length;
  for x/y/z inputs the norm of each triplet and, optionally, its gait-band spectrum.
- ``image``: a depthwise-separable CNN for a camera frame at the DNN-mode resolution.
- ``lowrate``: statistics over however many samples the window holds (GPS, light) and an MLP.
- ``stats``: rate-free window statistics (``features`` layout), standardised, and an MLP.

Task heads are registered the same way (:data:`HEADS`, ``sensekit.heads``): a head maps the
fused token to one task's logits.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

from .._registry import names as registry_names
from .._registry import resolve
from .inputs import ModalityInput

__all__ = ["ENCODERS", "HEADS", "Encoder", "ImageEncoder", "LinearHead", "LowRateEncoder",
           "Normalise", "SeriesEncoder", "StatsEncoder", "TaskHead", "encoder_names",
           "make_encoder", "make_head", "register_encoder", "register_head"]

ENCODER_ENTRY_POINTS = "sensekit.encoders"
HEAD_ENTRY_POINTS = "sensekit.heads"


class Encoder(nn.Module):
    """Base of registered encoders: one modality's input to a (B, dim) token."""

    @classmethod
    def from_input(cls, spec: ModalityInput, *, dim: int, width: int, spectrum: bool = False,
                   spectrum_hz: float = 12.5) -> Encoder:
        """The encoder for ``spec`` in a network of token size ``dim`` and width ``width``;
        ``spectrum``/``spectrum_hz``: the network asks for the frequency band of x/y/z
        inputs (encoders that have none ignore it)."""
        raise NotImplementedError(f"{cls.__name__} does not say how it is built")


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


class SeriesEncoder(Encoder):
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

    @classmethod
    def from_input(cls, spec: ModalityInput, *, dim: int, width: int, spectrum: bool = False,
                   spectrum_hz: float = 12.5) -> SeriesEncoder:
        return cls(spec.channels, dim, width, magnitude=spec.xyz, spectrum=spectrum,
                   spectrum_hz=spectrum_hz)

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


class ImageEncoder(Encoder):
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

    @classmethod
    def from_input(cls, spec: ModalityInput, *, dim: int, width: int, spectrum: bool = False,
                   spectrum_hz: float = 12.5) -> ImageEncoder:
        return cls(spec.channels, dim, width)

    def forward(self, x: Tensor) -> Tensor:
        token: Tensor = self.proj(self.body(self.norm(x)).mean((-2, -1)))
        return token


class LowRateEncoder(Encoder):
    """Statistics over however many samples the window holds (GPS, light) and a small MLP."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.norm = Normalise(channels, 1)
        self.mlp = nn.Sequential(nn.Linear(4 * channels, dim), nn.ReLU(), nn.Linear(dim, dim))

    @classmethod
    def from_input(cls, spec: ModalityInput, *, dim: int, width: int, spectrum: bool = False,
                   spectrum_hz: float = 12.5) -> LowRateEncoder:
        return cls(spec.channels, dim)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(x)
        mean = x.mean(-1)
        std = (x - mean.unsqueeze(-1)).pow(2).mean(-1).sqrt()
        token: Tensor = self.mlp(torch.cat([mean, std, x.amin(-1), x.amax(-1)], dim=1))
        return token


class StatsEncoder(Encoder):
    """Window statistics (``features`` layout, :mod:`sensekit.fusion.window_stats`):
    standardised with the training windows' mean and std per feature, then a two-layer MLP."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.norm = Normalise(channels, 1)
        self.mlp = nn.Sequential(nn.Linear(channels, dim), nn.GELU(), nn.Linear(dim, dim))

    @classmethod
    def from_input(cls, spec: ModalityInput, *, dim: int, width: int, spectrum: bool = False,
                   spectrum_hz: float = 12.5) -> StatsEncoder:
        return cls(spec.channels, dim)

    def forward(self, x: Tensor) -> Tensor:
        token: Tensor = self.mlp(self.norm(x).flatten(1))
        return token


#: Built-in encoders: name -> (module, class).
ENCODERS: dict[str, tuple[str, str]] = {
    "series": (__name__, "SeriesEncoder"),
    "image": (__name__, "ImageEncoder"),
    "lowrate": (__name__, "LowRateEncoder"),
    "stats": (__name__, "StatsEncoder"),
}


def register_encoder(name: str) -> Callable[[type[Encoder]], type[Encoder]]:
    """Register an encoder class under ``name`` (a class decorator, as timm registers models)."""
    def add(cls: type[Encoder]) -> type[Encoder]:
        ENCODERS[name] = (cls.__module__, cls.__qualname__)
        return cls
    return add


def encoder_names() -> list[str]:
    """Every registered encoder."""
    return registry_names(ENCODERS, ENCODER_ENTRY_POINTS)


def make_encoder(spec: ModalityInput, dim: int, width: int, spectrum: bool = False,
                 spectrum_hz: float = 12.5) -> Encoder:
    """The registered encoder ``spec.encoder``, built for ``spec``."""
    cls: type[Encoder] = resolve("encoder", spec.encoder, ENCODERS, ENCODER_ENTRY_POINTS,
                                 Encoder)
    return cls.from_input(spec, dim=dim, width=width, spectrum=spectrum,
                          spectrum_hz=spectrum_hz)


class TaskHead(nn.Module):
    """Base of registered task heads: the fused (B, dim) token to (B, classes) logits."""

    @classmethod
    def from_task(cls, dim: int, classes: int) -> TaskHead:
        raise NotImplementedError(f"{cls.__name__} does not say how it is built")


class LinearHead(nn.Linear, TaskHead):
    """One linear layer: what every shipped head is."""

    @classmethod
    def from_task(cls, dim: int, classes: int) -> LinearHead:
        return cls(dim, classes)


#: Built-in task heads: name -> (module, class).
HEADS: dict[str, tuple[str, str]] = {"linear": (__name__, "LinearHead")}


def register_head(name: str) -> Callable[[type[TaskHead]], type[TaskHead]]:
    """Register a task head class under ``name`` (a class decorator)."""
    def add(cls: type[TaskHead]) -> type[TaskHead]:
        HEADS[name] = (cls.__module__, cls.__qualname__)
        return cls
    return add


def make_head(kind: str, dim: int, classes: int) -> TaskHead:
    """The registered head ``kind`` for ``classes`` classes."""
    cls: type[TaskHead] = resolve("task head", kind, HEADS, HEAD_ENTRY_POINTS, TaskHead)
    return cls.from_task(dim, classes)

