"""The static front of one recording, evaluated cheaply and exactly.

Thousands of static operating points (every subset x rate x mode x duty cycle,
:func:`~sensekit.controller.operating.static_points`) would take days replayed one by one.
Two facts make them cheap without pruning any:

- **What the network sees depends only on the settings of its own inputs.** A static point's
  predictions are those of its *key*: the point restricted to the modalities the network takes.
  Points that differ only in sensors the network does not read (a barometer's rate, the
  light sensor's mode, a GPS the network ignores) share one set of predictions. Each key is
  replayed once, and since a static plan does not change mid-recording, its streams are taken
  whole and cut into windows in one pass (:func:`key_predictions`); a key with a duty-cycled
  input is replayed window by window instead.
- **Each part's energy depends only on what that part does.** A point's sensor energy is the
  sum, over parts, of that part's energy under its option (or asleep), each measured once by
  the same replay and ledger (:func:`part_energy`).

Both use the replay code of :func:`~sensekit.controller.evaluate.evaluate_policy` (devices,
parts, controller, ledger), and ``tests/controller/test_front.py`` checks that a point
evaluated this way equals the same point replayed window by window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..align import StreamSpec, Window, align
from ..fusion.inputs import Configuration
from ..modalities import Modality
from .evaluate import (
    NOTES,
    PolicyResult,
    Predictor,
    Recording,
    accuracy_of,
    confusion,
    detection_delays,
    holds,
    macro_f1_of,
    replay_policy,
    start_replay,
)
from .operating import OperatingPoint
from .policies import Static

__all__ = ["KeyPredictions", "front_flags", "key_of", "key_predictions", "part_energy",
           "static_results"]


@dataclass
class KeyPredictions:
    """What the network predicted each window under one key, and what that cost."""

    truth: npt.NDArray[np.int64]
    pred: npt.NDArray[np.int64]
    processed: int
    compute_j: float
    capped: int


def key_of(point: OperatingPoint, inputs: Sequence[str] | None, rec: Recording,
           decls: Mapping[str, Modality]) -> OperatingPoint:
    """The part of ``point`` the network sees on ``rec``: its input modalities (all, when it
    does not say which it reads) whose streams the recording has."""
    present = {m for m in point.modalities if (inputs is None or m in inputs) and m in decls
               and decls[m].stream_in(rec.streams) is not None}
    return point.restricted(present)


def key_predictions(rec: Recording, key: OperatingPoint, predictor: Predictor, *,
                    decls: Mapping[str, Modality], window_s: float,
                    platform: str) -> KeyPredictions:
    """Replay ``rec`` under the static ``key`` and predict every window."""
    start, end = rec.span_ns
    win_ns = int(window_s * 1e9)
    n = max(0, (end - start) // win_ns)
    truth = rec.label_at(start + np.arange(n, dtype=np.int64) * win_ns + win_ns // 2)
    if not key.rates:
        return KeyPredictions(truth, np.zeros(n, np.int64), 0, 0.0, 0)
    if key.duty:  # the plan changes mid-recording: window by window
        run, replay = replay_policy(rec, Static.of(key), predictor, window_s=window_s,
                                    platform=platform, max_off_s=None, modalities=decls)
        spent = replay.ledger.summary(start, start + n * win_ns).inference_j.get("fusion", 0.0)
        return KeyPredictions(np.asarray(run.truth, np.int64), np.asarray(run.pred, np.int64),
                              run.processed, float(spent), run.capped)
    r = start_replay(rec, Static.of(key), decls, supported=(), platform=platform,
                     max_off_s=None)
    r.controller.step(start)
    r.parts.sync(start)
    hold = holds(r.devices, decls)
    packets = {s: p for s, d in r.devices.items()
               if (p := d.take(start, start + n * win_ns)) is not None and len(p)}
    specs = {s: StreamSpec(rate_hz=r.devices[s].delivered_rate_hz, hold_s=hold.get(s))
             for s in packets}
    by_start = {w.t_start_ns: w for w in align(packets, specs, window_s=window_s,
                                               hop_s=window_s, origin_ns=start)} if packets else {}
    slots = [by_start.get(start + k * win_ns) for k in range(n)]
    present = [k for k, w in enumerate(slots) if w is not None]
    index = np.full(n, -1, np.int64)
    if present:
        index[present] = _predict_all(predictor, [w for w in slots if w is not None],
                                      key.configuration)
    pred = _carried(index)
    processed = int((index >= 0).sum())
    capped = n if r.parts.capped > 0 else 0
    return KeyPredictions(truth, pred, processed,
                          processed * predictor.joules(key.configuration), capped)


def _predict_all(predictor: Predictor, windows: Sequence[Window],
                 config: Configuration) -> npt.NDArray[np.int64]:
    """Class index of each window (-1: nothing usable), batched where the predictor can."""
    many = getattr(predictor, "predict_many", None)
    if callable(many):
        index, _ = many(windows, config)
        return np.asarray(index, np.int64)
    return np.array([predictor.predict(w, config).index for w in windows], np.int64)


def _carried(index: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each window's prediction, the last usable one carried over windows without one (the
    first class before any)."""
    out = np.zeros(len(index), np.int64)
    last = 0
    for k, v in enumerate(index):
        last = int(v) if v >= 0 else last
        out[k] = last
    return out


def part_energy(rec: Recording, point: OperatingPoint, *, decls: Mapping[str, Modality],
                window_s: float, platform: str) -> dict[str, float]:
    """Sensor joules per part over ``rec``'s whole windows with ``point`` static (every part
    it leaves off asleep)."""
    start, end = rec.span_ns
    win_ns = int(window_s * 1e9)
    n = max(0, (end - start) // win_ns)
    r = start_replay(rec, Static.of(point), decls, supported=(), platform=platform,
                     max_off_s=None)
    r.controller.step(start)
    r.parts.sync(start)
    if point.duty:  # the schedule acts each window
        for k in range(1, n + 1):
            t = start + k * win_ns
            r.clock.set_ns(t)
            r.controller.step(t)
            r.parts.sync(t)
    summary = r.ledger.summary(start, start + n * win_ns)
    return {k: float(v) for k, v in summary.by_sensor.items()}


def static_results(rec: Recording, points: Sequence[OperatingPoint], predictor: Predictor, *,
                   decls: Mapping[str, Modality], window_s: float, platform: str = "pi4",
                   battery_wh: float = 10.0) -> list[PolicyResult]:
    """Every point of ``points`` on ``rec``, as :func:`evaluate_policy` would report it with
    a :class:`Static` policy (location error is not computed here: NaN)."""
    mods = getattr(predictor, "modalities", None)
    inputs = list(mods) if isinstance(mods, Mapping) else None
    part_of = {m: d.power.device for m, d in decls.items() if d.power is not None}
    asleep = _asleep(rec, decls, window_s, platform)
    options: dict[OperatingPoint, dict[str, float]] = {}
    keys: dict[OperatingPoint, KeyPredictions] = {}
    out = []
    for point in points:
        energy = dict(asleep)
        for part in {part_of[m] for m in point.modalities if m in part_of}:
            option = point.restricted({m for m in point.modalities if part_of.get(m) == part})
            if option not in options:
                options[option] = part_energy(rec, option, decls=decls, window_s=window_s,
                                              platform=platform)
            energy[part] = options[option].get(part, 0.0)
        key = key_of(point, inputs, rec, decls)
        if key not in keys:
            keys[key] = key_predictions(rec, key, predictor, decls=decls, window_s=window_s,
                                        platform=platform)
        out.append(_row(f"static:{point.name()}", rec, keys[key], energy, window_s, platform,
                        battery_wh, len(predictor.classes)))
    return out


def _asleep(rec: Recording, decls: Mapping[str, Modality], window_s: float,
            platform: str) -> dict[str, float]:
    """Every part asleep throughout."""
    return part_energy(rec, OperatingPoint(Configuration({})), decls=decls, window_s=window_s,
                       platform=platform)


def _row(name: str, rec: Recording, key: KeyPredictions, energy: Mapping[str, float],
         window_s: float, platform: str, battery_wh: float, n_classes: int) -> PolicyResult:
    from ..power.model import load_power_model

    n = len(key.truth)
    duration = n * window_s
    floor = load_power_model(platform).mode("idle").power_w * duration
    sensors = float(sum(energy.values()))
    total = sensors + key.compute_j + floor
    counts = confusion(key.truth, key.pred, n_classes)
    delays = detection_delays(key.truth.tolist(), key.pred.tolist(), window_s) \
        if rec.labelled else []
    life = battery_wh / (total / duration) if total > 0 and duration > 0 else math.inf
    return PolicyResult(
        name, accuracy_of(counts), macro_f1_of(counts), sensors, key.compute_j, floor, total,
        key.processed / max(n, 1), float(np.mean(delays)) if delays else math.nan, math.nan,
        life, duration, dict(energy), 0, list(NOTES),
        {"network": key.compute_j, "scores": 0.0}, key.capped, n, False, counts,
        list(rec.classes))


def front_flags(results: Sequence[PolicyResult]) -> set[str]:
    """Names of the static results on the Pareto front of macro-F1 (higher) against sensor
    plus compute energy (lower)."""
    statics = [r for r in results if r.policy.startswith("static:")
               and not math.isnan(r.macro_f1)]
    ordered = sorted(statics, key=lambda r: (r.sensor_j + r.compute_j, -r.macro_f1))
    front, best = set(), -1.0
    for r in ordered:
        if r.macro_f1 > best:
            front.add(r.policy)
            best = r.macro_f1
    return front
