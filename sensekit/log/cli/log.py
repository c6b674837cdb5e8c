"""``sensekit log repair LOG [-o OUT]``: rewrite a cut or damaged recording as a valid file."""

from __future__ import annotations

import argparse

from ..repair import repair


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    rep = sub.add_parser("repair", help="rewrite a cut or damaged recording with a full index")
    rep.add_argument("log", help="the recording to repair (left unchanged)")
    rep.add_argument("-o", "--output", help="repaired file (default: LOG.repaired.mcap)")


def run(args: argparse.Namespace) -> int:
    result = repair(args.log, args.output)
    print(f"wrote {result.path}: {result.messages:,} messages")
    if result.truncated_at is not None:
        print(f"  the source was cut off at byte {result.truncated_at}; "
              "everything before it was kept")
    if result.damaged:
        print(f"  skipped damaged data at bytes {', '.join(map(str, result.damaged))} "
              f"({result.lost_messages} messages lost)")
    return 0
