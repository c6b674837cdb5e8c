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


def test_ina219_worked_example_of_the_datasheet() -> None:
    # SBOS448F Table 3 (p. 24), "Configure/Measure/Calculate Example": 10 A load, 12 V common
    # mode, 2 mOhm shunt, 40 mV shunt range, 16 V bus range; Current_LSB 1 mA.
    clock = FakeClock()
    emu = Ina219Emulator(current=10.0, voltage=11.98, shunt_ohm=0.002)
    dev = open_on("ina219", emu, clock, shunt_ohm=0.002, current_lsb_a=1e-3, max_current_a=15,
                  bus_range_v=16)
    p = dev.read()
    assert p is not None
    assert emu.regs[0x00] == 0x019F                     # step 1, configuration
    assert emu.regs[0x01] == 0x07D0                     # step 2, shunt: 2000 x 10 uV = 20 mV
    assert emu.regs[0x02] >> 3 == 0x0BB3                # step 3, bus: 2995 x 4 mV = 11.98 V
    assert emu.regs[0x05] == 0x5000                     # step 4, calibration 20480
    assert emu.regs[0x04] == 0x2710                     # step 5, current 10000 x 1 mA
    assert emu.regs[0x03] == 0x1766                     # step 6, power 5990 x 20 mW
    assert p["current_a"][0, 0] == pytest.approx(10.0)
    assert p["voltage_v"][0, 0] == pytest.approx(11.98)
    assert p["power_w"][0, 0] == pytest.approx(119.8, rel=1e-5)


def test_ina226_worked_example_of_the_datasheet() -> None:
    # SBOS547 Table 1 (p. 16): 10 A load, 12 V common mode, 2 mOhm, Current_LSB 1 mA.
    clock = FakeClock()
    emu = Ina226Emulator(current=10.0, voltage=11.98, shunt_ohm=0.002)
    dev = open_on("ina226", emu, clock, shunt_ohm=0.002, current_lsb_a=1e-3)
    p = dev.read()
    assert p is not None
    assert (emu.regs[0x00], emu.regs[0x01], emu.regs[0x02]) == (0x4127, 0x1F40, 0x2570)
    assert (emu.regs[0x05], emu.regs[0x04], emu.regs[0x03]) == (0x0A00, 0x2710, 0x12B8)
    assert p["current_a"][0, 0] == pytest.approx(10.0)
    assert p["power_w"][0, 0] == pytest.approx(4792 * 25e-3 * 11.98 / 11.98, rel=1e-3)


def test_ina219_calibration_out_of_range_is_refused_not_wrapped() -> None:
    # 50 mA through 1 mOhm at full resolution needs Cal = 26,843,545: 16 bits cannot hold it.
    with pytest.raises(ConfigError, match=r"calibration value of 26843545, outside .* 65534"):
        sensekit.open("ina219", "emu://", clock=FakeClock(), shunt_ohm=0.001,
                      max_current_a=0.05)
    with pytest.raises(ConfigError, match=r"smaller current_lsb_a"):
        sensekit.open("ina219", "emu://", clock=FakeClock(), shunt_ohm=10.0, current_lsb_a=0.01)
    # The float quotient 0.04096 / 2e-6 is 20479.999...; the register still gets 20480.
    assert ina219.calibration_value(0.04096, 1e-3, 0.002) == 20480
    assert ina226.calibration_value(0.00512, 1e-3, 0.002) == 2560


def test_ina219_current_beyond_the_range_is_reported_from_the_shunt_at_full_scale() -> None:
    clock = FakeClock()
    emu = Ina219Emulator(current=5.0, voltage=5.0, shunt_ohm=0.1)  # 500 mV > 320 mV range
    dev = open_on("ina219", emu, clock, shunt_ohm=0.1)
    p = dev.read()
    assert p is not None
    assert not emu.regs[0x02] & 1            # the part's own arithmetic did not overflow ...
    assert emu.regs[0x01] == 32000           # ... but the shunt is held at full scale
    assert np.isnan(p["current_a"][0, 0]) and p.meta["over_range"] == (True,)
    emu.current = [1.0]
    clock.advance(0.2)
    q = dev.read()
    assert q is not None and q.meta["over_range"] == (False,)
    assert q["current_a"][0, 0] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("driver", ["ina219", "ina226", "ina3221"])
def test_a_part_that_lost_power_is_configured_again_and_its_zeros_not_returned(
        driver: str) -> None:
    clock = FakeClock()
    emu = {"ina219": Ina219Emulator, "ina226": Ina226Emulator,
           "ina3221": Ina3221Emulator}[driver](current=0.5, voltage=5.0, shunt_ohm=0.1)
    dev = open_on(driver, emu, clock, shunt_ohm=0.1, rate_hz=20)
    assert dev.read() is not None
    emu.power_on_reset()
    got = [dev.read() for _ in range(4)]
    assert dev.stats.resets == 1 and got[0] is None and dev.stats.dropped == 1
    for p in got[1:]:
        assert p is not None and p["current_a"][0, 0] == pytest.approx(0.5, abs=1e-3)


def test_timestamps_sit_at_the_middle_of_the_conversion_window() -> None:
    clock = FakeClock()
    emu = Ina226Emulator(current=0.5, voltage=5.0, shunt_ohm=0.1)
    dev = open_on("ina226", emu, clock, shunt_ohm=0.1, averages=16, rate_hz=7.3)
    period_ns = 2 * 1.1e-3 * 16 * 1e9
    errors = []
    for _ in range(120):
        p = dev.read()
        assert p is not None
        start, end = emu.windows[-1]                 # the conversion the registers came from
        errors.append(p.t_ns[0] - (start + end) / 2)
    err = np.asarray(errors)
    assert abs(err.mean()) < period_ns / 8           # the old stamps sat half a window late
    assert np.abs(err).max() <= period_ns / 2 + 1e6


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
    # 50 ms apart, each read also taking its bus time (about 0.6 ms at 400 kHz)
    assert np.allclose(np.diff(stamps), 50_000_000, atol=1_000_000)


def test_options_come_from_the_url_too() -> None:
    dev = sensekit.open("ina3221", "emu://?shunt_ohm=0.05,0.1,0.2&rails=A,B,C", clock=FakeClock())
    assert isinstance(dev, InaDriver)
    assert dev.shunt_ohm == [0.05, 0.1, 0.2] and dev.rails == ["A", "B", "C"]
    with pytest.raises(ConfigError, match="shunt_ohm needs 3"):
        sensekit.open("ina3221", "emu://?shunt_ohm=0.1,0.2", clock=FakeClock())
