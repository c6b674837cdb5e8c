"""Offline (whole-recording) estimation for :meth:`~sensekit.orientation.Ahrs.estimate`.

When the whole recording is at hand, nothing has to be learnt before it can be used:

- :func:`fit_hard_iron` learns a constant magnetometer offset from every turn in the
  recording at once, by robust least squares on the gyroscope-aided relation between field
  readings a fraction of a second apart, so the offset is known from the first sample;
- the heading is then the gyroscope-and-accelerometer orientation turned by a heading offset
  smoothed forwards and backwards over the field readings judged undisturbed (see
  :func:`heading_offset`), so a disturbance is bridged from both sides instead of being
  waited out; how far the average reaches follows the field's noise and the turn rate
  (:func:`adaptive_tau`).

The hard-iron relation: a field fixed to the sensor (``b``) adds to the earth's field, which
turns with the sensor, ``m_k = R_k^T m_E + b``. Between samples ``j`` and ``k`` the turn
``D = R_k^T R_j`` comes from the orientation (its heading drift does not matter over a
fraction of a second), so ``m_k - D m_j = (I - D) b`` needs neither the heading nor the earth
field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import quaternion as quat

__all__ = ["HardIronFit", "HeadingOffset", "OfflineHeading", "adaptive_tau", "fit_hard_iron",
           "heading_noise_deg", "heading_offset", "offline_heading"]

Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_COS_STILL = math.cos(math.radians(0.2))
#: How much larger a share of a stretch's turning pairs its own offset must explain than the
#: recording's offset does for the hard iron to count as changed (disturbances passed by
#: raise it by 0.04 at most on the synthetic tuning trials, a magnet glued on by 0.9).
_CONTRADICTION = 0.3


@dataclass(frozen=True)
class HardIronFit:
    """The result of :func:`fit_hard_iron`.

    Attributes:
        offset_ut: The offset to remove (microtesla, sensor frame); zeros when not accepted.
        candidate_ut: The robust least-squares offset, accepted or not.
        sigma_ut: Standard error of ``candidate_ut`` per sensor axis.
        accepted: Whether the recording shows a hard iron (see :func:`fit_hard_iron`).
        reason: Why it was or was not accepted, in words.
        pairs: Turning pairs the fit used.
        inlier_fraction: Share of those pairs that one constant offset explains.
        noise_ut: Magnetometer noise per axis (standard deviation) the decisions used.
        spread_before_ut: Standard deviation of the field norm with no offset removed.
        spread_after_ut: The same with ``candidate_ut`` removed.
        changed_at_s: Where a stretch of the recording fits another offset (seconds from
            the first sample): the hard iron changed part-way. None otherwise.
    """

    offset_ut: Array
    candidate_ut: Array
    sigma_ut: Array
    accepted: bool
    reason: str
    pairs: int
    inlier_fraction: float
    noise_ut: float
    spread_before_ut: float
    spread_after_ut: float
    changed_at_s: float | None = None


def fit_hard_iron(t_s: Array, quat6d: Array, mag_ut: Array, *,
                  lags_s: tuple[float, ...] = (0.1, 0.2, 0.4), spacing_s: float = 0.01,
                  min_turn_deg: float = 3.0, significance: float = 4.0,
                  balance: float = 0.01, noise_correlation_s: float = 0.014,
                  window_s: float = 10.0, min_pairs: int = 200) -> HardIronFit:
    """Fit one constant magnetometer offset to a whole recording.

    Args:
        t_s: (N,) sample times in seconds, increasing.
        quat6d: (N, 4) sensor-to-earth orientation from the gyroscope and accelerometer.
        mag_ut: (N, 3) magnetometer readings (rows with NaN are skipped).
        lags_s: Time between the two samples of a pair.
        spacing_s: Samples closer than this are skipped (their noise is correlated).
        min_turn_deg: Smallest turn between the samples of a pair for it to count.
        significance: Standard errors a direction's step must exceed to be taken.
        balance: Least excitation of a direction, relative to the best, to be taken.
        noise_correlation_s: Magnetometer noise correlation time (inflates the errors).
        window_s: Length of the stretches of the recording checked for another offset.
        min_pairs: Least number of turning pairs to decide on.

    The fit is robust (Huber, then Tukey weights), so pairs taken where the field was
    disturbed (a magnet on a table, steel in an office) stop counting. The offset is accepted
    only when the turning pairs are enough, no stretch of ``window_s`` fits another offset
    far better (a magnet attached, moved or removed part-way), some direction of it is
    significant, and removing it makes the field norm steadier by half a noise variance.
    """
    idx = _decimate(np.asarray(t_s, np.float64), quat6d, mag_ut, spacing_s)
    t, m = np.asarray(t_s, np.float64)[idx], np.asarray(mag_ut, np.float64)[idx]
    r = quat.to_matrix(quat6d[idx])
    k, j = _pairs(t, lags_s, spacing_s)
    turn = np.einsum("nji,njk->nik", r[k], r[j])  # R_k^T R_j
    y = m[k] - np.einsum("nij,nj->ni", turn, m[j])
    cos_turn = (np.einsum("nii->n", turn) - 1.0) * 0.5
    still = cos_turn > _COS_STILL
    turned = cos_turn < math.cos(math.radians(min_turn_deg))
    a, y = np.eye(3) - turn[turned], y[turned]
    noise = _noise(y[:0] if still.sum() < 100 else (m[k] - m[j])[still])
    zero = np.zeros(3)
    inflation = max(1.0, noise_correlation_s / spacing_s) * (1 + len(lags_s)) / 2
    if len(y) < min_pairs:
        return _rejected(zero, np.full(3, np.inf), f"{len(y)} turning pairs, "
                         f"{min_pairs} needed", len(y), 0.0, noise, m)
    if not math.isfinite(noise):
        noise = _robust_noise(a, y)
    b = _irls(a, y, noise)
    e = np.linalg.norm(y - np.einsum("nij,j->ni", a, b), axis=1) / (noise * math.sqrt(2.0))
    inliers = e < 3.0
    frac = float(inliers.mean())
    aa = np.einsum("nji,njk->ik", a[inliers], a[inliers])
    w, v = np.linalg.eigh(aa)
    w = np.maximum(w, 1e-12)
    var = 2.0 * noise * noise * inflation
    sigma = np.sqrt(np.einsum("ij,j->i", v * v, var / w))
    along = v.T @ b
    move = (np.abs(along) > significance * np.sqrt(var / w)) & (w >= balance * w[-1])
    step = v @ np.where(move, along, 0.0)
    samples = np.zeros(len(t), bool)
    samples[k[turned][inliers]] = True
    before, after = _spread(m[samples], zero), _spread(m[samples], step)
    common = (b, sigma, len(y), frac, noise, before, after)
    window = _contradicted(t[k[turned]] - t[0], a, y, b, noise, window_s)
    if window is not None:
        return _fit(False, f"the offset changes: the turns from {window[0]:.0f} to "
                    f"{window[1]:.0f} s fit another one", *common, changed_at_s=window[0])
    if not move.any():
        return _fit(False, "no direction of the offset is significant", *common)
    if before * before - after * after < 0.5 * noise * noise:
        return _fit(False, f"the field norm does not get steadier ({before:.2f} -> "
                    f"{after:.2f} uT, noise {noise:.2f})", *common)
    return HardIronFit(step, b, sigma, True, f"{len(y)} turning pairs, {frac:.0%} explained",
                       len(y), frac, noise, before, after)


def _contradicted(t: Array, a: Array, y: Array, b: Array, noise: float, window_s: float
                  ) -> tuple[float, float] | None:
    """The first stretch of ``window_s`` whose turning pairs another offset explains far
    better than ``b`` does (a magnet attached, moved or removed part-way), or None.

    A disturbance passed by (a magnet on a table, steel in an office) is a few pairs a
    constant offset misfits, and no other offset fits them either; a changed hard iron is a
    whole stretch that its own offset fits as well as the rest of the recording fits ``b``.
    """
    scale = noise * math.sqrt(2.0)
    slot = np.floor((t - t[0]) / window_s).astype(np.intp)
    for s in np.unique(slot):
        pick = slot == s
        if pick.sum() < 100:
            continue
        aw, yw = a[pick], y[pick]
        own = _irls(aw, yw, noise)
        fits_b = np.mean(np.linalg.norm(yw - np.einsum("nij,j->ni", aw, b), axis=1) < 3 * scale)
        fits_own = np.mean(np.linalg.norm(yw - np.einsum("nij,j->ni", aw, own), axis=1)
                           < 3 * scale)
        if fits_own - fits_b > _CONTRADICTION:
            return float(t[pick][0]), float(t[pick][-1])
    return None


def _fit(accepted: bool, reason: str, b: Array, sigma: Array, pairs: int, frac: float,
         noise: float, before: float, after: float, changed_at_s: float | None = None
         ) -> HardIronFit:
    return HardIronFit(b if accepted else np.zeros(3), b, sigma, accepted, reason, pairs, frac,
                       noise, before, after, changed_at_s)


def _rejected(b: Array, sigma: Array, reason: str, pairs: int, frac: float, noise: float,
              m: Array) -> HardIronFit:
    s = _spread(m, np.zeros(3))
    return HardIronFit(np.zeros(3), b, sigma, False, reason, pairs, frac, noise, s, s)


def _decimate(t: Array, q: Array, m: Array, spacing_s: float) -> npt.NDArray[np.intp]:
    """Indices of valid samples at least ``spacing_s`` apart (the first of each slot)."""
    ok = np.all(np.isfinite(m), axis=1) & np.all(np.isfinite(q), axis=1) & \
        np.any(m != 0, axis=1)
    idx = np.flatnonzero(ok)
    slot = np.floor((t[idx] - t[0]) / spacing_s + 1e-6)
    first = np.ones(len(idx), bool)
    first[1:] = slot[1:] != slot[:-1]
    return idx[first]


def _pairs(t: Array, lags_s: tuple[float, ...], spacing_s: float
           ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Pairs (k, j): sample k and the last sample at least a lag before it (no gaps)."""
    ks, js = [], []
    every = np.arange(len(t))
    for lag in lags_s:
        j = np.searchsorted(t, t - lag, side="right") - 1
        ok = (j >= 0) & (t - t[np.maximum(j, 0)] < lag + 2 * spacing_s)
        ks.append(every[ok])
        js.append(j[ok])
    return np.concatenate(ks), np.concatenate(js)


def _noise(diff: Array) -> float:
    """Noise per axis from pairs that did not turn (a pair difference has twice the
    variance of a sample); the median makes a disturbance passed while still harmless."""
    if not len(diff):
        return math.nan
    # median of a chi-square with 3 degrees of freedom is 2.366
    return math.sqrt(float(np.median(np.sum(diff * diff, axis=1))) / 2.366 / 2.0)


def _robust_noise(a: Array, y: Array) -> float:
    b = _solve(np.einsum("nji,njk->ik", a, a), np.einsum("nji,nj->i", a, y))
    return max(_noise(y - np.einsum("nij,j->ni", a, b)), 0.05)


def _solve(aa: Array, ay: Array) -> Array:
    w, v = np.linalg.eigh(aa)
    keep = w > 1e-9 * max(float(w[-1]), 1e-300)
    return np.asarray(v @ np.where(keep, (v.T @ ay) / np.where(keep, w, 1.0), 0.0), np.float64)


def _irls(a: Array, y: Array, noise: float) -> Array:
    """Least squares, then Huber (k = 3 noise units) and Tukey (c = 6) reweighting: pairs
    the field was disturbed in (or changed from place to place) stop counting."""
    scale = noise * math.sqrt(2.0)
    # The pairs' 3x3 systems stacked into one (3N, 3) matrix: each step is two matrix
    # products (BLAS) instead of a three-operand einsum, which dominated the offline estimate.
    rows, flat = a.reshape(-1, 3), y.reshape(-1)
    w = np.ones(len(y))
    b = np.zeros(3)
    for it in range(10):
        weighted = rows * np.repeat(w, 3)[:, None]
        b = _solve(weighted.T @ rows, weighted.T @ flat)
        e = np.linalg.norm((flat - rows @ b).reshape(-1, 3), axis=1) / scale
        if it < 6:
            w = np.minimum(1.0, 3.0 / np.maximum(e, 1e-12))
        else:
            w = np.where(e < 6.0, (1 - (e / 6.0) ** 2) ** 2, 0.0)
    return b


def _spread(m: Array, b: Array) -> float:
    if len(m) < 2:
        return math.inf
    return float(np.std(np.linalg.norm(m - b, axis=1)))


@dataclass(frozen=True)
class HeadingOffset:
    """The result of :func:`heading_offset` (N samples).

    Attributes:
        delta_rad: Heading offset to turn the 6-axis orientation by (about the vertical,
            counter-clockwise): ``q9 = rot_z(delta) * q6``.
        disturbed: The field's norm or dip departed from the reference, or its direction
            from the smoothed heading, so it did not count.
        norm_ut: The reference field norm. dip_rad: The reference dip (positive down).
        measured_rad: The heading offset each sample's field gives by itself (unsmoothed).
    """

    delta_rad: Array
    disturbed: BoolArray
    norm_ut: float
    dip_rad: float
    measured_rad: Array


def heading_offset(quat6d: Array, field_ut: Array, rate_hz: float,
                   rest: BoolArray | None = None, *, tau_s: float | Array = 9.0,
                   norm_th: float = 0.1, dip_th_rad: float = math.radians(10.0),
                   heading_th_rad: tuple[float, ...] = (math.radians(45.0),
                                                        math.radians(15.0)),
                   rest_weight: float = 1e-3) -> HeadingOffset:
    """Heading offset between the 6-axis orientation and magnetic north, from the whole
    recording: the measured offsets of the undisturbed samples averaged with weights
    ``exp(-|t_i - t_j| / tau_s)`` on both sides of each sample. ``tau_s`` may be one value
    per sample: the weight then decays by ``1 / tau_s`` per second of the samples between."""
    earth = quat.rotate(quat6d, field_ut)
    norm = np.linalg.norm(earth, axis=1)
    ok = np.isfinite(norm) & (norm > 0)
    safe = np.where(ok, norm, 1.0)
    dip = -np.arcsin(np.clip(np.where(ok, earth[:, 2], 0.0) / safe, -1.0, 1.0))
    meas = np.exp(1j * np.arctan2(np.where(ok, earth[:, 0], 0.0), np.where(ok, earth[:, 1],
                                                                             1.0)))
    moving = ok if rest is None else ok & ~rest
    ref = moving if moving.sum() >= 0.1 * ok.sum() and moving.any() else ok
    ref_norm = float(np.median(norm[ref])) if ref.any() else math.nan
    ref_dip = float(np.median(dip[ref])) if ref.any() else math.nan
    good = ok & (np.abs(norm - ref_norm) < norm_th * ref_norm) & \
        (np.abs(dip - ref_dip) < dip_th_rad)
    if not good.any():
        good = ok
    weight = np.where(moving, 1.0, rest_weight)
    log_keep = np.broadcast_to(-1.0 / (np.asarray(tau_s, np.float64) * rate_hz),
                               norm.shape).astype(np.float64)
    z = _smooth(meas, good * weight, log_keep)
    for th in heading_th_rad:
        keep = good & (np.abs(np.angle(meas * np.conj(z))) < th)
        z = _smooth(meas, keep * weight, log_keep)
    if heading_th_rad:
        good = keep
    return HeadingOffset(np.angle(z), ~good, ref_norm, ref_dip, np.angle(meas))


def _smooth(z: npt.NDArray[np.complex128], w: Array, log_keep: Array
            ) -> npt.NDArray[np.complex128]:
    """Two-sided exponentially weighted mean of ``z`` with weights ``w`` (no lag); the weight
    of a sample decays by ``exp(log_keep[i])`` across sample ``i``."""
    back = np.concatenate([[0.0], log_keep[::-1][:-1]])  # the decays met going backwards
    wz, wc = w * z, w.astype(np.complex128)
    num = _ema(wz, log_keep) + _ema(wz[::-1], back)[::-1] - wz
    den = _ema(wc, log_keep) + _ema(wc[::-1], back)[::-1] - wc
    out = np.where(np.abs(den) > 1e-300, num / np.where(np.abs(den) > 1e-300, den, 1.0), 1.0)
    return np.asarray(out, np.complex128)


def _ema(x: npt.NDArray[np.complex128], log_keep: Array) -> npt.NDArray[np.complex128]:
    """``y_i = exp(log_keep[i]) y_{i-1} + x_i`` from ``y_{-1} = 0``, with cumulative sums in
    chunks short enough for ``exp(-sum(log_keep))`` to stay finite."""
    total = np.cumsum(log_keep)
    out = np.empty_like(x)
    carry, lo = 0j, 0
    while lo < len(x):
        hi = lo + max(1, int(np.searchsorted(total[lo] - total[lo:], 300.0, side="right")))
        c = total[lo:hi] - total[lo]
        y = np.exp(c) * (np.cumsum(x[lo:hi] * np.exp(-c)) + carry * math.exp(log_keep[lo]))
        out[lo:hi] = y
        carry, lo = complex(y[-1]), hi
    return out


#: Heading smoothing of the whole-recording estimate (:func:`adaptive_tau`): seconds of time
#: constant per degree of the field's heading noise, its bounds, and the turn rate (deg/s) at
#: which the time constant halves. Chosen on the synthetic tuning trials (seeds 0-3 of every
#: kind, heading RMSE): the best fixed constant is 2-4 s in fast rotation (a gyroscope's
#: scale error turns the 6-axis heading with every turn), 4-8 s under linear acceleration and
#: 15 s or more beside magnets; one fixed 15 s gave 0.35 degrees on average, this rule 0.30.
TAU_PER_NOISE_DEG = 20.0
TAU_BOUNDS_S = (4.0, 30.0)
TAU_HALF_TURN_DPS = 120.0


def adaptive_tau(quat6d: Array, field_ut: Array, rate_hz: float, rest: BoolArray,
                 gyr_rads: Array) -> Array:
    """Per-sample smoothing time constant for :func:`heading_offset`.

    The heading offset wanders with the gyroscope's errors, faster the faster the sensor
    turns, and the field measures it with a noise that disturbances raise: a noisier field
    wants a longer average, faster turning a shorter one. The noise is the RMS of half-second
    means of the field's heading about a 4 s smoothed one (undisturbed moving samples); the
    base constant ``TAU_PER_NOISE_DEG`` times that noise, within ``TAU_BOUNDS_S``, is divided
    by ``1 + turn rate / TAU_HALF_TURN_DPS``."""
    noise = heading_noise_deg(quat6d, field_ut, rate_hz, rest)
    base = min(max(TAU_PER_NOISE_DEG * noise, TAU_BOUNDS_S[0]), TAU_BOUNDS_S[1])
    turn = np.degrees(np.linalg.norm(np.nan_to_num(gyr_rads), axis=1))
    return np.asarray(base / (1.0 + turn / TAU_HALF_TURN_DPS), np.float64)


def heading_noise_deg(quat6d: Array, field_ut: Array, rate_hz: float, rest: BoolArray,
                      block_s: float = 0.5) -> float:
    """RMS (degrees) of ``block_s`` means of the field's heading about a 4 s smoothed one,
    over blocks that are mostly undisturbed moving samples; 1 degree when there are none."""
    head = heading_offset(quat6d, field_ut, rate_hz, rest, tau_s=4.0)
    resid = np.angle(np.exp(1j * (head.measured_rad - head.delta_rad)))
    use = ~head.disturbed & ~rest
    size = max(1, int(rate_hz * block_s))
    n = len(resid) // size
    total = np.where(use, resid, 0.0)[:n * size].reshape(n, size).sum(axis=1)
    count = use[:n * size].reshape(n, size).sum(axis=1)
    full = count > size // 2
    if not full.any():
        return 1.0
    return math.degrees(math.sqrt(float(np.mean((total[full] / count[full]) ** 2))))


@dataclass(frozen=True)
class OfflineHeading:
    """What :func:`offline_heading` gives for N samples.

    Attributes:
        quat9d: (N, 4) sensor-to-earth orientation with the heading from the field.
        hard_iron_ut: (N, 3) the offset removed from each sample.
        disturbed: (N,) the sample's field did not count towards the heading.
        fit: The whole-recording hard-iron fit (None when learning is off).
        source: Where the offsets came from: ``"prior"`` (the given offset only),
            ``"whole recording"`` (one offset fitted to all of it) or ``"online"`` (the
            online estimator run forwards, when no single offset explains the recording).
    """

    quat9d: Array
    hard_iron_ut: Array
    disturbed: BoolArray
    fit: HardIronFit | None
    source: str


def offline_heading(quat6d: Array, rest: BoolArray, mag_ut: Array, rate_hz: float,
                    prior_ut: Array, *, learn: bool = True, tau_s: float | None = None,
                    gyr_rads: Array | None = None) -> OfflineHeading:
    """Hard iron and heading of a whole recording from its 6-axis orientation.

    1. :func:`fit_hard_iron` on every turn of the recording (on top of ``prior_ut``).
    2. When it finds no offset because a stretch of the recording fits another one (a magnet
       attached, moved or removed part-way), the online estimator runs forwards over the
       recording instead, and its offsets are kept only if they make the field norm
       steadier.
    3. :func:`heading_offset` on the corrected field, applied to the 6-axis orientation,
       smoothed over ``tau_s`` seconds, or by :func:`adaptive_tau` when it is None (15 s
       where ``gyr_rads`` is not given).
    """
    t = np.arange(len(quat6d)) / rate_hz
    prior = np.asarray(prior_ut, np.float64).reshape(3)
    offsets = np.broadcast_to(prior, mag_ut.shape)
    fit, source = None, "prior"
    if learn:
        fit = fit_hard_iron(t, quat6d, mag_ut - prior)
        if fit.accepted:
            offsets, source = np.broadcast_to(prior + fit.offset_ut, mag_ut.shape), \
                "whole recording"
        elif fit.changed_at_s is not None:
            track = _online_track(t, rate_hz, quat6d, mag_ut, prior)
            if track is not None and _steadier(mag_ut, track, offsets, fit.noise_ut):
                offsets, source = track, "online"
    field = np.asarray(mag_ut, np.float64) - offsets
    if tau_s is not None:
        tau: float | Array = tau_s
    elif gyr_rads is not None:
        tau = adaptive_tau(quat6d, field, rate_hz, rest, gyr_rads)
    else:
        tau = 15.0
    head = heading_offset(quat6d, field, rate_hz, rest, tau_s=tau)
    d = 0.5 * head.delta_rad
    turn = np.stack([np.cos(d), np.zeros_like(d), np.zeros_like(d), np.sin(d)], axis=1)
    return OfflineHeading(quat.multiply(turn, quat6d), np.array(offsets, np.float64),
                          head.disturbed, fit, source)



def _online_track(t: Array, rate_hz: float, quat6d: Array, mag_ut: Array, prior: Array
                  ) -> Array | None:
    """Per-sample offsets of the online estimator run forwards in quarter-second blocks."""
    from .hardiron import HardIronEstimator

    est = HardIronEstimator(prior.copy())
    out = np.empty((len(t), 3))
    block = max(1, round(0.25 * rate_hz))
    moved = False
    for lo in range(0, len(t), block):
        hi = min(len(t), lo + block)
        out[lo:hi] = est.offset_ut
        moved |= est.add(t[lo:hi], quat6d[lo:hi], mag_ut[lo:hi]).moved
    return out if moved else None


def _steadier(mag_ut: Array, new: Array, old: Array, noise: float) -> bool:
    """Whether offsets ``new`` leave a steadier field norm than ``old`` (by half a noise
    variance)."""
    ok = np.all(np.isfinite(mag_ut), axis=1)
    a = float(np.std(np.linalg.norm(mag_ut[ok] - new[ok], axis=1)))
    b = float(np.std(np.linalg.norm(mag_ut[ok] - old[ok], axis=1)))
    noise = noise if math.isfinite(noise) else 1.0
    return b * b - a * a >= 0.5 * noise * noise
