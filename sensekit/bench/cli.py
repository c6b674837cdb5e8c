"""``sensekit bench NAME [--quick] [--json PATH]``."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys

from ..errors import ConfigError
from . import BENCHMARKS, format_table, write_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="benchmark to run (see --list)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--quick", action="store_true",
                        help="smaller inputs, under a minute (for CI and a first look)")
    parser.add_argument("--json", metavar="PATH", help="also write the cases as JSON")


def run(args: argparse.Namespace) -> int:
    if args.list or not args.name:
        for name, (_, text) in sorted(BENCHMARKS.items()):
            print(f"{name:<10} {text}")
        return 0 if args.list else 2
    if args.name not in BENCHMARKS:
        raise ConfigError(f"unknown benchmark {args.name!r}; available: "
                          f"{', '.join(sorted(BENCHMARKS))}")
    module_name, text = BENCHMARKS[args.name]
    module = importlib.import_module(module_name)
    print(f"sensekit bench {args.name}: {text}", file=sys.stderr)
    print(f"machine: {platform.machine()} {platform.processor() or ''} python "
          f"{platform.python_version()}", file=sys.stderr)
    cases = module.run(quick=args.quick)
    format_table(args.name, cases, sys.stdout)
    if args.json:
        write_json(args.json, cases)
    return 0
