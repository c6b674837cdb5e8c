"""Small synthetic windows for the fusion tests: every modality, labels that depend on them."""

from __future__ import annotations

import numpy as np

from sensekit.fusion.data import WindowSet
from sensekit.fusion.inputs import ModalityInput

TASKS = {"activity": ["still", "walking", "running"], "place": ["indoor", "outdoor"]}


def small_modalities() -> dict[str, ModalityInput]:
    """All encoder kinds, at small sizes so tests stay fast."""
    return {
        "imu": ModalityInput("series", 6, (50.0, 25.0), 2.0, xyz=True),
        "audio": ModalityInput("series", 8, (25.0,), 2.0),
        "camera": ModalityInput("image", 3, (16.0, 8.0), 2.0),
        "light": ModalityInput("lowrate", 1, (1.0,), 2.0),
    }


def synthetic_windows(n: int, seed: int) -> WindowSet:
    """Activity shows as IMU oscillation amplitude and frequency; place as light level and
    camera brightness, so the IMU alone cannot tell the place."""
    rng = np.random.default_rng(seed)
    mods = small_modalities()
    act = rng.integers(0, 3, n)
    place = rng.integers(0, 2, n)
    t = np.arange(100) / 50.0
    freq = np.array([0.0, 2.0, 3.0])[act][:, None]
    amp = np.array([0.05, 2.0, 5.0])[act][:, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    wave = amp * np.sin(2 * np.pi * freq * t + phase)
    imu = rng.normal(0, 0.3, (n, 6, 100))
    imu[:, 2] += 9.81 + wave
    imu[:, 3] += 0.3 * wave
    audio = rng.normal(0, 1, (n, 8, 50)) + 2.0 * act[:, None, None]
    camera = np.clip(rng.uniform(0.1, 0.4, (n, 3, 16, 16)) + 0.4 * place[:, None, None, None],
                     0, 1)
    light = np.log1p(np.where(place == 1, 5000.0, 300.0)[:, None, None]
                     * rng.uniform(0.5, 1.5, (n, 1, 2)))
    inputs = {"imu": imu, "audio": audio, "camera": camera, "light": light}
    return WindowSet(mods, {k: v.astype(np.float32) for k, v in inputs.items()}, {},
                     {"activity": act.astype(np.int64), "place": place.astype(np.int64)},
                     {k: list(v) for k, v in TASKS.items()}, np.arange(n, dtype=np.int64) // 8)
