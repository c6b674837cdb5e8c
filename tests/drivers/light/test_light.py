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


#: AN 84323 "Designing the VEML7700 Into an Application", resolution table (the revision with
#: DS rev. 1.7's 0.0042), typed from the document: (gain, integration ms) -> lx per count.
AN_RESOLUTION = {(2, 800): 0.0042, (2, 100): 0.0336, (1, 800): 0.0084, (1, 100): 0.0672,
                 (1, 25): 0.2688, (0.25, 100): 0.2688, (0.125, 800): 0.0672,
                 (0.125, 100): 0.5376, (0.125, 25): 2.1504}


@pytest.mark.parametrize(("setting", "lx_per_count"), sorted(AN_RESOLUTION.items()))
def test_veml7700_resolution_is_the_application_notes_table(
        setting: tuple[float, int], lx_per_count: float) -> None:
    assert veml7700.resolution_lux(*setting) == pytest.approx(lx_per_count)


@pytest.mark.parametrize(("linear", "raised"), [(1000, 0.075), (5000, 0.25), (10000, 0.48)])
def test_veml7700_correction_raises_readings_as_the_application_note_says(
        linear: float, raised: float) -> None:
    # AN 84323: about +7.5 % at 1 klx, +25 % at 5 klx, +48 % at 10 klx.
    assert veml7700.correct_lux(linear) / linear - 1 == pytest.approx(raised, abs=0.006)
    assert veml7700.linear_lux(veml7700.correct_lux(linear)) == pytest.approx(linear)


@pytest.mark.parametrize("lux", [0.5, 20.0, 300.0, 1000.0, 4000.0, 10_000.0, 50_000.0, 1e5])
def test_veml7700_reads_the_light_it_is_fed_across_its_range(lux: float) -> None:
    light = sensekit.open("veml7700", f"emu://?lux={lux}", clock=FakeClock())
    readings = [light.read(timeout_s=2.0) for _ in range(10)]
    last = readings[-1]
    assert last is not None and not last.meta["saturated"]
    assert float(last["lux"][0]) == pytest.approx(lux, rel=0.01, abs=0.01)
    assert all(p is None or float(p["lux"][0]) > 0 for p in readings)


def test_veml7700_fixed_setting_reports_saturation() -> None:
    light = sensekit.open("veml7700", "emu://?lux=8000", clock=FakeClock(), gain=1,
                          integration_ms=100)
    p = light.read()
    assert p is not None and p.meta["saturated"] and p.meta["counts"] == 0xFFFF
    auto = sensekit.open("veml7700", "emu://?lux=8000", clock=FakeClock())
    q = auto.read()
    assert q is not None and not q.meta["saturated"]  # measured again one setting down


def test_veml7700_a_part_that_lost_power_is_configured_again_and_no_zero_returned() -> None:
    clock = FakeClock()
    emu = Veml7700Emulator(lux=250.0)
    light = sensekit.open("veml7700", "emu://", emulator=emu, clock=clock)
    for _ in range(3):
        light.read()
    bus_power_cycle(emu)
    got = [light.read(timeout_s=2.0) for _ in range(4)]
    assert light.stats.resets == 1 and emu.regs[0x00] != 0x0001
    values = [float(p["lux"][0]) for p in got if p is not None]
    assert values and all(v == pytest.approx(250.0, rel=0.01) for v in values)


def bus_power_cycle(emu: object) -> None:
    emu.power_on_reset()  # type: ignore[attr-defined]


def test_bh1750_a_part_that_lost_power_is_restarted_and_its_zero_not_returned() -> None:
    clock = FakeClock()
    emu = Bh1750Emulator(lux=400.0)
    light = sensekit.open("bh1750", "emu://", emulator=emu, clock=clock, mtreg=138)
    first = light.read()
    assert first is not None and float(first["lux"][0]) == pytest.approx(400.0, abs=1.0)
    bus_power_cycle(emu)
    assert emu.mtreg == 69 and emu.data == 0
    p = light.read(timeout_s=2.0)
    assert p is not None and float(p["lux"][0]) == pytest.approx(400.0, abs=1.0)
    assert light.stats.resets == 1 and emu.mtreg == 138
    emu.lux = 0.0  # real darkness stays 0 and is not a reset
    for _ in range(4):
        p = light.read(timeout_s=2.0)
    assert p is not None and float(p["lux"][0]) == 0.0 and light.stats.resets == 1


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
    readings = [light.read() for _ in range(4)]  # the range settles in a few results
    p = readings[-1]
    assert p is not None and p["lux"][0] == pytest.approx(10.0, rel=0.01)


def test_wrong_part_at_the_address_is_named() -> None:
    with pytest.raises(DeviceNotFound, match="not a VEML7700"):
        sensekit.open("veml7700", "emu://?address=0x10", emulator=Bh1750Emulator(address=0x10),
                      clock=FakeClock())
