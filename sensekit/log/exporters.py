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
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .._optional import require
from .._version import __version__
from ..clock import ClockMap
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
    """One stream as a pandas DataFrame (one row per sample)."""
    pd = require("pandas", extra="report", what="exporting a recording to tables")
    packet = log.read(stream, start_ns, end_ns)
    return pd.DataFrame(packet_columns(packet, log.clock_map))


def _tables(log: LogReader, streams: list[str] | None) -> dict[str, Any]:
    names = streams or list(log.streams)
    return {s: to_dataframe(log, s) for s in names}


def to_parquet(log: LogReader, out_dir: str | os.PathLike[str],
               streams: list[str] | None = None) -> list[Path]:
    """One Parquet file per stream, ``OUT_DIR/STREAM.parquet``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    require("pyarrow", extra="report", what="writing Parquet")
    for stream, frame in _tables(log, streams).items():
        path = out / f"{stream}.parquet"
        frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


def to_csv(log: LogReader, out_dir: str | os.PathLike[str],
           streams: list[str] | None = None) -> list[Path]:
    """One CSV file per stream, ``OUT_DIR/STREAM.csv``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for stream, frame in _tables(log, streams).items():
        path = out / f"{stream}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths


def to_foxglove_mcap(log: LogReader, out: str | os.PathLike[str]) -> int:
    """Write a Foxglove-friendly copy: one message per sample; returns messages written."""
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
