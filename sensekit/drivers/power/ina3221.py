"""TI INA3221 three-channel shunt and bus voltage monitor over I2C.

Usage::

    rails = sensekit.open("ina3221", "i2c://1/0x40", shunt_ohm=0.1, rails="VIN,5V,3V3")
    p = rails.read()      # p["voltage_v"], p["current_a"], p["power_w"] are (1, 3)

The part has no current or power registers: current is the shunt voltage over the shunt
resistance, power the bus voltage times that, both computed here (signed).

Source: TI "INA3221 Triple-Channel, High-Side Measurement, Shunt and Bus Voltage Monitor with
I2C- and SMBUS-Compatible Interface", SBOS576B (revised March 2016). Identified by manufacturer
ID 0x5449 and die ID 0x3220 (sec. 8.6.2.17/18). A shunt voltage at full scale (163.8 mV)
marks that rail over range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..registers import Field, Register, compose
from .ina import InaDriver, Reading
from .ina226 import AVERAGES, CONVERSION_TIME_S, averaging_codes

__all__ = ["Ina3221"]

_DS = "INA3221 datasheet SBOS576B"
CONFIG = Register("CONFIG", 0x00, width=2, reset=0x7127, source=f"{_DS}, 8.6.2.1, p. 26")
RST = Field(CONFIG, 15)
CH_EN = Field(CONFIG, 12, 3)     # bit 14 channel 1, 13 channel 2, 12 channel 3
AVG = Field(CONFIG, 9, 3)
VBUSCT = Field(CONFIG, 6, 3)
VSHCT = Field(CONFIG, 3, 3)
MODE = Field(CONFIG, 0, 3)
MANUFACTURER_ID = Register("MANUFACTURER_ID", 0xFE, width=2, reset=0x5449, read_only=True,
                           source=f"{_DS}, 8.6.2.17, p. 34")
DIE_ID = Register("DIE_ID", 0xFF, width=2, reset=0x3220, read_only=True,
                  source=f"{_DS}, 8.6.2.18, p. 34")
#: Shunt-voltage sum-limit register: used only when channels are summed (not here), so its
#: value can mark a configured part; its reset value (0x7FF8) marks one that lost power, whose
#: configuration reads the same as sensekit's default (8.6.2.13, p. 32).
SUM_LIMIT = Register("SUM_LIMIT", 0x0E, width=2, reset=0x7FF8, source=f"{_DS}, 8.6.2.13, p. 32")
SUM_LIMIT_MARK = 0x7FF0
ALL_CHANNELS = 0b111


def shunt_register(channel: int) -> Register:
    """Channel ``channel`` (1-3) shunt voltage: bits 15:3, LSB 40 uV (8.6.2.2, p. 28)."""
    return Register(f"CH{channel}_SHUNT", 2 * channel - 1, width=2, read_only=True,
                    source=f"{_DS}, 8.6.2.2, p. 28")


def bus_register(channel: int) -> Register:
    """Channel ``channel`` (1-3) bus voltage: bits 15:3, LSB 8 mV (8.6.2.3, p. 28)."""
    return Register(f"CH{channel}_BUS", 2 * channel, width=2, read_only=True,
                    source=f"{_DS}, 8.6.2.3, p. 28")


SHUNT_LSB_V = 40e-6
BUS_LSB_V = 8e-3
SHUNT_FULL_SCALE = 4095           # 13-bit signed: +-163.8 mV
MODE_POWER_DOWN, MODE_CONTINUOUS = 0b000, 0b111   # 8.6.2.1, Table 7


#: Left-aligned 13-bit results: the signed value sits in bits 15:3 of every shunt and bus
#: register (8.6.2.2-3).
RESULT = Field(shunt_register(1), 3, 13, signed=True)


def decode_left_aligned(raw: int) -> int:
    """The signed 13-bit value held in bits 15:3 (shunt and bus registers)."""
    return RESULT.get(raw)


class Ina3221(InaDriver):
    """The INA3221, three rails from one part.

    Args:
        url: ``i2c://BUS/0x40`` (0x40 to 0x43 by the A0 pin) or ``emu://``.
        averages: Samples averaged per result (1, 4, 16, 64, 128, 256, 512, 1024).
        conversion_time_s: Per conversion (140e-6 ... 8.244e-3).
        **kwargs: See :class:`~sensekit.drivers.power.ina.InaDriver` (``shunt_ohm`` one value
            or three, ``rails`` three names).
    """

    name = "ina3221"
    power_model = "ina3221"
    mode_field = MODE
    mode_power_down, mode_continuous = MODE_POWER_DOWN, MODE_CONTINUOUS
    channels = 3
    #: Up to one result per fastest pass over three channels (6 x 140 us, 8.6.2.1).
    rate_range_hz = (1e-3, 1 / (6 * 140e-6))
    checked_registers = (CONFIG, SUM_LIMIT)

    def __init__(self, url: str, *, averages: int = 1, conversion_time_s: float = 1.1e-3,
                 **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._avg, self._ct = averaging_codes(self.describe(), averages, conversion_time_s)

    def config_value(self, mode: int = MODE_CONTINUOUS) -> int:
        return compose({CH_EN: ALL_CHANNELS, AVG: self._avg, VBUSCT: self._ct, VSHCT: self._ct,
                        MODE: mode})

    def _open(self) -> None:
        device = self.connect()
        device.check_present()
        self._check_ids(MANUFACTURER_ID, DIE_ID, "INA3221", "0x5449/0x2260 is an INA226")
        self.regs.write_fields({RST: 1})
        self.configure()

    def configure(self) -> None:
        self.write_checked(SUM_LIMIT, SUM_LIMIT_MARK)
        self.write_checked(CONFIG, self.config_value())
        self.clock.sleep(self.conversion_time_s())
        self._schedule.reset()

    def conversion_time_s(self) -> float:
        return 3 * 2 * CONVERSION_TIME_S[self._ct] * AVERAGES[self._avg]

    def measure(self) -> Reading:
        bus, shunt, over = np.zeros(3), np.zeros(3), []
        with self.device.lock:
            for ch in (1, 2, 3):
                counts = decode_left_aligned(self.regs.read(shunt_register(ch)))
                shunt[ch - 1] = counts * SHUNT_LSB_V
                over.append(abs(counts) >= SHUNT_FULL_SCALE)
                bus[ch - 1] = decode_left_aligned(self.regs.read(bus_register(ch))) * BUS_LSB_V
        return Reading(bus, shunt, shunt / np.asarray(self.shunt_ohm), tuple(over))
