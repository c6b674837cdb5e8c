"""The fusion network as the controller and the policy evaluation use it.

:class:`FusionPredictor` runs an exported network under ONNX Runtime (no torch) on aligned
windows, with only the encoders of the sensors that are on, and charges each inference from
its measured latency on this machine: the extra power a busy core draws over idle (the
platform's power table) times the time it took. Latencies are measured once per configuration
(median of a few runs) so the energy of a policy does not depend on machine noise mid-run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..align import Window
from ..errors import ConfigError
from ..fusion.features import fit_rate, window_inputs
from ..fusion.inputs import Configuration, ModalityInput
from ..power.model import load_power_model
from .evaluate import Prediction

__all__ = ["FusionPredictor", "load_predictor", "rig_predictor"]


class FusionPredictor:
    """Predict one task of an ONNX fusion network from aligned windows.

    Args:
        net: An :class:`sensekit.fusion.runtime.OnnxFusion` (or anything with ``modalities``,
            ``tasks`` and ``predict(inputs)``).
        task: The task whose prediction the controller acts on.
        platform: Power table whose ``cpu_busy`` minus ``idle`` is charged per second of
            inference (one core of the board).
        classes: Class names in the order the evaluation's labels use (default: the network's).
    """

    def __init__(self, net: Any, task: str = "activity", *, platform: str = "pi4",
                 classes: Sequence[str] | None = None,
                 redundant_confidence: float = 0.9) -> None:
        if task not in net.tasks:
            raise ConfigError(f"the network has no task {task!r}; tasks: {list(net.tasks)}")
        self.net = net
        self.task = task
        self.redundant_confidence = redundant_confidence
        self.modalities: Mapping[str, ModalityInput] = net.modalities
        own: list[str] = [str(c) for c in net.tasks[task]]
        self.classes: list[str] = list(classes) if classes is not None else own
        missing = set(own) - set(self.classes)
        if missing:
            raise ConfigError(f"network classes {sorted(missing)} are not among {self.classes}")
        self._index = np.array([self.classes.index(c) for c in own])
        table = load_power_model(platform)
        cores = 4  # Pi 4/5 and Jetson Nano/Orin Nano: cpu_busy is all four cores busy
        self.busy_w = (table.mode("cpu_busy").power_w - table.mode("idle").power_w) / cores
        self._latency: dict[Configuration, float] = {}

    def inputs(self, window: Window, config: Configuration) -> dict[str, np.ndarray]:
        """The network inputs of ``window`` for the modalities ``config`` has on.

        A series that arrives at a rate the network was not trained for (a phone's
        accelerometer at 5 Hz) is brought to the steps of its configured rate, as ``sensekit
        train`` and ``evaluate`` store windows; one at a trained rate is fed as delivered.
        """
        mods = {m: self.modalities[m] for m in config.modalities if m in self.modalities}
        feats = window_inputs(window, mods, config.rates)
        return {m: (x if _trained(x, mods[m]) else fit_rate(x, mods[m], config.rates.get(m)))[None]
                for m, x in feats.items()}

    def predict(self, window: Window, config: Configuration) -> Prediction:
        """Prediction, confidence, and which modalities the prediction did not need.

        A modality is redundant when masking it out (the fusion's presence mask, as if the
        sensor were off) leaves the predicted class unchanged and the confidence at or above
        ``redundant_confidence``. Those extra passes are charged with the inference.
        """
        batch = self.inputs(window, config)
        if not batch:
            return Prediction(-1, 0.0)
        if config not in self._latency:
            self._latency[config] = self._measure(batch, window.t_start_ns)
        probs = self._probs(batch, window.t_start_ns)
        k = int(np.argmax(probs))
        redundant = frozenset(m for m in batch if len(batch) > 1
                              and self._unneeded(batch, m, k, window.t_start_ns))
        return Prediction(int(self._index[k]), float(probs[k]), redundant)

    def _probs(self, batch: Mapping[str, np.ndarray], t_ns: int,
               present: Mapping[str, np.ndarray] | None = None, commit: bool = True
               ) -> np.ndarray:
        """The task's probabilities; a network that reads the windows before this one
        (``predict_at``) remembers it unless ``commit`` is False (what-if passes)."""
        at = getattr(self.net, "predict_at", None)
        if at is not None:
            return np.asarray(at(batch, t_ns, present, commit=commit)[self.task][0])
        return np.asarray(self.net.predict(batch, present)[self.task][0])

    def _unneeded(self, batch: Mapping[str, np.ndarray], modality: str, k: int,
                  t_ns: int) -> bool:
        without = self._probs(batch, t_ns, {modality: np.zeros(1, bool)}, commit=False)
        return int(np.argmax(without)) == k and float(without[k]) >= self.redundant_confidence

    def joules(self, config: Configuration) -> float:
        """Energy of one inference in ``config`` and its redundancy passes: measured latency
        times a busy core's extra power."""
        passes = 1 + len(config.modalities)
        return self._latency.get(config, 0.0) * self.busy_w * passes

    def latency_s(self, config: Configuration) -> float | None:
        return self._latency.get(config)

    def _measure(self, batch: Mapping[str, np.ndarray], t_ns: int, runs: int = 5) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            self._probs(batch, t_ns, commit=False)
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    @property
    def window_s(self) -> float:
        """The window length the network was trained on."""
        return float(getattr(self.net, "window_s", 2.0))


def load_predictor(model: str, platform: str = "pi4", task: str = "activity",
                   classes: Sequence[str] | None = None) -> FusionPredictor:
    """The network named ``model`` (a shipped name such as ``default``, or the path of an
    exported ``.onnx.json`` manifest) under ONNX Runtime, as the controller uses it: on a GPU
    provider where the GPU build of ONNX Runtime has one and it is faster here
    (:meth:`~sensekit.fusion.runtime.OnnxFusion.best_provider`), on the CPU otherwise."""
    from ..fusion.runtime import OnnxFusion
    from ..fusion.shipped import SHIPPED, shipped_name

    path = model if model.endswith(".json") else SHIPPED / f"{shipped_name(model)}.onnx.json"
    net = OnnxFusion.best_provider(path)
    return FusionPredictor(net, task, platform=platform, classes=classes or None)


def rig_predictor(rig: Any, platform: str = "pi4") -> FusionPredictor:
    """The network a rig config's controller runs: ``[fusion] weights`` (default: the shipped
    ``default``), acting on ``[fusion] task`` (default ``activity``)."""
    return load_predictor(rig.weights, platform, str(rig.fusion.get("task", "activity")))


def _trained(x: np.ndarray, spec: ModalityInput) -> bool:
    """Whether ``x`` has the steps of one of the rates the network was trained for."""
    return spec.kind != "series" or x.shape[-1] in {spec.steps(r) for r in spec.rates_hz}
