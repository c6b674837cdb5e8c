"""Recording and replay: MCAP recorder and reader, replay source, importers, exporters.

- :func:`open` reads a recording (complete, cut off by power loss, or damaged).
- :class:`Recorder` writes packets into crash-safe MCAP files; :func:`repair` rewrites a cut
  or damaged one as a valid, indexed file.
- ``sensekit.open("replay://path.mcap#imu")`` replays a recorded stream like a device.
- :func:`import_sensor_logger` and :func:`import_csv` bring phone and spreadsheet recordings
  in; :func:`to_dataframe`, :func:`to_parquet`, :func:`to_csv` and :func:`to_foxglove_mcap`
  take recordings out.

Importing this package pulls in numpy only; mcap, lz4, pandas and matplotlib are imported by
the functions that need them.
"""

from __future__ import annotations

from .exporters import to_csv, to_dataframe, to_foxglove_mcap, to_parquet
from .importers import import_csv, import_sensor_logger
from .reader import LogReader, StreamInfo, open
from .recorder import Recorder, RecordingStopped
from .repair import repair

__all__ = ["LogReader", "Recorder", "RecordingStopped", "StreamInfo", "import_csv",
           "import_sensor_logger", "open", "repair", "to_csv", "to_dataframe",
           "to_foxglove_mcap", "to_parquet"]
