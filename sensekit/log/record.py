"""``sensekit record RIG.toml``: record every device of a rig through the hub into MCAP.

The rig config names the devices; its ``[record]`` table (or the command line) gives the
output, duration, flush interval and splitting. Ctrl-C and SIGTERM (``systemctl stop``) both
end the recording cleanly: the current chunk is flushed and the index written.
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="rig config (TOML) naming the devices")
    parser.add_argument("-o", "--output", help="output .mcap (default: [record] output)")
    parser.add_argument("-d", "--duration", type=float, metavar="S",
                        help="stop after S seconds (default: [record] duration_s, or Ctrl-C)")
    parser.add_argument("--flush-s", type=float, help="flush (and fsync) interval in seconds")
    parser.add_argument("--split-mb", type=float, help="start a new file past this size")
    parser.add_argument("--split-s", type=float, help="start a new file after this many seconds")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line")


def run(args: argparse.Namespace) -> int:
    from ..config import load_rig
    from ..hub import Hub

    rig = load_rig(args.config)
    rec_cfg: dict[str, Any] = dict(rig.record)
    output = args.output or rec_cfg.get("output") or f"{rig.name}.mcap"
    duration = args.duration if args.duration is not None else rec_cfg.get("duration_s")
    split_mb = args.split_mb or rec_cfg.get("split_mb")
    recorder = Recorder(output, flush_s=args.flush_s or rec_cfg.get("flush_s", 1.0),
                        split_bytes=int(split_mb * 1e6) if split_mb else None,
                        split_s=args.split_s or rec_cfg.get("split_s"),
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


def _attach_devices(rig: Any, hub: Any, recorder: Recorder) -> Subscription:
    from .. import open as open_device

    enabled = [d for d in rig.devices.values() if d.enabled]
    # Subscribe before any reader starts, so the first packets are recorded too.
    sub: Subscription = hub.subscribe(*[d.stream for d in enabled], name="recorder")
    for dev in enabled:
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
