"""On a real camera (``SENSEKIT_HW=1``; ``SENSEKIT_CAMERA_URL``, default /dev/video0)."""

from __future__ import annotations

import os

import pytest

import sensekit

pytestmark = pytest.mark.hardware
URL = os.environ.get("SENSEKIT_CAMERA_URL", "/dev/video0")


def test_real_camera_dual_mode_and_switch_latency() -> None:
    with sensekit.open("camera", URL, size=(224, 224), rate_hz=15) as cam:
        first = cam.read(timeout_s=5.0)
        assert first is not None and first["image"].shape == (1, 224, 224, 3)
        cam.set_mode("photo", reason="hardware test")
        photo = cam.read(timeout_s=5.0)
        assert photo is not None and photo["image"].shape[1] >= 480
        cam.set_mode("dnn", size=(224, 224))
        assert cam.read(timeout_s=5.0)["image"].shape == (1, 224, 224, 3)
        for switch in cam.switches:
            assert switch.first_frame_s is not None and switch.first_frame_s > 0
            print(f"{switch.src} -> {switch.dst}: configure {switch.configure_s:.3f} s, "
                  f"first frame {switch.first_frame_s:.3f} s")
