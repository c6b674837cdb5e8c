"""The import front door: which format a source is, reading it, labelling it, writing it.

Formats (``--format NAME`` forces one; otherwise :func:`detect_format` decides from the
content, and the notes say why):

- ``us-tmd``: Android sensor-event lines in a file named ``sensorfile_PERSON_MODE_STARTMS.csv``
  (optionally ``.gz``); the name gives the start time and the ``transport`` label.
- ``android-events``: the same lines under any other name.
- ``sensor-logger``: a Sensor Logger export (folder, .zip or .json).
- ``csv-folder``: a folder (or .zip) of per-sensor CSV files from another app.
- ``csv``: one CSV or gzip CSV; its columns are recognised, or given with ``columns``.
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
from .android_events import (
    looks_like_events,
    parse_us_tmd_name,
    read_android_events,
    us_tmd_recording,
)
from .base import ImportResult, LabelRequest, Recording, write_recording
from .labels import parse_label, read_label_spans
from .sensor_logger import is_sensor_logger, read_sensor_logger
from .tables import read_csv, read_csv_folder
from .textsrc import MAX_UNZIPPED_BYTES, TextSource, file_source, iso_utc_ns, zip_sources

__all__ = ["FORMATS", "detect_format", "import_csv", "import_recording", "import_sensor_logger",
           "labels_from_options", "open_recording", "parse_start", "read_recording"]

Reader = Callable[[Path, Mapping[str, Any]], Recording]
_LATEST_START_NS = 4_102_444_800 * 10**9  # 2100-01-01


@dataclass(frozen=True)
class Format:
    """One source format: how to read it and what it is."""

    read: Reader
    doc: str


def _us_tmd(src: Path, options: Mapping[str, Any]) -> Recording:
    return us_tmd_recording(src, spill_dir=options.get("spill_dir"))


def _android(src: Path, options: Mapping[str, Any]) -> Recording:
    return read_android_events(src, spill_dir=options.get("spill_dir"))


def _sensor_logger(src: Path, options: Mapping[str, Any]) -> Recording:
    return read_sensor_logger(src, max_unzipped_bytes=options.get("max_unzipped_bytes",
                                                                  MAX_UNZIPPED_BYTES))


def _folder_files(src: Path, options: Mapping[str, Any]) -> list[TextSource]:
    if src.is_dir():
        return [file_source(p) for p in sorted(src.rglob("*")) if p.is_file()
                and p.name.lower().endswith((".csv", ".csv.gz"))]
    return zip_sources(src, max_bytes=options.get("max_unzipped_bytes", MAX_UNZIPPED_BYTES),
                       suffixes=(".csv", ".csv.gz"))


def _csv_folder(src: Path, options: Mapping[str, Any]) -> Recording:
    return read_csv_folder(src, _folder_files(src, options),
                           file_columns=options.get("file_columns"))


_CSV_OPTIONS = ("columns", "stream", "modality", "scales", "time_unit", "header", "time_column")


def _csv(src: Path, options: Mapping[str, Any]) -> Recording:
    if not src.is_file():
        raise LogFormatError(f"{src}: no such file")
    return read_csv(src, **{k: v for k, v in options.items() if k in _CSV_OPTIONS})


FORMATS: dict[str, Format] = {
    "us-tmd": Format(_us_tmd, "Android sensor events named sensorfile_PERSON_MODE_STARTMS.csv"),
    "android-events": Format(_android, "Android sensor events, one a line: t_ms,sensor,values"),
    "sensor-logger": Format(_sensor_logger, "Sensor Logger export: folder, .zip or .json"),
    "csv-folder": Format(_csv_folder, "a folder or .zip of per-sensor CSV files"),
    "csv": Format(_csv, "one CSV or gzip CSV (columns recognised, or given with --map)"),
}


def detect_format(src: str | os.PathLike[str], **options: Any) -> tuple[str, str]:
    """``(format, why)`` for ``src``, decided from its content (and name where it carries data).

    Raises:
        LogFormatError: ``src`` does not exist.
    """
    path = Path(src)
    if not path.exists():
        raise LogFormatError(f"{path}: no such file or folder")
    if path.is_dir() or zipfile.is_zipfile(path):
        what = "a folder" if path.is_dir() else "a zip archive"
        if is_sensor_logger(_folder_files(path, options)):
            return "sensor-logger", f"{what} of CSV files with Sensor Logger's columns"
        return "csv-folder", f"{what} of CSV files"
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
    parsed = iso_utc_ns(text)
    if parsed is None or not 0 <= parsed[0] < _LATEST_START_NS:
        raise ConfigError(f"--start {text!r}: expected an ISO 8601 time between 1970 and 2100 "
                          "such as 2016-11-30T10:15:00Z")
    return parsed[0]


def _set_start(rec: Recording, start_ns: int) -> None:
    first = rec.first_sample_ns()
    rec.clock = ClockMap.constant(start_ns - first, "unknown", "--start (first sample)")
    when = dt.datetime.fromtimestamp(start_ns / 1e9, dt.timezone.utc).isoformat()
    rec.notes.append(f"start set to {when} (the first sample) by --start")


def open_recording(src: str | os.PathLike[str], *, format: str | None = None,
                   start: str | int | None = None, labels: Mapping[str, str] | None = None,
                   label_spans: str | os.PathLike[str] | None = None,
                   **options: Any) -> Recording:
    """Open any supported source as a :class:`Recording` (large tables are not read yet).

    Args:
        src: File or folder.
        format: A :data:`FORMATS` name; detected when None (the choice is in the notes).
        start: UTC time of the first sample (ISO 8601 text or epoch ns), for sources whose
            times count from boot or start, or to correct a wrong clock.
        labels: Constant labels ``{task: class}`` for the whole recording (they replace a
            label taken from a us-tmd file name for the same task).
        label_spans: A ``start,end,task,class`` CSV of labelled spans.
        **options: Format options: ``columns``, ``stream``, ``modality``, ``time_unit``,
            ``scales``, ``header``, ``time_column`` for CSV; ``max_unzipped_bytes`` for zips.

    Raises:
        ConfigError: an unknown format or a bad option.
        LogFormatError: the source is not readable as that format; the message names the
            file, line and column.
    """
    path = Path(src)
    if format is None:
        format, why = detect_format(path, **options)
        detected = f"format {format} detected: {why}"
    elif format not in FORMATS:
        raise ConfigError(f"unknown format {format!r}; known: {', '.join(FORMATS)}")
    else:
        detected = f"format {format} (given)"
    if options.get("columns") and format != "csv":
        raise ConfigError(f"{path}: a column map (--map) applies to one CSV file; this is "
                          f"{format}")
    rec = FORMATS[format].read(path, options)
    rec.notes.insert(0, detected)
    if start is not None:
        _set_start(rec, start if isinstance(start, int) else parse_start(start))
    if labels or label_spans is not None:
        _add_labels(rec, labels or {}, label_spans)
    return rec


def read_recording(src: str | os.PathLike[str], **kwargs: Any) -> Recording:
    """Read any supported source into memory: :func:`open_recording`, then every stream
    (labels included) as one packet per stream in ``streams``. Nothing is written."""
    return open_recording(src, **kwargs).load()


def _add_labels(rec: Recording, labels: Mapping[str, str],
                label_spans: str | os.PathLike[str] | None) -> None:
    request = rec.labels or LabelRequest()
    constant = {**request.constant, **labels}  # a given label replaces the file name's
    spans = (read_label_spans(label_spans, rec.clock, rec.notes)
             if label_spans is not None else [])
    if rec.relative and spans:
        raise ConfigError(f"{rec.source}: its times count from boot or start, so spans in UTC "
                          "cannot be placed; give --start")
    for task in {s.task for s in spans} & constant.keys():
        del constant[task]
    sources = [request.source] if request.source else []
    sources += [f"--label {t}={c}" for t, c in sorted(labels.items())]
    sources += [f"--labels {label_spans}"] if label_spans is not None else []
    rec.labels = LabelRequest(constant, spans, ", ".join(sources))


def import_recording(src: str | os.PathLike[str], out: str | os.PathLike[str], *,
                     format: str | None = None, start: str | int | None = None,
                     labels: Mapping[str, str] | None = None,
                     label_spans: str | os.PathLike[str] | None = None, force: bool = False,
                     progress: Callable[[int], None] | None = None,
                     **options: Any) -> ImportResult:
    """Import ``src`` into a sensekit log at ``out``: everything ``sensekit import`` does.

    The arguments are those of :func:`open_recording`, plus ``force`` to replace an existing
    ``out`` and ``progress``, called with the samples of each piece written. Large tables
    are streamed in bounded memory; the log is written under a temporary name and renamed
    when complete, so a failure leaves nothing at ``out``.

    Returns:
        What was written: samples per stream, what was skipped, the notes.
    """
    # Sorting spills beside the output: the disk that is to hold the log has room for it.
    options.setdefault("spill_dir", Path(out).resolve().parent)
    rec = open_recording(src, format=format, start=start, labels=labels,
                         label_spans=label_spans, **options)
    return write_recording(rec, out, force=force, progress=progress)


def labels_from_options(items: Sequence[str]) -> dict[str, str]:
    """``["transport=car", ...]`` -> ``{"transport": "car"}``; a task given twice is an error."""
    out: dict[str, str] = {}
    for item in items:
        task, cls = parse_label(item)
        if task in out and out[task] != cls:
            raise ConfigError(f"--label {item!r}: task {task!r} already labelled {out[task]!r}")
        out[task] = cls
    return out


def import_csv(src: str | os.PathLike[str], out: str | os.PathLike[str], *,
               columns: Mapping[str, str | Sequence[str]], stream: str, modality: str = "",
               time_unit: str | None = None, scales: Mapping[str, float] | None = None,
               header: bool = True, force: bool = False) -> ImportResult:
    """Convert a CSV into a log with a column map (``{"t_ns": "time", "accel_mps2": "ax,ay,az"}``).

    ``t_ns`` names the time column; each other key is a field built from one column or several
    (a vector). ``time_unit`` (``ns``, ``us``, ``ms``, ``s``) is detected when None; ``scales``
    multiply fields into SI (``{"accel_mps2": 9.80665}`` for g); without ``header`` the
    columns are named by position (``"0"``, ``"1"``...).
    """
    return import_recording(src, out, format="csv", columns=columns, stream=stream,
                            modality=modality, time_unit=time_unit, scales=scales,
                            header=header, force=force)


def import_sensor_logger(src: str | os.PathLike[str], out: str | os.PathLike[str], *,
                         force: bool = False) -> ImportResult:
    """Convert a Sensor Logger export (folder, .zip or .json) into a log at ``out``."""
    return import_recording(src, out, format="sensor-logger", force=force)
