"""Emulated INA219, INA226 and INA3221 current monitors, fed a current and voltage waveform.

Each part converts continuously as its configuration register says: every conversion period
the shunt and bus voltages of the signals at that moment are quantised to the part's LSBs,
saturated at its full scale, and the INA219/INA226 compute their current and power registers
from the programmed calibration with the datasheet's integer formulas (SBOS448G 8.5.1 eq. 4-5,
SBOS547A 7.5.1 eq. 3-4). Power-down mode freezes the registers. Register reads and writes
follow the parts' 16-bit, MSB-first pointer protocol.

Feeding them::

    Ina219Emulator(current=lambda t: 0.2 + 0.1 * np.sin(t), voltage=5.0, shunt_ohm=0.1)
    Ina3221Emulator(current=[0.5, 0.2, -0.05], voltage=[12.0, 5.0, 3.3])   # per channel

``current`` and ``voltage`` are constants or vectorised functions of seconds since the part was
attached to its bus. URL options for ``emu://``: ``current_a``, ``voltage_v``, ``shunt_ohm``
(the resistor actually fitted), ``address``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..drivers.power import ina219 as r219
from ..drivers.power import ina226 as r226
from ..drivers.power import ina3221 as r3221
from ..drivers.registers import to_unsigned
from ..errors import ConfigError
from .i2c_devices import Signal, WordRegisterDevice, _float_option, signal_value

__all__ = ["Ina219Emulator", "Ina226Emulator", "Ina3221Emulator"]

Feed = Signal | float


class _InaEmulator(WordRegisterDevice):
    """Shared by the three parts: signals, the conversion clock and power-down."""

    default_address = 0x40
    channels: ClassVar[int] = 1
    config_reset: ClassVar[int] = 0
    read_only: ClassVar[frozenset[int]] = frozenset()

    def __init__(self, *, current: Feed | Sequence[Feed] = 0.1,
                 voltage: Feed | Sequence[Feed] = 5.0, shunt_ohm: float | Sequence[float] = 0.1,
                 address: int | None = None) -> None:
        self.current = _channels(current, self.channels)
        self.voltage = _channels(voltage, self.channels)
        self.shunt_ohm = [float(s) for s in _channels(shunt_ohm, self.channels)]
        self._conversions = 0
        super().__init__(address=address)

    @classmethod
    def _kwargs_from_options(cls, options: dict[str, str]) -> dict[str, Any]:
        # The resistor fitted is the one the driver is told about, unless emu_shunt_ohm says
        # otherwise (to emulate a wrong shunt setting).
        shunts = options.get("emu_shunt_ohm") or options.get("shunt_ohm") or "0.1"
        try:
            values = [float(v) for v in shunts.split(",")]
        except ValueError:
            raise ConfigError(f"emulator option shunt_ohm={shunts!r} is not a number") from None
        return {"current": _float_option(options, "current_a", 0.1),
                "voltage": _float_option(options, "voltage_v", 5.0),
                "shunt_ohm": values[0] if len(values) == 1 else values}

    # -- the conversion clock -------------------------------------------------------------
    def conversion_time_s(self) -> float:
        raise NotImplementedError

    def _mode(self) -> int:
        return self.regs[0x00] & 0b111

    def update(self) -> None:
        if self.clock is None or self._mode() != 0b111:
            return
        period_ns = self.conversion_time_s() * 1e9
        done = int((self.now_ns() - self.t0_ns) // period_ns)
        if done > self._conversions:
            self._conversions = done
            t_s = done * period_ns * 1e-9
            volts = [signal_value(v, t_s) for v in self.voltage]
            amps = [signal_value(i, t_s) for i in self.current]
            shunt = [a * r for a, r in zip(amps, self.shunt_ohm, strict=True)]
            self.convert(volts, shunt)

    def convert(self, bus_v: list[float], shunt_v: list[float]) -> None:
        """Latch one conversion of bus and shunt voltages into the registers."""
        raise NotImplementedError

    def write_register(self, reg: int, value: int) -> None:
        if reg in self.read_only or reg not in self.regs:
            return
        if reg == 0x00 and value & 0x8000:
            self.reset_registers()  # RST: all registers to their reset values
            return
        self.regs[reg] = value


def _channels(value: Any, n: int) -> list[Any]:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"expected {n} channel values, got {len(value)}")
        return list(value)
    return [value] * n


def _clip(value: float, limit: int) -> tuple[int, bool]:
    """``value`` rounded and held within +-limit; and whether it had to be held."""
    rounded = round(value)
    return max(-limit, min(limit, rounded)), abs(rounded) > limit


def _trunc(value: float) -> int:
    return int(value)  # the parts' arithmetic truncates toward zero


class Ina219Emulator(_InaEmulator):
    """The INA219 (SBOS448G)."""

    resets: ClassVar[dict[int, int]] = {0x00: r219.CONFIG.reset or 0, 0x01: 0, 0x02: 0,
                                        0x03: 0, 0x04: 0, 0x05: 0}
    read_only = frozenset({0x01, 0x02, 0x03, 0x04})

    def conversion_time_s(self) -> float:
        config = self.regs[0x00]
        return r219.ADC_TIME_S.get(r219.BADC.get(config), 532e-6) + \
            r219.ADC_TIME_S.get(r219.SADC.get(config), 532e-6)

    def convert(self, bus_v: list[float], shunt_v: list[float]) -> None:
        config = self.regs[0x00]
        full_scale = round(r219.PGA_RANGE_V[r219.PG.get(config)] / r219.SHUNT_LSB_V)
        shunt, over = _clip(shunt_v[0] / r219.SHUNT_LSB_V, full_scale)
        bus_max = 8000 if r219.BRNG.get(config) else 4000    # 32 V or 16 V at 4 mV
        bus = max(0, min(bus_max, round(bus_v[0] / r219.BUS_LSB_V)))
        cal = self.regs[0x05] & 0xFFFE
        current = _trunc(shunt * cal / 4096)                 # 8.5.1 eq. 4
        power = _trunc(abs(current) * bus / 5000)            # 8.5.1 eq. 5
        ovf = over or not -32768 <= current <= 32767 or power > 0xFFFF
        self.regs[0x01] = to_unsigned(shunt, 16)
        self.regs[0x02] = bus << 3 | 1 << 1 | int(ovf)       # CNVR set, OVF when out of range
        self.regs[0x04] = to_unsigned(max(-32768, min(32767, current)), 16)
        self.regs[0x03] = min(power, 0xFFFF)

    def read_register(self, reg: int) -> int:
        value = super().read_register(reg)
        if reg == 0x03:
            self.regs[0x02] &= ~0b10  # reading Power clears CNVR (8.6.3.2)
        return value


class Ina226Emulator(_InaEmulator):
    """The INA226 (SBOS547A)."""

    resets: ClassVar[dict[int, int]] = {0x00: r226.CONFIG.reset or 0, 0x01: 0, 0x02: 0,
                                        0x03: 0, 0x04: 0, 0x05: 0, 0x06: 0, 0x07: 0,
                                        0xFE: 0x5449, 0xFF: 0x2260}
    read_only = frozenset({0x01, 0x02, 0x03, 0x04, 0xFE, 0xFF})

    def conversion_time_s(self) -> float:
        config = self.regs[0x00]
        ct = r226.CONVERSION_TIME_S
        return (ct[r226.VBUSCT.get(config)] + ct[r226.VSHCT.get(config)]) * \
            r226.AVERAGES[r226.AVG.get(config)]

    def convert(self, bus_v: list[float], shunt_v: list[float]) -> None:
        shunt, _ = _clip(shunt_v[0] / r226.SHUNT_LSB_V, 32767)
        bus = max(0, min(0x7FFF, round(bus_v[0] / r226.BUS_LSB_V)))
        cal = self.regs[0x05] & 0x7FFF
        current = max(-32768, min(32767, _trunc(shunt * cal / 2048)))   # 7.5.1 eq. 3
        power = min(0xFFFF, _trunc(abs(current) * bus / 20000))          # 7.5.1 eq. 4
        self.regs[0x01] = to_unsigned(shunt, 16)
        self.regs[0x02] = bus
        self.regs[0x04] = to_unsigned(current, 16)
        self.regs[0x03] = power
        self.regs[0x06] |= 1 << r226.CVRF.lsb

    def write_register(self, reg: int, value: int) -> None:
        if reg == 0x00 and not value & 0x8000:
            value = (value & ~0x7000) | 0x4000  # bits 14:12 always read 100
        super().write_register(reg, value)

    def read_register(self, reg: int) -> int:
        value = super().read_register(reg)
        if reg == 0x06:
            self.regs[0x06] &= ~(1 << r226.CVRF.lsb)  # cleared by reading Mask/Enable
        return value


class Ina3221Emulator(_InaEmulator):
    """The INA3221 (SBOS576B): three channels, no current or power registers."""

    channels = 3
    resets: ClassVar[dict[int, int]] = {
        0x00: r3221.CONFIG.reset or 0, **{reg: 0 for reg in range(0x01, 0x07)},
        **{reg: 0x7FF8 for reg in range(0x07, 0x0D)}, 0x0D: 0, 0x0E: 0x7FF8, 0x0F: 0x0002,
        0x10: 0x2710, 0x11: 0x2328, 0xFE: 0x5449, 0xFF: 0x3220}
    read_only = frozenset({*range(0x01, 0x07), 0xFE, 0xFF})

    def conversion_time_s(self) -> float:
        config = self.regs[0x00]
        ct = r226.CONVERSION_TIME_S
        enabled = max(1, bin(r3221.CH_EN.get(config)).count("1"))
        return enabled * (ct[r3221.VBUSCT.get(config)] + ct[r3221.VSHCT.get(config)]) * \
            r226.AVERAGES[r3221.AVG.get(config)]

    def convert(self, bus_v: list[float], shunt_v: list[float]) -> None:
        enabled = r3221.CH_EN.get(self.regs[0x00])
        for ch in range(3):
            if not enabled & (0b100 >> ch):
                continue
            shunt, _ = _clip(shunt_v[ch] / r3221.SHUNT_LSB_V, 4095)
            bus = max(0, min(4095, round(bus_v[ch] / r3221.BUS_LSB_V)))
            self.regs[2 * ch + 1] = to_unsigned(shunt << 3, 16)
            self.regs[2 * ch + 2] = bus << 3
