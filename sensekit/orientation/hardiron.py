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
Pairs that did not turn measure the magnetometer noise instead.

The offset moves only where the data say it must, and only when the data look like a hard
iron at all:

- each eigen-direction of ``A^T A`` moves only if its step exceeds ``significance`` standard
  errors (noise from the fit's residual, inflated for noise correlated over
  ``noise_correlation_s`` and for pairs sharing samples), and only if it is excited at least
  ``balance`` times as much as the best direction (axis misalignment collects in the rest);
- the fit must be nearly as good as the noise (``consistency``): a field that changes from
  place to place (an office, a magnet on the table) fits worse, and nothing is learnt from it;
- the norm of the corrected field must become steadier, to within the noise: a hard iron
  leaves a field of constant norm behind.

Once these have let the offset move, the estimator follows its fit (steps of ``follow``
standard errors, the norm only kept as steady): the first move was decided on fewer pairs
than the fit now holds, and a direction turned little at first would otherwise keep its
first guess until it passed ``significance`` again.

A second memory, the last ``change_window_s`` only, notices a new magnet: when the long memory
no longer fits but the recent window does, the long memory restarts from the window.
"""

from __future__ import annotations

import copy
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from . import quaternion as quat

__all__ = ["HardIronEstimator", "HardIronUpdate"]

Array = npt.NDArray[np.float64]

#: Pairs turned by less than this (0.2 degrees) count as still: the earth field (about 50 uT)
#: moves by under 0.2 uT, well inside magnetometer noise.
_COS_STILL = math.cos(math.radians(0.2))
_COS_STILL_BLOCK = math.cos(math.radians(0.1))  # a block this still has only still pairs
#: Turning pairs needed before the first step (about a second of turning at 100 Hz): fewer,
#: and a field gradient passed through at the start of a movement can pass for a hard iron.
_MIN_PAIRS = 200
#: A new offset is declared when the one in use misfits the recent window by this many noise
#: variances (chosen on the synthetic office and magnet trials, see orientation/README.md).
_CHANGE = 10.0
#: Once the offset is known to this on every axis, decisions are taken every few blocks only
#: (a second at the Ahrs's quarter-second blocks): the estimate barely moves, and deciding is
#: what the 9-axis path spends most of its time on.
_SETTLED_UT = 0.3
_SETTLED_EVERY = 4


@dataclass(frozen=True)
class HardIronUpdate:
    """What one :meth:`HardIronEstimator.add` changed.

    Attributes:
        offset_ut: The offset now in use (microtesla, sensor frame).
        step_ut: How far it moved in this update (zero when it did not).
        sigma_ut: Standard error of the offset per sensor axis (inf where not yet seen).
        refined: The step refined an offset this memory had already learnt (a small
            correction), rather than moving to a newly found one.
    """

    offset_ut: Array
    step_ut: Array
    sigma_ut: Array
    refined: bool = False

    @property
    def moved(self) -> bool:
        return bool(np.any(self.step_ut != 0.0))


class _Sums:
    """Forgetting sums over turning pairs and their samples."""

    def __init__(self) -> None:
        self.aa = np.zeros((3, 3))
        self.ay = np.zeros(3)
        self.yy = 0.0
        self.count = 0.0
        # per sample, for the spread of |m - b|: sums of m, m m^T, |m|^2 m, |m|^2, |m|^4
        self.w = 0.0
        self.m = np.zeros(3)
        self.mm = np.zeros((3, 3))
        self.um = np.zeros(3)
        self.u = 0.0
        self.uu = 0.0

    _FIELDS = ("aa", "ay", "yy", "count", "w", "m", "mm", "um", "u", "uu")

    def scale(self, keep: float) -> None:
        for name in self._FIELDS:
            setattr(self, name, getattr(self, name) * keep)

    def merge(self, other: _Sums, sign: float = 1.0) -> None:
        for name in self._FIELDS:
            setattr(self, name, getattr(self, name) + sign * getattr(other, name))

    def add_pairs(self, a: Array, y: Array) -> None:
        self.aa += np.einsum("nji,njk->ik", a, a)
        self.ay += np.einsum("nji,nj->i", a, y)
        self.yy += float(np.sum(y * y))
        self.count += len(y)

    def add_samples(self, m: Array) -> None:
        u = np.sum(m * m, axis=1)
        self.w += len(m)
        self.m += m.sum(axis=0)
        self.mm += m.T @ m
        self.um += u @ m
        self.u += float(u.sum())
        self.uu += float(u @ u)

    def residual(self, b: Array) -> float:
        """Mean squared pair residual per axis at offset ``b``."""
        r = self.yy - 2 * float(b @ self.ay) + float(b @ self.aa @ b)
        return max(r / max(self.count, 1e-9) / 3.0, 1e-4)

    def solve(self) -> Array:
        """Least squares offset (directions without information left at zero)."""
        w, v = np.linalg.eigh(self.aa)
        keep = w > 1e-9 * max(float(w[-1]), 1e-300)
        along = np.where(keep, (v.T @ self.ay) / np.where(keep, w, 1.0), 0.0)
        return np.asarray(v @ along, np.float64)

    def spread(self, b: Array) -> float:
        """Standard deviation of ``|m - b|`` (uT) over the samples, from that of its square."""
        if self.w < 2:
            return math.inf
        mean_m, mean_u = self.m / self.w, self.u / self.w
        cov_m = self.mm / self.w - np.outer(mean_m, mean_m)
        cov_um = self.um / self.w - mean_u * mean_m
        var_s = self.uu / self.w - mean_u * mean_u - 4 * float(b @ cov_um) + \
            4 * float(b @ cov_m @ b)
        mean_s = mean_u - 2 * float(mean_m @ b) + float(b @ b)
        return math.sqrt(max(var_s, 0.0)) / (2 * math.sqrt(max(mean_s, 1e-9)))

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in vars(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Sums:
        s = cls()
        for k, v in d.items():
            setattr(s, k, np.asarray(v, np.float64) if isinstance(v, list) else float(v))
        return s


@dataclass
class HardIronEstimator:
    """Learns a constant magnetometer offset from gyroscope-aided field changes.

    Args:
        offset_ut: Starting offset (a stored calibration), microtesla.
        lags_s: Time between the two samples of a pair.
        memory_s: Time constant over which old pairs are forgotten.
        change_window_s: The recent window that notices a new offset.
        min_turn_deg: Smallest turn between the samples of a pair for it to count.
        significance: Standard errors a step must exceed along its eigen-direction.
        follow: Standard errors a step must exceed once this memory has moved the offset:
            the offset in use came from fewer pairs than the fit now has, so the fit is the
            better estimate (a weakly turned axis is no longer held at its first guess).
        balance: Least excitation of a direction, relative to the best one, to move along it.
        noise_correlation_s: Magnetometer noise correlation time. 14 ms is what BROAD's
            sensor shows at rest (its noise decorrelates after about 4 samples at 286 Hz).
        consistency: Largest ratio of the fit's residual to the still pairs' noise.
        min_spacing_s: Samples closer than this are skipped (their noise is correlated).
    """

    offset_ut: Array = field(default_factory=lambda: np.zeros(3))
    lags_s: tuple[float, ...] = (0.1, 0.2, 0.4)
    memory_s: float = 60.0
    change_window_s: float = 3.0
    min_turn_deg: float = 3.0
    significance: float = 4.0
    follow: float = 1.0
    balance: float = 0.01
    noise_correlation_s: float = 0.014
    consistency: float = 1.5
    min_spacing_s: float = 0.01
    _long: _Sums = field(default_factory=_Sums, repr=False)
    _recent: deque[tuple[float, _Sums]] = field(default_factory=deque, repr=False)
    _recent_sum: _Sums = field(default_factory=_Sums, repr=False)
    _still_yy: float = field(default=0.0, repr=False)
    _still_count: float = field(default=0.0, repr=False)
    _sigma: Array = field(default_factory=lambda: np.full(3, np.inf), repr=False)
    _since_decision: int = field(default=0, repr=False)
    _learnt: bool = field(default=False, repr=False)
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
            elapsed = float(t[-1] - (self._hist_t[-1] if len(self._hist_t) else t[0]))
            self._long.scale(math.exp(-elapsed / self.memory_s))
            while self._recent and self._recent[0][0] < t[-1] - self.change_window_s:
                self._recent_sum.merge(self._recent.popleft()[1], -1.0)
            turned = self._accumulate(t, r, m)
        self._since_decision += 1
        settled = bool(np.all(self._sigma < _SETTLED_UT))
        if not turned or (settled and self._since_decision < _SETTLED_EVERY):
            # nothing new to learn from; or a settled offset, looked at every few blocks
            return HardIronUpdate(self.offset_ut.copy(), np.zeros(3), self._sigma.copy())
        self._since_decision = 0
        return self._decide(t)

    @property
    def noise_ut(self) -> float:
        """Magnetometer noise per axis (standard deviation) seen in still pairs; NaN before."""
        if self._still_count < 100:
            return math.nan
        return math.sqrt(self._still_yy / self._still_count / 6.0)

    # -- statistics ---------------------------------------------------------------------
    def _decimation(self, t: Array) -> npt.NDArray[np.bool_]:
        """Keep samples at least ``min_spacing_s`` apart: magnetometer noise is correlated
        over about that long, so closer samples add cost, not information."""
        keep = np.zeros(len(t), bool)
        if not len(t):
            return keep
        last = self._hist_t[-1] if len(self._hist_t) else t[0] - self.min_spacing_s
        slot = np.floor((t - last) / self.min_spacing_s + 1e-6)
        keep[1:] = slot[1:] != slot[:-1]
        keep[0] = slot[0] >= 1
        return keep

    def _accumulate(self, t: Array, r: Array, m: Array) -> bool:
        all_t = np.concatenate([self._hist_t, t])
        all_r = np.concatenate([self._hist_r, r])
        all_m = np.concatenate([self._hist_m, m])
        new = np.arange(len(self._hist_t), len(all_t))
        # every lag's pairs at once: sample k and the last sample at least a lag before it
        j = np.concatenate([np.searchsorted(all_t, all_t[new] - lag, side="right") - 1
                            for lag in self.lags_s])
        k = np.concatenate([new] * len(self.lags_s))
        k, j = k[j >= 0], j[j >= 0]
        if self._all_still(all_r):  # at rest: no turned pair, and D is the identity
            y = all_m[k] - all_m[j]
            self._still_yy += float(np.sum(y * y))
            self._still_count += len(y)
            self._keep_history(all_t, all_r, all_m)
            return False
        turn = np.einsum("nji,njk->nik", all_r[k], all_r[j])  # R_k^T R_j
        y = all_m[k] - np.einsum("nij,nj->ni", turn, all_m[j])
        cos_turn = (turn[:, 0, 0] + turn[:, 1, 1] + turn[:, 2, 2] - 1.0) * 0.5
        still = cos_turn > _COS_STILL
        self._still_yy += float(np.sum(y[still] ** 2))
        self._still_count += int(still.sum())
        turned = cos_turn < math.cos(math.radians(self.min_turn_deg))
        if turned.any():
            a = np.eye(3) - turn[turned]
            mark = np.zeros(len(all_t), bool)
            mark[k[turned]] = True
            block = _Sums()
            block.add_pairs(a, y[turned])
            block.add_samples(all_m[mark])
            self._long.merge(block)
            self._recent_sum.merge(block)
            self._recent.append((float(all_t[-1]), block))
        self._keep_history(all_t, all_r, all_m)
        return bool(turned.any())

    def _keep_history(self, t: Array, r: Array, m: Array) -> None:
        first = int(np.searchsorted(t, t[-1] - max(self.lags_s) - 0.05))
        self._hist_t, self._hist_r, self._hist_m = t[first:], r[first:], m[first:]

    @staticmethod
    def _all_still(r: Array) -> bool:
        """Every orientation within 0.1 degree of the first (so every pair is still): the
        cosine of the angle between R_0 and R_i is (trace(R_0^T R_i) - 1) / 2."""
        cos = (np.einsum("ij,nij->n", r[0], r) - 1.0) * 0.5
        return bool(cos.min() > _COS_STILL_BLOCK)

    # -- decision -----------------------------------------------------------------------
    def _decide(self, t: Array) -> HardIronUpdate:
        zero = np.zeros(3)
        if self._changed(self._recent_sum):
            self._long = copy.deepcopy(self._recent_sum)  # the offset changed: start again
            self._learnt = False
        sums = self._long
        if not self._enough(sums):
            return HardIronUpdate(self.offset_ut.copy(), zero, self._sigma.copy())
        w, v = np.linalg.eigh(sums.aa)
        w = np.maximum(w, 1e-12)
        along = (v.T @ (sums.ay - sums.aa @ self.offset_ut)) / w
        fit = sums.residual(self.offset_ut + v @ along)
        var = fit * self._inflation(t)
        self._sigma = np.sqrt(np.einsum("ij,j->i", v * v, var / w))
        gate = self.follow if self._learnt else self.significance
        move = (np.abs(along) > gate * np.sqrt(var / w)) & (w >= self.balance * w[-1])
        step = v @ np.where(move, along, 0.0)
        if not move.any() or not self._fits(sums) or not self._norm_steadier(sums, step):
            return HardIronUpdate(self.offset_ut.copy(), zero, self._sigma.copy())
        self.offset_ut = self.offset_ut + step
        refined, self._learnt = self._learnt, True
        return HardIronUpdate(self.offset_ut.copy(), step, self._sigma.copy(), refined)

    def _enough(self, sums: _Sums) -> bool:
        """Enough pairs to decide on: ``_MIN_PAIRS``, or a few dozen when the offset in use
        misfits them by far (a strong magnet is plain from its first turns; a gradient passed
        through at the start of a movement is not that far off)."""
        if sums.count >= _MIN_PAIRS:
            return True
        return sums.count >= 30 and sums.residual(self.offset_ut) > _CHANGE * self._noise_var()

    def _fits(self, sums: _Sums) -> bool:
        """Whether the turning pairs fit one constant field nearly as well as still pairs
        agree with each other (``consistency``)."""
        if not self._enough(sums):
            return False
        return sums.residual(sums.solve()) <= self.consistency * self._noise_var()

    def _noise_var(self) -> float:
        """Variance per axis of a pair's difference when nothing turned (1 uT^2 before
        any still pair was seen)."""
        return self._still_yy / self._still_count / 3.0 if self._still_count >= 100 else 1.0

    def _changed(self, recent: _Sums) -> bool:
        """A new offset: the long memory no longer fits one field, the recent window does,
        and the offset in use misfits the recent window by far (``_CHANGE``)."""
        return (recent.count >= _MIN_PAIRS
                and recent.residual(self.offset_ut) > _CHANGE * self._noise_var()
                and not self._fits(self._long) and self._fits(recent))

    def _norm_steadier(self, sums: _Sums, step: Array) -> bool:
        """Whether removing ``step`` more makes the field's norm steadier by half a noise
        variance at least, and steady to within the noise: an offset that only reshuffles
        noise (or a field gradient) is not a hard iron."""
        new = sums.spread(self.offset_ut + step)
        old = sums.spread(self.offset_ut)
        noise = self.noise_ut if math.isfinite(self.noise_ut) else 1.0
        # following the fit, a step only has to keep the norm as steady: it refines an
        # offset already shown to be a hard iron
        need = 0.0 if self._learnt else 0.5 * noise * noise
        return old * old - new * new >= need and new <= 3.0 * noise + 0.3

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
        return {"offset_ut": self.offset_ut.tolist(), "long": self._long.to_dict(),
                "still_yy": self._still_yy, "still_count": self._still_count,
                "learnt": self._learnt}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back a :meth:`state` (the pair history and recent window restart empty)."""
        self.offset_ut = np.asarray(state["offset_ut"], np.float64).reshape(3)
        self._long = _Sums.from_dict(state["long"])
        self._still_yy = float(state["still_yy"])
        self._still_count = float(state["still_count"])
        self._learnt = bool(state.get("learnt", False))
