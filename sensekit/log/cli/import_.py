"""``sensekit import SRC [-o OUT.mcap]``: other tools' recordings into a sensekit log.

The format is detected from the content (``--format`` forces one): Android sensor-event files
such as the US transportation-mode recordings (``us-tmd``, ``android-events``), Sensor Logger
exports (folder, .zip, .json), and CSV files with ``--map``::

    sensekit import sensorfile_andrea_Bus_1480485018989.csv.gz -o bus.mcap
    sensekit import walk.csv --label activity=walking
    sensekit import bench.csv --stream light --modality light --time-unit s \\
        --map t_ns=t --map lux=lux_reading
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ...errors import ConfigError
from ...outputs import add_force_argument, is_stdout
from ...progress import Progress
from ..importers import FORMATS, ImportResult, import_recording
from ..importers.formats import labels_from_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="recording to import: a file, a folder, a .zip or a .json")
    parser.add_argument("-o", "--output",
                        help="output .mcap (default: SRC.mcap; '-': stdout, the summary then "
                             "on stderr)")
    add_force_argument(parser)
    parser.add_argument("--format", choices=sorted(FORMATS),
                        help="source format (default: detected from the content)")
    parser.add_argument("--label", action="append", default=[], metavar="TASK=CLASS",
                        help="constant label for the whole recording: transport=car (repeat)")
    parser.add_argument("--labels", metavar="FILE.csv",
                        help="labelled spans: a CSV with header start,end,task,class")
    parser.add_argument("--start", metavar="ISO8601",
                        help="UTC time of the first sample, for times since boot or start")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    csv_opts = parser.add_argument_group("CSV options")
    csv_opts.add_argument("--map", action="append", default=[], metavar="[FILE:]FIELD=COLS",
                          help="column map: t_ns=time, accel_mps2=ax,ay,az (repeat); in a "
                               "folder, per file: Baro.csv:pressure_hpa=p")
    csv_opts.add_argument("--stream", help="stream name (default: the modality)")
    csv_opts.add_argument("--modality", default="", help="modality of the fields (imu, light..)")
    csv_opts.add_argument("--time-unit", choices=("ns", "us", "ms", "s"),
                          help="unit of the time column (default: detected and stated)")
    csv_opts.add_argument("--scale", action="append", default=[], metavar="FIELD=FACTOR",
                          help="multiply a field into its SI unit: accel_mps2=9.80665 (repeat)")
    csv_opts.add_argument("--no-header", action="store_true",
                          help="the CSV has no header row: name columns by position, 0, 1, ...")


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"{option} {item!r}: expected NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def _csv_options(args: argparse.Namespace) -> dict[str, object]:
    if not args.map:
        return {"time_unit": args.time_unit} if args.time_unit else {}
    per_file = [m for m in args.map if ":" in m.partition("=")[0]]
    if per_file:
        if len(per_file) != len(args.map):
            raise ConfigError("--map: give FILE:FIELD=COLS for every entry (a folder) or "
                              "FIELD=COLS for every entry (one CSV), not both")
        maps: dict[str, dict[str, str]] = {}
        for item in per_file:
            name, _, rest = item.partition(":")
            maps.setdefault(name.strip(), {}).update(_pairs([rest], "--map"))
        return {"file_columns": maps}
    scales = {}
    for field, factor in _pairs(args.scale, "--scale").items():
        try:
            scales[field] = float(factor)
        except ValueError:
            raise ConfigError(f"--scale {field}={factor}: expected FIELD=NUMBER") from None
    return {"columns": _pairs(args.map, "--map"), "stream": args.stream,
            "modality": args.modality, "time_unit": args.time_unit, "scales": scales,
            "header": not args.no_header}


def default_output(src: Path) -> Path:
    """``SRC.mcap`` beside the source, without its .csv/.gz/.zip/.json suffixes."""
    name = src.name
    while Path(name).suffix.lower() in (".gz", ".csv", ".zip", ".json", ".txt"):
        name = name[:-len(Path(name).suffix)]
    return src.with_name(f"{name}.mcap")


def import_with_options(args: argparse.Namespace, src: Path, out: Path,
                        progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import one recording as this command's options say (``sensekit fleet import`` too)."""
    fmt = args.format
    if fmt is None and args.map and src.is_file() and ":" not in args.map[0].partition("=")[0]:
        fmt = "csv"
    return import_recording(src, out, format=fmt, start=args.start,
                            labels=labels_from_options(args.label), label_spans=args.labels,
                            force=getattr(args, "force", False), progress=progress,
                            **_csv_options(args))


def run(args: argparse.Namespace) -> int:
    src = Path(args.src)
    out = Path(args.output) if args.output else default_output(src)
    # A bar on a terminal only: a pipe or a log gets the summary below and nothing else.
    shown = not args.json and sys.stderr.isatty()
    with Progress(f"importing {src.name}", unit=" samples", enabled=shown) as progress:
        result = import_with_options(args, src, out, progress.update)
    say = sys.stderr if is_stdout(out) else sys.stdout  # stdout holds the recording
    if args.json:
        print(json.dumps({"output": str(result.path), "format": result.format,
                          "samples": dict(result.samples), "skipped": list(result.skipped),
                          "notes": list(result.notes)}, indent=2), file=say)
    else:
        _report(result, say)
    return 0


def _report(result: ImportResult, say: TextIO) -> None:
    name = "stdout" if is_stdout(result.path) else result.path
    print(f"wrote {name} ({result.format})", file=say)
    for stream, n in sorted(result.samples.items()):
        print(f"  {stream:<24} {n:>10,} samples", file=say)
    for line in (*result.notes, *result.skipped):
        print(f"  {line}", file=say)
