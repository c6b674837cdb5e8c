"""The import front door: which format a source is, reading it, labelling it, writing it.

Formats (``--format NAME`` forces one; otherwise :func:`detect_format` decides from the
content, and says why):

- ``us-tmd``: Android sensor-event lines in a file named ``sensorfile_PERSON_MODE_STARTMS.csv``
  (optionally ``.gz``); the name gives the start time and the ``transport`` label.
- ``android-events``: the same lines under any other name (times relative to the start).
- ``sensor-logger``: a Sensor Logger export (folder, .zip or .json).
- ``csv``: any CSV with a column map (``columns``/``--map``).
"""

from __future__ import annotations

import datetime as dt
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...clock import ClockMap
from ...errors import ConfigError, LogFormatError
from .android_events import looks_like_events, parse_us_tmd_name, read_android_events, read_us_tmd
from .base import ImportResult, Recording, write_recording
from .labels import label_stream, read_label_spans
from .sensor_logger import csv_packet, read_sensor_logger, read_table

__all__ = ["FORMATS", "detect_format", "import_recording", "parse_start", "read_recording"]

Reader = Callable[[Path, Mapping[str, Any]], Recording]


@dataclass(frozen=True)
class Format:
    """One source format: how to read it and what it looks like."""

    read: Reader
    doc: str


def _us_tmd(src: Path, options: Mapping[str, Any]) -> Recording:
    return read_us_tmd(src, labels=options.get("name_label", True))


def _android(src: Path, options: Mapping[str, Any]) -> Recording:
    return read_android_events(src)


def _sensor_logger(src: Path, options: Mapping[str, Any]) -> Recording:
    packets, meta, skipped = read_sensor_logger(src)
    clock = ClockMap.constant(0, "unknown", "Sensor Logger 'time' column (UTC epoch ns)")
    return Recording(src, "sensor-logger", {p.stream: p for p in packets}, clock,
                     metadata=dict(meta), skipped=[f"skipped {name}" for name in skipped])


def _csv(src: Path, options: Mapping[str, Any]) -> Recording:
    columns = options.get("columns")
    if not columns:
        raise ConfigError(f"{src}: a CSV needs a column map: --map t_ns=TIME_COLUMN --map "
                          "FIELD=COLUMN[,COLUMN...] (e.g. --map accel_mps2=ax,ay,az)")
    table = read_table(src, header=options.get("header", True))
    modality = options.get("modality", "")
    stream = options.get("stream") or modality or src.stem
    packet = csv_packet(table, str(src), columns=columns, stream=stream, modality=modality,
                        time_unit=options.get("time_unit", "ns"), scales=options.get("scales"))
    clock = ClockMap.constant(0, "unknown", "CSV time column")
    return Recording(src, "csv", {stream: packet}, clock)


FORMATS: dict[str, Format] = {
    "us-tmd": Format(_us_tmd, "Android sensor events named sensorfile_PERSON_MODE_STARTMS.csv"),
    "android-events": Format(_android, "Android sensor events, one a line: t_ms,sensor,values"),
    "sensor-logger": Format(_sensor_logger, "Sensor Logger export: folder, .zip or .json"),
    "csv": Format(_csv, "any CSV with a column map (--map)"),
}


def detect_format(src: str | os.PathLike[str]) -> tuple[str, str]:
    """``(format, why)`` for ``src``, decided from its content (and name where it carries data).

    Raises:
        LogFormatError: ``src`` does not exist.
    """
    path = Path(src)
    if not path.exists():
        raise LogFormatError(f"{path}: no such file or folder")
    if path.is_dir():
        return "sensor-logger", "a folder of CSV files"
    if zipfile.is_zipfile(path):
        return "sensor-logger", "a zip archive"
    if path.suffix.lower() == ".json":
        return "sensor-logger", "a JSON file"
    if looks_like_events(path):
        if parse_us_tmd_name(path) is not None:
            return "us-tmd", "Android sensor events in a sensorfile_PERSON_MODE_STARTMS file"
        return "android-events", "lines of t,android.sensor.TYPE,values"
    return "csv", "a table"


def parse_start(text: str) -> int:
    """UTC epoch ns of an ISO 8601 time (``2016-11-30T10:15:00Z``; no zone means UTC).

    Raises:
        ConfigError: not an ISO 8601 time.
    """
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--start {text!r}: expected an ISO 8601 time such as "
                          "2016-11-30T10:15:00Z") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    delta = when - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _set_start(rec: Recording, start_ns: int) -> None:
    first = rec.span_ns()[0]
    rec.clock = ClockMap.constant(start_ns - first, "unknown", "--start (first sample)")
    when = dt.datetime.fromtimestamp(start_ns / 1e9, dt.timezone.utc).isoformat()
    rec.notes.append(f"start set to {when} (the first sample) by --start")


def read_recording(src: str | os.PathLike[str], *, format: str | None = None,
                   start: str | int | None = None, labels: Mapping[str, str] | None = None,
                   label_spans: str | os.PathLike[str] | None = None,
                   **options: Any) -> Recording:
    """Read any supported source into memory (nothing is written).

    Args:
        src: File or folder.
        format: A :data:`FORMATS` name; detected when None (the choice is in the notes).
        start: UTC time of the first sample (ISO 8601 text or epoch ns), for sources whose
            times count from boot or start, or to correct a wrong clock.
        labels: Constant labels ``{task: class}`` for the whole recording (they replace a
            label taken from a us-tmd file name for the same task).
        label_spans: A ``start,end,task,class`` CSV of labelled spans.
        **options: Format options: ``columns``, ``stream``, ``modality``, ``time_unit``,
            ``scales``, ``header`` for CSV.

    Raises:
        ConfigError: an unknown format or a bad option.
        LogFormatError: the source is not readable as that format; the message names the
            file, line and column.
    """
    path = Path(src)
    if format is None:
        format, why = detect_format(path)
        detected = f"format {format} detected: {why}"
    elif format not in FORMATS:
        raise ConfigError(f"unknown format {format!r}; known: {', '.join(FORMATS)}")
    else:
        detected = f"format {format} (given)"
    if labels and format == "us-tmd" and "transport" in labels:
        options = {**options, "name_label": False}
    rec = FORMATS[format].read(path, options)
    rec.notes.insert(0, detected)
    if start is not None:
        _set_start(rec, start if isinstance(start, int) else parse_start(start))
    if labels or label_spans is not None:
        _add_labels(rec, labels or {}, label_spans)
    return rec


def _add_labels(rec: Recording, labels: Mapping[str, str],
                label_spans: str | os.PathLike[str] | None) -> None:
    constant = dict(labels)
    old = rec.streams.pop("labels", None)
    old_device = rec.devices.pop("labels", {})
    if old is not None:  # a label from the source (a us-tmd name) stays unless replaced
        for task in old.fields:
            classes = old_device.get(task, [])
            if task not in constant and len(old) and int(old[task][0]) >= 0:
                constant[task] = classes[int(old[task][0])]
    spans = (read_label_spans(label_spans, rec.clock, rec.notes)
             if label_spans is not None else [])
    if rec.relative and spans:
        raise ConfigError(f"{rec.source}: its times count from boot or start, so spans in UTC "
                          "cannot be placed; give --start")
    packet, device = label_stream(rec.span_ns(), constant, spans, source=_label_source(
        labels, label_spans))
    rec.streams["labels"], rec.devices["labels"] = packet, device


def _label_source(labels: Mapping[str, str], spans: object) -> str:
    parts = [f"--label {t}={c}" for t, c in sorted(labels.items())]
    if spans is not None:
        parts.append(f"--labels {spans}")
    return ", ".join(parts)


def import_recording(src: str | os.PathLike[str], out: str | os.PathLike[str], *,
                     format: str | None = None, start: str | int | None = None,
                     labels: Mapping[str, str] | None = None,
                     label_spans: str | os.PathLike[str] | None = None, force: bool = False,
                     **options: Any) -> ImportResult:
    """Import ``src`` into a sensekit log at ``out``: everything ``sensekit import`` does.

    The arguments are those of :func:`read_recording`, plus ``force`` to replace an existing
    ``out``. The log is written under a temporary name and renamed when complete.

    Returns:
        What was written: samples per stream, what was skipped, the notes.
    """
    rec = read_recording(src, format=format, start=start, labels=labels,
                         label_spans=label_spans, **options)
    return write_recording(rec, out, force=force)


def labels_from_options(items: Sequence[str]) -> dict[str, str]:
    """``["transport=car", ...]`` -> ``{"transport": "car"}``; a task given twice is an error."""
    from .labels import parse_label

    out: dict[str, str] = {}
    for item in items:
        task, cls = parse_label(item)
        if task in out and out[task] != cls:
            raise ConfigError(f"--label {item!r}: task {task!r} already labelled {out[task]!r}")
        out[task] = cls
    return out
