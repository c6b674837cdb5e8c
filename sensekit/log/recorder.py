"""The recorder: every stream of a hub into MCAP files that survive power loss.

One channel per stream, schemas stated in the file (see :mod:`sensekit.log.codec`), lz4
chunks closed by size (``chunk_bytes``) and by time (``flush_s``). Each flush closes the
chunk in progress, writes it and ``fsync``s, so a power cut loses at most one flush interval;
:mod:`sensekit.log.reader` reads such a cut file up to its last complete chunk. The file is
``NAME.mcap.part`` until a clean close renames it ``NAME.mcap``; a full disk still leaves it
closed with its index (see :mod:`sensekit.log.lifecycle`).

What else goes in the file:

- metadata ``sensekit.log``: wall-clock offset (wall ns minus host monotonic ns at start),
  whether the system clock was synchronised (a Pi has no RTC; GPS UTC can correct it later),
  host and versions;
- metadata ``sensekit.clock``: the host-to-UTC mapping (:class:`~sensekit.clock.ClockMap`), one
  record at the start and one at every step of the wall clock or change of its
  synchronisation state (NTP or GPS setting a Pi's clock). Every message's ``log_time`` and
  ``publish_time`` is UTC epoch ns of its first sample by that mapping, so Foxglove, ``mcap``
  and pandas show the real date; the host monotonic ``t_ns`` stays inside each message;
- metadata ``sensekit.channel`` per channel (topic, schema text): written outside chunks, so a
  reader still knows every channel when the chunk that first declared it is lost;
- metadata ``sensekit.device.STREAM``: driver, URL, rate, mode, modes, power model;
- the rig config as an attachment ``rig.toml``;
- metadata ``sensekit.summary`` at close: samples, first/last time and gaps per stream.

Memory is bounded: at most one chunk (``chunk_bytes``) is buffered whatever the duration, and
the chunk and metadata indexes are not kept: at close, :mod:`sensekit.log.summary` rebuilds
the summary section from the file itself. An hour needs no more memory than a minute.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import itertools
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .._version import __version__
from ..clock import Clock, ClockMap, ClockStep, MonotonicClock, WallClockWatch, default_clock
from ..driver import Driver, ModeChange
from ..errors import ConfigError, SensekitError
from ..outputs import PathLike
from ..packets import Packet
from .codec import MAX_MESSAGE_SPAN_NS, Codec, codec_for_packet
from .lifecycle import (
    Opener,
    SpaceReserve,
    check_recording_outputs,
    close_with_index,
    default_opener,
    numbered_path,
    part_path,
    publish,
    summary_bytes_needed,
)
from .summary import ChannelDecl, SummaryWriter, forget_indexes

__all__ = ["LOG_FORMAT", "Recorder", "RecordingStopped", "StreamTally", "clock_synchronized"]

#: Version 2: ``log_time`` is UTC (version 1 wrote host monotonic time there).
LOG_FORMAT = "sensekit-log/2"

log = logging.getLogger(__name__)

#: Index space held beyond what the file needs: 32 more chunks or records between flushes.
RESERVE_HEADROOM_BYTES = 8192


class RecordingStopped(SensekitError, OSError):
    """The recording stopped because the file could not be written (disk full, I/O error)."""


@dataclass
class StreamTally:
    """What was recorded of one stream (written into ``sensekit.summary``)."""

    samples: int = 0
    messages: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    gaps: int = 0
    gap_s: float = 0.0

    def add(self, packet: Packet, messages: int) -> None:
        n = len(packet)
        first, last = int(packet.t_ns[0]), int(packet.t_ns[-1])
        if self.last_ns is not None and self.samples > 1 and self.first_ns is not None:
            period = (self.last_ns - self.first_ns) / (self.samples - 1)
            step = first - self.last_ns
            # A step over three periods means samples are missing (same rule as the reader).
            if period > 0 and step > 3 * period:
                self.gaps += 1
                self.gap_s += (step - period) / 1e9
        self.first_ns = first if self.first_ns is None else self.first_ns
        self.last_ns = last
        self.samples += n
        self.messages += messages


def clock_synchronized() -> bool | None:
    """Whether the system clock is synchronised: True, False, or None when it cannot tell.

    systemd-timesyncd creates ``/run/systemd/timesync/synchronized`` once it has synchronised;
    chrony and ntpd do not, so absence on such a system means "unknown", not "no".
    """
    if Path("/run/systemd/timesync/synchronized").exists():
        return True
    if Path("/run/systemd/timesync").is_dir():
        return False
    return None


@dataclass
class _File:
    path: Path  # the finished name; written as path.part until closed
    stream: BinaryIO
    writer: Any
    opened_ns: int
    channels: dict[tuple[str, str], int] = field(default_factory=dict)
    decls: list[ChannelDecl] = field(default_factory=list)
    data_end: int = 0  # end of the last complete flush: what a full disk still keeps
    records: int = 0  # chunks, metadata and attachments the index will list

    @property
    def part(self) -> Path:
        return part_path(self.path)


class Recorder:
    """Writes packets into MCAP files.

    Args:
        path: Output file. With splitting on, files are ``STEM-0000.mcap``, ``STEM-0001.mcap``...
        flush_s: Close the current chunk, write it and fsync at least this often (seconds of
            ``clock`` time); at most this much is lost on power loss.
        chunk_bytes: Close a chunk once this many uncompressed bytes are buffered.
        split_bytes: Start a new file past this size (None: never).
        split_s: Start a new file after this many seconds (None: never).
        clock: Host clock (for flush timing and the wall-clock offset).
        rig_config: Rig config TOML text, attached as ``rig.toml``.
        metadata: Extra key/values for the ``sensekit.log`` metadata record.
        clock_synced: Whether the wall clock is synchronised (None: detect).
        wall_offset_ns: Wall-clock ns minus ``clock`` ns (None: measure now; 0 when the
            packets' ``t_ns`` already are epoch times, as in imported logs).
        fsync: fsync after each flush (turn off only for benchmarks).
        clock_map: Host time to UTC, when the caller knows it (imports); by default one step
            from ``wall_offset_ns`` and ``clock_synced``. Written as ``sensekit.clock`` records.
        wall_clock: UTC epoch ns now, watched for steps (default: ``time.time_ns`` when the
            offset is measured on the real monotonic clock; not watched otherwise).
        opener: Opens a path in a binary mode, ``opener(path, "wb")`` (tests inject a disk
            that fills up).
        force: Replace finished recordings of the same name (a ``.part`` left by a crash is
            never replaced).
        inputs: Files the recording must not replace (the rig config).

    Raises:
        OutputRefused: the output exists (without ``force``), is an input, or an unfinished
            ``.part`` of it is there.

    One thread writes (the recording loop); the recorder takes no locks.
    """

    def __init__(self, path: str | os.PathLike[str], *, flush_s: float = 1.0,
                 chunk_bytes: int = 1 << 20, split_bytes: int | None = None,
                 split_s: float | None = None, clock: Clock | None = None,
                 rig_config: str | None = None, metadata: Mapping[str, str] | None = None,
                 clock_synced: bool | None = None, wall_offset_ns: int | None = None,
                 fsync: bool = True, clock_map: ClockMap | None = None,
                 wall_clock: Callable[[], int] | None = None,
                 opener: Opener | None = None, force: bool = False,
                 inputs: Sequence[PathLike] = ()) -> None:
        if flush_s <= 0 or chunk_bytes <= 0:
            raise ConfigError(f"recorder for {path}: flush_s and chunk_bytes must be positive, "
                              f"got {flush_s} s and {chunk_bytes} bytes")
        self.base = Path(path)
        self.flush_s = flush_s
        self.chunk_bytes = chunk_bytes
        self.split_bytes = split_bytes
        self.split_s = split_s
        self.clock = clock or default_clock()
        self.rig_config = rig_config
        self.extra = dict(metadata or {})
        self.clock_synced = clock_synchronized() if clock_synced is None else clock_synced
        self.fsync = fsync
        self._opener = opener or default_opener
        self.leftovers = check_recording_outputs(self.base, split=self._splitting,
                                                 inputs=inputs, force=force)
        for leftover in self.leftovers:
            log.warning("%s is an unfinished recording (left by a crash or power loss, or "
                        "still being written): 'sensekit log repair %s' closes it with an index",
                        leftover, leftover)
        self._reserve = SpaceReserve(self.base.with_name(f".{self.base.name}.reserve"),
                                     self._opener)
        self.wall_offset_ns = ((wall_clock or time.time_ns)() - self.clock.now_ns()
                               if wall_offset_ns is None else wall_offset_ns)
        self.clock_map = clock_map or self._start_map(wall_offset_ns is None)
        self._watch = self._clock_watch(wall_clock, wall_offset_ns is None and clock_map is None)
        self.paths: list[Path] = []
        self.tally: dict[str, StreamTally] = {}
        self._file_tally: dict[str, StreamTally] = {}
        self.attachments: dict[str, tuple[str, bytes]] = {}
        self.devices: dict[str, dict[str, Any]] = {}
        self._pending_changes: collections.deque[ModeChange] = collections.deque()
        self.dropped = 0
        self.stopped: str | None = None
        self._codecs: dict[tuple[str, str], Codec] = {}
        self._file: _File | None = None
        self._chunk_started_ns: int | None = None
        self._closed = False

    # -- public API -----------------------------------------------------------------------
    def add_device(self, stream: str, info: Mapping[str, Any]) -> None:
        """Record driver metadata (device, URL, ranges, modes, power model) for ``stream``."""
        self.devices[stream] = dict(info)
        if self._file is not None:
            self._write_device(self._file, stream)

    def add_driver(self, driver: Driver, **extra: Any) -> None:
        """Record a driver's metadata and attach its power-model table (``power/NAME.toml``)."""
        info = {"driver": driver.name, "url": driver.url.raw, "rate_hz": driver.rate_hz,
                "mode": driver.mode, "modes": list(driver.modes),
                "power_model": driver.power_model or "", **extra}
        self.add_device(driver.stream, info)
        table = power_table_text(driver.power_model)
        if table is not None and driver.power_model:
            self.add_attachment(f"power/{driver.power_model}.toml", "application/toml", table)

    def add_change(self, change: ModeChange) -> None:
        """Record a rate, mode or power-state change, so replays and the energy ledger know
        what the device was doing (a ``sensekit.change`` metadata record).

        Safe to call from any thread (pass it to :meth:`~sensekit.driver.Driver.on_change`):
        the change is queued and written by the recording thread at its next write or tick.
        """
        self._pending_changes.append(change)

    def _write_changes(self, f: _File) -> None:
        while self._pending_changes:
            f.writer.add_metadata("sensekit.change",
                                  _change_record(self._pending_changes.popleft()))

    def add_attachment(self, name: str, media_type: str, data: bytes) -> None:
        """Attach a file (a power-model table, a calibration) to this and later files."""
        self.attachments[name] = (media_type, bytes(data))
        if self._file is not None:
            self._file.writer.add_attachment(0, 0, name, media_type, bytes(data))

    def write(self, packet: Packet) -> None:
        """Record one packet.

        Raises:
            RecordingStopped: the disk is full or failing; the file is closed and readable up
                to the last flush. Later packets are counted in ``dropped``.
        """
        if self._closed or self.stopped:
            self.dropped += len(packet)
            return
        if len(packet) == 0:
            return
        try:
            self._write(packet)
        except OSError as exc:
            self._stop(exc)

    def flush(self) -> None:
        """Close the current chunk, write it out and fsync."""
        if self._file is None or self.stopped:
            return
        try:
            self._flush(self._file)
        except OSError as exc:
            self._stop(exc)

    def tick(self) -> None:
        """Write queued changes; flush if ``flush_s`` has passed since the chunk in progress
        began. The recording loop calls this when idle."""
        if self._file is not None and self._pending_changes and not self.stopped:
            try:
                self._write_changes(self._file)
            except OSError as exc:
                self._stop(exc, raise_=False)
        if self._file is not None and not self.stopped:
            try:
                self._watch_clock(self._file)
            except OSError as exc:
                self._stop(exc, raise_=False)
        if self._chunk_started_ns is not None and self._due():
            self.flush()

    def close(self) -> None:
        """Finish the current file: flush, write the summary and the index (idempotent).

        A recording that got no packet still leaves a valid file with its metadata.
        """
        if self._closed:
            return
        self._closed = True
        if not self.stopped:
            try:
                if self._file is None and not self.paths:
                    self._file = self._open_next()
                if self._file is not None:
                    self._finish(self._file)
            except OSError as exc:
                self._stop(exc, raise_=False)
        self._file = None
        self._reserve.release()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def writing(self) -> Path | None:
        """The file being written now (``NAME.mcap.part``), or None."""
        return self._file.part if self._file is not None else None

    @property
    def _splitting(self) -> bool:
        return self.split_bytes is not None or self.split_s is not None

    @property
    def samples(self) -> int:
        """Samples recorded so far, all streams."""
        return sum(t.samples for t in self.tally.values())

    # -- internals ------------------------------------------------------------------------
    def _write(self, packet: Packet) -> None:
        f = self._current_file()
        if self._pending_changes:
            self._write_changes(f)
        key = (packet.stream, _shape_key(packet))
        channel = f.channels.get(key)
        if channel is None:
            channel = self._register(f, packet, key)
        codec = self._codecs[key]
        self._watch_clock(f)
        messages = [m for part in _time_slices(packet) for m in codec.encode(part)]
        for t_ns, data in messages:
            log_time = self.clock_map.log_time_ns(t_ns)
            f.writer.add_message(channel, log_time, data, log_time)
        self.tally.setdefault(packet.stream, StreamTally()).add(packet, len(messages))
        self._file_tally.setdefault(packet.stream, StreamTally()).add(packet, len(messages))
        if self._chunk_started_ns is None:
            self._chunk_started_ns = self.clock.now_ns()
        elif self._due():
            self._flush(f)

    def _due(self) -> bool:
        started = self._chunk_started_ns
        return started is not None and self.clock.now_ns() - started >= self.flush_s * 1e9

    def _current_file(self) -> _File:
        f = self._file
        if f is not None and self._split_due(f):
            self._finish(f)
            f = self._file = None
        if f is None:
            f = self._file = self._open_next()
        return f

    def _split_due(self, f: _File) -> bool:
        if self.split_bytes is not None and f.stream.tell() >= self.split_bytes:
            return True
        return self.split_s is not None and (
            self.clock.now_ns() - f.opened_ns >= self.split_s * 1e9)

    def _open_next(self) -> _File:
        from mcap.writer import CompressionType, Writer

        path = numbered_path(self.base, len(self.paths)) if self._splitting else self.base
        path.parent.mkdir(parents=True, exist_ok=True)
        self._reserve.ensure(summary_bytes_needed(0, ()))  # room to close, before any write
        stream = self._opener(part_path(path), "wb")
        writer = Writer(stream, chunk_size=self.chunk_bytes, compression=CompressionType.LZ4)
        f = _File(path, stream, writer, self.clock.now_ns())
        try:
            self._start_file(f)
        except OSError:
            # Only the file's own header was written: remove it rather than leave a .part.
            with contextlib.suppress(OSError):
                stream.close()
            with contextlib.suppress(OSError):
                f.part.unlink()
            raise
        self.paths.append(path)
        log.info("recording to %s", f.part)
        return f

    def _start_file(self, f: _File) -> None:
        writer = f.writer
        writer.start(profile="", library=f"sensekit/{__version__}")
        self._codecs.clear()
        self._file_tally = {}
        writer.add_metadata("sensekit.log", self._log_metadata(len(self.paths)))
        self._write_clock(f)
        if self.rig_config:
            self.attachments.setdefault("rig.toml", ("application/toml",
                                                     self.rig_config.encode()))
        for name, (media, data) in self.attachments.items():
            writer.add_attachment(0, 0, name, media, data)
        for stream_name in self.devices:
            self._write_device(f, stream_name)
        self._write_changes(f)
        self._flush(f)

    def _start_map(self, measured: bool) -> ClockMap:
        synced = {True: "true", False: "false", None: "unknown"}[self.clock_synced]
        source = "system clock" if measured else "given offset"
        return ClockMap([ClockStep(self.clock.now_ns(), self.wall_offset_ns, synced, source)])

    def _write_clock(self, f: _File) -> None:
        for step in self.clock_map.steps:
            f.writer.add_metadata("sensekit.clock", step.record())

    def _clock_watch(self, wall: Callable[[], int] | None, measured: bool) -> WallClockWatch | None:
        if wall is None and measured and isinstance(self.clock, MonotonicClock):
            wall = time.time_ns
        if wall is None:
            return None
        return WallClockWatch(self.clock, wall, clock_synchronized)

    def _watch_clock(self, f: _File) -> None:
        """Record a step of the wall clock: from now on UTC follows the new offset."""
        step = self._watch.check(self.clock_map.current) if self._watch else None
        if step is None:
            return
        jump = (step.offset_ns - self.clock_map.current.offset_ns) / 1e9
        self.clock_map.add(step)
        f.writer.add_metadata("sensekit.clock", step.record())
        log.warning("%s: %s by %+.3f s (synchronised: %s); recorded in the log", f.path,
                    step.source, jump, step.synchronized)

    def _log_metadata(self, part: int) -> dict[str, str]:
        synced = {True: "true", False: "false", None: "unknown"}[self.clock_synced]
        meta = {"format": LOG_FORMAT, "log_time": "utc",
                "wall_offset_ns": str(self.wall_offset_ns),
                "clock_synchronized": synced, "host": socket.gethostname(),
                "sensekit_version": __version__, "part": str(part),
                "flush_s": str(self.flush_s)}
        meta.update(self.extra)
        return meta

    def _write_device(self, f: _File, stream: str) -> None:
        info = {k: v if isinstance(v, str) else json.dumps(v, default=str)
                for k, v in self.devices[stream].items()}
        f.writer.add_metadata(f"sensekit.device.{stream}", info)

    def _register(self, f: _File, packet: Packet, key: tuple[str, str]) -> int:
        codec = codec_for_packet(packet, clock=self.clock_map)
        schema_id = f.writer.register_schema(codec.schema_name, codec.schema_encoding,
                                             codec.schema_data)
        chan_meta = {"sensekit.modality": packet.modality}
        channel = f.writer.register_channel(packet.stream, codec.message_encoding, schema_id,
                                            chan_meta)
        f.writer.add_metadata("sensekit.channel", {
            "channel_id": str(channel), "topic": packet.stream,
            "message_encoding": codec.message_encoding, "schema_name": codec.schema_name,
            "schema_encoding": codec.schema_encoding, "schema_data": codec.schema_data.decode(),
            "metadata": json.dumps(chan_meta)})
        f.channels[key] = channel
        f.decls.append(ChannelDecl(int(channel), int(schema_id), packet.stream,
                                   codec.message_encoding, chan_meta, codec.schema_name,
                                   codec.schema_encoding, codec.schema_data))
        self._codecs[key] = codec
        return int(channel)

    def _flush(self, f: _File) -> None:
        f.writer.flush()
        # The indexes are rebuilt from the file at close, so memory stays flat.
        f.records += forget_indexes(f.writer) or 1
        if self.fsync:
            os.fsync(f.stream.fileno())
        f.data_end = f.stream.tell()
        self._chunk_started_ns = None
        # Grown ahead of need, so that when growing fails the space held still closes the file.
        need = summary_bytes_needed(f.records, f.decls)
        if need + RESERVE_HEADROOM_BYTES > self._reserve.size:
            self._reserve.ensure(need + max(need // 2, RESERVE_HEADROOM_BYTES))

    def _finish(self, f: _File) -> None:
        self._write_changes(f)
        summary = {s: json.dumps(t.__dict__) for s, t in self._file_tally.items()}
        f.writer.add_metadata("sensekit.summary", summary)
        self._flush(f)
        with open(f.part, "rb") as source:
            SummaryWriter(f.stream, source, f.decls).finish()
        f.stream.flush()
        if self.fsync:
            os.fsync(f.stream.fileno())
        f.stream.close()
        publish(f.part, fsync=self.fsync)
        self._chunk_started_ns = None

    def _stop(self, exc: OSError, raise_: bool = True) -> None:
        f, self._file = self._file, None
        path = f.part if f is not None else self.base
        why = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        self.stopped = f"{why} while writing {path}"
        kept = self._close_stopped(f, why) if f is not None else "nothing was written"
        log.error("recording stopped: %s; %s", self.stopped, kept)
        if raise_:
            raise RecordingStopped(f"recording stopped: {self.stopped}; {kept}") from exc

    def _close_stopped(self, f: _File, why: str) -> str:
        """Close a file whose writes failed: with its index if at all possible."""
        with contextlib.suppress(OSError):  # its buffer holds what could not be written
            f.stream.close()
        self._reserve.release()  # the space set aside for this moment
        try:
            close_with_index(f.part, f.data_end, f.decls, stopped=why, opener=self._opener,
                             fsync=self.fsync)
            final = publish(f.part, fsync=self.fsync)
        except OSError as exc:
            self.paths[-1] = f.part
            return (f"{f.part} is readable up to its last complete chunk (byte {f.data_end}) "
                    f"but has no index ({exc.strerror or exc}). Hint: free space, then "
                    f"'sensekit log repair {f.part}'")
        return (f"{final} is closed with its index and holds everything recorded up to the "
                f"last flush (at most {self.flush_s:g} s before)")


def _time_slices(packet: Packet) -> list[Packet]:
    """``packet`` cut into pieces that each span less than ``MAX_MESSAGE_SPAN_NS``."""
    t = packet.t_ns
    if len(t) < 2 or int(t[-1]) - int(t[0]) < MAX_MESSAGE_SPAN_NS:
        return [packet]
    bins = (t - t[0]) // MAX_MESSAGE_SPAN_NS
    cuts = np.flatnonzero(np.diff(bins)) + 1
    edges = [0, *cuts.tolist(), len(t)]
    return [packet.slice(a, b) for a, b in itertools.pairwise(edges)]


def _change_record(change: ModeChange) -> dict[str, str]:
    return {"t_ns": str(change.t_ns), "device": change.device, "stream": change.stream,
            "setting": change.setting, "old": json.dumps(change.old, default=str),
            "new": json.dumps(change.new, default=str), "reason": change.reason}


def power_table_text(name: str | None) -> bytes | None:
    """The shipped power-model table ``name`` as bytes, or None if there is none."""
    if not name:
        return None
    from importlib import resources

    entry = resources.files("sensekit.power").joinpath("tables").joinpath(f"{name}.toml")
    try:
        return entry.read_bytes()
    except (FileNotFoundError, OSError):
        return None


def _shape_key(packet: Packet) -> str:
    if packet.modality in ("gps", "camera"):
        return packet.modality
    return ";".join(f"{k}:{v.dtype.str}{v.shape[1:]}" for k, v in packet.fields.items())
