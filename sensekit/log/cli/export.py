"""``sensekit export LOG --to parquet|csv|foxglove -o OUT``: tables or a per-sample MCAP copy."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ...outputs import add_force_argument
from ..exporters import to_csv, to_foxglove_mcap, to_parquet
from ..reader import LogReader


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log", help="recording (.mcap)")
    parser.add_argument("--to", choices=("parquet", "csv", "foxglove"), default="parquet",
                        help="parquet/csv: one table per stream; foxglove: an MCAP copy with "
                             "one message per sample (default: parquet)")
    parser.add_argument("-o", "--output", help="output folder (parquet, csv) or file (foxglove)")
    parser.add_argument("--streams", help="comma-separated streams (default: all)")
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
        writer = to_parquet if to == "parquet" else to_csv
        return list(writer(log, out, streams, force=force)), None


def run(args: argparse.Namespace) -> int:
    src = Path(args.log)
    streams = args.streams.split(",") if args.streams else None
    default = f"{src.stem}.foxglove.mcap" if args.to == "foxglove" else f"{src.stem}-{args.to}"
    out = Path(args.output or src.with_name(default))
    paths, messages = export_recording(src, out, to=args.to, streams=streams,
                                       force=args.force)
    for path in paths:
        print(f"wrote {path}" + (f": {messages:,} messages" if messages is not None else ""))
    return 0
