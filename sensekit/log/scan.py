"""MCAP records read straight from the bytes, tolerant of cut, zero-filled and damaged files.

The ``mcap`` package's indexed reader starts from the footer, which a recording cut by power
loss or ``kill -9`` never got. This module reads the layout two ways:

- **indexed** (:mod:`sensekit.log.index`): footer, then the summary section (checked against
  its CRC): schemas, channels, chunk indexes, statistics, metadata and attachment indexes. A
  damaged chunk is marked and skipped; every other chunk is still found through the index.
- **sequential**: record by record from the start, stopping cleanly at a cut record or a
  zero-filled tail (opcode 0 is reserved in MCAP, and an SD card's unwritten blocks read as
  zeros). Damage in the middle (zeros or garbage with valid records after it) is skipped by
  scanning for the next valid record. Chunk payloads are skipped, not read, so a listing costs
  a few bytes per chunk.

Record layouts follow the MCAP specification (https://mcap.dev/spec), little-endian.
"""

from __future__ import annotations

import mmap
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LogFormatError

__all__ = ["MAGIC", "ByteReader", "ChannelRecord", "ChunkRecord", "Layout", "decompress",
           "message_index_entries", "next_record", "scan_layout"]

MAGIC = b"\x89MCAP0\r\n"
RECORD_HEAD = struct.Struct("<BQ")
_U16, _U32, _U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
_CHUNK_HEAD = struct.Struct("<QQQI")
MESSAGE_HEAD = struct.Struct("<HIQQ")
#: The smallest Message record: head (9) plus channel, sequence and two times (22).
MIN_MESSAGE_RECORD = 9 + MESSAGE_HEAD.size
COMPRESSIONS = ("", "lz4", "zstd")
#: LZ4 expands at most about 255 times (a run of one byte); a chunk claiming more is damaged.
LZ4_MAX_EXPANSION = 256
FOOTER = struct.Struct("<BQQQI")

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
    #: Why the chunk record cannot be read (its index entry points at damage), else None.
    damaged: str | None = None
    #: A message index record of this chunk failed its checks: its counts are not known.
    index_damaged: bool = False

    @property
    def messages(self) -> int | None:
        """Messages in the chunk, when its message index survived intact."""
        return sum(self.counts.values()) if self.counts and not self.index_damaged else None


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
    #: Metadata and attachment records skipped as damaged (they hold no messages).
    damaged_records: list[tuple[int, str]] = field(default_factory=list)
    #: Messages the file says it holds (statistics of an intact summary), else None.
    expected_messages: int | None = None


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
        if end > self.end:
            raise IndexError("map runs past its record")
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
    from .index import read_indexed

    layout = read_indexed(path, data, resync)
    return layout if layout is not None else _read_sequential(path, data, resync)


def parse_chunk(body: ByteReader, chunk: ChunkRecord) -> None:
    """Fill ``chunk``'s fields from its record body; the body must be exactly a chunk's."""
    start, end, usize, crc = _CHUNK_HEAD.unpack(body.take(_CHUNK_HEAD.size))
    chunk.start_ns, chunk.end_ns, chunk.uncompressed_size, chunk.crc = start, end, usize, crc
    chunk.compression = body.string()
    chunk.data_len = body.u64()
    chunk.data_offset = body.pos
    if body.pos + chunk.data_len != body.end:
        raise IndexError("chunk data does not fill its record")
    if chunk.compression not in COMPRESSIONS or start > end:
        raise ValueError(f"not a chunk (compression {chunk.compression!r})")


def scan_metadata(layout: Layout, data: Any, resync: bool) -> None:
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
            layout.damaged_records.append((pos, f"damaged record (opcode {op:#x})"))
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
        body_end = pos + 9 + length
        why = _unreadable(op, length, body_end, end)
        if why is None:
            try:
                last_chunk = _sequential_record(layout, data, op, pos, body_end, last_chunk)
            except (IndexError, ValueError, struct.error) as exc:
                why = f"damaged record (opcode {op:#x}): {exc}"
        if why is not None:
            nxt = next_record(data, pos + 1)
            if nxt is None:
                layout.truncated_at = pos  # where writing stopped: a cut or zero-filled tail
                break
            if not resync:
                raise LogFormatError(
                    f"{path}: {why} at byte {pos}, and readable records again from byte {nxt}."
                    " Hint: open it with skip_corrupt=True or run 'sensekit log repair'")
            layout.damaged.append((pos, f"{why}; {nxt - pos} bytes skipped"))
            pos, last_chunk = nxt, None
            continue
        if op in (OP_DATA_END, OP_FOOTER):
            break
        pos = body_end
    if layout.truncated_at is not None and layout.chunks:
        _drop_cut_chunk(layout, data)
    return layout


def _unreadable(op: int, length: int, body_end: int, end: int) -> str | None:
    """Why a record head cannot start a record here, or None if it may."""
    if op == 0:
        return "zeros (opcode 0 is never a record)"
    if body_end > end:
        return f"record length past the end of the file (opcode {op:#x})"
    if (op == OP_DATA_END and length != 4) or (op == OP_FOOTER and length != 20):
        return f"damaged record (opcode {op:#x} with length {length})"
    return None


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
    """Read one record; return the chunk its message indexes (which follow it) belong to."""
    body = ByteReader(data, pos + 9, body_end)
    if op == OP_CHUNK:
        chunk = ChunkRecord(pos, 0, 0)
        parse_chunk(body, chunk)
        layout.chunks.append(chunk)
        return chunk
    if op == OP_MESSAGE_INDEX:
        if last_chunk is not None:
            cid = body.u16()
            count = message_index_entries(body, last_chunk.uncompressed_size)
            if count is None:
                last_chunk.index_damaged = True
            else:
                last_chunk.counts[cid] = count
        return last_chunk
    if op == OP_SCHEMA:
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
    return None


def message_index_entries(body: ByteReader, chunk_bytes: int) -> int | None:
    """Messages a MessageIndex body lists (read past its channel id), or None when it fails
    its checks: the entries must fill the record exactly and fit in the chunk."""
    try:
        size = body.u32()
    except (IndexError, struct.error):
        return None
    count, rest = divmod(size, 16)
    if rest or size != body.end - body.pos or count * MIN_MESSAGE_RECORD > chunk_bytes:
        return None
    return count


#: Opcodes a resynchronising scan looks for: records that stand outside chunks and carry data.
_RESYNC_OPCODES = re.compile(rb"[\x06\x09\x0c]")


def next_record(data: Any, pos: int) -> int | None:
    """Offset of the next valid chunk, metadata or attachment record at or after ``pos``.

    Each candidate must parse and fill its record length exactly, which random bytes and
    zeros do not.
    """
    end = len(data)
    for match in _RESYNC_OPCODES.finditer(data, pos):
        at = match.start()
        if at + 9 > end:
            return None
        op, length = RECORD_HEAD.unpack_from(data, at)
        if at + 9 + length > end:
            continue
        body = ByteReader(data, at + 9, at + 9 + length)
        try:
            if op == OP_CHUNK:
                parse_chunk(body, ChunkRecord(at, 0, 0))
            elif op == OP_METADATA:
                parse_metadata(body)
            else:
                parse_attachment(body)
        except (IndexError, ValueError, struct.error):
            continue
        return at
    return None


def records(data: Any, pos: int, end: int) -> Iterator[tuple[int, ByteReader]]:
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


def parse_metadata(body: ByteReader) -> tuple[str, dict[str, str]]:
    """A Metadata record's name and values; it must fill its record exactly."""
    name = body.string()
    meta = body.str_map()
    if body.pos != body.end:
        raise ValueError("metadata record does not fill its length")
    return name, meta


def _metadata(layout: Layout, body: ByteReader) -> None:
    layout.metadata.append(parse_metadata(body))


def parse_attachment(body: ByteReader) -> tuple[str, str, int, int]:
    """An Attachment record's (name, media type, data offset, data size), its CRC checked."""
    start = body.pos
    body.u64()
    body.u64()
    name, media = body.string(), body.string()
    size = body.u64()
    at = body.pos
    if at + size + 4 != body.end:  # data, then a u32 CRC, fill the record exactly
        raise ValueError("attachment record does not fill its length")
    body.pos += size
    crc = body.u32()
    if crc and zlib.crc32(body.data[start:at + size]) != crc:
        raise ValueError(f"attachment {name!r} fails its CRC")
    return name, media, at, size


def _attachment(layout: Layout, body: ByteReader) -> None:
    layout.attachments.append(parse_attachment(body))


def decompress(compression: str, raw: bytes, size: int) -> bytes:
    """The plain bytes of a chunk's records (``size``: what the chunk says they are).

    Never produces more than ``size`` bytes, and refuses a ``size`` no compressor could reach
    from ``raw``, so a damaged or crafted chunk cannot make a reader allocate gigabytes.
    """
    if compression == "":
        return raw
    if compression == "lz4":
        import lz4.frame

        if size > LZ4_MAX_EXPANSION * len(raw) + 4096:
            raise ValueError(f"chunk claims {size} bytes from {len(raw)} bytes of lz4")

        decoder = lz4.frame.LZ4FrameDecompressor()
        plain = bytes(decoder.decompress(raw, max_length=size))
        if not decoder.eof or len(plain) != size:
            raise ValueError("lz4 data does not decompress to the chunk's size")
        return plain
    if compression == "zstd":
        import zstandard

        return bytes(zstandard.ZstdDecompressor().decompress(raw, max_output_size=size))
    raise ValueError(f"unknown compression {compression!r}")
