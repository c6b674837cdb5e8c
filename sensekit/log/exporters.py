"""Exporters: recordings into pandas, Parquet, CSV, and a Foxglove-friendly MCAP copy.

Tables have one row per sample: ``t_ns`` (host monotonic ns, as recorded), ``wall_ns`` (UTC
epoch ns: ``t_ns`` mapped by the log's clock map, as each message's ``log_time``), then one
column per scalar field and one per component of a vector field (``accel_mps2_x``,
``accel_mps2_y``, ``accel_mps2_z``; other shapes number their components ``power_w_0``...).
Camera images are left out of tables (export the log to MCAP to keep them).

The Foxglove copy stores one JSON message per sample, because Foxglove's plot panel plots one
value per message: ``{"timestamp": {...}, "accel_mps2": {"x":..,"y":..,"z":..}, ...}``. GPS,
camera and audio channels, which already use Foxglove schemas, are copied unchanged. Every
message's ``log_time`` is UTC (also when the source was written before logs kept UTC there).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .._optional import require
from .._version import __version__
from ..clock import ClockMap
from ..errors import ConfigError
from ..outputs import atomic_output, check_folder, check_output
from ..packets import Packet
from .reader import LogReader

__all__ = ["packet_columns", "to_csv", "to_dataframe", "to_foxglove_mcap", "to_parquet"]

_AXES = ("x", "y", "z")


def packet_columns(packet: Packet, clock: ClockMap | None = None
                   ) -> dict[str, npt.NDArray[Any]]:
    """Flat columns of one packet (see the module docstring for the names)."""
    wall = (clock or ClockMap.constant_zero()).utc_array(packet.t_ns)
    cols: dict[str, npt.NDArray[Any]] = {"t_ns": packet.t_ns, "wall_ns": wall}
    for name, array in packet.fields.items():
        if name == "image":
            continue
        if array.ndim == 1:
            cols[name] = array
            continue
        flat = array.reshape(len(array), -1)
        labels = _AXES if flat.shape[1] == 3 and array.ndim == 2 else range(flat.shape[1])
        for k, label in enumerate(labels):
            cols[f"{name}_{label}"] = flat[:, k]
    return cols


def to_dataframe(log: LogReader, stream: str, start_ns: int | None = None,
                 end_ns: int | None = None) -> Any:
    """One stream as a pandas DataFrame, one row per sample, indexed by UTC time.

    The index is a ``DatetimeIndex`` named ``time`` in UTC (each sample's ``wall_ns``), so
    ``frame.resample("1s")``, ``frame.loc["2026-05-04 08:00":]`` and ``tz_convert`` work as
    on any time series. The columns are the table's: ``t_ns`` (host monotonic ns, the time
    sensekit orders and aligns by), ``wall_ns`` (the index as integers), then the fields.

    Args:
        log: An open recording.
        stream: The stream's name.
        start_ns: First host monotonic time to include (None: from the start).
        end_ns: Host monotonic time to stop before (None: to the end).
    """
    pd = require("pandas", extra="report", what="exporting a recording to tables")
    frame = _table(log, stream, start_ns, end_ns)
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame["wall_ns"].to_numpy(), unit="ns",
                                                  utc=True), name="time")
    return frame


def _table(log: LogReader, stream: str, start_ns: int | None = None,
           end_ns: int | None = None) -> Any:
    """One stream as a flat table with a plain row number: what Parquet and CSV files hold."""
    pd = require("pandas", extra="report", what="exporting a recording to tables")
    packet = log.read(stream, start_ns, end_ns)
    return pd.DataFrame(packet_columns(packet, log.clock_map))


def check_streams(log: LogReader, streams: list[str] | None) -> list[str]:
    """``streams`` (all of the log's by default), each checked to be in the log.

    Raises:
        ConfigError: a stream is not in the log; the message lists those it has.
    """
    names = log.stream_names()
    unknown = [s for s in streams or () if s not in names]
    if unknown:
        raise ConfigError(f"{log.path} has no stream {', '.join(map(repr, unknown))}; it has "
                          f"{', '.join(names) or 'none'}")
    return list(streams) if streams else list(log.streams)


def _write_tables(log: LogReader, out_dir: str | os.PathLike[str], streams: list[str] | None,
                  suffix: str, write: Callable[[Any, Path], None], force: bool) -> list[Path]:
    names = check_streams(log, streams)
    folder = check_folder(out_dir, inputs=[log.path])
    paths = [check_output(folder / f"{s}{suffix}", inputs=[log.path], force=force)
             for s in names]  # every file checked before the first is written
    for stream, path in zip(names, paths, strict=True):
        with atomic_output(path, inputs=[log.path], force=force) as tmp:
            write(_table(log, stream), tmp)
    return paths


def to_parquet(log: LogReader, out_dir: str | os.PathLike[str],
               streams: list[str] | None = None, *, force: bool = False) -> list[Path]:
    """One Parquet file per stream, ``OUT_DIR/STREAM.parquet``; returns the paths.

    Raises:
        ConfigError: a stream is not in the log.
        OutputRefused: a file exists and ``force`` is off, or would replace the log.
    """
    require("pyarrow", extra="report", what="writing Parquet")
    return _write_tables(log, out_dir, streams, ".parquet",
                         lambda frame, path: frame.to_parquet(path, index=False), force)


def to_csv(log: LogReader, out_dir: str | os.PathLike[str],
           streams: list[str] | None = None, *, force: bool = False) -> list[Path]:
    """One CSV file per stream, ``OUT_DIR/STREAM.csv``; returns the paths (see
    :func:`to_parquet` for the errors)."""
    return _write_tables(log, out_dir, streams, ".csv",
                         lambda frame, path: frame.to_csv(path, index=False), force)


def to_foxglove_mcap(log: LogReader, out: str | os.PathLike[str],
                     streams: list[str] | None = None, *, force: bool = False) -> int:
    """Write a Foxglove-friendly copy: one message per sample; returns messages written.

    The copy is written under a temporary name and renamed when complete.

    Raises:
        ConfigError: a stream is not in the log.
        OutputRefused: ``out`` is the log, or exists and ``force`` is off.
    """
    wanted = set(check_streams(log, streams))
    with atomic_output(out, inputs=[log.path], force=force) as tmp:
        return _write_foxglove(log, tmp, wanted)


def _write_foxglove(log: LogReader, out: Path, wanted: set[str]) -> int:
    from mcap.writer import CompressionType, Writer

    channels: dict[str, int] = {}
    written = 0
    clock = log.clock_map
    as_utc = log.log_time_to_utc
    with open(out, "wb") as fh:
        writer: Any = Writer(fh, compression=CompressionType.LZ4)
        writer.start(library=f"sensekit/{__version__} (per-sample export)")
        for name, meta in log.metadata_for_utc_copy():
            if name.startswith("sensekit.") and name not in ("sensekit.channel",
                                                              "sensekit.summary"):
                writer.add_metadata(name, meta)
        for channel, log_time, data in log.raw_messages():
            if channel.topic not in wanted:
                continue
            if channel.message_encoding == "json":  # already a Foxglove schema
                cid = channels.get(channel.topic)
                if cid is None:
                    sid = writer.register_schema(channel.schema_name, channel.schema_encoding,
                                                 channel.schema_data)
                    cid = channels[channel.topic] = writer.register_channel(
                        channel.topic, "json", sid, channel.metadata)
                writer.add_message(cid, as_utc(log_time), bytes(data), as_utc(log_time))
                written += 1
                continue
            codec = log._codec(channel.id)
            if codec is None:
                continue
            packet = codec.decode(data)
            cid = channels.get(channel.topic)
            if packet.modality in _FOXGLOVE_FORMS:  # orientation, nav: Foxglove's own schemas
                if cid is None:
                    cid = channels[channel.topic] = _register_foxglove(writer, packet)
                for t, msg in _FOXGLOVE_FORMS[packet.modality](packet, clock.log_time_ns):
                    writer.add_message(cid, t, json.dumps(msg).encode(), t)
                    written += 1
                continue
            if cid is None:
                cid = channels[channel.topic] = _register_flat(writer, packet)
            for t, body in _sample_messages(packet, clock):
                writer.add_message(cid, t, body, t)
                written += 1
        writer.finish()
    return written


def _foxglove_forms() -> dict[str, Any]:
    from ..orientation.streams import FOXGLOVE, foxglove_messages

    return dict.fromkeys(FOXGLOVE, foxglove_messages)


#: modality -> per-sample Foxglove messages (the AHRS and navigation streams).
_FOXGLOVE_FORMS: dict[str, Any] = _foxglove_forms()


def _register_foxglove(writer: Any, packet: Packet) -> int:
    from ..orientation.streams import FOXGLOVE
    from .codec import _SENSEKIT
    from .foxglove import schema

    name = FOXGLOVE[packet.modality]
    body = schema(name)
    body["properties"]["sensekit"] = _SENSEKIT
    sid = writer.register_schema(name, "jsonschema", json.dumps(body).encode())
    return int(writer.register_channel(packet.stream, "json", sid,
                                       {"sensekit.modality": packet.modality}))


def _register_flat(writer: Any, packet: Packet) -> int:
    props: dict[str, Any] = {"timestamp": {"type": "object", "properties": {
        "sec": {"type": "integer"}, "nsec": {"type": "integer"}}}, "t_ns": {"type": "integer"}}
    for name, array in packet.fields.items():
        kind = {"type": "string" if array.dtype.kind in "US" else "number"}
        if array.ndim == 2 and array.shape[1] == 3:
            props[name] = {"type": "object", "properties": dict.fromkeys(_AXES, kind)}
        elif array.ndim == 1:
            props[name] = kind
        else:
            props[name] = {"type": "array", "items": kind}
    schema = {"title": f"sensekit.Sample.{packet.modality or packet.stream}", "type": "object",
              "properties": props}
    sid = writer.register_schema(schema["title"], "jsonschema", json.dumps(schema).encode())
    return int(writer.register_channel(packet.stream, "json", sid,
                                       {"sensekit.modality": packet.modality}))


def _sample_messages(packet: Packet, clock: ClockMap) -> list[tuple[int, bytes]]:
    cols: dict[str, list[Any]] = {}
    for name, array in packet.fields.items():
        # Text stays text; numbers go out as JSON numbers (NaN as null, which JSON allows).
        values: Any = array.astype(str if array.dtype.kind in "US" else np.float64)
        if values.dtype.kind == "f":
            values = values.astype(object)
            values[np.isnan(array.astype(np.float64))] = None
        if array.ndim == 2 and array.shape[1] == 3:
            cols[name] = [dict(zip(_AXES, r, strict=True)) for r in values.tolist()]
        else:
            cols[name] = values.tolist()
    out = []
    for i, t in enumerate(packet.t_ns.tolist()):
        wall = clock.log_time_ns(t)
        msg: dict[str, Any] = {"timestamp": {"sec": wall // 1_000_000_000,
                                             "nsec": wall % 1_000_000_000}, "t_ns": t}
        for name, values in cols.items():
            msg[name] = values[i]
        out.append((wall, json.dumps(msg).encode()))
    return out
