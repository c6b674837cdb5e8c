"""Synthetic IMU trials with known orientation, one per kind of BROAD trial.

BROAD (Laidig et al., Data 2021) records an IMU moved by hand under optical motion capture:
rest, then movement (slow or fast rotation, translation or both, with or without breaks),
then rest, undisturbed or with a disturbance (tapping, a vibrating phone, a magnet placed
nearby, a magnet attached to the board, an office). :func:`make_trial` builds such a trial
from a seed, with truth: the motion is a smooth random angular velocity and position (sums of
seeded sinusoids), the sensors see it through a stated sensor model, and each disturbance is
physics, not a label:

- tapping: a finger jolts the board, a zero-mean velocity bump of 20-60 m/s^2 over 20 ms with a
  small real turn, every 1-3 s;
- vibration: a phone motor shakes the board at 150-180 Hz in bursts (sampled at the IMU rate,
  so it aliases as it does on a real IMU);
- stationary magnet: a dipole fixed in the room that the sensor passes within 10-20 cm of;
- attached magnet: a dipole fixed to the board, a constant field in the sensor frame
  (``magnet_ut`` sets its size);
- office: the earth field bent by several iron objects (dipoles 30-80 cm from the path).

The sensor model: every triad has scale errors of 0.5% and axis misalignment of 0.3%;
gyroscope bias 0.2-1 deg/s wandering by 0.01 deg/s per root second, white noise 0.1 deg/s;
accelerometer offsets up to 0.05 m/s^2 and noise 0.03 m/s^2; magnetometer noise 0.7 uT
correlated over 4 samples (BROAD's sensor at rest shows
0.7 uT, decorrelated after 4 samples at 286 Hz); earth field 44 uT with a 69 degree dip (BROAD's
room). Nothing here imports the orientation code: the trials are an independent witness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["KINDS", "ImuTrial", "make_trial"]

Array = npt.NDArray[np.float64]
G0 = 9.80665
EARTH_FIELD_UT = 44.0 * np.array([0.0, math.cos(math.radians(69.0)), -math.sin(math.radians(69.0))])

#: kind -> (rotation rms deg/s, linear acceleration rms m/s^2 per axis, its top frequency Hz,
#: breaks, disturbance). Hand-held translations stay within tens of centimetres: the position
#: of each sinusoid is its acceleration over the squared angular frequency.
KINDS: dict[str, tuple[float, float, float, bool, str]] = {
    "rotation_slow": (60.0, 0.0, 0.0, False, ""),
    "rotation_fast": (180.0, 0.0, 0.0, False, ""),
    "rotation_breaks": (60.0, 0.0, 0.0, True, ""),
    "translation_slow": (3.0, 1.5, 1.0, False, ""),
    "translation_fast": (5.0, 6.0, 2.5, False, ""),
    "combined": (90.0, 3.0, 1.5, False, ""),
    "tapping": (90.0, 0.0, 0.0, False, "tapping"),
    "vibration": (90.0, 0.0, 0.0, False, "vibration"),
    "stationary_magnet": (90.0, 3.0, 1.5, False, "stationary_magnet"),
    "attached_magnet": (90.0, 3.0, 1.5, False, "attached_magnet"),
    "office": (90.0, 3.0, 1.5, False, "office"),
    "mixed": (120.0, 4.0, 2.0, True, "mixed"),
}


@dataclass(frozen=True)
class ImuTrial:
    """One synthetic trial: inputs, truth and the samples to score.

    Attributes:
        kind: A key of :data:`KINDS`.
        rate_hz: Sample rate.
        gyr: (N, 3) rad/s. acc: (N, 3) m/s^2 (specific force). mag: (N, 3) uT.
        quat: (N, 4) true ``[w, x, y, z]`` sensor-to-ENU orientation.
        movement: (N,) samples to score (the movement phase, breaks included).
        pos: (N, 3) true position (m, ENU).
        hard_iron_ut: The attached magnet's field in the sensor frame (zeros without one).
    """

    kind: str
    rate_hz: float
    gyr: Array
    acc: Array
    mag: Array
    quat: Array
    movement: npt.NDArray[np.bool_]
    pos: Array
    hard_iron_ut: Array


class _Smooth:
    """A seeded sum of sinusoids per axis: value, first and second derivative at any time."""

    def __init__(self, rng: np.random.Generator, rms: float, f_lo: float, f_hi: float,
                 n: int = 12, order: int = 0) -> None:
        """``rms`` is that of the ``order``-th derivative."""
        self.f = rng.uniform(f_lo, f_hi, (n, 3))
        self.ph = rng.uniform(0, 2 * math.pi, (n, 3))
        amp = rng.uniform(0.5, 1.0, (n, 3))
        amp = amp * rms / np.sqrt(0.5 * np.sum(amp * amp, axis=0))
        self.amp = amp / (2 * math.pi * self.f) ** order

    def __call__(self, t: Array, order: int = 0) -> Array:
        w = 2 * math.pi * self.f
        arg = np.multiply.outer(t, w) + self.ph
        gain = self.amp * w ** order
        wave = (np.sin, np.cos, lambda x: -np.sin(x))[order](arg)
        return np.asarray(np.sum(gain * wave, axis=1), np.float64)


def _activity(t: Array, rest_s: float, move_s: float, breaks: bool) -> Array:
    """1 while moving, 0 at rest, with smooth (raised-cosine) 1 s ramps so that positions,
    velocities and accelerations stay consistent; three 10 s breaks when asked."""
    def ramp(x: Array) -> Array:
        return np.asarray(0.5 - 0.5 * np.cos(math.pi * np.clip(x, 0.0, 1.0)), np.float64)

    on = ramp(t - rest_s) * ramp(rest_s + move_s - t)
    if breaks:
        for k in (1, 2, 3):
            mid = rest_s + k * move_s / 4
            on = on * (1 - ramp(t - (mid - 5.5)) * ramp(mid + 5.5 - t))
    return on


def _integrate(omega: Array, dt: float, q0: Array) -> Array:
    """Truth orientation from the body angular velocity (exact step per sample). A gyroscope
    sample stands for the interval that ends at it, as in BROAD and the filters."""
    q = np.empty((len(omega), 4))
    cur = q0.copy()
    for i, w in enumerate(omega):
        angle = float(np.linalg.norm(w)) * dt
        if angle > 0:
            ax = w / np.linalg.norm(w)
            h = 0.5 * angle
            d = np.array([math.cos(h), *(math.sin(h) * ax)])
            cur = _qmul(cur, d)
            cur /= np.linalg.norm(cur)
        q[i] = cur
    return q


def _qmul(a: Array, b: Array) -> Array:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def _matrices(q: Array) -> Array:
    w, x, y, z = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)], -2)


def _dipole(r: Array, moment: Array) -> Array:
    """Field (uT) at offsets ``r`` (N, 3) m of a dipole ``moment`` (A m^2)."""
    d = np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 0.05)  # the hand stops short
    rhat = r / np.linalg.norm(r, axis=1, keepdims=True)
    field = 0.1 * (3 * rhat * np.sum(rhat * moment, axis=1, keepdims=True) - moment) / d ** 3
    return np.asarray(field, np.float64)


def make_trial(kind: str, seed: int = 0, *, rate_hz: float = 286.0, rest_s: float = 15.0,
               move_s: float = 90.0, magnet_ut: float | None = None) -> ImuTrial:
    """Build one trial of ``kind`` (see :data:`KINDS`).

    Args:
        kind: Which trial.
        seed: Everything random (motion, sensor errors, disturbances) follows it.
        rate_hz: IMU sample rate.
        rest_s: Rest before the movement (and a third of it after).
        move_s: Length of the movement phase.
        magnet_ut: Size of the attached magnet's field at the sensor (``attached_magnet``;
            drawn from 5-300 uT by default, a small magnet 5 to 1 cm away).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown trial kind {kind!r}; kinds: {', '.join(KINDS)}")
    rot_dps, lin_acc, lin_hz, breaks, dist = KINDS[kind]
    rng = np.random.default_rng([seed, list(KINDS).index(kind)])
    dt = 1.0 / rate_hz
    t = np.arange(0.0, rest_s * 4 / 3 + move_s, dt)
    act = _activity(t, rest_s, move_s, breaks)
    spin = _Smooth(rng, math.radians(rot_dps), 0.05, 1.5)
    omega = spin(t) * act[:, None]
    place = _Smooth(rng, lin_acc, 0.3, max(lin_hz, 0.4), order=2)
    pos = place(t) * act[:, None]
    d_act, dd_act = np.gradient(act, dt), np.gradient(np.gradient(act, dt), dt)
    acc_lin = place(t, 2) * act[:, None] + 2 * place(t, 1) * d_act[:, None] + \
        place(t) * dd_act[:, None]
    q0 = rng.normal(size=4)
    q0 = q0 / np.linalg.norm(q0)
    hard = np.zeros(3)
    taps = np.zeros((len(t), 3))
    if dist in ("tapping", "mixed"):
        taps, tap_spin = _taps(rng, t, act)
        omega = omega + tap_spin
    if dist in ("vibration", "mixed"):
        vib_acc, vib_spin = _vibration(rng, t, act)
        taps = taps + vib_acc
        omega = omega + vib_spin
    quat = _integrate(omega, dt, q0)
    rot = _matrices(quat)
    field_e = np.broadcast_to(EARTH_FIELD_UT, (len(t), 3)).copy()
    if dist in ("stationary_magnet", "mixed"):
        field_e += _stationary_magnet(rng, pos)
    if dist == "office":
        field_e += _office(rng, pos)
    if dist == "attached_magnet":
        size = magnet_ut if magnet_ut is not None else math.exp(rng.uniform(math.log(5),
                                                                            math.log(300)))
        d = rng.normal(size=3)
        hard = size * d / np.linalg.norm(d)
    spec = acc_lin + np.array([0.0, 0.0, G0])
    acc = np.einsum("nji,nj->ni", rot, spec) + taps
    mag = np.einsum("nji,nj->ni", rot, field_e)
    gyr = _gyroscope(rng, omega, dt)
    acc = acc @ _imperfect(rng, 0.005, 0.003).T + rng.uniform(-0.05, 0.05, 3) + \
        rng.normal(0, 0.03, acc.shape)
    mag = mag @ _imperfect(rng, 0.005, 0.003).T + hard + _correlated_noise(rng, len(t), 0.7, 4)
    movement = (t >= rest_s) & (t < rest_s + move_s)
    return ImuTrial(kind, rate_hz, gyr, acc, mag, quat, movement, pos, hard)


def _imperfect(rng: np.random.Generator, scale: float, cross: float) -> Array:
    """A sensor's scale errors (diagonal) and axis misalignment (off-diagonal)."""
    return np.eye(3) + np.diag(rng.uniform(-scale, scale, 3)) + \
        (1 - np.eye(3)) * rng.uniform(-cross, cross, (3, 3))


def _gyroscope(rng: np.random.Generator, omega: Array, dt: float) -> Array:
    """Scale 0.5% and misalignment 0.3%, a bias of 0.2-1 deg/s wandering by 0.01 deg/s per
    root second, white noise 0.1 deg/s per sample."""
    bias0 = rng.uniform(-1, 1, 3) * math.radians(rng.uniform(0.2, 1.0))
    walk = np.cumsum(rng.normal(0, math.radians(0.01) * math.sqrt(dt), omega.shape), axis=0)
    return np.asarray(omega @ _imperfect(rng, 0.005, 0.003).T + bias0 + walk +
                      rng.normal(0, math.radians(0.1), omega.shape), np.float64)


def _taps(rng: np.random.Generator, t: Array, act: Array) -> tuple[Array, Array]:
    """Finger taps: a 20 ms zero-mean jolt (a full sine period of acceleration) of 20-60
    m/s^2 in a random direction, with a 0.3-1 rad/s turn of the same length."""
    acc = np.zeros((len(t), 3))
    spin = np.zeros((len(t), 3))
    at = float(t[0]) + 1.0
    while at < t[-1]:
        at += rng.uniform(1.0, 3.0)
        sel = (t >= at) & (t < at + 0.02)
        if not sel.any() or act[sel].max() == 0:
            continue
        phase = (t[sel] - at) / 0.02
        d = rng.normal(size=3)
        acc[sel] += np.outer(np.sin(2 * math.pi * phase), d / np.linalg.norm(d)) * \
            rng.uniform(20, 60)
        s = rng.normal(size=3)
        spin[sel] += np.outer(np.sin(math.pi * phase), s / np.linalg.norm(s)) * \
            rng.uniform(0.3, 1.0)
    return acc, spin


def _vibration(rng: np.random.Generator, t: Array, act: Array) -> tuple[Array, Array]:
    """A phone motor in bursts of 1-3 s: 150-180 Hz, 3-10 m/s^2 and 0.05-0.2 rad/s."""
    f = rng.uniform(150, 180)
    on = np.zeros(len(t))
    at = float(t[0])
    while at < t[-1]:
        at += rng.uniform(1.0, 4.0)
        length = rng.uniform(1.0, 3.0)
        on[(t >= at) & (t < at + length)] = 1.0
        at += length
    on *= act > 0
    wave = np.sin(2 * math.pi * f * t)[:, None]
    da, dw = rng.normal(size=3), rng.normal(size=3)
    acc = on[:, None] * wave * da / np.linalg.norm(da) * rng.uniform(3, 10)
    spin = on[:, None] * np.cos(2 * math.pi * f * t)[:, None] * dw / np.linalg.norm(dw) * \
        rng.uniform(0.05, 0.2)
    return acc, spin


def _stationary_magnet(rng: np.random.Generator, pos: Array) -> Array:
    """A magnet on the table 12-20 cm from the centre of the motion."""
    d = rng.normal(size=3)
    d[2] = -abs(d[2])
    where = 0.12 * d / np.linalg.norm(d) * rng.uniform(1.0, 1.7)
    moment = rng.normal(size=3)
    moment *= 0.5 / np.linalg.norm(moment)  # 100 uT at 10 cm on axis
    return _dipole(pos - where, moment)


def _office(rng: np.random.Generator, pos: Array) -> Array:
    """Four iron objects (desk legs, a monitor, a radiator) 30-80 cm from the path."""
    total = np.zeros_like(pos)
    for _ in range(4):
        d = rng.normal(size=3)
        where = 0.3 * d / np.linalg.norm(d) * rng.uniform(1.0, 2.7)
        moment = rng.normal(size=3)
        moment *= rng.uniform(0.5, 3.0) / np.linalg.norm(moment)
        total += _dipole(pos - where, moment)
    return total


def _correlated_noise(rng: np.random.Generator, n: int, sigma: float, taps: int) -> Array:
    white = rng.normal(0, sigma * math.sqrt(taps), (n + taps - 1, 3))
    kernel = np.ones(taps) / taps
    return np.stack([np.convolve(white[:, i], kernel, "valid") for i in range(3)], axis=1)
