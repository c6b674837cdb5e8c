"""Camera driver: one interface over V4L2, picamera2, GStreamer, video files and emulation.

The backend is chosen from the URL (registry name ``"camera"``)::

    sensekit.open("camera", "/dev/video0")             # or v4l2:///dev/video0, v4l2://0
    sensekit.open("camera", "picamera2://0")           # Pi camera (libcamera)
    sensekit.open("camera", "nvargus://0")             # Jetson CSI camera (GStreamer)
    sensekit.open("camera", "gst://videotestsrc is-live=true")
    sensekit.open("camera", "file://walk.mp4")         # or a path ending .mp4/.avi/...
    sensekit.open("camera", "emu://?scene=street")     # emulated, see sensekit.testing
    Camera("emu://", emulator=CameraSceneEmulator(scene=schedule, clock=clock), clock=clock)

Dual mode (sizes are ``(width, height)``):

- ``set_mode("dnn", size=(224, 224))``: frames of exactly that size, with the downscale done in
  the sensor pipeline where the backend can (binned sensor mode + ISP lores stream, the smallest
  V4L2 format at or above the size, nvvidconv); the last crop/resize is software and
  ``meta`` says what was done; where the backend cannot, ``meta["pipeline"] == "software"``.
- ``set_mode("photo")``: full resolution frames.
- ``capture_photo()``: one full-resolution frame, then back to the current mode.

Every switch is timed (:attr:`Camera.switches`: configuration time and time to the first frame
in the new mode) and the first frame after it carries ``meta["switch_latency_s"]``. Hysteresis
belongs to the caller's policy: :class:`~sensekit.controller.dual_mode.DualModeCamera`.

A camera that disappears mid-stream raises :class:`~sensekit.errors.DeviceIOError` once from
:meth:`Camera.read` (logged and counted), the driver closes itself, iteration ends cleanly and
the error stays in :attr:`Camera.error`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..._optional import require
from ...driver import Driver
from ...errors import ConfigError, DeviceIOError
from ...packets import Packet
from .backend import CameraBackend, Frame, Size, StreamConfig, finish
from .emulated import EmulatedBackend
from .video_file import VIDEO_SUFFIXES

if TYPE_CHECKING:
    from ...testing.camera_scenes import CameraSceneEmulator

__all__ = ["Camera", "ModeSwitch"]

log = logging.getLogger(__name__)


@dataclass
class ModeSwitch:
    """One measured mode switch.

    Attributes:
        t_ns: Host time the switch was asked for.
        src, dst: Modes before and after (``"dnn"``, ``"photo"``).
        size: Frame size delivered after the switch.
        configure_s: Time the backend took to reconfigure.
        first_frame_s: Time from the request to the first frame in the new mode (None until
            that frame arrives).
        in_pipeline: Whether the new mode's downscale happens in the sensor pipeline.
    """

    t_ns: int
    src: str
    dst: str
    size: Size
    configure_s: float
    first_frame_s: float | None = None
    in_pipeline: bool = False


def _parse_size(text: str) -> Size:
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit():
        raise ConfigError(f"size {text!r} should be WIDTHxHEIGHT, e.g. 224x224")
    return int(w), int(h)


class Camera(Driver):
    """One camera, in DNN mode (small frames for a network) or photo mode (full resolution).

    Args:
        url: See the module docstring. Query options: ``size`` (``224x224``), ``scene``,
            ``seed`` (emu), ``loop``, ``realtime`` (files), ``model`` (power table).
        size: DNN-mode frame size ``(width, height)``.
        backend: A ready backend object (tests, custom pipelines); overrides the URL's.
        emulator: A :class:`CameraSceneEmulator` to use with ``emu://``.
        **options: :class:`~sensekit.driver.Driver` options (``rate_hz`` = frames/s, ``mode``,
            ``clock``...).
    """

    name: ClassVar[str] = "camera"
    modality: ClassVar[str] = "camera"
    schemes: ClassVar[frozenset[str]] = frozenset(
        {"v4l2", "path", "picamera2", "gst", "nvargus", "file", "emu"})
    #: Camera hardware SENSEKIT_BACKEND=emu replaces (video files stay files).
    emulable: ClassVar[frozenset[str]] = frozenset({"v4l2", "picamera2", "nvargus"})
    modes: ClassVar[tuple[str, ...]] = ("dnn", "photo")
    power_model: ClassVar[str | None] = "pi_camera_v2"
    default_rate_hz: ClassVar[float | None] = 15.0
    #: Frame rates any backend can be asked for; each sensor mode then sets its own limit.
    rate_range_hz: ClassVar[tuple[float, float]] = (0.1, 1000.0)

    def __init__(self, url: Any, *, size: Sequence[int] = (224, 224),
                 backend: CameraBackend | None = None,
                 emulator: CameraSceneEmulator | None = None, **options: Any) -> None:
        super().__init__(url, **options)
        u = self.url
        self.size: Size = _parse_size(u.options["size"]) if "size" in u.options else (
            int(size[0]), int(size[1]))
        if u.scheme == "path" and not u.location.startswith("/dev/video") and \
                PurePath(u.location).suffix.lower() not in VIDEO_SUFFIXES:
            raise ConfigError(f"{self.describe()}: a path must be /dev/videoN or a video file "
                              f"({', '.join(sorted(VIDEO_SUFFIXES))})")
        self.emulator = emulator
        self.backend: CameraBackend | None = backend
        self.config: StreamConfig | None = None
        #: Every measured mode switch, oldest first.
        self.switches: list[ModeSwitch] = []
        #: Seconds each capture_photo() took, request to frame.
        self.photo_latencies_s: list[float] = []
        self._pending: ModeSwitch | None = None
        # The power table depends on the camera behind the URL; an instance value shadows the
        # class default so the ledger reads the right one.
        self.__dict__["power_model"] = u.options.get("model") or _power_table(u.scheme)

    # -- opening ---------------------------------------------------------------------------
    def _open(self) -> None:
        if self.backend is None:
            self.backend = self._make_backend()
        self.backend.open()
        self._configure(self.mode)
        model = getattr(self.backend, "model", "")
        if "imx708" in str(model).lower() and "model" not in self.url.options:
            self.__dict__["power_model"] = "pi_camera_v3"

    def _make_backend(self) -> CameraBackend:
        u, where = self.url, self.describe()
        if self.uses_emulator:
            emu = self.emulator or self.emulated_part(fps=str(self.rate_hz or 15.0))
            return EmulatedBackend(emu, where)
        if u.scheme == "picamera2":
            from .picam import Picamera2Backend
            lib = require("picamera2", extra="camera", what=where)
            return Picamera2Backend(lib, int(u.location or 0), where)
        if u.scheme in ("gst", "nvargus"):
            from .gstreamer import GstBackend, parse_modes
            modes = parse_modes(u.options["modes"], where) if "modes" in u.options else None
            gi = require("gi", extra="camera", what=where)
            return GstBackend(gi, (u.scheme, u.location), where, modes)
        cv2 = require("cv2", extra="camera", what=where)
        if u.scheme == "v4l2" or u.location.startswith("/dev/video"):
            from .v4l2 import V4l2Backend
            device: str | int = int(u.location) if u.location.isdigit() else u.location
            return V4l2Backend(cv2, device, self.clock, where)
        from .video_file import VideoFileBackend
        return VideoFileBackend(cv2, u.location, self.clock, where,
                                loop=u.option("loop", _boolean, False),
                                realtime=u.option("realtime", _boolean, False))

    def names_hardware(self) -> bool:
        """The camera schemes, and ``/dev/videoN`` paths (a video file is not a camera)."""
        u = self.url
        return super().names_hardware() or (u.scheme == "path"
                                             and u.location.startswith("/dev/video"))

    def _configure(self, mode: str) -> float:
        """Configure the backend for ``mode``; return the seconds it took."""
        assert self.backend is not None
        t0 = self.clock.now_ns()
        self.config = self.backend.configure(mode, self.size if mode == "dnn" else None,
                                             float(self.rate_hz or 15.0))
        if mode == "dnn" and not self.config.in_pipeline:
            log.info("%s: DNN mode falls back to capture-and-resize: %s", self.describe(),
                     self.config.note)
        return (self.clock.now_ns() - t0) / 1e9

    # -- reading ---------------------------------------------------------------------------
    def _read_packet(self, timeout_s: float) -> Packet | None:
        assert self.backend is not None
        if self.asleep:
            self.clock.sleep(timeout_s)
            return None
        try:
            frame = self.backend.grab(timeout_s)
        except OSError as exc:
            raise self.device_gone(
                DeviceIOError(f"{self.describe()}: {exc.strerror or exc}")) from exc
        if frame is None:
            self.ended = bool(getattr(self.backend, "finished", False))
            return None
        if frame.skipped:
            self.report_dropped(frame.skipped, "frames overwritten before they were read "
                                               "(reader slower than the frame rate)",
                                estimated=frame.skipped_estimated)
        return self._packet(frame, self.mode)

    def _packet(self, frame: Frame, mode: str, **extra: Any) -> Packet:
        assert self.config is not None and self.backend is not None
        target = self.size if mode == "dnn" else (frame.image.shape[1], frame.image.shape[0])
        image, facts = finish(frame.image, target, bgr=frame.bgr)
        now = self.clock.now_ns()
        fields: dict[str, Any] = {"image": image[None]}
        if frame.sensor_t_ns is not None:
            fields["sensor_t_ns"] = np.array([frame.sensor_t_ns], np.int64)
        meta: dict[str, Any] = {
            "mode": mode, "backend": self.backend.name, "size": target,
            "sensor_mode": self.config.sensor_mode if mode == self.mode else None,
            "pipeline": "full" if mode == "photo" else
                        "sensor" if self.config.in_pipeline else "software",
            "note": self.config.note, **facts, **extra}
        if self._pending is not None and mode == self._pending.dst:
            self._pending.first_frame_s = (now - self._pending.t_ns) / 1e9
            meta["switch_latency_s"] = self._pending.first_frame_s
            self._pending = None
        t_ns = np.array([frame.t_ns if frame.t_ns is not None else now], np.int64)
        return Packet(self.stream, t_ns, fields, "camera", meta)

    # -- modes -----------------------------------------------------------------------------
    def _set_mode(self, mode: str, **options: Any) -> None:
        unknown = set(options) - {"size"}
        if unknown:
            raise ConfigError(f"{self.describe()}: set_mode takes size=(w, h) only, not "
                              f"{sorted(unknown)}")
        size = options.get("size")
        new_size = (int(size[0]), int(size[1])) if size is not None else self.size
        if mode == self.mode and (mode == "photo" or new_size == self.size):
            return  # already there: no reconfiguration, no latency
        self.size = new_size
        t0 = self.clock.now_ns()
        configure_s = self._configure(mode)
        assert self.config is not None
        self._pending = ModeSwitch(t0, self.mode, mode, new_size if mode == "dnn" else
                                   self.config.size, configure_s, None, self.config.in_pipeline)
        self.switches.append(self._pending)
        log.info("%s: %s -> %s took %.3f s to configure (%s)", self.describe(), self.mode,
                 mode, configure_s, self.config.note)

    def capture_photo(self, timeout_s: float | None = None) -> Packet:
        """One full-resolution frame; the camera stays in (or returns to) its current mode."""
        self._check_open()
        assert self.backend is not None
        timeout = self.timeout_s if timeout_s is None else timeout_s
        t0 = self.clock.now_ns()
        if self.mode == "photo":
            frame = self.backend.grab(timeout)
            if frame is None:
                raise DeviceIOError(f"{self.describe()}: no photo within {timeout} s")
        else:
            self._record("mode", self.mode, "photo", "capture_photo")
            try:
                frame = self.backend.capture_still(timeout)
            except OSError as exc:
                raise DeviceIOError(f"{self.describe()}: photo failed: {exc}") from exc
            finally:
                self._record("mode", "photo", self.mode, "capture_photo done")
        latency = (self.clock.now_ns() - t0) / 1e9
        self.photo_latencies_s.append(latency)
        self.stats.packets += 1
        self.stats.samples += 1
        return self._packet(frame, "photo", photo_latency_s=latency,
                            note="one-shot full-resolution still")

    def _set_rate(self, rate_hz: float) -> float:
        self.rate_hz = rate_hz
        self._configure(self.mode)
        return rate_hz

    def _sleep(self) -> None:
        assert self.backend is not None
        self.backend.close()

    def _wake(self) -> None:
        assert self.backend is not None
        self.backend.open()
        self._configure(self.mode)

    def _close(self) -> None:
        if self.backend is not None:
            self.backend.close()


def _boolean(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on", ""):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _power_table(scheme: str) -> str:
    """The power table of the usual camera behind each kind of URL (``?model=`` overrides)."""
    return {"v4l2": "usb_camera", "path": "usb_camera", "file": "usb_camera"}.get(
        scheme, "pi_camera_v2")
