"""Hysteresis of the controller-facing dual-mode camera API: no flapping, dwell respected."""

from __future__ import annotations

import itertools

import pytest

from sensekit.controller.dual_mode import DualModeCamera, Hysteresis
from sensekit.drivers.camera.camera import Camera
from sensekit.errors import ConfigError
from sensekit.testing.camera_scenes import CameraSceneEmulator


def test_hysteresis_ignores_noise_between_the_thresholds() -> None:
    h = Hysteresis(high=0.7, low=0.3, min_dwell_s=0.0)
    scores = [0.5, 0.69, 0.71, 0.5, 0.31, 0.6, 0.29, 0.65, 0.4]
    states = [h.update(s, i * 10**9) for i, s in enumerate(scores)]
    assert states == [False, False, True, True, True, True, False, False, False]


def test_hysteresis_holds_each_state_for_the_dwell_time() -> None:
    h = Hysteresis(high=0.7, low=0.3, min_dwell_s=2.0)
    t = [0.0, 0.5, 2.5, 3.0, 4.0, 4.6]
    s = [0.1, 0.9, 0.9, 0.0, 0.0, 0.0]
    states = [h.update(score, round(ts * 1e9)) for score, ts in zip(s, t, strict=True)]
    # On only at 2.5 s (2 s after the start), off only at 4.6 s (2 s after going on).
    assert states == [False, False, True, True, True, False]
    assert h.refused == 3
    with pytest.raises(ConfigError, match="low < high"):
        Hysteresis(high=0.3, low=0.5)


def test_dual_mode_camera_does_not_flap(clock) -> None:
    emu = CameraSceneEmulator("street", sensor_modes=[(160, 120), (640, 480)], clock=clock,
                              switch_s=0.05)
    cam = Camera("emu://", emulator=emu, clock=clock, rate_hz=10).open()
    dual = DualModeCamera(cam, dnn_size=(64, 64), min_dwell_s=1.0)
    assert cam.read()["image"].shape == (1, 64, 64, 3)
    modes = []
    for i in range(40):  # 4 s of a score oscillating across both thresholds every frame
        modes.append(dual.update(0.9 if i % 2 else 0.1, reason="detector"))
        cam.read()
    changes = sum(a != b for a, b in itertools.pairwise(modes))
    assert 2 <= changes <= 4  # at most one change per dwell second, not one per frame
    assert dual.refused >= 15  # about half the frames asked for the other mode
    assert all(s.first_frame_s is not None for s in cam.switches)
    assert {c.reason for c in cam.changes if c.setting == "mode"} >= {"detector"}


def test_dual_mode_requests_and_one_shot_photo(clock) -> None:
    emu = CameraSceneEmulator("office", sensor_modes=[(160, 120), (320, 240)], clock=clock)
    cam = Camera("emu://", emulator=emu, clock=clock).open()
    dual = DualModeCamera(cam, dnn_size=(32, 32), min_dwell_s=5.0)
    assert dual.request("photo") == "dnn"  # too early
    clock.advance(5.0)
    assert dual.request("photo") == "photo"
    assert dual.request("dnn") == "photo"
    photo = dual.capture_photo()  # a one-shot is never held back
    assert photo["image"].shape == (1, 240, 320, 3)
    with pytest.raises(ConfigError, match="'dnn' and 'photo'"):
        dual.request("video")
