"""What a table's columns hold: the time column and its base, and fields with their units.

Header names are read as ``NAME (UNIT)`` or ``NAME [UNIT]``; the name is compared in lower case
with only letters and digits kept (``Accelerometer X (g)`` -> ``accelerometerx``, unit ``g``).
Axis columns end in ``x``, ``y``, ``z`` after a known prefix (``accelerometer``, ``acc``,
``a``, ``gyro``, ``g``, ``mag``...). Bare ``x,y,z`` columns take their meaning from the file's
name (``Gyroscope.csv``), as in per-sensor exports.

Time bases: a time column holds epoch time when its values fall between 2000 and 2040 in its
unit (s, ms, us or ns, from the header such as ``Time (s)``, ``timestamp_ms``, ``Milliseconds``,
or tried in that order) with a median step of at most an hour; otherwise it counts from boot
or start, and the unit comes from the header or, failing that, from the median step
(fractional values: seconds; whole numbers: milliseconds for steps under 1,000, microseconds
under 10^6, nanoseconds above, which reads any rate up to 1 kHz right). The importer states
what it decided in a note.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ...errors import ConfigError, LogFormatError
from .textsrc import is_number, iso_utc_ns

__all__ = ["TIME_UNITS", "FieldPlan", "Header", "TimeBase", "detect_time_base",
           "find_time_column", "parse_header", "recognise"]

TIME_UNITS: Mapping[str, int] = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_EPOCH_S = (946_684_800, 2_208_988_800)  # 2000-01-01 .. 2040-01-01 UTC
_MAX_EPOCH_STEP_S = 3600.0
G = 9.80665


@dataclass(frozen=True)
class Header:
    """One column: its index, name as written, comparison key and unit (lower case)."""

    index: int
    name: str
    key: str
    unit: str


def parse_header(index: int, name: str) -> Header:
    """``Accelerometer X (g)`` -> key ``accelerometerx``, unit ``g``."""
    m = re.match(r"^(.*?)\s*[(\[]\s*([^)\]]*?)\s*[)\]]\s*$", name)
    base, unit = (m[1], m[2]) if m else (name, "")
    return Header(index, name, re.sub(r"[^a-z0-9]", "", base.lower()), unit.lower())


# -- time -------------------------------------------------------------------------------------
_TIME_KEYS = ("time", "timestamp", "t", "tns", "tms", "ts", "epoch", "millis", "milliseconds",
              "ms", "secondselapsed", "seconds", "sec", "elapsed", "elapsedtime", "timestampns",
              "timestampms", "timens", "timems", "times", "datetime", "date", "loggingtime",
              "systemtime", "unixtime", "timeus", "timestampus")
_UNIT_WORDS = (("nanos", "ns"), ("ns", "ns"), ("micros", "us"), ("us", "us"), ("millis", "ms"),
               ("milliseconds", "ms"), ("ms", "ms"), ("seconds", "s"), ("sec", "s"))


def find_time_column(headers: Sequence[Header]) -> Header | None:
    """The time column: a known name (``time`` before ``seconds_elapsed``), else None."""
    for key in _TIME_KEYS:
        for h in headers:
            if h.key == key:
                return h
    return next((h for h in headers if h.key.startswith(("time", "timestamp"))), None)


def unit_from_header(h: Header) -> str | None:
    """``s``, ``ms``, ``us`` or ``ns`` when the header says, else None."""
    unit = h.unit.replace("µ", "u").replace("sec", "s")
    if unit in TIME_UNITS:
        return unit
    for word, u in _UNIT_WORDS:
        if h.key.endswith(word) or h.key.startswith(word):
            return u
    return None


@dataclass(frozen=True)
class TimeBase:
    """How to turn a time column into ``t_ns``.

    Attributes:
        column: Column index.
        unit: ``s``, ``ms``, ``us``, ``ns``, or ``iso`` for ISO 8601 text.
        epoch: The values are UTC epoch times (else: since boot or start).
        why: What was decided and from what (for the import notes).
    """

    column: int
    unit: str
    epoch: bool
    why: str

    @property
    def scale_ns(self) -> int:
        return TIME_UNITS.get(self.unit, 1)


def _is_epoch(numbers: np.ndarray, unit: str) -> bool:
    """Epoch time in ``unit``: between 2000 and 2040, at least one row an hour (a time since
    boot in ns, 1e12 = 17 minutes, would read as epoch ms of 2001 sampled every 3 hours)."""
    seconds = numbers * (TIME_UNITS[unit] / 1e9)
    if not _EPOCH_S[0] <= seconds[0] < _EPOCH_S[1]:
        return False
    steps = np.diff(seconds)
    return len(steps) == 0 or float(np.median(np.abs(steps))) <= _MAX_EPOCH_STEP_S


def detect_time_base(h: Header, samples: Sequence[str], unit: str | None = None,
                     where: str = "") -> TimeBase:
    """Decide the unit and base of time column ``h`` from its header and first values.

    Raises:
        LogFormatError: the values are neither numbers nor ISO 8601 times.
    """
    values = [s.strip() for s in samples if s.strip()]
    if not values:
        raise LogFormatError(f"{where}: time column {h.name!r} has no values")
    try:
        numbers = np.array([float(v) for v in values])
    except ValueError:
        if unit is None and iso_utc_ns(values[0]) is not None:
            return TimeBase(h.index, "iso", True, f"time column {h.name!r}: ISO 8601 text")
        bad = next(v for v in values if not is_number(v))
        raise LogFormatError(f"{where}: time column {h.name!r} holds {bad!r}, neither a number "
                             "nor an ISO 8601 time") from None
    stated = unit or unit_from_header(h)
    first = float(numbers[0])
    if stated is not None:
        epoch = _is_epoch(numbers, stated)
        source = "given" if unit else "from the header"
        return TimeBase(h.index, stated, epoch, f"time column {h.name!r}: "
                        f"{'epoch' if epoch else 'relative'} {_UNIT_NAME[stated]} ({source})")
    for u in TIME_UNITS:
        if _is_epoch(numbers, u):
            when = dt.datetime.fromtimestamp(first * TIME_UNITS[u] / 1e9, dt.timezone.utc)
            return TimeBase(h.index, u, True, f"time column {h.name!r}: epoch {_UNIT_NAME[u]} "
                            f"(by magnitude: {when:%Y-%m-%d %H:%M} UTC)")
    u, why = _relative_unit(numbers)
    return TimeBase(h.index, u, False, f"time column {h.name!r}: relative {_UNIT_NAME[u]} "
                    f"({why}); give --time-unit if not")


_UNIT_NAME = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def _relative_unit(numbers: np.ndarray) -> tuple[str, str]:
    steps = np.diff(numbers)
    steps = steps[steps > 0]
    step = float(np.median(steps)) if len(steps) else 1.0
    if not np.all(numbers == np.round(numbers)):
        return "s", f"fractional values, median step {step:g}"
    unit = "ms" if step < 1e3 else "us" if step < 1e6 else "ns"
    rate = 1e9 / (step * TIME_UNITS[unit])
    return unit, f"whole numbers, median step {step:g}, {rate:.3g} Hz"


# -- value columns --------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldPlan:
    """One output field: its stream, modality, columns, scale into SI, dtype.

    ``negative_invalid``: negative values mean "no value" (NaN). ``classes``: the column holds
    text classes, stored as int8 indices into this list (new classes are appended).
    """

    stream: str
    modality: str
    field: str
    columns: tuple[int, ...]
    scale: float = 1.0
    dtype: str = "float32"
    why: str = ""
    negative_invalid: bool = False
    classes: list[str] | None = None


_DEG = math.pi / 180
#: Vector fields: prefixes that name them, the units they accept (factor into SI), default.
VECTORS: dict[str, tuple[tuple[str, ...], Mapping[str, float]]] = {
    "accel_mps2": (("a", "acc", "accel", "accelerometer", "acceleration", "totalacceleration",
                    "accelerometertotal", "accelerometerwithgravity"),
                   {"g": G, "m/s^2": 1, "m/s2": 1, "m/s²": 1, "ms^-2": 1, "ms-2": 1, "mps2": 1}),
    "gyro_rads": (("g", "gyr", "gyro", "gyroscope", "rotationrate", "angularvelocity"),
                  {"rad/s": 1, "rads": 1, "deg/s": _DEG, "°/s": _DEG, "dps": _DEG}),
    "mag_ut": (("m", "mag", "magnetometer", "magneticfield", "magnetic"),
               {"ut": 1, "µt": 1, "μt": 1, "microtesla": 1, "nt": 1e-3, "gauss": 100}),
    "gravity_mps2": (("gravity", "grav"), {"g": G, "m/s^2": 1, "m/s2": 1, "m/s²": 1}),
    "linear_accel_mps2": (("linearacceleration", "linearaccel", "linacc", "useracceleration",
                           "useraccel", "useracc"), {"g": G, "m/s^2": 1, "m/s2": 1, "m/s²": 1}),
}
#: Scalar fields: stream, modality, names, units (factor into SI).
SCALARS: dict[str, tuple[str, str, tuple[str, ...], Mapping[str, float]]] = {
    "lux": ("light", "light", ("lux", "light", "illuminance", "ambientlight", "lx"),
            {"lx": 1, "lux": 1}),
    "pressure_hpa": ("pressure", "", ("pressure", "barometer", "baro", "airpressure"),
                     {"hpa": 1, "mbar": 1, "pa": 0.01, "kpa": 10, "bar": 1000}),
    "proximity_cm": ("proximity", "", ("proximity", "distance"), {"cm": 1, "m": 100}),
    "temp_c": ("temperature", "", ("temperature", "temp"), {"c": 1, "°c": 1, "degc": 1}),
    "humidity_pct": ("humidity", "", ("humidity", "relativehumidity"), {"%": 1}),
    "steps": ("steps", "", ("steps", "stepcount", "pedometer"), {}),
    "sound_dbfs": ("sound", "", ("dbfs",), {"dbfs": 1}),
    "sound_db": ("sound", "", ("db", "sound", "soundlevel", "decibels", "spl"), {"db": 1}),
}
#: GPS fields (stream ``gps``), recognised only when latitude and longitude both are.
GPS: dict[str, tuple[tuple[str, ...], Mapping[str, float]]] = {
    "lat_deg": (("lat", "latitude"), {"deg": 1, "°": 1}),
    "lon_deg": (("lon", "lng", "long", "longitude"), {"deg": 1, "°": 1}),
    "alt_msl_m": (("altitudeabovemeansealevel", "altmsl", "altitudemsl", "msl"), {"m": 1}),
    "alt_m": (("alt", "altitude", "elevation", "height"), {"m": 1}),
    "speed_mps": (("speed", "velocity", "groundspeed"),
                  {"m/s": 1, "km/h": 1 / 3.6, "kmh": 1 / 3.6, "kph": 1 / 3.6, "mph": 0.44704,
                   "kn": 0.514444, "knots": 0.514444}),
    "track_deg": (("bearing", "course", "track", "heading"), {"deg": 1, "°": 1}),
    "h_accuracy_m": (("accuracy", "horizontalaccuracy", "hacc", "haccuracy"), {"m": 1}),
    "v_accuracy_m": (("verticalaccuracy", "vacc", "vaccuracy"), {"m": 1}),
    "speed_accuracy_mps": (("speedaccuracy",), {"m/s": 1}),
    "track_accuracy_deg": (("bearingaccuracy", "courseaccuracy"), {"deg": 1, "°": 1}),
    "sats_used": (("satellites", "sats", "numsats", "satellitesused"), {}),
    "hdop": (("hdop",), {}),
}
_GPS_DTYPES = {"lat_deg": "float64", "lon_deg": "float64", "sats_used": "int16"}
#: File names of per-sensor exports -> the prefix their bare x, y, z columns take.
STEMS = {"accelerometer": "accelerometer", "accel": "accelerometer", "acc": "accelerometer",
         "totalacceleration": "accelerometer", "gyroscope": "gyroscope", "gyro": "gyroscope",
         "magnetometer": "magnetometer", "magneticfield": "magnetometer", "mag": "magnetometer",
         "gravity": "gravity", "linearacceleration": "linearacceleration",
         "linearaccelerometer": "linearacceleration", "useracceleration": "useracceleration"}


def _scale(unit: str, units: Mapping[str, float]) -> float | None:
    """Factor into SI for ``unit`` (1 when no unit is written); None for a unit not known."""
    if not unit:
        return 1.0
    return units.get(unit.replace(" ", ""))


def _vector(headers: Sequence[Header], stem_key: str, notes: list[str],
            where: str) -> tuple[list[FieldPlan], set[int]]:
    plans: list[FieldPlan] = []
    used: set[int] = set()
    prefix_of_stem = STEMS.get(stem_key, "")
    for field, (prefixes, units) in VECTORS.items():
        for prefix in prefixes:
            axes = {}
            for h in headers:
                key = h.key
                if prefix_of_stem and prefix == prefix_of_stem and key in ("x", "y", "z"):
                    key = prefix + key
                if key[:-1] == prefix and key[-1:] in ("x", "y", "z") and h.index not in used:
                    axes[key[-1]] = h
            if len(axes) < 3:
                continue
            cols = [axes[a] for a in "xyz"]
            scale = _scale(cols[0].unit, units)
            if scale is None:
                notes.append(f"{where}: columns {', '.join(h.name for h in cols)}: unit "
                             f"{cols[0].unit!r} not understood; kept as plain columns")
                continue
            plans.append(FieldPlan("", "", field, tuple(h.index for h in cols), scale,
                                   why=f"{field} from {', '.join(h.name for h in cols)}"))
            used.update(h.index for h in cols)
            break
    return plans, used


def _scalar(headers: Sequence[Header], used: set[int], notes: list[str],
            where: str) -> list[FieldPlan]:
    plans = []
    for field, (stream, modality, names, units) in SCALARS.items():
        h = next((h for h in headers if h.key in names and h.index not in used), None)
        if h is None:
            continue
        scale = _scale(h.unit, units) if units else 1.0
        if scale is None:
            notes.append(f"{where}: column {h.name}: unit {h.unit!r} not understood; kept as a "
                         "plain column")
            continue
        plans.append(FieldPlan(stream, modality, field, (h.index,), scale, why=f"{field} from "
                               f"{h.name}"))
        used.add(h.index)
    return plans


def _gps(headers: Sequence[Header], used: set[int]) -> list[FieldPlan]:
    found: dict[str, Header] = {}
    for field, (names, _) in GPS.items():
        h = next((h for h in headers if h.key in names and h.index not in used
                  and h not in found.values()), None)
        if h is not None:
            found[field] = h
    if "lat_deg" not in found or "lon_deg" not in found:
        return []
    plans = []
    for field, h in found.items():
        scale = _scale(h.unit, GPS[field][1]) if GPS[field][1] else 1.0
        plans.append(FieldPlan("gps", "gps", field, (h.index,), scale or 1.0,
                               _GPS_DTYPES.get(field, "float32"), f"{field} from {h.name}"))
        used.add(h.index)
    return plans


def snake(name: str) -> str:
    """``Accelerometer X`` -> ``accelerometer_x``; ``TotalAcceleration`` -> ``total_acceleration``.
    """
    text = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "value"


def _streams_for(plans: list[FieldPlan], stem: str) -> list[FieldPlan]:
    """Name the streams: accel, gyro and mag share ``imu`` when two or more are present."""
    inertial = [p for p in plans if p.field in ("accel_mps2", "gyro_rads", "mag_ut")]
    named = {"accel_mps2": ("accel", "imu"), "gyro_rads": ("gyro", ""), "mag_ut": ("mag", ""),
             "gravity_mps2": ("gravity", ""), "linear_accel_mps2": ("linear_accel", "")}
    out = []
    for p in plans:
        if p.stream:
            out.append(p)
        elif len(inertial) >= 2 and p in inertial:
            modality = "imu" if any(q.field == "accel_mps2" for q in inertial) else ""
            out.append(FieldPlan("imu", modality, p.field, p.columns, p.scale, p.dtype, p.why))
        else:
            stream, modality = named.get(p.field, (snake(stem), ""))
            out.append(FieldPlan(stream, modality, p.field, p.columns, p.scale, p.dtype, p.why))
    return out


def recognise(headers: Sequence[Header], stem: str, numeric: Mapping[int, bool],
              notes: list[str], where: str) -> list[FieldPlan]:
    """Plans for every column but the time: recognised fields, then the other numeric
    columns as a custom stream named for the file; text columns are left out (noted)."""
    stem_key = re.sub(r"[^a-z0-9]", "", stem.lower())
    plans, used = _vector(headers, stem_key, notes, where)
    plans += _gps(headers, used)
    plans += _scalar(headers, used, notes, where)
    if not plans and stem_key in {k for _, _, names, _ in SCALARS.values() for k in names}:
        value = [h for h in headers if h.index not in used and numeric.get(h.index)]
        if len(value) == 1:  # Light.csv with one value column, whatever its name
            field = next(f for f, (_, _, names, _) in SCALARS.items() if stem_key in names)
            stream, modality, _, _ = SCALARS[field]
            plans.append(FieldPlan(stream, modality, field, (value[0].index,),
                                   why=f"{field} from {value[0].name} (file name)"))
            used.add(value[0].index)
    plans = _streams_for(plans, stem)
    for h in headers:
        if h.index in used:
            continue
        if numeric.get(h.index):
            name = snake(h.name)
            plans.append(FieldPlan(snake(stem), "", name, (h.index,), why=f"{name} from "
                                   f"{h.name} (not recognised: a plain column)"))
        else:
            notes.append(f"{where}: column {h.name!r} holds text; left out")
    return plans


def check_vector_units(plans: list[FieldPlan], sample: Mapping[int, np.ndarray],
                       notes: list[str], where: str) -> list[FieldPlan]:
    """Accelerations written without a unit: in g when their median magnitude is near 1."""
    out = []
    for p in plans:
        if p.field in ("accel_mps2", "gravity_mps2") and p.scale == 1.0 and len(p.columns) == 3:
            xyz = np.stack([sample[c] for c in p.columns], 1)
            norm = float(np.nanmedian(np.linalg.norm(xyz, axis=1))) if len(xyz) else math.nan
            if 0.5 <= norm <= 2.0:
                notes.append(f"{where}: {p.field} has no unit; its median magnitude "
                             f"{norm:.2f} reads as g, so it is scaled by {G}")
                p = FieldPlan(p.stream, p.modality, p.field, p.columns, G, p.dtype, p.why)
        out.append(p)
    return out


def map_plans(columns: Mapping[str, str | Sequence[str]], headers: Sequence[Header],
              stream: str, modality: str, scales: Mapping[str, float] | None,
              where: str) -> tuple[Header, list[FieldPlan]]:
    """Plans from an explicit column map (``--map``); returns the time column and fields.

    Raises:
        ConfigError: an unknown modality or field, a vector with the wrong number of columns,
            a column the table does not have, or a scale for a field not mapped.
    """
    from ...packets import spec_for

    spec = spec_for(modality) if modality else None
    if "t_ns" not in columns:
        raise ConfigError(f"{where}: the column map needs t_ns=COLUMN naming the time column")
    unknown = set(scales or {}) - set(columns)
    if unknown:
        raise ConfigError(f"{where}: scales for fields not in the column map: "
                          f"{', '.join(sorted(unknown))}")
    by_name = {h.name: h for h in headers}

    def cols(names: str | Sequence[str]) -> list[Header]:
        listed = [c.strip() for c in names.split(",")] if isinstance(names, str) else list(names)
        missing = [c for c in listed if c not in by_name]
        if missing:
            raise ConfigError(f"{where}: no column {missing[0]!r}; it has "
                              f"{', '.join(h.name for h in headers)}")
        return [by_name[c] for c in listed]

    time = cols(columns["t_ns"])[0]
    plans = []
    for field, names in columns.items():
        if field == "t_ns":
            continue
        if not re.match(r"^[a-z][a-z0-9_]*$", field):
            raise ConfigError(f"{where}: field {field!r} must be a lower-case name with its "
                              "unit, such as accel_mps2 or lux")
        fs = spec.fields.get(field) if spec else None
        if spec is not None and fs is None:
            raise ConfigError(f"{where}: unknown field {field!r} for modality {modality}; it "
                              f"has {', '.join(spec.fields)}")
        hs = cols(names)
        want = fs.shape[0] if fs is not None and fs.shape else 1
        if fs is not None and want is not None and len(hs) != want:
            raise ConfigError(f"{where}: {field} needs {want} columns ({fs.unit}), the map gives "
                              f"{len(hs)}: {', '.join(h.name for h in hs)}")
        dtype = fs.dtype if fs is not None else "float32"
        plans.append(FieldPlan(stream, modality, field, tuple(h.index for h in hs),
                               (scales or {}).get(field, 1.0), dtype,
                               f"{field} from {', '.join(h.name for h in hs)} (--map)"))
    return time, plans
