"""Reading recordings: streams, time ranges, and files that were cut off or damaged.

:func:`open` returns a :class:`LogReader`. It uses the chunk index when the file has one and a
sequential scan when it does not (a recording cut by power loss or ``kill -9``), and reads a
time range by decompressing only the chunks that overlap it.

A chunk that fails to decompress or fails its CRC raises :class:`~sensekit.errors.LogFormatError`
naming the file and the chunk's byte offset; with ``skip_corrupt=True`` the reader skips it,
counts the messages lost in ``lost_messages`` (from the chunk's message index, when it
survived), warns with :class:`~sensekit.errors.SampleDropped` and reads on. :meth:`LogReader.loss`
gives the exact count once every chunk was read: what the file says it holds (its index's
statistics, or the recorder's closing tally) minus what could be read.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..clock import ClockMap, ClockStep
from ..driver import ModeChange
from ..errors import LogFormatError, SampleDropped
from ..packets import Packet, concat
from .chunks import Entry, split_chunk
from .codec import MAX_MESSAGE_SPAN_NS, Codec, codec_for_channel
from .index import message_index_count
from .recorder import LOG_FORMAT
from .records import ChannelRecord, ChunkRecord
from .scan import Layout, open_map, scan_layout

__all__ = ["LogReader", "Loss", "StreamInfo", "open"]

log = logging.getLogger(__name__)

#: A message is stamped with its first sample and spans at most MAX_MESSAGE_SPAN_NS (the
#: recorder splits longer packets); chunks ending that long before a range may reach into it.
PACKET_SPAN_MARGIN_NS = MAX_MESSAGE_SPAN_NS


@dataclass(frozen=True)
class StreamInfo:
    """One stream of a recording.

    Attributes:
        name: Stream (MCAP topic).
        modality: Packet modality (``"imu"``, ``"gps"``...).
        schema: Schema name in the file.
        samples: Samples recorded.
        messages: MCAP messages holding them.
        start_ns, end_ns: First and last sample time (host monotonic ns).
        rate_hz: Mean sample rate over the stream's duration.
        gaps: Steps longer than three sample periods.
        gap_s: Time lost in those gaps.
    """

    name: str
    modality: str
    schema: str
    samples: int
    messages: int
    start_ns: int
    end_ns: int
    rate_hz: float
    gaps: int
    gap_s: float

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


@dataclass(frozen=True)
class Loss:
    """Messages a damaged recording lost.

    Attributes:
        messages: How many, exactly; None when the file does not say how many it held (a
            recording cut off before its index, damaged where its message indexes were).
        at_least: How many are known lost (equal to ``messages`` when that is known).
        damaged: Byte offsets of the damaged chunks and spans.
        counted_from: Where the count comes from.
    """

    messages: int | None
    at_least: int
    damaged: tuple[int, ...]
    counted_from: str

    def __str__(self) -> str:
        if self.messages is not None:
            return f"{self.messages:,} messages lost ({self.counted_from})"
        return (f"an unknown number of messages lost, at least {self.at_least:,} "
                f"({self.counted_from})")


class LogReader:
    """A recording open for reading. Use :func:`open`.

    Attributes:
        path: The file.
        indexed: Whether the chunk index was used (False for cut files).
        truncated_at: Byte offset where a cut or zero-filled tail began, else None.
        lost_messages: Messages in corrupt chunks skipped so far.
        corrupt_chunks: Byte offsets of the chunks skipped.
    """

    def __init__(self, path: str | os.PathLike[str], *, skip_corrupt: bool = False) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise LogFormatError(f"{self.path}: no such recording")
        self.skip_corrupt = skip_corrupt
        self._data = open_map(self.path)
        self.layout: Layout = scan_layout(self.path, self._data, resync=skip_corrupt)
        if self.layout.loose_messages and not (skip_corrupt and self.layout.chunks):
            # Messages outside chunks (an unchunked file from another tool) are not read.
            raise LogFormatError(
                f"{self.path}: {self.layout.loose_messages} messages are stored outside chunks, "
                "which sensekit does not read. Hint: rewrite it chunked, e.g. with the mcap "
                "CLI's 'mcap compress'")
        self.lost_messages = 0
        self.corrupt_chunks: list[int] = []
        self._unknown_lost = 0
        self._read_counts: dict[int, int] = {}  # chunk offset -> messages read from it
        for offset, why in self.layout.damaged:
            self._report(offset, None, why)
        for offset, why in self.layout.damaged_records:
            self._report(offset, 0, why)
        self._channels: dict[int, ChannelRecord] = dict(self.layout.channels)
        self._codecs: dict[int, Codec] = {}
        self._dropped_streams: set[str] = set()  # channels skipped as unreadable
        self._learn_from_metadata()
        self._streams: dict[str, StreamInfo] | None = None

    # -- file facts -----------------------------------------------------------------------
    @property
    def indexed(self) -> bool:
        return self.layout.indexed

    @property
    def truncated_at(self) -> int | None:
        return self.layout.truncated_at

    def metadata(self, name: str) -> list[dict[str, str]]:
        """All metadata records called ``name`` (e.g. ``sensekit.log``), in file order."""
        return [m for n, m in self.layout.metadata if n == name]

    @property
    def wall_offset_ns(self) -> int:
        """Wall-clock ns minus host monotonic ns when recording began (0 if unknown)."""
        meta = self.metadata("sensekit.log")
        try:
            return int(meta[0].get("wall_offset_ns", 0)) if meta else 0
        except ValueError:
            return 0

    @property
    def log_time_is_utc(self) -> bool:
        """Whether message ``log_time`` is UTC (sensekit-log/2 and other tools' files); files
        written before that hold host time there (``sensekit log repair`` rewrites them)."""
        meta = self.metadata("sensekit.log")
        return not meta or meta[0].get("format", LOG_FORMAT) != "sensekit-log/1"

    @property
    def clock_map(self) -> ClockMap:
        """Host time to UTC as recorded: every ``sensekit.clock`` step (split files repeat the
        earlier ones), or the start offset of a file written before clock steps were kept."""
        steps: dict[tuple[int, int], ClockStep] = {}
        for record in self.metadata("sensekit.clock"):
            try:
                step = ClockStep.from_record(record)
            except (KeyError, ValueError):
                continue  # a record cut short by power loss
            steps.setdefault((step.t_ns, step.offset_ns), step)
        if steps:
            return ClockMap(steps.values())
        return ClockMap.constant(self.wall_offset_ns, self.clock_synchronized, "sensekit.log")

    def utc_ns(self, t_ns: int) -> int:
        """UTC epoch ns of host time ``t_ns`` (by :attr:`clock_map`)."""
        return self.clock_map.utc_ns(t_ns)

    def log_time_to_utc(self, log_time: int) -> int:
        """A stored ``log_time`` as UTC: unchanged where logs store UTC; through the clock map
        in a file written before that (its ``log_time`` is the first sample's host time)."""
        return log_time if self.log_time_is_utc else self.clock_map.log_time_ns(log_time)

    def metadata_for_utc_copy(self) -> list[tuple[str, dict[str, str]]]:
        """The metadata records for a copy whose ``log_time`` is UTC (repair, export): as
        they are, except that a file written before that says so and gains its clock map."""
        records = [(name, dict(meta)) for name, meta in self.layout.metadata]
        if self.log_time_is_utc:
            return records
        for name, meta in records:
            if name == "sensekit.log":
                meta.update(format=LOG_FORMAT, log_time="utc", log_time_was="host monotonic "
                            "ns (sensekit-log/1), rewritten as UTC by the clock map")
        return records + [("sensekit.clock", s.record()) for s in self.clock_map.steps]

    def _log_range(self, lo: int, hi: int) -> tuple[int, int]:
        """The ``log_time`` range that may hold samples of host times ``[lo, hi)``."""
        if not self.log_time_is_utc:
            return lo, hi
        low, high = self.clock_map.offset_range
        return lo + low, hi + high

    @property
    def clock_synchronized(self) -> str:
        """``"true"``, ``"false"`` or ``"unknown"``: whether the wall clock was synchronised."""
        meta = self.metadata("sensekit.log")
        return meta[0].get("clock_synchronized", "unknown") if meta else "unknown"

    def gps_wall_offset_ns(self, stream: str = "gps") -> int | None:
        """The wall-clock offset GPS UTC implies: median of ``utc_ns - t_ns`` over fixes.

        A Pi has no real-time clock; when :attr:`clock_synchronized` is not ``"true"``, this
        corrects :attr:`wall_offset_ns`. None when the log has no GPS fix.
        """
        if stream not in self.stream_names():
            return None
        gps = self.read(stream)
        ok = (gps["mode"] >= 2) & (gps["utc_ns"] > 0) if "mode" in gps.fields else gps.t_ns < 0
        if not ok.any():
            return None
        return int(np.median(gps["utc_ns"][ok] - gps.t_ns[ok]))

    def changes(self) -> list[ModeChange]:
        """Rate, mode and power-state changes recorded during the session, in time order."""
        out = []
        for meta in self.metadata("sensekit.change"):
            try:
                out.append(ModeChange(int(meta["t_ns"]), meta["device"], meta["stream"],
                                      meta["setting"], json.loads(meta["old"]),
                                      json.loads(meta["new"]), meta.get("reason", "")))
            except (KeyError, ValueError):
                continue  # a record cut short by power loss
        return sorted(out, key=lambda c: c.t_ns)

    def devices(self) -> dict[str, dict[str, str]]:
        """Driver metadata per stream."""
        prefix = "sensekit.device."
        return {n[len(prefix):]: m for n, m in self.layout.metadata if n.startswith(prefix)}

    def attachment(self, name: str) -> bytes:
        """The bytes of the attachment called ``name`` (``rig.toml``)."""
        for a_name, _, offset, size in self.layout.attachments:
            if a_name == name:
                return bytes(self._data[offset:offset + size])
        raise KeyError(f"{self.path} has no attachment {name!r}; it has "
                       f"{[a[0] for a in self.layout.attachments]}")

    # -- streams --------------------------------------------------------------------------
    @property
    def streams(self) -> dict[str, StreamInfo]:
        """Every stream with its rate, sample count, duration and gaps."""
        if self._streams is None:
            self._streams = self._from_summary() or self._stream_infos()
        return self._streams

    def _from_summary(self) -> dict[str, StreamInfo] | None:
        """Stream facts from the recorder's closing summary (complete files): no chunk read."""
        summary = self.metadata("sensekit.summary")
        if not self.indexed or not summary:
            return None
        codecs = {c.stream: c for c in self._all_codecs()}
        out = {}
        for name, text in summary[-1].items():
            codec = codecs.get(name)
            if codec is None:
                return None
            try:
                tally = json.loads(text)
                n, first, last = int(tally["samples"]), int(tally["first_ns"]), int(
                    tally["last_ns"])
                messages, gaps, gap_s = int(tally["messages"]), int(tally["gaps"]), float(
                    tally["gap_s"])
            except (ValueError, KeyError, TypeError):
                return None  # metadata has no CRC: a damaged summary means scanning instead
            duration = (last - first) / 1e9
            rate = (n - 1) / duration if n > 1 and duration > 0 else 0.0
            out[name] = StreamInfo(name, codec.modality, codec.schema_name, n, messages,
                                   first, last, rate, gaps, gap_s)
        return dict(sorted(out.items()))

    def scan_streams(self) -> dict[str, StreamInfo]:
        """Stream facts computed from every sample time (what :attr:`streams` does for files
        without a closing summary)."""
        return self._stream_infos()

    def _stream_infos(self) -> dict[str, StreamInfo]:
        times: dict[str, list[np.ndarray[Any, np.dtype[np.int64]]]] = {}
        messages: dict[str, int] = {}
        for cid, entries in self._entries_by_chunk(self.layout.chunks):
            codec = self._codec(cid)
            if codec is None:
                continue
            for _, _, data in entries:
                times.setdefault(codec.stream, []).append(codec.decode_times(data))
            messages[codec.stream] = messages.get(codec.stream, 0) + len(entries)
        out = {}
        for name, parts in times.items():
            t = np.sort(np.concatenate(parts))
            codec = next(c for c in self._all_codecs() if c.stream == name)
            out[name] = _info(name, codec, t, messages[name])
        return dict(sorted(out.items()))

    def read(self, stream: str, start_ns: int | None = None,
             end_ns: int | None = None) -> Packet:
        """All samples of ``stream`` with ``start_ns <= t_ns < end_ns``, as one packet.

        Only chunks overlapping the range are decompressed.
        """
        parts = list(self.packets([stream], start_ns, end_ns))
        shapes = {tuple((k, v.shape[1:]) for k, v in p.fields.items()) for p in parts}
        if len(shapes) > 1:
            raise ValueError(f"{self.path}: stream {stream!r} changes shape within the range "
                             f"(e.g. camera frames of several sizes); iterate "
                             f"packets([{stream!r}]) instead of reading it as one packet")
        if not parts:
            if stream not in self.stream_names() and stream not in self._dropped_streams:
                raise KeyError(f"{self.path} has no stream {stream!r}; it has "
                               f"{self.stream_names()}")
            return self._empty(stream)
        return _time_ordered(concat(parts))

    def stream_names(self) -> list[str]:
        """Names of the streams whose channels are known (without scanning all chunks)."""
        if not self._channels and self.layout.chunks:
            self._load(self.layout.chunks[0])
        return sorted({c.topic for c in self._channels.values()})

    def packets(self, streams: Iterable[str] | None = None, start_ns: int | None = None,
                end_ns: int | None = None) -> Iterator[Packet]:
        """Packets of ``streams`` (all by default) in time order, trimmed to the range."""
        wanted = None if streams is None else set(streams)
        lo = -(2**63) if start_ns is None else start_ns
        hi = 2**63 - 1 if end_ns is None else end_ns
        log_lo, log_hi = self._log_range(lo, hi)
        chunks = [c for c in self.layout.chunks
                  if c.end_ns >= log_lo - PACKET_SPAN_MARGIN_NS and c.start_ns < log_hi]
        for _, cid, data in self._merged(chunks):
            codec = self._codec(cid)
            if codec is None or (wanted is not None and codec.stream not in wanted):
                continue
            packet = codec.decode(data)
            t = packet.t_ns
            if len(t) and (t[0] < lo or t[-1] >= hi):
                packet = packet.select((t >= lo) & (t < hi))
            if len(packet):
                yield packet

    def raw_messages(self, start_ns: int | None = None, end_ns: int | None = None,
                     ) -> Iterator[tuple[ChannelRecord, int, memoryview]]:
        """``(channel, log_time, data)`` of every message in log-time order, undecoded."""
        lo = -(2**63) if start_ns is None else start_ns
        hi = 2**63 - 1 if end_ns is None else end_ns
        chunks = [c for c in self.layout.chunks if c.end_ns >= lo and c.start_ns < hi]
        for log_time, cid, data in self._merged(chunks):
            channel = self._channels.get(cid)
            if channel is not None and lo <= log_time < hi:
                yield channel, log_time, data

    # -- internals ------------------------------------------------------------------------
    def _merged(self, chunks: list[ChunkRecord]) -> Iterator[Entry]:
        """Messages of ``chunks`` in log-time order (chunks may overlap in time)."""
        order = sorted(chunks, key=lambda c: (c.start_ns, c.offset))
        heap: list[tuple[int, int, int, Entry]] = []
        seq = 0
        i = 0
        while i < len(order) or heap:
            # Load every chunk that may hold a message before the earliest one pending.
            while i < len(order) and (not heap or order[i].start_ns <= heap[0][0]):
                for entry in self._load(order[i]):
                    heapq.heappush(heap, (entry[0], order[i].offset, seq, entry))
                    seq += 1
                i += 1
            if heap:
                yield heapq.heappop(heap)[3]

    def _entries_by_chunk(self, chunks: list[ChunkRecord]) -> Iterator[tuple[int, list[Entry]]]:
        for chunk in chunks:
            by_channel: dict[int, list[Entry]] = {}
            for entry in self._load(chunk):
                by_channel.setdefault(entry[1], []).append(entry)
            yield from by_channel.items()

    def _load(self, chunk: ChunkRecord) -> list[Entry]:
        try:
            entries = split_chunk(self.path, self._data, chunk, self._channels,
                                  self.layout.schemas)
        except LogFormatError as exc:
            if not self.skip_corrupt:
                raise
            if chunk.offset not in self.corrupt_chunks:
                self._report(chunk.offset, self._lost_in(chunk), str(exc))
            return []
        self._read_counts[chunk.offset] = sum(1 for e in entries if e[1] in self._channels)
        return entries

    def _lost_in(self, chunk: ChunkRecord) -> int | None:
        """Messages in a damaged chunk, from its message indexes if they passed their checks."""
        if chunk.messages is not None:
            return chunk.messages
        if not chunk.index_offsets or chunk.index_damaged:
            return None
        total = 0
        for cid, offset in chunk.index_offsets.items():
            n = message_index_count(self._data, offset, cid, chunk.uncompressed_size)
            if n is None:
                return None
            total += n
        return total

    def loss(self, kept: int | None = None) -> Loss:
        """What damage cost: read every chunk not read yet, then compare with what the file
        says it holds (the statistics of an intact index, else the recorder's closing tally).

        Args:
            kept: Messages a copy kept, when it is not every message read (a repair).
        """
        for chunk in self.layout.chunks:
            if chunk.offset not in self._read_counts and chunk.offset not in self.corrupt_chunks:
                self._load(chunk)
        damaged = tuple(self.corrupt_chunks)
        read = sum(self._read_counts.values()) if kept is None else kept
        held, source = self._messages_held()
        if held is not None:
            lost = max(held - read, 0)
            return Loss(lost, lost, damaged, f"the file held {held:,}; {read:,} were read, "
                                              f"counted from {source}")
        if not self._unknown_lost:
            return Loss(self.lost_messages, self.lost_messages, damaged,
                        "counted from the damaged chunks' message indexes")
        return Loss(None, self.lost_messages, damaged,
                    f"{self._unknown_lost} damaged spans or chunks have no surviving count")

    def _messages_held(self) -> tuple[int | None, str]:
        if self.layout.expected_messages is not None:
            return self.layout.expected_messages, "the index's statistics"
        tallies = self.metadata("sensekit.summary")
        try:
            return (sum(int(json.loads(t)["messages"]) for t in tallies[-1].values()),
                    "the recorder's closing tally") if tallies else (None, "")
        except (ValueError, KeyError, TypeError):
            return None, ""  # a damaged tally says nothing

    def _report(self, offset: int, lost: int | None, why: str) -> None:
        self.corrupt_chunks.append(offset)
        if lost is None:
            self._unknown_lost += 1
            text = "an unknown number of"
        else:
            self.lost_messages += lost
            text = str(lost)
        warnings.warn(f"{self.path}: skipped corrupt data at byte {offset}, {text} messages "
                      f"lost ({why})", SampleDropped, stacklevel=3)

    def _learn_from_metadata(self) -> None:
        for name, meta in self.layout.metadata:
            if name != "sensekit.channel":
                continue
            try:
                cid = int(meta["channel_id"])
                record = ChannelRecord(
                    cid, meta["topic"], meta["message_encoding"], meta["schema_name"],
                    meta["schema_encoding"], meta["schema_data"].encode(),
                    json.loads(meta.get("metadata", "{}")))
            except (KeyError, ValueError):
                continue  # a record cut short; the channel is also declared in its chunk
            self._channels.setdefault(cid, record)

    def _codec(self, cid: int) -> Codec | None:
        codec = self._codecs.get(cid)
        if codec is None:
            ch = self._channels.get(cid)
            if ch is None:
                return None
            try:
                codec = codec_for_channel(ch.topic, ch.message_encoding, ch.schema_name,
                                          ch.schema_encoding, ch.schema_data, ch.metadata)
            except LogFormatError as exc:
                if not self.skip_corrupt:
                    raise LogFormatError(f"{self.path}: {exc}") from None
                self._dropped_streams.add(self._channels.pop(cid).topic)
                self._report(-1, None, f"channel {cid}: {exc}")
                return None
            self._codecs[cid] = codec
        return codec

    def _all_codecs(self) -> list[Codec]:
        return [c for cid in list(self._channels) if (c := self._codec(cid)) is not None]

    def _empty(self, stream: str) -> Packet:
        codec = next((c for c in self._all_codecs() if c.stream == stream), None)
        fields = {name: np.zeros((0, *shape), dtype) for name, dtype, shape in
                  (codec.fields if codec else ())}
        return Packet(stream, np.zeros(0, np.int64), fields, codec.modality if codec else "")

    def close(self) -> None:
        """Release the file mapping."""
        close = getattr(self._data, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "indexed" if self.indexed else "scanned"
        if self.truncated_at is not None:
            state += f", cut at byte {self.truncated_at}"
        return f"<LogReader {self.path} {state}, {len(self.layout.chunks)} chunks>"


def _time_ordered(packet: Packet) -> Packet:
    """``packet`` sorted by time when its messages overlapped (rows imported out of order, or
    a wall clock stepped back between messages); stable, so equal times keep their order."""
    t = packet.t_ns
    if len(t) < 2 or bool(np.all(t[1:] >= t[:-1])):
        return packet
    return packet.select(np.argsort(t, kind="stable"))


def _info(name: str, codec: Codec, t: np.ndarray[Any, np.dtype[np.int64]],
          messages: int) -> StreamInfo:
    n = len(t)
    duration = (int(t[-1]) - int(t[0])) / 1e9 if n else 0.0
    rate = (n - 1) / duration if n > 1 and duration > 0 else 0.0
    gaps, gap_s = 0, 0.0
    if n > 2:
        steps = np.diff(t)
        period = float(np.median(steps))
        big = steps[steps > 3 * period] if period > 0 else steps[:0]
        gaps, gap_s = len(big), float((big - period).sum()) / 1e9
    return StreamInfo(name, codec.modality, codec.schema_name, n, messages,
                      int(t[0]) if n else 0, int(t[-1]) if n else 0, rate, gaps, gap_s)


def open(path: str | os.PathLike[str], *, skip_corrupt: bool = False) -> LogReader:
    """Open a recording.

    Args:
        path: An MCAP file, complete or cut off.
        skip_corrupt: Skip damaged chunks (counting the messages lost) instead of raising.

    Raises:
        LogFormatError: not an MCAP file, or (without ``skip_corrupt``) damaged in the middle;
            the message names the file and the byte offset.
    """
    return LogReader(path, skip_corrupt=skip_corrupt)
