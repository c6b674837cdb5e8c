"""Online hard-iron estimation: a magnet or magnetised part fixed to the device, learnt away
while the device turns.

A field fixed to the sensor (hard iron ``b``) adds to the earth's field, which turns with the
sensor: ``m_k = R_k^T m_E + b``. Between two samples ``j`` and ``k`` a fraction of a second
apart the gyroscope knows the turn ``D = R_k^T R_j`` well, whatever the heading, so

    ``m_k - D m_j = (I - D) b + noise``

is linear in ``b`` and needs neither the heading nor the earth field. Sums of ``A^T A``,
``A^T y`` and ``y^T y`` (``A = I - D``) over pairs at a few lags, forgotten over ``memory_s``,
are all the estimator keeps. Only pairs that turned by at least ``min_turn_deg`` count: at rest
the turn is gyroscope noise, and taking it for a turn would call the whole field hard iron.

The offset moves only along the directions of ``A^T A`` where the data say it must: each
eigen-direction's step has to exceed ``significance`` standard errors (the noise taken from the
fit's own residual, inflated for magnetometer noise that is correlated over
``noise_correlation_s``), and a direction much less excited than the best one (ratio under
``balance``) is left alone, because that is where axis misalignment and field gradients collect.
A calibrated sensor in a clean room therefore keeps its offset, and a magnet glued to the board
is found within seconds of turning it about two axes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from . import quaternion as quat

__all__ = ["HardIronEstimator", "HardIronUpdate"]

#: Pairs turned by less than this (0.2 degrees) count as still: the earth field (about 50 uT)
#: moves by under 0.2 uT, well inside magnetometer noise.
_COS_STILL = math.cos(math.radians(0.2))

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class HardIronUpdate:
    """What one :meth:`HardIronEstimator.add` changed.

    Attributes:
        offset_ut: The offset now in use (microtesla, sensor frame).
        step_ut: How far it moved in this update (zero when it did not).
        sigma_ut: Standard error of the offset per sensor axis (inf where not yet seen).
    """

    offset_ut: Array
    step_ut: Array
    sigma_ut: Array

    @property
    def moved(self) -> bool:
        return bool(np.any(self.step_ut != 0.0))


class _NormStats:
    """Sums over samples, forgotten like the pair sums, from which the spread of
    ``|m - b|^2`` follows for any offset ``b`` without keeping the samples."""

    def __init__(self) -> None:
        self.w = 0.0
        self.m = np.zeros(3)
        self.mm = np.zeros((3, 3))
        self.um = np.zeros(3)
        self.u = 0.0
        self.uu = 0.0

    def add(self, m: Array) -> None:
        u = np.sum(m * m, axis=1)
        self.w += len(m)
        self.m += m.sum(axis=0)
        self.mm += m.T @ m
        self.um += u @ m
        self.u += float(u.sum())
        self.uu += float(u @ u)

    def scale(self, keep: float) -> None:
        self.w *= keep
        self.m *= keep
        self.mm *= keep
        self.um *= keep
        self.u *= keep
        self.uu *= keep

    def spread(self, b: Array) -> float:
        """Standard deviation of ``|m - b|`` (uT) over the samples, from that of its square."""
        if self.w < 2:
            return math.inf
        mean_m, mean_u = self.m / self.w, self.u / self.w
        cov_m = self.mm / self.w - np.outer(mean_m, mean_m)
        cov_um = self.um / self.w - mean_u * mean_m
        var_u = self.uu / self.w - mean_u * mean_u
        var_s = var_u - 4 * float(b @ cov_um) + 4 * float(b @ cov_m @ b)
        mean_s = mean_u - 2 * float(mean_m @ b) + float(b @ b)
        return math.sqrt(max(var_s, 0.0)) / (2 * math.sqrt(max(mean_s, 1e-9)))


@dataclass
class HardIronEstimator:
    """Learns a constant magnetometer offset from gyroscope-aided field changes.

    Args:
        offset_ut: Starting offset (a stored calibration), microtesla.
        lags_s: Time between the two samples of a pair.
        memory_s: Time constant over which old pairs are forgotten.
        min_turn_deg: Smallest turn between the samples of a pair for it to count.
        significance: Standard errors a step must exceed along its eigen-direction.
        balance: Least excitation of a direction, relative to the best one, to move along it.
        noise_correlation_s: Magnetometer noise correlation time; the residual variance is
            inflated by ``rate * noise_correlation_s`` (at least 1). 14 ms is what BROAD's
            sensor shows at rest (its noise decorrelates after about 4 samples at 286 Hz).
    """

    offset_ut: Array = field(default_factory=lambda: np.zeros(3))
    lags_s: tuple[float, ...] = (0.1, 0.2, 0.4)
    memory_s: float = 60.0
    min_turn_deg: float = 3.0
    significance: float = 4.0
    balance: float = 0.01
    noise_correlation_s: float = 0.014
    consistency: float = 1.5
    min_spacing_s: float = 0.01
    _aa: Array = field(default_factory=lambda: np.zeros((3, 3)), repr=False)
    _ay: Array = field(default_factory=lambda: np.zeros(3), repr=False)
    _yy: float = field(default=0.0, repr=False)
    _count: float = field(default=0.0, repr=False)
    _still_yy: float = field(default=0.0, repr=False)
    _still_count: float = field(default=0.0, repr=False)
    _last_sigma: Array = field(default_factory=lambda: np.full(3, np.inf), repr=False)
    _norm: _NormStats = field(default_factory=lambda: _NormStats(), repr=False)
    _hist_t: Array = field(default_factory=lambda: np.zeros(0), repr=False)
    _hist_r: Array = field(default_factory=lambda: np.zeros((0, 3, 3)), repr=False)
    _hist_m: Array = field(default_factory=lambda: np.zeros((0, 3)), repr=False)

    def __post_init__(self) -> None:
        self.offset_ut = np.asarray(self.offset_ut, np.float64).reshape(3).copy()

    def add(self, t_s: Array, quat6d: Array, mag_ut: Array) -> HardIronUpdate:
        """Take a block of samples and update the offset.

        Args:
            t_s: (N,) sample times in seconds (any origin, increasing).
            quat6d: (N, 4) gyroscope and accelerometer orientation (sensor to earth); its
                heading may drift, only turns within ``max(lags_s)`` matter.
            mag_ut: (N, 3) raw magnetometer readings (the offset not removed).
        """
        t = np.asarray(t_s, np.float64)
        valid = np.all(np.isfinite(mag_ut), axis=1) & np.all(np.isfinite(quat6d), axis=1)
        valid &= self._decimation(t)
        t, r, m = t[valid], quat.to_matrix(quat6d[valid]), np.asarray(mag_ut, np.float64)[valid]
        turned = False
        if len(t):
            self._forget(float(t[-1] - t[0]) + self._gap(t))
            turned = self._accumulate(t, r, m)
        if not turned:  # nothing new to learn from
            return HardIronUpdate(self.offset_ut.copy(), np.zeros(3), self._last_sigma.copy())
        return self._decide(t)

    def _decimation(self, t: Array) -> npt.NDArray[np.bool_]:
        """Keep samples at least ``min_spacing_s`` apart: magnetometer noise is correlated
        over about that long, so closer samples add cost, not information."""
        keep = np.zeros(len(t), bool)
        last = self._hist_t[-1] if len(self._hist_t) else -math.inf
        slot = np.floor((t - last) / self.min_spacing_s + 1e-6)
        keep[1:] = slot[1:] != slot[:-1]
        keep[0] = slot[0] >= 1
        return keep

    # -- statistics ---------------------------------------------------------------------
    def _gap(self, t: Array) -> float:
        return float(t[0] - self._hist_t[-1]) if len(self._hist_t) else 0.0

    def _forget(self, seconds: float) -> None:
        keep = math.exp(-max(seconds, 0.0) / self.memory_s)
        self._aa *= keep
        self._ay *= keep
        self._yy *= keep
        self._count *= keep
        self._norm.scale(keep)

    def _accumulate(self, t: Array, r: Array, m: Array) -> bool:
        all_t = np.concatenate([self._hist_t, t])
        all_r = np.concatenate([self._hist_r, r])
        all_m = np.concatenate([self._hist_m, m])
        new = np.arange(len(self._hist_t), len(all_t))
        # every lag's pairs at once: sample k and the last sample at least a lag before it
        j = np.concatenate([np.searchsorted(all_t, all_t[new] - lag, side="right") - 1
                            for lag in self.lags_s])
        k = np.tile(new, len(self.lags_s))
        k, j = k[j >= 0], j[j >= 0]
        turn = np.einsum("nji,njk->nik", all_r[k], all_r[j])  # R_k^T R_j
        y = all_m[k] - np.einsum("nij,nj->ni", turn, all_m[j])
        cos_turn = (turn[:, 0, 0] + turn[:, 1, 1] + turn[:, 2, 2] - 1.0) * 0.5
        still = cos_turn > _COS_STILL
        self._still_yy += float(np.sum(y[still] ** 2))
        self._still_count += int(still.sum())
        turned = cos_turn < math.cos(math.radians(self.min_turn_deg))
        if turned.any():
            a = np.eye(3) - turn[turned]
            yt = y[turned]
            self._aa += np.einsum("nji,njk->ik", a, a)
            self._ay += np.einsum("nji,nj->i", a, yt)
            self._yy += float(np.sum(yt * yt))
            self._count += len(yt)
            mark = np.zeros(len(all_t), bool)
            mark[k[turned]] = True
            self._norm.add(all_m[mark])  # the norm test looks at turning samples only
        horizon = all_t[-1] - max(self.lags_s) - 0.05
        first = int(np.searchsorted(all_t, horizon))
        self._hist_t, self._hist_r, self._hist_m = all_t[first:], all_r[first:], all_m[first:]
        return bool(turned.any())

    # -- decision -----------------------------------------------------------------------
    def _decide(self, t: Array) -> HardIronUpdate:
        zero = np.zeros(3)
        if self._count < 30:
            return HardIronUpdate(self.offset_ut.copy(), zero, np.full(3, np.inf))
        w, v = np.linalg.eigh(self._aa)
        w = np.maximum(w, 1e-12)
        along = (v.T @ (self._ay - self._aa @ self.offset_ut)) / w
        full = self.offset_ut + v @ along
        residual = self._yy - 2 * full @ self._ay + full @ self._aa @ full
        fit = max(residual / self._count / 3.0, 1e-4)
        if not self._consistent(fit):
            return HardIronUpdate(self.offset_ut.copy(), zero, np.full(3, np.inf))
        var = fit * self._inflation(t)
        sd = np.sqrt(var / w)
        move = (np.abs(along) > self.significance * sd) & (w >= self.balance * w[-1])
        sigma = np.sqrt(np.einsum("ij,j->i", v * v, var / w))
        self._last_sigma = sigma
        step = v @ np.where(move, along, 0.0)
        if not move.any() or not self._norm_steadier(self.offset_ut + step):
            return HardIronUpdate(self.offset_ut.copy(), zero, sigma)
        self.offset_ut = self.offset_ut + step
        return HardIronUpdate(self.offset_ut.copy(), step, sigma)

    def _consistent(self, fit_var: float) -> bool:
        """Whether the turning pairs fit a constant field as well as still pairs agree with
        each other: a field that changes from place to place (an office, a magnet on the
        table) fits worse, and then no offset is learnt from it."""
        if self._still_count < 100:
            return True
        return fit_var <= self.consistency * self._still_yy / self._still_count / 3.0

    def _norm_steadier(self, offset: Array) -> bool:
        """Whether the field's norm, with ``offset`` removed, is steadier than with the
        offset in use and steady to within magnetometer noise: a hard iron leaves a field of
        constant norm behind, a magnet on the table or an iron desk does not."""
        new, old = self._norm.spread(offset), self._norm.spread(self.offset_ut)
        noise_var = self._still_yy / self._still_count / 6.0 if self._still_count >= 100 \
            else 1.0
        # half a noise variance of improvement at least: an offset that only reshuffles
        # noise (or a field gradient) is not one
        return old * old - new * new >= 0.5 * noise_var and new <= 3.0 * math.sqrt(noise_var) + 0.3

    def _inflation(self, t: Array) -> float:
        if len(t) < 2:
            return 1.0
        rate = (len(t) - 1) / max(float(t[-1] - t[0]), 1e-9)
        # every sample sits in a pair at each lag: pairs sharing a sample are correlated by
        # one half, so the lags add only about half of their information
        return max(1.0, rate * self.noise_correlation_s) * (1 + len(self.lags_s)) / 2

    # -- persistence --------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What a restart needs to carry on where this one stopped (JSON-friendly)."""
        return {"offset_ut": self.offset_ut.tolist(), "aa": self._aa.tolist(),
                "ay": self._ay.tolist(), "yy": self._yy, "count": self._count}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back a :meth:`state` (the pair history restarts empty)."""
        self.offset_ut = np.asarray(state["offset_ut"], np.float64).reshape(3)
        self._aa = np.asarray(state["aa"], np.float64).reshape(3, 3)
        self._ay = np.asarray(state["ay"], np.float64).reshape(3)
        self._yy = float(state["yy"])
        self._count = float(state["count"])
