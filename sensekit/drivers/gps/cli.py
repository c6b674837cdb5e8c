"""``sensekit gps decode FILE [--json] [--date YYYY-MM-DD]``: fixes of a captured NMEA log.

One fix per line on stdout (with ``--json`` one object per fix: ``time``, ``mode``, ``lat``,
``lon``, ``alt_msl``, ``speed``, ``track``, each absent when unknown), then a summary on stderr:
sentences read, accepted, rejected by reason.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import sys
from typing import Any

from ...cli import add_stdout_output
from ...errors import ConfigError
from .capture import read_capture
from .epoch import Fix

__all__ = ["add_arguments", "fix_json", "run"]


def _date(text: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2015-04-13") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    decode = sub.add_parser("decode", help="decode a captured NMEA log into fixes")
    decode.add_argument("file", help="NMEA capture (raw receiver bytes; '#' lines skipped)")
    decode.add_argument("--json", action="store_true", help="one JSON object per fix")
    add_stdout_output(decode, inputs=("file",))
    decode.add_argument("--date", type=_date, metavar="YYYY-MM-DD",
                        help="date of epochs before any RMC/ZDA date (default: the log's "
                             "'# Date:' header)")


def fix_json(fix: Fix) -> dict[str, Any]:
    """The JSON object of one fix; unknown values are left out."""
    out: dict[str, Any] = {}
    if fix.time_iso is not None:
        out["time"] = fix.time_iso
    out["mode"] = fix.mode
    for key, value in (("lat", fix.lat_deg), ("lon", fix.lon_deg), ("alt_msl", fix.alt_msl_m),
                       ("speed", fix.speed_mps), ("track", fix.track_deg)):
        if not math.isnan(value):
            out[key] = round(value, 9) if key in ("lat", "lon") else round(value, 4)
    return out


def _line(fix: Fix) -> str:
    def num(value: float, fmt: str) -> str:
        return "-" if math.isnan(value) else format(value, fmt)

    tod = fix.tod_ns
    when = fix.time_iso or ("-" if tod is None else f"T+{tod / 1e9:.3f}s")
    return (f"{when}  mode={fix.mode}  lat={num(fix.lat_deg, '.7f')}  "
            f"lon={num(fix.lon_deg, '.7f')}  alt={num(fix.alt_msl_m, '.2f')}  "
            f"speed={num(fix.speed_mps, '.3f')}  track={num(fix.track_deg, '.2f')}  "
            f"sats={fix.sats_used}")


def run(args: argparse.Namespace) -> int:
    if args.action != "decode":
        raise ConfigError("sensekit gps needs an action. Hint: sensekit gps decode FILE")
    decoded = read_capture(args.file, args.date)
    try:
        for fix in decoded.fixes:
            sys.stdout.write((json.dumps(fix_json(fix)) if args.json else _line(fix)) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:          # `sensekit gps decode log | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    reader, epochs = decoded.reader, decoded.epochs
    print(f"{args.file}: sentences {reader.summary()}; {reader.garbage_bytes} junk bytes; "
          f"{epochs.epochs} epochs, {epochs.fixes} fixes, {epochs.bad_fields} unreadable fields, "
          f"{epochs.vendor} vendor and {epochs.unknown} other sentences passed through",
          file=sys.stderr)
    return 0
