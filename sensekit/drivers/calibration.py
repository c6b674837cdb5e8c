"""IMU calibration: gyro bias at rest, accelerometer offset and scale from six static poses,
a mounting rotation, and the magnetometer's hard and soft iron, stored per device and applied
on read.

The model, applied in this order to each sample in the sensor frame::

    accel = R @ ((accel_raw - accel_offset) / accel_scale)
    gyro  = R @ (gyro_raw - gyro_bias)

where ``R`` turns the sensor frame into the frame the user mounted it in (the "body" frame).

Fitting::

    cal = ImuCalibration()
    cal = cal.with_gyro_bias(gyro_at_rest)        # (N, 3) rad/s, kept still
    cal = cal.with_six_poses(pose_means)          # (6, 3) m/s^2 with +x -x +y -y +z -z up
    cal = cal.with_mounting(gravity_in_sensor_frame, body_down=(0, 0, -1))
    store = CalibrationStore()                    # ~/.config/sensekit/imu_calibration.json
    store.save("i2c://1/0x68", cal)               # by bus and address, or any name
    imu = sensekit.open("mpu6050", "i2c://1/0x68", calibration=store.load("i2c://1/0x68"))

The six-pose method: with the axis pointing up the accelerometer reads ``+g * scale + offset``
and pointing down ``-g * scale + offset``, so ``offset = (up + down) / 2`` and
``scale = (up - down) / (2 g)`` per axis.

The magnetometer (:class:`MagCalibration`, fitted by
:func:`sensekit.drivers.mag_calibration.fit_magnetometer` or ``sensekit calibrate mag``)::

    mag = soft_iron @ (mag_raw - hard_iron)

is stored under the same key, beside the IMU calibration (``store.save_mag(key, cal)``,
``store.load_mag(key)``), and the MPU-9250 driver applies it (``mag_calibration=key``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError

__all__ = ["STANDARD_GRAVITY", "CalibrationStore", "ImuCalibration", "MagCalibration",
           "rotation_between"]

STANDARD_GRAVITY = 9.80665

Array = npt.NDArray[np.float64]


def _vec(values: Sequence[float] | Array, n: int = 3) -> Array:
    out = np.asarray(values, np.float64).reshape(-1)
    if out.shape != (n,):
        raise ConfigError(f"expected {n} values, got {out.shape}")
    return out


def rotation_between(a: Sequence[float] | Array, b: Sequence[float] | Array) -> Array:
    """The smallest rotation matrix that turns direction ``a`` into direction ``b``."""
    u = _vec(a) / np.linalg.norm(a)
    v = _vec(b) / np.linalg.norm(b)
    c = float(u @ v)
    if c < -1 + 1e-12:  # opposite: turn half a circle about any axis normal to u
        axis = np.cross(u, [1.0, 0, 0])
        if np.linalg.norm(axis) < 1e-6:
            axis = np.cross(u, [0, 1.0, 0])
        axis /= np.linalg.norm(axis)
        return np.asarray(2 * np.outer(axis, axis) - np.eye(3), np.float64)
    w = np.cross(u, v)
    k = np.array([[0, -w[2], w[1]], [w[2], 0, -w[0]], [-w[1], w[0], 0]])
    return np.asarray(np.eye(3) + k + k @ k / (1 + c), np.float64)


@dataclass(frozen=True)
class ImuCalibration:
    """A calibration for one IMU (identity by default)."""

    gyro_bias_rads: Array = field(default_factory=lambda: np.zeros(3))
    accel_offset_mps2: Array = field(default_factory=lambda: np.zeros(3))
    accel_scale: Array = field(default_factory=lambda: np.ones(3))
    rotation: Array = field(default_factory=lambda: np.eye(3))

    def with_gyro_bias(self, gyro_at_rest: Array) -> ImuCalibration:
        """Gyro bias from samples taken while the IMU was still: their mean."""
        samples = np.asarray(gyro_at_rest, np.float64).reshape(-1, 3)
        if len(samples) < 10:
            raise ConfigError("gyro bias needs at least 10 samples taken at rest")
        return _replace(self, gyro_bias_rads=samples.mean(axis=0))

    def with_six_poses(self, poses: Array) -> ImuCalibration:
        """Offset and scale from mean accel readings with +x, -x, +y, -y, +z, -z pointing up."""
        p = np.asarray(poses, np.float64).reshape(6, 3)
        up, down = p[0::2, :], p[1::2, :]
        up_axis, down_axis = np.diag(up), np.diag(down)
        if np.any(up_axis <= down_axis):
            raise ConfigError("six-pose calibration: each axis must read more pointing up than "
                              "down; order the poses +x, -x, +y, -y, +z, -z up")
        offset = (up_axis + down_axis) / 2
        scale = (up_axis - down_axis) / (2 * STANDARD_GRAVITY)
        return _replace(self, accel_offset_mps2=offset, accel_scale=scale)

    def with_mounting(self, gravity_sensor: Sequence[float] | Array,
                      body_down: Sequence[float] = (0.0, 0.0, -1.0)) -> ImuCalibration:
        """The rotation that makes the measured specific force point opposite ``body_down``.

        Args:
            gravity_sensor: Mean accel (calibrated for offset/scale) with the device at rest in
                its usual pose: the specific force, which points up.
            body_down: Which way is down in the body frame.
        """
        up_body = -_vec(body_down)
        return _replace(self, rotation=rotation_between(gravity_sensor, up_body))

    def apply(self, fields: Mapping[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        """Calibrated copies of an IMU packet's ``accel_mps2`` and ``gyro_rads`` fields."""
        out = dict(fields)
        rot = self.rotation.astype(np.float32)
        if "accel_mps2" in fields:
            a = (fields["accel_mps2"] - self.accel_offset_mps2.astype(np.float32)) / \
                self.accel_scale.astype(np.float32)
            out["accel_mps2"] = np.ascontiguousarray((a @ rot.T).astype(np.float32))
        if "gyro_rads" in fields:
            g = fields["gyro_rads"] - self.gyro_bias_rads.astype(np.float32)
            out["gyro_rads"] = np.ascontiguousarray((g @ rot.T).astype(np.float32))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"gyro_bias_rads": self.gyro_bias_rads.tolist(),
                "accel_offset_mps2": self.accel_offset_mps2.tolist(),
                "accel_scale": self.accel_scale.tolist(), "rotation": self.rotation.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImuCalibration:
        try:
            rotation = np.asarray(data.get("rotation", np.eye(3)), np.float64).reshape(3, 3)
            return cls(_vec(data.get("gyro_bias_rads", [0, 0, 0])),
                       _vec(data.get("accel_offset_mps2", [0, 0, 0])),
                       _vec(data.get("accel_scale", [1, 1, 1])), rotation)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"malformed IMU calibration: {exc}") from None


@dataclass(frozen=True)
class MagCalibration:
    """A magnetometer's hard- and soft-iron correction: ``soft_iron @ (raw - hard_iron_ut)``.

    Attributes:
        hard_iron_ut: (3,) offset of the field's centre (the board's own magnetised parts).
        soft_iron: (3, 3) symmetric matrix that turns the measured ellipsoid into a sphere of
            radius ``field_ut`` (nearby iron bending the field, unequal axis gains).
        field_ut: The magnitude of the calibrated field.
        model: ``"ellipsoid"`` (hard and soft iron) or ``"sphere"`` (hard iron only, when the
            orientations covered did not allow more).
        coverage: Share of directions the fit's samples covered (0 to 1).
        residual: Spread of the calibrated magnitude, relative (std / mean).
        samples: Samples the fit used.
    """

    hard_iron_ut: Array = field(default_factory=lambda: np.zeros(3))
    soft_iron: Array = field(default_factory=lambda: np.eye(3))
    field_ut: float = 0.0
    model: str = "ellipsoid"
    coverage: float = 0.0
    residual: float = 0.0
    samples: int = 0

    def apply(self, mag_ut: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """Calibrated copies of (N, 3) magnetometer samples (NaN rows stay NaN)."""
        raw = np.asarray(mag_ut, np.float64).reshape(-1, 3)
        return np.asarray((raw - self.hard_iron_ut) @ self.soft_iron.T, np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"hard_iron_ut": self.hard_iron_ut.tolist(), "soft_iron": self.soft_iron.tolist(),
                "field_ut": self.field_ut, "model": self.model, "coverage": self.coverage,
                "residual": self.residual, "samples": self.samples}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MagCalibration:
        try:
            soft = np.asarray(data["soft_iron"], np.float64).reshape(3, 3)
            return cls(_vec(data["hard_iron_ut"]), soft, float(data.get("field_ut", 0.0)),
                       str(data.get("model", "ellipsoid")), float(data.get("coverage", 0.0)),
                       float(data.get("residual", 0.0)), int(data.get("samples", 0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed magnetometer calibration: {exc!r}") from None


_IMU_KEYS = ("gyro_bias_rads", "accel_offset_mps2", "accel_scale", "rotation")


def _replace(cal: ImuCalibration, **changes: Array) -> ImuCalibration:
    values = {"gyro_bias_rads": cal.gyro_bias_rads, "accel_offset_mps2": cal.accel_offset_mps2,
              "accel_scale": cal.accel_scale, "rotation": cal.rotation, **changes}
    return ImuCalibration(**values)


def _as_entry(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def default_store_path() -> Path:
    """``$SENSEKIT_CALIBRATION``, else ``$XDG_CONFIG_HOME/sensekit/imu_calibration.json``."""
    if os.environ.get("SENSEKIT_CALIBRATION"):
        return Path(os.environ["SENSEKIT_CALIBRATION"])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "sensekit" / "imu_calibration.json"


class CalibrationStore:
    """Calibrations kept in one JSON file, keyed by device URL (bus and address) or a name.

    Args:
        path: The file (default :func:`default_store_path`).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()

    def _all(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read IMU calibrations from {self.path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{self.path}: expected a JSON object of calibrations")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)  # atomic: a crash never leaves half a file

    def save(self, key: str, calibration: ImuCalibration) -> None:
        """Store ``calibration`` under ``key`` (``"i2c://1/0x68"`` or a name), keeping the
        magnetometer calibration stored there."""
        data = self._all()
        entry = _as_entry(data.get(key))
        data[key] = {**calibration.to_dict(), **({"mag": entry["mag"]} if "mag" in entry
                                                  else {})}
        self._write(data)

    def save_mag(self, key: str, calibration: MagCalibration) -> None:
        """Store a magnetometer calibration under ``key``, beside its IMU calibration."""
        data = self._all()
        data[key] = {**_as_entry(data.get(key)), "mag": calibration.to_dict()}
        self._write(data)

    def _entry(self, key: str, what: str) -> dict[str, Any]:
        data = self._all()
        entry = data.get(key)
        if not isinstance(entry, dict):
            known = ", ".join(sorted(data)) or "none"
            raise ConfigError(f"no {what} calibration for {key!r} in {self.path} (stored: "
                              f"{known}). Hint: calibrate it (sensekit calibrate) and save it")
        return entry

    def load(self, key: str) -> ImuCalibration:
        """The IMU calibration stored under ``key``."""
        entry = self._entry(key, "IMU")
        if not any(k in entry for k in _IMU_KEYS):
            raise ConfigError(f"{self.path}: {key!r} holds only a magnetometer calibration. "
                              "Hint: load_mag() reads it")
        return ImuCalibration.from_dict(entry)

    def load_mag(self, key: str) -> MagCalibration:
        """The magnetometer calibration stored under ``key``."""
        entry = self._entry(key, "magnetometer")
        if "mag" not in entry:
            raise ConfigError(f"{self.path}: no magnetometer calibration under {key!r}. Hint: "
                              "sensekit calibrate mag")
        return MagCalibration.from_dict(entry["mag"])

    def keys(self) -> list[str]:
        return sorted(self._all())
