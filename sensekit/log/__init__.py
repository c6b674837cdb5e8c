"""Recording and replay: MCAP recorder and reader, replay source, importers, exporters.

- :func:`open` reads a recording (complete, cut off by power loss, or damaged).
- :class:`Recorder` writes packets into crash-safe MCAP files; :func:`repair` rewrites a cut
  or damaged one as a valid, indexed file.
- ``sensekit.open("replay://path.mcap#imu")`` replays a recorded stream like a device.
- :func:`import_recording` brings other tools' recordings in (Android sensor-event files such
  as the US transportation-mode recordings, Sensor Logger exports, CSV files), detecting the
  format; :func:`read_recording` reads one into memory as streams without writing.
- :func:`to_dataframe`, :func:`to_parquet`, :func:`to_csv` and :func:`to_foxglove_mcap` take
  recordings out.

Importing this package pulls in numpy only; mcap, lz4, pandas and matplotlib are imported by
the functions that need them.
"""

from __future__ import annotations

from .exporters import to_csv, to_dataframe, to_foxglove_mcap, to_parquet
from .importers import (
    import_csv,
    import_recording,
    import_sensor_logger,
    read_recording,
    read_us_tmd,
)
from .reader import LogReader, StreamInfo, open
from .recorder import Recorder, RecordingStopped
from .repair import repair

__all__ = ["LogReader", "Recorder", "RecordingStopped", "StreamInfo", "import_csv",
           "import_recording", "import_sensor_logger", "open", "read_recording", "read_us_tmd",
           "repair", "to_csv", "to_dataframe", "to_foxglove_mcap", "to_parquet"]
