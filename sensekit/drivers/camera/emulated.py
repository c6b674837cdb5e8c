"""The emulated camera (``emu://``) as a backend: sensor modes plus an ISP scaler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import DeviceIOError
from .backend import Frame, Size, StreamConfig, cover_size, smallest_at_or_above

if TYPE_CHECKING:
    from ...testing.camera_scenes import CameraSceneEmulator

__all__ = ["EmulatedBackend"]


class EmulatedBackend:
    """Drives a :class:`CameraSceneEmulator` the way the picamera2 backend drives a Pi camera.

    DNN mode picks the smallest sensor mode at or above the requested size and lets the
    emulated ISP scale to the smallest size of the mode's aspect covering the request; only a
    centre crop is left for software. Photo mode reads the full sensor.
    """

    name = "emu"

    def __init__(self, emulator: CameraSceneEmulator, where: str) -> None:
        self.emulator = emulator
        self.where = where

    def open(self) -> None:
        if self.emulator.unplugged:
            raise DeviceIOError(f"{self.where}: {self.emulator.name} is unplugged")

    def configure(self, mode: str, size: Size | None, fps: float) -> StreamConfig:
        emu = self.emulator
        if mode == "photo" or size is None:
            full = emu.full_size
            emu.configure(full, full, fps)
            return StreamConfig(full, full, False, f"full sensor {full[0]}x{full[1]}")
        sensor = smallest_at_or_above(emu.sensor_modes, size) or emu.full_size
        out = cover_size(size, sensor)
        emu.configure(out, sensor, fps)
        return StreamConfig(out, sensor, True, f"sensor mode {sensor[0]}x{sensor[1]}, ISP "
                                               f"scaled to {out[0]}x{out[1]}")

    def grab(self, timeout_s: float) -> Frame | None:
        got = self.emulator.grab(timeout_s)
        if got is None:
            return None
        image, t_ns, skipped = got
        return Frame(image, bgr=False, sensor_t_ns=t_ns, t_ns=t_ns, skipped=skipped)

    def capture_still(self, timeout_s: float) -> Frame:
        emu = self.emulator
        keep = (emu.output_size, emu.sensor_mode, emu.fps)
        emu.configure(emu.full_size, emu.full_size, emu.fps)
        try:
            frame = self.grab(timeout_s)
        finally:
            emu.configure(*keep)
        if frame is None:
            raise DeviceIOError(f"{self.where}: no still frame within {timeout_s} s")
        return frame

    def close(self) -> None:
        pass
