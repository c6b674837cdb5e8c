"""The ``sensekit`` command.

Subcommands sit in a lazy table of module names, so ``sensekit --help`` imports nothing heavy.
A subcommand module provides ``add_arguments(parser)`` and ``run(args) -> int``; it may add
sub-subcommands of its own (``sensekit log repair``).

Errors are reported here, once for every command: one line naming the file and the problem, and
the exit status the error's class gives (1 when the run failed, 2 when the command or its
configuration is wrong; argparse exits 2 on its own). ``SENSEKIT_DEBUG=1`` prints the traceback
as well. Commands raise; they do not print their own errors.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from ._version import __version__
from .errors import SensekitError

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


def _top_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:<16} {text}" for name, (_, text) in sorted(COMMANDS.items()))
    parser = argparse.ArgumentParser(
        prog="sensekit", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Energy-aware sensing and sensor fusion for Raspberry Pi and Jetson.",
        epilog=f"commands:\n{lines}\n\nRun 'sensekit COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"sensekit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv for debug)")
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
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(ns.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    if ns.command is None:
        top.print_help()
        return 0
    if ns.command not in COMMANDS:
        top.error(f"unknown command {ns.command!r}; commands: {', '.join(sorted(COMMANDS))}")
    return _run_command(ns.command, args[split + 1:])


def _run_command(command: str, argv: list[str]) -> int:
    module_name, text = COMMANDS[command]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"sensekit {command}", description=text)
    module.add_arguments(parser)
    sub_args = parser.parse_args(argv)
    return int(module.run(sub_args) or 0)


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
