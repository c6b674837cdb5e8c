"""V4L2 and picamera2 code paths with their libraries faked at the module boundary."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

import sensekit
from sensekit.drivers.camera.camera import Camera
from sensekit.drivers.camera.gstreamer import (
    GstBackend,
    argus_modes,
    full_view,
    nvargus_pipeline,
    parse_modes,
)
from sensekit.errors import (
    ConfigError,
    DeviceIOError,
    DeviceNotFound,
    DriverUnavailable,
    SampleDropped,
)


@pytest.fixture
def node(tmp_path):
    """Stands in for /dev/video0: the backend checks the node exists, unplugging removes it."""
    path = tmp_path / "video0"
    path.touch()
    return path


def test_v4l2_dnn_mode_uses_the_smallest_format_at_or_above(fake_cv2, node, clock) -> None:
    cam = sensekit.open("camera", f"v4l2://{node}", clock=clock)
    cap = fake_cv2.captures[-1]
    assert cap.size == (320, 240) and cap.fourccs[-1] == "YUYV"
    p = cam.read()
    assert p["image"].shape == (1, 224, 224, 3)
    assert p.meta["pipeline"] == "sensor" and p.meta["capture_size"] == (320, 240)
    assert p.meta["crop_xywh"] == (40, 0, 240, 240) and p.meta["resized_from"] == (240, 240)
    assert p.meta["resize"] == "area"
    assert tuple(p["image"][0, 100, 100]) == (200, 20, 10)  # BGR from OpenCV became RGB
    assert p["sensor_t_ns"][0] == round((1000.0 + 33.3) * 1e6)  # the V4L2 buffer timestamp
    assert cam.power_model == "usb_camera"


def test_v4l2_photo_mode_and_one_shot_photo(fake_cv2, node, clock) -> None:
    cam = Camera(f"v4l2://{node}", clock=clock).open()
    cap = fake_cv2.captures[-1]
    photo = cam.capture_photo()
    assert photo["image"].shape == (1, 1080, 1920, 3) and photo.meta["resize"] is None
    assert cap.size == (320, 240) and cap.fourccs[-2:] == ["MJPG", "YUYV"]  # back to DNN
    cam.set_mode("photo")
    assert cam.read()["image"].shape == (1, 1080, 1920, 3)
    assert cam.switches[-1].size == (1920, 1080)


def test_v4l2_without_a_small_format_falls_back(fake_cv2, node, clock, caplog) -> None:
    caplog.set_level(logging.INFO)
    fake_cv2.formats = [(1280, 720)]
    cam = Camera(f"v4l2://{node}", size=(96, 96), clock=clock).open()
    p = cam.read()
    assert p["image"].shape == (1, 96, 96, 3) and p.meta["pipeline"] == "software"
    assert "capture-and-resize" in p.meta["note"]
    assert "falls back to capture-and-resize" in caplog.text


def test_v4l2_camera_unplugged_mid_stream(fake_cv2, node, clock) -> None:
    cam = Camera(f"v4l2://{node}", clock=clock).open()
    assert cam.read() is not None
    node.unlink()
    with pytest.raises(DeviceIOError, match="unplugged") as err:
        cam.read()
    assert str(node) in str(err.value)
    assert cam.ended and not cam.is_open and fake_cv2.captures[-1].released


def test_v4l2_missing_device_and_missing_opencv(monkeypatch, tmp_path, clock) -> None:
    with pytest.raises(DeviceNotFound, match="v4l2-ctl --list-devices"):
        Camera(f"v4l2://{tmp_path}/video9", clock=clock).open()
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(DriverUnavailable, match=r"sensekit\[camera\]"):
        Camera("/dev/video0", clock=clock).open()


def test_picamera2_dnn_mode_is_a_binned_mode_plus_lores(fake_picamera2, clock) -> None:
    cam = sensekit.open("camera", "picamera2://0", clock=clock)
    pc = fake_picamera2.instances[-1]
    config = pc.config
    assert config["sensor"]["output_size"] == (1640, 1232)  # 2x2 binned, whole field of view
    assert config["lores"] == {"size": (320, 240), "format": "YUV420"}
    assert config["main"]["size"][0] >= 320
    p = cam.read()
    assert p["image"].shape == (1, 224, 224, 3) and p.meta["pipeline"] == "sensor"
    assert p.meta["sensor_mode"] == (1640, 1232) and p.meta["capture_size"] == (320, 240)
    np.testing.assert_allclose(p["image"][0, 50, 50], (200, 20, 10), atol=2)  # YUV -> RGB
    assert p["sensor_t_ns"][0] == 5_000_000_000 + 33_333_333
    assert pc.released == 1  # every request handed back to libcamera


def test_picamera2_photo_and_one_shot(fake_picamera2, clock) -> None:
    cam = Camera("picamera2://0", clock=clock).open()
    pc = fake_picamera2.instances[-1]
    photo = cam.capture_photo()
    assert photo["image"].shape == (1, 2464, 3280, 3)
    assert tuple(photo["image"][0, 0, 0]) == (200, 20, 10)  # RGB888 is B, G, R in memory
    assert pc.config["use_case"] == "video"  # switch_mode_and_capture_array went back
    cam.set_mode("photo")
    assert pc.config["use_case"] == "still" and len(pc.configs) == 2


def test_picamera2_camera_stops_answering(fake_picamera2, clock) -> None:
    cam = Camera("picamera2://0", clock=clock).open()
    cam.read()
    fake_picamera2.instances[-1].unplugged = True
    assert list(cam) == []
    assert "stopped delivering" in str(cam.error) and fake_picamera2.instances[-1].closed


def test_picamera2_missing_camera_and_camera_v3(fake_picamera2, clock) -> None:
    with pytest.raises(DeviceNotFound, match="list-cameras"):
        Camera("picamera2://1", clock=clock).open()
    fake_picamera2.model = "imx708_wide"
    try:
        cam = Camera("picamera2://0", clock=clock).open()
    finally:
        fake_picamera2.model = "imx219"
    assert cam.power_model == "pi_camera_v3"


IMX219 = "3264x2464@21,3264x1848@28,1920x1080@30,1640x1232@30,1280x720@60"


def test_nvargus_dnn_mode_is_a_binned_mode_of_the_whole_field_of_view() -> None:
    modes = parse_modes(IMX219, "camera")
    assert [str(m) for m in full_view(modes)] == ["3264x2464@21", "1640x1232@30"]
    gst = GstBackend(None, ("nvargus", "0"), "camera at nvargus://0", modes)
    desc, config = gst._description("dnn", (224, 224), 30.0)
    # 1280x720 is smaller but a crop of the sensor's middle; 1640x1232 is all of it, binned.
    assert "sensor-mode=3" in desc and "width=1640,height=1232" in desc
    assert "nvvidconv ! video/x-raw,width=300,height=224,format=BGRx" in desc
    assert config.in_pipeline and config.size == (300, 224) and "whole field" in config.note
    desc, config = gst._description("photo", None, 21.0)
    assert "sensor-mode=0" in desc and config.size == (3264, 2464)
    assert nvargus_pipeline(1, 2, (1920, 1080), (1920, 1080), 30).startswith(
        "nvarguscamerasrc sensor-id=1 sensor-mode=2 ! ")


def test_nvargus_frame_rate_above_the_modes_limit_is_refused() -> None:
    gst = GstBackend(None, ("nvargus", "0"), "camera at nvargus://0", parse_modes(IMX219, "c"))
    with pytest.raises(ConfigError, match=r"60 frames/s is more than sensor mode "
                                          r"1640x1232@30 gives.*lower rate_hz to 30"):
        gst._description("dnn", (224, 224), 60.0)
    with pytest.raises(ConfigError, match="WIDTHxHEIGHT@FPS"):
        parse_modes("1640x1232", "c")


def test_nvargus_modes_come_from_the_device_tree(tmp_path) -> None:
    # An IMX477 (Raspberry Pi HQ camera) on a Jetson: not the IMX219's list.
    node = tmp_path / "proc/device-tree/cam_i2cmux/i2c@0/imx477_a@1a"
    for i, (w, h, fps) in enumerate([(3840, 2160, 30), (1920, 1080, 60)]):
        mode = node / f"mode{i}"
        mode.mkdir(parents=True)
        for prop, value in (("active_w", w), ("active_h", h), ("max_framerate", fps * 1000000),
                            ("framerate_factor", 1000000)):
            (mode / prop).write_bytes(f"{value}".encode() + b"\0")
    drivernode = tmp_path / "proc/device-tree/tegra-camera-platform/modules/module0/drivernode0"
    drivernode.mkdir(parents=True)
    (drivernode / "proc-device-tree").write_bytes(
        b"/proc/device-tree/cam_i2cmux/i2c@0/imx477_a@1a\0")
    assert [str(m) for m in argus_modes(0, tmp_path)] == ["3840x2160@30", "1920x1080@60"]
    assert argus_modes(1, tmp_path) is None
    gst = GstBackend(None, ("nvargus", "0"), "camera at nvargus://0", root=tmp_path)
    desc, _ = gst._description("dnn", (224, 224), 60.0)
    assert "sensor-mode=1" in desc and "width=1920,height=1080" in desc
    with pytest.raises(DeviceNotFound, match=r"nvargus://0\?modes="):
        _ = GstBackend(None, ("nvargus", "1"), "camera at nvargus://1", root=tmp_path).sensor_modes


def test_nvargus_camera_through_gstreamer_bindings(fake_gi, clock) -> None:
    cam = sensekit.open("camera", f"nvargus://0?modes={IMX219}", clock=clock)
    p = cam.read()
    assert p["image"].shape == (1, 224, 224, 3) and p.meta["pipeline"] == "sensor"
    assert p.meta["capture_size"] == (300, 224) and p.meta["sensor_mode"] == (1640, 1232)
    assert tuple(p["image"][0, 10, 10]) == (200, 20, 10)  # BGRx became RGB
    assert p["sensor_t_ns"][0] == 33_333_333  # the buffer's presentation time
    photo = cam.capture_photo()
    assert photo["image"].shape == (1, 2464, 3264, 3)
    states = [pl.state for pl in fake_gi.pipelines]
    assert states[-1] == 4 and set(states[:-1]) == {1}  # old pipelines stopped, DNN one runs
    assert "width=300,height=224" in fake_gi.pipelines[-1].desc


@pytest.mark.parametrize("offsets", [True, False])
def test_gstreamer_frames_the_appsink_dropped_are_counted(fake_gi, clock, offsets) -> None:
    fake_gi.offsets = offsets        # frame numbers, or presentation times only
    cam = sensekit.open("camera", f"nvargus://0?modes={IMX219}", clock=clock, rate_hz=30)
    assert cam.read() is not None
    fake_gi.skip = 4
    with pytest.warns(SampleDropped, match="4 samples dropped"):
        assert cam.read() is not None
    assert cam.stats.dropped == 4 and cam.stats.dropped_estimated != offsets


def test_picamera2_and_v4l2_dropped_frames_are_counted(fake_picamera2, fake_cv2, node,
                                                       clock) -> None:
    pi = sensekit.open("camera", "picamera2://0", clock=clock)
    pi.read()
    fake_picamera2.instances[-1].skip = 3
    pi.read()
    assert pi.stats.dropped == 3
    usb = sensekit.open("camera", f"v4l2://{node}", clock=clock, rate_hz=30)
    usb.read()
    fake_cv2.captures[-1].skip = 2
    usb.read()
    assert usb.stats.dropped == 2 and usb.stats.dropped_estimated


def test_nvargus_camera_failing_mid_stream(fake_gi, clock) -> None:
    cam = Camera(f"nvargus://0?modes={IMX219}", clock=clock, timeout_s=0.01).open()
    assert cam.read() is not None
    fake_gi.failed = True
    assert list(cam) == []
    assert "Argus error: Timeout" in str(cam.error) and not cam.is_open


UVC_FORMATS = {"YUYV": [(640, 480), (160, 120), (320, 240)],
               "MJPG": [(640, 480), (1280, 720), (1920, 1080)]}


class FakeUvcIoctl:
    """The kernel side of VIDIOC_ENUM_FMT / VIDIOC_ENUM_FRAMESIZES for a 1080p webcam."""

    def __call__(self, fd: int, request: int, buf: bytearray) -> int:
        import errno
        import struct

        from sensekit.drivers.camera import v4l2_formats as vf

        codes = {name: struct.unpack("<I", name.encode())[0] for name in UVC_FORMATS}
        if request == vf.VIDIOC_ENUM_FMT:
            index = struct.unpack_from("=I", buf)[0]
            if index >= len(codes):
                raise OSError(errno.EINVAL, "Invalid argument")
            struct.pack_into("=I", buf, 44, list(codes.values())[index])
            return 0
        assert request == vf.VIDIOC_ENUM_FRAMESIZES
        index, code = struct.unpack_from("=II", buf)
        sizes = UVC_FORMATS[vf.fourcc_text(code)]
        if index >= len(sizes):
            raise OSError(errno.EINVAL, "Invalid argument")
        struct.pack_into("=I2I", buf, 8, 1, *sizes[index])  # V4L2_FRMSIZE_TYPE_DISCRETE
        return 0


def test_v4l2_formats_listed_by_ioctl(monkeypatch, fake_cv2, node, clock) -> None:
    import fcntl

    from sensekit.drivers.camera.v4l2_formats import enum_formats

    monkeypatch.setattr(fcntl, "ioctl", FakeUvcIoctl())
    assert enum_formats(str(node)) == {"YUYV": [(160, 120), (320, 240), (640, 480)],
                                       "MJPG": [(640, 480), (1280, 720), (1920, 1080)]}
    cam = Camera(f"v4l2://{node}", clock=clock).open()
    cap = fake_cv2.captures[-1]
    assert cap.size == (320, 240) and cap.fourccs == ["YUYV"]  # no probing: one S_FMT
    cam.set_mode("photo")
    assert cap.size == (1920, 1080) and cap.fourccs[-1] == "MJPG"


def test_v4l2_enumeration_refused_falls_back_to_probing(fake_cv2, node, clock) -> None:
    from sensekit.drivers.camera.v4l2_formats import enum_formats

    with pytest.raises(OSError):  # a regular file is no V4L2 node (ENOTTY)
        enum_formats(str(node))
    Camera(f"v4l2://{node}", clock=clock).open()
    assert len(fake_cv2.captures[-1].fourccs) == 1  # probed sizes, then one format set
