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

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..align import StreamSpec, Window, align
from ..clock import FakeClock
from ..errors import ConfigError
from ..fusion.inputs import Configuration
from ..fusion.metrics import accuracy, macro_f1
from ..modalities import registered
from ..packets import Packet, concat
from ..power.ledger import EnergyLedger
from ..power.model import load_power_model
from .controller import Controller
from .energy import default_devices
from .policies import Policy, motion_modality
from .replay import RecordedDevice
from .scores import score_window

__all__ = ["PolicyResult", "Prediction", "Predictor", "Recording", "carried", "evaluate_policy",
           "location_error_m"]


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

    def predict(self, window: Window, config: Configuration) -> Prediction:
        """The prediction for ``window`` under ``config``."""
        ...

    def joules(self, config: Configuration) -> float:
        """Energy of one inference in ``config`` (only the encoders of the sensors that are on)."""
        ...


@dataclass
class Recording:
    """A labelled recording held in memory: streams as arrays, labels per time."""

    name: str
    streams: dict[str, Packet]
    label_t_ns: npt.NDArray[np.int64]
    labels: npt.NDArray[np.int64]
    classes: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: str, label_stream: str = "labels", task: str = "activity") -> Recording:
        """Read a recording with its ``task`` labels, if it has them.

        A recording that labels another task the declared ``task`` follows from (a
        transport-mode recording's ``transport=bus`` is a ``vehicle`` activity) is labelled
        through that. Without labels (a real recording nobody annotated) energy is still
        measured and the accuracy figures are NaN.
        """
        from ..log.reader import open as open_log

        with open_log(path) as log:
            streams = {s: log.read(s) for s in log.stream_names()}
            meta = log.devices().get(label_stream, {})
        codes = {k: json.loads(v) for k, v in meta.items()
                 if isinstance(v, str) and v.startswith("[")}
        lab = streams.get(label_stream)
        if lab is not None and codes:
            classes, values = _task_labels(task, lab, codes)
            streams[label_stream] = Packet(label_stream, lab.t_ns, {task: values})
            return cls.from_streams(path, streams, classes, label_stream, task)
        return cls.from_streams(path, streams, [], label_stream, task)

    @classmethod
    def from_streams(cls, name: str, streams: Mapping[str, Packet], classes: Sequence[str],
                     label_stream: str = "labels", label_field: str = "activity") -> Recording:
        """A recording already in memory (e.g. the demo's replayed streams)."""
        data = {s: p for s, p in streams.items()
                if s not in (label_stream, "controller") and len(p) >= 2}
        if not data:
            raise ConfigError(f"{name}: no sensor stream with two or more samples to replay")
        lab = streams.get(label_stream)
        if lab is None or label_field not in lab.fields:
            return cls(name, data, np.empty(0, np.int64), np.empty(0, np.int64), list(classes))
        return cls(name, data, lab.t_ns, np.asarray(lab[label_field], np.int64), list(classes))

    @property
    def labelled(self) -> bool:
        return len(self.labels) > 0

    def label_at(self, t_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Label code at each time (-1 everywhere for an unlabelled recording)."""
        if not self.labelled:
            return np.full(len(t_ns), -1, np.int64)
        idx = np.clip(np.searchsorted(self.label_t_ns, t_ns, side="right") - 1, 0,
                      len(self.labels) - 1)
        return self.labels[idx]

    @property
    def span_ns(self) -> tuple[int, int]:
        starts = [int(p.t_ns[0]) for p in self.streams.values()]
        ends = [int(p.t_ns[-1]) for p in self.streams.values()]
        return min(starts), max(ends)


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


def _task_labels(task: str, labels: Packet, codes: Mapping[str, list[str]]
                 ) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Class names and per-sample class index of ``task`` (-1: unlabelled) from a labels
    stream: its own field, else through a task it follows from (:mod:`sensekit.fusion.tasks`)."""
    from ..fusion.tasks import get, registered

    decl = registered().get(task)
    own = decl.label if decl is not None else task
    if own in labels.fields:
        return list(codes[own]), np.asarray(labels[own], np.int64)
    for other, table in (decl.derived if decl is not None else {}).items():
        src = get(other).label
        if decl is not None and src in labels.fields:
            index = [decl.classes.index(table[c]) if c in table else -1 for c in codes[src]]
            lookup = np.asarray([*index, -1], np.int64)  # code -1 (no label) stays -1
            return list(decl.classes), lookup[np.asarray(labels[src], np.int64)]
    return [], np.full(len(labels), -1, np.int64)


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
    sensor_j_by_stream: dict[str, float] = field(default_factory=dict)
    decisions: int = 0
    notes: list[str] = field(default_factory=list)

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
class _Run:
    truth: list[int] = field(default_factory=list)
    pred: list[int] = field(default_factory=list)
    t_ns: list[int] = field(default_factory=list)
    processed: int = 0
    fixes: list[Packet] = field(default_factory=list)
    moving: list[bool] = field(default_factory=list)


def _lowpass(stream: str, fields: Sequence[str]) -> tuple[float, ...] | None:
    """The anti-alias settings declared by the modalities a stream carries (None: none)."""
    for decl in registered().values():
        if decl.turn_down.lowpass_hz and any(
                s.stream == stream and set(s.fields) <= set(fields) for s in decl.input.sources):
            return decl.turn_down.lowpass_hz
    return None


def _devices(rec: Recording, clock: FakeClock, devices: Mapping[str, tuple[str, str]]
             ) -> dict[str, RecordedDevice]:
    out = {}
    for stream, packet in rec.streams.items():
        model_name, mode = devices.get(stream, (None, None))
        model = load_power_model(model_name) if model_name else None
        dev = RecordedDevice(stream, packet.t_ns, dict(packet.fields), modality=packet.modality,
                             power=model, active_mode=mode, clock=clock,
                             filter_bandwidths_hz=_lowpass(stream, list(packet.fields)))
        dev.open()
        out[stream] = dev
    return out


def recording_devices(rec: Recording) -> dict[str, tuple[str, str]]:
    """Stream -> (power model, active mode) of a recording, from the modality declarations."""
    return default_devices({s: list(p.fields) for s, p in rec.streams.items()})


def _position_stream(rec: Recording) -> str | None:
    """The stream that carries fixes with a position (for the location error)."""
    return next((s for s, p in rec.streams.items()
                 if {"lat_deg", "lon_deg", "mode"} <= set(p.fields)), None)


def evaluate_policy(rec: Recording, make_policy: Callable[[], Policy], predictor: Predictor, *,
                    supported: Sequence[Configuration] = (), window_s: float = 2.0,
                    platform: str = "pi4", battery_wh: float = 10.0,
                    max_off_s: float | None = 60.0,
                    devices: Mapping[str, tuple[str, str]] | None = None,
                    on_window: Callable[[WindowView], None] | None = None) -> PolicyResult:
    """Replay ``rec`` under a fresh policy from ``make_policy``; see the module docstring.

    ``devices`` (stream -> power model and active mode) defaults to the parts the modality
    declarations name (:func:`recording_devices`). ``on_window`` is called after every window
    with a :class:`WindowView` (a live view).
    """
    devices = recording_devices(rec) if devices is None else devices
    start, end = rec.span_ns
    clock = FakeClock(start)
    devs = _devices(rec, clock, devices)
    ledger = EnergyLedger(platform, clock=clock)
    for stream, dev in devs.items():
        if stream in devices:
            model, mode = devices[stream]
            image = rec.streams[stream].fields.get("image")
            pixels = int(image.shape[1] * image.shape[2]) if image is not None else None
            ledger.add_sensor(stream, model, mode=mode, rate_hz=dev.rate_hz or 0.0, t_ns=start,
                              pixels=pixels)
            dev.on_change(ledger.record)
    policy = make_policy()
    ctl = Controller(devs, policy, supported=supported, max_off_s=max_off_s)
    run = _Run()
    fixes = _position_stream(rec)
    motion = motion_modality(registered())
    hold = _holds(devs)
    carry: dict[str, Packet] = {}
    plan = ctl.step(start)
    last, conf, redundant = 0, None, None
    t0 = start
    win_ns = int(window_s * 1e9)
    while t0 + win_ns <= end:
        t1 = t0 + win_ns
        clock.set_ns(t0)
        packets = _delivered(devs, carry, t0, t1)
        # each stream is cut at the rate its device runs at now, so a lowered rate fills its
        # (fewer) slots instead of reading as missing data
        specs = {s: StreamSpec(rate_hz=float(d.rate_hz or d.native_rate_hz), hold_s=hold.get(s))
                 for s, d in devs.items()}
        window = _one_window(packets, specs, t0, window_s)
        if plan.run_network and window is not None and plan.configuration.rates:
            pred = predictor.predict(window, plan.configuration)
            if pred.index >= 0:  # the sensors that were on delivered something usable
                last, conf, redundant = pred.index, pred.confidence, pred.redundant
                ledger.charge_inference(t1, predictor.joules(plan.configuration),
                                        label="fusion")
                run.processed += 1
        run.truth.append(int(rec.label_at(np.array([t0 + win_ns // 2]))[0]))
        run.pred.append(last)
        run.t_ns.append(t0)
        ran = plan.run_network and window is not None and bool(plan.configuration.rates)
        scores = score_window(window) if window is not None else {}
        if fixes in packets:
            run.fixes.append(packets[fixes])
        # dead reckoning holds still while the IMU says so (or is in standby: no motion)
        run.moving.append(scores.get(motion, 0.0) >= STILL_SCORE)
        clock.set_ns(t1)
        if on_window is not None:
            on_window(_view(t0, t1, start, rec, devs, ledger, predictor.classes[last], conf,
                            ran))
        plan = ctl.step(t1, scores, confidence=conf, prediction=predictor.classes[last],
                        redundant=redundant)
        t0 = t1
    return _result(policy.name, rec, run, ledger, ctl, clock.now_ns(), window_s, battery_wh)


def _view(t0: int, t1: int, start: int, rec: Recording, devs: Mapping[str, RecordedDevice],
          ledger: EnergyLedger, prediction: str, conf: float | None, ran: bool) -> WindowView:
    states = {s: "asleep" if d.asleep else f"{d.mode} {d.rate_hz or 0:g}Hz"
              for s, d in devs.items()}
    sensor_w = ledger.summary(t0, t1).sensors_j / ((t1 - t0) / 1e9)
    truth = int(rec.label_at(np.array([(t0 + t1) // 2]))[0])
    name = rec.classes[truth] if 0 <= truth < len(rec.classes) else str(truth)
    return WindowView((t0 - start) / 1e9, prediction, name, conf, states, sensor_w, ran)


def _holds(devs: Mapping[str, RecordedDevice]) -> dict[str, float]:
    """Streams that are step signals (declared ``hold_s``) and how long a report holds."""
    out: dict[str, float] = {}
    for decl in registered().values():
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


#: IMU motion score under which dead reckoning assumes the device stands still.
STILL_SCORE = 0.15
EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)


def _metres(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Haversine distance in metres."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def location_error_m(truth: Packet, delivered: Sequence[Packet], window_t_ns: Sequence[int],
                     moving: Sequence[bool], window_s: float) -> float:
    """Mean distance between the recorded fixes and what the policy knew at those times.

    Between the fixes the policy received, position is dead-reckoned from the last fix: held
    while the IMU says the device is still (or in standby), advanced along the last course at
    the last speed while it moves. Only recorded fixes with a position count as truth.
    """
    ok = (truth["mode"] >= 2) & np.isfinite(truth["lat_deg"])
    if not ok.any():
        return math.nan
    t_true = truth.t_ns[ok]
    got = [p for p in delivered if len(p)]
    if not got:
        return math.nan
    fix_t = np.concatenate([p.t_ns for p in got])
    fields = {k: np.concatenate([p[k] for p in got]).astype(np.float64)
              for k in ("lat_deg", "lon_deg", "speed_mps", "track_deg", "mode")}
    valid = (fields["mode"] >= 2) & np.isfinite(fields["lat_deg"])
    fix_t = fix_t[valid]
    if not len(fix_t):
        return math.nan
    f = {k: v[valid] for k, v in fields.items()}
    last = np.searchsorted(fix_t, t_true, side="right") - 1
    known = last >= 0
    idx = last[known]
    dt = (t_true[known] - fix_t[idx]) / 1e9
    win = np.clip(np.searchsorted(np.asarray(window_t_ns), t_true[known], side="right") - 1,
                  0, len(moving) - 1)
    speed = np.nan_to_num(f["speed_mps"][idx]) * np.asarray(moving, bool)[win]
    course = np.radians(np.nan_to_num(f["track_deg"][idx]))
    north, east = speed * dt * np.cos(course), speed * dt * np.sin(course)
    lat = f["lat_deg"][idx] + np.degrees(north / EARTH_RADIUS_M)
    lon = f["lon_deg"][idx] + np.degrees(east / (EARTH_RADIUS_M *
                                                 np.cos(np.radians(f["lat_deg"][idx]))))
    err = _metres(truth["lat_deg"][ok][known], truth["lon_deg"][ok][known], lat, lon)
    return float(np.mean(err)) if len(err) else math.nan


def detection_delays(truth: Sequence[int], pred: Sequence[int], window_s: float) -> list[float]:
    """Seconds from each change of the true class until the prediction first shows it."""
    out = []
    for k in range(1, len(truth)):
        if truth[k] == truth[k - 1]:
            continue
        j = k
        while j < len(truth) and truth[j] == truth[k] and pred[j] != truth[k]:
            j += 1
        if j < len(truth) and truth[j] == truth[k]:
            out.append((j - k) * window_s)
    return out


def _result(name: str, rec: Recording, run: _Run, ledger: EnergyLedger, ctl: Controller,
            end_ns: int, window_s: float, battery_wh: float) -> PolicyResult:
    y, p = np.asarray(run.truth), np.asarray(run.pred)
    summary = ledger.summary(rec.span_ns[0], end_ns)
    by_sensor = {k: float(v) for k, v in summary.by_sensor.items()}
    compute = float(sum(summary.inference_j.values()))
    platform = float(summary.floor_j)
    sensors = float(sum(by_sensor.values()))
    delays = detection_delays(run.truth, run.pred, window_s) if rec.labelled else []
    duration = (end_ns - rec.span_ns[0]) / 1e9
    total = sensors + compute + platform
    life = battery_wh * 3600 / (total / duration) / 3600 if total > 0 else math.inf
    fixes = _position_stream(rec)
    located = math.nan if fixes is None else location_error_m(
        rec.streams[fixes], run.fixes, run.t_ns, run.moving, window_s)
    scored = y >= 0
    acc = accuracy(y[scored], p[scored]) if scored.any() else math.nan
    f1 = macro_f1(y[scored], p[scored]) if scored.any() else math.nan
    return PolicyResult(
        name, acc, f1, sensors, compute, platform, total,
        run.processed / max(len(run.truth), 1),
        float(np.mean(delays)) if delays else math.nan, located, life, duration,
        by_sensor, len(ctl.decisions),
        ["rates below a stream's recorded rate are decimated replays (anti-alias filtered), "
         "standing in for the device's own lower rate"])
