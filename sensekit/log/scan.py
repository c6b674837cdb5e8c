"""MCAP records read straight from the bytes, tolerant of cut, zero-filled and damaged files.

The ``mcap`` package's indexed reader starts from the footer, which a recording cut by power
loss or ``kill -9`` never got. This module reads the layout two ways:

- **indexed**: footer, then the summary section's Schema, Channel and ChunkIndex records;
- **sequential**: record by record from the start, stopping cleanly at a cut record or a
  zero-filled tail (opcode 0 is reserved in MCAP, and an SD card's unwritten blocks read as
  zeros). Chunk payloads are skipped, not read, so a listing costs a few bytes per chunk.

Record layouts follow the MCAP specification (https://mcap.dev/spec), little-endian.
"""

from __future__ import annotations

import mmap
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LogFormatError

__all__ = ["MAGIC", "ChannelRecord", "ChunkRecord", "Layout", "decompress", "scan_layout"]

MAGIC = b"\x89MCAP0\r\n"
RECORD_HEAD = struct.Struct("<BQ")
_U16, _U32, _U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
_CHUNK_HEAD = struct.Struct("<QQQI")
MESSAGE_HEAD = struct.Struct("<HIQQ")
_FOOTER = struct.Struct("<BQQQI")

OP_HEADER, OP_FOOTER, OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK = 1, 2, 3, 4, 5, 6
OP_MESSAGE_INDEX, OP_CHUNK_INDEX, OP_ATTACHMENT, OP_METADATA = 7, 8, 9, 12
OP_DATA_END = 15


@dataclass
class ChannelRecord:
    """A channel with its schema, from a Channel record or a ``sensekit.channel`` metadata."""

    id: int
    topic: str
    message_encoding: str
    schema_name: str
    schema_encoding: str
    schema_data: bytes
    metadata: dict[str, str]


@dataclass
class ChunkRecord:
    """Where one chunk sits and what the file says about it."""

    offset: int
    start_ns: int
    end_ns: int
    compression: str = ""
    data_offset: int = 0
    data_len: int = 0
    uncompressed_size: int = 0
    crc: int = 0
    counts: dict[int, int] = field(default_factory=dict)
    index_offsets: dict[int, int] = field(default_factory=dict)

    @property
    def messages(self) -> int | None:
        """Messages in the chunk, when its message index survived."""
        return sum(self.counts.values()) if self.counts else None


@dataclass
class Layout:
    """What a scan found."""

    path: Path
    size: int
    indexed: bool
    chunks: list[ChunkRecord] = field(default_factory=list)
    schemas: dict[int, tuple[str, str, bytes]] = field(default_factory=dict)
    channels: dict[int, ChannelRecord] = field(default_factory=dict)
    metadata: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    attachments: list[tuple[str, str, int, int]] = field(default_factory=list)
    #: Byte offset where readable data ended early (cut or zero-filled tail), else None.
    truncated_at: int | None = None
    #: Damaged spans skipped during a sequential scan: (offset, why).
    damaged: list[tuple[int, str]] = field(default_factory=list)
    loose_messages: int = 0


class ByteReader:
    """Little-endian field reader over a buffer, raising IndexError past its end."""

    def __init__(self, data: Any, pos: int = 0, end: int | None = None) -> None:
        self.data, self.pos = data, pos
        self.end = len(data) if end is None else end

    def take(self, n: int) -> Any:
        if self.pos + n > self.end:
            raise IndexError("record ends early")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u16(self) -> int:
        return int(_U16.unpack(self.take(2))[0])

    def u32(self) -> int:
        return int(_U32.unpack(self.take(4))[0])

    def u64(self) -> int:
        return int(_U64.unpack(self.take(8))[0])

    def string(self) -> str:
        return bytes(self.take(self.u32())).decode("utf-8")

    def str_map(self) -> dict[str, str]:
        end = self.pos + self.u32()
        out = {}
        while self.pos < end:
            key = self.string()
            out[key] = self.string()
        return out


def open_map(path: Path) -> mmap.mmap | bytes:
    """Map ``path`` read-only (an empty file gives ``b""``)."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        if size == 0:
            return b""
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


def scan_layout(path: Path, data: Any, *, resync: bool) -> Layout:
    """Find chunks, channels, metadata and attachments in ``data`` (the file's bytes).

    Args:
        resync: On a damaged record in the middle, search for the next chunk instead of
            raising (the skipped span is listed in ``Layout.damaged``).

    Raises:
        LogFormatError: not an MCAP file, or damaged in the middle and ``resync`` is off.
    """
    if bytes(data[:8]) != MAGIC:
        raise LogFormatError(
            f"{path} is not an MCAP file: byte 0 holds {bytes(data[:8])!r}, expected the MCAP "
            f"magic {MAGIC!r}. Hint: is it a CSV or a Sensor Logger export? "
            "Use 'sensekit import'")
    layout = _read_indexed(path, data, resync)
    return layout if layout is not None else _read_sequential(path, data, resync)


def _read_indexed(path: Path, data: Any, resync: bool) -> Layout | None:
    size = len(data)
    if size < 8 + 9 + 20 + 8 or bytes(data[-8:]) != MAGIC:
        return None
    op, length, summary_start, _, _ = _FOOTER.unpack_from(data, size - 8 - _FOOTER.size)
    if op != OP_FOOTER or length != 20 or not 8 < summary_start < size:
        return None
    layout = Layout(path, size, True)
    try:
        for op, body in _records(data, summary_start, size - 8 - _FOOTER.size):
            _summary_record(layout, op, body)
        if not layout.chunks and layout.channels:
            return None  # unchunked or unindexed: the sequential scan handles it
        for chunk in layout.chunks:
            _chunk_fields(data, chunk)
    except (IndexError, ValueError, struct.error):
        return None  # a damaged summary: fall back to the sequential scan
    _scan_metadata(layout, data, resync)
    return layout


def _summary_record(layout: Layout, op: int, body: ByteReader) -> None:
    if op == OP_SCHEMA:
        _schema(layout, body)
    elif op == OP_CHANNEL:
        _channel(layout, body)
    elif op == OP_CHUNK_INDEX:
        start, end, offset, _ = body.u64(), body.u64(), body.u64(), body.u64()
        n = body.u32() // 10
        offsets = {}
        for _ in range(n):
            cid = body.u16()
            offsets[cid] = body.u64()
        layout.chunks.append(ChunkRecord(offset, start, end, index_offsets=offsets))


def _chunk_fields(data: Any, chunk: ChunkRecord) -> None:
    op, length = RECORD_HEAD.unpack_from(data, chunk.offset)
    if op != OP_CHUNK:
        raise ValueError("chunk index points at a non-chunk record")
    _parse_chunk(ByteReader(data, chunk.offset + 9, chunk.offset + 9 + length), chunk)


def _parse_chunk(body: ByteReader, chunk: ChunkRecord) -> None:
    start, end, usize, crc = _CHUNK_HEAD.unpack(body.take(_CHUNK_HEAD.size))
    chunk.start_ns, chunk.end_ns, chunk.uncompressed_size, chunk.crc = start, end, usize, crc
    chunk.compression = body.string()
    chunk.data_len = body.u64()
    chunk.data_offset = body.pos
    if body.pos + chunk.data_len > body.end:
        raise IndexError("chunk data runs past its record")


def _scan_metadata(layout: Layout, data: Any, resync: bool) -> None:
    """Metadata and attachments of an indexed file, read sequentially outside chunks."""
    pos = 8
    end = len(data)
    while pos + 9 <= end:
        op, length = RECORD_HEAD.unpack_from(data, pos)
        body_end = pos + 9 + length
        if op in (OP_DATA_END, OP_FOOTER) or op == 0 or body_end > end:
            break
        try:
            if op == OP_METADATA:
                _metadata(layout, ByteReader(data, pos + 9, body_end))
            elif op == OP_ATTACHMENT:
                _attachment(layout, ByteReader(data, pos + 9, body_end))
        except (IndexError, ValueError, struct.error) as exc:
            if not resync:
                raise LogFormatError(
                    f"{layout.path}: damaged record (opcode {op:#x}) at byte {pos}: {exc}. "
                    "Hint: open it with skip_corrupt=True or run 'sensekit log repair'") from None
            layout.damaged.append((pos, f"damaged record (opcode {op:#x})"))
        pos = body_end


def _read_sequential(path: Path, data: Any, resync: bool) -> Layout:
    layout = Layout(path, len(data), False)
    pos, end = 8, len(data)
    last_chunk: ChunkRecord | None = None
    while pos < end:
        if pos + 9 > end:
            layout.truncated_at = pos
            break
        op, length = RECORD_HEAD.unpack_from(data, pos)
        if op == 0:
            layout.truncated_at = pos  # zero-filled tail, or damage: see below
            if any(data[pos:min(end, pos + 4096)]) and resync:
                pos = _damaged(layout, data, pos, "record with opcode 0")
                continue
            break
        body_end = pos + 9 + length
        if body_end > end:
            if _next_chunk(data, pos + 1) is None:
                layout.truncated_at = pos  # the record was cut: the normal end of a crash
                break
            if not resync:
                raise LogFormatError(
                    f"{path}: damaged record length (opcode {op:#x}) at byte {pos}. Hint: "
                    "open it with skip_corrupt=True or run 'sensekit log repair'")
            pos = _damaged(layout, data, pos, f"damaged record length (opcode {op:#x})")
            continue
        try:
            last_chunk = _sequential_record(layout, data, op, pos, body_end, last_chunk)
        except (IndexError, ValueError, struct.error) as exc:
            if _next_chunk(data, pos + 1) is None:
                layout.truncated_at = pos  # the last record was cut (its tail reads as zeros)
                break
            if not resync:
                raise LogFormatError(
                    f"{path}: damaged record (opcode {op:#x}) at byte {pos}: {exc}. Hint: "
                    "open it with skip_corrupt=True or run 'sensekit log repair'") from None
            pos = _damaged(layout, data, pos, f"damaged record (opcode {op:#x})")
            continue
        if op in (OP_DATA_END, OP_FOOTER):
            break
        pos = body_end
    if layout.truncated_at is not None and layout.truncated_at >= end:
        layout.truncated_at = None
    if layout.truncated_at is not None and layout.chunks:
        _drop_cut_chunk(layout, data)
    return layout


def _drop_cut_chunk(layout: Layout, data: Any) -> None:
    """A chunk whose length fits only because zeros follow it was cut, not damaged."""
    last = layout.chunks[-1]
    raw = bytes(data[last.data_offset:last.data_offset + last.data_len])
    try:
        plain = decompress(last.compression, raw, last.uncompressed_size)
        if not last.crc or zlib.crc32(plain) == last.crc:
            return
    except (ValueError, RuntimeError):
        pass
    layout.chunks.pop()
    layout.truncated_at = last.offset


def _sequential_record(layout: Layout, data: Any, op: int, pos: int, body_end: int,
                       last_chunk: ChunkRecord | None) -> ChunkRecord | None:
    body = ByteReader(data, pos + 9, body_end)
    if op == OP_CHUNK:
        chunk = ChunkRecord(pos, 0, 0)
        _parse_chunk(body, chunk)
        layout.chunks.append(chunk)
        return chunk
    if op == OP_MESSAGE_INDEX and last_chunk is not None:
        cid = body.u16()
        last_chunk.counts[cid] = body.u32() // 16
    elif op == OP_SCHEMA:
        _schema(layout, body)
    elif op == OP_CHANNEL:
        _channel(layout, body)
    elif op == OP_METADATA:
        _metadata(layout, body)
    elif op == OP_ATTACHMENT:
        _attachment(layout, body)
    elif op == OP_MESSAGE:
        layout.loose_messages += 1
    elif op > 0x0F and op < 0x80:
        raise ValueError(f"unknown opcode {op:#x}")
    return last_chunk


def _damaged(layout: Layout, data: Any, pos: int, why: str) -> int:
    """Record damage at ``pos`` and return the offset of the next plausible chunk (or EOF)."""
    layout.damaged.append((pos, why))
    layout.truncated_at = None
    nxt = _next_chunk(data, pos + 1)
    if nxt is None:
        layout.truncated_at = pos
        return len(data)
    return nxt


def _next_chunk(data: Any, pos: int) -> int | None:
    end = len(data)
    while True:
        pos = data.find(b"\x06", pos)
        if pos < 0 or pos + 9 + 40 > end:
            return None
        try:
            _, length = RECORD_HEAD.unpack_from(data, pos)
            if pos + 9 + length <= end:
                probe = ChunkRecord(pos, 0, 0)
                _parse_chunk(ByteReader(data, pos + 9, pos + 9 + length), probe)
                if probe.compression in ("", "lz4", "zstd") and probe.start_ns <= probe.end_ns:
                    return pos
        except (IndexError, ValueError, struct.error, UnicodeDecodeError):
            pass
        pos += 1


def _records(data: Any, pos: int, end: int) -> Iterator[tuple[int, ByteReader]]:
    while pos + 9 <= end:
        op, length = RECORD_HEAD.unpack_from(data, pos)
        body_end = pos + 9 + length
        if body_end > end:
            raise IndexError(f"record at byte {pos} runs past the end")
        yield op, ByteReader(data, pos + 9, body_end)
        pos = body_end


Schemas = dict[int, tuple[str, str, bytes]]


def _schema(layout: Layout, body: ByteReader) -> None:
    read_schema(layout.schemas, body)


def _channel(layout: Layout, body: ByteReader) -> None:
    read_channel(layout.channels, layout.schemas, body)


def read_schema(schemas: Schemas, body: ByteReader) -> None:
    sid = body.u16()
    name, encoding = body.string(), body.string()
    schemas[sid] = (name, encoding, bytes(body.take(body.u32())))


def read_channel(channels: dict[int, ChannelRecord], schemas: Schemas, body: ByteReader) -> None:
    cid, sid = body.u16(), body.u16()
    topic, encoding = body.string(), body.string()
    meta = body.str_map()
    name, s_enc, s_data = schemas.get(sid, ("", "", b""))
    channels[cid] = ChannelRecord(cid, topic, encoding, name, s_enc, s_data, meta)


def _metadata(layout: Layout, body: ByteReader) -> None:
    name = body.string()
    meta = body.str_map()
    if body.pos != body.end:
        raise ValueError("metadata record does not fill its length")
    layout.metadata.append((name, meta))


def _attachment(layout: Layout, body: ByteReader) -> None:
    body.u64()
    body.u64()
    name, media = body.string(), body.string()
    size = body.u64()
    if body.pos + size + 4 != body.end:  # data, then a u32 CRC, fill the record exactly
        raise ValueError("attachment record does not fill its length")
    layout.attachments.append((name, media, body.pos, size))


def decompress(compression: str, raw: bytes, size: int) -> bytes:
    """The plain bytes of a chunk's records (``size``: what the chunk says they are)."""
    if compression == "":
        return raw
    if compression == "lz4":
        import lz4.frame

        return bytes(lz4.frame.decompress(raw))
    if compression == "zstd":
        import zstandard

        return bytes(zstandard.ZstdDecompressor().decompress(raw, max_output_size=size))
    raise ValueError(f"unknown compression {compression!r}")
