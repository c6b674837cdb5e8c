"""Inside a chunk: decompress it, check its CRC, and list its messages in file order.

Channels and schemas a chunk declares are learnt as it is read (the ``mcap`` writer puts them
in the first chunk that uses them).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

from ..errors import LogFormatError
from .records import (
    MESSAGE_HEAD,
    OP_CHANNEL,
    OP_MESSAGE,
    OP_SCHEMA,
    RECORD_HEAD,
    ByteReader,
    ChannelRecord,
    ChunkRecord,
    decompress,
    read_channel,
    read_schema,
)

__all__ = ["Entry", "split_chunk"]

Entry = tuple[int, int, memoryview]  # (log_time, channel_id, data)


def split_chunk(path: Path, data: Any, chunk: ChunkRecord,
                channels: dict[int, ChannelRecord],
                schemas: dict[int, tuple[str, str, bytes]]) -> list[Entry]:
    """Decompress one chunk and return its messages; learn channels declared inside it.

    Raises:
        LogFormatError: the chunk does not decompress, fails its CRC or holds a damaged
            record. The message names the file and the chunk's byte offset.
    """
    if chunk.damaged:
        raise LogFormatError(
            f"{path}: corrupt chunk at byte {chunk.offset} ({chunk.damaged}). Hint: open it "
            "with skip_corrupt=True to read on, or run 'sensekit log repair'")
    raw = bytes(data[chunk.data_offset:chunk.data_offset + chunk.data_len])
    try:
        plain = decompress(chunk.compression, raw, chunk.uncompressed_size)
        if chunk.crc and zlib.crc32(plain) != chunk.crc:
            raise ValueError("CRC mismatch")
        return _chunk_messages(memoryview(plain), channels, schemas)
    except (ValueError, IndexError, struct.error, RuntimeError) as exc:
        raise LogFormatError(
            f"{path}: corrupt chunk at byte {chunk.offset} ({exc}). Hint: open it with "
            "skip_corrupt=True to read on, or run 'sensekit log repair'") from None


def _chunk_messages(plain: memoryview, channels: dict[int, ChannelRecord],
                    schemas: dict[int, tuple[str, str, bytes]]) -> list[Entry]:
    out: list[Entry] = []
    pos, end = 0, len(plain)
    unpack_rec, unpack_msg = RECORD_HEAD.unpack_from, MESSAGE_HEAD.unpack_from
    while pos < end:
        op, length = unpack_rec(plain, pos)
        body_end = pos + 9 + length
        if body_end > end:
            raise IndexError(f"record at chunk byte {pos} runs past the chunk")
        if op == OP_MESSAGE:
            cid, _, log_time, _ = unpack_msg(plain, pos + 9)
            out.append((log_time, cid, plain[pos + 9 + MESSAGE_HEAD.size:body_end]))
        elif op == OP_SCHEMA:
            read_schema(schemas, ByteReader(plain, pos + 9, body_end))
        elif op == OP_CHANNEL:
            read_channel(channels, schemas, ByteReader(plain, pos + 9, body_end))
        pos = body_end
    return out
