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
from typing import Any

import numpy as np
import numpy.typing as npt

from ..align import StreamSpec, Window, align
from ..fusion.inputs import Configuration
from ..modalities import Modality, delivering_mode
from .evaluate import (
    NOTES,
    PolicyResult,
    Predictor,
    Recording,
    _delivered,
    _one_window,
    _reset,
    accuracy_of,
    confusion,
    holds,
    macro_f1_of,
    replay_policy,
    start_replay,
)
from .operating import OperatingPoint
from .policies import Static

__all__ = ["FrontTable", "KeyPredictions", "ModalityInputs", "front_flags", "front_table", "key_of",
           "key_predictions", "part_energy", "pool_tables", "static_results"]


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
    does not say which it reads) whose streams the recording has, each mode replaced by the
    first of its part's modes that delivers the same (:func:`_same_delivery`)."""
    present = {m for m in point.modalities if (inputs is None or m in inputs) and m in decls
               and decls[m].stream_in(rec.streams) is not None}
    key = point.restricted(present)
    modes = {m: _same_delivery(decls[m], key, m) for m in key.modes}
    return OperatingPoint(key.configuration, {m: v for m, v in modes.items() if v},
                          key.duty)


def _same_delivery(decl: Modality, key: OperatingPoint, modality: str) -> str | None:
    """The first mode (the delivering one first: None) in which ``decl``'s part hands a
    replay the same samples as in its mode in ``key``: the same decimation path at that
    rate and the same wake-up time (a GPS in power-save gives the recorded fixes as in
    continuous mode; a camera's full readout gives the network the same frame)."""
    from ..power.model import SLEEP, load_power_model

    if decl.power is None:
        return key.modes[modality]
    table = load_power_model(decl.power.model)
    rate = key.rates[modality]

    def signature(mode: str) -> tuple[float | None, float]:
        wake = table.transition(SLEEP, mode)
        return decl.cutoff_hz(mode, rate), wake.time_s if wake is not None else 0.0

    own = signature(key.modes[modality])
    delivering = delivering_mode([decl], table.modes)
    for mode in (delivering, *decl.settings()):
        if mode and mode in table.modes and rate in decl.settings().get(mode, (rate,)) \
                and signature(mode) == own:
            return None if mode == delivering else mode
    return key.modes[modality]


def key_predictions(rec: Recording, key: OperatingPoint, predictor: Predictor, *,
                    decls: Mapping[str, Modality], window_s: float, platform: str,
                    features: dict[Any, ModalityInputs] | None = None) -> KeyPredictions:
    """Replay ``rec`` under the static ``key`` and predict every window.

    With ``features`` (and a predictor that takes ready inputs), each input modality's
    per-window network input is computed once per way its stream delivers it (mode, rate,
    when it woke) and kept there; a key then only runs the network on the inputs it
    gathers."""
    start, end = rec.span_ns
    win_ns = int(window_s * 1e9)
    n = max(0, (end - start) // win_ns)
    truth = rec.label_at(start + np.arange(n, dtype=np.int64) * win_ns + win_ns // 2)
    if not key.rates:
        return KeyPredictions(truth, np.full(n, -1, np.int64), 0, 0.0, 0)
    cached = features is not None and callable(getattr(predictor, "predict_inputs", None))
    if key.duty and not cached:  # the plan changes mid-recording: window by window
        run, replay = replay_policy(rec, Static.of(key), predictor, window_s=window_s,
                                    platform=platform, max_off_s=None, modalities=decls)
        spent = replay.ledger.summary(start, start + n * win_ns).inference_j.get("fusion", 0.0)
        return KeyPredictions(np.asarray(run.truth, np.int64), np.asarray(run.pred, np.int64),
                              run.processed, float(spent), run.capped)
    r = start_replay(rec, Static.of(key), decls, supported=(), platform=platform,
                     max_off_s=None)
    r.controller.step(start)
    r.parts.sync(start)
    if features is not None and cached:
        return _from_features(rec, key, predictor, r, decls, n, win_ns, truth, features)
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
                                      key.configuration, present)
    pred = _carried(index)
    processed = int((index >= 0).sum())
    capped = n if r.parts.capped > 0 else 0
    return KeyPredictions(truth, pred, processed,
                          processed * predictor.joules(key.configuration), capped)


@dataclass
class ModalityInputs:
    """One modality's network input per window of a recording, as one stream setting
    delivers it, and the median seconds its features took."""

    inputs: list[npt.NDArray[np.float32] | None]
    seconds: float


def _from_features(rec: Recording, key: OperatingPoint, predictor: Any, r: Any,
                   decls: Mapping[str, Modality], n: int, win_ns: int,
                   truth: npt.NDArray[np.int64],
                   features: dict[Any, ModalityInputs]) -> KeyPredictions:
    """:func:`key_predictions` from per-modality inputs (cached in ``features``)."""
    start = rec.span_ns[0]
    got: dict[str, ModalityInputs] = {}
    for m in sorted(key.modalities):
        if m in key.duty:
            alone = key.restricted({m})
            if (rec.name, id(predictor), win_ns, alone) not in features:
                features[rec.name, id(predictor), win_ns, alone] = _duty_inputs(
                    rec, alone, predictor, decls, n, win_ns)
            got[m] = features[rec.name, id(predictor), win_ns, alone]
            continue
        stream = decls[m].stream_in(r.devices)
        if stream is None:
            continue
        dev = r.devices[stream]
        tag = (rec.name, id(predictor), win_ns, m, key.rates[m], stream, dev.mode,
               round(dev.delivered_rate_hz, 6), dev.usable_from_ns,
               tuple(sorted(dev.withheld_fields())))
        if tag not in features:
            features[tag] = _modality_inputs(predictor, m, key.rates[m], dev, stream, decls,
                                             start, n, win_ns)
        got[m] = features[tag]
    per_window = [{m: v.inputs[k] for m, v in got.items() if v.inputs[k] is not None}
                  for k in range(n)]
    configs = _configurations(key, start, n, win_ns)
    for config in set(configs):
        mine = {m: v for m, v in got.items() if m in config.modalities}
        sample = next((x for x in per_window if set(x) == set(mine)), None) or next(
            (x for x in per_window if x and set(x) <= set(mine)), {})
        predictor.time_inputs(config, sum(v.seconds for v in mine.values()), sample)
    index, _ = predictor.predict_inputs(per_window, list(range(n)))
    processed = index >= 0
    compute = sum(predictor.joules(c) for c, done in zip(configs, processed, strict=True)
                  if done)
    return KeyPredictions(truth, _carried(index), int(processed.sum()), float(compute),
                          n if r.parts.capped > 0 else 0)


def _configurations(key: OperatingPoint, start: int, n: int, win_ns: int
                    ) -> list[Configuration]:
    """The configuration the static policy of ``key`` plans for each window: a duty-cycled
    modality only in the windows that start while its schedule has it on."""
    policy = Static.of(key)
    return [Configuration({m: r for m, r in key.rates.items()
                           if policy.scheduled(m, start + k * win_ns)}) for k in range(n)]


def _duty_inputs(rec: Recording, point: OperatingPoint, predictor: Any,
                 decls: Mapping[str, Modality], n: int, win_ns: int) -> ModalityInputs:
    """One duty-cycled modality's input per window (None while its schedule has it off or
    it delivered nothing), from a window-by-window replay of it alone: its wake-ups and
    fixes as the schedule has them."""
    import time

    (modality, rate), = point.rates.items()
    start = rec.span_ns[0]
    r = start_replay(rec, Static.of(point), decls, supported=(), platform="pi4",
                     max_off_s=None)
    hold = holds(r.devices, decls)
    carry: dict[str, Any] = {}
    plan = r.controller.step(start)
    r.parts.sync(start)
    out: list[npt.NDArray[np.float32] | None] = [None] * n
    times: list[float] = []
    for k in range(n):
        t0, t1 = start + k * win_ns, start + (k + 1) * win_ns
        r.clock.set_ns(t0)
        packets = _delivered(r.devices, carry, t0, t1)
        specs = {s: StreamSpec(rate_hz=d.delivered_rate_hz, hold_s=hold.get(s))
                 for s, d in r.devices.items()}
        window = _one_window(packets, specs, t0, win_ns / 1e9)
        if window is not None and modality in plan.configuration.modalities:
            began = time.perf_counter()
            out[k] = predictor.modality_input(window, modality, rate)
            times.append(time.perf_counter() - began)
        r.clock.set_ns(t1)
        plan = r.controller.step(t1)
        r.parts.sync(t1)
    return ModalityInputs(out, float(np.median(times)) if times else 0.0)


def _modality_inputs(predictor: Any, modality: str, rate: float, dev: Any, stream: str,
                     decls: Mapping[str, Modality], start: int, n: int,
                     win_ns: int) -> ModalityInputs:
    """The stream taken whole, cut into the recording's windows, one modality's input each."""
    import time

    packet = dev.take(start, start + n * win_ns)
    out: list[npt.NDArray[np.float32] | None] = [None] * n
    times: list[float] = []
    if packet is not None and len(packet):
        spec = StreamSpec(rate_hz=dev.delivered_rate_hz, hold_s=holds({stream: dev}, decls).get(
            stream))
        for w in align({stream: packet}, {stream: spec}, window_s=win_ns / 1e9,
                       hop_s=win_ns / 1e9, origin_ns=start):
            k = (w.t_start_ns - start) // win_ns
            if 0 <= k < n and w.t_start_ns == start + k * win_ns:
                began = time.perf_counter()
                x = predictor.modality_input(w, modality, rate)
                times.append(time.perf_counter() - began)
                out[k] = x
    return ModalityInputs(out, float(np.median(times)) if times else 0.0)


def _predict_all(predictor: Predictor, windows: Sequence[Window], config: Configuration,
                 numbers: Sequence[int]) -> npt.NDArray[np.int64]:
    """Class index of each window (-1: nothing usable), batched where the predictor can;
    ``numbers``: each window's number on the recording's grid (a context network's order)."""
    many = getattr(predictor, "predict_many", None)
    if callable(many):
        index, _ = many(windows, config, numbers)
        return np.asarray(index, np.int64)
    _reset(predictor)
    return np.array([predictor.predict(w, config).index for w in windows], np.int64)


def _carried(index: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each window's prediction, the last usable one carried over windows without one (none,
    -1, before any)."""
    out = np.full(len(index), -1, np.int64)
    last = -1
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


@dataclass
class FrontTable:
    """Static points on one recording (or several pooled), in arrays.

    Attributes:
        name: The recording (or ``pooled``).
        points: The operating points, in order.
        sensor_j, compute_j, processed: Per point.
        confusion: Per point, labelled windows by true (rows) and predicted class.
        capped: Per point, windows in which a stream ran above its recorded rate.
        windows: Windows replayed; ``duration_s`` their length.
        classes: Class names.
        part_names: The parts priced.
        part_j: Per point and part, joules (points x parts).
        floor_w: The platform's idle power (reported beside the sensors).
    """

    name: str
    points: list[OperatingPoint]
    sensor_j: npt.NDArray[np.float64]
    compute_j: npt.NDArray[np.float64]
    processed: npt.NDArray[np.int64]
    confusion: npt.NDArray[np.int64]
    capped: npt.NDArray[np.int64]
    windows: int
    duration_s: float
    classes: list[str]
    part_names: list[str]
    part_j: npt.NDArray[np.float64]
    floor_w: float = 0.0

    def results(self, battery_wh: float = 10.0, only: set[str] | None = None
                ) -> list[PolicyResult]:
        """Each point (or those named in ``only``) as a :class:`PolicyResult`."""
        out = []
        floor = self.floor_w * self.duration_s
        for k, point in enumerate(self.points):
            name = f"static:{point.name()}"
            if only is not None and name not in only:
                continue
            total = float(self.sensor_j[k] + self.compute_j[k] + floor)
            life = battery_wh / (total / self.duration_s) if total > 0 else math.inf
            counts = self.confusion[k]
            out.append(PolicyResult(
                name, accuracy_of(counts), macro_f1_of(counts), float(self.sensor_j[k]),
                float(self.compute_j[k]), floor, total,
                float(self.processed[k]) / max(self.windows, 1), math.nan, math.nan, life,
                self.duration_s, dict(zip(self.part_names, map(float, self.part_j[k]),
                                          strict=True)), 0, list(NOTES),
                {"network": float(self.compute_j[k]), "scores": 0.0}, int(self.capped[k]),
                self.windows, False, counts.tolist(), list(self.classes)))
        return out


def pool_tables(tables: Sequence[FrontTable], name: str = "pooled") -> FrontTable:
    """Several recordings' tables (the same points, in the same order) as one: energies and
    windows add, confusions add (macro-F1 over every window together)."""
    first = tables[0]
    names = sorted({n for t in tables for n in t.part_names})
    part_j = np.zeros((len(first.points), len(names)))
    for t in tables:
        for j, n in enumerate(t.part_names):
            part_j[:, names.index(n)] += t.part_j[:, j]
    return FrontTable(name, list(first.points), np.sum([t.sensor_j for t in tables], axis=0),
                      np.sum([t.compute_j for t in tables], axis=0),
                      np.sum([t.processed for t in tables], axis=0),
                      np.sum([t.confusion for t in tables], axis=0),
                      np.sum([t.capped for t in tables], axis=0),
                      sum(t.windows for t in tables), sum(t.duration_s for t in tables),
                      list(first.classes), names, part_j, first.floor_w)


def front_table(rec: Recording, points: Sequence[OperatingPoint], predictor: Predictor, *,
                decls: Mapping[str, Modality], window_s: float, platform: str = "pi4",
                cache: dict[Any, KeyPredictions] | None = None) -> FrontTable:
    """Every point of ``points`` on ``rec``, each as :func:`evaluate_policy` would report it
    with a :class:`Static` policy (location error is not computed here).

    ``cache`` keeps each key's predictions across calls (the same recording and network
    priced by other tables: only the parts the network reads must be priced alike)."""
    from ..power.model import load_power_model

    mods = getattr(predictor, "modalities", None)
    inputs = list(mods) if isinstance(mods, Mapping) else None
    part_of = {m: d.power.device for m, d in decls.items() if d.power is not None}
    asleep = _asleep(rec, decls, window_s, platform)
    features: dict[Any, ModalityInputs] = {}
    options: dict[OperatingPoint, dict[str, float]] = {}
    keys: dict[OperatingPoint, KeyPredictions] = {}
    per_point: list[tuple[dict[str, float], OperatingPoint]] = []
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
            tag = (rec.name, id(predictor), window_s, key, tuple(
                sorted((m, d.power.model) for m, d in decls.items()
                       if m in key.modalities and d.power is not None)))
            if cache is not None and tag in cache:
                keys[key] = cache[tag]
            else:
                keys[key] = key_predictions(rec, key, predictor, decls=decls,
                                            window_s=window_s, platform=platform,
                                            features=features)
                if cache is not None:
                    cache[tag] = keys[key]
        per_point.append((energy, key))
    size = len(predictor.classes)
    counts = {k: np.asarray(confusion(v.truth, v.pred, size), np.int64)[:size, :size + 1]
              for k, v in keys.items()}
    n = max((len(v.truth) for v in keys.values()), default=0)
    names = sorted(asleep)
    part_j = np.array([[e.get(n, 0.0) for n in names] for e, _ in per_point]).reshape(
        len(per_point), len(names))
    return FrontTable(
        rec.name, list(points), part_j.sum(axis=1),
        np.array([keys[k].compute_j for _, k in per_point]),
        np.array([keys[k].processed for _, k in per_point], np.int64),
        np.array([counts[k] for _, k in per_point], np.int64).reshape(-1, size, size + 1),
        np.array([keys[k].capped for _, k in per_point], np.int64), n, n * window_s,
        list(rec.classes), names, part_j, load_power_model(platform).mode("idle").power_w)


def static_results(rec: Recording, points: Sequence[OperatingPoint], predictor: Predictor, *,
                   decls: Mapping[str, Modality], window_s: float, platform: str = "pi4",
                   battery_wh: float = 10.0) -> list[PolicyResult]:
    """Every point of ``points`` on ``rec`` as a :class:`PolicyResult`
    (:func:`front_table`)."""
    return front_table(rec, points, predictor, decls=decls, window_s=window_s,
                       platform=platform).results(battery_wh)


def _asleep(rec: Recording, decls: Mapping[str, Modality], window_s: float,
            platform: str) -> dict[str, float]:
    """Every part asleep throughout."""
    return part_energy(rec, OperatingPoint(Configuration({})), decls=decls, window_s=window_s,
                       platform=platform)


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
