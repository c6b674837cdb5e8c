"""INA meters over the real drivers and emulated parts fed known current waveforms."""

from __future__ import annotations

import numpy as np
import pytest

from sensekit.clock import FakeClock
from sensekit.errors import ConfigError
from sensekit.packets import concat
from sensekit.power.integrate import trapezoid
from sensekit.power.meters import open_meter, total_power_w
from sensekit.power.meters.ina import Ina219Meter, Ina3221Meter

ina_emu = pytest.importorskip("sensekit.testing.ina_emu")

BUS_V = 5.0
SHUNT_OHM = 0.1


def waveform(t: np.ndarray) -> np.ndarray:
    """Amps: steps and ramps over 20 s (0.2 A, a step to 1 A, ramp down, 0.5 A, ramp up)."""
    t = np.asarray(t, np.float64)
    return np.select(
        [t < 3, t < 7, t < 12, t < 16],
        [np.full_like(t, 0.2), np.full_like(t, 1.0), 1.0 - 0.9 * (t - 7) / 5,
         np.full_like(t, 0.5)],
        0.5 + (t - 16) / 4)


def analytic_energy_j(a_s: float, b_s: float) -> float:
    grid = np.linspace(a_s, b_s, 400_001)
    w = BUS_V * waveform(grid)
    return float(np.sum((w[1:] + w[:-1]) / 2 * np.diff(grid)))


def test_ina219_energy_within_one_percent_of_analytic(clock: FakeClock) -> None:
    emu = ina_emu.Ina219Emulator(current=waveform, voltage=BUS_V, shunt_ohm=SHUNT_OHM)
    meter = Ina219Meter("emu://", emulator=emu, clock=clock, rate_hz=100,
                        shunt_ohm=SHUNT_OHM, max_current_a=2.0)
    packets = []
    with meter:
        t0 = emu.t0_ns
        while clock.now_ns() - t0 < 20e9:
            packet = meter.read()
            if packet is not None:
                packets.append(packet)
    joined = concat(packets)
    joined.validate()
    assert joined.meta["total"] == joined.meta["rails"][0]
    assert joined.meta["meter"] == "ina219" and joined.meta["estimate"] is False
    t, w = joined.t_ns, total_power_w(joined)
    measured = trapezoid(t, w)
    expected = analytic_energy_j((t[0] - t0) / 1e9, (t[-1] - t0) / 1e9)
    print(f"INA219 emulated: {measured.energy_j:.4f} J vs analytic {expected:.4f} J "
          f"({measured.energy_j / expected - 1:+.3%}), {len(t)} samples")
    assert measured.energy_j == pytest.approx(expected, rel=0.01)
    assert measured.gaps == ()
    assert len(t) == pytest.approx(2000, abs=5)
    volts = joined["voltage_v"][:, 0]
    assert volts == pytest.approx(np.full(len(volts), BUS_V), abs=0.004)


def test_ina219_meter_by_name_and_url(clock: FakeClock) -> None:
    meter = open_meter("ina219@emu://?current_a=0.5&voltage_v=12&shunt_ohm=0.1", clock=clock)
    packet = meter.read()
    meter.close()
    assert packet is not None
    assert total_power_w(packet)[0] == pytest.approx(6.0, rel=0.005)
    with pytest.raises(ConfigError, match="ina226@i2c://1/0x40"):
        open_meter("ina226")


def test_ina3221_total_channel_is_not_summed_with_the_others(clock: FakeClock) -> None:
    emu = ina_emu.Ina3221Emulator(current=[1.0, 0.4, 0.2], voltage=[5.0, 5.0, 3.3],
                                  shunt_ohm=0.1)
    meter = Ina3221Meter("emu://", emulator=emu, clock=clock, rails="VIN,5V,3V3",
                         total="VIN", shunt_ohm=0.1)
    with meter:
        clock.advance(0.1)
        packet = meter.read()
    assert packet is not None
    assert packet.meta["rails"] == ("VIN", "5V", "3V3")
    assert total_power_w(packet)[0] == pytest.approx(5.0, rel=0.01)
    summed = Ina3221Meter("emu://", emulator=ina_emu.Ina3221Emulator(
        current=[1.0, 0.4, 0.2], voltage=[5.0, 5.0, 3.3]), clock=clock)
    with summed:
        clock.advance(0.1)
        packet = summed.read()
    assert packet is not None and "summed" in packet.meta["note"]
    assert total_power_w(packet)[0] == pytest.approx(5.0 + 2.0 + 0.66, rel=0.01)
