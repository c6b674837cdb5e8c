"""``sensekit power``: measure a workload's energy, re-render a report, list meters.

::

    sensekit power measure [--meter NAME[@URL]] [--rate HZ] [-o DIR] [--json] -- COMMAND ...
    sensekit power measure --config power/campaigns/pi5_idle_vs_load.toml
    sensekit power report RUN_DIR [--battery-wh WH] [--json]
    sensekit power meters [--json]

Meter names: ``estimate``, ``jetson``, ``pi5``, ``ina219@i2c://1/0x40?shunt_ohm=0.1`` (see
:mod:`sensekit.power.meters`); without ``--meter`` the best one found is used.

``measure`` exits as the workload did (as ``time`` and ``timeout`` do: 127 when it is not found,
126 when it cannot run, 128+N when signal N killed it), and says so on stderr; the run folder is
written in every case. A folder that holds a run is replaced only with ``--force``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from pathlib import Path
from typing import Any

from ..cli import add_stdout_output
from ..config import Key, check_table, read_toml
from ..errors import ConfigError, DeviceError
from ..outputs import add_force_argument, refuse_stdout

__all__ = ["MEASURE_SCHEMA", "add_arguments", "run"]


def _number(low: float, *, low_ok: bool = False) -> Any:
    def ok(v: Any) -> bool:
        return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                and (v >= low if low_ok else v > low))
    return ok


def _text(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


#: The ``[measure]`` table of a campaign file.
MEASURE_SCHEMA: dict[str, Key] = {
    "meter": Key(_text, "a meter name such as \"estimate\" or \"ina219@i2c://1/0x40\""),
    "rate_hz": Key(_number(0), "a positive number of readings per second"),
    "out": Key(_text, "a run folder path"),
    "markers": Key(lambda v: v in ("socket", "fifo"), "\"socket\" or \"fifo\""),
    "settle_s": Key(_number(0, low_ok=True), "a number of seconds, 0 or more"),
    "platform": Key(_text, "a platform table name such as \"pi4\""),
    "battery_wh": Key(_number(0), "a positive battery capacity in watt-hours"),
    "command": Key(lambda v: isinstance(v, list) and bool(v) and all(isinstance(a, str)
                                                                    for a in v),
                   "the workload as a list of strings: [\"python3\", \"bench.py\"]"),
}


def _option(check: Any, expected: str) -> Any:
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not check(value):
            raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}")
        return value
    return convert


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    m = sub.add_parser("measure", help="run a command while sampling a power meter")
    m.add_argument("--meter", help="NAME or NAME@URL (estimate, jetson, pi5, "
                   "ina219@i2c://1/0x40?shunt_ohm=0.1); default: the best one found")
    m.add_argument("--rate", type=_option(_number(0), "a positive rate"),
                   help="meter readings per second (default: meter's)")
    m.add_argument("-o", "--output", "--out", dest="out", type=Path,
                   help="run folder (default: power-runs/<UTC time>)")
    m.add_argument("--markers", choices=("socket", "fifo"), help="phase-marker channel")
    m.add_argument("--settle", type=_option(_number(0, low_ok=True), "0 or more seconds"),
                   help="seconds of idle baseline before and after")
    m.add_argument("--platform", help="power table for the platform floor (pi4, pi5, "
                   "jetson_nano, jetson_orin_nano); default: detected")
    m.add_argument("--battery-wh", type=_option(_number(0), "a positive capacity"),
                   help="battery capacity for projected life")
    m.add_argument("--config", type=Path, help="campaign file (TOML) with these settings")
    add_force_argument(m)
    m.add_argument("--json", action="store_true",
                   help="print the energy table as JSON (one object per phase)")
    m.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    r = sub.add_parser("report", help="re-render the report of a run folder")
    r.add_argument("run_dir", type=Path)
    r.add_argument("--json", action="store_true", help="print the energy table as JSON")
    add_stdout_output(r, inputs=("run_dir",))
    r.add_argument("--battery-wh", type=_option(_number(0), "a positive capacity"),
                   help="battery capacity for projected life")
    meters = sub.add_parser("meters", help="list the meters and which ones are found here")
    meters.add_argument("--json", action="store_true",
                        help="print {name: {found, rails | error}} as JSON")
    add_stdout_output(meters)


def run(args: argparse.Namespace) -> int:
    if args.action == "report":
        from .report import load_run, render_report

        path = render_report(args.run_dir, battery_wh=args.battery_wh)
        _print_run(load_run(args.run_dir), args.json)
        print(f"report: {path}", file=sys.stderr if args.json else sys.stdout)
        return 0
    if args.action == "meters":
        return _list_meters(args.json)
    return _measure(args)


def _campaign(args: argparse.Namespace) -> dict[str, Any]:
    """Settings from ``--config`` ([measure] table), overridden by the command line."""
    settings: dict[str, Any] = {}
    notes: dict[str, Any] = {}
    if args.config:
        data, text = read_toml(args.config, "campaign file")
        check_table(text, str(args.config), "measure", data.get("measure", {}), MEASURE_SCHEMA)
        settings = dict(data.get("measure", {}))
        record = data.get("record", {})
        notes = dict(record) if isinstance(record, dict) else {"record": record}
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    cli = {"meter": args.meter, "rate_hz": args.rate, "out": args.out,
           "markers": args.markers, "settle_s": args.settle, "platform": args.platform,
           "battery_wh": args.battery_wh, "command": command or None}
    settings.update({k: v for k, v in cli.items() if v is not None})
    settings["notes"] = notes
    return settings


def _measure(args: argparse.Namespace) -> int:
    from .harness import check_run_folder, measure
    from .meters import open_meter
    from .report import load_run
    from .workload import WorkloadResult

    refuse_stdout(args.out, "a run folder", "give a folder; --json prints the energy table "
                  "on stdout")
    s = _campaign(args)
    command = s.get("command")
    if isinstance(command, str) or not command:
        raise ConfigError("give the workload after '--' (or as a list 'command' in [measure])")
    options = {"rate_hz": float(s["rate_hz"])} if s.get("rate_hz") else {}
    meter = open_meter(s.get("meter"), **options)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(s.get("out") or Path("power-runs") / stamp)
    check_run_folder(out, force=args.force)  # before the meter is opened
    try:
        folder = measure(command, meter, out, markers=s.get("markers", "socket"),
                         platform=s.get("platform"), settle_s=float(s.get("settle_s", 0.0)),
                         notes=s["notes"], battery_wh=s.get("battery_wh"), force=args.force)
    finally:
        meter.close()
    run = load_run(folder)
    if run.estimate:
        print("ESTIMATE: no power meter was used; figures come from a CPU model "
              "(see report.md)", file=sys.stderr)
    _print_run(run, args.json)
    print(f"run folder: {folder} (report.md, power.png, samples.csv)",
          file=sys.stderr if args.json else sys.stdout)
    ended = WorkloadResult(int(run.info["exit_code"]), run.info.get("signal"),
                           run.info.get("error"), run.info.get("interrupted_by"))
    if ended.describe(command):
        print(f"sensekit power: {ended.describe(command)}", file=sys.stderr)
    return ended.exit_code


def _print_run(run: Any, as_json: bool) -> None:
    """The energy table of a run, as Markdown or (``--json``) one object per phase."""
    from .report import format_table, phase_rows

    if not as_json:
        print(format_table(run))
        return
    phases = [{"name": r.name, "start_s": r.start_s, "duration_s": r.integral.window_s,
               "energy_j": r.integral.energy_j, "mean_w": r.integral.average_w,
               "floor_j": r.floor_j, "above_floor_j": r.above_floor_j,
               "coverage": r.integral.coverage, "gaps": len(r.integral.gaps),
               "complete": r.complete} for r in phase_rows(run)]
    print(json.dumps({"folder": str(run.folder), "estimate": run.estimate,
                      "exit_code": run.info.get("exit_code"), "phases": phases}, indent=2))


def _list_meters(as_json: bool = False) -> int:
    from .meters import AUTO_ORDER, available_meters, open_meter

    found: dict[str, dict[str, Any]] = {}
    for name in AUTO_ORDER:
        try:
            meter = open_meter(name)
            found[name] = {"found": True, "rails": list(meter.rails)}
            meter.close()
        except (DeviceError, ConfigError) as exc:
            found[name] = {"found": False, "error": str(exc)}
    if as_json:
        print(json.dumps(found, indent=2))
        return 0
    for name, state in found.items():
        where = (f"found ({', '.join(state['rails'])})" if state["found"]
                 else f"not found: {state['error']}")
        print(f"{name:<10} {where}")
    others = [n for n in available_meters() if n not in AUTO_ORDER]
    print(f"{', '.join(others)}: name them with a URL, e.g. "
          "--meter 'ina219@i2c://1/0x40?shunt_ohm=0.01'")
    return 0
