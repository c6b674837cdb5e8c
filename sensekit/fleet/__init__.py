"""Processing many recordings on a distributed engine (Dask): ``sensekit fleet``.

The per-recording functions of sensekit's commands run as one Dask task per recording, on a
local cluster by default or on any Dask cluster by its scheduler address::

    from sensekit.fleet import run_fleet
    result = run_fleet("export", ["s3://bucket/logs/"], "s3://bucket/parquet", {"to": "parquet"})
    print(result.counts(), result.retries)

``import sensekit.fleet`` stays light: Dask and fsspec are imported when a fleet runs.
"""

from __future__ import annotations

from typing import Any

from .jobs import JOBS, Job

__all__ = ["JOBS", "FleetResult", "Job", "RecordingResult", "run_fleet"]


def __getattr__(name: str) -> Any:
    if name in ("run_fleet", "FleetResult"):
        from . import engine

        return getattr(engine, name)
    if name == "RecordingResult":
        from .task import RecordingResult

        return RecordingResult
    raise AttributeError(f"module 'sensekit.fleet' has no attribute {name!r}")
