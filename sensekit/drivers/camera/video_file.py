"""A video file as a camera (OpenCV decoding): same interface, frames from a recording.

A file has one resolution, so DNN mode falls back to decode-and-resize and the packet's
``meta`` says so. Timestamps: ``sensor_t_ns`` is the frame's media time; ``t_ns`` is the host
time when the file was opened plus that media time, so a file replays like a camera. With
``realtime`` the frames are also paced at that rate against the clock.
"""

from __future__ import annotations

from typing import Any

from ...clock import Clock
from ...errors import DeviceNotFound
from .backend import Frame, Size, StreamConfig

__all__ = ["VIDEO_SUFFIXES", "VideoFileBackend"]

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".mjpeg", ".mjpg",
                            ".h264", ".m4v"})


class VideoFileBackend:
    """Frames decoded from a file with ``cv2.VideoCapture``.

    Args:
        cv2: The OpenCV module.
        path: The video file.
        clock: Host clock.
        where: How errors name the source.
        loop: Start again at the end instead of ending the stream.
        realtime: Pace frames at the file's frame rate.
    """

    name = "file"

    def __init__(self, cv2: Any, path: str, clock: Clock, where: str, *, loop: bool = False,
                 realtime: bool = False) -> None:
        self.cv2, self.path, self.clock, self.where = cv2, path, clock, where
        self.loop, self.realtime = loop, realtime
        self._cap: Any = None
        self.finished = False
        self._t0_ns = 0
        self._loop_offset_ns = 0
        self._last_ns = 0

    def open(self) -> None:
        cap = self.cv2.VideoCapture(self.path)
        if not cap.isOpened():
            raise DeviceNotFound(f"{self.where}: OpenCV cannot open the video {self.path!r}. "
                                 "Hint: check the path and that the codec is supported")
        self._cap = cap
        self.fps = float(cap.get(self.cv2.CAP_PROP_FPS) or 30.0)
        self.size: Size = (int(cap.get(self.cv2.CAP_PROP_FRAME_WIDTH)),
                           int(cap.get(self.cv2.CAP_PROP_FRAME_HEIGHT)))
        self._t0_ns = self.clock.now_ns()

    def configure(self, mode: str, size: Size | None, fps: float) -> StreamConfig:
        w, h = self.size
        note = f"a video file has one resolution ({w}x{h})"
        if mode == "dnn":
            note += ": decode and resize in software (fallback)"
        return StreamConfig(self.size, None, False, note)

    def grab(self, timeout_s: float) -> Frame | None:
        if self.finished:
            return None
        ok, image = self._cap.read()
        if not ok and self.loop:
            self._loop_offset_ns = self._last_ns + round(1e9 / self.fps)
            self._cap.set(self.cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
        if not ok:
            self.finished = True
            return None
        media_ns = round(float(self._cap.get(self.cv2.CAP_PROP_POS_MSEC)) * 1e6)
        self._last_ns = media_ns + self._loop_offset_ns
        t_ns = self._t0_ns + self._last_ns
        if self.realtime and t_ns > self.clock.now_ns():
            self.clock.sleep((t_ns - self.clock.now_ns()) / 1e9)
        return Frame(image, bgr=True, sensor_t_ns=self._last_ns, t_ns=t_ns)

    def capture_still(self, timeout_s: float) -> Frame:
        frame = self.grab(timeout_s)
        if frame is None:
            raise DeviceNotFound(f"{self.where}: the video has ended; no frame for a photo")
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
