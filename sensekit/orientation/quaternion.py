"""Quaternion arithmetic on arrays, the convention of :mod:`sensekit.orientation`.

Quaternions are ``[w, x, y, z]`` (scalar first) and rotate the sensor frame into the earth
frame: ``v_earth = q * v_sensor * conj(q)``. Every function takes one quaternion ``(4,)`` or
many ``(N, 4)`` and returns the matching shape. The earth frame is ENU (x east, y north, z up)
or NED (x north, y east, z down); :func:`enu_to_ned` turns one into the other without touching
the sensor frame.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "ENU_TO_NED",
    "conj",
    "enu_to_ned",
    "euler_zyx",
    "from_axis_angle",
    "from_matrix",
    "heading",
    "multiply",
    "normalize",
    "rotate",
    "rotate_inverse",
    "tilt_heading_quaternion",
    "to_matrix",
]

Array = npt.NDArray[np.float64]

#: The rotation taking ENU coordinates to NED ones (x and y swap, z flips): half a turn about
#: the axis (1, 1, 0) / sqrt(2). ``q_ned = ENU_TO_NED * q_enu``.
ENU_TO_NED: Array = np.array([0.0, math.sqrt(0.5), math.sqrt(0.5), 0.0])


def _f(q: npt.ArrayLike) -> Array:
    return np.asarray(q, dtype=np.float64)


def multiply(a: npt.ArrayLike, b: npt.ArrayLike) -> Array:
    """Hamilton product ``a * b`` (apply ``b`` first, then ``a``)."""
    a, b = _f(a), _f(b)
    w1, x1, y1, z1 = np.moveaxis(a, -1, 0)
    w2, x2, y2, z2 = np.moveaxis(b, -1, 0)
    return np.stack([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
                     w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
                     w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2], axis=-1)


def conj(q: npt.ArrayLike) -> Array:
    """The inverse rotation of a unit quaternion."""
    return np.asarray(_f(q) * np.array([1.0, -1.0, -1.0, -1.0]), np.float64)


def normalize(q: npt.ArrayLike) -> Array:
    """Unit quaternions with a non-negative scalar part (``q`` and ``-q`` are one rotation)."""
    u = _f(q)
    u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    return np.asarray(np.where(u[..., :1] < 0, -u, u), np.float64)


def to_matrix(q: npt.ArrayLike) -> Array:
    """Rotation matrices ``(..., 3, 3)`` with ``v_earth = R @ v_sensor``."""
    q = _f(q)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    r = np.empty((*q.shape[:-1], 3, 3))
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz, wx, wy, wz = x * y, x * z, y * z, w * x, w * y, w * z
    r[..., 0, 0] = 1 - 2 * (yy + zz)
    r[..., 0, 1] = 2 * (xy - wz)
    r[..., 0, 2] = 2 * (xz + wy)
    r[..., 1, 0] = 2 * (xy + wz)
    r[..., 1, 1] = 1 - 2 * (xx + zz)
    r[..., 1, 2] = 2 * (yz - wx)
    r[..., 2, 0] = 2 * (xz - wy)
    r[..., 2, 1] = 2 * (yz + wx)
    r[..., 2, 2] = 1 - 2 * (xx + yy)
    return r


def from_matrix(r: npt.ArrayLike) -> Array:
    """The quaternion of one rotation matrix (Shepperd's method, stable for any angle)."""
    m = _f(r)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    candidates = np.array([trace, m[0, 0], m[1, 1], m[2, 2]])
    i = int(np.argmax(candidates))
    if i == 0:
        s = 2.0 * math.sqrt(1.0 + trace)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    else:
        j, k = (i % 3) + 1, ((i + 1) % 3) + 1
        a, b, c = i - 1, j - 1, k - 1
        s = 2.0 * math.sqrt(1.0 + m[a, a] - m[b, b] - m[c, c])
        q = [0.0] * 4
        q[0] = (m[c, b] - m[b, c]) / s
        q[i] = 0.25 * s
        q[j] = (m[b, a] + m[a, b]) / s
        q[k] = (m[c, a] + m[a, c]) / s
    return normalize(np.array(q))


def rotate(q: npt.ArrayLike, v: npt.ArrayLike) -> Array:
    """Vectors ``v`` (sensor frame) expressed in the earth frame."""
    q, v = _f(q), _f(v)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    vx, vy, vz = v[..., 0], v[..., 1], v[..., 2]
    # v + 2 w (u x v) + 2 u x (u x v), u = (x, y, z); written out (np.cross is slow)
    cx, cy, cz = y * vz - z * vy, z * vx - x * vz, x * vy - y * vx
    return np.stack([vx + 2.0 * (w * cx + y * cz - z * cy),
                     vy + 2.0 * (w * cy + z * cx - x * cz),
                     vz + 2.0 * (w * cz + x * cy - y * cx)], axis=-1)


def rotate_inverse(q: npt.ArrayLike, v: npt.ArrayLike) -> Array:
    """Vectors ``v`` (earth frame) expressed in the sensor frame."""
    return rotate(conj(q), v)


def from_axis_angle(axis: npt.ArrayLike, angle_rad: npt.ArrayLike) -> Array:
    """Rotations by ``angle_rad`` about ``axis`` (any length, not zero)."""
    axis = _f(axis)
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    half = 0.5 * _f(angle_rad)[..., None]
    return np.concatenate([np.cos(half), np.sin(half) * axis], axis=-1)


def enu_to_ned(q_enu: npt.ArrayLike) -> Array:
    """Sensor-to-NED quaternions from sensor-to-ENU ones (and back: the map is its own
    inverse up to sign)."""
    return normalize(multiply(ENU_TO_NED, q_enu))


def euler_zyx(q: npt.ArrayLike) -> Array:
    """Roll, pitch and yaw (rad), the aerospace z-y'-x'' sequence, as ``(..., 3)``.

    In NED, yaw is the heading clockwise from north and pitch is nose up; in ENU, yaw is
    counter-clockwise from east. Pitch is clipped to +-90 degrees where the sequence is
    singular.
    """
    w, x, y, z = np.moveaxis(_f(q), -1, 0)
    roll = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.stack([roll, pitch, yaw], axis=-1)


def heading(q: npt.ArrayLike, convention: str = "enu") -> Array:
    """Heading (rad) of the sensor x axis projected on the horizontal plane, clockwise from
    north, in [0, 2 pi). Undefined (arbitrary) when x points straight up or down."""
    x_earth = rotate(q, np.array([1.0, 0.0, 0.0]))
    east, north = (x_earth[..., 0], x_earth[..., 1]) if convention == "enu" else \
        (x_earth[..., 1], x_earth[..., 0])
    return np.mod(np.arctan2(east, north), 2 * math.pi)


def tilt_heading_quaternion(acc: npt.ArrayLike, mag: npt.ArrayLike | None = None) -> Array:
    """Sensor-to-ENU quaternion from one gravity reading (specific force, pointing up when
    still) and optionally one magnetic field reading; heading 0 (x north) without a field.

    This is how a filter starts from the first samples instead of from identity.
    """
    up = _f(acc) / np.linalg.norm(acc)
    if mag is None or not np.all(np.isfinite(mag)) or np.linalg.norm(mag) == 0:
        ref = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        east = np.cross(ref, up)
        north = np.cross(up, east)
        # x sensor axis north where it can be: rotate the frame so that heading(x) = 0
        r = np.stack([east / np.linalg.norm(east), north / np.linalg.norm(north), up])
        q = from_matrix(r)
        return _level_heading(q, 0.0)
    east = np.cross(_f(mag), up)
    east /= np.linalg.norm(east)
    north = np.cross(up, east)
    return from_matrix(np.stack([east, north, up]))


def _level_heading(q: Array, target_rad: float) -> Array:
    """Turn ``q`` about the earth vertical so that its heading becomes ``target_rad``."""
    delta = float(heading(q)) - target_rad
    # heading is clockwise from north; a counter-clockwise turn about up by delta undoes it
    return normalize(multiply(from_axis_angle([0.0, 0.0, 1.0], delta), q))
