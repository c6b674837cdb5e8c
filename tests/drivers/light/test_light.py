"""BH1750 and VEML7700 drivers against their emulated parts, with datasheet numbers."""

from __future__ import annotations

import numpy as np
import pytest

import sensekit
from sensekit.clock import FakeClock
from sensekit.drivers.light import bh1750, veml7700
from sensekit.drivers.light.veml7700 import Veml7700
from sensekit.errors import ConfigError, DeviceNotFound
from sensekit.testing.light_emu import Bh1750Emulator, Veml7700Emulator


def test_bh1750_lux_formula_matches_the_datasheet_example() -> None:
    # BH1750FVI Rev.D p. 7: high byte 1000_0011, low byte 1001_0000 -> 28067 lx.
    assert bh1750.lux_from_count(0b1000_0011_1001_0000) == pytest.approx(28067, abs=0.5)
    assert bh1750.lux_from_count(120, "continuous_high2") == pytest.approx(50.0)
    assert bh1750.lux_from_count(69 * 12, mtreg=138) == pytest.approx(345.0)


@pytest.mark.parametrize("mode", ["continuous_high", "continuous_high2", "one_time_high",
                                  "continuous_low"])
def test_bh1750_reads_the_light_it_is_fed(mode: str) -> None:
    clock = FakeClock()
    emu = Bh1750Emulator(lux=lambda t: 200.0 + 10.0 * t)
    light = sensekit.open("bh1750", "emu://", emulator=emu, clock=clock, mode=mode)
    values = []
    for _ in range(5):
        p = light.read()
        assert p is not None and p.validate() is p
        t_s = (p.t_ns[0] - emu.t0_ns) / 1e9
        values.append((float(p["lux"][0]), 200.0 + 10.0 * t_s))
    step = 4.0 if mode.endswith("low") else 1.0
    for got, want in values:
        assert got == pytest.approx(want, abs=step + 1.5)  # resolution + half a measurement
    light.close()


def test_bh1750_one_time_mode_powers_down_by_itself() -> None:
    clock = FakeClock()
    emu = Bh1750Emulator(lux=500.0)
    light = sensekit.open("bh1750", "emu://", emulator=emu, clock=clock, mode="one_time_high")
    p = light.read()
    assert p is not None and p["lux"][0] == pytest.approx(500.0, abs=1.0)
    assert not emu.powered  # the part went to power-down after its one measurement
    light.set_mode("continuous_high")
    assert emu.powered and emu.mode == "continuous_high"
    light.sleep()
    assert not emu.powered and light.read(timeout_s=0.5) is None
    light.wake()
    assert light.read() is not None


def test_bh1750_rate_is_capped_by_the_measurement_time() -> None:
    light = sensekit.open("bh1750", "emu://", clock=FakeClock(), mode="continuous_high")
    assert light.set_rate(40.0) == pytest.approx(1 / 0.180)   # 180 ms maximum (Rev.D p. 2)
    light.set_mode("continuous_low")
    assert light.set_rate(41.0) == pytest.approx(41.0)        # 24 ms maximum allows it
    with pytest.raises(ConfigError, match=r"rate_hz=50\.0 is outside .* 41\.6667 Hz"):
        light.set_rate(50.0)                                  # no mode of the part reaches it


def test_veml7700_resolution_and_reading() -> None:
    # AN 84323 Table 1: 0.0036 lx/ct at gain 2, 800 ms; 0.0576 at gain 1, 100 ms;
    # 1.8432 at gain 1/8, 25 ms.
    assert veml7700.resolution_lux(2, 800) == pytest.approx(0.0036)
    assert veml7700.resolution_lux(1, 100) == pytest.approx(0.0576)
    assert veml7700.resolution_lux(0.125, 25) == pytest.approx(1.8432)
    clock = FakeClock()
    light = sensekit.open("veml7700", "emu://?lux=1234.5", clock=clock, gain=0.125,
                          integration_ms=25)
    p = light.read()
    assert p is not None and p["lux"][0] == pytest.approx(1234.5, abs=1.8432 / 2 + 1e-3)


def test_veml7700_threshold_interrupt_fires_when_light_leaves_the_window() -> None:
    clock = FakeClock()
    emu = Veml7700Emulator(lux=lambda t: np.where(t < 3.0, 100.0, 900.0))
    light = sensekit.open("veml7700", "emu://", emulator=emu, clock=clock)
    assert isinstance(light, Veml7700)
    seen: list[str] = []
    light.on_threshold(lambda t_ns, which: seen.append(which))
    light.set_thresholds(low_lux=50, high_lux=500, persistence=2)
    for _ in range(2):
        light.read()
    assert seen == []
    clock.advance(2.0)
    for _ in range(3):
        light.read()
    assert seen and set(seen) == {"high"}


def test_veml7700_sleep_shuts_the_part_down() -> None:
    clock = FakeClock()
    emu = Veml7700Emulator(lux=10.0)
    light = sensekit.open("veml7700", "emu://", emulator=emu, clock=clock)
    light.sleep()
    assert emu.regs[0x00] & 1 == 1
    assert light.read(timeout_s=0.2) is None
    light.wake()
    p = light.read()
    assert p is not None and p["lux"][0] == pytest.approx(10.0, abs=0.06)


def test_wrong_part_at_the_address_is_named() -> None:
    with pytest.raises(DeviceNotFound, match="not a VEML7700"):
        sensekit.open("veml7700", "emu://?address=0x10", emulator=Bh1750Emulator(address=0x10),
                      clock=FakeClock())
