"""Reading a recording through its index: the summary section at the end of a complete file.

The footer points at the summary section; its CRC (in the footer) says whether it is intact. An
intact summary lists every chunk (ChunkIndex), every metadata and attachment record
(MetadataIndex, AttachmentIndex) and how many messages the file holds (Statistics), so damage
in the data section costs only the chunks it hit: every other chunk and record is found through
the index, and the loss is counted exactly. A summary that fails its CRC is not trusted; the
file is then scanned record by record (:mod:`sensekit.log.scan`).

Record layouts follow the MCAP specification (https://mcap.dev/spec), little-endian.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .records import (
    FOOTER,
    MAGIC,
    OP_ATTACHMENT,
    OP_CHANNEL,
    OP_CHUNK,
    OP_CHUNK_INDEX,
    OP_FOOTER,
    OP_MESSAGE_INDEX,
    OP_METADATA,
    OP_SCHEMA,
    RECORD_HEAD,
    ByteReader,
    ChunkRecord,
    message_index_entries,
    parse_chunk,
    read_channel,
    read_schema,
    records,
)
from .scan import Layout, read_side_record, scan_metadata

__all__ = ["message_index_count", "read_indexed"]

OP_ATTACHMENT_INDEX, OP_STATISTICS, OP_METADATA_INDEX = 0x0A, 0x0B, 0x0D


@dataclass
class _Summary:
    """What the summary section lists besides schemas, channels and chunks."""

    metadata: list[tuple[int, int]] = field(default_factory=list)  # (offset, length)
    attachments: list[tuple[int, int]] = field(default_factory=list)
    messages: int | None = None
    metadata_count: int = 0
    attachment_count: int = 0


def read_indexed(path: Path, data: Any, resync: bool) -> Layout | None:
    """The layout of a complete file from its summary, or None when it has no intact one."""
    size = len(data)
    footer_at = size - len(MAGIC) - FOOTER.size
    if footer_at < 8 + 9 or bytes(data[-len(MAGIC):]) != MAGIC:
        return None
    op, length, summary_start, _, crc = FOOTER.unpack_from(data, footer_at)
    if op != OP_FOOTER or length != 20 or not 8 < summary_start <= footer_at:
        return None
    if crc and zlib.crc32(data[summary_start:footer_at + FOOTER.size - 4]) != crc:
        return None  # a damaged summary is not trusted: the scan reads the data section
    layout = Layout(path, size, True)
    summary = _Summary()
    try:
        for op, body in records(data, summary_start, footer_at):
            _summary_record(layout, summary, op, body)
    except (IndexError, ValueError, struct.error):
        return None
    if not layout.chunks and (summary.messages if summary.messages is not None
                              else layout.channels):
        return None  # messages outside chunks, or not indexed: the scan handles them
    layout.expected_messages = summary.messages
    for chunk in layout.chunks:
        _chunk_fields(data, chunk)
    _indexed_records(layout, summary, data, resync)
    return layout


def _summary_record(layout: Layout, summary: _Summary, op: int, body: ByteReader) -> None:
    if op == OP_SCHEMA:
        read_schema(layout.schemas, body)
    elif op == OP_CHANNEL:
        read_channel(layout.channels, layout.schemas, body)
    elif op == OP_CHUNK_INDEX:
        layout.chunks.append(_chunk_index(body))
    elif op == OP_STATISTICS:
        summary.messages = body.u64()
        body.take(2 + 4)  # schema and channel counts
        summary.attachment_count, summary.metadata_count = body.u32(), body.u32()
    elif op == OP_METADATA_INDEX:
        summary.metadata.append((body.u64(), body.u64()))
    elif op == OP_ATTACHMENT_INDEX:
        summary.attachments.append((body.u64(), body.u64()))


def _chunk_index(body: ByteReader) -> ChunkRecord:
    start, end, offset, _ = body.u64(), body.u64(), body.u64(), body.u64()
    size = body.u32()
    offsets_end = body.pos + size
    offsets = {}
    while body.pos < offsets_end:
        cid = body.u16()
        offsets[cid] = body.u64()
    body.u64()  # message index length
    compression = body.string()
    body.u64()  # compressed size
    return ChunkRecord(offset, start, end, compression=compression,
                       uncompressed_size=body.u64(), index_offsets=offsets)


def _chunk_fields(data: Any, chunk: ChunkRecord) -> None:
    """Read the chunk record the index points at; mark it damaged when it is not one."""
    try:
        op, length = RECORD_HEAD.unpack_from(data, chunk.offset)
        if op != OP_CHUNK:
            raise ValueError(f"the index points at opcode {op:#x}, not a chunk")
        parse_chunk(ByteReader(data, chunk.offset + 9, chunk.offset + 9 + length), chunk)
    except (IndexError, ValueError, struct.error) as exc:
        chunk.damaged = f"damaged chunk record: {exc}"


def _indexed_records(layout: Layout, summary: _Summary, data: Any, resync: bool) -> None:
    """Metadata and attachments through their indexes (or a scan when a writer left them out)."""
    if (len(summary.metadata) < summary.metadata_count
            or len(summary.attachments) < summary.attachment_count):
        scan_metadata(layout, data, resync)
        return
    for offset, length in summary.metadata:
        read_side_record(layout, data, OP_METADATA, offset, offset + length, resync)
    for offset, length in summary.attachments:
        read_side_record(layout, data, OP_ATTACHMENT, offset, offset + length, resync)


def message_index_count(data: Any, offset: int, channel_id: int, chunk_bytes: int) -> int | None:
    """Messages the MessageIndex record at ``offset`` lists, or None when it is damaged."""
    try:
        op, length = RECORD_HEAD.unpack_from(data, offset)
        if op != OP_MESSAGE_INDEX or offset + 9 + length > len(data):
            return None
        body = ByteReader(data, offset + 9, offset + 9 + length)
        if body.u16() != channel_id:
            return None
    except (IndexError, struct.error):
        return None
    return message_index_entries(body, chunk_bytes)
