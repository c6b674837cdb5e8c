"""Importers: other tools' recordings into sensekit logs.

- :func:`import_recording` is the front door (the ``sensekit import`` command calls it): it
  detects the format from the content, reads the source, adds labels and writes the log.
- :func:`read_recording` reads a source into memory as streams (a :class:`Recording`) without
  writing anything, for training code that wants packets.
- Per format: :func:`read_us_tmd` and :func:`read_android_events` (Android sensor-event lines),
  :func:`import_sensor_logger` (Sensor Logger exports), :func:`import_csv` (any CSV with a
  column map).
"""

from __future__ import annotations

from .android_events import SENSORS, read_android_events, read_us_tmd
from .base import ImportResult, Recording, write_recording
from .formats import (
    FORMATS,
    detect_format,
    import_csv,
    import_recording,
    import_sensor_logger,
    open_recording,
    read_recording,
)
from .labels import LabelSpan, label_stream, parse_label, read_label_spans
from .sensor_logger import read_sensor_logger
from .tables import read_csv, read_csv_folder

__all__ = ["FORMATS", "SENSORS", "ImportResult", "LabelSpan", "Recording", "detect_format",
           "import_csv", "import_recording", "import_sensor_logger", "label_stream",
           "open_recording", "parse_label", "read_android_events", "read_csv", "read_csv_folder",
           "read_label_spans", "read_recording", "read_sensor_logger", "read_us_tmd",
           "write_recording"]
