"""Log-mel spectrogram and activity scores, against tones and the emulated scenes."""

from __future__ import annotations

import numpy as np
import pytest

from sensekit.drivers.audio.resample import StreamResampler
from sensekit.features.audio import ActivityScore, LogMel, hz_to_mel, mel_filterbank
from sensekit.testing.audio_scenes import AudioSceneEmulator


def scene_16k(name: str, seconds: float = 5.2) -> np.ndarray:
    x = AudioSceneEmulator(name, rate_hz=48000).render_seconds(0.0, seconds)
    return StreamResampler(48000, 16000, 1).process(x)


def test_mel_scale_and_filters() -> None:
    assert hz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.5)  # the scale's anchor point
    fb = mel_filterbank(16000, 512, 40, 0, 8000)
    assert fb.shape == (40, 257)
    assert fb.max() <= 1.0 and np.all(fb.sum(axis=1) > 0)  # no empty band at 512 points


def test_log_mel_puts_a_tone_in_its_band_at_its_level() -> None:
    lm = LogMel(rate_hz=16000, n_mels=64)
    t = np.arange(16000) / 16000
    pcm = np.round(0.5 * 32768 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    spec = lm(pcm)
    assert spec.shape == (1 + (16000 - 400) // 160, 64) and spec.dtype == np.float32
    band = int(np.argmax(spec.mean(axis=0)))
    centres = np.linspace(hz_to_mel(20), hz_to_mel(8000), 66)[1:-1]
    assert abs(centres[band] - hz_to_mel(1000)) < (centres[1] - centres[0])
    # A sine of amplitude 0.5 is -6 dB of full scale; the filter near the tone sees most of it.
    assert spec[:, band].mean() == pytest.approx(-6.0, abs=1.5)
    assert lm(np.zeros(1600, np.float32)).max() == lm.floor_db


def test_activity_separates_the_scenes() -> None:
    score = ActivityScore(rate_hz=16000)
    stats = {}
    for name in ("silence", "speech", "street", "vehicle"):
        pcm = scene_16k(name)
        stats[name] = (score.sound(pcm).mean(), (score.voice(pcm) > 0.5).mean())
    assert stats["silence"][0] < 0.01 and stats["silence"][1] == 0
    assert stats["street"][0] > 0.95 and stats["vehicle"][0] > 0.95
    assert stats["speech"][1] > 0.25  # voiced syllables
    assert stats["street"][1] < 0.05 and stats["vehicle"][1] < 0.05


def test_activity_level_is_in_dbfs_and_accepts_channels() -> None:
    t = np.arange(8000) / 16000
    stereo = np.stack([np.sin(2 * np.pi * 500 * t)] * 2, axis=1).astype(np.float32)
    score = ActivityScore(rate_hz=16000)
    np.testing.assert_allclose(score.level_dbfs(stereo), -3.01, atol=0.05)
    assert score.voice(stereo[:100]).shape == (0,)
