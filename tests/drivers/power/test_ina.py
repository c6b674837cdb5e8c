"""INA219, INA226 and INA3221 drivers against their emulated parts, with datasheet numbers."""

from __future__ import annotations

import numpy as np
import pytest

import sensekit
from sensekit.clock import FakeClock
from sensekit.drivers.power import ina219, ina226
from sensekit.drivers.power.ina import InaDriver
from sensekit.errors import ConfigError, DeviceNotFound
from sensekit.testing.ina_emu import Ina219Emulator, Ina226Emulator, Ina3221Emulator


def open_on(driver: str, emu: object, clock: FakeClock, **kw: object) -> InaDriver:
    dev = sensekit.open(driver, "emu://", emulator=emu, clock=clock, **kw)
    assert isinstance(dev, InaDriver)
    return dev


def test_ina219_calibration_matches_the_datasheet_example() -> None:
    # SBOS448G 8.5.1: R_shunt 0.1 ohm, Current_LSB chosen 100 uA -> Cal = 4096, Power_LSB 2 mW.
    assert ina219.calibration_value(100e-6, 0.1) == 4096
    assert pytest.approx(2e-3) == ina219.POWER_LSB_PER_CURRENT_LSB * 100e-6
    clock = FakeClock()
    emu = Ina219Emulator(current=1.0, voltage=5.0, shunt_ohm=0.1)
    dev = open_on("ina219", emu, clock, shunt_ohm=0.1, current_lsb_a=100e-6)
    assert emu.regs[0x05] == 4096  # the driver programmed it
    assert dev.read() is not None


def test_ina219_signed_current_is_right_at_every_lsb_including_negative() -> None:
    clock = FakeClock()
    emu = Ina219Emulator(current=0.0, voltage=12.345, shunt_ohm=0.1)
    dev = open_on("ina219", emu, clock, shunt_ohm=0.1, current_lsb_a=100e-6, rate_hz=100)
    for counts in [-32000, -4000, -1, 0, 1, 2, 3, 257, 4000, 31999]:
        emu.current = [counts * 10e-6 / 0.1]  # exactly `counts` shunt LSBs of 10 uV
        clock.advance(0.01)
        p = dev.read()
        assert p is not None and p.validate() is p
        assert p["current_a"][0, 0] == pytest.approx(counts * 100e-6, abs=1e-9)
        assert p.meta["shunt_v"][0] == pytest.approx(counts * 10e-6, abs=1e-12)
        assert p["voltage_v"][0, 0] == pytest.approx(12.344)  # 4 mV LSB: 3086 counts
        assert p["power_w"][0, 0] == pytest.approx(counts * 100e-6 * 12.344, rel=1e-6)


def test_ina219_overflow_is_reported_not_hidden() -> None:
    clock = FakeClock()
    emu = Ina219Emulator(current=5.0, voltage=5.0, shunt_ohm=0.1)  # 500 mV > 320 mV range
    dev = open_on("ina219", emu, clock, shunt_ohm=0.1)
    p = dev.read()
    assert p is not None and np.isnan(p["current_a"][0, 0])


def test_ina226_calibration_and_readings() -> None:
    # SBOS547A 7.5.1 eq. 1: CAL = 0.00512 / (Current_LSB * R) = 2560 for 1 mA and 2 mOhm.
    assert ina226.calibration_value(1e-3, 0.002) == 2560
    clock = FakeClock()
    dev = sensekit.open("ina226", "emu://?current_a=-2.5&voltage_v=24&shunt_ohm=0.002",
                        clock=clock, current_lsb_a=1e-3)
    p = dev.read()
    assert p is not None
    assert p["current_a"][0, 0] == pytest.approx(-2.5)
    assert p["voltage_v"][0, 0] == pytest.approx(24.0)
    assert p["power_w"][0, 0] == pytest.approx(-60.0)


def test_ina3221_three_rails_signed_and_named() -> None:
    clock = FakeClock()
    emu = Ina3221Emulator(current=[0.5, 0.2, -0.0004], voltage=[12.0, 5.0, 3.3],
                          shunt_ohm=0.1)
    dev = open_on("ina3221", emu, clock, shunt_ohm=0.1, rails="VIN,5V,3V3")
    p = dev.read()
    assert p is not None and p["voltage_v"].shape == (1, 3)
    assert p.meta["rails"] == ("VIN", "5V", "3V3")
    # 40 uV shunt LSB over 0.1 ohm = 0.4 mA per count; -0.4 mA is exactly -1 count.
    assert p["current_a"][0].tolist() == pytest.approx([0.5, 0.2, -0.0004])
    assert p["voltage_v"][0].tolist() == pytest.approx([12.0, 5.0, 3.296])  # 8 mV LSB


def test_ids_tell_the_parts_apart() -> None:
    clock = FakeClock()
    with pytest.raises(DeviceNotFound, match=r"0x5449/0x3220.*not the INA226"):
        open_on("ina226", Ina3221Emulator(), clock)
    with pytest.raises(DeviceNotFound, match="not an INA219"):
        open_on("ina219", Ina226Emulator(), clock)


def test_sleep_powers_the_part_down_and_wake_resumes() -> None:
    clock = FakeClock()
    emu = Ina226Emulator(current=0.3, voltage=5.0, shunt_ohm=0.1)
    dev = open_on("ina226", emu, clock, shunt_ohm=0.1)
    dev.sleep()
    assert emu.regs[0x00] & 0b111 == 0  # MODE = power-down
    assert dev.read(timeout_s=0.2) is None
    dev.wake()
    p = dev.read()
    assert p is not None and p["current_a"][0, 0] == pytest.approx(0.3, abs=1e-4)
    dev.close()
    assert emu.regs[0x00] & 0b111 == 0  # closing leaves it powered down


def test_reads_follow_the_rate_on_the_clock() -> None:
    clock = FakeClock(0)
    dev = sensekit.open("ina219", "emu://", clock=clock, rate_hz=20)
    stamps = [p.t_ns[0] for p in (dev.read() for _ in range(21)) if p is not None]
    assert len(stamps) == 21
    assert np.diff(stamps).tolist() == [50_000_000] * 20


def test_options_come_from_the_url_too() -> None:
    dev = sensekit.open("ina3221", "emu://?shunt_ohm=0.05,0.1,0.2&rails=A,B,C", clock=FakeClock())
    assert isinstance(dev, InaDriver)
    assert dev.shunt_ohm == [0.05, 0.1, 0.2] and dev.rails == ["A", "B", "C"]
    with pytest.raises(ConfigError, match="shunt_ohm needs 3"):
        sensekit.open("ina3221", "emu://?shunt_ohm=0.1,0.2", clock=FakeClock())
