"""The ``sensekit`` command.

Subcommands sit in a lazy table of module names, so ``sensekit --help`` imports nothing heavy.
A subcommand module provides ``add_arguments(parser)`` and ``run(args) -> int``; it may add
sub-subcommands of its own (``sensekit log repair``).

Every command and sub-command accepts ``-v/--verbose`` and ``-q/--quiet``, before or after its
own arguments (``sensekit -v info x``, ``sensekit info x -v``, ``sensekit log repair x -q``):
one shared parent parser gives them (:func:`add_common_options`). A command whose result is
what it prints takes ``-o FILE`` (``-`` or none: stdout) through :func:`add_stdout_output`;
the result is then written to the file as a whole, once the command succeeded.

Errors are reported here, once for every command: one line naming the file and the problem, and
the exit status the error's class gives (1 when the run failed, 2 when the command or its
configuration is wrong; argparse exits 2 on its own). ``SENSEKIT_DEBUG=1`` prints the traceback
as well. Commands raise; they do not print their own errors.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

from ._version import __version__
from .errors import SensekitError
from .outputs import add_force_argument, atomic_output

#: name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "bench": ("sensekit.bench.cli", "run a benchmark against its peer library"),
    "train": ("sensekit.fusion.cli_train", "train a fusion network on labelled recordings"),
    "evaluate": ("sensekit.fusion.cli_evaluate",
                 "score fusion weights per task and configuration on held-out recordings"),
    "demo": ("sensekit.demo", "replay the demo recording through the hub; report with plots"),
    "evaluate-policy": ("sensekit.controller.cli",
                        "replay labelled recordings under sampling policies: accuracy vs energy"),
    "export": ("sensekit.log.cli.export", "export a recording to Parquet, CSV or per-sample MCAP"),
    "import": ("sensekit.log.cli.import_", "import a Sensor Logger export or a CSV into MCAP"),
    "info": ("sensekit.log.cli.info", "show a recording's streams: rates, counts, gaps"),
    "log": ("sensekit.log.cli.log", "recording maintenance: 'log repair' a cut or damaged file"),
    "record": ("sensekit.log.record", "record a rig's devices into MCAP (Ctrl-C stops cleanly)"),
    "replay": ("sensekit.log.cli.replay", "replay a recording through a hub"),
    "gps": ("sensekit.drivers.gps.cli", "decode captured NMEA logs into fixes"),
    "power": ("sensekit.power.cli", "measure a workload's energy with a power meter; reports"),
    "probe": ("sensekit.probe", "find sensors on the I2C buses (read-only) and serial ports"),
    "doctor": ("sensekit.doctor", "check I2C, UART, groups and power supply; say how to fix"),
    "fleet": ("sensekit.fleet.cli", "run a per-recording job over many recordings on Dask"),
    "windows": ("sensekit.fusion.cli_windows",
                "labelled training windows of recordings as NumPy or Parquet shards"),
    "calibrate": ("sensekit.drivers.calibrate", "magnetometer hard and soft iron, with coverage"),
    "orientation": ("sensekit.orientation.cli",
                    "orientation of a recording's IMU (--offline: non-causal, fits a hard iron)"),
}


def common_options() -> argparse.ArgumentParser:
    """The parent parser of every command: ``-v/--verbose`` and ``-q/--quiet``.

    Their defaults are left out of the namespace (``SUPPRESS``), so a sub-command's parser does
    not reset what the line gave before it; :func:`verbosity` adds the levels up.
    """
    parent = argparse.ArgumentParser(add_help=False)
    add_common_options(parent)
    return parent


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Add ``-v/--verbose`` and ``-q/--quiet`` to ``parser`` and to each of its sub-commands
    (``log repair``, ``power measure``), where they are not there yet."""
    _add_missing(parser, ("-v", "--verbose"), action="count", default=argparse.SUPPRESS,
                 help="more log output (-vv for debug)")
    _add_missing(parser, ("-q", "--quiet"), action="store_true", default=argparse.SUPPRESS,
                 help="no progress bars or notes (warnings and errors still show)")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                add_common_options(sub)


def _add_missing(parser: argparse.ArgumentParser, flags: tuple[str, ...], **kwargs: Any) -> None:
    """Add the option with those of ``flags`` the command does not declare itself."""
    free = [f for f in flags if f not in parser._option_string_actions]
    if len(free) == len(flags):
        parser.add_argument(*free, **kwargs)
    elif free:  # e.g. a command's own --quiet: give it the short spelling too
        action = parser._option_string_actions[flags[-1] if flags[-1] not in free else flags[0]]
        action.option_strings = [*free, *action.option_strings]
        for flag in free:
            parser._option_string_actions[flag] = action


def verbosity(*namespaces: argparse.Namespace) -> tuple[int, bool]:
    """``-v`` count and ``-q`` over the parsed parts of one command line."""
    verbose = sum(getattr(ns, "verbose", 0) for ns in namespaces)
    return verbose, any(getattr(ns, "quiet", False) for ns in namespaces)


def configure_output(verbose: int, quiet: bool) -> None:
    """Log level and progress bars for ``-v``/``-q``. ``-q`` turns progress bars and notes
    off; warnings (data lost, a device retried) and errors are still shown."""
    from . import progress

    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)  # also where a handler was there before (embedding)
    progress.set_quiet(quiet)


def add_stdout_output(parser: argparse.ArgumentParser, *, inputs: Sequence[str] = ()) -> None:
    """``-o/--output FILE`` for a command whose result is what it prints: ``-`` (the default)
    is stdout; a file is written as a whole once the command succeeded, never over an input
    (``inputs``: the destinations that hold input paths) and replaced only with ``--force``."""
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the result to FILE instead of stdout ('-': stdout)")
    if "--force" not in parser._option_string_actions:
        add_force_argument(parser)
    parser.set_defaults(stdout_inputs=tuple(inputs))


def _top_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:<16} {text}" for name, (_, text) in sorted(COMMANDS.items()))
    parser = argparse.ArgumentParser(
        prog="sensekit", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Energy-aware sensing and sensor fusion for Raspberry Pi and Jetson.",
        epilog=f"commands:\n{lines}\n\nRun 'sensekit COMMAND --help' for a command's options.",
        parents=[common_options()])
    parser.add_argument("--version", action="version", version=f"sensekit {__version__}")
    parser.add_argument("command", nargs="?", help="the command to run")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    split = next((i for i, a in enumerate(args) if not a.startswith("-")), len(args))
    prog = f"sensekit {args[split]}" if split < len(args) else "sensekit"
    try:
        return _main(args, split)
    except BrokenPipeError:  # `sensekit info x | head`: the reader left, as with any tool
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # killed by SIGPIPE, as a C tool would report
    except KeyboardInterrupt:  # Ctrl-C, however early: no traceback
        _debug_traceback()
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every command's errors end here, as one line
        _debug_traceback()
        print(f"{prog}: error: {error_line(exc)}", file=sys.stderr)
        return exc.exit_code if isinstance(exc, SensekitError) else 1


def _main(args: list[str], split: int) -> int:
    top = _top_parser()
    ns = top.parse_args(args[:split + 1])
    if ns.command is None:
        top.print_help()
        return 0
    if ns.command not in COMMANDS:
        top.error(f"unknown command {ns.command!r}; commands: {', '.join(sorted(COMMANDS))}")
    parser = command_parser(ns.command)
    sub_args = parser.parse_args(args[split + 1:])
    sub_args.verbose, sub_args.quiet = verbosity(ns, sub_args)
    configure_output(sub_args.verbose, sub_args.quiet)
    module = importlib.import_module(COMMANDS[ns.command][0])
    with _result_stream(sub_args):
        return int(module.run(sub_args) or 0)


def command_parser(command: str) -> argparse.ArgumentParser:
    """The parser of ``sensekit COMMAND``: the command's own options and the common ones."""
    module_name, text = COMMANDS[command]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"sensekit {command}", description=text)
    module.add_arguments(parser)
    add_common_options(parser)
    return parser


@contextlib.contextmanager
def _result_stream(args: argparse.Namespace) -> Iterator[None]:
    """Send what the command prints to ``-o FILE`` (see :func:`add_stdout_output`)."""
    inputs = getattr(args, "stdout_inputs", None)
    if inputs is None or args.output in (None, "-"):
        yield
        return
    from .progress import result_to_file

    paths = [p for dest in inputs for p in _as_list(getattr(args, dest, None))]
    with atomic_output(args.output, inputs=paths, force=args.force) as tmp, \
            open(tmp, "w", encoding="utf-8") as fh, result_to_file(sys.stdout), \
            contextlib.redirect_stdout(fh):
        yield


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def error_line(exc: BaseException) -> str:
    """One line for an error: sensekit's own message, or the file and the OS's words."""
    if isinstance(exc, SensekitError):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.filename is not None:
        names = " -> ".join(os.fsdecode(n) for n in (exc.filename, exc.filename2) if n)
        text = f"{names}: {exc.strerror or exc}"
    elif isinstance(exc, (OSError, ValueError, TypeError)):
        text = f"{type(exc).__name__}: {exc}"
    else:  # a bug: say so, and how to see where
        text = (f"internal error {type(exc).__name__}: {exc}. Hint: run again with "
                "SENSEKIT_DEBUG=1 for the traceback and report it")
    return " ".join(text.split())


def _debug_traceback() -> None:
    if os.environ.get("SENSEKIT_DEBUG", "") not in ("", "0"):
        traceback.print_exc()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
