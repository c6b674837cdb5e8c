"""Recording and replay: MCAP recorder and reader, replay source, importers, exporters.

- :func:`open` reads a recording (complete, cut off by power loss, or damaged).
- :class:`Recorder` writes packets into crash-safe MCAP files.
- ``sensekit.open("replay://path.mcap#imu")`` replays a recorded stream like a device.
"""

from __future__ import annotations

from .reader import LogReader, StreamInfo, open
from .recorder import Recorder, RecordingStopped

__all__ = ["LogReader", "Recorder", "RecordingStopped", "StreamInfo", "open"]
