"""``sensekit info LOG``: what a recording holds: streams, rates, counts, gaps, devices."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import warnings
from typing import Any

from ...cli import add_stdout_output
from ...errors import SampleDropped
from ..lifecycle import PART_SUFFIX, part_path
from ..reader import LogReader, StreamInfo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log", nargs="+",
                        help="recording (.mcap), complete or cut off; several for a split one")
    parser.add_argument("--skip-corrupt", action="store_true",
                        help="read every chunk, skipping damaged ones and counting the messages "
                             "lost, instead of failing")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_stdout_output(parser, inputs=("log",))


def recording_report(path: str | os.PathLike[str], *, skip_corrupt: bool = False
                     ) -> tuple[dict[str, object], dict[str, StreamInfo]]:
    """What ``sensekit info`` says about one recording: its facts and its streams."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDropped)  # reported in the facts
        with LogReader(path, skip_corrupt=skip_corrupt) as log:
            # Checking for damage means reading every chunk, not the closing tally.
            streams = log.scan_streams() if skip_corrupt else log.streams
            return _facts(log, verified=skip_corrupt), streams


def report_json(facts: dict[str, object], streams: dict[str, StreamInfo]) -> dict[str, Any]:
    """One recording's report as ``sensekit info --json`` prints it."""
    return {"file": facts, "streams": {
        name: {**s.__dict__, "duration_s": s.duration_s} for name, s in streams.items()}}


def run(args: argparse.Namespace) -> int:
    reports = [recording_report(p, skip_corrupt=args.skip_corrupt) for p in args.log]
    if args.json:
        docs = [report_json(facts, streams) for facts, streams in reports]
        print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
        return 0
    for i, (facts, streams) in enumerate(reports):
        if i:
            print()
        _print_table(facts, streams)
    return 0


def _print_table(facts: dict[str, object], streams: dict[str, StreamInfo]) -> None:
    for key, value in facts.items():
        print(f"{key + ':':<20} {value}")
    print(f"\n{'stream':<14} {'modality':<9} {'samples':>10} {'rate Hz':>10} {'duration s':>11}"
          f" {'gaps':>5}  schema")
    for name, s in streams.items():
        print(f"{name:<14} {s.modality or '-':<9} {s.samples:>10,} {s.rate_hz:>10.2f} "
              f"{s.duration_s:>11.2f} {s.gaps:>5}  {s.schema}")


def _utc_text(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).isoformat(timespec="milliseconds")


def _clock_facts(log: LogReader, start: int) -> dict[str, object]:
    """Where UTC comes from, how sure it is, and every step of the wall clock."""
    meta = (log.metadata("sensekit.log") or [{}])[0]
    cmap = log.clock_map
    first = cmap.steps[0]
    if meta.get("time_base") == "relative" or first.synchronized == "relative":
        return {"starts (UTC)": "unknown", "clock synchronised": "no wall clock",
                "time base": "relative: times count from boot or start, no wall-clock start is "
                             "known (give --start when importing)"}
    facts: dict[str, object] = {
        "starts (UTC)": _utc_text(cmap.utc_ns(start)),
        "clock synchronised": f"{first.synchronized} ({first.source or 'at the start'})",
        "time base": "log_time is UTC" if log.log_time_is_utc else
                     "log_time is host time (written before sensekit-log/2); 'sensekit log "
                     "repair' rewrites it as UTC"}
    for i, (prev, step) in enumerate(zip(cmap.steps, cmap.steps[1:], strict=False), 1):
        jump = (step.offset_ns - prev.offset_ns) / 1e9
        facts[f"clock step {i}"] = (f"{jump:+.3f} s at {(step.t_ns - start) / 1e9:.1f} s "
                                    f"({step.source}), synchronised: {step.synchronized}")
    return facts


def _facts(log: LogReader, *, verified: bool = False) -> dict[str, object]:
    start = min((s.start_ns for s in log.streams.values()), default=0)
    state = "complete (indexed)" if log.indexed else "no index (cut off or still being written)"
    if log.path.name.endswith(PART_SUFFIX):
        state = (f"unfinished ({PART_SUFFIX}): still being written, or left by a crash or power "
                 f"loss; 'sensekit log repair {log.path}' closes a copy with an index")
    facts: dict[str, object] = {
        "file": str(log.path), "size": f"{log.layout.size:,} bytes", "state": state,
        "chunks": len(log.layout.chunks), **_clock_facts(log, start)}
    gps_offset = log.gps_wall_offset_ns() if "gps" in log.streams else None
    if gps_offset is not None:
        facts["GPS UTC vs clock"] = f"{(gps_offset - log.wall_offset_ns) / 1e9:+.3f} s"
    if log.truncated_at is not None:
        facts["cut at byte"] = log.truncated_at
    for stopped in log.metadata("sensekit.stopped"):
        facts["recording stopped"] = stopped.get("reason", "?")
    leftover = part_path(log.path)
    if leftover.is_file():
        facts["unfinished beside it"] = (f"{leftover} (a later recording of the same name that "
                                         "did not close)")
    if verified:
        loss = log.loss()
        facts["lost messages"] = loss.messages if loss.messages is not None else (
            f"unknown, at least {loss.at_least}")
        if loss.damaged or loss.messages != 0:
            facts["damage"] = f"at bytes {', '.join(map(str, loss.damaged)) or '?'}: {loss}"
    for stream, dev in sorted(log.devices().items()):
        where = f" at {dev['url']}" if dev.get("url") else ""
        facts[f"device {stream}"] = f"{dev.get('driver', '?')}{where}"
    return facts
