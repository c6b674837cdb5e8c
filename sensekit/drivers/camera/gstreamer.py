"""GStreamer pipelines through GStreamer's own Python bindings (``gi``), for Jetson CSI cameras.

The pip OpenCV wheels are built without GStreamer, so frames are pulled from an ``appsink`` with
PyGObject (``sudo apt install python3-gi gir1.2-gstreamer-1.0``; create the venv with
``--system-site-packages``).

``nvargus://0`` builds ``nvarguscamerasrc sensor-id=0 sensor-mode=N`` and ``nvvidconv`` (the
Jetson's hardware scaler) scaling to the smallest size of the mode's shape that covers the
request, so DNN frames leave the pipeline small. The sensor modes are the camera's own: given in
the URL (``nvargus://0?modes=3264x2464@21,1640x1232@30,1280x720@60``, the list
``nvarguscamerasrc`` prints as "GST_ARGUS: Available Sensor modes"), else read from the sensor's
device-tree node (:func:`argus_modes`: the ``modeN`` nodes' ``active_w``, ``active_h`` and
``max_framerate`` over ``framerate_factor``, found through
``tegra-camera-platform/modules/moduleN/drivernode0/proc-device-tree``, as the L4T sensor
driver guide lays them out). The DNN mode is the smallest mode that sees the whole field of
view (a binned mode, :func:`full_view`) at or above the request; a frame rate above the chosen
mode's limit is a :class:`~sensekit.errors.ConfigError`.

``gst://DESC`` takes any pipeline description that produces raw video; sensekit appends the
scaling and the sink (``videoscale`` in software there, since a generic source has no hardware
scaler).

Dropped frames: the appsink keeps only the newest buffer, so a slow reader loses frames; they
are counted from the buffers' offsets (the frame numbers ``nvarguscamerasrc`` and ``v4l2src``
set) or, where a source leaves them unset, from gaps in the presentation times.

Not verified on hardware: the device-tree layout on each JetPack release, and nvarguscamerasrc's
buffer offsets (``drivers/smoke.py --check jetson-camera`` prints both on a board).
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError, DeviceIOError, DeviceNotFound
from .backend import (
    Frame,
    FrameGaps,
    Size,
    StreamConfig,
    cover_size,
    smallest_at_or_above,
    still_by_reconfiguring,
)

__all__ = ["GstBackend", "SensorMode", "argus_modes", "full_view", "nvargus_pipeline",
           "parse_modes"]

_SINK = "appsink name=sensekit_sink max-buffers=1 drop=true sync=false emit-signals=false"
#: GST_BUFFER_OFFSET_NONE: a source that does not number its buffers.
_OFFSET_NONE = 2 ** 64 - 1
#: A mode sees the whole sensor when a whole binning factor scales it to the largest mode
#: within this share (1640x1232 x 2 is 3280x2464, the IMX219's 3264x2464 full mode).
_FULL_VIEW_TOLERANCE = 0.02


@dataclass(frozen=True)
class SensorMode:
    """One sensor mode: readout size and the fastest frame rate it runs at."""

    size: Size
    max_fps: float

    def __str__(self) -> str:
        return f"{self.size[0]}x{self.size[1]}@{self.max_fps:g}"


def parse_modes(text: str, where: str) -> tuple[SensorMode, ...]:
    """``"3264x2464@21,1640x1232@30"`` as sensor modes, in the camera's order."""
    modes = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        match = re.fullmatch(r"(\d+)x(\d+)@(\d+(?:\.\d+)?)", item)
        if match is None:
            raise ConfigError(f"{where}: sensor mode {item!r} should be WIDTHxHEIGHT@FPS, e.g. "
                              "1640x1232@30")
        modes.append(SensorMode((int(match[1]), int(match[2])), float(match[3])))
    if not modes:
        raise ConfigError(f"{where}: modes= lists no sensor mode")
    return tuple(modes)


def _dt_text(path: Path) -> str:
    return path.read_bytes().rstrip(b"\0").decode("ascii", "replace").strip()


def argus_modes(sensor_id: int, root: Path = Path("/")) -> tuple[SensorMode, ...] | None:
    """The sensor modes a Jetson's device tree gives camera ``sensor_id``, or None."""
    module = root / f"proc/device-tree/tegra-camera-platform/modules/module{sensor_id}"
    try:
        node_text = _dt_text(module / "drivernode0" / "proc-device-tree")
        node = root / node_text.lstrip("/")
        modes = []
        for mode in sorted(node.glob("mode[0-9]*"), key=lambda p: int(p.name[4:])):
            factor = float(_dt_text(mode / "framerate_factor")) \
                if (mode / "framerate_factor").exists() else 1e6
            modes.append(SensorMode((int(_dt_text(mode / "active_w")),
                                     int(_dt_text(mode / "active_h"))),
                                    float(_dt_text(mode / "max_framerate")) / factor))
    except (OSError, ValueError):
        return None
    return tuple(modes) or None


def full_view(modes: tuple[SensorMode, ...]) -> list[SensorMode]:
    """The modes that read the whole sensor (the largest, and binned ones scaling to it)."""
    full = max(modes, key=lambda m: m.size[0] * m.size[1]).size
    out = []
    for mode in modes:
        w, h = mode.size
        k = round(full[0] / w)
        if k >= 1 and abs(w * k - full[0]) <= _FULL_VIEW_TOLERANCE * full[0] and \
                abs(h * k - full[1]) <= _FULL_VIEW_TOLERANCE * full[1]:
            out.append(mode)
    return out


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
        sensor_modes: Sensor modes of an nvargus camera (None: read them from the device tree).
        root: Where the device tree is looked for (tests point it elsewhere).
    """

    name = "gstreamer"

    def __init__(self, gi: Any, source: tuple[str, str], where: str,
                 sensor_modes: tuple[SensorMode, ...] | None = None,
                 root: Path = Path("/")) -> None:
        self.gi, self.kind, self.where = gi, source[0], where
        self.location = source[1]
        self._modes = sensor_modes
        self.root = root
        self.Gst: Any = None
        self.pipeline: Any = None
        self.sink: Any = None
        self.fps = 30.0
        self._gaps = FrameGaps()
        self._last: tuple[str, Size | None, float] = ("dnn", None, 30.0)

    @property
    def sensor_modes(self) -> tuple[SensorMode, ...]:
        """The camera's sensor modes (from the URL, else its device tree)."""
        if self._modes is None:
            self._modes = argus_modes(int(self.location or 0), self.root)
        if self._modes is None:
            raise DeviceNotFound(
                f"{self.where}: the sensor modes of camera {self.location or 0} are not in the "
                "device tree. Hint: give them in the URL as nvarguscamerasrc lists them, e.g. "
                "nvargus://0?modes=3264x2464@21,1640x1232@30,1280x720@60")
        return self._modes

    def _mode_for(self, mode: str, size: Size | None, fps: float) -> SensorMode:
        modes = self.sensor_modes
        full = max(modes, key=lambda m: m.size[0] * m.size[1])
        if mode == "photo" or size is None:
            return full
        whole = [m for m in full_view(modes)]
        sizes = [m.size for m in whole]
        pick = smallest_at_or_above(sizes, size) or smallest_at_or_above(
            [m.size for m in modes], size)
        chosen = next(m for m in (*whole, *modes) if m.size == pick) if pick else full
        if fps > chosen.max_fps + 1e-6:
            listed = ", ".join(str(m) for m in modes)
            raise ConfigError(f"{self.where}: {fps:g} frames/s is more than sensor mode "
                              f"{chosen} gives. Hint: lower rate_hz to {chosen.max_fps:g} or "
                              f"less (modes: {listed})")
        return chosen

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
            chosen = self._mode_for(mode, size, fps)
            want = chosen.size
            out = want if mode == "photo" or size is None else cover_size(size, want)
            self.fps = min(fps, chosen.max_fps)
            desc = nvargus_pipeline(int(self.location or 0), self.sensor_modes.index(chosen),
                                    want, out, self.fps)
            view = "whole field of view" if chosen in full_view(self.sensor_modes) else "cropped"
            return desc, StreamConfig(out, want, mode == "dnn", f"sensor mode {chosen} "
                                      f"({view}), nvvidconv to {out[0]}x{out[1]}")
        self.fps = fps
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
        self._gaps.reset()
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
        stamp = int(pts) if 0 <= pts < 2**63 - 1 else None
        offset = getattr(buffer, "offset", _OFFSET_NONE)
        if 0 <= offset < _OFFSET_NONE:
            skipped, estimated = self._gaps.by_sequence(int(offset)), False
        else:
            skipped = 0 if stamp is None else self._gaps.by_time(stamp, 1e9 / self.fps)
            estimated = True
        return Frame(image, bgr=True, sensor_t_ns=stamp, skipped=skipped,
                     skipped_estimated=estimated)

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
