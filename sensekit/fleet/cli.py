"""``sensekit fleet JOB INPUTS... -o DIR``: one of sensekit's per-recording jobs over many
recordings, one Dask task each.

    sensekit fleet info logs/ -o reports/
    sensekit fleet export 's3://bucket/2026-*/*.mcap' -o s3://bucket/parquet --to parquet
    sensekit fleet windows day*/ -o shards/ --scheduler tcp://10.0.0.2:8786

JOB takes the options of its single-recording command (``sensekit fleet export --help`` lists
them); the recording argument becomes INPUTS (files, folders, glob patterns, fsspec URLs) and
the results go to the folder ``-o DIR``, one per recording, with a manifest that lets a rerun
skip what is done. A local cluster with one single-threaded worker process per core runs the
tasks unless ``--scheduler`` names a running cluster. Exit status 1 when a recording failed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from typing import Any

from ..cli import add_common_options, configure_output, verbosity
from .jobs import JOBS, Job

#: Destinations the fleet adds to a job's options (everything else is the job's).
FLEET_DESTS = ("inputs", "output", "workers", "scheduler", "force", "json", "verbose", "quiet")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", choices=sorted(JOBS), help="the per-recording job")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="INPUTS... -o DIR [OPTIONS]",
                        help="recordings, the output folder, the fleet's and the job's options "
                             "(sensekit fleet JOB --help lists them)")


def job_parser(job: Job) -> argparse.ArgumentParser:
    """The parser of ``sensekit fleet JOB``: the command's own options, INPUTS in place of its
    recording, and the fleet's options."""
    command = argparse.ArgumentParser(add_help=False)
    importlib.import_module(job.command).add_arguments(command)
    source = _subcommand(command, job.subcommand) if job.subcommand else command
    parser = argparse.ArgumentParser(
        prog=f"sensekit fleet {job.name}",
        description=f"Run the {job.name} job over many recordings, one Dask task each.")
    own = parser.add_argument_group("options of the single-recording command")
    for action in source._actions:
        if isinstance(action, argparse._HelpAction) or action.dest in job.owned \
                or action.dest in FLEET_DESTS:  # the fleet's own -o DIR, --force, --json
            continue
        if action.dest == job.recording:
            parser.add_argument("inputs", nargs="+", metavar="INPUT",
                                help="recordings: files, folders, glob patterns, fsspec URLs")
        else:
            own._add_action(action)
    _fleet_options(parser.add_argument_group("where and how the fleet runs"))
    add_common_options(parser)
    return parser


def job_defaults(job: Job) -> dict[str, Any]:
    """The job's options as its command sets them when none is given."""
    return {a.dest: a.default for a in job_parser(job)._actions
            if a.dest not in FLEET_DESTS and a.dest != argparse.SUPPRESS}


def _subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            sub: argparse.ArgumentParser = action.choices[name]
            return sub
    raise KeyError(f"no sub-command {name!r}")  # a mistake in the JOBS table


def _fleet_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument("-o", "--output", required=True,
                       help="folder for the results, one per recording (path or fsspec URL)")
    group.add_argument("--workers", type=int,
                       help="local worker processes, one thread each (default: one per core)")
    group.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on the cluster whose scheduler is here (tcp://HOST:8786)")
    group.add_argument("--force", action="store_true",
                       help="redo recordings whose result exists; replace results not in the "
                            "manifest")
    group.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    from .engine import run_fleet

    job = JOBS[args.job]
    parser = job_parser(job)
    ns = parser.parse_args(args.args)
    ns.verbose, ns.quiet = verbosity(args, ns)  # -v/-q before or after the job's arguments
    configure_output(ns.verbose, ns.quiet)
    if ns.workers is not None and ns.scheduler:
        parser.error("--workers and --scheduler: the workers of a running cluster are its own")
    options = {k: v for k, v in vars(ns).items() if k not in FLEET_DESTS}

    def notify(line: str) -> None:
        if not ns.quiet:  # a note (the size of the run, the dashboard's address)
            print(f"sensekit fleet {job.name}: {line}", file=sys.stderr)

    result = run_fleet(job, ns.inputs, ns.output, options, workers=ns.workers,
                       scheduler=ns.scheduler, force=ns.force, progress=sys.stdout.isatty(),
                       notify=notify, quiet=logging.getLogger().level > logging.INFO)
    if ns.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        _print_summary(result)
    return 1 if result.counts()["failed"] else 0


def _print_summary(result: Any) -> None:
    for r in result.results:
        took = f"{r.duration_s:7.2f} s" if r.status != "skipped" else " " * 9
        tries = f" ({r.attempts} attempts)" if r.attempts > 1 else ""
        tail = f" -> {r.output}" if r.status == "ok" else (
            f": {r.error}" if r.error else " (result exists, input unchanged)")
        print(f"{r.status:<8} {took}  {r.input}{tail}{tries}")
    counts = ", ".join(f"{n} {status}" for status, n in result.counts().items())
    retries = f"; {result.retries} retried after a worker was lost" if result.retries else ""
    print(f"{len(result.results)} recordings: {counts}{retries}; {result.wall_s:.1f} s on "
          f"{result.workers} workers")
