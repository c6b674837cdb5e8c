"""``sensekit import SRC [-o OUT.mcap]``: Sensor Logger exports and CSVs into a sensekit log.

SRC is a Sensor Logger export (a folder of CSVs, its zip, or its JSON file), or a CSV file
with ``--map``: ``sensekit import bench.csv --stream light --modality light --time-unit s
--map t_ns=t --map lux=lux_reading``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ...errors import ConfigError
from ...outputs import add_force_argument, atomic_output
from ..importers import ImportResult, import_csv, import_sensor_logger


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="Sensor Logger folder, .zip or .json; or a .csv with --map")
    parser.add_argument("-o", "--output", help="output .mcap (default: SRC.mcap)")
    parser.add_argument("--map", action="append", default=[], metavar="FIELD=COLS",
                        help="CSV column map: t_ns=time, accel_mps2=ax,ay,az (repeat)")
    parser.add_argument("--stream", help="stream name for a CSV (default: the modality)")
    parser.add_argument("--modality", default="", help="modality of a CSV's fields (imu, light..)")
    parser.add_argument("--time-unit", default="ns", choices=("ns", "us", "ms", "s"),
                        help="unit of a CSV's time column (default ns)")
    parser.add_argument("--scale", action="append", default=[], metavar="FIELD=FACTOR",
                        help="multiply a CSV field into its SI unit: accel_mps2=9.80665 (repeat)")
    parser.add_argument("--no-header", action="store_true",
                        help="the CSV has no header row: name columns by position, 0, 1, ...")
    add_force_argument(parser)


def run(args: argparse.Namespace) -> int:
    src = Path(args.src)
    out = Path(args.output or src.with_suffix(".mcap"))
    inputs = [src, *src.rglob("*")] if src.is_dir() else [src]
    with atomic_output(out, inputs=inputs, force=args.force) as tmp:
        result = _import(args, src, tmp)
    _report(dataclasses.replace(result, path=out))
    return 0


def _import(args: argparse.Namespace, src: Path, out: Path) -> ImportResult:
    if args.map:
        columns = {}
        for item in args.map:
            field, sep, cols = item.partition("=")
            if not sep or not field or not cols:
                raise ConfigError(f"--map {item!r}: expected FIELD=COLUMN[,COLUMN...]")
            columns[field.strip()] = cols
        scales = {}
        for item in args.scale:
            field, _, factor = item.partition("=")
            try:
                scales[field.strip()] = float(factor)
            except ValueError:
                raise ConfigError(f"--scale {item!r}: expected FIELD=NUMBER") from None
        stream = args.stream or args.modality or src.stem
        return import_csv(src, out, columns=columns, stream=stream, modality=args.modality,
                          time_unit=args.time_unit, scales=scales, header=not args.no_header)
    return import_sensor_logger(src, out)


def _report(result: ImportResult) -> None:
    print(f"wrote {result.path}")
    for stream, n in sorted(result.samples.items()):
        print(f"  {stream:<14} {n:>10,} samples")
    if result.skipped:
        print(f"  skipped (no numeric data): {', '.join(result.skipped)}")
