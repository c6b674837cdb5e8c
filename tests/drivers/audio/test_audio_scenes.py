"""The scene-driven audio emulator as a renderer (used by simulators to write recordings)."""

from __future__ import annotations

import numpy as np
import pytest

from sensekit.errors import ConfigError
from sensekit.testing.audio_scenes import AudioSceneEmulator


def test_render_is_deterministic_whatever_the_blocks() -> None:
    emu = AudioSceneEmulator("street", seed=3)
    whole = emu.render(1000, 20000)
    parts = np.concatenate([emu.render(s, 777) for s in range(1000, 21000, 777)])[:20000]
    np.testing.assert_array_equal(whole, parts)
    other = AudioSceneEmulator("street", seed=4).render(1000, 20000)
    assert not np.array_equal(whole, other)


def test_schedule_switches_scenes() -> None:
    emu = AudioSceneEmulator([(0.0, "silence"), (2.0, "vehicle"), (4.0, "silence")],
                             rate_hz=16000, supported_rates=(16000,))
    assert [emu.scene_at(t) for t in (1.0, 3.0, 5.0)] == ["silence", "vehicle", "silence"]
    x = emu.render_seconds(0.0, 6.0)[:, 0]
    rms = [np.sqrt(np.mean(x[i * 16000:(i + 1) * 16000] ** 2)) for i in range(6)]
    assert max(rms[0], rms[1], rms[5]) < 1e-3 < 1e-2 < min(rms[2], rms[3])


def test_callable_scene_and_unknown_scene() -> None:
    emu = AudioSceneEmulator(lambda t: "speech" if t < 1 else "underwater", rate_hz=16000)
    assert emu.render_seconds(0.0, 0.5).shape == (8000, 1)
    with pytest.raises(ConfigError, match="underwater"):
        emu.render_seconds(1.5, 0.5)


def test_start_refuses_rates_the_device_lacks(clock) -> None:
    emu = AudioSceneEmulator(clock=clock)
    with pytest.raises(ConfigError, match="44100, 48000"):
        emu.start(16000, 1, 256)
