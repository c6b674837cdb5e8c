"""Evaluate sampling policies on labelled recordings: accuracy against energy.

For each recording and policy, the recording is replayed window by window through honest
recorded devices (:mod:`sensekit.controller.replay`): the controller switches them through the
driver interface, the aligner cuts what they deliver into windows, the scorers and the network
see only that, and the energy ledger charges every sensor-mode-second, wake-up and inference
from the power models. A window the policy does not send to the network is scored with the
last prediction carried forward.

Reported per policy: accuracy, macro-F1, detection delay at activity transitions, location error
while GPS is duty-cycled (dead reckoning between fixes), sensor, compute, platform and total
energy, projected battery life and the fraction of windows the network processed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..align import StreamSpec, Window, align
from ..clock import FakeClock
from ..fusion.inputs import Configuration
from ..modalities import Modality, registered
from ..packets import Packet, concat
from ..power.ledger import EnergyLedger
from ..power.model import load_power_model
from .controller import Controller
from .dual_mode import Hysteresis
from .energy import default_devices
from .location import STILL_SCORE, detection_delays, location_error_m
from .nav_gate import policy_track, policy_watches
from .parts import Parts, replay_devices
from .policies import Policy, motion_modality, policy_reads_scores
from .recording import Recording
from .replay import RecordedDevice
from .scores import ScoreTimer

__all__ = ["STILL_SCORE", "PolicyResult", "Prediction", "Predictor", "Recording", "Replay",
           "Run", "WindowView", "accuracy_of", "carried", "confusion", "detection_delays",
           "evaluate_policy", "holds", "location_error_m", "macro_f1_of", "recording_devices",
           "replay_policy", "start_replay", "window_s_of"]


@dataclass(frozen=True)
class Prediction:
    """One window's prediction.

    Attributes:
        index: Class index into ``Predictor.classes`` (-1: nothing the network could use).
        confidence: Its calibrated probability.
        redundant: Modalities whose removal would not change the prediction (None: not asked).
    """

    index: int
    confidence: float
    redundant: frozenset[str] | None = None


class Predictor(Protocol):
    """The network as the evaluator uses it."""

    @property
    def classes(self) -> Sequence[str]:
        """Class names; ``predict`` returns an index into them."""
        ...

    def predict(self, window: Window, config: Configuration, *,
                explain: bool = False) -> Prediction:
        """The prediction for ``window`` under ``config`` (with ``explain``: which modalities
        it did not need, ``Prediction.redundant``)."""
        ...

    def joules(self, config: Configuration, *, explain: bool = False) -> float:
        """Energy of one inference in ``config`` (only the encoders of the sensors that are
        on; with ``explain``, the passes that say what was redundant too)."""
        ...


def _reset(predictor: Predictor) -> None:
    """A predictor with memory across windows (a context of earlier windows) starts afresh."""
    reset = getattr(predictor, "reset", None)
    if callable(reset):
        reset()


def _busy_w(predictor: Predictor, platform: str) -> float:
    """The extra power of one busy core over idle, as the predictor charges inference."""
    busy = getattr(predictor, "busy_w", None)
    if isinstance(busy, float):
        return busy
    table = load_power_model(platform)
    return (table.mode("cpu_busy").power_w - table.mode("idle").power_w) / 4


def carried(modalities: Mapping[str, Any], recordings: Sequence[Recording]) -> dict[str, Any]:
    """The network's modalities that every recording delivers: one of the modality's sources
    is a stream of the recording with all its fields (a rig whose IMU has no magnetometer
    does not carry ``mag``, although the IMU stream is one of its sources).

    A configuration with a modality the recording lacks would switch a device into a mode
    that delivers nothing and that its power model may not know.
    """
    def has(spec: Any, rec: Recording) -> bool:
        return any(src.stream in rec.streams
                   and all(f in rec.streams[src.stream].fields for f in src.fields)
                   for src in spec.sources)

    return {m: spec for m, spec in modalities.items()
            if all(has(spec, rec) for rec in recordings)}


@dataclass
class PolicyResult:
    """One policy on one or more recordings."""

    policy: str
    accuracy: float
    macro_f1: float
    sensor_j: float
    compute_j: float
    platform_j: float
    total_j: float
    windows_processed: float
    detection_delay_s: float
    location_error_m: float
    battery_life_h: float
    duration_s: float
    sensor_j_by_part: dict[str, float] = field(default_factory=dict)
    decisions: int = 0
    notes: list[str] = field(default_factory=list)
    #: Compute split: ``network`` (inferences), ``scores`` (the scorers' own compute) and
    #: ``nav`` (a navigation filter a policy runs, where one does).
    compute_j_by_kind: dict[str, float] = field(default_factory=dict)
    #: Windows in which a stream was asked for more than its recorded rate (delivered as
    #: recorded, never upsampled; priced as asked).
    capped_windows: int = 0
    windows: int = 0
    #: Static Pareto front membership (set when results are compared).
    front: bool = False
    #: Labelled windows by true class (rows) and predicted class (columns): what pools
    #: exactly across recordings and people.
    confusion: list[list[int]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in asdict(self).items()}


@dataclass(frozen=True)
class WindowView:
    """What the pipeline is doing at one window, for a live view."""

    t_s: float
    prediction: str
    truth: str
    confidence: float | None
    states: Mapping[str, str]
    sensor_w: float
    ran_network: bool


@dataclass
class Run:
    """What one replay predicted, window by window."""

    truth: list[int] = field(default_factory=list)
    pred: list[int] = field(default_factory=list)
    t_ns: list[int] = field(default_factory=list)
    processed: int = 0
    capped: int = 0
    fixes: list[Packet] = field(default_factory=list)
    moving: list[bool] = field(default_factory=list)
    #: A navigation filter's position estimates ``(t_ns, lat_deg, lon_deg)``, where the
    #: policy runs one.
    track: tuple[Any, Any, Any] | None = None


#: The prediction of a window before the network has given any (nothing to carry yet).
NONE = -1


def _name(classes: Sequence[str], index: int) -> str:
    return classes[index] if 0 <= index < len(classes) else ""


def confusion(truth: npt.NDArray[np.int64], pred: npt.NDArray[np.int64],
              n_classes: int) -> list[list[int]]:
    """Counts of labelled windows by true class (rows) and predicted class (columns); a last
    column counts windows with no prediction at all (the network had not run yet)."""
    keep = truth >= 0
    n = max(n_classes, int(truth.max(initial=-1)) + 1, int(pred.max(initial=-1)) + 1)
    counts = np.zeros((n, n + 1), np.int64)
    cols = np.where(pred[keep] >= 0, pred[keep], n)
    np.add.at(counts, (truth[keep], cols), 1)
    return counts.tolist()


def macro_f1_of(counts: Sequence[Sequence[int]] | npt.NDArray[np.int64]) -> float:
    """Macro-F1 of a confusion matrix (:func:`confusion`) over the classes that occur in
    labels or predictions, as :func:`sensekit.fusion.metrics.macro_f1`; a window without a
    prediction is a miss of its class."""
    c = np.asarray(counts, np.float64)
    if c.size == 0 or c.sum() == 0:
        return math.nan
    n = c.shape[0]
    rows, cols = c.sum(axis=1), c[:, :n].sum(axis=0)
    seen = (rows + cols) > 0
    return float(np.mean(2 * np.diag(c[:, :n])[seen] / (rows + cols)[seen]))


def accuracy_of(counts: Sequence[Sequence[int]] | npt.NDArray[np.int64]) -> float:
    """Share of labelled windows predicted right."""
    c = np.asarray(counts, np.float64)
    return float(np.trace(c[:, :c.shape[0]]) / c.sum()) if c.size and c.sum() else math.nan


def recording_devices(rec: Recording, modalities: Mapping[str, Modality] | None = None
                      ) -> dict[str, tuple[str, str]]:
    """Stream -> (power model, active mode) of a recording, from the modality declarations."""
    return default_devices({s: list(p.fields) for s, p in rec.streams.items()}, modalities)


def _position_stream(rec: Recording) -> str | None:
    """The stream that carries fixes with a position (for the location error)."""
    return next((s for s, p in rec.streams.items()
                 if {"lat_deg", "lon_deg", "mode"} <= set(p.fields)), None)


@dataclass
class Replay:
    """Everything one replay of a recording holds."""

    clock: FakeClock
    devices: dict[str, RecordedDevice]
    ledger: EnergyLedger
    parts: Parts
    controller: Controller


def start_replay(rec: Recording, policy: Policy, decls: Mapping[str, Modality], *,
                 supported: Sequence[Configuration], platform: str,
                 max_off_s: float | None, photo_trigger: Hysteresis | None = None) -> Replay:
    """Devices (every part asleep), ledger, parts and controller of a replay of ``rec``."""
    start = rec.span_ns[0]
    clock = FakeClock(start)
    devs = replay_devices(rec.streams, clock, decls)
    ledger = EnergyLedger(platform, clock=clock)
    parts = Parts(ledger, devs, decls, start)
    ctl = Controller(devs, policy, supported=supported, max_off_s=max_off_s, modalities=decls,
                     photo_trigger=photo_trigger)
    return Replay(clock, devs, ledger, parts, ctl)


def window_s_of(predictor: Predictor, default: float = 2.0) -> float:
    """The network's window length (its own, or its inputs'), else ``default``."""
    own = getattr(predictor, "window_s", None)
    if isinstance(own, (int, float)):
        return float(own)
    mods = getattr(predictor, "modalities", None)
    if isinstance(mods, Mapping) and mods:
        return float(next(iter(mods.values())).window_s)
    return default


def evaluate_policy(rec: Recording, make_policy: Callable[[], Policy], predictor: Predictor, *,
                    supported: Sequence[Configuration] = (), window_s: float | None = None,
                    platform: str = "pi4", battery_wh: float = 10.0,
                    max_off_s: float | None = 60.0,
                    modalities: Mapping[str, Modality] | None = None,
                    on_window: Callable[[WindowView], None] | None = None,
                    photo_trigger: Hysteresis | None = None) -> PolicyResult:
    """Replay ``rec`` under a fresh policy from ``make_policy``; see the module docstring.

    Every part starts asleep; the first plan wakes what it needs (each wake-up charged). Parts
    are priced by ``modalities`` (default: every declared modality, with its own power table;
    :func:`~sensekit.controller.energy.with_tables` prices them by other parts). The window
    length is the network's own unless ``window_s`` says otherwise. ``on_window`` is called
    after every window with a :class:`WindowView` (a live view). ``photo_trigger``: the
    dual-mode camera (:class:`~sensekit.controller.dual_mode.Hysteresis` on the camera's
    score): its full-resolution readout while the scene changes, its binned one otherwise.
    """
    window_s = window_s or window_s_of(predictor)
    policy = make_policy()
    run, r = replay_policy(rec, policy, predictor, supported=supported, window_s=window_s,
                           platform=platform, max_off_s=max_off_s, modalities=modalities,
                           on_window=on_window, photo_trigger=photo_trigger)
    run.track = policy_track(policy)
    return _result(policy.name, rec, run, r.ledger, r.controller, r.clock.now_ns(), window_s,
                   battery_wh, len(predictor.classes))


def replay_policy(rec: Recording, policy: Policy, predictor: Predictor, *,
                  supported: Sequence[Configuration] = (), window_s: float,
                  platform: str = "pi4", max_off_s: float | None = 60.0,
                  modalities: Mapping[str, Modality] | None = None,
                  on_window: Callable[[WindowView], None] | None = None,
                  photo_trigger: Hysteresis | None = None) -> tuple[Run, Replay]:
    """The window-by-window replay behind :func:`evaluate_policy`: what was predicted each
    window, and the replay's ledger, devices and controller."""
    decls = dict(registered() if modalities is None else modalities)
    start, end = rec.span_ns
    r = start_replay(rec, policy, decls, supported=supported, platform=platform,
                     max_off_s=max_off_s, photo_trigger=photo_trigger)
    _reset(predictor)
    reads = policy_reads_scores(policy) or photo_trigger is not None
    explain = bool(getattr(policy, "asks_redundant", False))
    timer = ScoreTimer({m: d for m, d in decls.items() if d.score is not None})
    busy_w = _busy_w(predictor, platform)
    run = Run()
    fixes = _position_stream(rec)
    motion = motion_modality(decls)
    hold = holds(r.devices, decls)
    watches = policy_watches(policy)
    carry: dict[str, Packet] = {}
    plan = r.controller.step(start)
    r.parts.sync(start)
    last, conf, redundant = NONE, None, None
    t0 = start
    win_ns = int(window_s * 1e9)
    while t0 + win_ns <= end:
        t1 = t0 + win_ns
        r.clock.set_ns(t0)
        packets = _delivered(r.devices, carry, t0, t1)
        # each stream is cut at the rate it delivers at now, so a lowered rate fills its
        # (fewer) slots instead of reading as missing data
        specs = {s: StreamSpec(rate_hz=d.delivered_rate_hz, hold_s=hold.get(s))
                 for s, d in r.devices.items()}
        window = _one_window(packets, specs, t0, window_s)
        run.capped += int(r.parts.capped > 0)
        ran = plan.run_network and window is not None and bool(plan.configuration.rates)
        if ran and window is not None:
            pred = predictor.predict(window, plan.configuration, explain=explain)
            if pred.index >= 0:  # the sensors that were on delivered something usable
                last, conf, redundant = pred.index, pred.confidence, pred.redundant
                r.ledger.charge_inference(t1, predictor.joules(plan.configuration,
                                                               explain=explain), label="fusion")
                run.processed += 1
        run.truth.append(int(rec.label_at(np.array([t0 + win_ns // 2]))[0]))
        run.pred.append(last)
        run.t_ns.append(t0)
        scores: dict[str, float] = {}
        if window is not None and reads:  # the policy reads them: their compute is charged
            scores, spent_s = timer.score(window)
            r.ledger.charge_inference(t1, spent_s * busy_w, label="scores")
        elif window is not None and fixes is not None and motion:  # for dead reckoning only
            scores, _ = timer.score(window, only=motion)
        if fixes in packets:
            run.fixes.append(packets[fixes])
        if watches:  # a policy that reads the data itself (a navigation filter): charged
            began = time.perf_counter()
            r.controller.observe(packets)
            r.ledger.charge_inference(t1, (time.perf_counter() - began) * busy_w, label="nav")
        # dead reckoning holds still while the IMU says so (or is in standby: no motion)
        run.moving.append(scores.get(motion, 0.0) >= STILL_SCORE)
        r.clock.set_ns(t1)
        if on_window is not None:
            on_window(_view(t0, t1, start, rec, r.devices, r.ledger,
                            _name(predictor.classes, last), conf, ran))
        plan = r.controller.step(t1, scores, confidence=conf,
                                 prediction=_name(predictor.classes, last) or None,
                                 redundant=redundant)
        r.parts.sync(t1)
        t0 = t1
    return run, r


def _view(t0: int, t1: int, start: int, rec: Recording, devs: Mapping[str, RecordedDevice],
          ledger: EnergyLedger, prediction: str, conf: float | None, ran: bool) -> WindowView:
    states = {s: "asleep" if d.asleep else f"{d.mode} {d.rate_hz or 0:g}Hz"
              for s, d in devs.items()}
    sensor_w = ledger.summary(t0, t1).sensors_j / ((t1 - t0) / 1e9)
    truth = int(rec.label_at(np.array([(t0 + t1) // 2]))[0])
    name = rec.classes[truth] if 0 <= truth < len(rec.classes) else str(truth)
    return WindowView((t0 - start) / 1e9, prediction, name, conf, states, sensor_w, ran)


def holds(devs: Mapping[str, RecordedDevice], decls: Mapping[str, Modality]
           ) -> dict[str, float]:
    """Streams that are step signals (declared ``hold_s``) and how long a report holds."""
    out: dict[str, float] = {}
    for decl in decls.values():
        for src in decl.input.sources:
            if src.hold_s is not None and src.stream in devs:
                out[src.stream] = max(out.get(src.stream, 0.0), src.hold_s)
    return out


def _delivered(devs: Mapping[str, RecordedDevice], carry: dict[str, Packet], t0: int,
               t1: int) -> dict[str, Packet]:
    """What each device delivered in ``[t0, t1)``, after the last sample it delivered since it
    was last switched on (``carry``: a step signal's report stands while the sensor stays on;
    asleep, it is forgotten)."""
    out = {}
    for stream, dev in devs.items():
        got = dev.take(t0, t1)
        if dev.asleep:
            carry.pop(stream, None)
        parts = [p for p in (carry.get(stream), got) if p is not None and len(p)]
        if parts:
            out[stream] = concat(parts) if len(parts) > 1 else parts[0]
        if got is not None and len(got):
            carry[stream] = got.slice(len(got) - 1, len(got))
    return out


def _one_window(packets: Mapping[str, Packet], specs: Mapping[str, StreamSpec], t0: int,
                window_s: float) -> Window | None:
    if not packets:
        return None
    used = {s: specs[s] for s in packets}
    windows = align(dict(packets), used, window_s=window_s, hop_s=window_s, origin_ns=t0)
    return next((w for w in windows if w.t_start_ns == t0), None)


NOTES = ["rates below a stream's recorded rate are replayed through the part's own decimation "
         "path (its low-pass setting, or point sampling where each sample is one measurement), "
         "standing in for the device's own lower rate; rates above it are delivered as "
         "recorded (never upsampled) and priced as asked"]


def _result(name: str, rec: Recording, run: Run, ledger: EnergyLedger, ctl: Controller,
            end_ns: int, window_s: float, battery_wh: float, n_classes: int) -> PolicyResult:
    y, p = np.asarray(run.truth), np.asarray(run.pred)
    summary = ledger.summary(rec.span_ns[0], end_ns)
    by_sensor = {k: float(v) for k, v in summary.by_sensor.items()}
    by_kind = {k: float(v) for k, v in summary.inference_j.items()}
    compute = float(sum(by_kind.values()))
    platform = float(summary.floor_j)
    sensors = float(sum(by_sensor.values()))
    delays = detection_delays(run.truth, run.pred, window_s) if rec.labelled else []
    duration = (end_ns - rec.span_ns[0]) / 1e9
    total = sensors + compute + platform
    life = battery_wh * 3600 / (total / duration) / 3600 if total > 0 else math.inf
    fixes = _position_stream(rec)
    located = math.nan if fixes is None else location_error_m(
        rec.streams[fixes], run.fixes, run.t_ns, run.moving, window_s, run.track)
    counts = confusion(y, p, n_classes)
    acc, f1 = accuracy_of(counts), macro_f1_of(counts)
    return PolicyResult(
        name, acc, f1, sensors, compute, platform, total,
        run.processed / max(len(run.truth), 1),
        float(np.mean(delays)) if delays else math.nan, located, life, duration,
        by_sensor, len(ctl.decisions), list(NOTES),
        {"network": by_kind.get("fusion", 0.0), "scores": by_kind.get("scores", 0.0),
         **({"nav": by_kind["nav"]} if "nav" in by_kind else {})},
        run.capped, len(run.truth), False, counts, list(rec.classes))
