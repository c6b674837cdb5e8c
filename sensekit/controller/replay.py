"""Honest replays for policy evaluation: a recorded stream behaves like the device would have.

A :class:`RecordedDevice` is a driver over one recorded stream held in memory. The controller
drives it through the same interface as hardware (``set_rate``, ``set_mode``, ``sleep``,
``wake``) and it yields only what the real sensor would have delivered:

- **Asleep:** nothing. What was recorded in that span is not visible to the policy.
- **Waking up:** nothing until the wake-up time of the device's power model has passed
  (``[[transition]]`` from ``sleep`` to the active mode: gyro start-up 30 ms, GPS time to fix,
  a light sensor's first integration); the energy of that transition is charged by the ledger
  from the same table.
- **Standby modes:** in ``wake_on_motion`` an IMU delivers no samples, but its motion
  interrupt fires (:meth:`RecordedDevice.on_motion`, as on :class:`~sensekit.drivers.imu.
  mpu6050.Mpu6050`) when the recorded acceleration changes between samples by more than the
  threshold; in ``accel_only`` the gyroscope field is not delivered.
- **A lower rate:** the recorded stream is low-pass filtered with the anti-alias filter the
  device's own low-pass setting would apply (for an MPU-6050, the DLPF bandwidth the driver
  picks for that rate), then decimated. Decimation stands in for the device's lower rate; the
  evaluation report says so.

Streams that are recorded below the rate asked for are passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ..driver import Driver
from ..errors import ConfigError
from ..packets import Packet
from ..power.model import PowerModel

__all__ = ["RecordedDevice", "lowpass"]

Array = npt.NDArray[Any]


def lowpass(values: Array, rate_hz: float, cutoff_hz: float) -> Array:
    """Windowed-sinc FIR low-pass along axis 0 (zero phase, edges reflected)."""
    if cutoff_hz >= rate_hz / 2:
        return values
    taps = int(min(4 * rate_hz / cutoff_hz, len(values) // 2 * 2 - 1))
    taps = max(taps | 1, 3)
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff_hz / rate_hz * n) * np.hamming(taps)
    h /= h.sum()
    x = np.asarray(values, np.float64)
    pad = taps // 2
    flat = x.reshape(len(x), -1)
    padded = np.pad(flat, ((pad, pad), (0, 0)), mode="reflect")
    out = np.stack([np.convolve(padded[:, j], h, mode="valid") for j in range(flat.shape[1])],
                   axis=1)
    return out.reshape(x.shape).astype(values.dtype)


def _declared_modes() -> tuple[str, ...]:
    from ..modalities import registered

    out = ["continuous", "capture"]
    for decl in registered().values():
        td = decl.turn_down
        for mode in (*td.modes, td.standby, td.economy, td.size_mode, td.photo_mode):
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
        power: The device's power model (wake-up times); None: wake-ups are instant.
        active_mode: Its mode when on (the row used for the wake-up transition).
        filter_bandwidths_hz: Low-pass settings the device picks from when the rate is lowered
            (its modality's declared ``lowpass_hz``, such as an MPU-6050's DLPF; None: a cut at
            0.4 x rate).
    """

    name: ClassVar[str] = "recorded"
    schemes: ClassVar[frozenset[str]] = frozenset({"replay"})
    #: Modes a policy may ask for: every mode a declared modality names (delivering, standby,
    #: economy, sized and photo modes), after ``continuous`` (the default) and ``capture``.
    modes = _declared_modes()

    def __init__(self, stream: str, t_ns: npt.NDArray[np.int64], fields: Mapping[str, Array],
                 *, modality: str = "", power: PowerModel | None = None,
                 active_mode: str | None = None,
                 filter_bandwidths_hz: tuple[float, ...] | None = None, **kw: Any) -> None:
        if active_mode is not None and active_mode not in self.modes:
            raise ConfigError(f"recorded {stream!r}: mode {active_mode!r} is not one of "
                              f"{self.modes}")
        super().__init__(f"replay://memory#{stream}", stream=stream, mode=active_mode, **kw)
        if len(t_ns) < 2:
            raise ConfigError(f"recorded stream {stream!r} has {len(t_ns)} samples; need 2+")
        self.t_ns = np.asarray(t_ns, np.int64)
        self.fields = dict(fields)
        self.modality_name = modality
        self.native_rate_hz = 1e9 / float(np.median(np.diff(self.t_ns)))
        self.rate_hz = self.native_rate_hz
        self.power = power
        self.active_mode = active_mode
        self.bandwidths = filter_bandwidths_hz
        self.usable_from_ns: int = int(self.t_ns[0])
        self.size: tuple[int, ...] = ()
        self.motion_threshold_g = 0.064
        self.motion_events = 0
        self._motion_callbacks: list[Callable[[int], None]] = []
        self.hidden = 0
        self._filtered: dict[float, dict[str, Array]] = {}

    def _open(self) -> None: ...
    def _close(self) -> None: ...

    def _read_packet(self, timeout_s: float) -> Packet | None:
        raise ConfigError(f"{self.describe()}: read windows with take(t0, t1)")

    def _set_rate(self, rate_hz: float) -> float:
        return min(rate_hz, self.native_rate_hz)

    def _set_mode(self, mode: str, **options: Any) -> None:
        if "motion_threshold_g" in options:
            self.motion_threshold_g = float(options["motion_threshold_g"])
        if "size" in options:
            self.size = tuple(options["size"])

    def _sleep(self) -> None: ...

    def _wake(self) -> None:
        self.usable_from_ns = self.clock.now_ns() + int(self.wake_time_s() * 1e9)

    def wake_time_s(self) -> float:
        """Seconds from wake to the first usable sample, from the power model."""
        if self.power is None or self.active_mode is None:
            return 0.0
        t = self.power.transition("sleep", self.active_mode)
        return t.time_s if t is not None else 0.0

    def cutoff_hz(self, rate_hz: float) -> float:
        """The anti-alias cut-off the device would apply at ``rate_hz``."""
        if self.bandwidths:
            fitting = [b for b in self.bandwidths if b <= rate_hz / 2]
            return max(fitting) if fitting else min(self.bandwidths)
        return 0.4 * rate_hz

    def take(self, t0_ns: int, t1_ns: int) -> Packet | None:
        """What the device delivered in ``[t0_ns, t1_ns)`` in its current state."""
        lo, hi = np.searchsorted(self.t_ns, [t0_ns, t1_ns])
        if self.asleep or self.mode == "wake_on_motion":
            self.hidden += int(hi - lo)
            if not self.asleep:
                self._check_motion(lo, hi)
            return None
        start = max(lo, int(np.searchsorted(self.t_ns, self.usable_from_ns)))
        self.hidden += int(start - lo) if start > lo else 0
        if start >= hi:
            return None
        idx = np.arange(start, hi)
        rate = float(self.rate_hz or self.native_rate_hz)
        fields = self.fields
        if rate < self.native_rate_hz * 0.95:
            fields = self._decimated_source(rate)
            step = self.native_rate_hz / rate
            keep = np.floor(idx / step) != np.floor((idx - 1) / step)
            idx = idx[keep]
        if self.mode == "accel_only":
            fields = {k: v for k, v in fields.items() if k != "gyro_rads"}
        return Packet(self.stream, self.t_ns[idx], {k: v[idx] for k, v in fields.items()},
                      self.modality_name)

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

    def _decimated_source(self, rate: float) -> dict[str, Array]:
        if rate not in self._filtered:
            cut = self.cutoff_hz(rate)
            self._filtered[rate] = {
                k: lowpass(v, self.native_rate_hz, cut) if np.issubdtype(v.dtype, np.floating)
                else v for k, v in self.fields.items()}
        return self._filtered[rate]
