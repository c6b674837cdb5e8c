"""A recording's layout read straight from the bytes, tolerant of cut, zero-filled and damaged
files (the records themselves are parsed by :mod:`sensekit.log.records`).

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
"""

from __future__ import annotations

import mmap
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LogFormatError
from .records import (
    MAGIC,
    OP_ATTACHMENT,
    OP_CHANNEL,
    OP_CHUNK,
    OP_DATA_END,
    OP_FOOTER,
    OP_MESSAGE,
    OP_MESSAGE_INDEX,
    OP_METADATA,
    OP_SCHEMA,
    RECORD_HEAD,
    ByteReader,
    ChannelRecord,
    ChunkRecord,
    decompress,
    message_index_entries,
    parse_attachment,
    parse_chunk,
    parse_metadata,
    read_channel,
    read_schema,
)

__all__ = ["Layout", "next_record", "open_map", "read_side_record", "scan_layout",
           "scan_metadata"]


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


def scan_metadata(layout: Layout, data: Any, resync: bool) -> None:
    """Metadata and attachments of an indexed file, read sequentially outside chunks."""
    pos = 8
    end = len(data)
    while pos + 9 <= end:
        op, length = RECORD_HEAD.unpack_from(data, pos)
        body_end = pos + 9 + length
        if op in (OP_DATA_END, OP_FOOTER) or op == 0 or body_end > end:
            break
        if op in (OP_METADATA, OP_ATTACHMENT):
            read_side_record(layout, data, op, pos, body_end, resync)
        pos = body_end


def read_side_record(layout: Layout, data: Any, op: int, pos: int, body_end: int,
                     resync: bool) -> None:
    """Read the Metadata or Attachment record at ``pos`` into ``layout`` (``op`` is what it must
    be). A damaged one raises, or with ``resync`` is listed in ``Layout.damaged_records``."""
    kind = {OP_METADATA: "metadata", OP_ATTACHMENT: "attachment"}.get(op, "indexed")
    try:
        head, length = RECORD_HEAD.unpack_from(data, pos)
        if head != op or pos + 9 + length != body_end or body_end > len(data):
            raise ValueError(f"found opcode {head:#x}")
        body = ByteReader(data, pos + 9, body_end)
        if op == OP_METADATA:
            _metadata(layout, body)
        else:
            _attachment(layout, body)
    except (IndexError, ValueError, struct.error) as exc:
        if not resync:
            raise LogFormatError(
                f"{layout.path}: damaged {kind} record at byte {pos}: {exc}. Hint: open it with "
                "skip_corrupt=True or run 'sensekit log repair'") from None
        layout.damaged_records.append((pos, f"damaged {kind} record"))


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


def _schema(layout: Layout, body: ByteReader) -> None:
    read_schema(layout.schemas, body)


def _channel(layout: Layout, body: ByteReader) -> None:
    read_channel(layout.channels, layout.schemas, body)


def _metadata(layout: Layout, body: ByteReader) -> None:
    layout.metadata.append(parse_metadata(body))


def _attachment(layout: Layout, body: ByteReader) -> None:
    layout.attachments.append(parse_attachment(body))
