"""TI INA219 current/power monitor (26 V, 12-bit) over I2C.

Usage::

    meter = sensekit.open("ina219", "i2c://1/0x40", shunt_ohm=0.1, max_current_a=2.0)
    p = meter.read()      # power packet: p["voltage_v"], p["current_a"], p["power_w"], (1, 1)

Source: TI "INA219 Zero-Drift, Bidirectional Current/Power Monitor With I2C Interface",
SBOS448G (revised December 2015). Calibration per sec. 8.5.1: ``Current_LSB = max expected
current / 2**15`` (eq. 2), ``Cal = trunc(0.04096 / (Current_LSB * R_shunt))`` (eq. 1); the
part then computes ``Current = Shunt * Cal / 4096`` (eq. 4) and ``Power = Current * Bus / 5000``
(eq. 5); the worked example of the datasheet (SBOS448F Table 3, p. 24: 10 A through 2 mOhm,
Current_LSB 1 mA, Cal 20480, Current register 10000, Power register 5990 = 119.8 W) is a test.
The part has no ID register; ``sensekit probe`` knows it by its configuration register's reset
value 0x399F.

The calibration value is checked against what the register holds (2 to 65534, bit 0 void)
before it is written: a shunt and current LSB that need more are a ConfigError, never wrapped
to 16 bits. A current beyond the PGA range holds the shunt register at full scale; that, not
only the OVF flag (which reports the part's own arithmetic overflowing, SBOS448G 8.6.3.2), marks
the rail over range.

Not verified on hardware: when exactly a real INA219 sets OVF with the shunt at full scale
(``drivers/smoke.py --check ina219-overrange`` checks it on a board).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import ConfigError, DeviceNotFound
from ...options import check_choice
from ..registers import Field, Register, compose
from .ina import InaDriver, Reading, calibration_value

__all__ = ["Ina219"]

_DS = "INA219 datasheet SBOS448G"
CONFIG = Register("CONFIG", 0x00, width=2, reset=0x399F, source=f"{_DS}, 8.6.2.1, p. 19")
RST = Field(CONFIG, 15)
BRNG = Field(CONFIG, 13)
PG = Field(CONFIG, 11, 2)
BADC = Field(CONFIG, 7, 4)
SADC = Field(CONFIG, 3, 4)
MODE = Field(CONFIG, 0, 3)
SHUNT_VOLTAGE = Register("SHUNT_VOLTAGE", 0x01, width=2, signed=True, read_only=True,
                         source=f"{_DS}, 8.6.3.1, p. 21: LSB 10 uV")
BUS_VOLTAGE = Register("BUS_VOLTAGE", 0x02, width=2, read_only=True,
                       source=f"{_DS}, 8.6.3.2, p. 23: bits 15:3, LSB 4 mV; CNVR bit 1, OVF bit 0")
BUS_DATA = Field(BUS_VOLTAGE, 3, 13)
CNVR = Field(BUS_VOLTAGE, 1)
OVF = Field(BUS_VOLTAGE, 0)
POWER = Register("POWER", 0x03, width=2, read_only=True, source=f"{_DS}, 8.6.3.3, p. 23")
CURRENT = Register("CURRENT", 0x04, width=2, signed=True, read_only=True,
                   source=f"{_DS}, 8.6.3.4, p. 23")
CALIBRATION = Register("CALIBRATION", 0x05, width=2, reset=0x0000,
                       source=f"{_DS}, 8.6.4.1, p. 24: bit 0 is void and reads 0")
CAL_VOID = Field(CALIBRATION, 0)

SHUNT_LSB_V = 10e-6        # 8.6.3.1
BUS_LSB_V = 4e-3           # 8.6.3.2
CAL_SCALE = 0.04096        # 8.5.1 eq. 1
CAL_MAX = 0xFFFE           # 16 bits with bit 0 void
POWER_LSB_PER_CURRENT_LSB = 20   # 8.5.1 eq. 3
#: PG code -> shunt full scale (V), 8.6.2.1 Table 4 (PGA /1, /2, /4, /8).
PGA_RANGE_V = {0: 0.040, 1: 0.080, 2: 0.160, 3: 0.320}
#: BRNG code -> bus full scale (V), 8.6.2.1.
BUS_RANGE_V = {0: 16, 1: 32}
#: BADC/SADC code -> conversion time (s), 8.6.2.1 Table 5 (ADC settings).
ADC_TIME_S = {0x0: 84e-6, 0x1: 148e-6, 0x2: 276e-6, 0x3: 532e-6, 0x8: 532e-6, 0x9: 1.06e-3,
              0xA: 2.13e-3, 0xB: 4.26e-3, 0xC: 8.51e-3, 0xD: 17.02e-3, 0xE: 34.05e-3,
              0xF: 68.10e-3}
#: Averaged samples -> ADC code (12-bit resolution), 8.6.2.1 Table 5.
AVERAGES = {1: 0x3, 2: 0x9, 4: 0xA, 8: 0xB, 16: 0xC, 32: 0xD, 64: 0xE, 128: 0xF}
MODE_POWER_DOWN, MODE_CONTINUOUS = 0b000, 0b111   # 8.6.2.1 Table 6


class Ina219(InaDriver):
    """The INA219.

    Args:
        url: ``i2c://BUS/0x40`` (0x40 to 0x4F by the A0/A1 pins) or ``emu://``.
        averages: Samples averaged per conversion (1, 2, 4, ..., 128).
        bus_range_v: 16 or 32 (BRNG).
        **kwargs: See :class:`~sensekit.drivers.power.ina.InaDriver`.
    """

    name = "ina219"
    #: Up to one result per fastest shunt + bus conversion pair (2 x 84 us, 9-bit, Table 5).
    rate_range_hz = (1e-3, 1 / (2 * 84e-6))
    power_model = "ina219"
    mode_field = MODE
    mode_power_down, mode_continuous = MODE_POWER_DOWN, MODE_CONTINUOUS
    checked_registers = (CONFIG, CALIBRATION)

    def __init__(self, url: str, *, averages: int = 1, bus_range_v: int = 32,
                 **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        where = self.describe()
        self.averages = check_choice(where, "averages", averages, sorted(AVERAGES))
        self.bus_range_v = check_choice(where, "bus_range_v", bus_range_v, (16, 32))
        shunt = self.shunt_ohm[0]
        max_current = self.max_current_a or PGA_RANGE_V[3] / shunt
        self.pga = next((code for code, fs in PGA_RANGE_V.items() if fs >= max_current * shunt),
                        3)
        lsb = self.current_lsb_a or max_current / 2 ** 15
        self.calibration = calibration_value(CAL_SCALE, lsb, shunt)
        if not 1 < self.calibration <= CAL_MAX:
            raise ConfigError(
                f"{where}: current LSB {lsb:g} A with a {shunt:g} ohm shunt needs a calibration "
                f"value of {self.calibration}, outside what the register holds (2 to {CAL_MAX}, "
                "SBOS448G 8.6.4.1). Hint: "
                + ("pick a larger current_lsb_a or max_current_a" if self.calibration > CAL_MAX
                   else "pick a smaller current_lsb_a or max_current_a"))
        self.calibration = CAL_VOID.put(self.calibration, 0)
        # The LSB the part really uses, after Cal's truncation and its void bit 0.
        self.current_lsb_effective_a = CAL_SCALE / (self.calibration * shunt)

    def config_value(self, mode: int = MODE_CONTINUOUS) -> int:
        adc = AVERAGES[self.averages]
        brng = {v: k for k, v in BUS_RANGE_V.items()}[self.bus_range_v]
        return compose({BRNG: brng, PG: self.pga, BADC: adc, SADC: adc, MODE: mode})

    def _open(self) -> None:
        device = self.connect()
        device.check_present()
        self.regs.write_fields({RST: 1})
        if self.regs.read(CONFIG) != CONFIG.reset:
            raise DeviceNotFound(f"{self.describe()}: the configuration register did not read "
                                 "0x399F after a reset; this is not an INA219. Hint: the "
                                 "INA226 and INA3221 have drivers of their own")
        self.configure()

    def configure(self) -> None:
        self.write_checked(CALIBRATION, self.calibration)
        self.write_checked(CONFIG, self.config_value())
        self.clock.sleep(self.conversion_time_s())
        self._schedule.reset()

    def conversion_time_s(self) -> float:
        return 2 * ADC_TIME_S[AVERAGES[self.averages]]  # shunt then bus

    def measure(self) -> Reading:
        with self.device.lock:
            bus_raw = self.regs.read(BUS_VOLTAGE)
            shunt_raw = self.regs.read(SHUNT_VOLTAGE)
            current_raw = self.regs.read(CURRENT)
        full_scale = round(PGA_RANGE_V[self.pga] / SHUNT_LSB_V)
        # The shunt register holds at full scale when the current exceeds the range; the part's
        # OVF flag only reports its own arithmetic overflowing, which a clipped shunt need not.
        over = abs(shunt_raw) >= full_scale or bool(OVF.get(bus_raw))
        return Reading(np.array([BUS_DATA.get(bus_raw) * BUS_LSB_V]),
                       np.array([shunt_raw * SHUNT_LSB_V]),
                       np.array([current_raw * self.current_lsb_effective_a]), (over,))
