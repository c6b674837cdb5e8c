"""The attitude and heading reference system: IMU packets in, orientation packets out.

:class:`Ahrs` runs one filter backend (:mod:`.backends`) and adds what the backend does not
do: online hard-iron estimation (:mod:`.hardiron`), packets in and out with per-sample
decisions, the ENU or NED convention, a state that survives rate changes and restarts, and the
derived outputs (Euler angles, gravity-free acceleration).

Work is done in blocks of ``block_s`` of samples counted from the first sample, whatever the
packet sizes, so streaming packet by packet and :meth:`Ahrs.estimate` on the whole array give
the same numbers. The hard-iron estimate learnt from one block corrects the fields of the next.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from ..packets import Packet
from . import quaternion as quat
from .backends import Backend, BackendOutput, make_backend, whole_6d
from .hardiron import HardIronEstimator
from .offline import HardIronFit, offline_heading

__all__ = ["Ahrs", "OrientationEstimate"]

Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

STANDARD_GRAVITY = 9.80665
#: A hard-iron step below this refines the heading the filter has (turned by what the step
#: turns the field); a larger one sets it afresh from the last ``heading_window_s``.
_SMALL_STEP_UT = 1.0
CONVENTIONS = ("enu", "ned")


@dataclass(frozen=True)
class OrientationEstimate:
    """Per-sample results (N samples) of :meth:`Ahrs.estimate_full` and :meth:`Ahrs.update`.

    Attributes:
        quat: (N, 4) ``[w, x, y, z]`` sensor-to-earth (the Ahrs convention, ENU or NED).
        linear_accel_mps2: (N, 3) acceleration in the earth frame with gravity removed.
        gyro_bias_rads: (N, 3) gyroscope bias estimate (sensor frame).
        hard_iron_ut: (N, 3) magnetometer offset removed from each sample (sensor frame).
        rest: (N,) the sensor was judged still (the bias is learnt then).
        accel_disturbed: (N,) linear acceleration or an impact above the threshold.
        mag_disturbed: (N,) the field's norm or dip departed from the reference, so the
            heading ignored (or down-weighted) it. False without a magnetometer.
    """

    quat: Array
    linear_accel_mps2: Array
    gyro_bias_rads: Array
    hard_iron_ut: Array
    rest: BoolArray
    accel_disturbed: BoolArray
    mag_disturbed: BoolArray

    def euler_rad(self) -> Array:
        """(N, 3) roll, pitch, yaw (z-y'-x'' sequence) in the estimate's convention."""
        return quat.euler_zyx(self.quat)

    def __len__(self) -> int:
        return len(self.quat)


class Ahrs:
    """Orientation from a 6-axis or 9-axis IMU, streaming or in batch.

    Streaming (:meth:`update`, one packet at a time) is causal, for live data. Batch
    (:meth:`estimate` on whole arrays) treats the arrays as a whole recording and uses every
    sample for every estimate: VQF's offline filter, and one hard-iron offset fitted to all
    the turns, so a magnet attached to the sensor is removed from the first sample on.

    Args:
        rate_hz: Sample rate of the IMU (packets may change it; see :meth:`update`).
        convention: Earth frame of the output, ``"enu"`` (x east, y north, z up) or ``"ned"``.
        backend: ``"auto"``, ``"vqf"`` or ``"complementary"`` (see :mod:`.backends`).
        hard_iron: Learn a magnetometer offset online (only matters with a magnetometer).
        hard_iron_ut: A stored offset to start from (microtesla, sensor frame).
        accel_threshold_mps2: Linear acceleration above which a sample is marked
            ``accel_disturbed``.
        block_s: Length of a processing block (the hard-iron update interval).
        heading_window_s: When the hard-iron offset moves, the heading is set from the
            field of this last stretch of samples with the new offset removed.

    Example::

        ahrs = Ahrs(rate_hz=100)
        for packet in imu:                    # packets of the "imu" modality
            out = ahrs.update(packet)         # an "orientation" packet, same timestamps
        q = Ahrs(rate_hz=286).estimate(gyr, acc, mag)   # (N, 4): a whole recording
    """

    def __init__(self, rate_hz: float, convention: str = "enu", *, backend: str = "auto",
                 hard_iron: bool = True, hard_iron_ut: Sequence[float] | None = None,
                 accel_threshold_mps2: float = 2.0, block_s: float = 0.25,
                 heading_window_s: float = 2.0) -> None:
        if not (rate_hz > 0 and math.isfinite(rate_hz)):
            raise ConfigError(f"Ahrs rate_hz must be a positive number of Hz, got {rate_hz!r}")
        if convention not in CONVENTIONS:
            raise ConfigError(f"Ahrs convention must be one of {CONVENTIONS}, got "
                              f"{convention!r}")
        self.convention = convention
        self.rate_hz = float(rate_hz)
        self.block_s = block_s
        self.accel_threshold_mps2 = accel_threshold_mps2
        self._backend: Backend = make_backend(backend, self.rate_hz)
        start = np.zeros(3) if hard_iron_ut is None else np.asarray(hard_iron_ut, np.float64)
        self._hard_iron = HardIronEstimator(start.copy()) if hard_iron else None
        self._offset = start.reshape(3).copy()
        self._block: list[tuple[Array, Array, Array]] = []
        # the last blocks' 6-axis orientations and raw fields: the heading is taken from
        # them when the hard-iron offset moves
        self._recent: deque[tuple[Array, Array]] = deque(maxlen=max(1, round(
            heading_window_s / block_s)))
        self._block_fill = 0
        self._t_s = 0.0  # time of the next sample when no timestamps are given
        self._last_t_ns: int | None = None
        self._step_s = 1.0 / self.rate_hz
        self._gravity = STANDARD_GRAVITY
        self._last: OrientationEstimate | None = None
        self._offline_fit: HardIronFit | None = None

    # -- public API ---------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """Name of the filter in use (``"vqf"`` or ``"complementary"``)."""
        return self._backend.name

    @property
    def hard_iron_ut(self) -> Array:
        """The magnetometer offset now removed from every sample."""
        return np.array(self._offset, np.float64)

    @property
    def quaternion(self) -> Array:
        """The latest ``[w, x, y, z]`` estimate (identity before the first sample)."""
        return np.array([1.0, 0, 0, 0]) if self._last is None else self._last.quat[-1].copy()

    @property
    def offline_fit(self) -> HardIronFit | None:
        """The whole-recording hard-iron fit of the last ``offline=True`` estimate (its
        offset, standard errors and why it was or was not accepted); None before one."""
        return self._offline_fit

    def estimate(self, gyr_rads: npt.ArrayLike, acc_mps2: npt.ArrayLike,
                 mag_ut: npt.ArrayLike | None = None, *, offline: bool = True) -> Array:
        """(N, 4) sensor-to-earth quaternions for whole (N, 3) arrays at ``rate_hz``.

        The arrays are taken as one whole recording (``offline=True``, non-causal: the best
        estimate of a recording); ``offline=False`` runs the streaming filter over them and
        continues its state, for arrays that are chunks of a stream. See
        :meth:`estimate_full`.
        """
        return self.estimate_full(gyr_rads, acc_mps2, mag_ut, offline=offline).quat

    def estimate_full(self, gyr_rads: npt.ArrayLike, acc_mps2: npt.ArrayLike,
                      mag_ut: npt.ArrayLike | None = None, *, offline: bool = True
                      ) -> OrientationEstimate:
        """Every per-sample output for whole arrays at ``rate_hz``.

        By default (``offline=True``) the arrays are one whole recording and the estimate is
        **non-causal**: each sample's estimate uses the samples after it too, so it is for
        recordings, never for live streams (use :meth:`update`, or ``offline=False``). The
        6-axis orientation is VQF's offline variant (forwards and backwards, with the
        complementary backend the forward filter); one hard-iron offset is fitted to
        every turn of the recording at once (:func:`.offline.fit_hard_iron`, on top of
        ``hard_iron_ut``; see :attr:`offline_fit`), so an attached magnet is removed from the
        first sample instead of after the first turns; the heading is smoothed forwards and
        backwards over the undisturbed fields, so a disturbance is bridged from both sides.
        When no single offset explains the recording (a magnet attached part-way), the online
        estimator's offsets are used. The streaming state is neither used nor changed.

        ``offline=False`` runs the streaming filter over the arrays (causal: each sample's
        estimate uses only the samples before it) and continues its state, like
        :meth:`update`: the same result as streaming the samples in packets.
        """
        gyr, acc, mag = _inputs(gyr_rads, acc_mps2, mag_ut)
        if offline:
            return self._offline(gyr, acc, mag)
        t = self._t_s + np.arange(len(gyr)) / self.rate_hz
        self._t_s = float(t[-1] + 1.0 / self.rate_hz) if len(t) else self._t_s
        return self._run(gyr, acc, mag, t)

    def update(self, packet: Packet) -> Packet:
        """Filter one ``imu`` packet; return the ``orientation`` packet for its samples.

        The packet needs ``gyro_rads`` and ``accel_mps2`` (``mag_ut`` is used when present).
        When the timestamps show another rate than ``rate_hz`` (by more than 2%), the filter
        moves to it first, keeping its state.
        """
        if "gyro_rads" not in packet.fields or "accel_mps2" not in packet.fields:
            raise ConfigError(f"stream {packet.stream!r}: the AHRS needs gyro_rads and "
                              f"accel_mps2, the packet has {sorted(packet.fields)}")
        if len(packet) == 0:
            return self._packet(packet, _empty())
        self._follow_rate(packet.t_ns)
        gyr, acc, mag = _inputs(packet["gyro_rads"], packet["accel_mps2"],
                                packet.fields.get("mag_ut"))
        t = packet.t_ns.astype(np.float64) * 1e-9
        self._last_t_ns = int(packet.t_ns[-1])
        return self._packet(packet, self._run(gyr, acc, mag, t))

    def set_rate(self, rate_hz: float) -> None:
        """Move to a new sample rate, keeping orientation, bias and magnetic state."""
        if not (rate_hz > 0 and math.isfinite(rate_hz)):
            raise ConfigError(f"Ahrs rate must be a positive number of Hz, got {rate_hz!r}")
        self._backend.set_rate(float(rate_hz))
        self.rate_hz = float(rate_hz)
        self._step_s = 1.0 / self.rate_hz

    def state(self) -> dict[str, Any]:
        """Everything a restart needs (JSON-friendly): see :meth:`restore`."""
        return {"rate_hz": self.rate_hz, "convention": self.convention,
                "backend": self._backend.name, "filter": self._backend.state(),
                "hard_iron_ut": self._offset.tolist(), "gravity_mps2": self._gravity,
                "hard_iron": None if self._hard_iron is None else self._hard_iron.state()}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state` (same backend; the rate may differ)."""
        if state.get("backend") != self._backend.name:
            raise ConfigError(f"Ahrs state is from backend {state.get('backend')!r}, this "
                              f"Ahrs runs {self._backend.name!r}")
        self._backend.restore(state["filter"])
        self.rate_hz = float(state["rate_hz"])
        self._step_s = 1.0 / self.rate_hz
        self._offset = np.asarray(state["hard_iron_ut"], np.float64).reshape(3)
        self._gravity = float(state.get("gravity_mps2", STANDARD_GRAVITY))
        if self._hard_iron is not None and state.get("hard_iron"):
            self._hard_iron.restore(state["hard_iron"])

    # -- the block loop -----------------------------------------------------------------
    def _run(self, gyr: Array, acc: Array, mag: Array | None, t: Array
             ) -> OrientationEstimate:
        if len(gyr) == 0:
            return _empty()
        parts: list[tuple[BackendOutput, Array]] = []  # each block with its offset
        block_n = max(1, round(self.block_s * self.rate_hz))
        i = 0
        while i < len(gyr):
            # a lower rate can leave a part-filled block already past its new length
            j = min(len(gyr), i + max(1, block_n - self._block_fill))
            parts.append(self._step(gyr[i:j], acc[i:j], None if mag is None else mag[i:j],
                                    t[i:j]))
            self._block_fill += j - i
            if self._block_fill >= block_n:
                self._end_block()
            i = j
        out = self._outputs(parts, acc, mag is not None)
        self._last = out
        return out

    def _step(self, gyr: Array, acc: Array, mag: Array | None, t: Array
              ) -> tuple[BackendOutput, Array]:
        offset = self._offset
        fed = None if mag is None else np.where(np.isfinite(mag), mag - offset, 0.0)
        out = self._backend.update(gyr, acc, fed)
        if mag is not None and self._hard_iron is not None:
            self._block.append((t, out.quat6d, mag))
        return out, offset

    def _end_block(self) -> None:
        self._block_fill = 0
        if not self._block or self._hard_iron is None:
            self._block = []
            return
        t, q6, mag = (np.concatenate(x) for x in zip(*self._block, strict=True))
        self._block = []
        self._recent.append((q6, mag))
        update = self._hard_iron.add(t, q6, mag)
        if not update.moved:
            return
        before, self._offset = self._offset, update.offset_ut
        if update.refined and float(np.linalg.norm(update.step_ut)) < _SMALL_STEP_UT:
            # a small correction: turn the filter's own heading by what it turns this
            # block's field, rather than replacing the heading with a few samples' noise
            norm, dip, heading = _field_after(q6, mag, self._offset)
            turn = heading - _field_after(q6, mag, before)[2]
            heading = self._backend.heading_offset_rad + math.remainder(turn, 2 * math.pi)
        else:
            q6, mag = (np.concatenate(x) for x in zip(*self._recent, strict=True))
            norm, dip, heading = _field_after(q6, mag, self._offset)
        if math.isfinite(norm):
            # the heading follows the new calibration at once, not over tau_mag
            self._backend.set_mag_reference(norm, dip, heading)

    def _outputs(self, parts: list[tuple[BackendOutput, Array]], acc: Array, has_mag: bool
                 ) -> OrientationEstimate:
        outs = [p[0] for p in parts]
        use9 = has_mag and outs[0].quat9d is not None
        q = _join([o.quat9d if use9 and o.quat9d is not None else o.quat6d for o in outs])
        rest = _join([o.rest for o in outs]).astype(bool)
        if rest.any():  # the local gravity, learnt while still
            self._gravity += 0.01 * (float(np.mean(np.linalg.norm(acc[rest], axis=1)))
                                     - self._gravity)
        mag_dist = (_join([o.mag_disturbed for o in outs]).astype(bool)
                    if has_mag and outs[0].mag_disturbed is not None
                    else np.zeros(len(q), bool))
        offsets = np.repeat(np.array([p[1] for p in parts]), [len(o.rest) for o in outs],
                            axis=0)
        return self._estimate(q, acc, self._gravity, _join([o.bias_rads for o in outs]),
                              offsets, rest, mag_dist)

    def _estimate(self, q_enu: Array, acc: Array, gravity: float, bias: Array,
                  offsets: Array, rest: BoolArray, mag_dist: BoolArray) -> OrientationEstimate:
        """The per-sample outputs from an ENU orientation, in this Ahrs's convention."""
        earth = quat.rotate(q_enu, acc)
        earth[:, 2] -= gravity
        dist = np.linalg.norm(earth, axis=1) > self.accel_threshold_mps2
        q = q_enu
        if self.convention == "ned":
            q = quat.enu_to_ned(q_enu)
            earth = earth[:, [1, 0, 2]] * np.array([1.0, 1.0, -1.0])
        return OrientationEstimate(q, earth, bias, offsets, rest, dist, mag_dist)

    def _offline(self, gyr: Array, acc: Array, mag: Array | None) -> OrientationEstimate:
        if len(gyr) == 0:
            return _empty()
        out = whole_6d(self._backend.name, self.rate_hz, gyr, acc)
        rest = np.asarray(out.rest, bool)
        gravity = (float(np.mean(np.linalg.norm(acc[rest], axis=1))) if rest.any()
                   else STANDARD_GRAVITY)
        if mag is None:
            return self._estimate(out.quat6d, acc, gravity, out.bias_rads,
                                  np.repeat(self._offset[None], len(gyr), axis=0), rest,
                                  np.zeros(len(gyr), bool))
        # rows of zeros mean "no reading" to the backends; NaN to the offline fit
        valid = np.all(np.isfinite(mag), axis=1) & np.any(mag != 0, axis=1)
        head = offline_heading(out.quat6d, rest, np.where(valid[:, None], mag, np.nan),
                               self.rate_hz, self._offset, learn=self._hard_iron is not None,
                               gyr_rads=gyr)
        self._offline_fit = head.fit
        return self._estimate(head.quat9d, acc, gravity, out.bias_rads, head.hard_iron_ut,
                              rest, head.disturbed & valid)

    def _follow_rate(self, t_ns: npt.NDArray[np.int64]) -> None:
        """Move to the rate the timestamps show when it is more than 2% away: a packet of 8
        samples or more says it alone; smaller ones are averaged over about half a second,
        so that the jitter of single samples does not move the rate."""
        last = self._last_t_ns
        n = len(t_ns) if last is not None else len(t_ns) - 1
        if n <= 0:
            return
        first = last if last is not None else int(t_ns[0])
        step = (int(t_ns[-1]) - first) * 1e-9 / n
        if step <= 0:
            return
        weight = 1.0 if n >= 8 else min(1.0, n / (0.5 * self.rate_hz))
        self._step_s += weight * (step - self._step_s)
        if abs(1.0 / self._step_s - self.rate_hz) > 0.02 * self.rate_hz:
            self.set_rate(1.0 / self._step_s)

    def _packet(self, packet: Packet, est: OrientationEstimate) -> Packet:
        from .streams import orientation_packet

        return orientation_packet(est, packet.t_ns, stream=_out_stream(packet.stream),
                                  convention=self.convention, backend=self.backend)


def _inputs(gyr: npt.ArrayLike, acc: npt.ArrayLike, mag: npt.ArrayLike | None
            ) -> tuple[Array, Array, Array | None]:
    g = np.asarray(gyr, np.float64)
    a = np.asarray(acc, np.float64)
    m = None if mag is None else np.asarray(mag, np.float64)
    for name, x in (("gyr_rads", g), ("acc_mps2", a), ("mag_ut", m)):
        if x is not None and (x.ndim != 2 or x.shape[1] != 3 or len(x) != len(g)):
            raise ConfigError(f"Ahrs input {name} must be (N, 3) with N = {len(g)} like "
                              f"gyr_rads, got shape {x.shape}")
    return g, a, m


def _field_after(q6: Array, mag: Array, offset: Array) -> tuple[float, float, float]:
    """The block's field with ``offset`` removed, in the 6-axis earth frame: its mean norm,
    dip (positive down) and horizontal direction (clockwise from the 6-axis frame's y axis,
    the heading offset the backend tracks)."""
    ok = np.all(np.isfinite(mag), axis=1)
    if not ok.any():
        return math.nan, math.nan, math.nan
    field = quat.rotate(q6[ok], mag[ok] - offset)
    norms = np.linalg.norm(field, axis=1)
    dip = float(np.mean(-np.arcsin(np.clip(field[:, 2] / norms, -1, 1))))
    heading = float(np.angle(np.mean(np.exp(1j * np.arctan2(field[:, 0], field[:, 1])))))
    return float(np.mean(norms)), dip, heading


def _join(arrays: list[Any]) -> Any:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _empty() -> OrientationEstimate:
    z3 = np.zeros((0, 3))
    zb = np.zeros(0, bool)
    return OrientationEstimate(np.zeros((0, 4)), z3, z3, z3, zb, zb, zb)


def _out_stream(imu_stream: str) -> str:
    """``imu`` -> ``orientation``; ``imu.wrist`` -> ``orientation.wrist``."""
    head, _, tail = imu_stream.partition(".")
    return "orientation" + (f".{tail}" if tail else "") if head == "imu" else \
        f"{imu_stream}.orientation"
