"""Android sensor event streams: one event a line, ``t_ms,sensor,value[,value...]``.

This is the layout of the US transportation-mode recordings (``../shared/corpus/us_tmd/``,
format ``us-tmd``): ``t_ms`` counts milliseconds from the start of the recording, ``sensor`` is
an Android sensor type name (``android.sensor.accelerometer``...) or one of the app's own lines
(``sound``, ``speed``, ``activityrecognition``). The file name
``sensorfile_PERSON_MODE_STARTMS.csv[.gz]`` gives the person, the transport mode (the label of
the whole file) and the start time (epoch ms). Any other file of such lines imports as format
``android-events``, with times relative to the start unless ``start`` is given.

Streams, one per sensor, each at its own irregular rate (its device metadata gives the
Android type, the units and the median event rate as ``rate_hz``); vectors are in the
phone's frame (x right, y up the screen, z out of it). Android type or line -> stream: fields.

- ``android.sensor.accelerometer`` -> ``accel`` (modality ``imu``): ``accel_mps2`` (3),
  m/s^2, gravity included
- ``android.sensor.gyroscope`` -> ``gyro``: ``gyro_rads`` (3), rad/s
- ``android.sensor.magnetic_field`` -> ``mag``: ``mag_ut`` (3), uT
- ``android.sensor.gravity`` -> ``gravity``: ``gravity_mps2`` (3), m/s^2
- ``android.sensor.linear_acceleration`` -> ``linear_accel``: ``linear_accel_mps2`` (3),
  m/s^2, gravity removed
- ``android.sensor.gyroscope_uncalibrated`` -> ``gyro_uncal``: ``gyro_rads`` (3),
  ``gyro_drift_rads`` (3), rad/s
- ``android.sensor.magnetic_field_uncalibrated`` -> ``mag_uncal``: ``mag_ut`` (3),
  ``mag_bias_ut`` (3), uT
- ``android.sensor.rotation_vector`` -> ``rotation_vector``: ``quat_xyzw`` (4),
  ``heading_accuracy_rad``
- ``android.sensor.game_rotation_vector`` -> ``game_rotation_vector``: ``quat_xyzw`` (4)
  (no magnetometer)
- ``android.sensor.geomagnetic_rotation_vector`` -> ``geomag_rotation_vector``:
  ``quat_xyzw`` (4), ``heading_accuracy_rad``
- ``android.sensor.orientation`` -> ``orientation``: ``orientation_deg`` (3), azimuth,
  pitch, roll
- ``android.sensor.light`` -> ``light`` (modality ``light``): ``lux``
- ``android.sensor.pressure`` -> ``pressure``: ``pressure_hpa``
- ``android.sensor.proximity`` -> ``proximity``: ``proximity_cm``
- ``android.sensor.step_detector`` -> ``step_detector``: ``step`` (1 per step)
- ``android.sensor.step_counter`` -> ``step_counter``: ``steps`` (count since boot)
- ``android.sensor.ambient_temperature`` -> ``temperature``: ``temp_c``
- ``android.sensor.relative_humidity`` -> ``humidity``: ``humidity_pct``
- ``sound`` -> ``sound``: ``sound_db`` (float64), sound level in dB
- ``speed`` -> ``speed``: ``speed_mps`` (GPS speed), ``accuracy_m`` (see below)
- ``activityrecognition`` -> ``predicted_activity``: ``activity`` (class index),
  ``confidence_pct``
- the file name's mode -> ``labels``: ``transport`` (class index; see :mod:`.labels`)

Fields are float32 (Android delivers floats) except ``sound_db``, which the app computed in
double precision. ``quat_xyzw`` is Android's rotation vector: x, y, z of the unit quaternion,
then w. ``accuracy_m`` is the second value of a ``speed`` line: the data set does not document
it; its values (whole metres, mostly 3-15) fit Android's ``Location.getAccuracy()``.
``predicted_activity`` is the phone's own activity-recognition guess (class list in its device
metadata, ``kind: prediction``): kept for comparison, never a label and never an input.
Extra trailing values (Android pads ``light`` to three) are ignored; missing optional ones
(``heading_accuracy_rad``) are NaN. Other sensor types (vendor sensors such as
``com.qti.sensor.amd``, lines with no sensor name) are skipped and named in ``skipped``.

What the importer corrects, each counted in a note, never silently:

- Events are sorted by time per stream (lines are not strictly in order).
- Negative times: a sensor whose negative times mirror their place in the file (``-t`` lies
  at or just after the time of the line before: median within a second, as for every
  ``sound`` line of these recordings, 4 to 6402 ms, median 53 ms) gets ``-t``; other negative
  times are kept (events before the start).
- Lines with a non-numeric time or value, or too few values, are skipped.
- Duplicate events (same stream, same time) keep the first; the note says whether the
  values differed.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...clock import ClockMap
from ...errors import ConfigError, LogFormatError
from ...packets import Packet
from .base import LabelRequest, Recording, finite_median_rate, place
from .eventsort import BLOCK, REORDER_NS, EventSpill
from .textsrc import is_number

__all__ = ["ACTIVITY_GUESSES", "SENSORS", "EventSensor", "looks_like_events", "parse_us_tmd_name",
           "read_android_events", "read_us_tmd", "us_tmd_recording"]

US_TMD_NAME = re.compile(r"^sensorfile_(?P<person>[^_]+)_(?P<mode>[^_]+)_(?P<start>\d{10,14})"
                         r"\.csv(\.gz)?$")
#: Classes of the phone's activity guess, as these recordings spell them (Google Play
#: services' DetectedActivity types); others seen are appended.
ACTIVITY_GUESSES = ("still", "foot", "walking", "running", "bicycle", "vehicle", "tilting",
                    "unknown")
#: A sensor's negative times are read as mirrored when -t lies at most this long (median)
#: after the time of the line before.
MIRROR_TOLERANCE_NS = 1_000_000_000
MS = 1_000_000
#: Times further than this from the start (146 years) are garbage, and would overflow UTC.
MAX_TIME_NS = 1 << 62


@dataclass(frozen=True)
class EventSensor:
    """How one event type becomes a stream.

    Attributes:
        stream: Stream name.
        fields: ``(name, width, unit)`` in the order the event's values come.
        required: Values an event must carry (the rest are optional, NaN when absent).
        modality: The :data:`~sensekit.packets.SPECS` entry the stream follows, if any.
        dtype: Field dtype.
        doc: What the stream is.
        width: Values of a full event (the sum of the fields' widths).
    """

    stream: str
    fields: tuple[tuple[str, int, str], ...]
    required: int
    modality: str = ""
    dtype: str = "float32"
    doc: str = ""
    width: int = 0


def _s(stream: str, *fields: tuple[str, int, str], required: int | None = None,
       modality: str = "", dtype: str = "float32", doc: str = "") -> EventSensor:
    width = sum(w for _, w, _ in fields)
    return EventSensor(stream, fields, width if required is None else required, modality,
                       dtype, doc, width)


_QUAT = ("quat_xyzw", 4, "")
_HEADING = ("heading_accuracy_rad", 1, "rad")
SENSORS: dict[str, EventSensor] = {
    "android.sensor.accelerometer": _s("accel", ("accel_mps2", 3, "m/s^2"), modality="imu",
                                       doc="specific force, gravity included"),
    "android.sensor.gyroscope": _s("gyro", ("gyro_rads", 3, "rad/s"), doc="angular rate"),
    "android.sensor.magnetic_field": _s("mag", ("mag_ut", 3, "uT"), doc="magnetic field"),
    "android.sensor.gravity": _s("gravity", ("gravity_mps2", 3, "m/s^2"),
                                 doc="gravity, estimated by the phone"),
    "android.sensor.linear_acceleration": _s("linear_accel", ("linear_accel_mps2", 3, "m/s^2"),
                                             doc="acceleration, gravity removed"),
    "android.sensor.gyroscope_uncalibrated": _s(
        "gyro_uncal", ("gyro_rads", 3, "rad/s"), ("gyro_drift_rads", 3, "rad/s"), required=3,
        doc="angular rate without drift compensation, and the estimated drift"),
    "android.sensor.magnetic_field_uncalibrated": _s(
        "mag_uncal", ("mag_ut", 3, "uT"), ("mag_bias_ut", 3, "uT"), required=3,
        doc="magnetic field without hard-iron calibration, and the estimated bias"),
    "android.sensor.rotation_vector": _s("rotation_vector", _QUAT, _HEADING, required=3,
                                         doc="orientation (accel, gyro, magnetometer)"),
    "android.sensor.game_rotation_vector": _s("game_rotation_vector", _QUAT, required=3,
                                              doc="orientation without the magnetometer"),
    "android.sensor.geomagnetic_rotation_vector": _s(
        "geomag_rotation_vector", _QUAT, _HEADING, required=3,
        doc="orientation from accel and magnetometer"),
    "android.sensor.orientation": _s("orientation", ("orientation_deg", 3, "deg"),
                                     doc="azimuth, pitch, roll (deprecated Android sensor)"),
    "android.sensor.light": _s("light", ("lux", 1, "lx"), modality="light",
                               doc="illuminance, reported when it changes"),
    "android.sensor.pressure": _s("pressure", ("pressure_hpa", 1, "hPa"),
                                  doc="air pressure"),
    "android.sensor.proximity": _s("proximity", ("proximity_cm", 1, "cm"),
                                   doc="distance to the nearest object (often 0 or max)"),
    "android.sensor.step_detector": _s("step_detector", ("step", 1, ""), doc="one per step"),
    "android.sensor.step_counter": _s("step_counter", ("steps", 1, ""),
                                      doc="steps since the phone booted"),
    "android.sensor.ambient_temperature": _s("temperature", ("temp_c", 1, "degC"),
                                             doc="air temperature"),
    "android.sensor.relative_humidity": _s("humidity", ("humidity_pct", 1, "%"),
                                           doc="relative humidity"),
    "sound": _s("sound", ("sound_db", 1, "dB"), dtype="float64",
                doc="sound level from the microphone, dB (the app's own measure)"),
    "speed": _s("speed", ("speed_mps", 1, "m/s"), ("accuracy_m", 1, "m"), required=1,
                doc="GPS speed over ground; accuracy_m: second value, undocumented, fits "
                    "Location.getAccuracy()"),
}
ACTIVITY_LINE = "activityrecognition"


@dataclass
class _Tally:
    """Lines skipped for one reason: how many, and the first one's place."""

    count: int = 0
    first: str = ""


@dataclass
class _Parsed:
    """Events parsed so far: spilled per sensor (see :mod:`.eventsort`), and what was skipped."""

    folder: Path
    spills: dict[str, EventSpill] = field(default_factory=dict)
    pending: dict[str, tuple[list[int], list[int], list[list[float]]]] = field(
        default_factory=dict)
    activity_classes: list[str] = field(default_factory=lambda: list(ACTIVITY_GUESSES))
    unknown: dict[str, int] = field(default_factory=dict)
    problems: dict[str, _Tally] = field(default_factory=dict)
    lines: int = 0

    def problem(self, why: str, where: str) -> None:
        tally = self.problems.setdefault(why, _Tally())
        tally.count += 1
        tally.first = tally.first or where

    def add(self, name: str, t: int, prev: int, values: list[float]) -> None:
        ts, prevs, rows = self.pending.setdefault(name, ([], [], []))
        ts.append(t)
        prevs.append(prev)
        rows.append(values)
        if len(ts) >= BLOCK:
            self.flush(name)

    def flush(self, name: str) -> None:
        ts, prevs, rows = self.pending.pop(name, ([], [], []))
        if not ts:
            return
        if name not in self.spills:
            width = 2 if name == ACTIVITY_LINE else SENSORS[name].width
            self.spills[name] = EventSpill(self.folder, name, width)
        self.spills[name].append(ts, prevs, rows)


def parse_us_tmd_name(path: str | Path) -> dict[str, str] | None:
    """``{"person", "mode", "start_ms"}`` from ``sensorfile_PERSON_MODE_STARTMS.csv[.gz]``."""
    m = US_TMD_NAME.match(Path(path).name)
    if m is None:
        return None
    return {"person": m["person"], "mode": m["mode"], "start_ms": m["start"]}


def _open_text(path: Path) -> io.TextIOWrapper:
    raw = path.open("rb")
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    stream = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
    return io.TextIOWrapper(stream, encoding="utf-8", newline="")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines (from 1), read in bounded memory; gzip by content, not by name."""
    try:
        text = _open_text(path)
    except OSError as exc:
        raise LogFormatError(f"{path}: cannot read ({exc.strerror})") from None
    number = 0
    with text:
        try:
            for number, line in enumerate(text, start=1):
                yield number, line.rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise LogFormatError(f"{place(path, number + 1)}: not UTF-8 text ({exc.reason})"
                                 ) from None
        except (OSError, EOFError) as exc:
            raise LogFormatError(f"{place(path, number + 1)}: cannot read ({exc}); is the gzip "
                                 "file complete?") from None


def _parse_line(parsed: _Parsed, path: Path, number: int, line: str, prev_t: int) -> int | None:
    """Add one line's event; return its time (ns) when it is a usable event."""
    if not line.strip():
        parsed.problem("blank lines", place(path.name, number))
        return None
    cells = line.split(",")
    try:
        t_ns = round(float(cells[0]) * MS)
    except (ValueError, OverflowError):
        parsed.problem("non-numeric times", place(path.name, number, 1))
        return None
    if abs(t_ns) > MAX_TIME_NS:
        parsed.problem("times out of range (over 146 years from the start)",
                       place(path.name, number, 1))
        return None
    if len(cells) < 2 or not cells[1].strip():
        parsed.problem("events without a sensor name", place(path.name, number, 2))
        return None
    name = cells[1].strip()
    if name == ACTIVITY_LINE:
        return _add_activity(parsed, path, number, cells, t_ns, prev_t)
    sensor = SENSORS.get(name)
    if sensor is None:
        parsed.unknown[name] = parsed.unknown.get(name, 0) + 1
        return t_ns
    values = cells[2:2 + sensor.width]
    if len(values) < sensor.required:
        parsed.problem(f"{name} events with fewer than {sensor.required} values",
                       place(path.name, number, len(cells) + 1))
        return None
    try:
        numbers = [float(v) for v in values] + [float("nan")] * (sensor.width - len(values))
    except ValueError:
        bad = next(i for i, v in enumerate(values) if not is_number(v))
        parsed.problem("events with a non-numeric value", place(path.name, number, bad + 3))
        return None
    parsed.add(name, t_ns, prev_t, numbers)
    return t_ns


def _add_activity(parsed: _Parsed, path: Path, number: int, cells: list[str], t_ns: int,
                  prev_t: int) -> int | None:
    if len(cells) < 4 or not cells[2].strip():
        parsed.problem("activityrecognition events without a class and confidence",
                       place(path.name, number, len(cells) + 1))
        return None
    try:
        confidence = float(cells[3])
    except ValueError:
        parsed.problem("events with a non-numeric value", place(path.name, number, 4))
        return None
    word = cells[2].strip().lower()
    if word not in parsed.activity_classes:
        parsed.activity_classes.append(word)
    parsed.add(ACTIVITY_LINE, t_ns, prev_t, [parsed.activity_classes.index(word), confidence])
    return t_ns


def _parse(path: Path, folder: Path) -> _Parsed:
    parsed = _Parsed(folder)
    prev_t = -1  # time of the last line with a non-negative time (-1: none yet)
    for number, line in _lines(path):
        parsed.lines = number
        t = _parse_line(parsed, path, number, line, prev_t)
        if t is not None and t >= 0:
            prev_t = t
    for name in list(parsed.pending):
        parsed.flush(name)
    return parsed


# -- from events to streams ------------------------------------------------------------------
def _mirrored(name: str, spill: EventSpill, notes: list[str]) -> bool:
    """Whether ``name``'s negative times mirror their place in the file (module docstring)."""
    if not spill.negatives:
        return False
    median = spill.mirror_median_ns()
    # A line is written after the one before it: -t lies at or just after that line's time.
    if median is not None and 0 <= median <= MIRROR_TOLERANCE_NS:
        notes.append(f"{name}: {spill.negatives:,} negative times read as -t (each mirrors its "
                     f"place in the file: -t is {median / MS:.0f} ms (median) after the line "
                     "before)")
        return True
    notes.append(f"{name}: {spill.negatives:,} negative times kept (events before the start)")
    return False


def _packet(name: str, rows: npt.NDArray[Any]) -> Packet:
    t = rows["t"].astype(np.int64)
    values = rows["v"]
    if name == ACTIVITY_LINE:
        return Packet("predicted_activity", t, {
            "activity": values[:, 0].astype(np.int8),
            "confidence_pct": values[:, 1].astype(np.float32)})
    sensor = SENSORS[name]
    fields: dict[str, npt.NDArray[Any]] = {}
    col = 0
    for field_name, width, _ in sensor.fields:
        part = values[:, col:col + width].astype(sensor.dtype)
        fields[field_name] = part[:, 0] if width == 1 else part
        col += width
    return Packet(sensor.stream, t, fields, sensor.modality)


def _device(name: str, rate_hz: float, classes: list[str]) -> tuple[str, dict[str, Any]]:
    if name == ACTIVITY_LINE:
        return "predicted_activity", {
            "driver": "import", "sensor": name, "kind": "prediction",
            "doc": "the phone's own activity-recognition guess: never a label or an input",
            "activity": classes, "units": {"activity": "class index", "confidence_pct": "%"},
            "irregular": True}
    sensor = SENSORS[name]
    return sensor.stream, {"driver": "import", "sensor": name, "doc": sensor.doc,
                           "units": {f: u for f, _, u in sensor.fields},
                           "rate_hz": round(rate_hz, 3), "irregular": True}


def _stream_packets(name: str, parsed: _Parsed, rec: Recording) -> Iterator[Packet]:
    spill = parsed.spills[name]
    tally: dict[str, int] = {}
    times: list[npt.NDArray[np.int64]] = []  # a bounded sample, for the median rate
    seen = 0
    for rows in spill.sorted_rows(_mirrored(name, spill, rec.notes), tally):
        if seen < 100_000:
            times.append(rows["t"][:100_000 - seen])
            seen += len(times[-1])
        yield _packet(name, rows)
    if tally.get("duplicates"):
        rec.notes.append(f"{name}: {tally['duplicates']:,} duplicate events (same time) "
                         f"skipped, {tally.get('differing', 0):,} of them with different "
                         "values; the first was kept")
    if tally.get("late"):
        rec.notes.append(f"{name}: {tally['late']:,} events came more than "
                         f"{REORDER_NS // 10**9} s after later ones; kept, written last")
    sample = np.concatenate(times) if times else np.zeros(0, np.int64)
    stream, device = _device(name, finite_median_rate(np.sort(sample)), parsed.activity_classes)
    rec.devices[stream] = device


def _summarise(parsed: _Parsed, notes: list[str], skipped: list[str]) -> None:
    for why, tally in parsed.problems.items():
        notes.append(f"skipped {tally.count:,} {why} (first at {tally.first})")
    for name, count in sorted(parsed.unknown.items()):
        skipped.append(f"skipped {name}: {count:,} events (no stream for this sensor type)")


def _events(rec: Recording, spill_dir: Path | None) -> Iterator[Packet]:
    """Parse the file (spilling each sensor's events), then each stream in time order."""
    with tempfile.TemporaryDirectory(prefix=".sensekit-import-", dir=spill_dir) as folder:
        parsed = _parse(rec.source, Path(folder))
        _summarise(parsed, rec.notes, rec.skipped)
        rec.metadata["lines"] = str(parsed.lines)
        if not parsed.spills:
            raise _no_events(rec.source, parsed.lines)
        for name in sorted(parsed.spills):
            yield from _stream_packets(name, parsed, rec)


def _no_events(path: Path, lines: int) -> LogFormatError:
    return LogFormatError(f"{path}: no sensor events found in {lines:,} lines; expected lines "
                          "like '105,android.sensor.accelerometer,0.1,9.8,0.3'")


def _first_event_ns(path: Path, lines: int = 1000) -> int:
    """The earliest non-negative time among the first events (the recording's first sample,
    for --start)."""
    found, read = [], 0
    for read, line in itertools.islice(_lines(path), lines):  # noqa: B007
        cells = line.split(",")
        if len(cells) > 2 and (cells[1] in SENSORS or cells[1] == ACTIVITY_LINE):
            with contextlib.suppress(ValueError, OverflowError):
                found.append(round(float(cells[0]) * MS))
    if not found:
        raise _no_events(path, read)
    return min((t for t in found if t >= 0), default=min(found))


def read_android_events(src: str | Path, *, start_ns: int | None = None,
                        start_source: str = "start", spill_dir: Path | None = None
                        ) -> Recording:
    """Open an Android sensor-event file (``t_ms,sensor,values...``) as a :class:`Recording`
    streamed in bounded memory when written (``.load()`` reads it into ``streams``).

    Args:
        src: The file (plain or gzip text).
        start_ns: UTC epoch ns of ``t_ms = 0``; without it the time base is relative.
        start_source: Where ``start_ns`` came from (recorded with the clock mapping).
        spill_dir: Where each stream's events wait to be sorted (a temporary folder inside
            it, removed afterwards; default: the system's temporary folder).

    Raises:
        LogFormatError: the file cannot be read or holds no sensor event (also while
            streaming, for events that only come late in a large file).
    """
    path = Path(src)
    if not path.is_file():
        raise LogFormatError(f"{path}: no such file")
    clock = (ClockMap.constant(0, "relative", "none: times since the start")
             if start_ns is None else ClockMap.constant(start_ns, "unknown", start_source))
    rec = Recording(path, "android-events", {}, clock, first_ns=_first_event_ns(path))
    rec.chunks = lambda: _events(rec, spill_dir)
    return rec


def read_us_tmd(src: str | Path, *, labels: bool = True) -> Recording:
    """Read a US transportation-mode recording (``sensorfile_PERSON_MODE_STARTMS.csv[.gz]``).

    The streams are those of :func:`read_android_events`, with ``t_ns`` in nanoseconds since
    the start of the recording; UTC is ``t_ns`` plus the start from the file name (the
    recording's clock map). With ``labels``, a ``labels`` stream holds the mode from the file
    name as the constant ``transport`` label (``still``, ``walking``, ``car``, ``bus``,
    ``train``) over the whole recording. Person and mode are kept as ``source.person`` and
    ``source.mode`` metadata.

    Raises:
        ConfigError: the file name does not have the ``sensorfile_PERSON_MODE_STARTMS`` form.
        LogFormatError: the file cannot be read or holds no sensor event.
    """
    return us_tmd_recording(src, labels=labels).load()


def us_tmd_recording(src: str | Path, *, labels: bool = True,
                     spill_dir: Path | None = None) -> Recording:
    """:func:`read_us_tmd`, streamed: nothing is read until the recording is written or loaded
    (see :func:`read_android_events`), and the labels span what was read."""
    info = parse_us_tmd_name(src)
    if info is None:
        raise ConfigError(f"{src}: a us-tmd file is named sensorfile_PERSON_MODE_STARTMS.csv"
                          "[.gz] (e.g. sensorfile_andrea_Bus_1480485018989.csv.gz)")
    rec = read_android_events(src, start_ns=int(info["start_ms"]) * MS,
                              start_source="file name (epoch ms)", spill_dir=spill_dir)
    rec.format = "us-tmd"
    rec.metadata.update(info)
    if labels:
        rec.labels = LabelRequest({"transport": info["mode"].lower()}, [], "file name (mode)")
    return rec


def looks_like_events(path: Path, lines: int = 20) -> bool:
    """Whether the file's first lines are Android sensor events."""
    pattern = re.compile(r"^-?\d+(\.\d+)?,(android\.sensor\.|sound,|speed,|"
                         r"activityrecognition,|com\.|,)")
    try:
        seen = [line for _, (_, line) in zip(range(lines), _lines(path), strict=False) if line]
    except LogFormatError:
        return False
    return bool(seen) and sum(bool(pattern.match(x)) for x in seen) >= max(1, len(seen) // 2)
