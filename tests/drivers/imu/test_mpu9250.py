"""The MPU-9250 driver: the 6500 family's map, ACCEL_CONFIG2, and the AK8963 read by the chip's
own I2C master into the FIFO with its own timing."""

from __future__ import annotations

import numpy as np
import pytest

import sensekit
from sensekit.buses.emulated import EmulatedBus
from sensekit.buses.i2c import I2CDevice
from sensekit.clock import FakeClock
from sensekit.drivers.imu.mpu9250 import Mpu9250
from sensekit.errors import ConfigError, DeviceNotFound, SampleDropped
from sensekit.testing.mpu6050_emu import Mpu6050Emulator
from sensekit.testing.mpu9250_emu import Mpu9250Emulator


def open_imu(emu: Mpu9250Emulator, clock: FakeClock, **kw: object) -> Mpu9250:
    imu = sensekit.open("mpu9250", "emu://", emulator=emu, clock=clock, **kw)
    assert isinstance(imu, Mpu9250)
    return imu


def test_the_magnetometer_answers_only_through_the_bypass() -> None:
    bus = EmulatedBus(FakeClock())
    bus.add(Mpu9250Emulator())
    mag = I2CDevice(bus, 1, 0x0C, name="ak8963")
    with pytest.raises(DeviceNotFound, match="i2cdetect"):
        mag.check_present(0x00)
    host = I2CDevice(bus, 1, 0x68, name="mpu9250")
    assert host.read_u8(0x75) == 0x71
    host.write_u8(0x37, 0x02)                       # INT_PIN_CFG.BYPASS_EN
    assert mag.check_present(0x00) == 0x48          # WIA
    assert mag.read_block(0x10, 3) == b"\x00\x00\x00"  # ASA needs fuse-ROM mode
    mag.write_u8(0x0A, 0x0F)
    assert mag.read_block(0x10, 3) == bytes([176, 177, 165])


def test_nine_axis_packets_carry_the_field_in_the_imu_frame_with_asa_applied() -> None:
    clock = FakeClock()
    field = np.array([12.0, -30.0, 41.5])
    emu = Mpu9250Emulator(field=lambda t: np.tile(field, (len(t), 1)), asa=(100, 150, 200))
    imu = open_imu(emu, clock, rate_hz=200, mag_rate_hz=100)
    clock.advance(0.05)
    p = imu.read()
    assert p is not None and p.validate() is p and p["mag_ut"].shape == (len(p), 3)
    # One 16-bit LSB is 0.15 uT times the axis's adjustment (at most 1.28 here).
    np.testing.assert_allclose(p["mag_ut"][-1], field, atol=0.15 * 1.29)
    assert emu.magnetometer.regs[0x0A] == 0x16     # 16-bit, continuous mode 2 (100 Hz)
    assert emu.regs[0x6A] & 0x20 and emu.regs[0x27] == 0x88   # I2C master, SLV0 8 bytes
    assert emu.regs[0x23] & 0x01                   # FIFO_EN.SLV_0: the data rides the FIFO


def test_each_sample_has_the_magnetometer_reading_of_its_own_time() -> None:
    # A field turning at 2 rev/s, read at 1 kHz with the magnetometer at 100 Hz: each IMU
    # sample must carry the measurement made within one magnetometer period before it, not
    # one reading copied across a whole packet.
    clock = FakeClock()

    def turning(t: np.ndarray) -> np.ndarray:
        a = 2 * np.pi * 2.0 * t
        return np.stack([30 * np.cos(a), 30 * np.sin(a), -40 + 0 * t], axis=1)

    emu = Mpu9250Emulator(field=turning, noise=False)
    imu = open_imu(emu, clock, rate_hz=1000, mag_rate_hz=100)
    packets = []
    for _ in range(40):                    # 20-byte samples fill the 512-byte FIFO in 25 ms
        clock.advance(0.0125)
        p = imu.read(timeout_s=0.0)
        if p is not None:
            packets.append(p)
    mag = np.concatenate([p["mag_ut"] for p in packets])
    t = emu.seconds(np.concatenate([p.t_ns for p in packets]))
    ok = np.isfinite(mag[:, 0])
    angle = np.unwrap(np.arctan2(mag[ok, 1], mag[ok, 0]))
    lag = (2 * np.pi * 2.0 * t[ok] - angle) / (2 * np.pi * 2.0)
    lag -= np.round(np.median(lag))                # whole turns do not matter
    assert 0.0 <= np.median(lag) < 0.012 and lag.max() < 0.013
    assert len(np.unique(mag[ok, 0])) > 40         # about 100 readings in 0.5 s, not 10


def test_accel_config2_sets_the_accelerometer_filter() -> None:
    clock = FakeClock()
    emu = Mpu9250Emulator()
    open_imu(emu, clock, dlpf_hz=10)
    assert emu.regs[0x1D] & 0b111 == 5 and not emu.regs[0x1D] & 0b1000   # A_DLPF_CFG 10.2 Hz
    assert emu.regs[0x1A] & 0b111 == 5                                      # gyro DLPF 10 Hz


def test_a_magnetometer_that_stops_answering_loses_only_its_own_values() -> None:
    clock = FakeClock()
    emu = Mpu9250Emulator()
    imu = open_imu(emu, clock, rate_hz=200, mag_rate_hz=100)
    clock.advance(0.05)
    assert imu.read() is not None
    emu.magnetometer.nacks_left = 3                # three master reads get no acknowledge
    clock.advance(0.05)
    p = imu.read()
    assert p is not None and np.isnan(p["mag_ut"]).all()
    assert np.isfinite(p["accel_mps2"]).all() and np.isfinite(p["gyro_rads"]).all()
    assert imu.mag_lost == len(p) and imu.stats.dropped == 0
    clock.advance(0.05)
    q = imu.read()
    assert q is not None and np.isfinite(q["mag_ut"]).all()


def test_the_first_samples_have_a_measurement_and_six_axis_turns_it_off() -> None:
    clock = FakeClock()
    emu = Mpu9250Emulator()
    imu = open_imu(emu, clock, rate_hz=200, gyro_range_dps=500)   # magnetometer at 8 Hz
    clock.advance(0.05)
    p = imu.read()
    assert p is not None and np.isfinite(p["mag_ut"]).all()        # it waited 125 ms at open
    imu.set_mode("accel_gyro")
    assert emu.magnetometer.regs[0x0A] == 0x00     # power-down
    clock.advance(0.05)
    got = [imu.read(timeout_s=0.0) for _ in range(3)]  # what was drained before the switch first
    r = [p for p in got if p is not None][-1]
    assert "mag_ut" not in r.fields and "gyro_rads" in r.fields


def test_the_512_byte_fifo_overflows_sooner_and_the_loss_is_counted() -> None:
    clock = FakeClock()
    emu = Mpu9250Emulator(record_truth=True)
    imu = open_imu(emu, clock, rate_hz=1000, mode="accel_gyro")
    clock.advance(0.03)
    first = imu.read()
    assert first is not None and 29 <= len(first) <= 31
    clock.advance(0.05)   # 50 samples x 12 bytes > 512
    with pytest.warns(SampleDropped, match="FIFO overflow"):
        assert imu.read(timeout_s=0.0) is None
    lost = emu.fifo_pushed - len(first) - len(emu.fifo) // 12
    assert abs(imu.stats.dropped - lost) <= 2


def test_an_mpu6050_is_not_taken_for_an_mpu9250() -> None:
    with pytest.raises(DeviceNotFound, match=r"WHO_AM_I is 0x68, an MPU-6050; the mpu9250 "
                                             r"driver drives 0x71, 0x73, 0x70"):
        sensekit.open("mpu9250", "emu://", emulator=Mpu6050Emulator(), clock=FakeClock())


def test_boards_sold_as_mpu9250_are_taken_with_a_warning_naming_the_chip(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    imu = open_imu(Mpu9250Emulator(chip="mpu9255"), clock)
    assert "0x73" in caplog.text and "MPU-9255" in caplog.text
    clock.advance(0.2)
    p = imu.read()
    assert p is not None and np.isfinite(p["mag_ut"][-1]).all()
    with pytest.raises(ConfigError, match="MPU-6500 has no magnetometer"):
        open_imu(Mpu9250Emulator(chip="mpu6500"), FakeClock())
    six = open_imu(Mpu9250Emulator(chip="mpu6500"), FakeClock(), mode="accel_gyro")
    assert six.chip.chip == "MPU-6500"


def test_the_magnetometer_self_test_is_within_the_datasheet_limits() -> None:
    clock = FakeClock()
    imu = open_imu(Mpu9250Emulator(), clock)
    ok, field = imu.magnetometer_self_test()
    assert ok and -3200 <= field[2] <= -800
    clock.advance(0.2)
    assert imu.read() is not None
