"""Magnetometer calibration: hard and soft iron from an ellipsoid fit, and how many orientations
the samples cover.

A magnetometer turned through every orientation in a steady field should trace a sphere whose
radius is the field. Iron fixed to the board shifts it (hard iron, an offset); nearby soft iron
and unequal axis gains stretch it into an ellipsoid (soft iron). The fit is the algebraic least
squares ellipsoid (Q. Li and J. G. Griffiths, "Least squares ellipsoid specific fitting", 2004;
its general nine-parameter form, solved in closed form):

    a x^2 + b y^2 + c z^2 + 2f yz + 2g xz + 2h xy + 2p x + 2q y + 2r z = 1

whose centre is the hard iron and whose shape matrix, normalised, gives the symmetric soft-iron
matrix ``W`` with ``|W (m - b)|`` constant. The calibrated magnitude is set to the geometric
mean radius, so the correction keeps the field's size.

An ellipsoid needs the samples to go around it: turning a board flat on a table traces a circle,
which fits infinitely many ellipsoids. :func:`coverage` measures the share of 32 evenly spread
directions (a Fibonacci sphere) with samples near them; the ellipsoid is fitted when at least
:data:`ENOUGH` of them are covered, and with less only the hard iron (a sphere, four parameters)
is, and the result says so (``model``).

Plain functions on arrays; the record is :class:`~sensekit.drivers.calibration.MagCalibration`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from .calibration import MagCalibration

__all__ = ["BINS", "ENOUGH", "coverage", "directions", "fit_magnetometer", "fit_sphere"]

Array = npt.NDArray[np.float64]
#: Directions the sphere is split into, and the share that must be covered for an ellipsoid.
BINS = 32
ENOUGH = 0.75
#: Samples a direction needs to count as covered.
PER_BIN = 3
MIN_SAMPLES = 50


def directions(n: int = BINS) -> Array:
    """``n`` unit vectors spread evenly over the sphere (a Fibonacci lattice)."""
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    phi = math.pi * (3 - math.sqrt(5)) * k
    r = np.sqrt(1 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def _clean(samples: npt.ArrayLike) -> Array:
    data = np.asarray(samples, np.float64).reshape(-1, 3)
    return data[np.isfinite(data).all(axis=1)]


def coverage(samples: npt.ArrayLike, center: npt.ArrayLike | None = None) -> float:
    """The share of :data:`BINS` directions around ``center`` (default: the centre of the
    samples' best sphere) that have at least :data:`PER_BIN` samples nearest them."""
    data = _clean(samples)
    if len(data) == 0:
        return 0.0
    mid = _sphere(data)[0] if center is None else np.asarray(center)
    offsets = data - mid
    norms = np.linalg.norm(offsets, axis=1)
    unit = offsets[norms > 0] / norms[norms > 0, None]
    nearest = np.argmax(unit @ directions().T, axis=1)
    counts = np.bincount(nearest, minlength=BINS)
    return float(np.mean(counts >= PER_BIN))


def _sphere(data: Array) -> tuple[Array, float]:
    """Centre and radius of the least-squares sphere (the midrange for too few samples)."""
    if len(data) < 4:
        return (data.max(axis=0) + data.min(axis=0)) / 2, 0.0
    design = np.column_stack([2 * data, np.ones(len(data))])
    solution, *_ = np.linalg.lstsq(design, (data ** 2).sum(axis=1), rcond=None)
    center = solution[:3]
    return center, math.sqrt(max(solution[3] + center @ center, 0.0))


def fit_sphere(samples: npt.ArrayLike) -> MagCalibration:
    """Hard iron only: the least-squares sphere (centre and radius)."""
    data = _clean(samples)
    if len(data) < MIN_SAMPLES:
        raise ConfigError(f"magnetometer calibration needs at least {MIN_SAMPLES} samples, "
                          f"got {len(data)}")
    center, radius = _sphere(data)
    return _result(data, center, np.eye(3), radius, "sphere")


def fit_ellipsoid(samples: npt.ArrayLike) -> MagCalibration:
    """Hard and soft iron: the least-squares ellipsoid.

    Raises:
        ConfigError: the samples do not describe an ellipsoid (too few orientations).
    """
    data = _clean(samples)
    x, y, z = data.T
    design = np.column_stack([x * x, y * y, z * z, 2 * y * z, 2 * x * z, 2 * x * y,
                              2 * x, 2 * y, 2 * z])
    v, *_ = np.linalg.lstsq(design, np.ones(len(data)), rcond=None)
    shape = np.array([[v[0], v[5], v[4]], [v[5], v[1], v[3]], [v[4], v[3], v[2]]])
    try:
        center = -np.linalg.solve(shape, v[6:9])
    except np.linalg.LinAlgError:
        raise ConfigError("the samples do not describe an ellipsoid; turn the device through "
                          "more orientations") from None
    scale = 1.0 + center @ shape @ center
    normalised = shape / scale
    values, vectors = np.linalg.eigh(normalised)
    # A flat set of samples leaves one axis undetermined: its eigenvalue collapses.
    if scale <= 0 or np.any(values <= 0) or values.max() > 1e4 * values.min():
        raise ConfigError("the samples do not describe an ellipsoid; turn the device through "
                          "more orientations")
    radius = float(np.prod(values) ** (-1 / 6))      # the geometric mean radius
    soft = radius * vectors @ np.diag(np.sqrt(values)) @ vectors.T
    return _result(data, center, soft, radius, "ellipsoid")


def _result(data: Array, center: Array, soft: Array, radius: float,
            model: str) -> MagCalibration:
    calibrated = (data - center) @ soft.T
    norms = np.linalg.norm(calibrated, axis=1)
    spread = float(norms.std() / norms.mean()) if norms.mean() > 0 else math.inf
    return MagCalibration(np.asarray(center, np.float64), np.asarray(soft, np.float64),
                          radius, model, coverage(data, center), spread, len(data))


def fit_magnetometer(samples: npt.ArrayLike, *, model: str = "auto") -> MagCalibration:
    """Hard and soft iron from (N, 3) magnetometer samples (uT) taken while the device turned
    through many orientations.

    Args:
        samples: Raw magnetometer readings; NaN rows are ignored.
        model: ``"ellipsoid"``, ``"sphere"`` or ``"auto"`` (the ellipsoid when the samples cover
            at least :data:`ENOUGH` of the directions, else the sphere).

    Raises:
        ConfigError: too few samples, or an ellipsoid the samples cannot support.
    """
    if model not in ("auto", "ellipsoid", "sphere"):
        raise ConfigError(f"model must be auto, ellipsoid or sphere, not {model!r}")
    sphere = fit_sphere(samples)
    if model == "sphere" or (model == "auto" and sphere.coverage < ENOUGH):
        return sphere
    return fit_ellipsoid(samples)
