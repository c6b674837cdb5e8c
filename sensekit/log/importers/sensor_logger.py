"""Sensor Logger exports (iOS and Android): a folder of CSV files, its .zip, or its .json.

Columns and units follow the app's own reference (github.com/tszheichoi/awesome-sensor-logger,
UNITS.md and CROSSPLATFORM.md): ``time`` is UTC epoch ns in every file; file names are
matched in any case. Streams (file -> stream: fields):

- ``TotalAcceleration`` -> ``accel`` (modality imu): ``accel_mps2`` (3), gravity included
- ``Accelerometer`` -> ``user_accel``: ``user_accel_mps2`` (3), gravity removed (the app's
  Accelerometer is user acceleration on iOS and Android alike)
- ``Gravity`` -> ``gravity``: ``gravity_mps2`` (3)
- ``Gyroscope`` -> ``gyro``: ``gyro_rads`` (3); ``GyroscopeUncalibrated`` -> ``gyro_uncal``
- ``Magnetometer`` -> ``mag``: ``mag_ut`` (3); ``MagnetometerUncalibrated`` -> ``mag_uncal``
- ``AccelerometerUncalibrated`` -> ``accel_uncal``: ``accel_mps2`` (3)
- ``Orientation`` -> ``orientation``: ``quat_xyzw`` (4), ``roll_rad``, ``pitch_rad``,
  ``yaw_rad``
- ``Location`` -> ``gps`` (modality gps): ``lat_deg``, ``lon_deg``, ``alt_hae_m``
  (``altitude``, above the WGS-84 ellipsoid), ``alt_msl_m`` (``altitudeAboveMeanSeaLevel``,
  iOS only, else NaN), ``speed_mps``, ``track_deg``, ``h_accuracy_m``, ``v_accuracy_m``,
  ``speed_accuracy_mps``, ``track_accuracy_deg``; negative values (the app's "invalid") and
  absent columns are NaN, ``hdop`` NaN and ``sats_used`` -1 (the app records neither)
- ``Light`` -> ``light`` (modality light): ``lux``
- ``Microphone`` -> ``sound``: ``sound_dbfs``
- ``Barometer`` -> ``pressure``: ``pressure_hpa``, ``relative_altitude_m``
- ``Pedometer`` -> ``pedometer``: ``steps``; ``Compass`` -> ``compass``:
  ``magnetic_bearing_deg``; ``HeartRate`` -> ``heart_rate``: ``heart_rate_bpm``
- ``Activity`` -> ``predicted_activity``: ``activity``, ``confidence`` (class indices; the
  phone's own guess, ``kind: prediction`` in its device metadata, never a label)

Gravity is never added or removed: ``accel`` exists only where the app wrote
TotalAcceleration (Android); an iOS export has ``user_accel`` and ``gravity`` as recorded,
and a note says so. On iOS without "Standardise Units & Frames", the app's acceleration and
gravity axes point the other way from Android's (CROSSPLATFORM.md); they are negated into the
Android convention (at rest, gravity +9.81 m/s^2 along the axis pointing up), and
uncalibrated acceleration is converted from g, each with a note. ``Metadata.csv`` (any case)
is metadata, kept as ``source.*``; empty files and sensors with no stream are skipped, each
named in one line.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...clock import ClockMap
from ...errors import LogFormatError
from ...packets import Packet
from .base import Recording
from .columns import FieldPlan, G, Header, TimeBase, parse_header
from .tables import BLOCK_ROWS, TablePlan, block_packets, read_head, table_packets, time_ns
from .textsrc import MAX_UNZIPPED_BYTES, TextSource, csv_rows, file_source, place, zip_sources

__all__ = ["SENSORS", "is_sensor_logger", "read_sensor_logger"]

XYZ = ("x", "y", "z")


@dataclass(frozen=True)
class LoggerSensor:
    """One Sensor Logger file: its stream and the columns (header keys) of each field."""

    stream: str
    fields: tuple[tuple[str, tuple[str, ...]], ...]
    modality: str = ""
    acceleration: bool = False  # axes reversed on iOS without standardisation
    uncalibrated_g: bool = False  # in g on iOS without standardisation
    doc: str = ""


_ACT = ("walking", "running", "cycling", "automotive", "stationary", "tilting", "unknown")
_CONF = ("low", "medium", "high", "unknown")
SENSORS: dict[str, LoggerSensor] = {
    "totalacceleration": LoggerSensor("accel", (("accel_mps2", XYZ),), "imu", True,
                                      doc="acceleration, gravity included"),
    "accelerometer": LoggerSensor("user_accel", (("user_accel_mps2", XYZ),), acceleration=True,
                                  doc="user acceleration, gravity removed"),
    "gravity": LoggerSensor("gravity", (("gravity_mps2", XYZ),), acceleration=True,
                            doc="gravity, estimated by the phone"),
    "gyroscope": LoggerSensor("gyro", (("gyro_rads", XYZ),), doc="angular rate"),
    "gyroscopeuncalibrated": LoggerSensor("gyro_uncal", (("gyro_rads", XYZ),),
                                          doc="angular rate, uncalibrated"),
    "magnetometer": LoggerSensor("mag", (("mag_ut", XYZ),), doc="magnetic field"),
    "magnetometeruncalibrated": LoggerSensor("mag_uncal", (("mag_ut", XYZ),),
                                             doc="magnetic field, uncalibrated"),
    "accelerometeruncalibrated": LoggerSensor("accel_uncal", (("accel_mps2", XYZ),),
                                              acceleration=True, uncalibrated_g=True,
                                              doc="acceleration, uncalibrated"),
    "orientation": LoggerSensor("orientation", (("quat_xyzw", ("qx", "qy", "qz", "qw")),
                                                ("roll_rad", ("roll",)),
                                                ("pitch_rad", ("pitch",)),
                                                ("yaw_rad", ("yaw",))),
                                doc="orientation (iOS: yaw from true north, Android: magnetic)"),
    "location": LoggerSensor("gps", (
        ("lat_deg", ("latitude",)), ("lon_deg", ("longitude",)), ("alt_hae_m", ("altitude",)),
        ("alt_msl_m", ("altitudeabovemeansealevel",)), ("speed_mps", ("speed",)),
        ("track_deg", ("bearing",)), ("h_accuracy_m", ("horizontalaccuracy",)),
        ("v_accuracy_m", ("verticalaccuracy",)), ("speed_accuracy_mps", ("speedaccuracy",)),
        ("track_accuracy_deg", ("bearingaccuracy",))), "gps", doc="location fixes"),
    "light": LoggerSensor("light", (("lux", ("lux",)),), "light", doc="illuminance"),
    "microphone": LoggerSensor("sound", (("sound_dbfs", ("dbfs",)),),
                               doc="sound level, dB relative to full scale"),
    "barometer": LoggerSensor("pressure", (("pressure_hpa", ("pressure",)),
                                           ("relative_altitude_m", ("relativealtitude",))),
                              doc="air pressure and altitude change since the start"),
    "pedometer": LoggerSensor("pedometer", (("steps", ("steps",)),), doc="step count"),
    "compass": LoggerSensor("compass", (("magnetic_bearing_deg", ("magneticbearing",)),),
                            doc="heading from magnetic north"),
    "heartrate": LoggerSensor("heart_rate", (("heart_rate_bpm", ("bpm",)),),
                              doc="heart rate from a watch"),
    "activity": LoggerSensor("predicted_activity", (("activity", ("activity",)),
                                                    ("confidence", ("confidence",))),
                             doc="the phone's own activity guess: never a label or an input"),
}
_GPS_FLOAT64 = ("lat_deg", "lon_deg")
_NEGATIVE_INVALID = ("speed_mps", "track_deg", "h_accuracy_m", "v_accuracy_m",
                     "speed_accuracy_mps", "track_accuracy_deg")
_CLASSES = {"activity": _ACT, "confidence": _CONF}


def _key(stem: str) -> str:
    return re.sub(r"[^a-z0-9]", "", stem.lower())


@dataclass
class _Export:
    """What the whole export tells every file: platform and standardisation."""

    meta: dict[str, str]

    @property
    def ios_frame(self) -> bool:
        """iOS axes and units (the app's "Standardise Units & Frames" off)."""
        return (self.meta.get("platform", "").lower() == "ios"
                and self.meta.get("standardisation", "false").lower() != "true")

    def scale(self, sensor: LoggerSensor) -> float:
        if not self.ios_frame or not sensor.acceleration:
            return 1.0
        return -G if sensor.uncalibrated_g else -1.0


def _fields(sensor: LoggerSensor, headers: Sequence[Header], export: _Export,
            name: str) -> tuple[list[FieldPlan], list[str]]:
    by_key = {h.key: h for h in headers}
    plans, missing = [], []
    for field, keys in sensor.fields:
        hs = [by_key.get(k) for k in keys]
        found = [h for h in hs if h is not None]
        if len(found) != len(keys):
            missing.append(field)
            continue
        classes = list(_CLASSES[field]) if field in _CLASSES else None
        plans.append(FieldPlan(
            sensor.stream, sensor.modality, field, tuple(h.index for h in found),
            export.scale(sensor), "float64" if field in _GPS_FLOAT64 else "float32",
            f"{field} from {name}", field in _NEGATIVE_INVALID, classes))
    return plans, missing


def _time_header(headers: Sequence[Header], name: str) -> Header:
    time = next((h for h in headers if h.key == "time"), None)
    if time is None:
        raise LogFormatError(f"{name}: no 'time' column (UTC epoch nanoseconds); it has "
                             f"{', '.join(h.name for h in headers)}")
    return time


def _plan(text: TextSource, sensor: LoggerSensor, export: _Export,
          notes: list[str]) -> TablePlan | str:
    """The file's plan, or why it is skipped."""
    name = Path(text.name).name
    try:
        names, rows, _ = read_head(text, ",", True)
    except LogFormatError as exc:
        return "empty" if "empty" in str(exc) else str(exc)
    headers = [parse_header(i, n) for i, n in enumerate(names)]
    time = _time_header(headers, name)
    plans, missing = _fields(sensor, headers, export, name)
    if not plans:
        expected = ", ".join(k for _, keys in sensor.fields for k in keys)
        return f"none of the columns it should have ({expected}); it has {', '.join(names)}"
    if missing and sensor.stream != "gps":
        notes.append(f"{name}: no column for {', '.join(missing)}")
    if export.scale(sensor) != 1.0:
        what = "negated" + (" and converted from g" if sensor.uncalibrated_g else "")
        notes.append(f"{name}: iOS axes {what} into the Android convention (the export's "
                     "Metadata says platform ios, standardisation off)")
    base = TimeBase(time.index, "ns", True, f"{name}: 'time' column, UTC epoch ns")
    first = time_ns(rows[0][time.index], base, text, 2, time.index + 1)
    return TablePlan(text, ",", headers, True, base, plans, first)


# -- the three export forms -------------------------------------------------------------------
def _read_metadata(text: TextSource) -> dict[str, str]:
    rows = [cells for _, cells in csv_rows(text)]
    if len(rows) < 2:
        return {}
    return {k.strip(): v.strip() for k, v in zip(rows[0], rows[1], strict=False) if k.strip()}


def _sources(path: Path, max_bytes: int) -> list[TextSource]:
    if path.is_dir():
        return [file_source(p) for p in sorted(path.rglob("*"))
                if p.is_file() and p.name.lower().endswith(".csv")]
    if zipfile.is_zipfile(path):
        return [s for s in zip_sources(path, max_bytes=max_bytes) if s.name.lower().endswith(
            ".csv")]
    raise LogFormatError(f"{path} is not a Sensor Logger export: expected a folder of CSV "
                         "files, its .zip, or its .json file")


def _no_rows(text: TextSource) -> bool:
    """No bytes, or a header and nothing under it (the app's file of a silent sensor)."""
    try:
        return next(itertools.islice(csv_rows(text), 1, 2), None) is None
    except LogFormatError:
        return False


def is_sensor_logger(files: Sequence[TextSource]) -> bool:
    """Whether CSV files look like Sensor Logger's: a ``time`` and a ``seconds_elapsed``
    column, or a Metadata.csv naming the device and platform."""
    for text in files[:40]:
        try:
            first = next((cells for _, cells in csv_rows(text)), [])
        except LogFormatError:
            continue
        keys = {_key(c) for c in first}
        if {"time", "secondselapsed"} <= keys or (_key(text.stem) == "metadata"
                                                  and {"devicename", "platform"} <= keys):
            return True
    return False


def _csv_export(path: Path, files: Sequence[TextSource]) -> Recording:
    meta_files = [f for f in files if _key(f.stem) == "metadata"]
    export = _Export(_read_metadata(meta_files[0]) if meta_files else {})
    notes: list[str] = []
    skipped: list[str] = []
    plans: list[TablePlan] = []
    for text in files:
        if text in meta_files:
            continue
        name = Path(text.name).name
        sensor = SENSORS.get(_key(text.stem))
        if _no_rows(text):
            skipped.append(f"skipped {name}: empty")
        elif sensor is None:
            skipped.append(f"skipped {name}: no stream for this sensor")
            continue
        elif isinstance(plan := _plan(text, sensor, export, notes), str):
            skipped.append(f"skipped {name}: {plan}")
        else:
            plans.append(plan)
    return _recording(path, plans, export, notes, skipped)


def _recording(path: Path, plans: Sequence[TablePlan], export: _Export, notes: list[str],
               skipped: list[str]) -> Recording:
    if not plans:
        why = "; ".join(skipped) or "no CSV files"
        raise LogFormatError(f"{path}: no sensor data found ({why}); expected Sensor Logger "
                             "files such as Accelerometer.csv, Location.csv, Light.csv")
    streams = {f.stream for p in plans for f in p.fields}
    if "user_accel" in streams and "accel" not in streams:
        notes.append("no TotalAcceleration: there is no 'accel' stream with gravity included; "
                     "user_accel (gravity removed) and gravity are kept as recorded")

    def chunks() -> Iterator[Packet]:
        for plan in plans:
            yield from table_packets(plan)
            notes.extend(plan.notes)

    return Recording(path, "sensor-logger", {}, _clock(export), _devices(plans), dict(
        export.meta), skipped, notes, chunks, first_ns=min(p.first_ns for p in plans))


def _clock(export: _Export) -> ClockMap:
    return ClockMap.constant(0, "unknown", "Sensor Logger 'time' column (UTC epoch ns)")


def _devices(plans: Sequence[TablePlan]) -> dict[str, dict[str, Any]]:
    devices: dict[str, dict[str, Any]] = {}
    for plan in plans:
        sensor = next(s for s in SENSORS.values() if s.stream == plan.fields[0].stream)
        info: dict[str, Any] = {"driver": "import", "file": Path(plan.src.name).name,
                                "doc": sensor.doc}
        for f in plan.fields:
            if f.classes is not None:
                info[f.field] = f.classes  # the list grows as the file is read
        if sensor.stream == "predicted_activity":
            info["kind"] = "prediction"
        devices[sensor.stream] = info
    return devices


# -- JSON: one array of records, each with a "sensor" key -------------------------------------
def json_records(text: TextSource, max_record: int = 64 << 20
                 ) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, record)`` of a JSON array of objects, read in bounded memory.

    Raises:
        LogFormatError: not a JSON array of objects; the message names the line.
    """
    decoder = json.JSONDecoder()
    with text.text() as fh:
        buf, line = fh.read(1 << 20), 1
        start = len(buf) - len(buf.lstrip())
        if not buf[start:start + 1] == "[":
            raise LogFormatError(f"{text.name}: expected an array of objects with 'sensor' and "
                                 "'time' keys (Sensor Logger's JSON export)")
        line += buf.count("\n", 0, start)
        pos = start + 1
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n,":
                line += buf[pos] == "\n"
                pos += 1
            if pos == len(buf):
                buf, pos = fh.read(1 << 20), 0
                if not buf:
                    raise LogFormatError(f"{place(text.name, line)}: the JSON array is cut off")
                continue
            if buf[pos] == "]":
                return
            try:
                record, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                more = fh.read(1 << 20)
                if not more or len(buf) - pos > max_record:
                    at = line + buf.count("\n", pos, exc.pos)
                    raise LogFormatError(f"{place(text.name, at)}: not valid JSON ({exc.msg})"
                                         ) from None
                buf, pos = buf[pos:] + more, 0
                continue
            if not isinstance(record, dict) or "sensor" not in record:
                raise LogFormatError(f"{place(text.name, line)}: expected an object with a "
                                     "'sensor' key (Sensor Logger's JSON export)")
            yield line, record
            line += buf.count("\n", pos, end)
            pos = end


def _cells(record: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    return ["" if record.get(k) is None else str(record.get(k)) for k in keys]


@dataclass
class _JsonSensor:
    plan: TablePlan
    keys: list[str]
    rows: list[tuple[int, list[str]]]


def _json_export(path: Path) -> Recording:
    text = file_source(path)
    records = json_records(text)
    meta: dict[str, str] = {}
    first_records: dict[str, dict[str, Any]] = {}
    for _, record in records:  # one pass for the metadata and each sensor's columns
        name = str(record["sensor"])
        if _key(name) == "metadata":
            meta = {k: str(v) for k, v in record.items() if k != "sensor"}
        first_records.setdefault(name, record)
    export = _Export(meta)
    notes: list[str] = []
    skipped: list[str] = []
    sensors: dict[str, _JsonSensor] = {}
    for name, record in first_records.items():
        spec = SENSORS.get(_key(name))
        if _key(name) == "metadata":
            continue
        if spec is None:
            skipped.append(f"skipped {name}: no stream for this sensor")
            continue
        keys = [k for k in record if k != "sensor"]
        headers = [parse_header(i, k) for i, k in enumerate(keys)]
        where = f"{path.name}[{name}]"
        time = _time_header(headers, where)
        fields, _ = _fields(spec, headers, export, where)
        if not fields:
            skipped.append(f"skipped {name}: none of the keys it should have")
            continue
        src = TextSource(where, text.open)
        base = TimeBase(time.index, "ns", True, f"{where}: 'time', UTC epoch ns")
        first = time_ns(str(record["time"]), base, src, 0, time.index + 1)
        plan = TablePlan(src, ",", headers, True, base, fields, first)
        sensors[name] = _JsonSensor(plan, keys, [])
    rec = _recording(path, [s.plan for s in sensors.values()], export, notes, skipped)
    rec.chunks = lambda: _json_chunks(text, sensors)
    return rec


def _json_chunks(text: TextSource, sensors: Mapping[str, _JsonSensor]) -> Iterator[Packet]:
    for line, record in json_records(text):
        s = sensors.get(str(record["sensor"]))
        if s is None:
            continue
        s.rows.append((line, _cells(record, s.keys)))
        if len(s.rows) >= BLOCK_ROWS:
            yield from block_packets(s.plan, s.rows)
            s.rows = []
    for s in sensors.values():
        if s.rows:
            yield from block_packets(s.plan, s.rows)
            s.rows = []


def read_sensor_logger(src: str | os.PathLike[str], *,
                       max_unzipped_bytes: int = MAX_UNZIPPED_BYTES) -> Recording:
    """A Sensor Logger export as a streamed :class:`Recording` (``.load()`` reads it all).

    Raises:
        LogFormatError: ``src`` is not a Sensor Logger export, or a file lacks its ``time``
            column; the message names the file and what was expected.
    """
    path = Path(src)
    if not path.exists():
        raise LogFormatError(f"{path}: no such file or folder")
    if path.is_file() and path.suffix.lower() == ".json":
        return _json_export(path)
    return _csv_export(path, _sources(path, max_unzipped_bytes))
