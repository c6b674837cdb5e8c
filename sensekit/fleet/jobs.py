"""The per-recording jobs a fleet runs, as data: which command declares the options, which
function does one recording, and what the result is called.

A job's options are the single-recording command's own: the fleet builds its parser from the
command's ``add_arguments`` and replaces only the recording argument (by the fleet's INPUTS)
and the options the fleet provides itself (``-o``, ``--json``). The work runs on a Dask worker
as ``work(options, input_path, output_path) -> facts``: it reads one local recording, writes
one result at ``output_path`` (a file or a folder, not there yet) and returns a few JSON facts
for the summary. Nothing here imports Dask or the commands' heavy dependencies.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["JOBS", "Job", "export_work", "info_work", "repair_work", "windows_work"]

Facts = dict[str, Any]


@dataclass(frozen=True)
class Job:
    """One per-recording job.

    Attributes:
        name: The fleet's JOB name.
        command: Module of the single-recording command (its ``add_arguments`` gives the options).
        recording: Destination of that command's recording argument; INPUTS take its place.
        work: ``"module:function"`` that does one recording on a worker.
        output: Name of one recording's result from its stem and the options.
        owned: Destinations of the command's options that the fleet provides itself.
        subcommand: The sub-command whose options apply (``log repair``).
        suffixes: What a folder of inputs expands to.
    """

    name: str
    command: str
    recording: str
    work: str
    output: Callable[[str, Mapping[str, Any]], str]
    owned: tuple[str, ...] = ("output",)
    subcommand: str | None = None
    suffixes: tuple[str, ...] = (".mcap",)


def info_work(opts: argparse.Namespace, src: Path, out: Path) -> Facts:
    """``sensekit info --json`` of one recording, written to ``out``."""
    from ..log.cli.info import recording_report, report_json

    facts, streams = recording_report(src, skip_corrupt=opts.skip_corrupt)
    out.write_text(json.dumps(report_json(facts, streams), indent=2) + "\n")
    return {"streams": len(streams), "samples": sum(s.samples for s in streams.values())}


def repair_work(opts: argparse.Namespace, src: Path, out: Path) -> Facts:
    """``sensekit log repair`` of one recording into ``out``."""
    from ..log.repair import repair

    result = repair(src, out)
    return {"messages": result.messages, "lost_messages": result.lost_messages,
            "damaged": list(result.damaged), "truncated_at": result.truncated_at}


def export_work(opts: argparse.Namespace, src: Path, out: Path) -> Facts:
    """``sensekit export`` of one recording into ``out`` (folder, or file for foxglove)."""
    from ..log.cli.export import export_recording

    streams = opts.streams.split(",") if opts.streams else None
    paths, messages = export_recording(src, out, to=opts.to, streams=streams)
    facts: Facts = {"files": sorted(p.name for p in paths)}
    if messages is not None:
        facts["messages"] = messages
    return facts


def windows_work(opts: argparse.Namespace, src: Path, out: Path) -> Facts:
    """Training windows of one recording as shards in the folder ``out``."""
    from ..fusion.shards import recording_shards

    shards = recording_shards(src, out, window_s=opts.window_s, hop_s=opts.hop_s,
                              fmt=opts.format, per_shard=opts.shard_windows)
    return {"shards": len(shards), "windows": sum(n for _, n in shards)}


def _export_name(stem: str, opts: Mapping[str, Any]) -> str:
    return f"{stem}.foxglove.mcap" if opts["to"] == "foxglove" else f"{stem}-{opts['to']}"


#: name -> job. The table is data; a job's code is imported on the worker that runs it.
JOBS: dict[str, Job] = {
    "info": Job("info", "sensekit.log.cli.info", "log", "sensekit.fleet.jobs:info_work",
                lambda stem, _: f"{stem}.json", owned=("json",)),
    "repair": Job("repair", "sensekit.log.cli.log", "log", "sensekit.fleet.jobs:repair_work",
                  lambda stem, _: f"{stem}.mcap", subcommand="repair"),
    "export": Job("export", "sensekit.log.cli.export", "log", "sensekit.fleet.jobs:export_work",
                  _export_name),
    "windows": Job("windows", "sensekit.fusion.cli_windows", "data",
                   "sensekit.fleet.jobs:windows_work", lambda stem, _: f"{stem}.windows",
                   owned=("output", "force")),
}
