"""``sensekit bench camera``: CPU per DNN-ready frame, DNN mode against capture-then-resize.

Two sources, both measured in the same run:

- **Video files** (OpenCV decoding stands in for a USB camera's MJPEG stream): the same
  synthetic street scene written with ``cv2.VideoWriter`` at 1920x1080 (what the naive path
  captures) and at 320x240 (what DNN mode asks a UVC camera for: the smallest usual format at
  or above 224x224). sensekit reads the small file through :class:`Camera` in DNN mode; the peer
  decodes the 1080p file and ``cv2.resize``\\ s every frame to 224x224.
- **The emulated camera**: sensekit's DNN mode (binned sensor mode + ISP-scaled stream, only a
  crop left) against the emulator configured for 1920x1080 followed by ``cv2.resize``.

CPU is ``time.process_time`` (all threads of the process) per delivered 224x224 RGB frame.
Beside it: bytes moved per frame (encoded bytes read + decoded or delivered pixels + output)
and the camera's modelled energy per frame from its power table (sensor readout pixels per
mode; LiKamWa et al. 2013 fixed + per-pixel form).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..clock import FakeClock
from ..power.model import load_power_model
from . import Case, case

DNN = (224, 224)
FULL_HD = (1920, 1080)
UVC_DNN = (320, 240)  # smallest common UVC format at or above 224x224
FPS = 15.0


def _cpu_per_frame(step: Callable[[], Any], frames: int) -> float:
    """CPU seconds per call of ``step`` (one DNN-ready frame), after one warm-up call."""
    step()
    start = time.process_time()
    for _ in range(frames):
        step()
    return (time.process_time() - start) / frames


def _write_video(cv2: Any, path: Path, size: tuple[int, int], frames: int) -> None:
    from ..testing.camera_scenes import CameraSceneEmulator  # the emulators only when used

    emu = CameraSceneEmulator("street", seed=1)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, size)
    distinct = [emu.render(i / FPS, size, i)[..., ::-1] for i in range(min(frames, 4))]
    for i in range(frames):
        writer.write(distinct[i % len(distinct)])
    writer.release()


def _naive_file(cv2: Any, path: Path) -> Callable[[], Any]:
    cap = cv2.VideoCapture(str(path))

    def step() -> Any:
        ok, frame = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = cap.read()
        small = cv2.resize(frame, DNN, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    return step


def _sensekit_camera(url: str, **options: Any) -> Callable[[], Any]:
    from ..drivers.camera.camera import Camera

    cam = Camera(url, size=DNN, **options).open()

    def step() -> Any:
        packet = cam.read()
        assert packet is not None and packet["image"].shape[1:3] == (DNN[1], DNN[0])
        return packet
    return step


def _file_cases(cv2: Any, folder: Path, frames: int) -> list[Case]:
    big, small = folder / "street_1080p.avi", folder / "street_240p.avi"
    _write_video(cv2, big, FULL_HD, frames + 1)
    _write_video(cv2, small, UVC_DNN, frames + 1)
    ours = _cpu_per_frame(_sensekit_camera(f"file://{small}?loop=1", clock=FakeClock()), frames)
    peer = _cpu_per_frame(_naive_file(cv2, big), frames)
    out = DNN[0] * DNN[1] * 3
    ours_bytes = small.stat().st_size / (frames + 1) + UVC_DNN[0] * UVC_DNN[1] * 3 + out
    peer_bytes = big.stat().st_size / (frames + 1) + FULL_HD[0] * FULL_HD[1] * 3 + out
    usb = load_power_model("usb_camera")
    return [
        case("file: CPU per DNN-ready frame", ours * 1e3, "ms", peer * 1e3,
             higher_is_better=False, note="sensekit: 320x240 MJPEG file, DNN mode (crop + "
             "resize to 224x224); peer: 1920x1080 MJPEG, decode + cv2.resize"),
        case("file: bytes moved per frame", ours_bytes, "B", peer_bytes, higher_is_better=False,
             note="encoded bytes read + decoded frame + 224x224x3 output"),
        _energy_case("file: modelled camera energy per frame", usb, UVC_DNN, "usb_camera"),
    ]


def _emulated_cases(cv2: Any, frames: int) -> list[Case]:
    from ..testing.camera_scenes import CameraSceneEmulator

    clock = FakeClock()
    ours_emu = CameraSceneEmulator("street", seed=2, clock=clock, fps=FPS)
    ours = _cpu_per_frame(_sensekit_camera("emu://", emulator=ours_emu, clock=clock,
                                           rate_hz=FPS), frames)
    sensor_mode, delivered = ours_emu.sensor_mode, ours_emu.output_size
    peer_emu = CameraSceneEmulator("street", seed=2, clock=FakeClock(), fps=FPS)
    peer_emu.configure(FULL_HD, FULL_HD, FPS)

    def naive() -> Any:
        got = peer_emu.grab(1.0)
        assert got is not None
        small = cv2.resize(got[0], DNN, interpolation=cv2.INTER_AREA)
        return small
    peer = _cpu_per_frame(naive, max(frames // 4, 3))  # 1080p renders are slow; fewer needed
    out = DNN[0] * DNN[1] * 3
    pi = load_power_model("pi_camera_v2")
    return [
        case("emulated: CPU per DNN-ready frame", ours * 1e3, "ms", peer * 1e3,
             higher_is_better=False, note=f"sensekit: sensor mode {sensor_mode[0]}x"
             f"{sensor_mode[1]}, ISP to {delivered[0]}x{delivered[1]}, crop; peer: 1920x1080 "
             "then cv2.resize; both include the emulator's own rendering, which grows with "
             "the pixels delivered (the file case is the closer to a real camera)"),
        case("emulated: bytes moved per frame", delivered[0] * delivered[1] * 3 + out, "B",
             FULL_HD[0] * FULL_HD[1] * 3 + out, higher_is_better=False,
             note="frame handed over by the pipeline + 224x224x3 output"),
        _energy_case("emulated: modelled camera energy per frame", pi, sensor_mode,
                     "pi_camera_v2"),
    ]


def _energy_case(name: str, model: Any, dnn_pixels: tuple[int, int], table: str) -> Case:
    ours = model.mode("dnn").watts(FPS, dnn_pixels[0] * dnn_pixels[1]) / FPS
    peer = model.mode("photo").watts(FPS, FULL_HD[0] * FULL_HD[1]) / FPS
    return case(name, ours * 1e3, "mJ", peer * 1e3, higher_is_better=False,
                note=f"{table} table at {FPS:g} frames/s: dnn row at {dnn_pixels[0]}x"
                     f"{dnn_pixels[1]} readout vs photo row at 1920x1080 (sensor only; "
                     "estimates, see the table's sources)")


def run(quick: bool) -> list[Case]:
    """Measure both sources; ``quick`` uses fewer frames (well under a minute)."""
    from .._optional import require

    cv2 = require("cv2", extra="camera", what="sensekit bench camera")
    frames = 12 if quick else 60
    with tempfile.TemporaryDirectory(prefix="sensekit-bench-camera-") as tmp:
        cases = _file_cases(cv2, Path(tmp), frames)
    return cases + _emulated_cases(cv2, frames)
