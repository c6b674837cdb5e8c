"""``sensekit export LOG --to parquet|csv|foxglove -o OUT``: tables or a per-sample MCAP copy."""

from __future__ import annotations

import argparse
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


def run(args: argparse.Namespace) -> int:
    src = Path(args.log)
    streams = args.streams.split(",") if args.streams else None
    with LogReader(src) as log:
        if args.to == "foxglove":
            out = Path(args.output or src.with_name(f"{src.stem}.foxglove.mcap"))
            n = to_foxglove_mcap(log, out, streams, force=args.force)
            print(f"wrote {out}: {n:,} messages")
            return 0
        folder = Path(args.output or src.with_name(f"{src.stem}-{args.to}"))
        writer = to_parquet if args.to == "parquet" else to_csv
        for path in writer(log, folder, streams, force=args.force):
            print(f"wrote {path}")
    return 0
