"""Fake camera libraries, faked at the module boundary only: the real backends run on them.

- ``fake_cv2``: OpenCV with ``VideoCapture(..., CAP_V4L2)`` answering like a UVC camera (S_FMT
  snaps a requested size to the nearest format); everything else is the real OpenCV.
- ``fake_picamera2``: a Pi Camera v2 (IMX219) as picamera2 presents it.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import cv2 as real_cv2
import numpy as np
import pytest

#: BGR colour every fake frame is filled with; RGB (200, 20, 10) after conversion.
BGR = (10, 20, 200)


class FakeUvcCapture:
    """A UVC camera behind OpenCV's V4L2 backend."""

    def __init__(self, node: Path | None, formats: list[tuple[int, int]]) -> None:
        self.node, self.formats = node, formats
        self.props: dict[int, float] = {}
        self.size = formats[-1]
        self.pending: dict[str, int] = {}
        self.frames = 0
        self.skip = 0
        self.fourccs: list[str] = []
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return True

    def set(self, prop: int, value: float) -> bool:
        if prop == real_cv2.CAP_PROP_FRAME_WIDTH:
            self.pending["w"] = int(value)
        elif prop == real_cv2.CAP_PROP_FRAME_HEIGHT:
            self.pending["h"] = int(value)
        elif prop == real_cv2.CAP_PROP_FOURCC:
            code = int(value)
            self.fourccs.append("".join(chr((code >> 8 * i) & 0xFF) for i in range(4)))
        else:
            self.props[prop] = value
        if "w" in self.pending and "h" in self.pending:  # OpenCV applies S_FMT with both
            w, h = self.pending.pop("w"), self.pending.pop("h")
            self.size = min(self.formats, key=lambda s: abs(s[0] - w) + abs(s[1] - h))
        return True

    def get(self, prop: int) -> float:
        if prop == real_cv2.CAP_PROP_FRAME_WIDTH:
            return float(self.size[0])
        if prop == real_cv2.CAP_PROP_FRAME_HEIGHT:
            return float(self.size[1])
        if prop == real_cv2.CAP_PROP_POS_MSEC:
            return 1000.0 + self.frames * 33.3
        return self.props.get(prop, 0.0)

    def read(self) -> tuple[bool, Any]:
        if self.node is not None and not self.node.exists():
            return False, None
        self.frames += 1 + self.skip
        self.skip = 0
        image = np.empty((self.size[1], self.size[0], 3), np.uint8)
        image[:] = BGR
        return True, image

    def release(self) -> None:
        self.released = True


class FakeCv2(types.ModuleType):
    def __init__(self) -> None:
        super().__init__("cv2")
        self.__dict__.update({k: v for k, v in vars(real_cv2).items()
                              if not k.startswith("__") and k != "VideoCapture"})
        self.formats = [(160, 120), (320, 240), (640, 480), (1280, 720), (1920, 1080)]
        self.captures: list[FakeUvcCapture] = []

    def VideoCapture(self, source: Any, api: int = 0) -> Any:  # noqa: N802
        if api != real_cv2.CAP_V4L2:
            return real_cv2.VideoCapture(source)
        node = Path(source) if isinstance(source, str) else None
        cap = FakeUvcCapture(node, self.formats)
        self.captures.append(cap)
        return cap


@pytest.fixture
def fake_cv2(monkeypatch: pytest.MonkeyPatch) -> FakeCv2:
    fake = FakeCv2()
    monkeypatch.setitem(sys.modules, "cv2", fake)
    return fake


def rgb_to_i420(rgb: tuple[int, int, int], size: tuple[int, int]) -> np.ndarray:
    """A uniform I420 frame of one colour (BT.601 limited range), as picamera2 returns it."""
    r, g, b = rgb
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    w, h = size
    out = np.empty((h * 3 // 2, w), np.uint8)
    out[:h] = round(y)
    out[h:h + h // 4] = round(u)
    out[h + h // 4:] = round(v)
    return out


class FakeRequest:
    def __init__(self, cam: FakePicamera2) -> None:
        self.cam = cam

    def make_array(self, stream: str) -> np.ndarray:
        cfg = self.cam.config[stream]
        if cfg["format"] == "YUV420":
            return rgb_to_i420((200, 20, 10), cfg["size"])
        w, h = cfg["size"]
        image = np.empty((h, w, 4), np.uint8)  # XBGR8888-like: B, G, R, X in memory
        image[:] = (*BGR, 255)
        return image

    def get_metadata(self) -> dict[str, Any]:
        return {"SensorTimestamp": 5_000_000_000 + 33_333_333 * self.cam.frames,
                "FrameDuration": 33_333}

    def release(self) -> None:
        self.cam.released += 1


class FakePicamera2:
    """``picamera2.Picamera2`` for an IMX219 (Pi Camera v2): modes as libcamera lists them."""

    model = "imx219"
    full = (3280, 2464)
    modes: ClassVar[list[dict[str, Any]]] = [
        {"size": (640, 480), "bit_depth": 10, "crop_limits": (1000, 752, 1280, 960)},
        {"size": (1640, 1232), "bit_depth": 10, "crop_limits": (0, 0, 3280, 2464)},
        {"size": (1920, 1080), "bit_depth": 10, "crop_limits": (680, 692, 1920, 1080)},
        {"size": (3280, 2464), "bit_depth": 10, "crop_limits": (0, 0, 3280, 2464)},
    ]
    instances: ClassVar[list[FakePicamera2]] = []

    def __init__(self, index: int = 0) -> None:
        if index != 0:
            raise IndexError("list index out of range")
        self.camera_properties = {"Model": self.model, "PixelArraySize": self.full}
        self.sensor_modes = self.modes
        self.config: dict[str, Any] = {}
        self.configs: list[dict[str, Any]] = []
        self.started = False
        self.frames = 0
        self.skip = 0            # frames the sensor makes that the next capture jumps over
        self.released = 0
        self.unplugged = False
        self.closed = False
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main: dict[str, Any], lores: dict[str, Any] | None,
                                   sensor: dict[str, Any], controls: dict[str, Any],
                                   buffer_count: int) -> dict[str, Any]:
        return {"use_case": "video", "main": dict(main), "lores": dict(lores or {}),
                "sensor": sensor, "controls": controls}

    def create_still_configuration(self, main: dict[str, Any]) -> dict[str, Any]:
        return {"use_case": "still", "main": {"size": self.full, **main}, "lores": None}

    def align_configuration(self, config: dict[str, Any]) -> None:
        for stream in ("main", "lores"):
            if config.get(stream):
                w, h = config[stream]["size"]
                config[stream]["size"] = (w - w % 32, h - h % 2)  # picamera2 rounds down

    def stop(self) -> None:
        self.started = False

    def configure(self, config: dict[str, Any]) -> None:
        assert not self.started, "picamera2 must be stopped to configure"
        self.config = config
        self.configs.append(config)

    def start(self) -> None:
        self.started = True

    def capture_request(self) -> FakeRequest:
        if self.unplugged:
            raise RuntimeError("Camera frontend has timed out!")
        self.frames += 1 + self.skip
        self.skip = 0
        return FakeRequest(self)

    def switch_mode_and_capture_array(self, config: dict[str, Any], name: str) -> np.ndarray:
        keep = self.config
        self.config = config
        array = FakeRequest(self).make_array(name)
        self.config = keep
        return array[..., :3]

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> type[FakePicamera2]:
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    FakePicamera2.instances = []
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return FakePicamera2


class FakeGst:
    """The few GStreamer objects the appsink path touches (``gi.repository.Gst``)."""

    class State:
        NULL, PLAYING = 1, 4

    class StateChangeReturn:
        FAILURE, SUCCESS = 0, 1

    class MapFlags:
        READ = 1

    class MessageType:
        EOS, ERROR = 1, 2

    def __init__(self) -> None:
        self.pipelines: list[FakePipeline] = []
        self.failed = False
        self.skip = 0            # buffers the camera makes that the next pull jumps over
        self.offsets = True      # whether buffers carry frame numbers

    def init(self, argv: Any) -> None:
        self.inited = True

    def parse_launch(self, desc: str) -> FakePipeline:
        pipeline = FakePipeline(self, desc)
        self.pipelines.append(pipeline)
        return pipeline


class FakePipeline:
    def __init__(self, gst: FakeGst, desc: str) -> None:
        import re
        self.gst, self.desc, self.state = gst, desc, FakeGst.State.NULL
        w, h = re.findall(r"width=(\d+),height=(\d+)", desc)[-1]
        self.size = (int(w), int(h))
        self.frames = 0

    def get_by_name(self, name: str) -> Any:
        assert name == "sensekit_sink" and "appsink name=sensekit_sink" in self.desc
        return types.SimpleNamespace(emit=self.emit)

    def set_state(self, state: int) -> int:
        self.state = state
        return FakeGst.StateChangeReturn.SUCCESS

    def emit(self, signal: str, timeout_ns: int) -> Any:
        assert signal == "try-pull-sample"
        if self.gst.failed:
            return None
        self.frames += 1 + self.gst.skip
        self.gst.skip = 0
        w, h = self.size
        data = np.empty((h, w, 4), np.uint8)
        data[:] = (*BGR, 0)
        buffer = types.SimpleNamespace(
            pts=self.frames * 33_333_333,
            offset=self.frames if self.gst.offsets else 2 ** 64 - 1,
            map=lambda flags: (True, types.SimpleNamespace(data=data.tobytes())),
            unmap=lambda info: None)
        caps = types.SimpleNamespace(get_structure=lambda i: types.SimpleNamespace(
            get_value=lambda key: {"width": w, "height": h}[key]))
        return types.SimpleNamespace(get_buffer=lambda: buffer, get_caps=lambda: caps)

    def get_bus(self) -> Any:
        def pop_filtered(mask: int) -> Any:
            if not self.gst.failed:
                return None
            return types.SimpleNamespace(
                type=FakeGst.MessageType.ERROR,
                parse_error=lambda: ("Could not read from resource.", "nvarguscamerasrc: "
                                     "Argus error: Timeout"))
        return types.SimpleNamespace(pop_filtered=pop_filtered)


@pytest.fixture
def fake_gi(monkeypatch: pytest.MonkeyPatch) -> FakeGst:
    gst = FakeGst()
    gi = types.ModuleType("gi")
    gi.require_version = lambda name, version: None  # type: ignore[attr-defined]
    repository = types.ModuleType("gi.repository")
    repository.Gst = gst  # type: ignore[attr-defined]
    gi.repository = repository  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gi", gi)
    monkeypatch.setitem(sys.modules, "gi.repository", repository)
    return gst
