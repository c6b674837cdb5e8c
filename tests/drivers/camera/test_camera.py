"""Camera driver on the emulated camera and on video files: sizes, modes, timing, loss."""

from __future__ import annotations

import logging
import threading

import cv2
import numpy as np
import pytest

import sensekit
from sensekit.driver import ReaderThread
from sensekit.drivers.camera.camera import Camera
from sensekit.errors import ConfigError, DeviceClosed, DeviceIOError, SampleDropped
from sensekit.power.model import load_power_model
from sensekit.testing.camera_scenes import CameraSceneEmulator

SMALL_MODES = [(160, 120), (320, 240), (640, 480)]


def emu_camera(clock, **kw) -> tuple[Camera, CameraSceneEmulator]:
    emu = CameraSceneEmulator("street", sensor_modes=SMALL_MODES, clock=clock, fps=30,
                              switch_s=kw.pop("switch_s", 0.2))
    cam = Camera("emu://", emulator=emu, clock=clock, rate_hz=30, **kw).open()
    return cam, emu


def test_dnn_mode_gives_exactly_the_size_from_a_binned_mode(clock) -> None:
    cam, emu = emu_camera(clock, size=(96, 64))
    p = cam.read()
    assert p.validate()["image"].shape == (1, 64, 96, 3)
    assert p.meta["sensor_mode"] == (160, 120)  # smallest mode at or above 96x64
    assert p.meta["pipeline"] == "sensor"
    assert p.meta["capture_size"] == (96, 72)  # ISP keeps the 4:3 shape, covering 96x64
    assert p.meta["crop_xywh"] == (0, 4, 96, 64) and p.meta["resized_from"] is None
    assert emu.output_size == (96, 72)
    q = cam.read()
    assert q.t_ns[0] - p.t_ns[0] == pytest.approx(1e9 / 30, abs=1)
    assert q["sensor_t_ns"][0] == q.t_ns[0]


def test_switch_to_photo_and_back_is_timed(clock, caplog) -> None:
    caplog.set_level(logging.INFO)
    cam, _ = emu_camera(clock)
    cam.read()
    cam.set_mode("photo", reason="detail wanted")
    photo = cam.read()
    assert photo["image"].shape == (1, 480, 640, 3) and photo.meta["pipeline"] == "full"
    switch = cam.switches[-1]
    assert (switch.src, switch.dst, switch.size) == ("dnn", "photo", (640, 480))
    assert switch.configure_s == pytest.approx(0.2)
    # The first frame comes one frame period after the reconfiguration.
    assert switch.first_frame_s == pytest.approx(0.2 + 1 / 30, abs=1e-6)
    assert photo.meta["switch_latency_s"] == switch.first_frame_s
    assert "switch_latency_s" not in cam.read().meta
    cam.set_mode("dnn", size=(224, 224))
    assert cam.read()["image"].shape == (1, 224, 224, 3)
    assert [(c.old, c.new, c.reason) for c in cam.changes] == [
        ("dnn", "photo", "detail wanted"), ("photo", "dnn", "")]
    assert "dnn -> photo took 0.200 s" in caplog.text


def test_same_mode_again_costs_nothing(clock) -> None:
    cam, _ = emu_camera(clock)
    t0 = clock.now_ns()
    cam.set_mode("dnn", size=(224, 224))
    assert cam.switches == [] and clock.now_ns() == t0


def test_capture_photo_is_one_shot(clock) -> None:
    cam, _ = emu_camera(clock)
    cam.read()
    photo = cam.capture_photo()
    assert photo["image"].shape == (1, 480, 640, 3)
    assert photo.meta["mode"] == "photo" and photo.meta["photo_latency_s"] > 0.2
    assert cam.mode == "dnn" and cam.read()["image"].shape == (1, 224, 224, 3)
    assert [(c.old, c.new) for c in cam.changes] == [("dnn", "photo"), ("photo", "dnn")]
    assert cam.photo_latencies_s == [photo.meta["photo_latency_s"]]


def test_late_reader_loses_frames_and_is_told(clock) -> None:
    cam, _ = emu_camera(clock)
    cam.read()
    clock.advance(0.5)
    with pytest.warns(SampleDropped, match="overwritten"):
        cam.read()
    assert cam.stats.dropped == 14  # 15 frames finished in 0.5 s, the newest is delivered


def test_unknown_set_mode_option_and_bad_url(clock) -> None:
    cam, _ = emu_camera(clock)
    with pytest.raises(ConfigError, match=r"size=.*only"):
        cam.set_mode("dnn", resolution=(1, 2))
    with pytest.raises(ConfigError, match="/dev/videoN or a video file"):
        Camera("/tmp/notes.txt")
    with pytest.raises(ConfigError, match="WIDTHxHEIGHT"):
        Camera("emu://?size=224")


def test_unplugged_camera_ends_its_stream_only(clock) -> None:
    cam, emu = emu_camera(clock)
    other, _ = emu_camera(clock)
    frames = []
    emu.unplug(after_s=0.11)
    for packet in cam:
        frames.append(packet)
    assert len(frames) == 3  # frames at 33, 67 and 100 ms
    assert isinstance(cam.error, DeviceIOError) and "disappeared" in str(cam.error)
    assert cam.ended and not cam.is_open and cam.stats.io_errors >= 1
    with pytest.raises(DeviceClosed):
        cam.read()
    with pytest.warns(SampleDropped):  # it was not read meanwhile: frames were overwritten
        assert other.read()["image"].shape == (1, 224, 224, 3)


def test_unplugged_camera_in_a_reader_thread_ends_cleanly(clock) -> None:
    cam, emu = emu_camera(clock, timeout_s=0.05)
    got = threading.Event()
    reader = ReaderThread(cam, lambda p: got.set(), max_backoff_s=0.01).start()
    assert got.wait(5)
    emu.unplug()
    assert reader._thread is not None
    reader._thread.join(5)
    assert not reader._thread.is_alive()
    assert any("disappeared" in e for e in reader.errors)


def test_power_tables_follow_the_camera(clock, tmp_path) -> None:
    assert emu_camera(clock)[0].power_model == "pi_camera_v2"
    assert Camera("/dev/video0").power_model == "usb_camera"
    assert Camera("emu://?model=pi_camera_v3").power_model == "pi_camera_v3"
    for name in ("pi_camera_v2", "pi_camera_v3", "usb_camera"):
        table = load_power_model(name)
        dnn, photo = table.mode("dnn"), table.mode("photo")
        # Not energy-proportional: a fixed term plus a per-pixel term (LiKamWa et al. 2013).
        assert dnn.power_w > 0 and dnn.per_pixel_w > 0
        small = dnn.watts(15, 640 * 480)
        large = photo.watts(15, 1920 * 1080)
        assert small < large < small * (1920 * 1080) / (640 * 480)


def write_video(path, size=(64, 48), frames=10, fps=10.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for i in range(frames):
        image = np.zeros((size[1], size[0], 3), np.uint8)
        image[:, :, 2] = 200  # red in OpenCV's BGR
        image[:, : size[0] // 2, 1] = 25 * i  # green ramps over time on the left half
        writer.write(image)
    writer.release()


def test_video_file_source_falls_back_to_resize(tmp_path, clock, caplog) -> None:
    caplog.set_level(logging.INFO)
    path = tmp_path / "clip.avi"
    write_video(path)
    cam = sensekit.open("camera", str(path), size=(32, 32), clock=clock)
    packets = list(cam)
    assert len(packets) == 10 and cam.ended
    p = packets[3]
    assert p["image"].shape == (1, 32, 32, 3)
    assert p.meta["pipeline"] == "software" and p.meta["resize"] == "area"
    assert p.meta["crop_xywh"] == (8, 0, 48, 48) and p.meta["resized_from"] == (48, 48)
    assert "falls back to capture-and-resize" in caplog.text
    red = p["image"][0, :, :, 0].mean()
    assert red == pytest.approx(200, abs=6)  # channels come out as RGB
    np.testing.assert_allclose(np.diff([q["sensor_t_ns"][0] for q in packets]), 1e8, atol=1e6)
    assert packets[0].t_ns[0] - clock.now_ns() == packets[0]["sensor_t_ns"][0]


def test_video_file_loops_when_asked(tmp_path, clock) -> None:
    path = tmp_path / "clip.avi"
    write_video(path, frames=4)
    cam = Camera(f"file://{path}?loop=1", size=(16, 16), clock=clock).open()
    stamps = [cam.read()["sensor_t_ns"][0] for _ in range(9)]
    assert np.all(np.diff(stamps) > 0) and not cam.ended
