"""A recording as a source: ``sensekit.open("replay://ride.mcap#imu")``.

The URL names the file (or, with a glob such as ``ride-*.mcap``, the parts of a split recording,
replayed one after another), the stream(s) after ``#`` (``#imu``, ``#imu,gps``; none: every
stream, interleaved in time order) and options: ``speed`` (1 = real time, 2 = twice as fast, 0 = as
fast as possible; default 1) and ``skip_corrupt`` (1: skip damaged chunks, counting them).

Timestamps are the recorded ones. The sampling controller acts on a replay as on a device:
:meth:`~sensekit.driver.Driver.set_rate` subsamples the recorded stream (one sample per
``1/rate`` seconds of recorded time), :meth:`~sensekit.driver.Driver.sleep` drops what passes
while asleep, and :meth:`~sensekit.driver.Driver.set_mode` accepts the modes the recorded
driver declared; every change is recorded in ``changes`` for the energy ledger.
"""

from __future__ import annotations

import glob
import itertools
import json
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from ..driver import Driver
from ..errors import ConfigError, DeviceNotFound, LogFormatError
from ..packets import Packet
from .reader import LogReader

__all__ = ["ReplaySource"]


class ReplaySource(Driver):
    """Replays recorded streams as packets (see the module docstring for the URL).

    Args:
        url: ``replay://PATH[?speed=S]#STREAM[,STREAM...]``.
        speed: Overrides the URL's ``speed`` (0: as fast as possible).
        **kwargs: As for :class:`~sensekit.driver.Driver`.

    Attributes:
        skipped_asleep: Recorded samples that passed while the source was asleep.
        subsampled_out: Recorded samples left out by a lowered rate.
        finished: Whether every packet has been delivered.
    """

    name: ClassVar[str] = "replay"
    schemes: ClassVar[frozenset[str]] = frozenset({"replay"})

    def __init__(self, url: Any, *, speed: float | None = None, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        frag = self.url.fragment
        self.streams = [s for s in frag.split(",") if s] if frag else None
        if kwargs.get("stream") is None and self.streams and len(self.streams) == 1:
            self.stream = self.streams[0]
        self.speed = speed if speed is not None else self.url.option("speed", float, 1.0)
        if self.speed < 0:
            raise ConfigError(f"{self.describe()}: speed must be >= 0 (0: as fast as possible)")
        self.skipped_asleep = 0
        self.subsampled_out = 0
        self.finished = False
        self.native_rate_hz: float | None = None
        self._log: LogReader | None = None  # the first file (the only one, unless split)
        self._logs: list[LogReader] = []
        self._packets: Iterator[Packet] | None = None
        self._pending: Packet | None = None
        self._origin: tuple[int, int] | None = None  # (recorded ns, host ns)
        self._keep_rate: float | None = None
        self._last_bin: dict[str, int] = {}

    # -- Driver -----------------------------------------------------------------------------
    def _open(self) -> None:
        path = self.url.location
        # A split recording (ride-0000.mcap, ride-0001.mcap...) replays as one: a glob names it.
        paths = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
        if not paths:
            raise DeviceNotFound(f"{self.describe()}: no recording matches {path!r}")
        skip = self.url.option("skip_corrupt", int, 0) == 1
        try:
            for p in paths:
                self._logs.append(LogReader(p, skip_corrupt=skip))
        except LogFormatError as exc:
            for log in self._logs:
                log.close()
            if "no such recording" in str(exc):
                raise DeviceNotFound(f"{self.describe()}: no recording at {path!r}. Hint: "
                                     "check the path after replay://") from None
            raise
        self._log = self._logs[0]
        names = sorted({n for log in self._logs for n in log.stream_names()})
        for s in self.streams or []:
            if s not in names:
                raise DeviceNotFound(f"{self.describe()}: {path} has no stream {s!r}; it has "
                                     f"{', '.join(names)}")
        self._adopt_recorded_settings()
        self._packets = itertools.chain.from_iterable(
            log.packets(self.streams) for log in self._logs)

    def _adopt_recorded_settings(self) -> None:
        assert self._log is not None
        if self.streams and len(self.streams) == 1:
            info = self._log.streams.get(self.streams[0])
            self.native_rate_hz = info.rate_hz if info and info.rate_hz > 0 else None
            device = self._log.devices().get(self.streams[0], {})
            # What the recorded device was, so the ledger charges what it would have drawn.
            if info is not None:
                self.__dict__["modality"] = info.modality
            if device.get("power_model"):
                self.__dict__["power_model"] = device["power_model"]
            modes = _json_list(device.get("modes"))
            if modes:
                # The recorded driver's modes: a policy written for the device runs unchanged.
                setattr(self, "modes", tuple(modes))  # noqa: B010 - instance override
                self.mode = device.get("mode", modes[0])
            if self.rate_hz is None:
                self.rate_hz = self.native_rate_hz
            else:  # opened with rate_hz=...: subsample from the start
                self.rate_hz = self._set_rate(self.rate_hz)

    def _read_packet(self, timeout_s: float) -> Packet | None:
        was_finished = self.finished
        packet = self._next()
        if packet is None:
            if was_finished:  # keep a reader thread from spinning once the log has ended
                self.clock.sleep(min(timeout_s, 0.05))
            return None
        wait_s = self._due_in_s(packet)
        if wait_s > timeout_s:
            self.clock.sleep(timeout_s)
            return None
        self.clock.sleep(wait_s)
        self._pending = None
        if self.asleep:
            self.skipped_asleep += len(packet)
            return None
        return self._subsample(packet)

    def _close(self) -> None:
        for log in self._logs:
            log.close()

    def _set_rate(self, rate_hz: float) -> float:
        native = self.native_rate_hz
        if native is not None and rate_hz >= native:
            self._keep_rate = None
            return native
        self._keep_rate = rate_hz
        return rate_hz

    def _set_mode(self, mode: str, **options: Any) -> None:
        if "rate_hz" in options:
            self._set_rate(float(options["rate_hz"]))

    def _sleep(self) -> None:
        pass  # what passes while asleep is dropped in _read_packet

    def _read_asleep(self, timeout_s: float) -> Packet | None:
        return self._read_packet(timeout_s)  # the recording runs on while asleep

    def _wake(self) -> None:
        pass

    def open(self) -> ReplaySource:
        """Open the recording (idempotent); return ``self``."""
        super().open()
        return self

    def __enter__(self) -> ReplaySource:
        return self.open()

    @property
    def recording(self) -> LogReader:
        """The open recording (after :meth:`open`)."""
        if self._log is None:
            raise ConfigError(f"{self.describe()} is not open")
        return self._log

    def total_samples(self) -> int:
        """Samples this source will deliver at the recorded rate (for progress bars)."""
        if not self._logs:
            raise ConfigError(f"{self.describe()} is not open")
        return sum(s.samples for log in self._logs for name, s in log.streams.items()
                   if not self.streams or name in self.streams)

    def __iter__(self) -> Iterator[Packet]:
        """Packets until the recording ends or the source is closed."""
        while self.is_open and not self.finished:
            packet = self.read()
            if packet is not None:
                yield packet

    # -- internals ------------------------------------------------------------------------
    def _next(self) -> Packet | None:
        if self._pending is None and self._packets is not None:
            self._pending = next(self._packets, None)
            if self._pending is None:
                self.finished = True
                self._packets = None
        return self._pending

    def _due_in_s(self, packet: Packet) -> float:
        if self.speed == 0:
            return 0.0
        now = self.clock.now_ns()
        if self._origin is None:
            self._origin = (int(packet.t_ns[0]), now)
        recorded0, host0 = self._origin
        # A packet is available once its last sample was taken, as from the real device.
        due = host0 + (int(packet.t_ns[-1]) - recorded0) / self.speed
        return max(0.0, (due - now) / 1e9)

    def _subsample(self, packet: Packet) -> Packet | None:
        rate = self._keep_rate
        if rate is None:
            return packet
        bins = (packet.t_ns // int(1e9 / rate)).astype(np.int64)
        last = self._last_bin.get(packet.stream, -1)
        keep = np.empty(len(bins), bool)
        keep[0] = bins[0] != last
        keep[1:] = bins[1:] != bins[:-1]
        self._last_bin[packet.stream] = int(bins[-1])
        kept = int(keep.sum())
        self.subsampled_out += len(packet) - kept
        return packet.select(keep) if kept else None


def _json_list(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []
