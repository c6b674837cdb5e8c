"""Raspberry Pi cameras through picamera2 (libcamera): main and lores streams.

picamera2 installs from the OS packages (``sudo apt install python3-picamera2``), not from
PyPI, so the venv that runs sensekit must see the system site packages::

    python3 -m venv --system-site-packages ~/sensekit-venv
    ~/sensekit-venv/bin/pip install 'sensekit[camera]'

DNN mode is configured in the sensor pipeline: the smallest binned sensor mode covering the
whole field of view at or above the requested size, and the ISP's low-resolution ("lores")
stream scaled to the smallest size of the mode's shape that covers the request. Lores is
YUV420 (the only lores format on Pi 4 and older; Pi 5 accepts it too) and is converted here;
only a centre crop is left for software. Photo mode is picamera2's still configuration, and a
one-shot :meth:`Picamera2Backend.capture_still` uses ``switch_mode_and_capture_array``, which
returns to the video configuration by itself.

Dropped frames: libcamera hands over the newest completed request; frames the reader never saw
are counted from the gaps between SensorTimestamps against the FrameDuration the metadata
gives for each frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ...errors import DeviceNotFound
from .backend import Frame, FrameGaps, Size, StreamConfig, cover_size

__all__ = ["Picamera2Backend", "yuv420_to_rgb"]


def yuv420_to_rgb(yuv: npt.NDArray[np.uint8], size: Size) -> npt.NDArray[np.uint8]:
    """Planar YUV 4:2:0 (I420, rows of ``stride`` bytes) to RGB, BT.601 limited range."""
    w, h = size
    stride = yuv.shape[1]
    y = yuv[:h, :w].astype(np.float32) - 16.0
    chroma = yuv[h:h + h // 2].reshape(-1)
    half = (h // 2) * (stride // 2)
    u = chroma[:half].reshape(h // 2, stride // 2)[:, :w // 2].astype(np.float32) - 128.0
    v = chroma[half:2 * half].reshape(h // 2, stride // 2)[:, :w // 2].astype(np.float32) - 128.0
    u = u.repeat(2, axis=0).repeat(2, axis=1)
    v = v.repeat(2, axis=0).repeat(2, axis=1)
    rgb = np.stack([1.164 * y + 1.596 * v, 1.164 * y - 0.392 * u - 0.813 * v,
                    1.164 * y + 2.017 * u], axis=2)
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


class Picamera2Backend:
    """One Pi camera (CSI) through ``picamera2.Picamera2``.

    Args:
        picamera2: The picamera2 module.
        index: Camera number (``picamera2://0``).
        where: How errors name the device.
    """

    name = "picamera2"

    def __init__(self, picamera2: Any, index: int, where: str) -> None:
        self.lib, self.index, self.where = picamera2, index, where
        self.cam: Any = None
        self.model = ""
        self._stream = "main"
        self._size: Size = (0, 0)
        self._gaps = FrameGaps()

    def open(self) -> None:
        try:
            self.cam = self.lib.Picamera2(self.index)
        except (IndexError, RuntimeError) as exc:
            raise DeviceNotFound(f"{self.where}: no camera {self.index} ({exc}). Hint: "
                                 "'rpicam-hello --list-cameras' lists them; check the ribbon "
                                 "cable and camera_auto_detect in config.txt") from None
        self.model = str(self.cam.camera_properties.get("Model", ""))

    @property
    def full_size(self) -> Size:
        w, h = self.cam.camera_properties["PixelArraySize"]
        return int(w), int(h)

    def _dnn_sensor_mode(self, size: Size) -> dict[str, Any]:
        """Smallest mode at or above ``size``, whole field of view first (binned modes)."""
        full = self.full_size
        modes = sorted(self.cam.sensor_modes, key=lambda m: m["size"][0] * m["size"][1])
        fits = [m for m in modes if m["size"][0] >= size[0] and m["size"][1] >= size[1]]
        whole = [m for m in fits if tuple(m.get("crop_limits", (0, 0, *full)))[2:] == full]
        chosen: dict[str, Any] = (whole or fits or modes[-1:])[0]
        return chosen

    def configure(self, mode: str, size: Size | None, fps: float) -> StreamConfig:
        cam = self.cam
        if mode == "photo" or size is None:
            config = cam.create_still_configuration(main={"format": "RGB888"})
            self._restart(config)
            self._stream = "main"
            self._size = tuple(config["main"]["size"])
            return StreamConfig(self._size, self.full_size, False, "still configuration")
        sensor = self._dnn_sensor_mode(size)
        sensor_size = (int(sensor["size"][0]), int(sensor["size"][1]))
        cover = cover_size(size, sensor_size, align=2)
        # YUV420 lores rows are 32-pixel aligned (picamera2 rounds down): round the width up
        # and keep the sensor's shape, so the ISP neither stretches nor undershoots the request.
        w = -(-cover[0] // 32) * 32
        lores = (w, max(cover[1], 2 * round(w * sensor_size[1] / sensor_size[0] / 2)))
        config = cam.create_video_configuration(
            main={"size": lores, "format": "YUV420"}, lores={"size": lores, "format": "YUV420"},
            sensor={"output_size": sensor_size, "bit_depth": sensor.get("bit_depth", 10)},
            controls={"FrameRate": float(fps)}, buffer_count=4)
        cam.align_configuration(config)
        self._restart(config)
        self._stream = "lores"
        self._size = tuple(config["lores"]["size"])
        return StreamConfig(self._size, sensor_size, True,
                            f"sensor mode {sensor_size[0]}x{sensor_size[1]}, lores YUV420 "
                            f"{self._size[0]}x{self._size[1]}")

    def _restart(self, config: dict[str, Any]) -> None:
        self._gaps.reset()
        self.cam.stop()
        self.cam.configure(config)
        self.cam.start()

    def grab(self, timeout_s: float) -> Frame | None:
        try:
            request = self.cam.capture_request()
        except (RuntimeError, TimeoutError) as exc:
            # libcamera reports a camera that stopped answering as a failed or timed-out job.
            raise OSError(f"picamera2 camera {self.index} stopped delivering ({exc})") from exc
        try:
            array = request.make_array(self._stream)
            metadata = request.get_metadata()
        finally:
            request.release()
        return self._frame(array, metadata.get("SensorTimestamp"), metadata.get("FrameDuration"))

    def _frame(self, array: Any, stamp: Any, duration_us: Any = None) -> Frame:
        sensor_ns = int(stamp) if stamp is not None else None
        skipped = 0
        if sensor_ns is not None and duration_us:
            skipped = self._gaps.by_time(sensor_ns, float(duration_us) * 1000.0)
        if self._stream == "lores":
            return Frame(yuv420_to_rgb(np.asarray(array), self._size), sensor_t_ns=sensor_ns,
                         skipped=skipped, skipped_estimated=True)
        # picamera2's "RGB888" is B, G, R in memory (libcamera names formats by word order).
        return Frame(np.asarray(array)[..., :3], bgr=True, sensor_t_ns=sensor_ns,
                     skipped=skipped, skipped_estimated=True)

    def capture_still(self, timeout_s: float) -> Frame:
        config = self.cam.create_still_configuration(main={"format": "RGB888"})
        array = self.cam.switch_mode_and_capture_array(config, "main")
        return Frame(np.asarray(array)[..., :3], bgr=True)

    def close(self) -> None:
        if self.cam is not None:
            self.cam.stop()
            self.cam.close()
            self.cam = None
