"""The controller: the only thing that changes rates, modes and power states.

Once per window, :meth:`Controller.step` asks the policy for a plan, snaps it to a
configuration the fusion network supports, keeps every sensor within its maximum time off,
and applies it through the driver interface (``wake``, ``sleep``, ``set_rate``, ``set_mode``),
so the same policy runs on hardware, emulated devices and replays. Every change is logged as a
:class:`Decision` (time, stream, old and new setting, reason) for the recorder and the report.

How a modality reaches its driver is its declaration's (:mod:`sensekit.modalities`): which
of its streams the rig has, whether the value is a rate, an image size or only on/off, and
which device mode delivers it (an IMU runs ``accel_only`` for the accelerometer alone and
``accel_gyro`` once the gyroscope is on). A stream no declaration claims is its own modality,
switched on and off.

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
from ..modalities import Modality, delivering_mode, registered
from ..packets import Packet
from .dual_mode import Hysteresis
from .policies import Observation, Plan, Policy, policy_uses

__all__ = ["Controller", "Decision", "decisions_packet", "snap"]

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
        modalities: The declarations to act by (default: every declared modality).
        photo_trigger: Dual-mode camera: a :class:`~sensekit.controller.dual_mode.Hysteresis`
            fed each window with the score named ``photo_score`` (default: the score of the
            modality that declares a photo mode); while it is on, that camera runs in photo
            mode instead of its sized mode. None: photo mode only on :meth:`request_photo`.
        photo_score: Which modality's score feeds ``photo_trigger``.
    """

    def __init__(self, drivers: Mapping[str, Driver], policy: Policy, *,
                 supported: Sequence[Configuration] = (),
                 max_off_s: float | Mapping[str, float] | None = None,
                 modalities: Mapping[str, Modality] | None = None,
                 photo_trigger: Hysteresis | None = None, photo_score: str | None = None) -> None:
        self.drivers = dict(drivers)
        self.decl = dict(registered() if modalities is None else modalities)
        self.policy = policy
        self.supported = list(supported)
        limits = max_off_s if isinstance(max_off_s, Mapping) else dict.fromkeys(
            self.drivers, max_off_s)
        self.max_off_ns = {s: None if v is None else int(v * 1e9) for s, v in limits.items()}
        self.photo_trigger = photo_trigger
        self.camera = self._photo_camera()
        self.photo_score = photo_score or (self.camera[0] if self.camera else "")
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

    def stream_of(self, modality: str) -> str | None:
        """The stream of the rig that delivers ``modality`` (None: none does)."""
        decl = self.decl.get(modality)
        if decl is None:  # a stream no declaration claims is its own modality
            return modality if modality in self.drivers else None
        return decl.stream_in(self.drivers)

    def _photo_camera(self) -> tuple[str, str, str] | None:
        """(modality, stream, photo mode) of the camera that declares a photo mode."""
        for name, decl in self.decl.items():
            stream = decl.stream_in(self.drivers)
            if decl.turn_down.photo_mode and stream is not None:
                return name, stream, decl.turn_down.photo_mode
        return None

    @property
    def available(self) -> frozenset[str]:
        """Modalities whose stream has a working driver."""
        claimed = {s for d in self.decl.values() for s in d.streams}
        modalities = {m for c in self.supported for m in c.modalities} or (
            {m for m, d in self.decl.items() if d.stream_in(self.drivers)}
            | {s for s in self.drivers if s not in claimed})
        return frozenset(m for m in modalities
                         if (s := self.stream_of(m)) is not None and s not in self.failed)

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

    def observe(self, packets: Mapping[str, Packet]) -> None:
        """What each stream delivered in the window just closed, for a policy that watches
        the data itself (:class:`~sensekit.controller.nav_gate.NavGps` feeds its navigation
        filter); call it before :meth:`step`."""
        from .nav_gate import watch_policy

        watch_policy(self.policy, packets)

    def step(self, t_ns: int, scores: Mapping[str, float] | None = None, *,
             confidence: float | None = None, prediction: str | None = None,
             redundant: frozenset[str] | None = None) -> Plan:
        """Plan and apply the next window; returns the plan as applied."""
        seen = dict(scores or {})
        if self._motion_at is not None:
            for stream, drv in self.drivers.items():
                if callable(getattr(drv, "on_motion", None)):
                    seen.update(dict.fromkeys(self._motion_modalities(stream), 1.0))
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

    def _motion_modalities(self, stream: str) -> list[str]:
        """Modalities of ``stream`` whose score is the motion score (what an interrupt says)."""
        return [m for m, d in self.decl.items() if d.score is not None
                and d.score.role == "motion" and d.stream_in(self.drivers) == stream]

    def _dual_mode(self, scores: Mapping[str, float], t_ns: int) -> None:
        """Photo mode while the trigger's hysteresis is on (and the camera is on)."""
        if self.photo_trigger is None or self.camera is None:
            return
        name, stream, photo_mode = self.camera
        cam = self.drivers[stream]
        if cam.asleep or stream in self.failed:
            return
        photo = self.photo_trigger.update(scores.get(self.photo_score, 0.0), t_ns)
        sized = self.decl[name].turn_down.size_mode
        try:
            if photo and cam.mode != photo_mode and photo_mode in cam.modes:
                self._set_mode(stream, photo_mode, t_ns, f"{self.photo_score} score high")
            elif not photo and cam.mode == photo_mode and name in self.current.rates:
                size = int(self.current.rates[name])
                cam.set_mode(sized, reason="photo trigger released", size=(size, size))
                self._log(t_ns, stream, "mode", photo_mode, f"{sized} {size}x{size}",
                          "photo trigger released")
        except SensekitError as exc:
            self.mark_failed(stream, str(exc), t_ns)

    def request_photo(self, t_ns: int, reason: str = "requested") -> Packet | None:
        """One full-resolution frame now (``capture_photo``), without leaving the sized mode.

        Returns None when the camera is off, failed, or its driver has no one-shot capture.
        """
        if self.camera is None:
            return None
        stream = self.camera[1]
        cam = self.drivers[stream]
        capture = getattr(cam, "capture_photo", None)
        if cam.asleep or stream in self.failed or not callable(capture):
            return None
        try:
            packet: Packet = capture()
        except SensekitError as exc:
            self.mark_failed(stream, str(exc), t_ns)
            return None
        self._log(t_ns, stream, "photo", None, "captured", reason)
        return packet

    def apply(self, config: Configuration, t_ns: int, reason: str,
              standby: Mapping[str, str] | None = None) -> Configuration:
        """Bring every driver to ``config`` (``standby``: low-power modes instead of sleep).

        A stream that is on and also named in ``standby`` runs in that mode while it delivers
        (a GPS in power-save mode still gives a fix a second, on a third of the current).

        Returns what was actually applied.
        """
        standby = self._by_stream(standby or {})
        wanted: dict[str, dict[str, float]] = {}
        for m, value in config.rates.items():
            stream = self.stream_of(m)
            if stream is not None:
                wanted.setdefault(stream, {})[m] = value
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

    def _by_stream(self, modes: Mapping[str, str]) -> dict[str, str]:
        """Plan modes keyed by modality (or stream) -> keyed by the rig's stream."""
        out = {}
        for key, mode in modes.items():
            stream = key if key in self.drivers else self.stream_of(key)
            if stream is not None:
                out[stream] = mode
        return out

    def _switch_on(self, stream: str, modalities: Mapping[str, float], t_ns: int,
                   reason: str, economy: str | None = None) -> None:
        drv = self.drivers[stream]
        if drv.asleep:
            drv.wake(reason=reason)
            self._log(t_ns, stream, "power", "asleep", "awake", reason)
        self._off_since[stream] = None
        decls = [self.decl[m] for m in modalities if m in self.decl]
        control = next((d.turn_down.control for d in decls if d.turn_down.control != "switch"),
                       "switch")
        value = max(modalities.values())
        if control == "size":
            self._set_size(stream, next(d for d in decls if d.turn_down.size_mode), value,
                           t_ns, reason, economy)
            return
        mode = delivering_mode(decls, drv.modes)
        target = economy or mode or self._active_mode.get(stream)
        if target is not None and drv.mode != target:
            self._set_mode(stream, target, t_ns, reason)
        if control == "rate" and drv.rate_hz != value:
            old = drv.rate_hz
            drv.set_rate(value, reason=reason)
            self._log(t_ns, stream, "rate", old, drv.rate_hz, reason)

    def _set_size(self, stream: str, decl: Modality, value: float, t_ns: int,
                  reason: str, mode: str | None = None) -> None:
        """An image modality: its sized mode (or ``mode``, such as a full-resolution readout)
        at ``value`` pixels square."""
        drv = self.drivers[stream]
        mode, side = mode or decl.turn_down.size_mode, int(value)
        if self.photo_trigger is not None and self.photo_trigger.on:
            return  # photo mode holds until the trigger's hysteresis lets it go
        if (drv.mode, tuple(getattr(drv, "size", ()))) != (mode, (side, side)):
            old_mode = drv.mode
            drv.set_mode(mode, reason=reason, size=(side, side))
            self._log(t_ns, stream, "mode", old_mode, f"{mode} {side}x{side}", reason)

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
        on_streams = {self.stream_of(m) for m in rates}
        uses = policy_uses(self.policy)
        held = None if uses is None else {self.stream_of(m) for m in uses}
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
        mods = {m for c in self.supported for m in c.modalities if self.stream_of(m) == stream}
        if not mods:
            decl = self.decl.get(stream)
            if decl is not None and decl.turn_down.control == "size" and decl.input.rates_hz:
                # a sized modality's "rate" is its image side, not the driver's frame rate
                return {stream: min(decl.input.rates_hz)}
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

