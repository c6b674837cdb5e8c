"""``sensekit log repair LOG [-o OUT]``: rewrite a cut or damaged recording as a valid file."""

from __future__ import annotations

import argparse

from ...outputs import add_force_argument
from ..repair import repair


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    rep = sub.add_parser("repair", help="rewrite a cut or damaged recording with a full index")
    rep.add_argument("log", help="the recording to repair (left unchanged)")
    rep.add_argument("-o", "--output", help="repaired file (default: LOG.repaired.mcap)")
    add_force_argument(rep)


def run(args: argparse.Namespace) -> int:
    result = repair(args.log, args.output, force=args.force)
    print(f"wrote {result.path}: {result.messages:,} messages")
    if result.truncated_at is not None:
        print(f"  the source was cut off at byte {result.truncated_at}; "
              "everything before it was kept")
    if result.damaged or result.lost_at_least or result.lost_messages is None:
        where = ", ".join(map(str, result.damaged)) or "unknown places"
        print(f"  skipped damaged data at bytes {where}: {result.loss}")
    return 0
