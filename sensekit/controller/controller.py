"""The controller: the only thing that changes rates, modes and power states.

Once per window, :meth:`Controller.step` asks the policy for a plan, snaps it to a
configuration the fusion network supports, keeps every sensor within its maximum time off,
and applies it through the driver interface (``wake``, ``sleep``, ``set_rate``, ``set_mode``),
so the same policy runs on hardware, emulated devices and replays. Every change is logged as a
:class:`Decision` (time, stream, old and new setting, reason) for the recorder and the report.

A sensor whose driver raises while being changed is marked failed and routed around: the
policy sees it missing from ``available``, the other sensors carry on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..driver import Driver
from ..errors import SensekitError
from ..fusion.inputs import Configuration
from ..packets import Packet
from .dual_mode import Hysteresis
from .policies import Observation, Plan, Policy, policy_uses

__all__ = ["Actuation", "Controller", "Decision", "decisions_packet", "snap"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """One change the controller made (or failed to make)."""

    t_ns: int
    stream: str
    setting: str
    old: Any
    new: Any
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"t_ns": self.t_ns, "stream": self.stream, "setting": self.setting,
                "old": self.old, "new": self.new, "reason": self.reason}


def decisions_packet(decisions: Sequence[Decision], stream: str = "controller") -> Packet:
    """Decisions as one packet of a ``controller`` stream, for the recorder (MCAP).

    Fields are fixed-width text (``stream``, ``setting``, ``old``, ``new``, ``reason``), so
    the decision log travels in the same file as the data it changed, in time order.
    """
    def text(values: Iterable[Any], width: int) -> npt.NDArray[np.str_]:
        return np.array([str(v)[:width] for v in values], dtype=f"<U{width}")

    return Packet(stream, np.array([d.t_ns for d in decisions], np.int64), {
        "stream": text((d.stream for d in decisions), 16),
        "setting": text((d.setting for d in decisions), 12),
        "old": text((d.old for d in decisions), 24),
        "new": text((d.new for d in decisions), 24),
        "reason": text((d.reason for d in decisions), 120),
    })


#: Network modality -> the stream (device) that produces it; modalities not listed are their
#: own stream. An MPU-6050 yields both the accelerometer and the gyroscope.
MODALITY_STREAMS: Mapping[str, str] = {"accel": "imu", "gyro": "imu"}

#: How a stream's configuration reaches its driver: ``"imu"`` (rate, and ``accel_only`` or
#: ``accel_gyro`` mode by whether the gyroscope is wanted), ``"rate"`` (set_rate, Hz),
#: ``"camera_size"`` (set_mode("dnn", size=(v, v)), pixels) or ``"switch"`` (on/off only: the
#: value is a feature rate, such as log-mel frames per second, not a device setting).
Actuation = str
DEFAULT_ACTUATION: Mapping[str, Actuation] = {"imu": "imu", "camera": "camera_size",
                                              "audio": "switch", "gps": "switch",
                                              "light": "switch"}


def stream_of(modality: str, streams: Mapping[str, str] = MODALITY_STREAMS) -> str:
    """The stream that produces ``modality``."""
    return streams.get(modality, modality)


def snap(config: Configuration, supported: Sequence[Configuration]) -> Configuration:
    """The supported configuration closest to ``config``.

    Same modality set first (nearest rates, preferring higher), else the smallest supported
    superset (a sensor the plan did not need is better than one the network cannot use), else
    the largest subset.
    """
    if not supported or config in supported:
        return config
    want = config.modalities
    same = [c for c in supported if c.modalities == want]
    if same:
        return min(same, key=lambda c: sum(abs(c.rates[m] - config.rates[m]) / config.rates[m]
                                           - 1e-6 * c.rates[m] for m in want))
    supersets = [c for c in supported if c.modalities > want]
    if supersets:
        return min(supersets, key=lambda c: (len(c.modalities), -sum(c.rates.values())))
    subsets = [c for c in supported if c.modalities < want]
    if subsets:
        return max(subsets, key=lambda c: (len(c.modalities), sum(c.rates.values())))
    return config


class Controller:
    """Owns the rates, modes and power states of every stream.

    Args:
        drivers: Stream name -> driver (hardware, emulated or replay).
        policy: The sampling policy.
        supported: Configurations the fusion network declares it supports (empty: any).
        max_off_s: Longest a sensor may stay off, per stream (or one value for all); when it
            is reached the sensor is switched on for one window whatever the policy says.
            Only the streams the policy can use (``Policy.uses``) are held to it: a static
            configuration without the microphone never wakes it.
        actuation: How each stream's configuration value is applied (see :data:`Actuation`).
        streams: Network modality -> stream (default :data:`MODALITY_STREAMS`).
        photo_trigger: Dual-mode camera: a :class:`~sensekit.controller.dual_mode.Hysteresis`
            fed each window with the score named ``photo_score`` (default the camera's own
            frame-difference score); while it is on, the camera runs in photo mode instead of
            DNN mode. None: photo mode only on :meth:`request_photo`.
        photo_score: Which score feeds ``photo_trigger``.
    """

    def __init__(self, drivers: Mapping[str, Driver], policy: Policy, *,
                 supported: Sequence[Configuration] = (),
                 max_off_s: float | Mapping[str, float] | None = None,
                 actuation: Mapping[str, Actuation] | None = None,
                 streams: Mapping[str, str] = MODALITY_STREAMS,
                 photo_trigger: Hysteresis | None = None, photo_score: str = "camera") -> None:
        self.drivers = dict(drivers)
        self.streams = dict(streams)
        self.policy = policy
        self.supported = list(supported)
        self.actuation = {**DEFAULT_ACTUATION, **(actuation or {})}
        limits = max_off_s if isinstance(max_off_s, Mapping) else dict.fromkeys(
            self.drivers, max_off_s)
        self.max_off_ns = {s: None if v is None else int(v * 1e9) for s, v in limits.items()}
        self.photo_trigger = photo_trigger
        self.photo_score = photo_score
        self.decisions: list[Decision] = []
        self.failed: dict[str, str] = {}
        self.current = Configuration({})
        self.forced_on = 0
        self._off_since: dict[str, int | None] = dict.fromkeys(self.drivers)
        self._listeners: list[Callable[[Decision], None]] = []
        #: each driver's mode when on (restored when it comes back from a standby mode)
        self._active_mode = {s: d.mode for s, d in self.drivers.items()}
        self._motion_at: int | None = None
        for stream, drv in self.drivers.items():
            watch = getattr(drv, "on_motion", None)
            if callable(watch):
                watch(lambda t_ns, s=stream: self._motion(s, t_ns))

    @property
    def available(self) -> frozenset[str]:
        """Modalities whose stream has a working driver."""
        modalities = {m for c in self.supported for m in c.modalities} or (
            {m for m, s in self.streams.items() if s in self.drivers}
            | {s for s in self.drivers if s not in self.streams.values()})
        return frozenset(m for m in modalities
                         if (s := stream_of(m, self.streams)) in self.drivers
                         and s not in self.failed)

    def on_decision(self, callback: Callable[[Decision], None]) -> None:
        """Call ``callback`` with every :class:`Decision` from now on (e.g. the recorder)."""
        self._listeners.append(callback)

    def mark_failed(self, stream: str, why: str, t_ns: int = 0) -> None:
        """Route around ``stream`` (its reader reported errors) until :meth:`mark_recovered`."""
        if stream not in self.failed:
            self.failed[stream] = why
            self._log(t_ns, stream, "health", "ok", "failed", why)

    def mark_recovered(self, stream: str, t_ns: int = 0) -> None:
        if self.failed.pop(stream, None) is not None:
            self._log(t_ns, stream, "health", "failed", "ok", "recovered")

    def _motion(self, stream: str, t_ns: int) -> None:
        """A part's motion interrupt fired (wake-on-motion): the next step sees full motion."""
        if self._motion_at is None:
            self._motion_at = t_ns
            self._log(t_ns, stream, "interrupt", None, "motion", "wake-on-motion")

    def step(self, t_ns: int, scores: Mapping[str, float] | None = None, *,
             confidence: float | None = None, prediction: str | None = None,
             redundant: frozenset[str] | None = None) -> Plan:
        """Plan and apply the next window; returns the plan as applied."""
        seen = dict(scores or {})
        if self._motion_at is not None:
            for stream, drv in self.drivers.items():
                if callable(getattr(drv, "on_motion", None)):
                    seen[stream] = 1.0
            self._motion_at = None
        obs = Observation(t_ns, seen, confidence, prediction, self.available, redundant)
        plan = self.policy.plan(obs)
        config = snap(plan.configuration, self.supported) if plan.configuration.rates else \
            plan.configuration
        config, forced = self._enforce_max_off(config, t_ns)
        reason = plan.reason + (f"; on after max off: {', '.join(forced)}" if forced else "")
        applied = self.apply(config, t_ns, reason, plan.standby)
        self._dual_mode(seen, t_ns)
        return Plan(applied, plan.run_network or bool(forced), reason, plan.standby)

    def _dual_mode(self, scores: Mapping[str, float], t_ns: int) -> None:
        """Photo mode while the trigger's hysteresis is on (and the camera is on)."""
        cam = self.drivers.get("camera")
        if self.photo_trigger is None or cam is None or cam.asleep or "camera" in self.failed:
            return
        photo = self.photo_trigger.update(scores.get(self.photo_score, 0.0), t_ns)
        try:
            if photo and cam.mode != "photo" and "photo" in cam.modes:
                self._set_mode("camera", "photo", t_ns, f"{self.photo_score} score high")
            elif not photo and cam.mode == "photo" and "camera" in self.current.rates:
                size = int(self.current.rates["camera"])
                cam.set_mode("dnn", reason="photo trigger released", size=(size, size))
                self._log(t_ns, "camera", "mode", "photo", f"dnn {size}x{size}",
                          "photo trigger released")
        except SensekitError as exc:
            self.mark_failed("camera", str(exc), t_ns)

    def request_photo(self, t_ns: int, reason: str = "requested") -> Packet | None:
        """One full-resolution frame now (``capture_photo``), without leaving DNN mode.

        Returns None when the camera is off, failed, or its driver has no one-shot capture.
        """
        cam = self.drivers.get("camera")
        capture = getattr(cam, "capture_photo", None)
        if cam is None or cam.asleep or "camera" in self.failed or not callable(capture):
            return None
        try:
            packet: Packet = capture()
        except SensekitError as exc:
            self.mark_failed("camera", str(exc), t_ns)
            return None
        self._log(t_ns, "camera", "photo", None, "captured", reason)
        return packet

    def apply(self, config: Configuration, t_ns: int, reason: str,
              standby: Mapping[str, str] | None = None) -> Configuration:
        """Bring every driver to ``config`` (``standby``: low-power modes instead of sleep).

        A stream that is on and also named in ``standby`` runs in that mode while it delivers
        (a GPS in power-save mode still gives a fix a second, on a third of the current).

        Returns what was actually applied.
        """
        standby = standby or {}
        wanted: dict[str, dict[str, float]] = {}
        for m, value in config.rates.items():
            wanted.setdefault(stream_of(m, self.streams), {})[m] = value
        on: dict[str, float] = {}
        for stream in sorted(self.drivers):
            if stream in self.failed:
                continue
            try:
                if stream in wanted:
                    economy = standby.get(stream)
                    self._switch_on(stream, wanted[stream], t_ns, reason,
                                    economy if economy in self.drivers[stream].modes else None)
                    on.update(wanted[stream])
                elif stream in standby and standby[stream] in self.drivers[stream].modes:
                    self._standby(stream, standby[stream], t_ns, reason)
                else:
                    self._switch_off(stream, t_ns, reason)
            except SensekitError as exc:
                log.error("controller: %s failed (%s); routing around it", stream, exc)
                self.mark_failed(stream, str(exc), t_ns)
        self.current = Configuration(on)
        return self.current

    def _switch_on(self, stream: str, modalities: Mapping[str, float], t_ns: int,
                   reason: str, economy: str | None = None) -> None:
        drv = self.drivers[stream]
        if drv.asleep:
            drv.wake(reason=reason)
            self._log(t_ns, stream, "power", "asleep", "awake", reason)
        self._off_since[stream] = None
        how = self.actuation.get(stream, "switch")
        value = max(modalities.values())
        active = economy or self._active_mode.get(stream)
        if how == "switch" and active is not None and drv.mode != active:
            self._set_mode(stream, active, t_ns, reason)
        if how == "imu":
            mode = "accel_gyro" if "gyro" in modalities else "accel_only"
            if mode in drv.modes and drv.mode != mode:
                self._set_mode(stream, mode, t_ns, reason)
            how = "rate"
        if how == "rate" and drv.rate_hz != value:
            old = drv.rate_hz
            drv.set_rate(value, reason=reason)
            self._log(t_ns, stream, "rate", old, drv.rate_hz, reason)
        elif how == "camera_size" and self.photo_trigger is not None and self.photo_trigger.on:
            pass  # photo mode holds until the trigger's hysteresis lets it go
        elif how == "camera_size" and (drv.mode, tuple(getattr(drv, "size", ()))) != (
                "dnn", (int(value),) * 2):
            old_mode = drv.mode
            drv.set_mode("dnn", reason=reason, size=(int(value), int(value)))
            self._log(t_ns, stream, "mode", old_mode, f"dnn {int(value)}x{int(value)}", reason)

    def _set_mode(self, stream: str, mode: str, t_ns: int, reason: str) -> None:
        drv = self.drivers[stream]
        old = drv.mode
        drv.set_mode(mode, reason=reason)
        self._log(t_ns, stream, "mode", old, mode, reason)

    def _standby(self, stream: str, mode: str, t_ns: int, reason: str) -> None:
        """Hold ``stream`` awake in a low-power ``mode``; it counts as off for the network."""
        drv = self.drivers[stream]
        if drv.asleep:
            drv.wake(reason=reason)
            self._log(t_ns, stream, "power", "asleep", "awake", reason)
        if drv.mode != mode:
            self._set_mode(stream, mode, t_ns, reason)
        if self._off_since.get(stream) is None:
            self._off_since[stream] = t_ns

    def _switch_off(self, stream: str, t_ns: int, reason: str) -> None:
        drv = self.drivers[stream]
        if not drv.asleep:
            drv.sleep(reason=reason)
            self._log(t_ns, stream, "power", "awake", "asleep", reason)
        if self._off_since.get(stream) is None:
            self._off_since[stream] = t_ns

    def _enforce_max_off(self, config: Configuration, t_ns: int
                         ) -> tuple[Configuration, list[str]]:
        forced = []
        rates = dict(config.rates)
        on_streams = {stream_of(m, self.streams) for m in rates}
        uses = policy_uses(self.policy)
        held = None if uses is None else {stream_of(m, self.streams) for m in uses}
        for stream, since in self._off_since.items():
            limit = self.max_off_ns.get(stream)
            if (since is None or limit is None or stream in on_streams or stream in self.failed
                    or t_ns - since < limit or (held is not None and stream not in held)):
                continue
            rates.update(self._probe(stream))
            forced.append(stream)
        self.forced_on += len(forced)
        return Configuration(rates), forced

    def _probe(self, stream: str) -> dict[str, float]:
        """The cheapest supported setting of ``stream``'s modalities, to look at it again."""
        mods = {m for c in self.supported for m in c.modalities
                if stream_of(m, self.streams) == stream}
        if not mods:
            drv = self.drivers[stream]
            return {stream: float(drv.rate_hz or drv.default_rate_hz or 1.0)}
        # the smallest supported configuration made only of this stream's modalities
        own = [c for c in self.supported if c.modalities <= mods]
        best = min(own, key=lambda c: (len(c.modalities), sum(c.rates.values())))
        return dict(best.rates)

    def _log(self, t_ns: int, stream: str, setting: str, old: Any, new: Any, reason: str) -> None:
        decision = Decision(t_ns, stream, setting, old, new, reason)
        self.decisions.append(decision)
        for callback in self._listeners:
            callback(decision)

    def summary(self) -> dict[str, int]:
        """Decisions per kind of setting, plus forced wake-ups and failed sensors."""
        out: dict[str, int] = {}
        for d in self.decisions:
            out[d.setting] = out.get(d.setting, 0) + 1
        out["forced_on"] = self.forced_on
        out["failed"] = len(self.failed)
        return out

