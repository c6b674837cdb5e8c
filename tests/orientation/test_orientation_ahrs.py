"""The AHRS on synthetic trials with truth (sensekit.testing.motion): accuracy, bias, the
disturbances of the issue, streaming against batch, rate changes and restarts.

Bounds are stated per test; both backends run where it matters (``vqf`` only if installed).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from ahrs_trials import BACKENDS, RATE, short

from sensekit.errors import ConfigError
from sensekit.orientation import Ahrs
from sensekit.orientation import quaternion as quat
from sensekit.orientation.metrics import (
    heading_errors_deg,
    inclination_errors_deg,
    orientation_rmse_deg,
)
from sensekit.packets import Packet
from sensekit.testing.motion import EARTH_FIELD_UT, make_trial


def still(seconds: float, q: np.ndarray, *, bias=(0.0, 0.0, 0.0), seed: int = 0):  # type: ignore[no-untyped-def]
    """A sensor lying still at orientation ``q`` (sensor to ENU) with a gyroscope bias."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    gyr = np.asarray(bias) + rng.normal(0, 0.002, (n, 3))
    acc = quat.rotate_inverse(q, [0, 0, 9.81]) + rng.normal(0, 0.03, (n, 3))
    mag = quat.rotate_inverse(q, EARTH_FIELD_UT) + rng.normal(0, 0.5, (n, 3))
    return gyr, acc, mag


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["rotation_slow", "rotation_fast", "combined"])
def test_known_rotations_are_recovered(backend: str, kind: str) -> None:
    """Synthetic rotation trials: inclination RMSE under 1.2 degrees and heading RMSE under
    1.5 degrees (9-axis), over the movement as BROAD scores it."""
    tr = short(kind, 1)
    for mag in (None, tr.mag):
        q = Ahrs(RATE, backend=backend).estimate(tr.gyr, tr.acc, mag, offline=False)
        incl, head = orientation_rmse_deg(q, tr.quat, tr.movement)
        assert incl < 1.2, (kind, incl)
        if mag is not None:
            assert head < 1.5, (kind, head)


@pytest.mark.parametrize("backend", BACKENDS)
def test_constant_turn_about_a_known_axis(backend: str) -> None:
    """90 deg/s about a tilted axis for 8 s after 2 s still: within 1.5 degrees throughout."""
    axis = np.array([0.3, -0.2, 0.9]) / np.linalg.norm([0.3, -0.2, 0.9])
    q0 = quat.from_axis_angle([1.0, 0, 0], 0.4)
    n_still, n_turn = int(2 * RATE), int(8 * RATE)
    omega = np.vstack([np.zeros((n_still, 3)), np.tile(axis * math.radians(90), (n_turn, 1))])
    angle = np.concatenate([np.zeros(n_still), np.arange(n_turn) * math.radians(90) / RATE])
    truth = quat.multiply(q0, quat.from_axis_angle(axis, angle))
    acc = quat.rotate_inverse(truth, [0, 0, 9.81])
    mag = quat.rotate_inverse(truth, EARTH_FIELD_UT)
    q = Ahrs(RATE, backend=backend).estimate(omega, acc, mag, offline=False)
    assert inclination_errors_deg(q, truth).max() < 1.5
    err = quat.multiply(truth, quat.conj(q))
    assert np.degrees(2 * np.arccos(np.clip(np.abs(err[:, 0]), 0, 1))).max() < 1.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_still_sensor_learns_its_gyroscope_bias(backend: str) -> None:
    """A bias of (0.6, -1.1, 0.9) deg/s is learnt to within 0.05 deg/s in 20 s still, and the
    samples after the first 2 s are marked ``rest``."""
    bias = np.radians([0.6, -1.1, 0.9])
    gyr, acc, mag = still(20.0, quat.from_axis_angle([1, 1, 0], 0.5), bias=tuple(bias))
    est = Ahrs(RATE, backend=backend).estimate_full(gyr, acc, mag, offline=False)
    assert np.degrees(np.abs(est.gyro_bias_rads[-1] - bias)).max() < 0.05
    assert est.rest[int(2.0 * RATE):].all() and not est.rest[:int(1.0 * RATE)].any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_starts_from_the_first_samples_not_identity(backend: str) -> None:
    """Tilted 70 degrees and facing south-west: the first output is within 3 degrees."""
    truth = quat.multiply(quat.from_axis_angle([0, 0, 1], 2.3), quat.from_axis_angle([1, 0, 0],
                                                                                      1.2))
    gyr, acc, mag = still(1.0, truth)
    q = Ahrs(RATE, backend=backend).estimate(gyr, acc, mag, offline=False)
    truth_n = np.broadcast_to(truth, q.shape)
    assert inclination_errors_deg(q[:1], truth_n[:1])[0] < 3.0
    assert abs(_heading_deg(q[0], truth)) < 3.0


def _heading_deg(q: np.ndarray, truth: np.ndarray) -> float:
    d = quat.multiply(truth, quat.conj(q))
    return math.degrees(math.remainder(2 * math.atan2(d[3], d[0]), 2 * math.pi))


@pytest.mark.parametrize("backend", BACKENDS)
def test_taps_leave_tilt_and_heading_alone(backend: str) -> None:
    """Finger taps (20-60 m/s^2 jolts every 1-3 s): inclination RMSE under 1 degree and never
    above 2.5; heading RMSE under 1 degree; the taps are flagged ``accel_disturbed``."""
    tr = short("tapping", 2)
    est = Ahrs(RATE, backend=backend).estimate_full(tr.gyr, tr.acc, tr.mag, offline=False)
    incl = inclination_errors_deg(est.quat[tr.movement], tr.quat[tr.movement])
    head = heading_errors_deg(est.quat[tr.movement], tr.quat[tr.movement])
    assert np.sqrt(np.mean(incl ** 2)) < 1.0 and incl.max() < 2.5
    assert np.sqrt(np.mean(head ** 2)) < 1.0
    jolts = np.linalg.norm(tr.acc, axis=1) > 20
    assert est.accel_disturbed[jolts].all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_linear_acceleration_burst_does_not_tilt(backend: str) -> None:
    """Still, then pushed 40 cm along x and stopped (a 1 s burst peaking at 5 m/s^2, half a
    g), then still: tilt within 1.5 degrees and heading within 1 degree at every sample; the
    burst is flagged ``accel_disturbed``."""
    q0 = quat.from_axis_angle([0, 1, 0], 0.3)
    gyr, acc, mag = still(12.0, q0)
    t = np.arange(len(gyr)) / RATE
    burst = (t >= 4) & (t < 5)
    a_earth = np.zeros((len(t), 3))
    a_earth[burst, 0] = 5.0 * np.sin(2 * np.pi * (t[burst] - 4))
    acc = acc + quat.rotate_inverse(q0, a_earth)
    est = Ahrs(RATE, backend=backend).estimate_full(gyr, acc, mag, offline=False)
    truth = np.broadcast_to(q0, est.quat.shape)
    assert inclination_errors_deg(est.quat, truth).max() < 1.5
    assert max(abs(_heading_deg(q, q0)) for q in est.quat[int(RATE):]) < 1.0
    assert est.accel_disturbed[burst].mean() > 0.5 and not est.accel_disturbed[t < 4].any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_magnet_step_is_rejected_then_learnt(backend: str) -> None:
    """A 60 uT magnet glued on 15 s into the movement: the field is flagged disturbed at once,
    heading stays within 10 degrees at every sample, the offset is learnt to 2 uT within 10
    s and the heading is back within 2 degrees RMS over the last 10 s."""
    tr = short("combined", 3)
    t = np.arange(len(tr.gyr)) / RATE
    b = np.array([35.0, -30.0, 38.0])
    step = t >= 20.0
    mag = tr.mag + step[:, None] * b
    est = Ahrs(RATE, backend=backend).estimate_full(tr.gyr, tr.acc, mag, offline=False)
    mv = tr.movement
    head = np.full(len(t), np.nan)
    head[mv] = heading_errors_deg(est.quat[mv], tr.quat[mv])
    assert np.nanmax(np.abs(head[step])) < 10.0
    assert est.mag_disturbed[(t >= 20.0) & (t < 20.5)].mean() > 0.5
    assert np.abs(est.hard_iron_ut[t >= 30.0] - b).max() < 2.0
    late = mv & (t >= 25.0)
    assert np.sqrt(np.mean(heading_errors_deg(est.quat[late], tr.quat[late]) ** 2)) < 2.0


def test_streaming_packets_give_the_batch_result() -> None:
    tr = short("combined", 4)
    batch = Ahrs(RATE).estimate_full(tr.gyr, tr.acc, tr.mag, offline=False)
    ahrs = Ahrs(RATE)
    t_ns = (np.arange(len(tr.gyr)) * 1e9 / RATE).astype(np.int64)
    rng = np.random.default_rng(0)
    start, outs = 0, []
    while start < len(t_ns):
        stop = min(len(t_ns), start + int(rng.integers(1, 60)))
        packet = Packet("imu.wrist", t_ns[start:stop], {
            "gyro_rads": tr.gyr[start:stop].astype(np.float32),
            "accel_mps2": tr.acc[start:stop].astype(np.float32),
            "mag_ut": tr.mag[start:stop].astype(np.float32)}, "imu")
        out = ahrs.update(packet)
        assert out.stream == "orientation.wrist" and out.modality == "orientation"
        out.validate()
        outs.append(out)
        start = stop
    q = np.concatenate([o["quat_wxyz"] for o in outs])
    # float32 inputs: the same filter, to float32 precision
    assert np.degrees(np.abs(inclination_errors_deg(q, batch.quat))).max() < 0.05
    np.testing.assert_array_equal(np.concatenate([o["rest"] for o in outs]), batch.rest)


def test_rate_change_keeps_the_state() -> None:
    """200 Hz for 20 s, then the same motion at 50 Hz (the controller turned the IMU down; the
    part averages its gyroscope over each longer interval, as a decimating IMU does): the
    filter follows the timestamps, and the error stays under 1.5 degrees throughout."""
    tr = make_trial("rotation_slow", 5, rate_hz=200.0, rest_s=5.0, move_s=35.0)
    t_ns = (np.arange(len(tr.gyr)) * 1e9 / 200.0).astype(np.int64)
    switch = 20 * 200
    keep = np.concatenate([np.arange(switch), np.arange(switch + 3, len(t_ns), 4)])
    gyr = tr.gyr.copy()
    for lag in (1, 2, 3):
        gyr[switch + 3::4] += tr.gyr[switch + 3 - lag:len(t_ns) - lag:4]
    gyr[switch + 3::4] /= 4
    ahrs = Ahrs(200.0)
    quats = []
    for lo in range(0, len(keep), 25):
        idx = keep[lo:lo + 25]
        out = ahrs.update(Packet("imu", t_ns[idx], {"gyro_rads": gyr[idx],
                                                     "accel_mps2": tr.acc[idx],
                                                     "mag_ut": tr.mag[idx]}, "imu"))
        quats.append(out["quat_wxyz"].astype(np.float64))
    assert ahrs.rate_hz == pytest.approx(50.0)
    q = np.concatenate(quats)
    truth, mv = tr.quat[keep], tr.movement[keep]
    assert inclination_errors_deg(q[mv], truth[mv]).max() < 1.5
    assert np.abs(heading_errors_deg(q[mv], truth[mv])).max() < 1.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_state_restores_after_a_restart(backend: str) -> None:
    """A restart from a saved state carries on as the uninterrupted filter does: the same
    orientation, and the hard-iron estimator refining its offset as that one does (within
    0.1 uT; the pair history restarts empty)."""
    tr = short("attached_magnet", 6, magnet_ut=40.0)
    uninterrupted = Ahrs(RATE, backend=backend)
    whole = uninterrupted.estimate(tr.gyr, tr.acc, tr.mag, offline=False)
    half = len(tr.gyr) // 2
    first = Ahrs(RATE, backend=backend)
    first.estimate(tr.gyr[:half], tr.acc[:half], tr.mag[:half], offline=False)
    saved = json.loads(json.dumps(first.state()))
    second = Ahrs(RATE, backend=backend)
    second.restore(saved)
    rest = second.estimate(tr.gyr[half:], tr.acc[half:], tr.mag[half:], offline=False)
    assert inclination_errors_deg(rest, whole[half:]).max() < 0.01
    np.testing.assert_allclose(second.hard_iron_ut, uninterrupted.hard_iron_ut, atol=0.1)


def test_ned_output_is_the_enu_one_turned() -> None:
    tr = short("rotation_slow", 7)
    enu = Ahrs(RATE).estimate_full(tr.gyr, tr.acc, tr.mag, offline=False)
    ned = Ahrs(RATE, convention="ned").estimate_full(tr.gyr, tr.acc, tr.mag, offline=False)
    np.testing.assert_allclose(quat.rotate(ned.quat, [1.0, 0, 0]),
                               quat.rotate(enu.quat, [1.0, 0, 0])[:, [1, 0, 2]] * [1, 1, -1],
                               atol=1e-9)
    np.testing.assert_allclose(ned.linear_accel_mps2,
                               enu.linear_accel_mps2[:, [1, 0, 2]] * [1, 1, -1], atol=1e-9)


def test_gravity_free_acceleration_is_the_motion() -> None:
    tr = short("translation_fast", 8)
    est = Ahrs(RATE).estimate_full(tr.gyr, tr.acc, tr.mag, offline=False)
    dt = 1 / RATE
    true_acc = np.gradient(np.gradient(tr.pos, dt, axis=0), dt, axis=0)
    err = est.linear_accel_mps2[tr.movement] - true_acc[tr.movement]
    assert np.sqrt(np.mean(err ** 2)) < 0.3  # noise 0.03 m/s^2, tilt about 0.5 degrees


def test_bad_input_is_named() -> None:
    with pytest.raises(ConfigError, match="convention"):
        Ahrs(100.0, convention="nwu")
    with pytest.raises(ConfigError, match="rate_hz"):
        Ahrs(0.0)
    with pytest.raises(ConfigError, match="unknown AHRS backend"):
        Ahrs(100.0, backend="kalman")
    with pytest.raises(ConfigError, match=r"acc_mps2 must be \(N, 3\)"):
        Ahrs(100.0).estimate(np.zeros((5, 3)), np.zeros((4, 3)), offline=False)
    packet = Packet("imu", np.arange(3, dtype=np.int64), {"accel_mps2": np.zeros((3, 3))})
    with pytest.raises(ConfigError, match="gyro_rads"):
        Ahrs(100.0).update(packet)


def test_import_sensekit_stays_light() -> None:
    code = ("import sys, sensekit, sensekit.orientation; "
            "print(sorted(m for m in ('vqf', 'scipy', 'torch', 'imufusion') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
