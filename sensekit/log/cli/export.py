"""``sensekit export LOG --to parquet|csv|foxglove -o OUT``: tables or a per-sample MCAP copy.

``-o -`` writes to stdout where one stream of bytes can hold the result: the Foxglove copy, or
one stream as CSV (``--to csv --streams imu -o - | head``); the files written are then named on
stderr. Parquet is one file per stream in a folder, so it needs a path.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ...outputs import STDOUT, add_force_argument, is_stdout, refuse_stdout
from ..exporters import check_streams, to_csv, to_dataframe, to_foxglove_mcap, to_parquet
from ..reader import LogReader


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log", help="recording (.mcap)")
    parser.add_argument("--to", choices=("parquet", "csv", "foxglove"), default="parquet",
                        help="parquet/csv: one table per stream; foxglove: an MCAP copy with "
                             "one message per sample (default: parquet)")
    parser.add_argument("-o", "--output",
                        help="output folder (parquet, csv) or file (foxglove); '-': stdout "
                             "(foxglove, or csv of one stream)")
    parser.add_argument("--streams", help="comma-separated streams (default: all)")
    parser.add_argument("--json", action="store_true",
                        help="name the files written as JSON (on stderr with -o -)")
    add_force_argument(parser)


def export_recording(src: str | os.PathLike[str], out: str | os.PathLike[str], *,
                     to: str = "parquet", streams: list[str] | None = None,
                     force: bool = False) -> tuple[list[Path], int | None]:
    """Export one recording to ``out`` (a folder for parquet and csv, a file for foxglove).

    Returns:
        The files written, and for foxglove the number of messages.

    Raises:
        ConfigError: a stream is not in the recording.
        OutputRefused: an output would replace the recording, or a file without ``force``.
    """
    with LogReader(src) as log:
        if to == "foxglove":
            return [Path(out)], to_foxglove_mcap(log, out, streams, force=force)
        if is_stdout(out):
            _csv_to_stdout(log, to, streams)
            return [Path(out)], None
        writer = to_parquet if to == "parquet" else to_csv
        return list(writer(log, out, streams, force=force)), None


def _csv_to_stdout(log: LogReader, to: str, streams: list[str] | None) -> None:
    """One stream as CSV on stdout."""
    names = check_streams(log, streams)
    if to != "csv" or len(names) != 1:
        what = "parquet files" if to != "csv" else f"{len(names)} CSV tables"
        refuse_stdout(STDOUT, what, "'--to csv --streams STREAM -o -' writes one stream's "
                      "table; -o DIR writes them all")
    to_dataframe(log, names[0]).to_csv(sys.stdout, index=False)


def run(args: argparse.Namespace) -> int:
    src = Path(args.log)
    streams = args.streams.split(",") if args.streams else None
    default = f"{src.stem}.foxglove.mcap" if args.to == "foxglove" else f"{src.stem}-{args.to}"
    out = Path(args.output or src.with_name(default))
    paths, messages = export_recording(src, out, to=args.to, streams=streams,
                                       force=args.force)
    say = sys.stderr if is_stdout(out) else sys.stdout  # stdout holds the export
    if args.json:
        facts: dict[str, object] = {"files": [str(p) for p in paths]}
        if messages is not None:
            facts["messages"] = messages
        print(json.dumps(facts, indent=2), file=say)
        return 0
    for path in paths:
        name = "stdout" if is_stdout(path) else path
        print(f"wrote {name}" + (f": {messages:,} messages" if messages is not None else ""),
              file=say)
    return 0
