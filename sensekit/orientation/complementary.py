"""sensekit's own complementary filter: the AHRS backend that needs nothing but Python.

The structure is the one VQF (Laidig and Seel, 2023) published, in its basic form, written
from the paper's description in plain ``math`` (no numpy per sample):

1. Strapdown: the gyroscope, less the bias estimate, turns a gyroscope-only orientation
   ``q_gyr`` (exact quaternion step per sample).
2. Tilt: the accelerometer reading is turned into the frame of ``q_gyr`` and low-passed there
   (``tau_acc``); linear accelerations and impacts average out in that frame instead of
   tilting the estimate, which is the acceleration rejection. A correction ``q_acc`` turns the
   low-passed vector up by a fraction of the disagreement each sample.
3. Heading: the magnetometer, turned by ``q_acc * q_gyr``, corrects a heading offset ``delta``
   about the vertical (``tau_mag``), only while the field's norm and dip agree with the
   reference (10% and 10 degrees); a field that stays different for ``mag_new_s`` while the
   sensor turns becomes the new reference.
4. Bias: at rest (gyroscope and accelerometer within 2 deg/s and 0.5 m/s^2 of their 0.5 s
   averages for 1.5 s) the bias estimate follows the averaged gyroscope; in motion a slow
   integral of the tilt correction follows it, as in Mahony's filter.

Gains start at 1 and fall as 1/N to their time constants, so the first samples' gravity and
field set the start (their mean, not the first sample alone) rather than identity.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .backends import BackendOutput

__all__ = ["ComplementaryBackend", "ComplementaryParams"]

Array = npt.NDArray[np.float64]
G0 = 9.80665


@dataclass
class ComplementaryParams:
    """Time constants (s) and thresholds of the complementary filter."""

    tau_acc: float = 3.0
    tau_mag: float = 9.0
    mag_norm_th: float = 0.1
    mag_dip_th_rad: float = math.radians(10.0)
    mag_new_s: float = 20.0
    bias_integral: float = 0.01
    rest_gyr_rads: float = math.radians(2.0)
    rest_acc_mps2: float = 0.5
    rest_min_s: float = 1.5
    rest_tau_s: float = 0.5
    bias_rest_tau_s: float = 2.0


@dataclass
class _State:
    q_gyr: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0, 0.0])
    q_acc: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0, 0.0])
    delta: float = 0.0
    bias: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    acc_lp: list[float] | None = None
    acc_n: float = 0.0
    gyr_lp: list[float] | None = None
    rest_acc_lp: list[float] | None = None
    rest_s: float = 0.0
    ref_norm: float = 0.0
    ref_dip: float = 0.0
    cand_norm: float = 0.0
    cand_dip: float = 0.0
    cand_s: float = 0.0
    mag_n: float = 0.0


class ComplementaryBackend:
    """The pure-Python backend (see the module docstring)."""

    name = "complementary"

    def __init__(self, rate_hz: float, params: ComplementaryParams | None = None) -> None:
        self.rate_hz = rate_hz
        self.p = params or ComplementaryParams()
        self._s = _State()

    def set_rate(self, rate_hz: float) -> None:
        self.rate_hz = rate_hz  # every gain is dt / tau, so the state carries over as it is

    def set_mag_reference(self, norm_ut: float, dip_rad: float, heading_rad: float) -> None:
        s = self._s
        s.ref_norm, s.ref_dip = norm_ut, dip_rad
        s.cand_norm, s.cand_dip, s.cand_s = norm_ut, dip_rad, 0.0
        s.delta = heading_rad

    @property
    def heading_offset_rad(self) -> float:
        return self._s.delta

    def state(self) -> dict[str, Any]:
        return {"rate_hz": self.rate_hz, "state": asdict(self._s)}

    def restore(self, state: dict[str, Any]) -> None:
        self.rate_hz = float(state["rate_hz"])
        self._s = _State(**state["state"])

    def update(self, gyr: Array, acc: Array, mag: Array | None) -> BackendOutput:
        q6, q9, bias, rest, dist = [], [], [], [], []
        g, a = gyr.tolist(), acc.tolist()
        m = mag.tolist() if mag is not None else [None] * len(g)
        dt = 1.0 / self.rate_hz
        s, rest_min = self._s, self.p.rest_min_s
        for gi, ai, mi in zip(g, a, m, strict=True):
            out6, out9, disturbed = self._sample(gi, ai, mi, dt)
            q6.append(out6)
            q9.append(out9)
            dist.append(disturbed)
            bias.append(s.bias)
            rest.append(s.rest_s >= rest_min)
        has_mag = mag is not None
        return BackendOutput(np.array(q6).reshape(-1, 4),
                             np.array(q9).reshape(-1, 4) if has_mag else None,
                             np.array(bias).reshape(-1, 3), np.array(rest, bool),
                             np.array(dist, bool) if has_mag else None)

    # -- one sample ---------------------------------------------------------------------
    def _sample(self, g: list[float], a: list[float], m: list[float] | None, dt: float
                ) -> tuple[list[float], list[float], bool]:
        s = self._s
        self._rest(g, a, dt)
        s.q_gyr = _integrate(s.q_gyr, [g[0] - s.bias[0], g[1] - s.bias[1], g[2] - s.bias[2]],
                             dt)
        if a[0] or a[1] or a[2]:
            self._tilt(a, dt)
        q6 = _mul(s.q_acc, s.q_gyr)
        disturbed = False
        if m is not None and (m[0] or m[1] or m[2]):
            disturbed = self._heading(q6, m, g, dt)
        h = 0.5 * s.delta
        return q6, _mul([math.cos(h), 0.0, 0.0, math.sin(h)], q6), disturbed

    def _rest(self, g: list[float], a: list[float], dt: float) -> None:
        s, p = self._s, self.p
        k = min(1.0, dt / p.rest_tau_s)
        s.gyr_lp = list(g) if s.gyr_lp is None else [x + k * (y - x) for x, y in
                                                     zip(s.gyr_lp, g, strict=True)]
        s.rest_acc_lp = list(a) if s.rest_acc_lp is None else [
            x + k * (y - x) for x, y in zip(s.rest_acc_lp, a, strict=True)]
        still = math.dist(g, s.gyr_lp) < p.rest_gyr_rads and \
            math.dist(a, s.rest_acc_lp) < p.rest_acc_mps2
        s.rest_s = s.rest_s + dt if still else 0.0
        if s.rest_s >= p.rest_min_s:
            kb = min(1.0, dt / p.bias_rest_tau_s)
            s.bias = [b + kb * (x - b) for b, x in zip(s.bias, s.gyr_lp, strict=True)]

    def _tilt(self, a: list[float], dt: float) -> None:
        """Low-pass the specific force in the gyroscope frame, then turn it up."""
        s, p = self._s, self.p
        s.acc_n += 1.0
        k = max(1.0 / s.acc_n, dt / p.tau_acc)  # the mean of the first samples, then tau
        ai = _rotate(s.q_gyr, a)
        s.acc_lp = ai if s.acc_lp is None else [x + k * (y - x) for x, y in
                                                 zip(s.acc_lp, ai, strict=True)]
        ex, ey, ez = _rotate(s.q_acc, s.acc_lp)
        horizontal = math.hypot(ex, ey)
        if horizontal < 1e-12:
            return
        angle = k * math.atan2(horizontal, ez)
        ax, ay = ey / horizontal, -ex / horizontal  # e x z: turns e towards up
        h = 0.5 * angle
        s.q_acc = _normalize(_mul([math.cos(h), math.sin(h) * ax, math.sin(h) * ay, 0.0],
                                  s.q_acc))
        if s.acc_n * dt > p.tau_acc:
            self._integral([ax * angle / dt, ay * angle / dt, 0.0], dt)

    def _integral(self, rate_earth: list[float], dt: float) -> None:
        """The Mahony integral term: a steady tilt correction is a gyroscope bias."""
        s, ki = self._s, self.p.bias_integral
        if ki <= 0 or s.rest_s >= self.p.rest_min_s:
            return
        rs = _rotate(_conj(_mul(s.q_acc, s.q_gyr)), rate_earth)
        s.bias = [b - ki * c * dt for b, c in zip(s.bias, rs, strict=True)]

    def _heading(self, q6: list[float], m: list[float], g: list[float], dt: float) -> bool:
        s, p = self._s, self.p
        mx, my, mz = _rotate(q6, m)
        norm = math.sqrt(mx * mx + my * my + mz * mz)
        if norm == 0:
            return False
        dip = -math.asin(max(-1.0, min(1.0, mz / norm)))
        disturbed = self._mag_disturbed(norm, dip, g, dt)
        k = 0.0 if disturbed else dt / p.tau_mag
        if s.mag_n * dt < p.tau_mag:  # the mean of the first fields, then tau_mag
            s.mag_n += 1.0
            k = max(k, 1.0 / s.mag_n)
        if k > 0:
            off = math.atan2(mx, my) - s.delta
            off = (off + math.pi) % (2 * math.pi) - math.pi
            s.delta = (s.delta + k * off + math.pi) % (2 * math.pi) - math.pi
        return disturbed

    def _mag_disturbed(self, norm: float, dip: float, g: list[float], dt: float) -> bool:
        s, p = self._s, self.p
        if s.ref_norm == 0:
            s.ref_norm, s.ref_dip = norm, dip
        same = abs(norm - s.ref_norm) < p.mag_norm_th * s.ref_norm and \
            abs(dip - s.ref_dip) < p.mag_dip_th_rad
        if same:
            s.ref_norm += dt / 20.0 * (norm - s.ref_norm)
            s.ref_dip += dt / 20.0 * (dip - s.ref_dip)
            s.cand_s = 0.0
            return False
        near = abs(norm - s.cand_norm) < p.mag_norm_th * s.cand_norm and \
            abs(dip - s.cand_dip) < p.mag_dip_th_rad
        if near:
            if math.hypot(*g) > math.radians(20.0):
                s.cand_s += dt
            s.cand_norm += dt / 20.0 * (norm - s.cand_norm)
            s.cand_dip += dt / 20.0 * (dip - s.cand_dip)
            if s.cand_s >= p.mag_new_s:
                s.ref_norm, s.ref_dip, s.cand_s = s.cand_norm, s.cand_dip, 0.0
                return False
        else:
            s.cand_norm, s.cand_dip, s.cand_s = norm, dip, 0.0
        return True


def _mul(a: list[float], b: list[float]) -> list[float]:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return [w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2]


def _conj(q: list[float]) -> list[float]:
    return [q[0], -q[1], -q[2], -q[3]]


def _normalize(q: list[float]) -> list[float]:
    n = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    return [q[0] / n, q[1] / n, q[2] / n, q[3] / n]


def _integrate(q: list[float], w: list[float], dt: float) -> list[float]:
    angle = math.sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]) * dt
    if angle < 1e-12:
        return q
    s = math.sin(0.5 * angle) / (angle / dt)
    return _normalize(_mul(q, [math.cos(0.5 * angle), w[0] * s, w[1] * s, w[2] * s]))


def _rotate(q: list[float], v: list[float]) -> list[float]:
    w, x, y, z = q
    vx, vy, vz = v
    # v + 2 w (u x v) + 2 u x (u x v), u = (x, y, z)
    cx, cy, cz = y * vz - z * vy, z * vx - x * vz, x * vy - y * vx
    return [vx + 2 * (w * cx + y * cz - z * cy), vy + 2 * (w * cy + z * cx - x * cz),
            vz + 2 * (w * cz + x * cy - y * cx)]
