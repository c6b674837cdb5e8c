"""``sensekit record RIG.toml``: record every device of a rig through the hub into MCAP.

The rig config names the devices; its ``[record]`` table (or the command line) gives the
output, duration, flush interval and splitting. Ctrl-C and SIGTERM (``systemctl stop``) both
end the recording cleanly: the current chunk is flushed and the index written.

The file is ``NAME.mcap.part`` while it is written and ``NAME.mcap`` once closed; an existing
recording is replaced only with ``--force``, the rig config never. ``--split-size 500M`` or
``--split-duration 1h`` make numbered files (``NAME-0000.mcap``...) so a long session is never
one fragile file.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..clock import Clock, default_clock
from ..config import parse_duration, parse_size
from ..errors import ConfigError
from ..outputs import add_force_argument, refuse_stdout
from ..packets import Packet
from ..progress import Progress
from .recorder import Recorder

__all__ = ["Subscription", "add_arguments", "record_subscription", "run", "stop_on_signals"]


class Subscription(Protocol):
    """What the recorder needs of a hub subscription."""

    def poll(self, timeout_s: float) -> list[Packet]: ...

    @property
    def lost(self) -> dict[str, int]: ...


def stop_on_signals(*signums: int) -> threading.Event:
    """An event set by SIGTERM and SIGINT (or ``signums``): call from the main thread.

    A recording loop checks the event and closes its file cleanly, so ``systemctl stop``
    and Ctrl-C both leave a complete, indexed file.
    """
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    for signum in signums or (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)
    return stop


def record_subscription(recorder: Recorder, sub: Subscription, *, duration_s: float | None,
                        stop: threading.Event, clock: Clock | None = None,
                        on_packet: Callable[[Packet], None] | None = None) -> None:
    """Write what ``sub`` delivers into ``recorder`` until ``duration_s`` passes or ``stop``.

    Samples the hub dropped because the recorder fell behind are added to
    ``recorder.dropped`` (the hub itself warns with :class:`~sensekit.errors.SampleDropped`).
    """
    clock = clock or default_clock()
    end = None if duration_s is None else clock.now_ns() + int(duration_s * 1e9)
    lost_seen: dict[str, int] = {}
    while not stop.is_set() and (end is None or clock.now_ns() < end):
        for packet in sub.poll(0.05):
            recorder.write(packet)
            if on_packet is not None:
                on_packet(packet)
        recorder.tick()
        for stream, lost in sub.lost.items():
            new = lost - lost_seen.get(stream, 0)
            if new > 0:
                lost_seen[stream] = lost
                recorder.dropped += new


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise ConfigError(f"{text!r} is not a positive number")
    return value


def _arg(parse: Callable[[str], float]) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            return parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return convert


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="rig config (TOML) naming the devices")
    parser.add_argument("-o", "--output", help="output .mcap (default: [record] output)")
    parser.add_argument("-d", "--duration", type=_arg(parse_duration), metavar="TIME",
                        help="stop after this long: seconds, or 30m, 1h (default: [record] "
                             "duration_s, or Ctrl-C)")
    parser.add_argument("--flush-s", type=_arg(parse_duration), metavar="S",
                        help="flush (and fsync) interval in seconds")
    parser.add_argument("--split-size", type=_arg(parse_size), metavar="SIZE",
                        help="start a new numbered file past this size: 500M, 2G")
    parser.add_argument("--split-duration", type=_arg(parse_duration), metavar="TIME",
                        help="start a new numbered file after this long: 30m, 1h")
    # The earlier spellings (megabytes, seconds), still read.
    parser.add_argument("--split-mb", type=_arg(_positive), help=argparse.SUPPRESS)
    parser.add_argument("--split-s", type=_arg(_positive), help=argparse.SUPPRESS)
    add_force_argument(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line")


def _splitting(args: argparse.Namespace, rec_cfg: dict[str, Any]) -> tuple[int | None,
                                                                           float | None]:
    """Split size (bytes) and duration (seconds): the command line, else the [record] table."""
    size = args.split_size or (args.split_mb and args.split_mb * 1e6)
    if not size and "split_size" in rec_cfg:
        size = parse_size(rec_cfg["split_size"])
    if not size and "split_mb" in rec_cfg:
        size = rec_cfg["split_mb"] * 1e6
    duration = args.split_duration or args.split_s
    if not duration and "split_duration" in rec_cfg:
        duration = parse_duration(rec_cfg["split_duration"])
    return (int(size) if size else None), (duration or rec_cfg.get("split_s"))


def run(args: argparse.Namespace) -> int:
    from ..config import load_rig
    from ..hub import Hub

    rig = load_rig(args.config)
    rec_cfg: dict[str, Any] = dict(rig.record)
    output = args.output or rec_cfg.get("output") or f"{rig.name}.mcap"
    refuse_stdout(output, "a recording (written as NAME.mcap.part, split, closed with its "
                  "index)")
    duration = args.duration if args.duration is not None else rec_cfg.get("duration_s")
    split_bytes, split_s = _splitting(args, rec_cfg)
    recorder = Recorder(output, flush_s=args.flush_s or rec_cfg.get("flush_s", 1.0),
                        split_bytes=split_bytes, split_s=split_s, force=args.force,
                        inputs=rig_inputs(args.config, rig),
                        rig_config=Path(args.config).read_text(encoding="utf-8"))
    hub = Hub()
    try:
        sub = _attach_devices(rig, hub, recorder)
    except BaseException:
        hub.close()  # a device that cannot be opened: no recording is started
        raise
    try:
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        stop = stop_on_signals()
        try:
            _record_with_progress(recorder, sub, duration, stop, quiet=args.quiet)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    finally:
        hub.close()
        recorder.close()
    _summarise(recorder)
    return 1 if recorder.stopped else 0


def rig_inputs(config: str, rig: Any) -> list[Path]:
    """The files a recording of ``rig`` reads: its config, and every recording it replays or
    capture it reads (``replay://PATH``, plain paths); the output may be none of them."""
    import glob

    from ..url import parse_url

    found = [Path(config)]
    for dev in rig.devices.values():
        try:
            url = parse_url(dev.url)
        except ConfigError:
            continue  # the device itself reports its URL when it is opened
        if url.scheme in ("replay", "path"):
            where = url.location
            found += map(Path, glob.glob(where) if glob.has_magic(where) else [where])
    return found


def _attach_devices(rig: Any, hub: Any, recorder: Recorder) -> Subscription:
    from .. import open as open_device
    from ..config import device_errors

    enabled = [d for d in rig.devices.values() if d.enabled]
    # Subscribe before any reader starts, so the first packets are recorded too.
    sub: Subscription = hub.subscribe(*[d.stream for d in enabled], name="recorder")
    for dev in enabled:
        with device_errors(rig, dev):
            driver = open_device(dev.driver, dev.url, stream=dev.stream, rate_hz=dev.rate_hz,
                                 mode=dev.mode, **dict(dev.options))
        recorder.add_driver(driver, options=dict(dev.options), config_name=dev.name)
        driver.on_change(recorder.add_change)
        hub.attach(driver)
    return sub


def _record_with_progress(recorder: Recorder, sub: Subscription, duration: float | None,
                          stop: threading.Event, *, quiet: bool) -> None:
    counts: dict[str, int] = {}
    started = time.monotonic()

    def on_packet(packet: Packet) -> None:
        counts[packet.stream] = counts.get(packet.stream, 0) + len(packet)
        elapsed = max(time.monotonic() - started, 1e-3)
        rates = ", ".join(f"{s} {n / elapsed:,.0f}/s" for s, n in sorted(counts.items()))
        progress.update(len(packet), info=rates)

    with Progress(f"recording {recorder.base}", unit=" samples", enabled=not quiet) as progress:
        record_subscription(recorder, sub, duration_s=duration, stop=stop,
                            on_packet=on_packet)


def _summarise(recorder: Recorder) -> None:
    for path in recorder.paths:
        print(f"wrote {path}")
    for stream, tally in sorted(recorder.tally.items()):
        print(f"  {stream:<12} {tally.samples:>10,} samples  {tally.gaps} gaps")
    if recorder.dropped:
        print(f"  {recorder.dropped:,} samples dropped", file=sys.stderr)
    if recorder.stopped:
        print(f"recording stopped early: {recorder.stopped}", file=sys.stderr)
