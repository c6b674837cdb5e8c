from __future__ import annotations

import numpy as np

from sensekit import modalities
from sensekit.clock import FakeClock
from sensekit.controller.replay import RecordedDevice, lowpass
from sensekit.power.model import load_power_model


def imu_device(clock: FakeClock, seconds: float = 10.0, rate: float = 100.0,
               tone_hz: float = 40.0) -> RecordedDevice:
    n = int(seconds * rate)
    t = np.arange(n, dtype=np.int64) * int(1e9 / rate)
    wave = np.sin(2 * np.pi * tone_hz * t / 1e9).astype(np.float32)
    accel = np.stack([wave, np.zeros(n, np.float32), np.full(n, 9.81, np.float32)], axis=1)
    return RecordedDevice("imu", t, {"accel_mps2": accel}, modality="imu", clock=clock,
                          power=load_power_model("mpu6050"), active_mode="accel_gyro",
                          modalities=[modalities.get("accel")]).open()


def test_a_sleeping_replayed_sensor_yields_nothing() -> None:
    clock = FakeClock(0)
    dev = imu_device(clock)
    assert len(dev.take(0, 1_000_000_000)) == 100  # type: ignore[arg-type]
    dev.sleep()
    assert dev.take(1_000_000_000, 3_000_000_000) is None
    assert dev.hidden == 200


def test_wake_up_time_comes_from_the_power_model() -> None:
    clock = FakeClock(0)
    dev = imu_device(clock)
    dev.sleep()
    clock.set_ns(2_000_000_000)
    dev.wake()
    assert dev.wake_time_s() == load_power_model("mpu6050").transition(
        "sleep", "accel_gyro").time_s  # type: ignore[union-attr]
    p = dev.take(2_000_000_000, 3_000_000_000)
    assert p is not None
    first_ns = int(p.t_ns[0]) - 2_000_000_000
    assert first_ns >= 30_000_000 and len(p) == 97  # 30 ms of gyro start-up hidden


def test_a_lower_rate_is_decimated_through_the_anti_alias_filter() -> None:
    clock = FakeClock(0)
    dev = imu_device(clock, tone_hz=40.0)
    dev.set_rate(25.0)
    p = dev.take(0, 10_000_000_000)
    assert p is not None and len(p) == 250
    assert dev.cutoff_hz(25.0) == 10.0  # DLPF setting at or below 12.5 Hz
    # a 40 Hz tone aliases into a 25 Hz stream at full amplitude unless filtered away
    assert np.abs(p["accel_mps2"][20:-20, 0]).max() < 0.05
    assert np.allclose(p["accel_mps2"][:, 2], 9.81, atol=1e-3)


def test_lowpass_passes_what_is_below_the_cut() -> None:
    t = np.arange(1000) / 100.0
    slow = np.sin(2 * np.pi * 1.0 * t)
    out = lowpass(slow, 100.0, 10.0)
    assert np.abs(out[50:-50] - slow[50:-50]).max() < 0.02
