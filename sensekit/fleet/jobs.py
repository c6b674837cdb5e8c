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
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["JOBS", "Job", "evaluate_work", "export_work", "import_work", "info_work",
           "is_export_folder", "policy_work", "repair_work", "windows_work"]

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
        folder: Whether a folder is itself one recording, given the options (a phone app's
            export); without it a folder is searched for files with ``suffixes``.
    """

    name: str
    command: str
    recording: str
    work: str
    output: Callable[[str, Mapping[str, Any]], str]
    owned: tuple[str, ...] = ("output",)
    subcommand: str | None = None
    suffixes: tuple[str, ...] = (".mcap",)
    folder: Callable[[Any, str, Mapping[str, Any]], bool] | None = None


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


def import_work(opts: argparse.Namespace, src: Path, out: Path) -> Facts:
    """``sensekit import`` of one recording (file, or an export's folder) into ``out``."""
    from ..log.cli.import_ import import_with_options

    result = import_with_options(opts, src, out)
    return {"format": result.format, "samples": dict(result.samples),
            "skipped": list(result.skipped), "notes": list(result.notes)}


def evaluate_work(opts: argparse.Namespace, src: Path, out: Path) -> Facts:
    """``sensekit evaluate --json`` of the weights on one recording, written to ``out``."""
    from ..fusion.cli_evaluate import score_recordings

    result, scores = score_recordings(opts, [src], progress=False)
    out.write_text(json.dumps(result, indent=1) + "\n")
    return {t: {"macro_f1": s.macro_f1, "windows": s.windows} for t, s in scores.items()}


def policy_work(opts: argparse.Namespace, src: Path, out: Path) -> Facts:
    """``sensekit evaluate-policy --json`` of one recording, written to ``out``."""
    from ..controller.cli import evaluate_recordings

    results = evaluate_recordings(opts, [str(src)], progress=False)
    out.write_text(json.dumps([r.as_json() for r in results], indent=2) + "\n")
    return {"policies": {r.policy: {"macro_f1": r.macro_f1, "total_j": r.total_j}
                         for r in results}}


#: What ``sensekit import`` reads; a folder of them is searched, an export folder is one.
IMPORT_SUFFIXES = (".csv.gz", ".csv", ".gz", ".zip", ".json", ".txt")


def is_export_folder(fs: Any, path: str, options: Mapping[str, Any]) -> bool:
    """Whether the folder at ``path`` is one recording for ``import``: a Sensor Logger export
    (it always writes ``Metadata.csv``) or another app's folder of per-sensor CSV files (CSV
    files only, none of them a recording of its own such as ``sensorfile_*``). With a column
    map for one CSV (``--map FIELD=COLS``) every CSV file is a recording of its own."""
    maps = options.get("map") or []
    if options.get("format") == "csv" or (maps and ":" not in maps[0].partition("=")[0]):
        return False  # FIELD=COLS maps one CSV; FILE:FIELD=COLS maps a folder's files
    entries = fs.ls(path, detail=True)
    names = [posixpath.basename(str(e["name"])) for e in entries if e.get("type") == "file"]
    if any(n.lower() == "metadata.csv" for n in names):
        return True
    return bool(names) and len(names) == len(entries) and all(
        n.lower().endswith(".csv") and not n.startswith("sensorfile_") for n in names)


def windows_work(opts: argparse.Namespace, src: Path, out: Path) -> Facts:
    """Training windows of one recording as shards in the folder ``out``."""
    from ..fusion.shards import recording_shards

    shards = recording_shards(src, out, window_s=opts.window_s, hop_s=opts.hop_s,
                              fmt=opts.format, per_shard=opts.shard_windows,
                              modalities=opts.modalities, tasks=opts.tasks)
    return {"shards": len(shards), "windows": sum(n for _, n in shards)}


def _export_name(stem: str, opts: Mapping[str, Any]) -> str:
    return f"{stem}.foxglove.mcap" if opts["to"] == "foxglove" else f"{stem}-{opts['to']}"


#: name -> job. The table is data; a job's code is imported on the worker that runs it.
JOBS: dict[str, Job] = {
    "import": Job("import", "sensekit.log.cli.import_", "src", "sensekit.fleet.jobs:import_work",
                  lambda stem, _: f"{stem}.mcap", owned=("output", "force", "json"),
                  suffixes=IMPORT_SUFFIXES, folder=is_export_folder),
    "info": Job("info", "sensekit.log.cli.info", "log", "sensekit.fleet.jobs:info_work",
                lambda stem, _: f"{stem}.json", owned=("json", "output", "force")),
    "repair": Job("repair", "sensekit.log.cli.log", "log", "sensekit.fleet.jobs:repair_work",
                  lambda stem, _: f"{stem}.mcap", owned=("output", "force", "json"),
                  subcommand="repair"),
    "export": Job("export", "sensekit.log.cli.export", "log", "sensekit.fleet.jobs:export_work",
                  _export_name, owned=("output", "force", "json")),
    "evaluate": Job("evaluate", "sensekit.fusion.cli_evaluate", "data",
                    "sensekit.fleet.jobs:evaluate_work", lambda stem, _: f"{stem}.json",
                    owned=("json", "output", "force")),
    "evaluate-policy": Job("evaluate-policy", "sensekit.controller.cli", "logs",
                           "sensekit.fleet.jobs:policy_work", lambda stem, _: f"{stem}.json",
                           owned=("json", "plot", "force", "output")),
    "windows": Job("windows", "sensekit.fusion.cli_windows", "data",
                   "sensekit.fleet.jobs:windows_work", lambda stem, _: f"{stem}.windows",
                   owned=("output", "force")),
}
