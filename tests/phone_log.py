"""A transport-mode-like phone recording, as ``sensekit import --format us-tmd`` writes one.

The streams (``accel``, ``gyro``, ``mag``, ``pressure``, ``sound``, ``speed``, ``light``,
``labels``) come at the irregular rates and with the gaps of the corpus: an accelerometer at
about 5 Hz, a sound level every 10 s, a GPS speed every 35 s, pressure every 40 s, light only
when it changes; the whole file is labelled ``transport=bus``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sensekit.clock import FakeClock
from sensekit.log.recorder import Recorder
from sensekit.packets import Packet

S = 1_000_000_000
T0 = 1_480_000_000 * S  # epoch times, as imported logs keep them
DURATION_S = 120


def _events(rng: np.random.Generator, every_s: float, jitter: float) -> np.ndarray:
    t = np.arange(0.1, DURATION_S, every_s)
    t = np.clip(t + rng.uniform(-jitter, jitter, len(t)), 0.05, None)  # the labels start first
    return np.sort(T0 + (t * S).astype(np.int64))


def write_bus_ride(path: Path, seed: int = 4, pressure_every_s: float = 40.0
                   ) -> dict[str, np.ndarray]:
    """Write the recording; return the report times of its step signals."""
    rng = np.random.default_rng(seed)
    ta, tm = _events(rng, 0.2, 0.05), _events(rng, 0.5, 0.1)
    ts, tv = _events(rng, 10.0, 1.0), _events(rng, 35.0, 2.0)
    tp = _events(rng, pressure_every_s, 2.0)
    tl = T0 + (np.array([0.5, 3.0, 61.0]) * S).astype(np.int64)  # on change only
    tlab = T0 + np.arange(0, DURATION_S * S, S // 10, dtype=np.int64)
    g = np.array([0.0, 0.0, 9.81], np.float32)
    mag = np.array([20.0, 0.0, -40.0]) + rng.normal(0, 1, (len(tm), 3))
    packets = [
        Packet("accel", ta, {"accel_mps2": g + rng.normal(0, 0.3, (len(ta), 3)).astype(
            np.float32)}, "imu"),
        Packet("gyro", ta, {"gyro_rads": rng.normal(0, 0.05, (len(ta), 3)).astype(np.float32)}),
        Packet("mag", tm, {"mag_ut": mag.astype(np.float32)}),
        Packet("sound", ts, {"sound_db": np.linspace(60.0, 70.0, len(ts))}),
        Packet("speed", tv, {"speed_mps": np.full(len(tv), 8.5, np.float32),
                             "accuracy_m": np.full(len(tv), 5.0, np.float32)}),
        Packet("pressure", tp, {"pressure_hpa": (1013.0 + 0.01 * np.arange(len(tp))).astype(
            np.float32)}),
        Packet("light", tl, {"lux": np.array([40.0, 900.0, 5.0], np.float32)}),
        Packet("labels", tlab, {"transport": np.full(len(tlab), 3, np.int8)}),
    ]
    with Recorder(path, clock=FakeClock(T0), wall_offset_ns=0, clock_synced=True) as rec:
        rec.add_device("labels", {"transport": ["still", "walking", "car", "bus", "train"],
                                  "rate_hz": 10.0, "kind": "labels"})
        for p in sorted(packets, key=lambda p: int(p.t_ns[0])):
            rec.write(p)
    return {"sound": ts, "speed": tv, "pressure": tp, "light": tl}
