"""TI INA226 current/power monitor (36 V, 16-bit) over I2C.

Usage::

    meter = sensekit.open("ina226", "i2c://1/0x40", shunt_ohm=0.01, max_current_a=5.0)

Source: TI "INA226 High-Side or Low-Side Measurement, Bi-Directional Current and Power Monitor
with I2C Compatible Interface", SBOS547A (revised August 2015). Calibration per sec. 7.5.1:
``CAL = 0.00512 / (Current_LSB * R_shunt)`` (eq. 1), ``Current_LSB = max expected current /
2**15`` (eq. 2); the part computes ``Current = Shunt * CAL / 2048`` (eq. 3) and ``Power =
Current * Bus / 20000`` (eq. 4); the worked example (SBOS547 Table 1, p. 16: 10 A through
2 mOhm, CAL 2560, Current 10000, Power 4792 = 119.82 W) is a test. Identified by manufacturer
ID 0x5449 and die ID 0x2260. A shunt voltage at full scale (81.92 mV) marks the rail over range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import ConfigError
from ...options import check_choice, check_number
from ..registers import Field, Register, compose
from .ina import InaDriver, Reading, calibration_value

__all__ = ["Ina226"]

_DS = "INA226 datasheet SBOS547A"
CONFIG = Register("CONFIG", 0x00, width=2, reset=0x4127, source=f"{_DS}, 7.6.1, p. 22")
RST = Field(CONFIG, 15)
FIXED = Field(CONFIG, 12, 3)    # bits 14:12 read 100 (7.6.1)
AVG = Field(CONFIG, 9, 3)
VBUSCT = Field(CONFIG, 6, 3)
VSHCT = Field(CONFIG, 3, 3)
MODE = Field(CONFIG, 0, 3)
SHUNT_VOLTAGE = Register("SHUNT_VOLTAGE", 0x01, width=2, signed=True, read_only=True,
                         source=f"{_DS}, 7.6.2, p. 24: LSB 2.5 uV")
BUS_VOLTAGE = Register("BUS_VOLTAGE", 0x02, width=2, read_only=True,
                       source=f"{_DS}, 7.6.3, p. 24: LSB 1.25 mV")
POWER = Register("POWER", 0x03, width=2, read_only=True, source=f"{_DS}, 7.6.4, p. 24")
CURRENT = Register("CURRENT", 0x04, width=2, signed=True, read_only=True,
                   source=f"{_DS}, 7.6.5, p. 25")
CALIBRATION = Register("CALIBRATION", 0x05, width=2, reset=0x0000,
                       source=f"{_DS}, 7.6.6, p. 25: bit 15 reserved")
MASK_ENABLE = Register("MASK_ENABLE", 0x06, width=2, reset=0x0000,
                       source=f"{_DS}, 7.6.7, p. 26")
CVRF = Field(MASK_ENABLE, 3)
OVF = Field(MASK_ENABLE, 2)
MANUFACTURER_ID = Register("MANUFACTURER_ID", 0xFE, width=2, reset=0x5449, read_only=True,
                           source=f"{_DS}, 7.6.9, p. 27")
DIE_ID = Register("DIE_ID", 0xFF, width=2, reset=0x2260, read_only=True,
                  source=f"{_DS}, 7.6.10, p. 27")

SHUNT_LSB_V = 2.5e-6
BUS_LSB_V = 1.25e-3
SHUNT_FULL_SCALE_V = 0.08192      # 7.6.2: +-81.92 mV
SHUNT_FULL_SCALE = 32767          # counts the register holds at that full scale
CAL_SCALE = 0.00512               # 7.5.1 eq. 1
CAL_MAX = 0x7FFF                  # bit 15 reserved
POWER_LSB_PER_CURRENT_LSB = 25    # 7.5.1
#: VBUSCT/VSHCT code -> conversion time (s), 7.6.1 Tables 7 and 8.
CONVERSION_TIME_S = {0: 140e-6, 1: 204e-6, 2: 332e-6, 3: 588e-6, 4: 1.1e-3, 5: 2.116e-3,
                     6: 4.156e-3, 7: 8.244e-3}
#: AVG code -> samples averaged, 7.6.1 Table 6.
AVERAGES = {0: 1, 1: 4, 2: 16, 3: 64, 4: 128, 5: 256, 6: 512, 7: 1024}
MODE_POWER_DOWN, MODE_CONTINUOUS = 0b000, 0b111   # 7.6.1 Table 9
FIXED_VALUE = 0b100


def averaging_codes(device: str, averages: int, conversion_time_s: float) -> tuple[int, int]:
    """AVG and conversion-time codes of the configuration register (INA226 and INA3221 share
    them): ``averages`` must be one of :data:`AVERAGES`; the conversion time is the nearest."""
    codes = {v: k for k, v in AVERAGES.items()}
    count = check_choice(device, "averages", averages, sorted(codes))
    seconds = check_number(device, "conversion_time_s", conversion_time_s, 0.0, 0.1,
                           lo_open=True, unit="s")
    ct = min(CONVERSION_TIME_S, key=lambda c: abs(CONVERSION_TIME_S[c] - seconds))
    return codes[count], ct


class Ina226(InaDriver):
    """The INA226.

    Args:
        url: ``i2c://BUS/0x40`` (0x40 to 0x4F by A0/A1) or ``emu://``.
        averages: Samples averaged per result (1, 4, 16, 64, 128, 256, 512, 1024).
        conversion_time_s: Per conversion, bus and shunt alike (140e-6 ... 8.244e-3).
        **kwargs: See :class:`~sensekit.drivers.power.ina.InaDriver`.
    """

    name = "ina226"
    #: Up to one result per fastest shunt + bus conversion pair (2 x 140 us, 7.6.1 Table 7).
    rate_range_hz = (1e-3, 1 / (2 * 140e-6))
    power_model = "ina226"
    mode_field = MODE
    mode_power_down, mode_continuous = MODE_POWER_DOWN, MODE_CONTINUOUS
    checked_registers = (CONFIG, CALIBRATION)

    def __init__(self, url: str, *, averages: int = 1, conversion_time_s: float = 1.1e-3,
                 **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._avg, self._ct = averaging_codes(self.describe(), averages, conversion_time_s)
        shunt = self.shunt_ohm[0]
        lsb = self.current_lsb_a or (self.max_current_a or SHUNT_FULL_SCALE_V / shunt) / 2 ** 15
        self.calibration = calibration_value(CAL_SCALE, lsb, shunt)
        if not 0 < self.calibration <= CAL_MAX:
            raise ConfigError(f"{self.describe()}: current LSB {lsb:g} A with a {shunt:g} ohm "
                              f"shunt needs CAL {self.calibration}, outside 1..{CAL_MAX} "
                              "(SBOS547A 7.6.6). Hint: pick a larger current_lsb_a")
        self.current_lsb_effective_a = CAL_SCALE / (self.calibration * shunt)

    def config_value(self, mode: int = MODE_CONTINUOUS) -> int:
        return compose({FIXED: FIXED_VALUE, AVG: self._avg, VBUSCT: self._ct, VSHCT: self._ct,
                        MODE: mode})

    def _open(self) -> None:
        device = self.connect()
        device.check_present()
        self._check_ids(MANUFACTURER_ID, DIE_ID, "INA226", "0x5449/0x3220 is an INA3221; an "
                        "INA219 has no ID registers (use the ina219 driver)")
        self.regs.write_fields({RST: 1})
        self.configure()

    def configure(self) -> None:
        self.write_checked(CALIBRATION, self.calibration)
        self.write_checked(CONFIG, self.config_value())
        self.clock.sleep(self.conversion_time_s())
        self._schedule.reset()

    def conversion_time_s(self) -> float:
        return 2 * CONVERSION_TIME_S[self._ct] * AVERAGES[self._avg]

    def measure(self) -> Reading:
        with self.device.lock:
            bus_raw = self.regs.read(BUS_VOLTAGE)
            shunt_raw = self.regs.read(SHUNT_VOLTAGE)
            current_raw = self.regs.read(CURRENT)
        over = abs(shunt_raw) >= SHUNT_FULL_SCALE
        return Reading(np.array([bus_raw * BUS_LSB_V]), np.array([shunt_raw * SHUNT_LSB_V]),
                       np.array([current_raw * self.current_lsb_effective_a]), (over,))
