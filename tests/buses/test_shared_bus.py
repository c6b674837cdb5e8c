"""Several parts on one bus: alternate addresses, a TCA9548A multiplexer, the bus clock and the
time transfers take on it; and ``SENSEKIT_BACKEND=emu`` for every driver family."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sensekit
from sensekit.buses.emulated import EmulatedBus
from sensekit.buses.i2c import bus_clock_hz
from sensekit.clock import FakeClock
from sensekit.drivers import driver_class
from sensekit.drivers.i2c_base import I2CDriver
from sensekit.errors import ConfigError
from sensekit.testing.ina_emu import Ina219Emulator
from sensekit.testing.mpu6050_emu import Mpu6050Emulator
from sensekit.testing.tca9548a_emu import Tca9548aEmulator


def packets(device: Any, clock: FakeClock, seconds: float = 0.3) -> list[Any]:
    out = []
    for _ in range(int(seconds / 0.05)):
        clock.advance(0.05)
        out += drain(device)
    return out


def drain(device: Any) -> list[Any]:
    """Every packet the device has now."""
    got = []
    while (packet := device.read(timeout_s=0.0)) is not None:
        got.append(packet)
    return got


def upright(axis: int) -> Any:
    """A part lying still with gravity on ``axis`` (0 x, 1 y, 2 z)."""
    def motion(t: Any) -> tuple[Any, Any]:
        accel = np.zeros((len(t), 3))
        accel[:, axis] = 9.80665
        return accel, np.zeros((len(t), 3))
    return motion


def gravity_axis(device: Any, clock: FakeClock) -> int:
    got = packets(device, clock)
    assert got, device.describe()
    mean = np.mean(np.concatenate([p["accel_mps2"] for p in got]), axis=0)
    return int(np.argmax(np.abs(mean)))


# -- alternate addresses --------------------------------------------------------------------
def test_two_mpus_at_0x68_and_0x69_on_one_bus_each_read_their_own_part() -> None:
    clock = FakeClock()
    bus = EmulatedBus(clock, bus_number=1)
    bus.add(Mpu6050Emulator(address=0x68, motion=upright(0)))
    bus.add(Mpu6050Emulator(address=0x69, motion=upright(1)))
    low = sensekit.open("mpu6050", "i2c://1/0x68", bus=bus, clock=clock, rate_hz=100)
    high = sensekit.open("mpu6050", "i2c://1/0x69", bus=bus, clock=clock, rate_hz=100)
    assert (gravity_axis(low, clock), gravity_axis(high, clock)) == (0, 1)
    low.close()
    high.close()


def test_two_ina219_at_alternate_addresses_read_their_own_current() -> None:
    clock = FakeClock()
    bus = EmulatedBus(clock, bus_number=1)
    bus.add(Ina219Emulator(address=0x40, current=0.2))
    bus.add(Ina219Emulator(address=0x41, current=0.5))
    first = sensekit.open("ina219", "i2c://1/0x40", bus=bus, clock=clock)
    second = sensekit.open("ina219", "i2c://1/0x41", bus=bus, clock=clock)
    currents = []
    for device in (first, second):
        got = packets(device, clock)
        currents.append(float(np.mean(np.concatenate([p["current_a"] for p in got]))))
        device.close()
    assert currents == pytest.approx([0.2, 0.5], abs=0.01)


# -- a TCA9548A multiplexer -----------------------------------------------------------------
def test_parts_at_one_address_behind_a_tca9548a_are_told_apart_by_channel() -> None:
    clock = FakeClock()
    bus = EmulatedBus(clock, bus_number=1)
    mux = bus.add(Tca9548aEmulator(address=0x70))
    assert isinstance(mux, Tca9548aEmulator)
    mux.add(3, Mpu6050Emulator(address=0x68, motion=upright(0)))
    mux.add(4, Mpu6050Emulator(address=0x68, motion=upright(1)))
    on3 = sensekit.open("mpu6050", "i2c://1/0x70:3/0x68", bus=bus, clock=clock, rate_hz=100)
    on4 = sensekit.open("mpu6050", "i2c://1/0x70:4/0x68", bus=bus, clock=clock, rate_hz=100)
    assert on3.device.route == ((0x70, 3),)
    for _ in range(3):  # interleaved reads switch the channel each time
        assert (gravity_axis(on3, clock), gravity_axis(on4, clock)) == (0, 1)
    assert mux.selected() == [4]
    on3.close()
    on4.close()


def test_a_mux_url_names_channel_and_address_and_bad_ones_are_refused() -> None:
    from sensekit.url import parse_url

    assert parse_url("i2c://1/0x70:3/0x68").i2c_route() == (1, ((0x70, 3),), 0x68)
    assert parse_url("i2c://1/0x70:3/0x71:0/0x23").i2c_route() == \
        (1, ((0x70, 3), (0x71, 0)), 0x23)
    for bad in ("i2c://1/0x70:8/0x68", "i2c://1/0x70/0x68", "i2c://1/0x80:1/0x68"):
        with pytest.raises(ConfigError):
            parse_url(bad).i2c_route()


# -- the bus clock ----------------------------------------------------------------------------
def _dt_clock(root: Path, bus: int, hz: int) -> None:
    node = root / f"sys/class/i2c-adapter/i2c-{bus}/of_node"
    node.mkdir(parents=True)
    (node / "clock-frequency").write_bytes(hz.to_bytes(4, "big"))  # a device tree u32


def test_the_bus_clock_is_read_from_the_device_tree_node_of_the_adapter(tmp_path: Path) -> None:
    _dt_clock(tmp_path, 1, 100_000)
    hz, where = bus_clock_hz(1, tmp_path)
    assert (hz, where) == (100_000, "/sys/class/i2c-adapter/i2c-1/of_node/clock-frequency")
    hz, where = bus_clock_hz(3, tmp_path)
    assert hz is None and "absent" in where


def test_a_kernel_mux_channel_takes_the_clock_of_its_parent_bus(tmp_path: Path) -> None:
    _dt_clock(tmp_path, 1, 400_000)
    # i2c-mux-pca954x makes i2c-10 under the parent adapter's device in sysfs.
    real = tmp_path / "sys/devices/platform/soc/i2c-1/1-0070/channel-3/i2c-10"
    real.mkdir(parents=True)
    os.symlink(real, tmp_path / "sys/class/i2c-adapter/i2c-10")
    hz, where = bus_clock_hz(10, tmp_path)
    assert hz == 400_000 and "parent of multiplexer channel i2c-10" in where


def test_a_rate_the_bus_clock_cannot_carry_is_refused_with_the_fix() -> None:
    clock = FakeClock()
    with pytest.raises(ConfigError, match=r"100 kHz.*i2c_arm_baudrate=400000.*rate_hz"):
        sensekit.open("mpu6050", "emu://?bus_khz=100", clock=clock, rate_hz=1000)
    # The same rate fits a 400 kHz bus.
    fast = sensekit.open("mpu6050", "emu://?bus_khz=400", clock=clock, rate_hz=1000)
    fast.close()


def test_the_bus_is_shared_so_two_parts_together_can_overload_it() -> None:
    clock = FakeClock()
    bus = EmulatedBus(clock, bus_number=1, clock_hz=100_000)
    bus.add(Mpu6050Emulator(address=0x68))
    bus.add(Mpu6050Emulator(address=0x69))
    first = sensekit.open("mpu6050", "i2c://1/0x68", bus=bus, clock=clock, rate_hz=500)
    with pytest.raises(ConfigError, match="other parts"):
        sensekit.open("mpu6050", "i2c://1/0x69", bus=bus, clock=clock, rate_hz=500)
    with pytest.raises(ConfigError, match="100 kHz"):
        first.set_rate(1000)
    first.close()
    second = sensekit.open("mpu6050", "i2c://1/0x69", bus=bus, clock=clock, rate_hz=500)
    second.close()


def test_a_1khz_fifo_drain_costs_real_bus_time() -> None:
    # 1 kHz of accel+gyro+temp is 14 bytes per sample: about 126 kbit/s of SCL at 9 bits a
    # byte, more than a 100 kHz bus carries; at 400 kHz it takes about a third of the time.
    clock = FakeClock()
    bus = EmulatedBus(clock, bus_number=1, clock_hz=400_000)
    bus.add(Mpu6050Emulator(address=0x68))
    imu = sensekit.open("mpu6050", "i2c://1/0x68", bus=bus, clock=clock, rate_hz=1000)
    start_busy = bus.traffic.busy_s
    got = packets(imu, clock, seconds=1.0)
    busy = bus.traffic.busy_s - start_busy
    assert sum(len(p) for p in got) > 900
    assert 0.25 < busy < 0.5  # seconds of bus time per second of data
    imu.close()


# -- SENSEKIT_BACKEND=emu: one mechanism for every family ------------------------------------
I2C_URLS = [("mpu6050", "i2c://1/0x68"), ("mpu6050", "i2c://1/0x69"),
            ("mpu9250", "i2c://3/0x68"), ("bh1750", "i2c://1/0x23"),
            ("veml7700", "i2c://1/0x10"), ("ina219", "i2c://1/0x40"),
            ("ina226", "i2c://1/0x41"), ("ina3221", "i2c://1/0x42"),
            ("mpu6050", "i2c://1/0x70:3/0x68")]


def test_backend_emu_opens_every_i2c_part_of_a_pi_script_on_shared_buses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSEKIT_BACKEND", "emu")
    clock = FakeClock()
    devices = [sensekit.open(name, url, clock=clock) for name, url in I2C_URLS]
    try:
        for device in devices:
            assert isinstance(device, I2CDriver) and device.uses_emulator
            assert device.emulator is not None
            assert packets(device, clock, 0.5), device.describe()
        bus1 = devices[0].device.bus
        assert all(d.device.bus is bus1 for d in devices if d.url.location.startswith("1/"))
        assert isinstance(bus1, EmulatedBus)
        assert sorted(bus1.devices) == [0x10, 0x23, 0x40, 0x41, 0x42, 0x68, 0x69, 0x70]
        assert devices[-1].emulator is bus1.devices[0x70].channels[3][0x68]
    finally:
        for device in devices:
            device.close()


def test_backend_emu_opens_the_gps_microphone_and_cameras(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("cv2")
    monkeypatch.setenv("SENSEKIT_BACKEND", "emu")
    clock = FakeClock()
    for name, url in (("nmea", "/dev/serial0"), ("audio", "mic://"), ("camera", "/dev/video0"),
                      ("camera", "nvargus://0"), ("camera", "picamera2://0")):
        device = sensekit.open(name, url, clock=clock)
        try:
            assert device.uses_emulator, url
            got: list[Any] = []
            for _ in range(40):
                clock.advance(0.1)
                got += drain(device)
                if got:
                    break
            assert got, url
        finally:
            device.close()


def test_without_the_backend_the_hardware_urls_are_not_emulated(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENSEKIT_BACKEND", raising=False)
    for name, url in (("mpu6050", "i2c://1/0x68"), ("nmea", "/dev/serial0"), ("audio", "mic://"),
                      ("camera", "nvargus://0")):
        device = driver_class(name)(url)
        assert not device.uses_emulator, url
