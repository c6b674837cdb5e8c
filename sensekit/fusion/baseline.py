"""DeepConvLSTM (Ordonez and Roggen, Sensors 2016, 16(1):115): the baseline to beat.

Configuration of the paper (section 3.2 and Figure 2): four convolutions of 64 filters with a
(5 x 1) kernel over time, each sensor channel convolved separately, then two LSTM layers of 128
units and a softmax layer on the last time step. It takes one early-fused tensor: every modality
resampled to the IMU rate and stacked as channels (absent modalities are zeros, as an
early-fusion network has no other way to say "missing").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

from .encoders import Normalise
from .inputs import ModalityInput
from .model import register_model

__all__ = ["DeepConvLSTM", "baseline_channels", "stack_for_baseline"]


def baseline_channels(mods: Mapping[str, ModalityInput]) -> int:
    """Channels of the early-fused tensor: images contribute their mean colour per frame."""
    return sum(m.channels for m in mods.values())


def stack_for_baseline(inputs: Mapping[str, Tensor], mods: Mapping[str, ModalityInput],
                       steps: int, present: Mapping[str, Tensor] | None = None) -> Tensor:
    """Resample every modality to ``steps`` time steps and stack them as channels (B, C, T)."""
    ref = next(iter(inputs.values()))
    parts = []
    for name, spec in mods.items():
        if name not in inputs:
            parts.append(ref.new_zeros(ref.shape[0], spec.channels, steps))
            continue
        x = inputs[name]
        if spec.kind == "image":  # one frame per window: its mean colour, held over time
            x = x.mean((-2, -1)).unsqueeze(-1)
        x = F.interpolate(x, size=steps, mode="nearest" if x.shape[-1] < steps else "linear")
        if present is not None and name in present:
            x = x * present[name].to(x.dtype)[:, None, None]
        parts.append(x)
    return torch.cat(parts, dim=1)


class DeepConvLSTM(nn.Module):
    """Four (5 x 1) convolutions of 64 filters, two LSTM layers of 128 units, one head per task."""

    temperature: Tensor

    def __init__(self, modalities: Mapping[str, ModalityInput],
                 tasks: Mapping[str, Sequence[str]], *, filters: int = 64, hidden: int = 128,
                 steps: int | None = None) -> None:
        super().__init__()
        self.modalities = dict(modalities)
        self.tasks = {t: list(c) for t, c in tasks.items()}
        first = next(iter(self.modalities.values()))
        self.steps = steps or first.steps()
        channels = baseline_channels(self.modalities)
        self.norm = Normalise(channels, 1)
        convs: list[nn.Module] = []
        for i in range(4):
            convs += [nn.Conv2d(1 if i == 0 else filters, filters, (5, 1)), nn.ReLU()]
        self.convs = nn.Sequential(*convs)
        self.lstm = nn.LSTM(filters * channels, hidden, num_layers=2, batch_first=True,
                            dropout=0.5)
        self.heads = nn.ModuleDict({t: nn.Linear(hidden, len(c)) for t, c in self.tasks.items()})
        self.register_buffer("temperature", torch.ones(len(self.tasks)))

    def forward_stacked(self, x: Tensor) -> dict[str, Tensor]:
        """Logits from the early-fused tensor (B, C, T)."""
        h = self.convs(self.norm(x).transpose(1, 2).unsqueeze(1))  # (B, F, T', C)
        b, f, t, c = h.shape
        out, _ = self.lstm(h.permute(0, 2, 1, 3).reshape(b, t, f * c))
        last = out[:, -1]
        return {name: self.heads[name](last) / self.temperature[i]
                for i, name in enumerate(self.tasks)}

    def forward(self, inputs: Mapping[str, Tensor],
                present: Mapping[str, Tensor] | None = None) -> dict[str, Tensor]:
        return self.forward_stacked(stack_for_baseline(inputs, self.modalities, self.steps,
                                                       present))


@register_model
def deepconvlstm(*, modalities: Mapping[str, ModalityInput],
                 tasks: Mapping[str, Sequence[str]], **kw: Any) -> DeepConvLSTM:
    """DeepConvLSTM in the configuration of Ordonez and Roggen 2016."""
    return DeepConvLSTM(modalities, tasks, **kw)
