"""The ``orientation`` and ``nav`` streams as fusion inputs: declared once, windowed like any."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sensekit.fusion.recordings import recording_windows
from sensekit.modalities import get
from sensekit.orientation import Ahrs, GpsImuFilter
from sensekit.packets import Packet, concat
from sensekit.testing.scenario import ACTIVITIES

RATE = 100.0
SPEED = 1.4  # walking north


def _recording(duration_s: float = 40.0) -> SimpleNamespace:
    """A flat device bouncing 1 m/s^2 up and down at 2 Hz while fixes walk it north; the
    orientation and nav streams are what the AHRS and the filter make of it."""
    rng = np.random.default_rng(3)
    t = np.arange(0.0, duration_s, 1 / RATE)
    acc = np.zeros((len(t), 3))
    acc[:, 2] = 9.80665 + np.sin(2 * np.pi * 2.0 * t)
    acc += rng.normal(0, 0.02, acc.shape)
    gyr = rng.normal(0, 0.002, acc.shape)
    t_ns = (t * 1e9).astype(np.int64)
    fix_t = np.arange(0.0, duration_s, 1.0)
    n = len(fix_t)
    gps = Packet("gps", (fix_t * 1e9).astype(np.int64), {
        "lat_deg": 51.0 + np.degrees(SPEED * fix_t / 6_371_008.8), "lon_deg": np.full(n, -1.0),
        "speed_mps": np.full(n, SPEED, np.float32), "track_deg": np.zeros(n, np.float32),
        "hdop": np.ones(n, np.float32), "mode": np.full(n, 3, np.int8)}, "gps")
    ahrs, nav = Ahrs(RATE), GpsImuFilter()
    orientation, navs = [], []
    for lo in range(0, len(t), int(RATE / 10)):
        imu = Packet("imu", t_ns[lo:lo + 10], {"accel_mps2": acc[lo:lo + 10].astype(np.float32),
                                               "gyro_rads": gyr[lo:lo + 10].astype(np.float32)})
        o = ahrs.update(imu)
        orientation.append(o)
        navs.append(nav.update(o))
        fixes = gps.select((gps.t_ns >= t_ns[lo]) & (gps.t_ns <= t_ns[min(lo + 9, len(t) - 1)]))
        if len(fixes):
            nav.update(fixes)
    walking = ACTIVITIES.index("walking")
    labels = Packet("labels", (fix_t * 1e9).astype(np.int64),
                    {"activity": np.full(n, walking, np.int8)})
    streams = {"orientation": concat(orientation), "nav": concat([p for p in navs if p]),
               "labels": labels}
    return SimpleNamespace(streams=streams, devices={"labels": {"activity": list(ACTIVITIES)}},
                           source="synthetic walk")


def test_nav_packets_carry_speed_and_position_sigma() -> None:
    nav = _recording().streams["nav"]
    late = nav.t_ns > 5e9
    assert np.allclose(nav["speed_mps"][late], SPEED, atol=0.2)
    sigma = nav["pos_sigma_m"][late]
    assert np.all(np.isfinite(sigma)) and np.all((sigma > 0) & (sigma < 10))
    cov = nav["pos_cov_enu_m2"][late][:, :2, :2].astype(np.float64)
    assert np.allclose(sigma, np.linalg.det(cov) ** 0.25, rtol=1e-3)


def test_the_aligner_builds_fusion_windows_from_orientation_and_nav_streams() -> None:
    mods = {m: get(m).input for m in ("orientation", "nav")}
    ws = recording_windows(_recording(), mods, window_s=2.0, tasks=["activity"])
    n = len(ws.labels["activity"])
    assert n >= 18
    assert ws.inputs["orientation"].shape == (n, 3, 200)
    assert ws.inputs["nav"].shape == (n, 2, 2)
    assert ws.present["orientation"].all() and ws.present["nav"].all()
    up = ws.inputs["orientation"][:, 2]
    # gravity removed: the 1 m/s^2 bounce is what is left of the vertical, about zero mean
    assert np.all(np.abs(up.mean(axis=1)) < 0.2) and np.all(up.std(axis=1) > 0.5)
    speed, sigma = ws.inputs["nav"][5:, 0], ws.inputs["nav"][5:, 1]
    assert np.allclose(speed, SPEED, atol=0.2) and np.all(sigma < 10)
    assert ws.inputs["nav"][0, 1].max() <= 1000.0  # no fix yet: capped, not inf


def test_orientation_and_nav_are_declared_as_fusion_inputs() -> None:
    orientation, nav = get("orientation"), get("nav")
    assert orientation.input.kind == "series" and orientation.stream == "orientation"
    assert nav.input.kind == "lowrate" and nav.stream == "nav"
    # computed streams: no part of their own, priced as the IMU they run on (charged once
    # with the accelerometer and gyroscope)
    assert orientation.power == nav.power == get("accel").power


def test_a_fusion_network_takes_orientation_and_nav_windows() -> None:
    torch = pytest.importorskip("torch")
    from sensekit.fusion.model import create_model

    mods = {m: get(m).input for m in ("orientation", "nav")}
    ws = recording_windows(_recording(), mods, window_s=2.0, tasks=["activity"])
    net = create_model("fusion_tiny", modalities=mods, tasks={"activity": list(ACTIVITIES)})
    net.eval()
    with torch.no_grad():
        out = net({m: torch.from_numpy(ws.inputs[m]) for m in mods},
                  {m: torch.from_numpy(ws.present[m]) for m in mods})
    logits = out["activity"]
    assert tuple(logits.shape) == (len(ws.labels["activity"]), len(ACTIVITIES))
    assert torch.isfinite(logits).all()
