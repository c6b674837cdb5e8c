"""MCAP records read straight from the bytes: opcodes, the record heads, and one parser per kind
of record a scan or an index needs (chunk, message index, schema, channel, metadata, attachment),
each of which refuses a body that does not fill its record exactly.

Record layouts follow the MCAP specification (https://mcap.dev/spec), little-endian.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["COMPRESSIONS", "FOOTER", "MAGIC", "MESSAGE_HEAD", "MIN_MESSAGE_RECORD", "OP_ATTACHMENT",
           "OP_CHANNEL", "OP_CHUNK", "OP_CHUNK_INDEX", "OP_DATA_END", "OP_FOOTER", "OP_HEADER",
           "OP_MESSAGE", "OP_MESSAGE_INDEX", "OP_METADATA", "OP_SCHEMA", "RECORD_HEAD",
           "ByteReader", "ChannelRecord", "ChunkRecord", "Schemas", "decompress",
           "message_index_entries", "parse_attachment", "parse_chunk", "parse_metadata",
           "read_channel", "read_schema", "records"]

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
Schemas = dict[int, tuple[str, str, bytes]]


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


def records(data: Any, pos: int, end: int) -> Iterator[tuple[int, ByteReader]]:
    while pos + 9 <= end:
        op, length = RECORD_HEAD.unpack_from(data, pos)
        body_end = pos + 9 + length
        if body_end > end:
            raise IndexError(f"record at byte {pos} runs past the end")
        yield op, ByteReader(data, pos + 9, body_end)
        pos = body_end


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
