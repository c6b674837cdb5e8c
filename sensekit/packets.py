"""Packets: many samples of one stream moved together, with units in the field names.

A :class:`Packet` holds N samples of one stream: an int64 ``t_ns`` array of N host monotonic
timestamps (the moment each sample was taken, see DESIGN.md "Time") and named numpy arrays
whose first dimension is N. No Python object exists per sample.

Each modality has a :class:`ModalitySpec` naming its fields, their dtypes, per-sample shapes and
units, and a nominal rate. Units are SI and part of the field name (``accel_mps2``, ``lux``).
Frames: IMU values are in the sensor body frame; navigation values in ENU / WGS-84.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import ConfigError

__all__ = ["SPECS", "FieldSpec", "ModalitySpec", "Packet", "concat", "spec_for"]

_INT64 = np.dtype(np.int64)


@dataclass(frozen=True)
class FieldSpec:
    """One payload field: dtype, shape of one sample (``()`` for a scalar), unit and meaning.

    A ``None`` in ``shape`` means "any size" (camera height/width, audio channels, power rails).
    ``also`` lists other dtypes the field may carry (audio PCM is int16 or float32); writers use
    the array's own dtype.
    """

    dtype: str
    shape: tuple[int | None, ...] = ()
    unit: str = ""
    doc: str = ""
    optional: bool = False
    also: tuple[str, ...] = ()

    def accepts(self, array: npt.NDArray[Any]) -> bool:
        """Whether ``array`` (N samples) has this field's dtype and per-sample shape."""
        if array.dtype != np.dtype(self.dtype) and array.dtype not in map(np.dtype, self.also):
            return False
        if array.ndim != len(self.shape) + 1:
            return False
        pairs = zip(self.shape, array.shape[1:], strict=True)
        return all(want is None or want == got for want, got in pairs)


@dataclass(frozen=True)
class ModalitySpec:
    """Fields, dtypes, units and nominal rate of one modality."""

    name: str
    fields: Mapping[str, FieldSpec]
    nominal_rate_hz: float
    doc: str = ""

    def validate(self, packet: Packet) -> None:
        """Raise :class:`ConfigError` naming the stream and field if ``packet`` does not fit."""
        for name, spec in self.fields.items():
            if name not in packet.fields:
                if spec.optional:
                    continue
                raise ConfigError(
                    f"stream {packet.stream!r}: packet lacks field {name!r} required by the "
                    f"{self.name} spec (has {sorted(packet.fields)})")
            array = packet.fields[name]
            if not spec.accepts(array):
                raise ConfigError(
                    f"stream {packet.stream!r}: field {name!r} is {array.dtype}{array.shape[1:]}, "
                    f"the {self.name} spec wants {spec.dtype}{spec.shape} ({spec.unit})")


def _spec(name: str, rate: float, doc: str, **fields: FieldSpec) -> ModalitySpec:
    return ModalitySpec(name, MappingProxyType(dict(fields)), rate, doc)


SPECS: Mapping[str, ModalitySpec] = MappingProxyType({
    "imu": _spec(
        "imu", 100.0, "Inertial samples in the sensor body frame (x, y, z).",
        accel_mps2=FieldSpec("float32", (3,), "m/s^2", "specific force, gravity included"),
        gyro_rads=FieldSpec("float32", (3,), "rad/s", "angular rate", optional=True),
        mag_ut=FieldSpec("float32", (3,), "uT", "magnetic flux density", optional=True),
        temp_c=FieldSpec("float32", (), "degC", "die temperature", optional=True),
    ),
    "gps": _spec(
        "gps", 1.0, "One fix per epoch; NaN where the receiver gave no value.",
        lat_deg=FieldSpec("float64", (), "deg", "WGS-84 latitude, north positive"),
        lon_deg=FieldSpec("float64", (), "deg", "WGS-84 longitude, east positive"),
        alt_msl_m=FieldSpec("float32", (), "m", "altitude above mean sea level"),
        speed_mps=FieldSpec("float32", (), "m/s", "speed over ground"),
        track_deg=FieldSpec("float32", (), "deg", "course over ground, true north"),
        mode=FieldSpec("int8", (), "", "0 unknown, 1 no fix, 2 2D, 3 3D"),
        hdop=FieldSpec("float32", (), "", "horizontal dilution of precision"),
        sats_used=FieldSpec("int16", (), "", "satellites used in the fix (-1 unknown)"),
        utc_ns=FieldSpec("int64", (), "ns", "receiver UTC time of the fix since the Unix epoch"),
        alt_hae_m=FieldSpec("float32", (), "m", "height above the WGS-84 ellipsoid",
                            optional=True),
        alt_m=FieldSpec("float32", (), "m", "altitude, datum not stated by the source",
                        optional=True),
        h_accuracy_m=FieldSpec("float32", (), "m", "horizontal accuracy (1 sigma radius)",
                               optional=True),
        v_accuracy_m=FieldSpec("float32", (), "m", "vertical accuracy (1 sigma)", optional=True),
        speed_accuracy_mps=FieldSpec("float32", (), "m/s", "speed accuracy", optional=True),
        track_accuracy_deg=FieldSpec("float32", (), "deg", "course accuracy", optional=True),
    ),
    "light": _spec(
        "light", 1.0, "Ambient light.",
        lux=FieldSpec("float32", (), "lx", "illuminance"),
    ),
    "audio": _spec(
        "audio", 16000.0, "PCM frames; int16 full scale 32768 or float32 full scale 1.0.",
        pcm=FieldSpec("int16", (None,), "FS", "one frame per row, one column per channel",
                      also=("float32",)),
    ),
    "camera": _spec(
        "camera", 15.0, "Frames, one per row; sensor timestamps where the backend has them.",
        image=FieldSpec("uint8", (None, None, 3), "", "RGB, height x width x 3"),
        sensor_t_ns=FieldSpec("int64", (), "ns", "camera's own timestamp", optional=True),
    ),
    "power": _spec(
        "power", 10.0, "Per-rail electrical readings, one column per rail.",
        voltage_v=FieldSpec("float32", (None,), "V", "bus voltage per rail"),
        current_a=FieldSpec("float32", (None,), "A", "current per rail", optional=True),
        power_w=FieldSpec("float32", (None,), "W", "power per rail"),
    ),
    "orientation": _spec(
        "orientation", 100.0, "AHRS output at the IMU rate; earth frame ENU or NED as the "
        "packet meta 'convention' says (sensekit.orientation).",
        quat_wxyz=FieldSpec("float32", (4,), "", "rotation of the sensor frame into the earth "
                            "frame, [w, x, y, z]"),
        linear_accel_mps2=FieldSpec("float32", (3,), "m/s^2", "acceleration in the earth frame, "
                                    "gravity removed"),
        gyro_bias_rads=FieldSpec("float32", (3,), "rad/s", "gyroscope bias estimate"),
        hard_iron_ut=FieldSpec("float32", (3,), "uT", "magnetometer offset removed",
                               optional=True),
        rest=FieldSpec("bool", (), "", "judged still (bias learnt)"),
        accel_disturbed=FieldSpec("bool", (), "", "linear acceleration or impact present"),
        mag_disturbed=FieldSpec("bool", (), "", "field rejected by norm or dip",
                                optional=True),
    ),
    "nav": _spec(
        "nav", 100.0, "GPS/IMU position and velocity at the IMU rate (sensekit.orientation.nav).",
        lat_deg=FieldSpec("float64", (), "deg", "WGS-84 latitude"),
        lon_deg=FieldSpec("float64", (), "deg", "WGS-84 longitude"),
        alt_msl_m=FieldSpec("float32", (), "m", "altitude above mean sea level"),
        vel_enu_mps=FieldSpec("float32", (3,), "m/s", "velocity east, north, up"),
        pos_cov_enu_m2=FieldSpec("float32", (3, 3), "m^2", "position covariance (ENU)"),
        vel_sigma_enu_mps=FieldSpec("float32", (3,), "m/s", "velocity standard deviation"),
        fix_age_s=FieldSpec("float32", (), "s", "time since the last GPS fix used (inf none)"),
        speed_mps=FieldSpec("float32", (), "m/s", "horizontal speed", optional=True),
        pos_sigma_m=FieldSpec("float32", (), "m", "horizontal 1-sigma: radius of the circle "
                              "with the 1-sigma ellipse's area (inf before a fix)",
                              optional=True),
    ),
})


def spec_for(modality: str) -> ModalitySpec:
    """Return the spec of ``modality`` or raise :class:`ConfigError` listing the known ones."""
    try:
        return SPECS[modality]
    except KeyError:
        raise ConfigError(f"unknown modality {modality!r}; known: {', '.join(SPECS)}") from None


@dataclass(frozen=True, eq=False)
class Packet:
    """N samples of one stream.

    Attributes:
        stream: Stream name (``"imu"``, ``"imu.wrist"``...), unique within a hub.
        t_ns: int64 array (N,) of host monotonic timestamps, one per sample.
        fields: Payload arrays by name, each with first dimension N; units in the names.
        modality: Which :data:`SPECS` entry the fields follow (empty for custom streams).
        meta: Small per-packet facts (e.g. what a camera resize did); not per sample.
    """

    stream: str
    t_ns: npt.NDArray[np.int64]
    fields: Mapping[str, npt.NDArray[Any]]
    modality: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Every published packet passes here: plain attribute checks, no numpy calls.
        t = self.t_ns
        if type(t) is not np.ndarray:
            t = np.asarray(t)
            object.__setattr__(self, "t_ns", t)
        if t.ndim != 1 or (t.dtype is not _INT64 and t.dtype != _INT64):
            raise ConfigError(
                f"stream {self.stream!r}: t_ns must be a 1-D int64 array, got {t.dtype}{t.shape}")
        n = t.shape[0]
        for name, array in self.fields.items():
            shape = array.shape if type(array) is np.ndarray else np.shape(array)
            if not shape or shape[0] != n:
                raise ConfigError(f"stream {self.stream!r}: field {name!r} has "
                                  f"{shape[0] if shape else 0} samples, t_ns has {n}")

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(f"stream {self.stream!r} has no field {name!r}; "
                           f"it has {sorted(self.fields)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    @property
    def span_ns(self) -> tuple[int, int]:
        """First and last timestamp (raises on an empty packet)."""
        if len(self) == 0:
            raise ValueError(f"stream {self.stream!r}: empty packet has no span")
        return int(self.t_ns[0]), int(self.t_ns[-1])

    def slice(self, start: int, stop: int) -> Packet:
        """Samples ``start:stop`` as a new packet of views (no copy)."""
        return Packet(self.stream, self.t_ns[start:stop],
                      {k: v[start:stop] for k, v in self.fields.items()}, self.modality, self.meta)

    def select(self, mask_or_index: npt.NDArray[Any]) -> Packet:
        """Samples picked by a boolean mask or index array (copies)."""
        return Packet(self.stream, self.t_ns[mask_or_index],
                      {k: v[mask_or_index] for k, v in self.fields.items()},
                      self.modality, self.meta)

    def validate(self) -> Packet:
        """Check the fields against the modality spec; return ``self`` for chaining."""
        if self.modality:
            spec_for(self.modality).validate(self)
        return self


def concat(packets: list[Packet]) -> Packet:
    """Join packets of one stream in order (copies). Raises on an empty list or mixed streams."""
    if not packets:
        raise ValueError("concat needs at least one packet")
    first = packets[0]
    if any(p.stream != first.stream for p in packets):
        raise ValueError(f"concat of different streams: {sorted({p.stream for p in packets})}")
    return Packet(first.stream, np.concatenate([p.t_ns for p in packets]),
                  {k: np.concatenate([p.fields[k] for p in packets]) for k in first.fields},
                  first.modality, first.meta)
