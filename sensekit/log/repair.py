"""``sensekit log repair``: rewrite a cut or damaged recording as a valid, indexed MCAP file.

Everything the tolerant reader can read is copied unchanged (messages, schemas, channels,
metadata, attachments) into a new file with a summary and chunk index, so any MCAP tool and
Foxglove open it. Damaged chunks are skipped and counted. A log written before ``log_time``
held UTC (``sensekit-log/1``) gets UTC ``log_time`` by its recorded clock mapping.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import SampleDropped
from .reader import LogReader
from .scan import ChannelRecord

__all__ = ["RepairResult", "repair"]


@dataclass(frozen=True)
class RepairResult:
    """What a repair did.

    Attributes:
        path: The repaired file.
        messages: Messages copied.
        lost_messages: Messages in damaged chunks that could not be read (see ``unknown``).
        damaged: Byte offsets of damaged chunks or records skipped.
        truncated_at: Where the source was cut off (None if it was not).
    """

    path: Path
    messages: int
    lost_messages: int
    damaged: tuple[int, ...]
    truncated_at: int | None


def repair(src: str | os.PathLike[str], dst: str | os.PathLike[str] | None = None
           ) -> RepairResult:
    """Copy the readable part of ``src`` into ``dst`` (default ``SRC.repaired.mcap``).

    Raises:
        LogFormatError: ``src`` is not an MCAP file at all.
    """
    from mcap.writer import CompressionType, Writer

    src = Path(src)
    out = Path(dst) if dst is not None else src.with_name(f"{src.stem}.repaired{src.suffix}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDropped)  # counted in the result instead
        reader = LogReader(src, skip_corrupt=True)
    with reader, open(out, "wb") as fh:
        writer: Any = Writer(fh, compression=CompressionType.LZ4)
        writer.start(library=f"sensekit/{__version__} (repaired)")
        for name, meta in reader.metadata_for_utc_copy():
            # Channel records are rewritten below with the new ids; the closing summary
            # described the original, which may have lost data since.
            if name not in ("sensekit.channel", "sensekit.summary"):
                writer.add_metadata(name, meta)
        for name, media, offset, size in reader.layout.attachments:
            now = time.time_ns()
            writer.add_attachment(now, now, name, media, bytes(reader._data[offset:offset + size]))
        ids: dict[int, int] = {}
        copied = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SampleDropped)
            for channel, log_time, data in reader.raw_messages():
                cid = ids.get(channel.id)
                if cid is None:
                    cid = ids[channel.id] = _register(writer, channel)
                utc = reader.log_time_to_utc(log_time)  # older logs kept host time there
                writer.add_message(cid, utc, bytes(data), utc)
                copied += 1
        writer.finish()
        return RepairResult(out, copied, reader.lost_messages, tuple(reader.corrupt_chunks),
                            reader.truncated_at)


def _register(writer: Any, channel: ChannelRecord) -> int:
    sid = writer.register_schema(channel.schema_name, channel.schema_encoding,
                                 channel.schema_data)
    cid = int(writer.register_channel(channel.topic, channel.message_encoding, sid,
                                      channel.metadata))
    writer.add_metadata("sensekit.channel", {
        "channel_id": str(cid), "topic": channel.topic,
        "message_encoding": channel.message_encoding, "schema_name": channel.schema_name,
        "schema_encoding": channel.schema_encoding,
        "schema_data": channel.schema_data.decode("utf-8", "replace"),
        "metadata": json.dumps(channel.metadata)})
    return cid
