"""``sensekit replay LOG``: play a recording through a hub, as its devices would.

With ``--shared NAME`` other processes subscribe with ``sensekit.hub.connect(NAME, STREAM)``,
so a pipeline runs unchanged on the recording.
"""

from __future__ import annotations

import argparse
import json
import time

from ...cli import add_stdout_output
from ...progress import Progress
from ..replay import ReplaySource


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("log", help="recording (.mcap)")
    parser.add_argument("--streams", help="comma-separated streams (default: all)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="1 = real time, 2 = twice as fast, 0 = as fast as possible")
    parser.add_argument("--shared", metavar="NAME",
                        help="also publish into shared memory for other processes")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    parser.add_argument("--json", action="store_true",
                        help="print {samples: {stream: n}, seconds} as JSON at the end")
    add_stdout_output(parser, inputs=("log",))


def run(args: argparse.Namespace) -> int:
    from ...hub import Hub

    url = f"replay://{args.log}" + (f"#{args.streams}" if args.streams else "")
    counts: dict[str, int] = {}
    started = time.monotonic()
    source = ReplaySource(url, speed=args.speed).open()
    with Hub(shared=args.shared) as hub, source, Progress(
            f"replaying {args.log}", source.total_samples(), unit=" samples",
            enabled=not args.quiet) as progress:
        for packet in source:
            hub.publish(packet)
            counts[packet.stream] = counts.get(packet.stream, 0) + len(packet)
            progress.update(len(packet), info=_rates(counts, started))
    if args.json:
        print(json.dumps({"samples": dict(sorted(counts.items())),
                          "seconds": round(time.monotonic() - started, 3)}, indent=2))
        return 0
    for stream, n in sorted(counts.items()):
        print(f"  {stream:<14} {n:>10,} samples")
    return 0


def _rates(counts: dict[str, int], started: float) -> str:
    elapsed = max(time.monotonic() - started, 1e-3)
    return ", ".join(f"{s} {n / elapsed:,.0f}/s" for s, n in sorted(counts.items()))
