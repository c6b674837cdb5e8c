"""GStreamer pipelines through GStreamer's own Python bindings (``gi``), for Jetson CSI cameras.

The pip OpenCV wheels are built without GStreamer, so frames are pulled from an ``appsink`` with
PyGObject (``sudo apt install python3-gi gir1.2-gstreamer-1.0``; create the venv with
``--system-site-packages``).

``nvargus://0`` builds ``nvarguscamerasrc sensor-id=0 sensor-mode=N`` with the sensor mode
chosen for the request and ``nvvidconv`` (the Jetson's hardware scaler) scaling to the smallest
size of the mode's shape that covers it, so DNN frames leave the pipeline small. ``gst://DESC``
takes any pipeline description that produces raw video; sensekit appends the scaling and the
sink (``videoscale`` in software there, since a generic source has no hardware scaler).
"""

from __future__ import annotations

import errno
from typing import Any

import numpy as np

from ...errors import DeviceIOError, DeviceNotFound
from .backend import (
    Frame,
    Size,
    StreamConfig,
    cover_size,
    smallest_at_or_above,
    still_by_reconfiguring,
)

__all__ = ["IMX219_ARGUS_MODES", "GstBackend", "nvargus_pipeline"]

#: nvarguscamerasrc sensor modes of the IMX219 (Pi Camera v2) on Jetson, as the source lists
#: them (mode index = position): 3264x2464@21, 3264x1848@28, 1920x1080@30, 1640x1232@30,
#: 1280x720@60.
IMX219_ARGUS_MODES: tuple[Size, ...] = ((3264, 2464), (3264, 1848), (1920, 1080), (1640, 1232),
                                        (1280, 720))

_SINK = "appsink name=sensekit_sink max-buffers=1 drop=true sync=false emit-signals=false"


def nvargus_pipeline(sensor_id: int, mode_index: int, sensor: Size, out: Size,
                     fps: float) -> str:
    """The nvarguscamerasrc pipeline for one sensor mode scaled by nvvidconv to ``out``."""
    return (f"nvarguscamerasrc sensor-id={sensor_id} sensor-mode={mode_index} ! "
            f"video/x-raw(memory:NVMM),width={sensor[0]},height={sensor[1]},"
            f"framerate={round(fps)}/1,format=NV12 ! nvvidconv ! "
            f"video/x-raw,width={out[0]},height={out[1]},format=BGRx ! {_SINK}")


class GstBackend:
    """A GStreamer pipeline ending in an appsink that delivers BGRx frames.

    Args:
        gi: The ``gi`` module (PyGObject).
        source: ``("nvargus", sensor_id)`` or ``("gst", pipeline description)``.
        where: How errors name the device.
        sensor_modes: Sensor modes of an nvargus camera (IMX219 by default).
    """

    name = "gstreamer"

    def __init__(self, gi: Any, source: tuple[str, str], where: str,
                 sensor_modes: tuple[Size, ...] = IMX219_ARGUS_MODES) -> None:
        self.gi, self.kind, self.where = gi, source[0], where
        self.location = source[1]
        self.sensor_modes = sensor_modes
        self.Gst: Any = None
        self.pipeline: Any = None
        self.sink: Any = None
        self._last: tuple[str, Size | None, float] = ("dnn", None, 30.0)

    def open(self) -> None:
        try:
            self.gi.require_version("Gst", "1.0")
            from gi.repository import Gst  # the bindings resolve submodules at import
        except (ImportError, ValueError) as exc:
            raise DeviceNotFound(f"{self.where}: GStreamer bindings missing ({exc}). Hint: sudo "
                                 "apt install python3-gi gir1.2-gstreamer-1.0") from None
        Gst.init(None)
        self.Gst = Gst

    def _description(self, mode: str, size: Size | None, fps: float) -> tuple[str, StreamConfig]:
        if self.kind == "nvargus":
            full = max(self.sensor_modes, key=lambda s: s[0] * s[1])
            want = full if mode == "photo" or size is None else (
                smallest_at_or_above(self.sensor_modes, size) or full)
            out = want if mode == "photo" or size is None else cover_size(size, want)
            desc = nvargus_pipeline(int(self.location or 0), self.sensor_modes.index(want),
                                    want, out, fps)
            return desc, StreamConfig(out, want, mode == "dnn", f"sensor mode {want[0]}x"
                                      f"{want[1]}, nvvidconv to {out[0]}x{out[1]}")
        scale = "" if size is None or mode == "photo" else (
            f" ! videoscale ! video/x-raw,width={size[0]},height={size[1]}")
        desc = f"{self.location}{scale} ! videoconvert ! video/x-raw,format=BGRx ! {_SINK}"
        out = size if scale and size else (0, 0)
        return desc, StreamConfig(out, None, False, "GStreamer videoscale (software)")

    def configure(self, mode: str, size: Size | None, fps: float) -> StreamConfig:
        gst = self.Gst
        self._last = (mode, size, fps)
        desc, config = self._description(mode, size, fps)
        self._stop()
        try:
            self.pipeline = gst.parse_launch(desc)
        except Exception as exc:  # GLib.Error: the description does not parse or link
            raise DeviceNotFound(f"{self.where}: cannot build '{desc}': {exc}") from None
        self.sink = self.pipeline.get_by_name("sensekit_sink")
        if self.pipeline.set_state(gst.State.PLAYING) == gst.StateChangeReturn.FAILURE:
            raise DeviceNotFound(f"{self.where}: the pipeline would not start. Hint: on a "
                                 "Jetson, 'sudo systemctl restart nvargus-daemon'")
        return config

    def grab(self, timeout_s: float) -> Frame | None:
        sample = self.sink.emit("try-pull-sample", round(timeout_s * 1e9))
        if sample is None:
            self._raise_if_failed()
            return None
        buffer = sample.get_buffer()
        caps = sample.get_caps().get_structure(0)
        w, h = int(caps.get_value("width")), int(caps.get_value("height"))
        ok, info = buffer.map(self.Gst.MapFlags.READ)
        if not ok:
            raise DeviceIOError(f"{self.where}: could not map a buffer")
        try:
            bgrx = np.frombuffer(info.data, np.uint8)[:h * w * 4].reshape(h, w, 4)
            image = np.ascontiguousarray(bgrx[..., :3])
        finally:
            buffer.unmap(info)
        pts = buffer.pts
        return Frame(image, bgr=True, sensor_t_ns=int(pts) if 0 <= pts < 2**63 - 1 else None)

    def _raise_if_failed(self) -> None:
        bus = self.pipeline.get_bus()
        message = bus.pop_filtered(self.Gst.MessageType.ERROR | self.Gst.MessageType.EOS)
        if message is None:
            return
        if message.type == self.Gst.MessageType.EOS:
            raise OSError(errno.ENODATA, "the pipeline reached its end")
        error, debug = message.parse_error()
        raise OSError(errno.EIO, f"GStreamer error: {error} ({debug})")

    def capture_still(self, timeout_s: float) -> Frame:
        return still_by_reconfiguring(self, self._last, timeout_s, 3)

    def _stop(self) -> None:
        if self.pipeline is not None:
            self.pipeline.set_state(self.Gst.State.NULL)
            self.pipeline = self.sink = None

    def close(self) -> None:
        if self.Gst is not None:
            self._stop()
