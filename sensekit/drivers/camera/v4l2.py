"""USB and other V4L2 cameras through OpenCV's V4L2 backend (Pi and Jetson alike).

USB cameras offer a list of fixed formats and none is 224x224, so DNN mode asks for the smallest
format at or above the requested size and leaves the last crop and resize to software. The
formats are listed with V4L2's own enumeration ioctls (:mod:`.v4l2_formats`); where that is not
possible, by asking OpenCV for the usual UVC sizes once (V4L2's ``S_FMT`` answers with the
nearest size the driver supports, and OpenCV reads it back) and keeping what the camera said.

Dropped frames: OpenCV keeps one buffer (``CAP_PROP_BUFFERSIZE`` 1), so frames a slow reader
missed are counted from gaps in the buffer timestamps against the frame rate the camera runs
at (an estimate: a UVC camera that lengthens its exposure in the dark slows down by itself).
"""

from __future__ import annotations

import errno
import logging
import os
from typing import Any

from ...clock import Clock, MonotonicClock
from ...errors import DeviceNotFound
from .backend import (
    Frame,
    FrameGaps,
    Size,
    StreamConfig,
    smallest_at_or_above,
    still_by_reconfiguring,
)
from .v4l2_formats import enum_formats

__all__ = ["UVC_SIZES", "V4l2Backend"]

log = logging.getLogger(__name__)

#: Frame sizes UVC cameras commonly offer (USB Video Class 1.1/1.5 devices), smallest first.
UVC_SIZES: tuple[Size, ...] = (
    (160, 120), (176, 144), (320, 180), (320, 240), (352, 288), (424, 240), (640, 360),
    (640, 480), (800, 448), (800, 600), (848, 480), (960, 540), (1024, 576), (1280, 720),
    (1280, 960), (1600, 900), (1920, 1080), (2560, 1440), (3840, 2160))

_FAILS_BEFORE_GONE = 3


class V4l2Backend:
    """A V4L2 device opened with ``cv2.VideoCapture(..., cv2.CAP_V4L2)``.

    Args:
        cv2: The OpenCV module.
        device: ``/dev/videoN`` or an index.
        clock: Host clock; V4L2 buffer timestamps are CLOCK_MONOTONIC, the same clock as
            :class:`~sensekit.clock.MonotonicClock`, and are used as ``t_ns`` when it is.
        where: How errors name the device.
    """

    name = "v4l2"

    def __init__(self, cv2: Any, device: str | int, clock: Clock, where: str) -> None:
        self.cv2, self.device, self.clock, self.where = cv2, device, clock, where
        self._cap: Any = None
        self._formats: dict[str, list[Size]] | None = None
        self._fails = 0
        self._read_timeout_s = -1.0
        self._last: tuple[str, Size | None, float] = ("dnn", None, 30.0)
        self._gaps = FrameGaps()
        self._period_ns = 1e9 / 30.0

    def open(self) -> None:
        cv2 = self.cv2
        if isinstance(self.device, str) and not os.path.exists(self.device):
            raise DeviceNotFound(f"{self.where}: {self.device} does not exist. Hint: "
                                 "'v4l2-ctl --list-devices' lists the cameras")
        cap = cv2.VideoCapture(self.device, cv2.CAP_V4L2)
        if not cap.isOpened():
            raise DeviceNotFound(f"{self.where}: OpenCV could not open {self.device} with V4L2. "
                                 "Hint: check it is a capture node and that you are in the "
                                 "'video' group")
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep the newest frame, not a queue of old ones
        self._cap = cap

    def formats(self) -> dict[str, list[Size]]:
        """Frame sizes per pixel format, smallest first (``""``: format unknown, probed)."""
        if self._formats is None:
            self._formats = self._enumerate()
            log.info("%s: formats %s", self.where, self._formats)
        return self._formats

    def _enumerate(self) -> dict[str, list[Size]]:
        node = self.device if isinstance(self.device, str) else f"/dev/video{self.device}"
        if os.path.exists(node):
            try:
                found = enum_formats(node)
            except OSError as exc:  # not a V4L2 node we may query: ask through OpenCV
                log.debug("%s: VIDIOC_ENUM_FMT failed (%s); probing sizes", self.where, exc)
            else:
                if any(found.values()):
                    return found
        probed = {self._set_size(size) for size in UVC_SIZES}
        return {"": sorted(probed, key=lambda s: (s[0] * s[1], s))}

    def _set_size(self, size: Size) -> Size:
        cv2, cap = self.cv2, self._cap
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        return int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def _choose(self, mode: str, size: Size | None) -> tuple[Size, str]:
        """The format for a mode: raw YUYV first for DNN sizes (no JPEG decode), MJPEG for
        full size (keeps it within USB 2.0 bandwidth)."""
        table = self.formats()
        every = sorted({s for sizes in table.values() for s in sizes}, key=lambda s: s[0] * s[1])
        full = every[-1]
        if mode == "photo" or size is None:
            order = ("MJPG", "YUYV", "")
            return full, next((f for f in order if full in table.get(f, [])), "")
        for fourcc in ("YUYV", "MJPG", ""):
            pick = smallest_at_or_above(table.get(fourcc, []), size)
            if pick is not None:
                return pick, fourcc
        return full, next((f for f in ("MJPG", "YUYV") if full in table.get(f, [])), "")

    def configure(self, mode: str, size: Size | None, fps: float) -> StreamConfig:
        cv2, cap = self.cv2, self._cap
        self._last = (mode, size, fps)
        want, fourcc = self._choose(mode, size)
        if not fourcc:  # sizes were probed: formats unknown, use the usual UVC split
            fourcc = "MJPG" if want[0] * want[1] > 640 * 480 else "YUYV"
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*fourcc))
        got = self._set_size(want)
        cap.set(cv2.CAP_PROP_FPS, fps)
        self._period_ns = 1e9 / (float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or fps)
        self._gaps.reset()
        full = max((s for sizes in self.formats().values() for s in sizes),
                   key=lambda s: s[0] * s[1])
        in_pipeline = mode == "dnn" and got != full
        note = f"V4L2 format {got[0]}x{got[1]} {fourcc}"
        if mode == "dnn" and size is not None:
            note += (f", the smallest at or above {size[0]}x{size[1]}" if in_pipeline else
                     "; no smaller format than full size, capture-and-resize")
        return StreamConfig(got, got, in_pipeline, note)

    def grab(self, timeout_s: float) -> Frame | None:
        cv2, cap = self.cv2, self._cap
        # OpenCV waits 10 s for a V4L2 buffer unless told otherwise (property from 4.6 on).
        prop = getattr(cv2, "CAP_PROP_READ_TIMEOUT_MSEC", None)
        if prop is not None and timeout_s != self._read_timeout_s:
            cap.set(prop, max(1.0, timeout_s * 1000.0))
            self._read_timeout_s = timeout_s
        ok, image = cap.read()
        if not ok or image is None:
            self._fails += 1
            gone = isinstance(self.device, str) and not os.path.exists(self.device)
            if gone or self._fails >= _FAILS_BEFORE_GONE:
                raise OSError(errno.ENODEV, f"no frames from {self.device} "
                              f"({self._fails} reads failed{'; the node is gone' if gone else ''})"
                              ". Hint: the camera was unplugged or lost USB power")
            return None
        self._fails = 0
        stamp_ms = float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
        sensor_ns = round(stamp_ms * 1e6) if stamp_ms > 0 else None
        skipped = 0 if sensor_ns is None else self._gaps.by_time(sensor_ns, self._period_ns)
        return Frame(image, bgr=True, sensor_t_ns=sensor_ns, t_ns=self._host_time(sensor_ns),
                     skipped=skipped, skipped_estimated=True)

    def _host_time(self, sensor_ns: int | None) -> int | None:
        """The buffer timestamp, if it is on the host's monotonic clock and plausible."""
        if sensor_ns is None or not isinstance(self.clock, MonotonicClock):
            return None
        now = self.clock.now_ns()
        return sensor_ns if now - 1_000_000_000 <= sensor_ns <= now else None

    def capture_still(self, timeout_s: float) -> Frame:
        return still_by_reconfiguring(self, self._last, timeout_s, _FAILS_BEFORE_GONE)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
