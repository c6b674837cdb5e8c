"""The MCAP summary section, written at close by re-reading the data section record by record.

The ``mcap`` package's writer keeps every chunk index (and metadata index) in memory until
``finish()``, and builds the whole summary in memory then: a long recording would grow by a
few hundred bytes per chunk. The recorder instead forgets those indexes after each chunk and,
at close, streams the summary from the file itself: each pass over the data section reads only
record headers, and each summary record is written as soon as it is known. Memory stays the
same for an hour as for a minute.

Layout written (MCAP specification, "Summary Section"): Schema and Channel records, ChunkIndex
records, AttachmentIndex records, MetadataIndex records, Statistics, then one SummaryOffset per
group, the Footer (with the summary CRC) and the closing magic.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

__all__ = ["ChannelDecl", "SummaryWriter", "forget_indexes"]

_REC = struct.Struct("<BQ")
_CHUNK_HEAD = struct.Struct("<QQQI")
OP_FOOTER, OP_SCHEMA, OP_CHANNEL, OP_CHUNK, OP_MESSAGE_INDEX = 2, 3, 4, 6, 7
OP_CHUNK_INDEX, OP_ATTACHMENT, OP_ATTACHMENT_INDEX, OP_STATISTICS = 8, 9, 10, 11
OP_METADATA, OP_METADATA_INDEX, OP_DATA_END = 12, 13, 15
MAGIC = b"\x89MCAP0\r\n"


@dataclass(frozen=True)
class ChannelDecl:
    """A schema and channel the recorder registered (bounded by the number of streams)."""

    channel_id: int
    schema_id: int
    topic: str
    message_encoding: str
    metadata: dict[str, str]
    schema_name: str
    schema_encoding: str
    schema_data: bytes


def forget_indexes(writer: Any) -> int:
    """Drop the indexes the ``mcap`` writer accumulates; :class:`SummaryWriter` rebuilds them.

    Uses the writer's private lists when they exist (mcap 1.x); otherwise they simply grow.
    Returns how many index entries were dropped (what the summary will have to list again).
    """
    dropped = 0
    for name in ("_Writer__chunk_indices", "_Writer__metadata_indexes",
                 "_Writer__attachment_indexes"):
        items = getattr(writer, name, None)
        if isinstance(items, list):
            dropped += len(items)
            items.clear()
    return dropped


@dataclass
class _Stats:
    messages: dict[int, int] = field(default_factory=dict)
    start: int | None = None
    end: int = 0
    chunks: int = 0
    attachments: int = 0
    metadata: int = 0


class SummaryWriter:
    """Writes DataEnd, the summary section, the footer and the magic after the data section.

    Args:
        out: The file being written, positioned at the end of the data section.
        source: The same file opened for reading.
        channels: What the recorder registered.
    """

    def __init__(self, out: BinaryIO, source: BinaryIO, channels: list[ChannelDecl]) -> None:
        self.out, self.source, self.channels = out, source, channels
        self._crc = 0
        self._pos = 0
        self._groups: list[tuple[int, int, int]] = []
        self._stats = _Stats()

    def finish(self) -> None:
        """Write everything after the data section; the file is then a valid indexed MCAP."""
        data_end = self.out.tell()
        self.out.write(_record(OP_DATA_END, struct.pack("<I", 0)))
        self._pos = summary_start = self.out.tell()
        self._group(OP_SCHEMA, (self._schema(c) for c in _unique_schemas(self.channels)))
        self._group(OP_CHANNEL, (self._channel(c) for c in self.channels))
        self._group(OP_CHUNK_INDEX, self._chunk_indexes(data_end))
        self._group(OP_ATTACHMENT_INDEX, self._attachment_indexes(data_end))
        self._group(OP_METADATA_INDEX, self._metadata_indexes(data_end))
        self._group(OP_STATISTICS, iter([self._statistics()]))
        offsets_start = self._pos
        for opcode, start, length in self._groups:
            self._emit(_record(0x0E, struct.pack("<BQQ", opcode, start, length)))
        footer_head = struct.pack("<BQQQ", OP_FOOTER, 20, summary_start, offsets_start)
        crc = zlib.crc32(footer_head, self._crc)
        self.out.write(footer_head + struct.pack("<I", crc) + MAGIC)

    # -- groups -----------------------------------------------------------------------------
    def _group(self, opcode: int, records: Iterator[bytes]) -> None:
        start = self._pos
        for rec in records:
            self._emit(rec)
        if self._pos > start:
            self._groups.append((opcode, start, self._pos - start))

    def _emit(self, rec: bytes) -> None:
        self.out.write(rec)
        self._crc = zlib.crc32(rec, self._crc)
        self._pos += len(rec)

    def _schema(self, c: ChannelDecl) -> bytes:
        return _record(OP_SCHEMA, struct.pack("<H", c.schema_id) + _str(c.schema_name)
                       + _str(c.schema_encoding) + struct.pack("<I", len(c.schema_data))
                       + c.schema_data)

    def _channel(self, c: ChannelDecl) -> bytes:
        meta = b"".join(_str(k) + _str(v) for k, v in c.metadata.items())
        return _record(OP_CHANNEL, struct.pack("<HH", c.channel_id, c.schema_id) + _str(c.topic)
                       + _str(c.message_encoding) + struct.pack("<I", len(meta)) + meta)

    def _chunk_indexes(self, data_end: int) -> Iterator[bytes]:
        pending: list[Any] | None = None  # [pos, length, head fields, {cid: offset}, idx_len]
        for op, pos, length in self._records(data_end):
            if op == OP_MESSAGE_INDEX and pending is not None:
                cid, count = struct.unpack("<HI", self._read(pos + 9, 6))
                pending[3][cid] = pos
                pending[4] += 9 + length
                self._stats.messages[cid] = self._stats.messages.get(cid, 0) + count // 16
                continue
            if pending is not None:
                yield self._chunk_index(*pending)
                pending = None
            if op == OP_CHUNK:
                pending = [pos, length, self._chunk_head(pos), {}, 0]
        if pending is not None:
            yield self._chunk_index(*pending)

    def _chunk_head(self, pos: int) -> tuple[int, int, int, str, int]:
        head = self._read(pos + 9, _CHUNK_HEAD.size + 4)
        start, end, usize, _ = _CHUNK_HEAD.unpack_from(head)
        (clen,) = struct.unpack_from("<I", head, _CHUNK_HEAD.size)
        tail = self._read(pos + 9 + _CHUNK_HEAD.size + 4, clen + 8)
        compression = tail[:clen].decode()
        (data_len,) = struct.unpack_from("<Q", tail, clen)
        st = self._stats
        st.chunks += 1
        st.start = start if st.start is None else min(st.start, start)
        st.end = max(st.end, end)
        return start, end, usize, compression, data_len

    def _chunk_index(self, pos: int, length: int, head: tuple[int, int, int, str, int],
                     offsets: dict[int, int], index_length: int) -> bytes:
        start, end, usize, compression, data_len = head
        body = struct.pack("<QQQQI", start, end, pos, 9 + length, 10 * len(offsets))
        body += b"".join(struct.pack("<HQ", cid, off) for cid, off in offsets.items())
        body += struct.pack("<Q", index_length) + _str(compression)
        body += struct.pack("<QQ", data_len, usize)
        return _record(OP_CHUNK_INDEX, body)

    def _attachment_indexes(self, data_end: int) -> Iterator[bytes]:
        for op, pos, length in self._records(data_end):
            if op != OP_ATTACHMENT:
                continue
            log_time, create_time, nlen = struct.unpack("<QQI", self._read(pos + 9, 20))
            name = self._read(pos + 29, nlen)
            (mlen,) = struct.unpack("<I", self._read(pos + 29 + nlen, 4))
            media = self._read(pos + 33 + nlen, mlen)
            (size,) = struct.unpack("<Q", self._read(pos + 33 + nlen + mlen, 8))
            self._stats.attachments += 1
            yield _record(OP_ATTACHMENT_INDEX, struct.pack(
                "<QQQQQ", pos, 9 + length, log_time, create_time, size)
                + _str(name.decode()) + _str(media.decode()))

    def _metadata_indexes(self, data_end: int) -> Iterator[bytes]:
        for op, pos, length in self._records(data_end):
            if op != OP_METADATA:
                continue
            (nlen,) = struct.unpack("<I", self._read(pos + 9, 4))
            name = self._read(pos + 13, nlen).decode()
            self._stats.metadata += 1
            yield _record(OP_METADATA_INDEX, struct.pack("<QQ", pos, 9 + length) + _str(name))

    def _statistics(self) -> bytes:
        st = self._stats
        counts = b"".join(struct.pack("<HQ", cid, n) for cid, n in sorted(st.messages.items()))
        body = struct.pack("<QHIIIIQQI", sum(st.messages.values()),
                           len(_unique_schemas(self.channels)), len(self.channels),
                           st.attachments, st.metadata, st.chunks, st.start or 0, st.end,
                           len(counts)) + counts
        return _record(OP_STATISTICS, body)

    # -- reading the data section -------------------------------------------------------------
    def _records(self, data_end: int) -> Iterator[tuple[int, int, int]]:
        pos = 8
        while pos + 9 <= data_end:
            op, length = _REC.unpack(self._read(pos, 9))
            yield op, pos, length
            pos += 9 + length

    def _read(self, pos: int, n: int) -> bytes:
        self.source.seek(pos)
        data = self.source.read(n)
        if len(data) != n:
            raise OSError(f"short read at byte {pos} of the file being closed")
        return data


def _record(opcode: int, body: bytes) -> bytes:
    return _REC.pack(opcode, len(body)) + body


def _str(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<I", len(raw)) + raw


def _unique_schemas(channels: list[ChannelDecl]) -> list[ChannelDecl]:
    seen: dict[int, ChannelDecl] = {}
    for c in channels:
        seen.setdefault(c.schema_id, c)
    return list(seen.values())
