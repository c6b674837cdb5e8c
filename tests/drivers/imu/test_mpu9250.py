"""The MPU-9250 driver: its MPU-6050 heritage, 512-byte FIFO, and the AK8963 behind the bypass."""

from __future__ import annotations

import numpy as np
import pytest

import sensekit
from sensekit.buses.emulated import EmulatedBus
from sensekit.buses.i2c import I2CDevice
from sensekit.clock import FakeClock
from sensekit.drivers.imu.mpu9250 import Mpu9250
from sensekit.errors import DeviceIOError, DeviceNotFound, SampleDropped
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


def test_first_packets_hold_nan_until_the_first_measurement_and_six_axis_turns_it_off() -> None:
    clock = FakeClock()
    emu = Mpu9250Emulator()
    imu = open_imu(emu, clock, rate_hz=200)        # magnetometer at 8 Hz: 125 ms per result
    clock.advance(0.05)
    p = imu.read()
    assert p is not None and np.isnan(p["mag_ut"]).all()
    clock.advance(0.05)
    assert imu.read() is not None
    clock.advance(0.05)
    q = imu.read()
    assert q is not None and np.isfinite(q["mag_ut"]).all()
    imu.set_mode("accel_gyro")
    assert emu.magnetometer.regs[0x0A] == 0x00     # power-down
    clock.advance(0.05)
    r = imu.read()
    assert r is not None and "mag_ut" not in r.fields and "gyro_rads" in r.fields


def test_the_512_byte_fifo_overflows_sooner_and_the_loss_is_exact() -> None:
    clock = FakeClock()
    emu = Mpu9250Emulator(record_truth=True)
    imu = open_imu(emu, clock, rate_hz=1000, mode="accel_gyro")
    clock.advance(0.03)
    first = imu.read()
    assert first is not None and len(first) == 30
    clock.advance(0.05)   # 50 samples x 12 bytes > 512
    with pytest.warns(SampleDropped, match="FIFO overflow"):
        assert imu.read(timeout_s=0.0) is None
    assert imu.stats.dropped == emu.fifo_pushed_at_reset - 30


def test_an_mpu6050_is_not_taken_for_an_mpu9250() -> None:
    with pytest.raises(DeviceNotFound, match="WHO_AM_I is 0x68, not the mpu9250 value 0x71"):
        sensekit.open("mpu9250", "emu://", emulator=Mpu6050Emulator(), clock=FakeClock())


def test_a_magnetometer_that_stops_answering_is_an_io_error() -> None:
    clock = FakeClock()
    emu = Mpu9250Emulator()
    imu = open_imu(emu, clock, retries=1)
    clock.advance(0.2)
    assert imu.read() is not None
    emu.regs[0x37] = 0   # the bypass switched off behind the driver's back
    clock.advance(0.1)
    with pytest.raises(DeviceIOError, match="magnetometer at 0x0c"):
        imu.read()
