"""Honest replays for policy evaluation: a recorded stream behaves like the device would have.

A :class:`RecordedDevice` is a driver over one recorded stream held in memory. The controller
drives it through the same interface as hardware (``set_rate``, ``set_mode``, ``sleep``,
``wake``) and it yields only what the real sensor would have delivered:

- **Asleep:** nothing. What was recorded in that span is not visible to the policy.
- **Waking up, switching modes:** nothing until the transition time of the device's power
  model has passed (``[[transition]]`` from ``sleep`` to the mode it wakes into: an
  accelerometer's 20 ms, the gyroscope's 30 ms, a GPS hot start, a microphone's USB resume, a
  camera's stream start; from one mode to another: the gyroscope starting, a camera's
  reconfiguration). The ledger charges the same rows.
- **Standby modes:** in ``wake_on_motion`` an IMU delivers no samples, but its motion
  interrupt fires (:meth:`RecordedDevice.on_motion`, as on :class:`~sensekit.drivers.imu.
  mpu6050.Mpu6050`) when the recorded acceleration changes between samples by more than the
  threshold.
- **Modes that deliver less:** a modality the current mode does not deliver (the gyroscope
  in ``accel_only`` or the accelerometer's low-power cycle mode) is left out.
- **A lower rate:** the recorded stream goes through the part's own decimation path
  (:func:`sensekit.modalities.decimate.decimate_modality`): the low-pass the part applies in
  that mode at that rate (an MPU-6050's DLPF bandwidth in its normal modes), or point
  sampling where each sample is one measurement (its low-power cycle mode, a magnetometer).
  Decimation stands in for the device's lower rate; the evaluation report says so.

A rate above what the stream was recorded at is priced as asked (the part would run at it)
but delivers the recording as it is: never upsampled (:attr:`RecordedDevice.capped`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from ..driver import Driver
from ..errors import ConfigError
from ..modalities.decimate import RATE_TOLERANCE, decimate, lowpass, native_rate_hz
from ..packets import Packet
from ..power.model import SLEEP, PowerModel

if TYPE_CHECKING:
    from ..modalities import Modality

__all__ = ["RecordedDevice", "lowpass"]

Array = npt.NDArray[Any]


def _declared_modes() -> tuple[str, ...]:
    from ..modalities import registered

    out = ["continuous", "capture"]
    for decl in registered().values():
        td = decl.turn_down
        for mode in (*td.modes, td.standby, td.economy, td.size_mode, td.photo_mode,
                     *decl.settings()):
            if mode and mode not in out:
                out.append(mode)
    return tuple(out)


class RecordedDevice(Driver):
    """One recorded stream, replayed window by window under the controller.

    Args:
        stream: Stream name.
        t_ns: Recorded timestamps (sorted).
        fields: Recorded payload arrays.
        modality: Packet modality.
        power: The device's power model (wake-up and mode-switch times; its modes are the
            device's modes). None: transitions are instant and every declared mode is allowed.
        active_mode: Its mode when on.
        modalities: The declarations of the modalities the stream carries: their decimation
            path (low-pass or point sampling, per mode) and which mode delivers which.
        filter_bandwidths_hz: Without ``modalities``: the low-pass settings the part picks
            from when its rate is lowered (the widest at or below half the rate), as a
            declaration's ``TurnDown.lowpass_hz``.
    """

    name: ClassVar[str] = "recorded"
    schemes: ClassVar[frozenset[str]] = frozenset({"replay"})
    #: Modes a policy may ask for: every mode a declared modality names (delivering, standby,
    #: economy, sized and photo modes, its settings), after ``continuous`` (the default) and
    #: ``capture``. A device priced by a power table offers that table's modes instead.
    modes = _declared_modes()

    def __init__(self, stream: str, t_ns: npt.NDArray[np.int64], fields: Mapping[str, Array],
                 *, modality: str = "", power: PowerModel | None = None,
                 active_mode: str | None = None,
                 modalities: Sequence[Modality] = (),
                 filter_bandwidths_hz: tuple[float, ...] | None = None, **kw: Any) -> None:
        if power is not None:  # the part's own modes, as its table lists them
            self.__dict__["modes"] = power.active_modes
        if active_mode is not None and active_mode not in self.modes:
            raise ConfigError(f"recorded {stream!r}: mode {active_mode!r} is not one of "
                              f"{self.modes}")
        super().__init__(f"replay://memory#{stream}", stream=stream, mode=active_mode, **kw)
        if len(t_ns) < 2:
            raise ConfigError(f"recorded stream {stream!r} has {len(t_ns)} samples; need 2+")
        self.t_ns = np.asarray(t_ns, np.int64)
        self.fields = dict(fields)
        self.modality_name = modality
        self.native_rate_hz = native_rate_hz(self.t_ns)
        self.rate_hz = self.native_rate_hz
        self.power = power
        self.active_mode = active_mode
        self.decls = tuple(modalities)
        self.bandwidths = tuple(filter_bandwidths_hz or ())
        self.usable_from_ns: int = int(self.t_ns[0])
        self.size: tuple[int, ...] = ()
        self.motion_threshold_g = 0.064
        self.motion_events = 0
        self._motion_callbacks: list[Callable[[int], None]] = []
        self.hidden = 0
        self._woke_ns: int | None = None
        self._decimated: dict[tuple[float, float | None], tuple[Array, dict[str, Array]]] = {}

    def _open(self) -> None: ...
    def _close(self) -> None: ...

    def _read_packet(self, timeout_s: float) -> Packet | None:
        raise ConfigError(f"{self.describe()}: read windows with take(t0, t1)")

    def _set_rate(self, rate_hz: float) -> float:
        return rate_hz  # priced as asked; delivered at most as recorded (delivered_rate_hz)

    @property
    def delivered_rate_hz(self) -> float:
        """The rate samples come out at: the one set, at most the recorded one."""
        return min(float(self.rate_hz or self.native_rate_hz), self.native_rate_hz)

    @property
    def capped(self) -> bool:
        """The rate set is above what the stream was recorded at (delivered as recorded)."""
        return float(self.rate_hz or 0.0) > self.native_rate_hz * (1 + RATE_TOLERANCE)

    def _set_mode(self, mode: str, **options: Any) -> None:
        if "motion_threshold_g" in options:
            self.motion_threshold_g = float(options["motion_threshold_g"])
        if "size" in options:
            self.size = tuple(options["size"])
        if self.asleep or mode == self.mode:
            return
        now = self.clock.now_ns()
        if self._woke_ns == now:  # woken into this mode at once: one wake-up, not two
            self.usable_from_ns = now + int(self._transition_s(SLEEP, mode) * 1e9)
        else:
            wait = int(self._transition_s(self.mode, mode) * 1e9)
            self.usable_from_ns = max(self.usable_from_ns, now + wait)

    def _sleep(self) -> None: ...

    def _wake(self) -> None:
        self._woke_ns = self.clock.now_ns()
        self.usable_from_ns = self._woke_ns + int(self.wake_time_s() * 1e9)

    def _transition_s(self, src: str, dst: str) -> float:
        if self.power is None:
            return 0.0
        step = self.power.transition(src, dst)
        return step.time_s if step is not None else 0.0

    def wake_time_s(self) -> float:
        """Seconds from wake to the first usable sample in the current mode, from the power
        model."""
        return self._transition_s(SLEEP, self.mode)

    def cutoff_hz(self, rate_hz: float) -> float | None:
        """The low-pass the part applies at ``rate_hz`` in its current mode to what that mode
        delivers (None: point sampling)."""
        if not self.decls and self.bandwidths:
            fitting = [b for b in self.bandwidths if b <= rate_hz / 2]
            return max(fitting) if fitting else min(self.bandwidths)
        mine = [d for d in self.decls if self._delivers(d)] or list(self.decls)
        return next((c for d in mine if (c := d.cutoff_hz(self.mode, rate_hz)) is not None),
                    None)

    def _delivers(self, decl: Modality) -> bool:
        return self.mode in decl.settings() or self.mode in decl.turn_down.modes

    def _hold_s(self) -> float | None:
        return next((s.hold_s for d in self.decls for s in d.input.sources
                     if s.stream == self.stream and s.hold_s is not None), None)

    def withheld_fields(self) -> set[str]:
        """Fields of modalities the current mode does not deliver (the gyroscope's in
        ``accel_only`` or the low-power cycle mode); fields no declaration names stay."""
        delivers = self._delivers

        def fields(d: Modality) -> set[str]:
            return {f for s in d.input.sources if s.stream == self.stream for f in s.fields}

        mine = [d for d in self.decls if d.turn_down.modes or d.turn_down.settings]
        if not any(delivers(d) for d in mine):
            return set()  # a mode no declaration names (a table's own): everything
        kept = set().union(*(fields(d) for d in mine if delivers(d)))
        return set().union(*(fields(d) for d in mine if not delivers(d))) - kept

    def take(self, t0_ns: int, t1_ns: int) -> Packet | None:
        """What the device delivered in ``[t0_ns, t1_ns)`` in its current state."""
        lo, hi = np.searchsorted(self.t_ns, [t0_ns, t1_ns])
        if self.asleep or self.mode == "wake_on_motion":
            self.hidden += int(hi - lo)
            if not self.asleep:
                self._check_motion(lo, hi)
            return None
        start = max(t0_ns, self.usable_from_ns)
        self.hidden += int(max(0, np.searchsorted(self.t_ns, start) - lo))
        if start >= t1_ns:
            return None
        t, fields = self._source()
        a, b = np.searchsorted(t, [start, t1_ns])
        if a >= b:
            return None
        withheld = self.withheld_fields()
        return Packet(self.stream, t[a:b], {k: v[a:b] for k, v in fields.items()
                                            if k not in withheld}, self.modality_name)

    def _source(self) -> tuple[Array, dict[str, Array]]:
        """The stream as the part delivers it at its current rate and mode (cached)."""
        rate = self.delivered_rate_hz
        if rate >= self.native_rate_hz * (1 - RATE_TOLERANCE):
            return self.t_ns, self.fields
        cut = self.cutoff_hz(rate)
        key = (rate, cut)
        if key not in self._decimated:
            self._decimated[key] = decimate(self.t_ns, self.fields, rate, cutoff_hz=cut,
                                            hold_s=self._hold_s())
        return self._decimated[key]

    def on_motion(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(t_ns)`` when the motion interrupt fires in ``wake_on_motion``."""
        self._motion_callbacks.append(callback)

    def _check_motion(self, lo: int, hi: int) -> None:
        accel = self.fields.get("accel_mps2")
        if accel is None or hi - lo < 2:
            return
        step = np.abs(np.diff(accel[lo:hi].astype(np.float64), axis=0)).max(axis=1)
        over = np.flatnonzero(step > self.motion_threshold_g * 9.80665)
        if len(over):
            self.motion_events += 1
            t = int(self.t_ns[lo + 1 + over[0]])
            for callback in self._motion_callbacks:
                callback(t)
