"""IMU calibration: gyro bias, six-pose accelerometer fit, mounting rotation, store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sensekit
from sensekit.clock import FakeClock
from sensekit.drivers.calibration import CalibrationStore, ImuCalibration, rotation_between
from sensekit.errors import ConfigError
from sensekit.testing.mpu6050_emu import Mpu6050Emulator

G = 9.80665


def test_six_poses_recover_offset_and_scale() -> None:
    offset, scale = np.array([0.3, -0.2, 0.5]), np.array([1.02, 0.97, 1.01])
    truth = np.array([[G, 0, 0], [-G, 0, 0], [0, G, 0], [0, -G, 0], [0, 0, G], [0, 0, -G]])
    poses = truth * scale + offset
    cal = ImuCalibration().with_six_poses(poses)
    np.testing.assert_allclose(cal.accel_offset_mps2, offset, atol=1e-12)
    np.testing.assert_allclose(cal.accel_scale, scale, atol=1e-12)
    fixed = cal.apply({"accel_mps2": poses.astype(np.float32)})["accel_mps2"]
    np.testing.assert_allclose(fixed, truth, atol=1e-4)
    with pytest.raises(ConfigError, match="order the poses"):
        ImuCalibration().with_six_poses(poses[::-1])


def test_gyro_bias_measured_at_rest_through_the_driver_is_removed() -> None:
    bias = np.array([0.01, -0.02, 0.004])
    clock = FakeClock()
    emu = Mpu6050Emulator(motion=lambda t: (np.tile([0, 0, G], (len(t), 1)),
                                            np.tile(bias, (len(t), 1))))
    imu = sensekit.open("mpu6050", "emu://", emulator=emu, clock=clock, rate_hz=200)
    clock.advance(0.3)
    p = imu.read()
    assert p is not None
    cal = ImuCalibration().with_gyro_bias(p["gyro_rads"])
    np.testing.assert_allclose(cal.gyro_bias_rads, bias, atol=2e-3)  # noise 0.005 deg/s/rtHz
    imu.calibration = cal
    clock.advance(0.3)
    q = imu.read()
    assert q is not None and abs(q["gyro_rads"].mean(axis=0)).max() < 2e-3


def test_mounting_rotation_turns_the_measured_up_into_body_up() -> None:
    # Mounted on its side: gravity's reaction shows on the sensor's -y axis.
    cal = ImuCalibration().with_mounting([0.0, -G, 0.0])
    out = cal.apply({"accel_mps2": np.array([[0.0, -G, 0.0]], np.float32),
                     "gyro_rads": np.array([[0.0, -1.0, 0.0]], np.float32)})
    np.testing.assert_allclose(out["accel_mps2"][0], [0, 0, G], atol=1e-5)
    np.testing.assert_allclose(out["gyro_rads"][0], [0, 0, 1.0], atol=1e-6)
    flip = rotation_between([0, 0, 1], [0, 0, -1])
    np.testing.assert_allclose(flip @ [0, 0, 1], [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(flip @ flip.T, np.eye(3), atol=1e-12)


def test_store_keeps_one_calibration_per_device(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "cal.json")
    cal = ImuCalibration(gyro_bias_rads=np.array([1.0, 2.0, 3.0]))
    store.save("i2c://1/0x68", cal)
    store.save("wrist", ImuCalibration())
    assert store.keys() == ["i2c://1/0x68", "wrist"]
    np.testing.assert_array_equal(store.load("i2c://1/0x68").gyro_bias_rads, [1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match=r"no IMU calibration for 'i2c://1/0x69'.*wrist"):
        store.load("i2c://1/0x69")


def test_the_driver_loads_a_stored_calibration_by_key(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSEKIT_CALIBRATION", str(tmp_path / "cal.json"))
    CalibrationStore().save("desk", ImuCalibration(accel_offset_mps2=np.array([0, 0, 1.0])))
    clock = FakeClock()
    emu = Mpu6050Emulator(noise=False)
    imu = sensekit.open("mpu6050", "emu://", emulator=emu, clock=clock, calibration="desk")
    clock.advance(0.1)
    p = imu.read()
    assert p is not None and p["accel_mps2"][:, 2] == pytest.approx(G - 1.0, abs=1e-3)
