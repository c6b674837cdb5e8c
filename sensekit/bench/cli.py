"""``sensekit bench NAME|all [--quick] [--json] [-o FILE [--force]] [--repeats N]``.

Prints each benchmark's table (median figures, the ratio's median and min-max over repeats),
the load average before and after it, and a warning when other processes kept the machine
busy meanwhile. ``--json`` prints the whole report as JSON on stdout instead (tables go to
stderr); ``-o FILE`` writes the same report to a file, the one to attach to a bug report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..outputs import add_force_argument, atomic_output, check_output
from . import BENCHMARKS, format_table
from .report import BenchRun, report, run_benchmark, run_isolated

#: Benchmarks ``bench all`` leaves out: checks that run long rather than comparisons.
NOT_IN_ALL = frozenset({"soak"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="benchmark to run, or 'all' (see --list)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--quick", action="store_true",
                        help="smaller inputs, under a minute per benchmark (CI, a first look)")
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON on stdout (tables go to stderr)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the report (machine, Python, libraries, load, cases) as JSON")
    add_force_argument(parser)
    parser.add_argument("--repeats", type=int, metavar="N",
                        help="runs of a benchmark that does not repeat itself (default 3 with "
                             "--quick, else 5)")


def _names(name: str) -> list[str]:
    if name == "all":
        return [n for n in BENCHMARKS if n not in NOT_IN_ALL]
    if name not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark {name!r}; available: all, "
                          f"{', '.join(sorted(BENCHMARKS))}")
    return [name]


def _command(args: argparse.Namespace) -> list[str]:
    words = ["sensekit", "bench", args.name]
    words += ["--quick"] * args.quick + ["--json"] * args.json
    if args.repeats is not None:
        words += ["--repeats", str(args.repeats)]
    return words + (["-o", args.output] if args.output else [])


def _show(run: BenchRun, out: Any) -> None:
    if run.error is None:
        format_table(run.name, run.cases, out)
    else:
        print(f"== {run.name}: failed: {run.error}", file=out)
    watch = run.watch
    if watch is None:
        return
    print(f"  {watch.describe()}", file=out)
    if watch.busy:
        print(f"  warning: the machine was busy while {run.name} ran; its figures may be off. "
              "Hint: run it again when the machine is idle", file=out)


def run(args: argparse.Namespace) -> int:
    if args.list or not args.name:
        for name, (_, text) in sorted(BENCHMARKS.items()):
            print(f"{name:<10} {text}")
        return 0 if args.list else 2
    names = _names(args.name)
    if args.repeats is not None and args.repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, got {args.repeats}")
    output = Path(args.output) if args.output else None
    if output is not None:
        check_output(output, force=args.force)
    tables = sys.stderr if args.json else sys.stdout
    load_before = os.getloadavg()
    runs = []
    for name in names:
        print(f"sensekit bench {name}{' --quick' if args.quick else ''}: "
              f"{BENCHMARKS[name][1]}", file=sys.stderr)
        if len(names) > 1:      # each in its own process: no benchmark weighs on the next
            result = run_isolated(name, args.quick, args.repeats)
        else:
            result = run_benchmark(name, args.quick, args.repeats,
                                   progress=lambda text: print(text, file=sys.stderr))
        _show(result, tables)
        runs.append(result)
    doc = report(runs, load_before, _command(args))
    if output is not None:
        with atomic_output(output, force=args.force) as tmp:
            tmp.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"report written to {output}", file=sys.stderr)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 1 if any(r.error for r in runs) else 0
