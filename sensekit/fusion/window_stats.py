"""Window statistics that do not depend on the sampling rate or on how the phone is held.

The input of the network trained on real phones (:mod:`sensekit.fusion.context`): per 5 s
window and per modality a short vector of amplitude statistics of the sample values, never
counts, slopes or spectra, so a 3 Hz phone and a 100 Hz phone give the same vector for the same
motion. The rules (``fusion/README.md`` has the evidence):

- **Rate.** A vector stream is point-sampled to at most ``max_rate_hz`` (20 Hz): the sample
  nearest each point of a grid at that rate, no anti-alias filter, a grid point further than
  one step from any sample is a gap. Phones that deliver 2-5 Hz deliver unfiltered point
  samples (a 3 Hz phone's walk swings as much as a 100 Hz phone's), and point sampling keeps a
  fast phone's walk looking like that; low-pass filtering first would not. Nothing is
  interpolated up. Fewer than ``min_samples`` (4) samples in the window: the modality is absent.
- **Orientation.** Norms, the projection on the window's mean vector (gravity, for an
  accelerometer) and the magnitude across it, angles between the two half-window means: all
  unchanged when the sensor is turned.
- **Units.** SI as the importers write them (m/s^2 with gravity included, rad/s, uT); gravity
  is removed by the window's mean vector.

Feature extractors, registered by name in :data:`sensekit.fusion.features.FEATURES`:
``accel_stats`` (14), ``gyro_stats`` (6), ``mag_stats`` (6), ``level_stats`` (a sound level, 3),
``speed_stats`` (GPS speed, 3) and ``light_stats`` (2). Each returns ``(features, 1)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from .features import F32, Feature
from .inputs import ModalityInput, Source

__all__ = ["ACCEL_NAMES", "MAX_RATE_HZ", "MIN_SAMPLES", "AccelStats", "GyroStats",
           "LevelStats", "LightStats", "MagStats", "SpeedStats", "accel_features",
           "gyro_features", "light_features", "mag_features", "point_sample",
           "sound_features", "speed_features", "window_samples"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Vector streams are point-sampled to at most this rate before their statistics are taken.
MAX_RATE_HZ = 20.0
#: A vector stream with fewer samples than this in a window is absent from it.
MIN_SAMPLES = 4

ACCEL_NAMES = ("log_std_norm", "log_std_vertical", "log_rms_horizontal", "log_q25_dev",
               "log_q50_dev", "log_q75_dev", "log_q90_dev", "log_iqr_norm", "frac_dev_0.3",
               "frac_dev_1", "frac_dev_3", "log_norm_excess", "tilt_rad", "log_half_shift")


def point_sample(t_ns: I64, rate_hz: float, phase: float = 0.0, start_ns: int | None = None
                 ) -> I64:
    """Indices of the samples nearest each point of a ``rate_hz`` grid (no filter).

    Args:
        t_ns: Sorted sample times.
        rate_hz: Grid rate.
        phase: Where the first grid point lies, as a fraction of a step after ``start_ns``.
        start_ns: Grid origin (default: the first sample).

    Returns:
        Sorted, unique indices; grid points further than one step from every sample are gaps.
    """
    if len(t_ns) == 0:
        return np.zeros(0, np.int64)
    step = 1e9 / rate_hz
    origin = float(t_ns[0] if start_ns is None else start_ns) + phase * step
    grid = origin + np.arange(0.0, float(t_ns[-1]) - origin + step / 2, step)
    if len(grid) == 0:
        return np.zeros(0, np.int64)
    t = t_ns.astype(np.float64)
    right = np.clip(np.searchsorted(t, grid), 0, len(t) - 1)
    left = np.maximum(right - 1, 0)
    nearest = np.where(np.abs(t[left] - grid) <= np.abs(t[right] - grid), left, right)
    near = np.abs(t[nearest] - grid) < step
    return np.unique(nearest[near]).astype(np.int64)


def _q(x: F64, probs: tuple[float, ...]) -> F64:
    return np.asarray(np.quantile(x, probs), np.float64)


def _angle(a: F64, b: F64) -> float:
    cos = float(a @ b) / (float(np.linalg.norm(a) * np.linalg.norm(b)) + 1e-9)
    return float(np.arccos(np.clip(cos, -1.0, 1.0)))


def accel_features(a: F64) -> F32:
    """14 statistics of an (n, 3) accelerometer window in m/s^2, gravity included.

    log1p of: the std of the norm, of the projection on the window's gravity direction, the RMS
    of the horizontal magnitude, quartiles and 90th percentile of ``|a - mean|``, the IQR of the
    norm; the fractions of ``|a - mean|`` above 0.3, 1 and 3 m/s^2; log1p of how much the mean
    norm exceeds the norm of the mean vector; the tilt between the two half-window means (rad)
    and log1p of their difference.
    """
    g = a.mean(0)
    g_norm = float(np.linalg.norm(g)) + 1e-9
    up = g / g_norm
    dev = a - g
    vertical = dev @ up
    horizontal = np.linalg.norm(dev - vertical[:, None] * up, axis=1)
    dev_norm = np.linalg.norm(dev, axis=1)
    norm = np.linalg.norm(a, axis=1)
    half = len(a) // 2
    g1, g2 = a[:half].mean(0), a[half:].mean(0)
    q75, q25 = _q(norm, (0.75, 0.25))
    return np.array([
        np.log1p(norm.std()), np.log1p(vertical.std()),
        np.log1p(np.sqrt(np.mean(horizontal ** 2))), *np.log1p(_q(dev_norm, (.25, .5, .75, .9))),
        np.log1p(q75 - q25), (dev_norm > 0.3).mean(), (dev_norm > 1.0).mean(),
        (dev_norm > 3.0).mean(), np.log1p(max(float(norm.mean()) - g_norm, 0.0)),
        _angle(g1, g2), np.log1p(np.linalg.norm(g1 - g2))], np.float32)


def gyro_features(w: F64) -> F32:
    """6 statistics of an (n, 3) gyroscope window in rad/s: log1p of the quartiles and 90th
    percentile of ``|w|``, of its std, and of the norm of the mean rate (a steady turn)."""
    n = np.linalg.norm(w, axis=1)
    return np.array([*np.log1p(_q(n, (.25, .5, .75, .9))), np.log1p(n.std()),
                     np.log1p(np.linalg.norm(w.mean(0)))], np.float32)


def mag_features(m: F64) -> F32:
    """6 statistics of an (n, 3) magnetometer window in uT: log1p of the std of the norm, of the
    median and 90th percentile of ``|m - mean|``, of the std along the mean field; the heading
    change between the half-window means (rad) and log1p of their difference. Steel and traction
    motors near the phone move the field; the earth's field alone barely does."""
    mean = m.mean(0)
    along = mean / (float(np.linalg.norm(mean)) + 1e-9)
    dev = m - mean
    dev_norm = np.linalg.norm(dev, axis=1)
    half = len(m) // 2
    m1, m2 = m[:half].mean(0), m[half:].mean(0)
    return np.array([np.log1p(np.linalg.norm(m, axis=1).std()),
                     *np.log1p(_q(dev_norm, (.5, .9))), np.log1p((dev @ along).std()),
                     _angle(m1, m2), np.log1p(np.linalg.norm(m1 - m2))], np.float32)


def sound_features(db: F64) -> F32:
    """3 statistics of the sound levels (dB) in the window, held reports included:
    (mean - 60) / 20, std / 10 and range / 20."""
    return np.array([(db.mean() - 60.0) / 20.0, db.std() / 10.0,
                     (db.max() - db.min()) / 20.0], np.float32)


def speed_features(v: F64) -> F32:
    """3 statistics of the GPS speeds (m/s) in the window, the held fix included: log1p of the
    latest, the highest and the mean."""
    v = np.maximum(v, 0.0)
    return np.array([np.log1p(v[-1]), np.log1p(v.max()), np.log1p(v.mean())], np.float32)


def light_features(lux: F64) -> F32:
    """2 statistics of the light (lux) in the window, the held report included:
    log10(1 + latest) / 5 and the range of log10(1 + lux) / 5."""
    level = np.log10(1.0 + np.maximum(lux, 0.0))
    return np.array([level[-1] / 5.0, (level.max() - level.min()) / 5.0], np.float32)


def window_samples(win: Any, source: Source, *, held: bool = False
                   ) -> tuple[I64, F64] | None:
    """The window's samples of ``source``'s first field, in time order: times and values
    (finite rows only); ``held`` includes held reports of a step signal."""
    mask = win.mask.get(source.stream)
    data = win.data.get(source.stream, {})
    if mask is None or source.fields[0] not in data:
        return None
    keep = win.valid(source.stream) if held else mask
    values = np.asarray(data[source.fields[0]], np.float64)
    values = values.reshape(len(values), -1)[keep]
    t = np.asarray(win.t_ns[source.stream], np.int64)[keep]
    finite = np.isfinite(values).all(1)
    order = np.argsort(t[finite], kind="stable")
    return t[finite][order], values[finite][order]


class _VectorStats(Feature):
    """Statistics of an x/y/z stream point-sampled to at most ``max_rate_hz``."""

    compute: Callable[[F64], F32]

    def __call__(self, win: Any, source: Source, spec: ModalityInput,
                 rate: float) -> F32 | None:
        got = window_samples(win, source)
        if got is None:
            return None
        t, values = got
        max_rate = float(source.options.get("max_rate_hz", MAX_RATE_HZ))
        idx = point_sample(t, max_rate, 0.5, int(win.t_start_ns))
        if len(idx) < int(source.options.get("min_samples", MIN_SAMPLES)):
            return None
        return self.compute(values[idx, :3])[:, None]


class AccelStats(_VectorStats):
    """``accel_stats``: :func:`accel_features` of the point-sampled accelerometer."""

    compute = staticmethod(accel_features)


class GyroStats(_VectorStats):
    """``gyro_stats``: :func:`gyro_features` of the point-sampled gyroscope."""

    compute = staticmethod(gyro_features)


class MagStats(_VectorStats):
    """``mag_stats``: :func:`mag_features` of the point-sampled magnetometer."""

    compute = staticmethod(mag_features)


class _ScalarStats(Feature):
    """Statistics of a low-rate scalar stream's reports in the window, held ones included."""

    compute: Callable[[F64], F32]

    def __call__(self, win: Any, source: Source, spec: ModalityInput,
                 rate: float) -> F32 | None:
        got = window_samples(win, source, held=True)
        if got is None or len(got[0]) == 0:
            return None
        offset = float(source.options.get("offset_db", 0.0))
        return self.compute(got[1][:, 0] + offset)[:, None]


class LevelStats(_ScalarStats):
    """``level_stats``: :func:`sound_features` of a sound level stream (option ``offset_db``:
    added first, to bring a level in dBFS to a phone app's dB)."""

    compute = staticmethod(sound_features)


class SpeedStats(_ScalarStats):
    """``speed_stats``: :func:`speed_features` of a GPS speed stream."""

    compute = staticmethod(speed_features)


class LightStats(_ScalarStats):
    """``light_stats``: :func:`light_features` of a light stream."""

    compute = staticmethod(light_features)
