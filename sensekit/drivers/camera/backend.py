"""What every camera backend provides, and the software finish shared by all of them.

A backend configures its capture pipeline for a mode and hands over frames at the size it
could configure (:class:`StreamConfig`). The driver then does the last crop and resize in
software so the frame delivered is exactly the requested size, and says in the packet's
``meta`` what was done (:func:`finish`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ...errors import DeviceIOError

__all__ = ["CameraBackend", "Frame", "FrameGaps", "Size", "StreamConfig", "cover_size",
           "finish", "smallest_at_or_above"]

#: (width, height) in pixels, the order picamera2, OpenCV and GStreamer caps use.
Size = tuple[int, int]
Image = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class StreamConfig:
    """How a backend configured its pipeline for a mode.

    Attributes:
        size: Size of the frames the backend hands over.
        sensor_mode: Sensor readout size (None where the backend cannot tell).
        in_pipeline: True when the scaling towards the requested size happened before software
            (a binned sensor mode, an ISP or hardware scaler, a smaller V4L2 format).
        note: What was chosen and why, for the log and the packet metadata.
    """

    size: Size
    sensor_mode: Size | None
    in_pipeline: bool
    note: str = ""


@dataclass(frozen=True)
class Frame:
    """One frame from a backend.

    Attributes:
        image: uint8 (H, W, 3).
        bgr: True when the channels are in OpenCV's B, G, R order.
        sensor_t_ns: The camera's own timestamp, if it gives one.
        t_ns: Host monotonic time the frame was taken, if the backend knows it better than
            "now" (V4L2 buffer timestamps are CLOCK_MONOTONIC).
        skipped: Frames the camera produced and overwrote since the previous grab.
        skipped_estimated: ``skipped`` was inferred from timestamps rather than counted from
            frame numbers.
    """

    image: Image
    bgr: bool = False
    sensor_t_ns: int | None = None
    t_ns: int | None = None
    skipped: int = 0
    skipped_estimated: bool = False


class FrameGaps:
    """Frames a camera produced that this reader never got (a pipeline that keeps only the
    newest frame drops the others silently): counted from the camera's frame numbers where it
    gives them, else from its timestamps against the frame period (a gap of more than one and a
    half periods held frames that were dropped)."""

    def __init__(self) -> None:
        self._sequence: int | None = None
        self._time_ns: int | None = None

    def reset(self) -> None:
        """A new pipeline: numbering and timing start afresh."""
        self._sequence = self._time_ns = None

    def by_sequence(self, sequence: int) -> int:
        """Frames skipped before the one numbered ``sequence``."""
        last, self._sequence = self._sequence, sequence
        return max(0, sequence - last - 1) if last is not None else 0

    def by_time(self, t_ns: int, period_ns: float) -> int:
        """Frames skipped before the one taken at ``t_ns``, the camera running at
        ``period_ns``."""
        last, self._time_ns = self._time_ns, t_ns
        if last is None or period_ns <= 0:
            return 0
        gap = (t_ns - last) / period_ns
        return max(0, round(gap) - 1) if gap > 1.5 else 0


class CameraBackend(Protocol):
    """A capture pipeline: V4L2, picamera2, GStreamer, a video file or an emulator."""

    name: str

    def open(self) -> None:
        """Open the device; raise DeviceNotFound when it is not there."""

    def configure(self, mode: str, size: Size | None, fps: float) -> StreamConfig:
        """Set up the pipeline for ``mode`` (``"dnn"`` towards ``size``, ``"photo"``: full)."""

    def grab(self, timeout_s: float) -> Frame | None:
        """Next frame; None on timeout; OSError when the device has gone."""

    def capture_still(self, timeout_s: float) -> Frame:
        """One full-resolution frame, returning afterwards to the current configuration."""

    def close(self) -> None:
        """Release the device."""


def still_by_reconfiguring(backend: CameraBackend, keep: tuple[str, Size | None, float],
                           timeout_s: float, attempts: int) -> Frame:
    """A full-resolution frame from a backend with one stream: switch the pipeline to photo
    mode, take the first frame that comes within ``attempts`` grabs (the first buffers after a
    start can lag auto-exposure), and put back the configuration ``keep`` whatever happens."""
    backend.configure("photo", None, keep[2])
    try:
        for _ in range(attempts):
            frame = backend.grab(timeout_s)
            if frame is not None:
                return frame
        raise DeviceIOError(f"{getattr(backend, 'where', backend.name)}: no still frame")
    finally:
        backend.configure(*keep)


def smallest_at_or_above(sizes: Sequence[Size], target: Size) -> Size | None:
    """The smallest size (by area) at least ``target`` in both dimensions, or None."""
    fits = [s for s in sizes if s[0] >= target[0] and s[1] >= target[1]]
    return min(fits, key=lambda s: (s[0] * s[1], s)) if fits else None


def cover_size(target: Size, aspect: Size, align: int = 2) -> Size:
    """The smallest size with ``aspect``'s shape that covers ``target`` (dims rounded up)."""
    tw, th = target
    aw, ah = aspect
    if aw * th >= ah * tw:  # wider than the target: height decides
        h, w = th, math.ceil(th * aw / ah)
    else:
        w, h = tw, math.ceil(tw * ah / aw)
    return (-(-w // align) * align, -(-h // align) * align)


def _center_crop(width: int, height: int, target: Size) -> tuple[int, int, int, int]:
    tw, th = target
    if width * th > height * tw:
        cw, ch = round(height * tw / th), height
    else:
        cw, ch = width, round(width * th / tw)
    return (width - cw) // 2, (height - ch) // 2, cw, ch


def finish(image: Image, target: Size, *, bgr: bool) -> tuple[Image, dict[str, Any]]:
    """Centre-crop to the target's aspect, resize to exactly ``target``, return RGB and facts.

    The facts (for the packet's ``meta``): ``capture_size``, ``crop_xywh`` (None when the
    aspect already matched), ``resized_from`` (None when no resize) and ``resize`` (method).
    """
    height, width = image.shape[:2]
    x, y, cw, ch = _center_crop(width, height, target)
    out = image[y:y + ch, x:x + cw] if (cw, ch) != (width, height) else image
    facts: dict[str, Any] = {
        "capture_size": (width, height),
        "crop_xywh": (x, y, cw, ch) if (cw, ch) != (width, height) else None,
        "resized_from": (cw, ch) if (cw, ch) != target else None,
        "resize": None,
    }
    cv2 = _cv2()
    if (cw, ch) != target:
        if cv2 is not None:
            shrink = cw >= target[0]
            out = cv2.resize(out, target, interpolation=cv2.INTER_AREA if shrink
                             else cv2.INTER_LINEAR)
            facts["resize"] = "area" if shrink else "bilinear"
        else:
            out = _nearest(out, target)
            facts["resize"] = "nearest"
    if bgr:
        out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB) if cv2 is not None else out[..., ::-1]
    return np.ascontiguousarray(out), facts


def _nearest(image: Image, target: Size) -> Image:
    """Nearest-pixel resize, for when OpenCV is not installed (emulated sources)."""
    height, width = image.shape[:2]
    rows = ((np.arange(target[1]) + 0.5) * height / target[1]).astype(np.intp)
    cols = ((np.arange(target[0]) + 0.5) * width / target[0]).astype(np.intp)
    return np.asarray(image[rows[:, None], cols[None, :]], np.uint8)


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        return None
    return cv2
