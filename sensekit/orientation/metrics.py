"""Orientation errors as BROAD scores them (Laidig et al., Data 2021, section 4).

- Inclination error: the angle between the estimated and the true vertical, seen in the sensor
  frame (heading plays no part).
- Heading error: the turn about the earth vertical between truth and estimate, after removing
  its circular mean (one constant offset per trial: the estimate's north may differ from the
  motion capture's).

Only samples in ``mask`` (BROAD's ``movement`` with finite truth) count; both are RMS degrees.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import quaternion as quat

__all__ = ["heading_errors_deg", "inclination_errors_deg", "orientation_rmse_deg"]

Array = npt.NDArray[np.float64]


def inclination_errors_deg(q_est: Array, q_true: Array) -> Array:
    """Per-sample inclination error (degrees) of sensor-to-ENU quaternions."""
    up = np.array([0.0, 0.0, 1.0])
    a = quat.rotate_inverse(quat.normalize(q_est), up)
    b = quat.rotate_inverse(quat.normalize(q_true), up)
    return np.asarray(np.degrees(np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0))),
                      np.float64)


def heading_errors_deg(q_est: Array, q_true: Array) -> Array:
    """Per-sample heading error (degrees, in (-180, 180]) with its circular mean removed."""
    d = quat.multiply(q_true, quat.conj(quat.normalize(q_est)))
    h = 2 * np.arctan2(d[:, 3], d[:, 0])
    off = np.arctan2(np.mean(np.sin(h)), np.mean(np.cos(h)))
    return np.asarray(np.degrees(np.angle(np.exp(1j * (h - off)))), np.float64)


def orientation_rmse_deg(q_est: Array, q_true: Array, mask: npt.NDArray[np.bool_]
                         ) -> tuple[float, float]:
    """(inclination RMSE, heading RMSE) in degrees over ``mask`` and finite truth."""
    keep = np.asarray(mask, bool) & np.all(np.isfinite(q_true), axis=1)
    e, t = np.asarray(q_est, np.float64)[keep], np.asarray(q_true, np.float64)[keep]
    incl = inclination_errors_deg(e, t)
    head = heading_errors_deg(e, t)
    return float(np.sqrt(np.mean(incl ** 2))), float(np.sqrt(np.mean(head ** 2)))
