"""Encoders, task heads and tasks are registered by name; tasks say how labels follow."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import Tensor

import sensekit.fusion as fusion
from sensekit.errors import ConfigError
from sensekit.fusion.encoders import (
    Encoder,
    LinearHead,
    TaskHead,
    encoder_names,
    register_encoder,
    register_head,
)
from sensekit.fusion.inputs import ModalityInput
from sensekit.fusion.recordings import labels_of
from sensekit.fusion.tasks import classes_of, get


@register_encoder("mean_pool")
class MeanPool(Encoder):
    """The window's mean per channel, projected: the smallest encoder there is."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(channels, dim)

    @classmethod
    def from_input(cls, spec: ModalityInput, *, dim: int, width: int, spectrum: bool = False,
                   spectrum_hz: float = 12.5) -> MeanPool:
        return cls(spec.channels, dim)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.proj(x.mean(-1))
        return out


@register_head("two_layer")
class TwoLayer(TaskHead):
    def __init__(self, dim: int, classes: int) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(dim, dim), torch.nn.ReLU(),
                                        torch.nn.Linear(dim, classes))

    @classmethod
    def from_task(cls, dim: int, classes: int) -> TwoLayer:
        return cls(dim, classes)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.body(x)
        return out


def test_an_encoder_and_a_head_registered_by_name_build_into_the_network() -> None:
    assert {"series", "image", "lowrate", "mean_pool"} <= set(encoder_names())
    mods = {"baro": ModalityInput("lowrate", 1, (1.0,), encoder="mean_pool")}
    net = fusion.create_model("fusion_tiny", modalities=mods,
                              tasks={"floor": ["same", "up", "down"]},
                              task_heads={"floor": "two_layer"})
    assert isinstance(net.encoders["baro"], MeanPool)
    assert isinstance(net.heads["floor"], TwoLayer)
    assert net.build_info["kwargs"]["task_heads"] == {"floor": "two_layer"}
    out = net.eval()({"baro": torch.zeros(2, 1, 5)})
    assert out["floor"].shape == (2, 3)
    with pytest.raises(ConfigError, match=r"unknown encoder 'mean_pol'.*mean_pool"):
        fusion.create_model("fusion_tiny", tasks={"floor": ["a", "b"]},
                            modalities={"baro": replace(mods["baro"], encoder="mean_pol")})


def test_the_transport_head_is_declared_beside_the_activity_head() -> None:
    tasks = classes_of(["activity", "transport"])
    assert tasks["transport"] == ["still", "walking", "car", "bus", "train"]
    net = fusion.create_model("fusion_tiny", modalities=fusion.sensor_modalities(),
                              tasks=tasks)
    assert isinstance(net.heads["transport"], LinearHead)
    assert net.heads["transport"].out_features == 5


def test_labels_follow_from_the_task_a_recording_labels() -> None:
    tasks = [get(t) for t in ("activity", "transport", "locomotion")]
    bus = labels_of({"transport": "bus"}, tasks)
    assert bus == {"activity": 4, "transport": 3, "locomotion": 3}  # vehicle, bus, motor
    run = labels_of({"activity": "running"}, tasks)
    assert run == {"activity": 2, "transport": -1, "locomotion": 1}  # no transport mode
    with pytest.raises(ConfigError, match="transport label 'tram' is not a class of task"):
        labels_of({"transport": "tram"}, tasks, "ride.mcap")
