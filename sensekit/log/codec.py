"""How packets are stored in MCAP messages: one codec per channel, its schema stated in the file.

Two families:

- ``sensekit.packet`` (IMU, light, power, labels and any custom stream): one message holds a
  whole :class:`~sensekit.packets.Packet` (many samples), so a 1 kHz IMU costs a few messages
  per second rather than a thousand. Layout, all little-endian, stated again in the schema text::

      0   4s   magic b"SKP1"
      4   u32  n, samples in this message
      8   u32  m, bytes of packet meta (UTF-8 JSON, usually 0)
      12  m    packet meta
      ..  n*8  t_ns, int64 host monotonic nanoseconds, one per sample
      ..       each field in schema order: n * prod(shape) values of its dtype, C order

  The schema (encoding ``sensekit.packet/v1``, data UTF-8 JSON) names the modality and each
  field's name, dtype, per-sample shape and unit.

- Foxglove well-known schemas, JSON-encoded, where one fits, so Foxglove shows them as they
  are: ``foxglove.LocationFix`` (one message per GPS fix), ``foxglove.CompressedImage`` (one
  JPEG per camera frame; ``foxglove.RawImage`` when OpenCV is missing) and
  ``foxglove.RawAudio`` (one message per audio packet). The schema text is Foxglove's own,
  copied from a pinned release (:mod:`sensekit.log.foxglove`), with one property added: each
  message carries a ``sensekit`` object with what the Foxglove schema has no field for (host
  ``t_ns``, the GPS quality fields), so a round trip gives back the packet exactly (JPEG
  pixels excepted). A value the receiver did not give (the latitude of an epoch without a
  fix, the altitude of a 2D fix) is ``null``, which Foxglove's schema does not allow for a
  number; sensekit writes no invented value in its place.
  The Foxglove ``timestamp`` is UTC: host ``t_ns`` mapped by the log's clock map (the same
  mapping that gives every message its ``log_time``, see :class:`~sensekit.clock.ClockMap`).
"""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .._optional import require
from ..clock import ClockMap
from ..errors import LogFormatError
from ..packets import SPECS, Packet

__all__ = ["MAX_MESSAGE_SPAN_NS", "PACKET_ENCODING", "Codec", "codec_for_channel",
           "codec_for_packet"]

PACKET_ENCODING = "sensekit.packet/v1"
#: The longest stretch of time one message covers: the recorder splits longer packets, so a
#: time-range read need only look this far before the range for messages reaching into it.
MAX_MESSAGE_SPAN_NS = 1_000_000_000
_MAGIC = b"SKP1"
_HEAD = struct.Struct("<4sII")

PACKET_LAYOUT = (
    "sensekit packet v1, little-endian: 4s magic 'SKP1', u32 n samples, u32 m meta bytes, "
    "m bytes UTF-8 JSON packet meta, n x int64 t_ns (host monotonic ns), then each field in "
    "the order listed: n x prod(shape) values of its dtype, C order.")

Messages = list[tuple[int, bytes]]


@dataclass
class Codec:
    """Encodes one stream's packets into MCAP messages and back.

    Attributes:
        stream: The stream (MCAP topic).
        modality: Its :data:`~sensekit.packets.SPECS` entry (or ``""`` for custom streams).
        schema_name, schema_encoding, schema_data, message_encoding: What goes into the MCAP
            Schema and Channel records.
        fields: ``(name, dtype, shape)`` in storage order (packet codec only).
        clock: Host time to UTC, for Foxglove's ``timestamp`` (the recorder's clock map).
    """

    stream: str
    modality: str
    schema_name: str
    schema_encoding: str
    schema_data: bytes
    message_encoding: str
    fields: tuple[tuple[str, str, tuple[int, ...]], ...] = ()
    clock: ClockMap = field(default_factory=ClockMap.constant_zero)

    def encode(self, packet: Packet) -> Messages:
        """Messages ``(log_time_ns, data)`` for ``packet``."""
        kind = self.schema_name
        if self.message_encoding == PACKET_ENCODING:
            return [(int(packet.t_ns[0]), self._encode_packet(packet))]
        if kind == "foxglove.LocationFix":
            return _encode_gps(packet, self.clock)
        if kind in ("foxglove.CompressedImage", "foxglove.RawImage"):
            return _encode_camera(packet, self.clock, kind)
        if kind == "foxglove.RawAudio":
            return [_encode_audio(packet, self.clock)]
        raise LogFormatError(f"stream {self.stream!r}: no encoder for schema {kind!r}")

    def decode(self, data: bytes | memoryview) -> Packet:
        """The packet (or part of one) stored in one message."""
        if self.message_encoding == PACKET_ENCODING:
            return self._decode_packet(data)
        obj = json.loads(bytes(data))
        if self.schema_name == "foxglove.LocationFix":
            return _decode_gps(self.stream, obj)
        if self.schema_name in ("foxglove.CompressedImage", "foxglove.RawImage"):
            return _decode_camera(self.stream, obj)
        if self.schema_name == "foxglove.RawAudio":
            return _decode_audio(self.stream, obj)
        raise LogFormatError(f"stream {self.stream!r}: no decoder for schema "
                             f"{self.schema_name!r} ({self.message_encoding})")

    def decode_times(self, data: bytes | memoryview) -> npt.NDArray[np.int64]:
        """Only the sample times of one message (no image or audio decoding)."""
        if self.message_encoding == PACKET_ENCODING:
            _, n, m = _HEAD.unpack_from(data, 0)
            return np.frombuffer(data, "<i8", n, _HEAD.size + m).astype(np.int64)
        extra = json.loads(bytes(data))["sensekit"]
        if "t_ns" in extra:
            return np.array([int(extra["t_ns"])], np.int64)
        if "t_ns_b64" in extra:
            return np.frombuffer(base64.b64decode(extra["t_ns_b64"]), "<i8").astype(np.int64)
        n = int(extra["n"])
        return int(extra["t0_ns"]) + np.arange(n, dtype=np.int64) * int(extra.get("step_ns", 0))

    def _encode_packet(self, packet: Packet) -> bytes:
        meta = json.dumps(dict(packet.meta), default=str).encode() if packet.meta else b""
        parts = [_HEAD.pack(_MAGIC, len(packet), len(meta)), meta,
                 np.ascontiguousarray(packet.t_ns, "<i8").tobytes()]
        for name, dtype, _ in self.fields:
            parts.append(np.ascontiguousarray(packet.fields[name], np.dtype(dtype)).tobytes())
        return b"".join(parts)

    def _decode_packet(self, data: bytes | memoryview) -> Packet:
        magic, n, m = _HEAD.unpack_from(data, 0)
        if magic != _MAGIC:
            raise LogFormatError(f"stream {self.stream!r}: message is not a sensekit packet "
                                 f"(magic {magic!r})")
        pos = _HEAD.size
        meta = json.loads(bytes(data[pos:pos + m])) if m else {}
        pos += m
        t_ns = np.frombuffer(data, "<i8", n, pos)
        pos += 8 * n
        fields: dict[str, npt.NDArray[Any]] = {}
        for name, dtype, shape in self.fields:
            count = n * math.prod(shape)
            dt = np.dtype(dtype)
            fields[name] = np.frombuffer(data, dt, count, pos).reshape((n, *shape))
            pos += count * dt.itemsize
        return Packet(self.stream, t_ns, fields, self.modality, meta)


# -- building codecs ----------------------------------------------------------------------
def codec_for_packet(packet: Packet, *, clock: ClockMap | None = None,
                     jpeg: bool | None = None) -> Codec:
    """The codec the recorder uses for ``packet``'s stream (shapes taken from this packet)."""
    if packet.modality == "gps":
        return _json_codec(packet.stream, "gps", "foxglove.LocationFix", clock)
    if packet.modality == "camera":
        if jpeg is None:
            jpeg = _have_cv2()
        name = "foxglove.CompressedImage" if jpeg else "foxglove.RawImage"
        return _json_codec(packet.stream, "camera", name, clock)
    if packet.modality == "audio" and packet.fields["pcm"].dtype == np.int16:
        # Foxglove's RawAudio carries pcm-s16; float32 PCM keeps full precision as a packet.
        return _json_codec(packet.stream, "audio", "foxglove.RawAudio", clock)
    fields = tuple((name, np.dtype(a.dtype).newbyteorder("<").str, tuple(a.shape[1:]))
                   for name, a in packet.fields.items())
    return _packet_codec(packet.stream, packet.modality, fields)


def _packet_codec(stream: str, modality: str,
                  fields: tuple[tuple[str, str, tuple[int, ...]], ...]) -> Codec:
    spec = SPECS.get(modality)
    described = []
    for name, dtype, shape in fields:
        fs = spec.fields.get(name) if spec else None
        described.append({"name": name, "dtype": dtype, "shape": list(shape),
                          "unit": fs.unit if fs else "", "doc": fs.doc if fs else ""})
    schema = {"layout": PACKET_LAYOUT, "modality": modality, "fields": described}
    return Codec(stream, modality, f"sensekit.Packet.{modality or 'custom'}", PACKET_ENCODING,
                 json.dumps(schema, indent=1).encode(), PACKET_ENCODING, fields)


def codec_for_channel(topic: str, message_encoding: str, schema_name: str,
                      schema_encoding: str, schema_data: bytes,
                      metadata: Mapping[str, str]) -> Codec:
    """Rebuild the codec of a channel read from a file.

    Raises:
        LogFormatError: the channel uses an encoding sensekit does not read.
    """
    modality = metadata.get("sensekit.modality", "")
    if message_encoding == PACKET_ENCODING:
        try:
            schema = json.loads(schema_data)
            fields = tuple((str(f["name"]), np.dtype(f["dtype"]).str,
                            tuple(int(n) for n in f["shape"])) for f in schema["fields"])
        except (ValueError, KeyError, TypeError) as exc:
            raise LogFormatError(f"channel {topic!r}: unreadable sensekit.packet schema "
                                 f"({exc})") from None
        return Codec(topic, modality or schema.get("modality", ""), schema_name,
                     schema_encoding, schema_data, message_encoding, fields)
    if message_encoding == "json" and schema_name in _FOXGLOVE_MODALITY:
        return Codec(topic, _FOXGLOVE_MODALITY[schema_name], schema_name, schema_encoding,
                     schema_data, message_encoding)
    raise LogFormatError(f"channel {topic!r} uses {message_encoding!r} messages with schema "
                         f"{schema_name!r}, which sensekit does not decode")


_FOXGLOVE_MODALITY = {"foxglove.LocationFix": "gps", "foxglove.CompressedImage": "camera",
                      "foxglove.RawImage": "camera", "foxglove.RawAudio": "audio"}


def _have_cv2() -> bool:
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


_SENSEKIT = {"type": "object", "description": "sensekit fields Foxglove's schema has no place "
             "for: host t_ns, GPS quality; a round trip gives the packet back exactly"}


def _json_codec(stream: str, modality: str, name: str, clock: ClockMap | None) -> Codec:
    """Foxglove's published schema (see :mod:`sensekit.log.foxglove`) plus a ``sensekit``
    property."""
    from .foxglove import schema as foxglove_schema

    schema = foxglove_schema(name)
    schema["properties"]["sensekit"] = _SENSEKIT
    return Codec(stream, modality, name, "jsonschema", json.dumps(schema).encode(), "json",
                 clock=clock or ClockMap.constant_zero())


def _stamp(t_ns: int, clock: ClockMap) -> dict[str, int]:
    wall = clock.log_time_ns(t_ns)
    return {"sec": wall // 1_000_000_000, "nsec": wall % 1_000_000_000}


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


# -- GPS: foxglove.LocationFix -------------------------------------------------------------
_GPS_EXTRA = ("speed_mps", "track_deg", "mode", "hdop", "sats_used", "utc_ns", "alt_msl_m")
#: Optional GPS fields (imported phone fixes), kept when a packet has them.
_GPS_OPTIONAL = ("alt_hae_m", "alt_m", "h_accuracy_m", "v_accuracy_m", "speed_accuracy_mps",
                 "track_accuracy_deg")


def _encode_gps(packet: Packet, clock: ClockMap) -> Messages:
    out: Messages = []
    f = packet.fields
    for i in range(len(packet)):
        t = int(packet.t_ns[i])
        covariance, kind = _covariance(f, i)
        extra = {k: (_num(float(f[k][i])) if f[k].dtype.kind == "f" else int(f[k][i]))
                 for k in (*_GPS_EXTRA, *_GPS_OPTIONAL) if k in f}
        extra["t_ns"] = t
        msg = {"timestamp": _stamp(t, clock), "frame_id": packet.stream,
               "latitude": _num(float(f["lat_deg"][i])), "longitude": _num(float(f["lon_deg"][i])),
               "altitude": _altitude(f, i),
               "position_covariance": covariance, "position_covariance_type": kind,
               "sensekit": extra}
        out.append((t, json.dumps(msg).encode()))
    return out


def _altitude(f: Mapping[str, npt.NDArray[Any]], i: int) -> float | None:
    """Above mean sea level where the receiver gave it, else above the ellipsoid (a phone's
    fix), else above an unstated datum; None when there is none."""
    for key in ("alt_msl_m", "alt_hae_m", "alt_m"):
        if key in f and math.isfinite(float(f[key][i])):
            return float(f[key][i])
    return None


def _covariance(f: Mapping[str, npt.NDArray[Any]], i: int) -> tuple[list[float], int]:
    """ENU position covariance and its LocationFix type: from the receiver's accuracies
    (DIAGONAL_KNOWN, 2), else from HDOP (APPROXIMATED, 1), else zeros (UNKNOWN, 0)."""
    def value(key: str) -> float:
        return float(f[key][i]) if key in f else math.nan

    h, v, hdop = value("h_accuracy_m"), value("v_accuracy_m"), value("hdop")
    if math.isfinite(h):
        up = v**2 if math.isfinite(v) else 4 * h**2
        return [h**2, 0, 0, 0, h**2, 0, 0, 0, up], 2
    if math.isfinite(hdop):
        # HDOP times a 5 m user-equivalent range error (a common rule of thumb).
        var = (hdop * 5.0) ** 2
        return [var, 0, 0, 0, var, 0, 0, 0, 4 * var], 1
    return [0.0] * 9, 0


def _decode_gps(stream: str, obj: Mapping[str, Any]) -> Packet:
    extra = obj.get("sensekit", {})

    def val(x: Any) -> float:
        return math.nan if x is None else float(x)

    fields: dict[str, npt.NDArray[Any]] = {
        "lat_deg": np.array([val(obj.get("latitude"))], np.float64),
        "lon_deg": np.array([val(obj.get("longitude"))], np.float64),
        "alt_msl_m": np.array([val(extra.get("alt_msl_m", obj.get("altitude")))], np.float32),
        "speed_mps": np.array([val(extra.get("speed_mps"))], np.float32),
        "track_deg": np.array([val(extra.get("track_deg"))], np.float32),
        "mode": np.array([extra.get("mode", 0)], np.int8),
        "hdop": np.array([val(extra.get("hdop"))], np.float32),
        "sats_used": np.array([extra.get("sats_used", -1)], np.int16),
        "utc_ns": np.array([extra.get("utc_ns", 0)], np.int64),
    }
    for key in _GPS_OPTIONAL:
        if key in extra:
            fields[key] = np.array([val(extra[key])], np.float32)
    return Packet(stream, np.array([int(extra["t_ns"])], np.int64), fields, "gps")


# -- camera: foxglove.CompressedImage (JPEG) or RawImage -----------------------------------
def _encode_camera(packet: Packet, clock: ClockMap, kind: str) -> Messages:
    out: Messages = []
    images = packet.fields["image"]
    sensor = packet.fields.get("sensor_t_ns")
    for i in range(len(packet)):
        t = int(packet.t_ns[i])
        extra: dict[str, Any] = {"t_ns": t}
        if sensor is not None:
            extra["sensor_t_ns"] = int(sensor[i])
        if packet.meta:
            extra["meta"] = json.loads(json.dumps(dict(packet.meta), default=str))
        msg: dict[str, Any] = {"timestamp": _stamp(t, clock), "frame_id": packet.stream}
        img = np.ascontiguousarray(images[i])
        if kind == "foxglove.CompressedImage":
            import cv2

            ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
            if not ok:
                raise LogFormatError(f"stream {packet.stream!r}: JPEG encoding failed")
            msg.update(format="jpeg", data=base64.b64encode(buf.tobytes()).decode())
        else:
            h, w = img.shape[:2]
            msg.update(width=w, height=h, encoding="rgb8", step=3 * w,
                       data=base64.b64encode(img.tobytes()).decode())
        msg["sensekit"] = extra
        out.append((t, json.dumps(msg).encode()))
    return out


def _decode_camera(stream: str, obj: Mapping[str, Any]) -> Packet:
    raw = base64.b64decode(obj["data"])
    if "format" in obj:
        cv2 = require("cv2", extra="camera", what=f"decoding the JPEG frames of {stream!r}")

        bgr = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise LogFormatError(f"stream {stream!r}: frame is not a readable "
                                 f"{obj.get('format')} image")
        img = np.ascontiguousarray(bgr[:, :, ::-1])
    else:
        img = np.frombuffer(raw, np.uint8).reshape(int(obj["height"]), int(obj["width"]), 3)
    extra = obj.get("sensekit", {})
    fields: dict[str, npt.NDArray[Any]] = {"image": img[None]}
    if "sensor_t_ns" in extra:
        fields["sensor_t_ns"] = np.array([extra["sensor_t_ns"]], np.int64)
    return Packet(stream, np.array([int(extra["t_ns"])], np.int64), fields, "camera",
                  extra.get("meta", {}))


# -- audio: foxglove.RawAudio --------------------------------------------------------------
def _encode_audio(packet: Packet, clock: ClockMap) -> tuple[int, bytes]:
    pcm = np.ascontiguousarray(packet.fields["pcm"], "<i2")
    t = packet.t_ns
    extra: dict[str, Any] = {"t0_ns": int(t[0]), "n": len(packet)}
    steps = np.diff(t)
    if len(steps) and np.all(steps == steps[0]):
        extra["step_ns"] = int(steps[0])
    elif len(steps):
        extra["t_ns_b64"] = base64.b64encode(np.ascontiguousarray(t, "<i8").tobytes()).decode()
    rate = packet.meta.get("sample_rate_hz")
    if rate is None:
        rate = 1e9 / float(steps.mean()) if len(steps) else SPECS["audio"].nominal_rate_hz
    msg = {"timestamp": _stamp(int(t[0]), clock), "data": base64.b64encode(pcm.tobytes()).decode(),
           "format": "pcm-s16", "sample_rate": round(float(rate)),
           "number_of_channels": int(pcm.shape[1]), "sensekit": extra}
    return int(t[0]), json.dumps(msg).encode()


def _decode_audio(stream: str, obj: Mapping[str, Any]) -> Packet:
    extra = obj["sensekit"]
    channels = int(obj["number_of_channels"])
    pcm = np.frombuffer(base64.b64decode(obj["data"]), "<i2").reshape(-1, channels)
    n = int(extra["n"])
    if "t_ns_b64" in extra:
        t = np.frombuffer(base64.b64decode(extra["t_ns_b64"]), "<i8").astype(np.int64)
    else:
        t = int(extra["t0_ns"]) + np.arange(n, dtype=np.int64) * int(extra.get("step_ns", 0))
    return Packet(stream, t, {"pcm": pcm}, "audio", {"sample_rate_hz": obj["sample_rate"]})
