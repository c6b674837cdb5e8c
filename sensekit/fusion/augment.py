"""Sensor-realistic augmentation, and the controller's configurations drawn during training.

- x/y/z inputs (accelerometer, gyroscope, magnetometer: ``ModalityInput.xyz``): a random
  rotation of the body frame (the same one for all of them, as a phone turned in a pocket), a
  gain on the motion (placement: hip, wrist, bag), a constant bias per channel, white noise,
  and a time warp.
- Camera: illumination gain, a shading gradient, blur, and a scale change (crop and resize).
- Log-mel spectrograms (inputs made by the ``logmel`` feature extractor): gain (a shift in
  the log domain) and mixing with noise.
- Configuration: modality dropout (a sensor switched off for the whole window, as the controller
  does) and rate augmentation (each modality resampled to a rate of the controller's set).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

from .inputs import ModalityInput

__all__ = ["Augment", "draw_configuration", "is_spectrogram", "resample", "rotation_matrices"]


@dataclass(frozen=True)
class Augment:
    """Strengths of each augmentation (0 switches one off)."""

    rotate_deg: float = 30.0
    placement_gain: float = 1.0
    bias: float = 0.05
    noise: float = 0.02
    time_warp: float = 0.1
    illumination: float = 0.4
    shading: float = 0.3
    blur_p: float = 0.3
    scale: float = 0.2
    audio_gain_db: float = 6.0
    audio_noise: float = 0.3

    def __call__(self, inputs: dict[str, Tensor], mods: Mapping[str, ModalityInput],
                 gen: torch.Generator) -> dict[str, Tensor]:
        """Augmented copies of ``inputs`` (batch-first tensors at their current rates)."""
        out = dict(inputs)
        b = next(iter(inputs.values())).shape[0]
        rot = rotation_matrices(b, self.rotate_deg, gen)
        for name, x in inputs.items():
            spec = mods[name]
            if spec.kind == "image":
                out[name] = self._image(x, gen)
            elif spec.kind == "series" and spec.xyz:
                out[name] = self._inertial(x, rot, gen)
            elif spec.kind == "series" and is_spectrogram(spec):
                out[name] = self._logmel(x, gen)
        return out

    def _inertial(self, x: Tensor, rot: Tensor, gen: torch.Generator) -> Tensor:
        b, c, t = x.shape
        if self.placement_gain > 1:  # motion felt at a hip, a wrist or in a bag differs in size
            mean = x.mean(-1, keepdim=True)
            g = math.log(self.placement_gain) * (2 * torch.rand(b, 1, 1, generator=gen) - 1)
            x = mean + (x - mean) * g.exp()
        if c % 3 == 0 and self.rotate_deg > 0:
            x = torch.einsum("bij,bgjt->bgit", rot, x.reshape(b, c // 3, 3, t)).reshape(b, c, t)
        scale = x.detach().abs().mean((0, 2), keepdim=True) + 1e-3
        x = x + self.bias * scale * torch.randn(b, c, 1, generator=gen)
        x = x + self.noise * scale * torch.randn(x.shape, generator=gen)
        return time_warp(x, self.time_warp, gen)

    def _image(self, x: Tensor, gen: torch.Generator) -> Tensor:
        b, _, h, w = x.shape
        gain = 1 + self.illumination * (2 * torch.rand(b, 1, 1, 1, generator=gen) - 1)
        ramp = torch.linspace(-1, 1, w).view(1, 1, 1, w)
        shade = 1 + self.shading * (2 * torch.rand(b, 1, 1, 1, generator=gen) - 1) * ramp
        x = (x * gain * shade).clamp(0, 1)
        if self.blur_p > 0 and torch.rand(1, generator=gen).item() < self.blur_p:
            kernel = torch.ones(x.shape[1], 1, 3, 3) / 9
            x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])
        if self.scale > 0:
            frac = 1 - self.scale * torch.rand(1, generator=gen).item()
            ch, cw = max(4, int(h * frac)), max(4, int(w * frac))
            top = int(torch.randint(0, h - ch + 1, (1,), generator=gen))
            left = int(torch.randint(0, w - cw + 1, (1,), generator=gen))
            x = F.interpolate(x[:, :, top:top + ch, left:left + cw], size=(h, w),
                              mode="bilinear", align_corners=False)
        return x

    def _logmel(self, x: Tensor, gen: torch.Generator) -> Tensor:
        b = x.shape[0]
        gain = self.audio_gain_db / 10 * math.log(10) * (2 * torch.rand(b, 1, 1, generator=gen)
                                                          - 1)
        x = x + gain
        if self.audio_noise > 0:  # mix with noise: add powers, back to the log domain
            level = x.mean((1, 2), keepdim=True) + math.log(self.audio_noise + 1e-6)
            noise = level + 0.5 * torch.randn(x.shape, generator=gen)
            x = torch.logaddexp(x, noise)
        return x


def is_spectrogram(spec: ModalityInput) -> bool:
    """Whether the input is a log-mel spectrogram (its first source's extractor)."""
    return bool(spec.sources) and spec.sources[0].features == "logmel"


def rotation_matrices(n: int, max_deg: float, gen: torch.Generator) -> Tensor:
    """``n`` random rotations about random axes, by up to ``max_deg`` degrees (Rodrigues)."""
    axis = torch.randn(n, 3, generator=gen)
    axis = axis / axis.norm(dim=1, keepdim=True)
    angle = math.radians(max_deg) * (2 * torch.rand(n, generator=gen) - 1)
    k = torch.zeros(n, 3, 3)
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k = k - k.transpose(1, 2)
    s, c = angle.sin()[:, None, None], angle.cos()[:, None, None]
    return torch.eye(3).expand(n, 3, 3) + s * k + (1 - c) * (k @ k)


def time_warp(x: Tensor, amount: float, gen: torch.Generator) -> Tensor:
    """Play the window faster or slower by up to ``amount`` (fraction), keeping its length."""
    if amount <= 0:
        return x
    t = x.shape[-1]
    factor = 1 + amount * (2 * torch.rand(1, generator=gen).item() - 1)
    stretched = F.interpolate(x, size=max(2, round(t * factor)), mode="linear",
                              align_corners=False)
    if stretched.shape[-1] >= t:
        return stretched[..., :t]
    return F.pad(stretched, (0, t - stretched.shape[-1]), mode="replicate")


def resample(x: Tensor, spec: ModalityInput, rate: float, *, average: bool = False,
             phase: float = 0.0) -> Tensor:
    """``x`` (at the native rate) as the sensor would deliver it at ``rate``.

    A slower IMU rate is decimation by default: the MPU-6050 driver lowers the sample-rate
    divider and keeps its low-pass filter, so it hands over every k-th sample (from a position
    ``phase`` in [0, 1) of a period). ``average`` gives a sensor that averages instead.
    """
    if rate == spec.native:
        return x
    if spec.kind == "image":
        size = int(rate)
        return F.interpolate(x, size=(size, size), mode="area")
    steps = spec.steps(rate)
    if spec.kind == "lowrate" or steps >= x.shape[-1]:
        return F.interpolate(x, size=steps, mode="nearest")
    if average:
        return F.adaptive_avg_pool1d(x, steps)
    period = x.shape[-1] / steps
    idx = (torch.arange(steps, dtype=torch.float64) * period + phase * period).long()
    return x[..., idx.clamp(max=x.shape[-1] - 1)]


def draw_configuration(mods: Mapping[str, ModalityInput], gen: torch.Generator,
                       rate_augment: bool = True) -> dict[str, float]:
    """A random rate per modality from the controller's set."""
    out = {}
    for name, spec in mods.items():
        if rate_augment and len(spec.rates_hz) > 1:
            i = int(torch.randint(0, len(spec.rates_hz), (1,), generator=gen))
            out[name] = spec.rates_hz[i]
        else:
            out[name] = spec.native
    return out
