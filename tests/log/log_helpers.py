"""Synthetic packets for the log tests (shapes and units as the drivers produce them)."""

from __future__ import annotations

import numpy as np

from sensekit.packets import Packet

MS = 1_000_000


def imu_packet(t0_ns: int, n: int, rate_hz: float = 1000.0, seed: int = 0,
               stream: str = "imu") -> Packet:
    rng = np.random.default_rng(seed + t0_ns // MS)
    t = t0_ns + (np.arange(n) * (1e9 / rate_hz)).astype(np.int64)
    accel = (rng.normal(0, 0.05, (n, 3)) + np.array([0, 0, 9.81])).astype(np.float32)
    gyro = rng.normal(0, 0.01, (n, 3)).astype(np.float32)
    return Packet(stream, t, {"accel_mps2": accel, "gyro_rads": gyro}, "imu")


def gps_packet(t_ns: int, lat: float = 52.52, lon: float = 13.40, fix: bool = True) -> Packet:
    nan = float("nan")
    one = {"lat_deg": np.array([lat if fix else nan]), "lon_deg": np.array([lon if fix else nan]),
           "alt_msl_m": np.array([34.0 if fix else nan], np.float32),
           "speed_mps": np.array([1.4], np.float32), "track_deg": np.array([nan], np.float32),
           "mode": np.array([3 if fix else 1], np.int8), "hdop": np.array([0.9], np.float32),
           "sats_used": np.array([9 if fix else 0], np.int16),
           "utc_ns": np.array([1_700_000_000_000_000_000 + t_ns], np.int64)}
    return Packet("gps", np.array([t_ns], np.int64), one, "gps")


def light_packet(t_ns: int, lux: float) -> Packet:
    return Packet("light", np.array([t_ns], np.int64), {"lux": np.array([lux], np.float32)},
                  "light")


def audio_packet(t0_ns: int, n: int = 1600, rate_hz: int = 16000) -> Packet:
    t = t0_ns + np.arange(n, dtype=np.int64) * (1_000_000_000 // rate_hz)
    tone = (3000 * np.sin(np.arange(n) * 2 * np.pi * 440 / rate_hz)).astype(np.int16)
    return Packet("audio", t, {"pcm": tone[:, None]}, "audio", {"sample_rate_hz": rate_hz})


def camera_packet(t_ns: int, h: int = 48, w: int = 64) -> Packet:
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 128)], -1).astype(np.uint8)
    return Packet("camera", np.array([t_ns], np.int64), {"image": img[None]}, "camera",
                  {"mode": "dnn", "size": (w, h)})
