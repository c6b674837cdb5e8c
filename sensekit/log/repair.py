"""``sensekit log repair``: rewrite a cut or damaged recording as a valid, indexed MCAP file.

Everything the tolerant reader can read is copied unchanged (messages, schemas, channels,
metadata, attachments) into a new file with a summary and chunk index, so any MCAP tool and
Foxglove open it. The reader finds every chunk it can: through the index when the file's
summary is intact, else by scanning past damage to the next valid record. Damaged chunks are
skipped, and the loss is counted exactly when the file says how many messages it held. A log
written before ``log_time`` held UTC (``sensekit-log/1``) gets UTC ``log_time`` by its recorded
clock mapping.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import SampleDropped
from ..outputs import atomic_output, check_output
from .reader import LogReader
from .records import ChannelRecord

__all__ = ["RepairResult", "repair"]


@dataclass(frozen=True)
class RepairResult:
    """What a repair did.

    Attributes:
        path: The repaired file.
        messages: Messages copied.
        lost_messages: Messages lost to damage, exactly; None when the source does not say
            how many it held (then ``lost_at_least`` is what is known).
        lost_at_least: Messages known lost.
        damaged: Byte offsets of damaged chunks or records skipped.
        truncated_at: Where the source was cut off (None if it was not).
        loss: The loss, as a sentence.
    """

    path: Path
    messages: int
    lost_messages: int | None
    lost_at_least: int
    damaged: tuple[int, ...]
    truncated_at: int | None
    loss: str = ""


def repair(src: str | os.PathLike[str], dst: str | os.PathLike[str] | None = None, *,
           force: bool = False) -> RepairResult:
    """Copy the readable part of ``src`` into ``dst`` (default ``SRC.repaired.mcap``).

    ``dst`` is written under a temporary name and renamed when complete (``-``: copied to
    stdout once complete); ``src`` is never written.

    Raises:
        LogFormatError: ``src`` is not an MCAP file at all.
        OutputRefused: ``dst`` is ``src``, or exists and ``force`` is off.
    """
    src = Path(src)
    out = Path(dst) if dst is not None else default_repair_path(src)
    check_output(out, inputs=[src], force=force, stdout=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDropped)  # counted in the result instead
        reader = LogReader(src, skip_corrupt=True)
    with reader, atomic_output(out, inputs=[src], force=force) as tmp:
        result = _copy(reader, tmp)
    return dataclasses.replace(result, path=out)


def default_repair_path(src: Path) -> Path:
    """``NAME.repaired.mcap`` beside ``src`` (``NAME.mcap.part`` gives ``NAME.repaired.mcap``)."""
    name = src.name.removesuffix(".part")
    stem, dot, suffix = name.rpartition(".")
    return src.with_name(f"{stem}.repaired.{suffix}" if dot else f"{name}.repaired")


def _copy(reader: LogReader, out: Path) -> RepairResult:
    from mcap.writer import CompressionType, Writer

    with open(out, "wb") as fh:
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
    loss = reader.loss(kept=copied)
    return RepairResult(out, copied, loss.messages, loss.at_least, loss.damaged,
                        reader.truncated_at, str(loss))


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
