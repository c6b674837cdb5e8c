"""The scene-driven camera emulator as a renderer: illumination, blur and motion are visible."""

from __future__ import annotations

import numpy as np
import pytest

from sensekit.errors import ConfigError
from sensekit.testing.camera_scenes import CameraScene, CameraSceneEmulator

SIZE = (160, 120)


def sharpness(image: np.ndarray) -> float:
    gray = image.astype(np.float32).mean(axis=2)
    return float((np.diff(gray, axis=1) ** 2).mean())  # gradient energy: blur spreads edges


def test_render_is_deterministic_and_sized() -> None:
    a = CameraSceneEmulator("street", seed=1).render(2.0, SIZE, 60)
    b = CameraSceneEmulator("street", seed=1).render(2.0, SIZE, 60)
    assert a.shape == (120, 160, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)


def test_illumination_scales_brightness_and_raises_noise() -> None:
    emu = CameraSceneEmulator(lambda t: CameraScene(illumination=1.0 if t < 1 else 0.1))
    bright, dark = emu.render(0.0, SIZE), emu.render(2.0, SIZE)
    assert dark.mean() == pytest.approx(bright.mean() * 0.1, rel=0.15)
    quiet = CameraSceneEmulator(CameraScene(illumination=0.1), noise=False).render(2.0, SIZE)
    noise_dark = np.std(dark.astype(float) - quiet)
    quiet_bright = CameraSceneEmulator(CameraScene(), noise=False).render(0.0, SIZE)
    assert noise_dark > 2 * np.std(bright.astype(float) - quiet_bright)


def test_blur_softens_edges() -> None:
    sharp = CameraSceneEmulator(CameraScene(blur_px=0.0), noise=False).render(0.0, SIZE)
    soft = CameraSceneEmulator(CameraScene(blur_px=6.0), noise=False).render(0.0, SIZE)
    assert sharpness(soft) < 0.5 * sharpness(sharp)


def test_motion_moves_objects_and_a_schedule_switches_scenes() -> None:
    emu = CameraSceneEmulator([(0.0, "static"), (1.0, CameraScene(motion=0.5, objects=2))],
                              noise=False)
    assert emu.scene_at(0.5).objects == 0 and emu.scene_at(1.5).motion == 0.5
    first, later = emu.render(1.0, SIZE), emu.render(1.4, SIZE)
    assert np.abs(first.astype(int) - later).mean() > 1.0
    assert np.array_equal(emu.render(0.2, SIZE), emu.render(0.7, SIZE))  # static scene
    with pytest.raises(ConfigError, match="presets"):
        CameraSceneEmulator("underwater")
