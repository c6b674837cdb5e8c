"""``sensekit log repair LOG [-o OUT]``: rewrite a cut or damaged recording as a valid file.

``-o -`` writes the repaired recording to stdout (``sensekit log repair cut.mcap -o - | gzip >
fixed.mcap.gz``); what was kept and lost is then said on stderr. ``--json`` prints it as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

from ...outputs import add_force_argument, is_stdout
from ..repair import repair


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    rep = sub.add_parser("repair", help="rewrite a cut or damaged recording with a full index")
    rep.add_argument("log", help="the recording to repair (left unchanged)")
    rep.add_argument("-o", "--output",
                     help="repaired file (default: LOG.repaired.mcap; '-': stdout)")
    rep.add_argument("--json", action="store_true",
                     help="say what was kept and lost as JSON (on stderr with -o -)")
    add_force_argument(rep)


def run(args: argparse.Namespace) -> int:
    result = repair(args.log, args.output, force=args.force)
    say = sys.stderr if is_stdout(args.output) else sys.stdout  # stdout holds the recording
    if args.json:
        print(json.dumps({"output": str(result.path), "messages": result.messages,
                          "lost_messages": result.lost_messages,
                          "lost_at_least": result.lost_at_least,
                          "damaged": list(result.damaged),
                          "truncated_at": result.truncated_at}, indent=2), file=say)
        return 0
    name = "stdout" if is_stdout(args.output) else result.path
    print(f"wrote {name}: {result.messages:,} messages", file=say)
    if result.truncated_at is not None:
        print(f"  the source was cut off at byte {result.truncated_at}; "
              "everything before it was kept", file=say)
    if result.damaged or result.lost_at_least or result.lost_messages is None:
        where = ", ".join(map(str, result.damaged)) or "unknown places"
        print(f"  skipped damaged data at bytes {where}: {result.loss}", file=say)
    return 0
