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

        A series delivered at the steps of a rate the network was trained for is fed as
        delivered (a lowered rate reaches the network as such). One that arrives otherwise (a
        phone's accelerometer at 3 Hz, a rate the network was not trained for) is brought to
        the steps of the trained rate nearest its configured one, as ``sensekit train`` and
        ``evaluate`` store windows.
        """
        mods = {m: self.modalities[m] for m in config.modalities if m in self.modalities}
        feats = window_inputs(window, mods, config.rates)
        return {m: (x if _trained(x, mods[m]) else fit_rate(
            x, mods[m], _nearest_trained(mods[m], config.rates.get(m))))[None]
            for m, x in feats.items()}

    def reset(self) -> None:
        """A new recording starts: a context network forgets the windows it saw."""
        reset = getattr(self.net, "reset", None)
        if callable(reset):
            reset()

    @property
    def window_s(self) -> float:
        """The window length the network was trained on."""
        own = getattr(self.net, "window_s", None)
        if isinstance(own, (int, float)):
            return float(own)
        return float(next(iter(self.modalities.values())).window_s)

    def _probs(self, batch: Mapping[str, np.ndarray], t_ns: int,
               present: Mapping[str, np.ndarray] | None = None, *,
               commit: bool = True) -> np.ndarray:
        """The task's probabilities for one window; a context network reads it with the
        windows before it and remembers it unless ``commit`` is False (what-if passes, the
        latency measurement)."""
        at = getattr(self.net, "predict_at", None)
        if callable(at):
            return np.asarray(at(batch, t_ns, present, commit=commit)[self.task][0])
        return np.asarray(self.net.predict(batch, present)[self.task][0])

    def predict(self, window: Window, config: Configuration, *,
                explain: bool = False) -> Prediction:
        """Prediction and confidence; with ``explain``, also which modalities the prediction
        did not need.

        A modality is redundant when masking it out (the fusion's presence mask, as if the
        sensor were off) leaves the predicted class unchanged and the confidence at or above
        ``redundant_confidence``. Those extra passes are charged with the inference
        (:meth:`joules` with ``explain``).
        """
        if config not in self._latency:
            self._latency[config] = self._measure(window, config)
        batch = self.inputs(window, config)
        if not batch:
            return Prediction(-1, 0.0)
        t_ns = int(window.t_start_ns)
        probs = self._probs(batch, t_ns)
        k = int(np.argmax(probs))
        if not explain:
            return Prediction(int(self._index[k]), float(probs[k]))
        redundant = frozenset(m for m in batch if len(batch) > 1
                              and self._unneeded(batch, m, k, t_ns))
        return Prediction(int(self._index[k]), float(probs[k]), redundant)

    def predict_many(self, windows: Sequence[Window], config: Configuration,
                     numbers: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Class index (-1: nothing usable) and confidence of each window of one recording,
        in order (a static configuration's whole recording); ``numbers``: each window's
        number on the recording's grid (default: consecutive), a context network's order."""
        if windows and config not in self._latency:
            self._latency[config] = self._measure(windows[0], config)
        grid = list(range(len(windows))) if numbers is None else list(numbers)
        return self.predict_inputs([self.inputs(w, config) for w in windows], grid)

    def modality_input(self, window: Window, modality: str, rate: float) -> np.ndarray | None:
        """One modality's network input of ``window`` at ``rate`` (batch axis included), as
        :meth:`inputs` makes it: what a static front caches per modality setting."""
        return self.inputs(window, Configuration({modality: rate})).get(modality)

    def predict_inputs(self, inputs: Sequence[Mapping[str, np.ndarray]],
                       numbers: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Class index (-1: no input) and confidence for windows' ready inputs, in order, in
        batches of the windows whose inputs have the same shapes (a context network: one
        sequence, ``numbers`` being the windows' numbers on the recording's grid)."""
        index = np.full(len(inputs), -1, np.int64)
        conf = np.zeros(len(inputs))
        items = [(i, dict(x)) for i, x in enumerate(inputs) if x]
        if _reads_context(self.net):
            return self._sequence(items, np.asarray(numbers), index, conf)
        groups: dict[tuple[Any, ...], list[tuple[int, dict[str, np.ndarray]]]] = {}
        for i, x in items:
            groups.setdefault(tuple(sorted((m, v.shape) for m, v in x.items())),
                              []).append((i, x))
        for group in groups.values():
            for lo in range(0, len(group), 256):
                chunk = group[lo:lo + 256]
                batch = {m: np.concatenate([x[m] for _, x in chunk]) for m in chunk[0][1]}
                probs = self.net.predict(batch)[self.task]
                k = probs.argmax(axis=1)
                rows = np.array([i for i, _ in chunk])
                index[rows] = self._index[k]
                conf[rows] = probs[np.arange(len(k)), k]
        return index, conf

    def time_inputs(self, config: Configuration, features_s: float,
                    sample: Mapping[str, np.ndarray], runs: int = 5) -> None:
        """Set ``config``'s latency from its features' measured time and the network's median
        time on ``sample`` (one window's inputs), unless it is known already."""
        if config in self._latency or not sample:
            return
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            self._probs(sample, 0, commit=False)
            times.append(time.perf_counter() - start)
        self._latency[config] = features_s + float(np.median(times))
        self.reset()

    def _sequence(self, items: Sequence[tuple[int, dict[str, np.ndarray]]],
                  grid: np.ndarray, index: np.ndarray, conf: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """A context network over the windows with inputs, in order; a modality a window
        lacks is fed as zeros and marked absent."""
        if not items:
            return index, conf
        mods = sorted({m for _, x in items for m in x})
        shapes = {m: next(x[m].shape[1:] for _, x in items if m in x) for m in mods}
        batch = {m: np.concatenate([x[m] if m in x else np.zeros((1, *shapes[m]), np.float32)
                                    for _, x in items]) for m in mods}
        present = {m: np.array([m in x for _, x in items]) for m in mods}
        rows = np.array([i for i, _ in items])
        probs = self.net.predict_sequence(batch, grid[rows].astype(np.int64), None,
                                          present)[self.task]
        k = probs.argmax(axis=1)
        index[rows] = self._index[k]
        conf[rows] = probs[np.arange(len(k)), k]
        return index, conf

    def _unneeded(self, batch: Mapping[str, np.ndarray], modality: str, k: int,
                  t_ns: int) -> bool:
        without = self._probs(batch, t_ns, {modality: np.zeros(1, bool)}, commit=False)
        return int(np.argmax(without)) == k and float(without[k]) >= self.redundant_confidence

    def joules(self, config: Configuration, *, explain: bool = False) -> float:
        """Energy of one inference in ``config`` (and, with ``explain``, its redundancy
        passes): measured latency, features included, times a busy core's extra power."""
        passes = 1 + len(config.modalities) if explain else 1
        return self._latency.get(config, 0.0) * self.busy_w * passes

    def latency_s(self, config: Configuration) -> float | None:
        return self._latency.get(config)

    def _measure(self, window: Window, config: Configuration, runs: int = 5) -> float:
        """Median seconds from window to prediction (features and network) in ``config``."""
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            batch = self.inputs(window, config)
            if batch:
                self._probs(batch, int(window.t_start_ns), commit=False)
            times.append(time.perf_counter() - start)
        return float(np.median(times))


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


def _reads_context(net: Any) -> bool:
    """Whether ``net`` reads each window with the ones before it: it predicts sequences and,
    where it has an exported manifest, that manifest is a context network's."""
    if not callable(getattr(net, "predict_sequence", None)):
        return False
    manifest = getattr(net, "manifest", None)
    return not isinstance(manifest, Mapping) or manifest.get("layout") == "context"


def _trained(x: np.ndarray, spec: ModalityInput) -> bool:
    """Whether ``x`` has the steps of one of the rates the network was trained for."""
    return spec.kind != "series" or x.shape[-1] in {spec.steps(r) for r in spec.rates_hz}


def _nearest_trained(spec: ModalityInput, rate: float | None) -> float:
    """The trained rate nearest ``rate`` (the native one without a rate)."""
    if rate is None:
        return spec.native
    return min(spec.rates_hz, key=lambda r: (abs(r - rate), -r))
