"""The multi-modal, multi-resolution fusion network (needs the fusion extra: torch).

``import sensekit.fusion`` stays light (no torch): the training side is imported on first use
of :func:`create_model` and friends, and :mod:`sensekit.fusion.runtime` runs exported networks
under ONNX Runtime without torch.

The network's inputs are the declared modalities (:mod:`sensekit.modalities`); encoders and
task heads are registered by name (:mod:`sensekit.fusion.encoders`), as are the feature
extractors (:mod:`sensekit.fusion.features`) and the tasks (:mod:`sensekit.fusion.tasks`).

Example::

    from sensekit.fusion import create_model, sensor_modalities
    from sensekit.fusion.tasks import classes_of
    net = create_model("fusion_small", modalities=sensor_modalities(),
                       tasks=classes_of(["activity", "transport"]))
"""

from __future__ import annotations

import importlib
from typing import Any

from .inputs import (
    Configuration,
    ModalityInput,
    Source,
    configurations,
    default_configuration,
    sensor_modalities,
)

__all__ = ["Configuration", "ModalityInput", "Source", "configurations", "create_model",
           "default_configuration", "list_models", "load_model", "sensor_modalities"]

_LAZY = {"create_model": "sensekit.fusion.model", "list_models": "sensekit.fusion.model",
         "load_model": "sensekit.fusion.weights"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from .._optional import require

        require("torch", extra="train", what=f"sensekit.fusion.{name}")
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sensekit.fusion' has no attribute {name!r}")
