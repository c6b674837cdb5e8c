"""Conformance suite run over every registered I2C driver.

Against the emulated parts always; against real parts with ``SENSEKIT_HW=1`` and one
environment variable per part naming where it is, e.g.::

    SENSEKIT_HW=1 SENSEKIT_HW_MPU6050=i2c://1/0x68 SENSEKIT_HW_BH1750=i2c://1/0x23 \\
        pytest tests/drivers/test_i2c_conformance.py
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

import sensekit
from sensekit.buses.emulated import EmulatedBus
from sensekit.clock import FakeClock, MonotonicClock
from sensekit.drivers import BUILTIN_DRIVERS, driver_class
from sensekit.drivers.i2c_base import I2CDriver
from sensekit.errors import DeviceClosed, DeviceIOError
from sensekit.packets import spec_for
from sensekit.power.model import load_power_model
from sensekit.testing.emulators import make_emulator

I2C_DRIVERS = sorted(n for n in BUILTIN_DRIVERS if issubclass(driver_class(n), I2CDriver))


def cases() -> list[Any]:
    out = [pytest.param(name, "emu://", id=f"{name}-emu") for name in I2C_DRIVERS]
    for name in I2C_DRIVERS:
        url = os.environ.get(f"SENSEKIT_HW_{name.upper()}")
        if url:
            out.append(pytest.param(name, url, id=f"{name}-hw", marks=pytest.mark.hardware))
    return out


def open_case(name: str, url: str) -> I2CDriver:
    clock = FakeClock() if url.startswith("emu://") else MonotonicClock()
    device = sensekit.open(name, url, clock=clock)
    assert isinstance(device, I2CDriver)
    return device


def first_packet(device: I2CDriver) -> Any:
    if isinstance(device.clock, FakeClock):
        device.clock.advance(0.2)  # less than a 100 Hz MPU-9250 takes to fill its FIFO
    for _ in range(5):
        packet = device.read(timeout_s=2.0)
        if packet is not None:
            return packet
    raise AssertionError(f"{device.describe()} gave no packet in 5 reads")


def test_the_suite_covers_every_i2c_driver() -> None:
    assert set(I2C_DRIVERS) >= {"mpu6050", "bh1750", "veml7700", "ina219", "ina226", "ina3221"}


@pytest.mark.parametrize(("name", "url"), cases())
def test_open_read_types_units_and_close(name: str, url: str) -> None:
    device = open_case(name, url)
    assert device.is_open
    packet = first_packet(device)
    spec = spec_for(device.modality)
    assert packet.modality == device.modality and packet.validate() is packet
    for field_name, array in packet.fields.items():
        assert field_name in spec.fields and np.all(np.isfinite(array))
    assert np.all(np.diff(packet.t_ns) > 0)
    second = first_packet(device)
    assert second.t_ns[0] > packet.t_ns[-1]  # time moves on between packets
    device.close()
    device.close()  # closing twice is harmless
    with pytest.raises(DeviceClosed, match=name):
        device.read()
    with pytest.raises(DeviceClosed):
        device.sleep()


@pytest.mark.parametrize(("name", "url"), cases())
def test_a_read_with_nothing_new_times_out(name: str, url: str) -> None:
    device = open_case(name, url)
    first_packet(device)
    # A threaded driver may hold a packet already drained; past those, nothing is new.
    assert any(device.read(timeout_s=0.0) is None for _ in range(20))
    assert device.stats.timeouts >= 1
    device.close()


@pytest.mark.parametrize(("name", "url"), cases())
def test_sleep_yields_nothing_and_wake_resumes(name: str, url: str) -> None:
    device = open_case(name, url)
    first_packet(device)
    device.sleep(reason="conformance")
    if isinstance(device.clock, FakeClock):
        device.clock.advance(1.0)
    # What was measured before the sleep may still be delivered; then nothing comes.
    assert any(device.read(timeout_s=0.05) is None for _ in range(20))
    assert device.read(timeout_s=0.05) is None
    device.wake()
    assert first_packet(device) is not None
    assert [c.new for c in device.changes if c.setting == "power"] == ["asleep", "awake"]
    device.close()


@pytest.mark.parametrize("name", I2C_DRIVERS)
def test_every_mode_and_sleep_has_a_power_figure_with_a_source(name: str) -> None:
    cls = driver_class(name)
    assert cls.power_model is not None
    model = load_power_model(cls.power_model)
    for mode in (*cls.modes, "sleep"):
        row = model.mode(mode)
        assert row.source and row.watts(1.0) > 0


@pytest.mark.parametrize("name", I2C_DRIVERS)
def test_a_part_that_vanishes_is_an_io_error_naming_it(name: str) -> None:
    clock = FakeClock()
    bus = EmulatedBus(clock)
    emulator = bus.add(make_emulator(name, {}, clock))
    device = sensekit.open(name, f"i2c://1/{emulator.address:#04x}", bus=bus, clock=clock,
                           retries=1)
    first_packet(device)
    bus.vanish(emulator.address)
    clock.advance(0.3)
    with pytest.raises(DeviceIOError, match=f"{name} at i2c://1/"):
        for _ in range(3):
            device.read(timeout_s=2.0)


def test_sensekit_backend_emu_runs_a_pi_script_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSEKIT_BACKEND", "emu")
    device = sensekit.open("bh1750", "i2c://1/0x5c", clock=FakeClock())
    assert isinstance(device, I2CDriver) and device.emulator is not None
    assert device.emulator.address == 0x5C and device.device.where == "i2c://1/0x5c"
    assert first_packet(device)["lux"][0] == pytest.approx(300.0, abs=1.0)
