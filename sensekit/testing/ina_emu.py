"""Emulated INA219, INA226 and INA3221 current monitors, encoded from their datasheets.

Each part converts continuously as its configuration register says, from the moment that
register was written: every conversion period the shunt and bus voltages at the middle of the
period are quantised to the part's LSBs and held at its full scale, and the INA219/INA226
compute their current and power registers from the programmed calibration with the datasheets'
integer arithmetic. Power-down freezes the registers; a power loss (or the RST bit) puts every
register back to its reset value, calibration 0 included, so current and power then read 0.
Register reads and writes follow the parts' 16-bit, MSB-first pointer protocol.

Nothing here comes from the drivers: each table below is typed from its document, so a driver
figure that disagrees shows up in ``tests/testing/test_witnesses.py``.

- INA219: TI SBOS448G (rev. December 2015). Registers and resets, Table 2 (sec. 8.6.1);
  configuration fields, Figure 19 and Tables 4-6 (sec. 8.6.2.1): BRNG bit 13, PG bits 12:11
  (40/80/160/320 mV), BADC bits 10:7, SADC bits 6:3 (``0X00`` 9-bit 84 us ... ``1111`` 128
  samples 68.10 ms; bit 3 is "don't care" when bit 4 is 0), MODE bits 2:0; shunt LSB 10 uV; bus
  bits 15:3 at 4 mV, CNVR bit 1 (cleared by reading Power), OVF bit 0 set "when the Power or
  Current calculations are out of range" (sec. 8.6.3.2); Current = Shunt x Cal / 4096, Power =
  Current x Bus / 5000 (sec. 8.5.1, eq. 4 and 5); calibration bit 0 is void and reads 0.
- INA226: TI SBOS547A. Registers and resets, Table 2 (sec. 7.6); configuration AVG bits 11:9,
  VBUSCT 8:6, VSHCT 5:3, MODE 2:0, bits 14:12 read 100 (sec. 7.6.1, Tables 6-9); shunt LSB
  2.5 uV to 81.92 mV, bus LSB 1.25 mV; Current = Shunt x CAL / 2048, Power = Current x Bus /
  20000 (sec. 7.5.1, eq. 3 and 4); Mask/Enable CVRF bit 3, OVF bit 2, cleared when read.
- INA3221: TI SBOS576B. Configuration CH1-3 enable bits 14:12, AVG 11:9, VBUSCT 8:6, VSHCT 5:3,
  MODE 2:0, reset 0x7127 (sec. 8.6.2.1); shunt and bus registers per channel at 0x01-0x06, bits
  15:3, LSB 40 uV and 8 mV (sec. 8.6.2.2-3); channels convert in turn (sec. 8.4.1); limits reset
  to 0x7FF8, IDs 0x5449 / 0x3220 (Table 3).

Feeding them::

    Ina219Emulator(current=lambda t: 0.2 + 0.1 * np.sin(t), voltage=5.0, shunt_ohm=0.1)
    Ina3221Emulator(current=[0.5, 0.2, -0.05], voltage=[12.0, 5.0, 3.3])   # per channel

``current`` and ``voltage`` are constants or vectorised functions of seconds since the part was
attached to its bus (``voltage`` is the bus voltage the part measures, at VIN- / VBUS). URL
options for ``emu://``: ``current_a``, ``voltage_v``, ``shunt_ohm`` (the resistor the driver is
told of; ``emu_shunt_ohm`` for a different one actually fitted), ``address``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import ConfigError
from .i2c_devices import Signal, WordRegisterDevice, _float_option, signal_value
from .regs import Bits, signed, unsigned

__all__ = ["Ina219Emulator", "Ina226Emulator", "Ina3221Emulator"]

Feed = Signal | float
CONFIG = 0x00
RST = Bits(CONFIG, 15)
MODE = Bits(CONFIG, 2, 0)
CONTINUOUS = 0b111


class _InaEmulator(WordRegisterDevice):
    """Shared by the three parts: signals, the conversion clock, reset and power-down."""

    default_address = 0x40
    channels: ClassVar[int] = 1
    read_only: ClassVar[frozenset[int]] = frozenset()

    def __init__(self, *, current: Feed | Sequence[Feed] = 0.1,
                 voltage: Feed | Sequence[Feed] = 5.0, shunt_ohm: float | Sequence[float] = 0.1,
                 address: int | None = None) -> None:
        self.current = _channels(current, self.channels)
        self.voltage = _channels(voltage, self.channels)
        self.shunt_ohm = [float(s) for s in _channels(shunt_ohm, self.channels)]
        self._conversions = 0
        self._start_ns = 0
        #: (start, end) host ns of every conversion window latched (tests of timestamps).
        self.windows: list[tuple[float, float]] = []
        super().__init__(address=address)

    @classmethod
    def _kwargs_from_options(cls, options: dict[str, str]) -> dict[str, Any]:
        shunts = options.get("emu_shunt_ohm") or options.get("shunt_ohm") or "0.1"
        try:
            values = [float(v) for v in shunts.split(",")]
        except ValueError:
            raise ConfigError(f"emulator option shunt_ohm={shunts!r} is not a number") from None
        return {"current": _float_option(options, "current_a", 0.1),
                "voltage": _float_option(options, "voltage_v", 5.0),
                "shunt_ohm": values[0] if len(values) == 1 else values}

    def attach(self, clock: Any) -> None:
        super().attach(clock)
        self._start_ns = self.t0_ns

    # -- the conversion clock -------------------------------------------------------------
    def conversion_time_s(self) -> float:
        raise NotImplementedError

    def update(self) -> None:
        if self.clock is None or MODE.of(self.regs[CONFIG]) != CONTINUOUS:
            return
        period_ns = self.conversion_time_s() * 1e9
        done = int((self.now_ns() - self._start_ns) // period_ns)
        if done > self._conversions:
            self._conversions = done
            end = self._start_ns + done * period_ns
            self.windows.append((end - period_ns, end))
            t_s = float(self.seconds(end - period_ns / 2))
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
        if reg == CONFIG and RST.of(value):
            self.reset_registers()  # RST: all registers to their reset values
            self._restart()
            return
        self.regs[reg] = value
        if reg == CONFIG:
            self._restart()

    def _restart(self) -> None:
        """Writing the configuration starts the conversions afresh."""
        self._start_ns = self.now_ns() if self.clock is not None else 0
        self._conversions = 0

    def power_on_reset(self) -> None:
        super().power_on_reset()
        self._restart()


def _channels(value: Any, n: int) -> list[Any]:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"expected {n} channel values, got {len(value)}")
        return list(value)
    return [value] * n


def _held(value: float, limit: int) -> int:
    """``value`` rounded and held within +-limit (an ADC at its full scale)."""
    return max(-limit, min(limit, round(value)))


def _toward_zero(value: float) -> int:
    return math.trunc(value)  # the parts' arithmetic truncates toward zero


# -- INA219 -----------------------------------------------------------------------------------
I219_BRNG, I219_PG = Bits(CONFIG, 13), Bits(CONFIG, 12, 11)
I219_BADC, I219_SADC = Bits(CONFIG, 10, 7), Bits(CONFIG, 6, 3)
#: PG code -> shunt full scale in 10 uV counts (40, 80, 160, 320 mV; Table 4).
I219_SHUNT_FULL_SCALE = {0b00: 4000, 0b01: 8000, 0b10: 16000, 0b11: 32000}
#: ADC code -> conversion time in us (Table 6); codes 0X00-0X11 ignore bit 3.
I219_ADC_US = {0b0000: 84, 0b0001: 148, 0b0010: 276, 0b0011: 532, 0b1000: 532, 0b1001: 1060,
               0b1010: 2130, 0b1011: 4260, 0b1100: 8510, 0b1101: 17020, 0b1110: 34050,
               0b1111: 68100}
I219_SHUNT_V, I219_BUS_V = 10e-6, 4e-3
#: Bus voltage register (8.6.3.2): BD [15:3], CNVR [1], OVF [0].
I219_BD, I219_CNVR, I219_OVF = Bits(0x02, 15, 3), Bits(0x02, 1), Bits(0x02, 0)
#: An ADC code (Table 6): bit 3 set selects averaging, clear a resolution in bits [1:0].
ADC_AVERAGING, ADC_RESOLUTION = Bits(0, 3), Bits(0, 1, 0)


def _ina219_adc_us(code: int) -> int:
    return I219_ADC_US[code if ADC_AVERAGING.of(code) else ADC_RESOLUTION.of(code)]


class Ina219Emulator(_InaEmulator):
    """The INA219 (SBOS448G)."""

    resets: ClassVar[dict[int, int]] = {0x00: 0x399F, 0x01: 0, 0x02: 0, 0x03: 0, 0x04: 0,
                                        0x05: 0}
    read_only = frozenset({0x01, 0x02, 0x03, 0x04})

    def conversion_time_s(self) -> float:
        config = self.regs[CONFIG]
        return (_ina219_adc_us(I219_BADC.of(config)) + _ina219_adc_us(I219_SADC.of(config))) \
            * 1e-6

    def convert(self, bus_v: list[float], shunt_v: list[float]) -> None:
        config = self.regs[CONFIG]
        shunt = _held(shunt_v[0] / I219_SHUNT_V, I219_SHUNT_FULL_SCALE[I219_PG.of(config)])
        bus_max = 8000 if I219_BRNG.of(config) else 4000    # 32 V or 16 V at 4 mV
        bus = max(0, min(bus_max, round(bus_v[0] / I219_BUS_V)))
        cal = self.regs[0x05]
        current = _toward_zero(shunt * cal / 4096)            # eq. 4
        power = _toward_zero(abs(current) * bus / 5000)       # eq. 5
        overflow = not -32768 <= current <= 32767 or power > 0xFFFF
        self.regs[0x01] = unsigned(shunt, 16)
        self.regs[0x02] = I219_OVF.into(I219_CNVR.into(I219_BD.into(0, bus), 1), int(overflow))
        self.regs[0x04] = unsigned(max(-32768, min(32767, current)), 16)
        self.regs[0x03] = min(power, 0xFFFF)

    def write_register(self, reg: int, value: int) -> None:
        if reg == 0x05:
            value -= value % 2  # "FS0 is a void bit and will always be 0"
        super().write_register(reg, value)

    def read_register(self, reg: int) -> int:
        value = super().read_register(reg)
        if reg == 0x03:
            self.regs[0x02] = I219_CNVR.into(self.regs[0x02], 0)  # reading Power clears it
        return value


# -- INA226 -----------------------------------------------------------------------------------
I226_AVG, I226_VBUSCT, I226_VSHCT = Bits(CONFIG, 11, 9), Bits(CONFIG, 8, 6), Bits(CONFIG, 5, 3)
I226_FIXED = Bits(CONFIG, 14, 12)
#: Conversion time codes (us) and averaging codes, SBOS547A Tables 6-8.
I226_CT_US = (140, 204, 332, 588, 1100, 2116, 4156, 8244)
I226_AVERAGES = (1, 4, 16, 64, 128, 256, 512, 1024)
I226_SHUNT_V, I226_BUS_V = 2.5e-6, 1.25e-3
MASK_ENABLE = 0x06
I226_CVRF, I226_OVF = Bits(MASK_ENABLE, 3), Bits(MASK_ENABLE, 2)


class Ina226Emulator(_InaEmulator):
    """The INA226 (SBOS547A)."""

    resets: ClassVar[dict[int, int]] = {0x00: 0x4127, 0x01: 0, 0x02: 0, 0x03: 0, 0x04: 0,
                                        0x05: 0, 0x06: 0, 0x07: 0, 0xFE: 0x5449, 0xFF: 0x2260}
    read_only = frozenset({0x01, 0x02, 0x03, 0x04, 0xFE, 0xFF})

    def conversion_time_s(self) -> float:
        config = self.regs[CONFIG]
        return (I226_CT_US[I226_VBUSCT.of(config)] + I226_CT_US[I226_VSHCT.of(config)]) * \
            I226_AVERAGES[I226_AVG.of(config)] * 1e-6

    def convert(self, bus_v: list[float], shunt_v: list[float]) -> None:
        shunt = _held(shunt_v[0] / I226_SHUNT_V, 32767)
        bus = max(0, min(0x7FFF, round(bus_v[0] / I226_BUS_V)))
        cal = self.regs[0x05] % 0x8000
        current = _toward_zero(shunt * cal / 2048)             # eq. 3
        power = _toward_zero(abs(current) * bus / 20000)       # eq. 4
        overflow = not -32768 <= current <= 32767 or power > 0xFFFF
        self.regs[0x01] = unsigned(shunt, 16)
        self.regs[0x02] = bus
        self.regs[0x04] = unsigned(max(-32768, min(32767, current)), 16)
        self.regs[0x03] = min(power, 0xFFFF)
        flags = I226_CVRF.into(self.regs[MASK_ENABLE], 1)
        self.regs[MASK_ENABLE] = I226_OVF.into(flags, int(overflow))

    def write_register(self, reg: int, value: int) -> None:
        if reg == CONFIG and not RST.of(value):
            value = I226_FIXED.into(value, 0b100)  # bits 14:12 always read 100
        super().write_register(reg, value)

    def read_register(self, reg: int) -> int:
        value = super().read_register(reg)
        if reg == MASK_ENABLE:
            self.regs[MASK_ENABLE] = I226_CVRF.into(value, 0)  # cleared by reading it
        return value


# -- INA3221 ----------------------------------------------------------------------------------
I3221_CH_EN = Bits(CONFIG, 14, 12)
#: CH1en [14], CH2en [13], CH3en [12] (8.6.2.1).
I3221_CH_EN_BY_CHANNEL = (Bits(CONFIG, 14), Bits(CONFIG, 13), Bits(CONFIG, 12))
I3221_SHUNT_V, I3221_BUS_V = 40e-6, 8e-3
I3221_LIMIT = 4095        # 13-bit two's complement in bits 15:3


class Ina3221Emulator(_InaEmulator):
    """The INA3221 (SBOS576B): three channels, no current or power registers."""

    channels = 3
    resets: ClassVar[dict[int, int]] = {
        0x00: 0x7127, **{reg: 0 for reg in range(0x01, 0x07)},
        **{reg: 0x7FF8 for reg in range(0x07, 0x0D)}, 0x0D: 0, 0x0E: 0x7FF8, 0x0F: 0x0002,
        0x10: 0x2710, 0x11: 0x2328, 0xFE: 0x5449, 0xFF: 0x3220}
    read_only = frozenset({*range(0x01, 0x07), 0xFE, 0xFF})

    def _enabled(self) -> list[int]:
        config = self.regs[CONFIG]
        return [ch for ch in range(3) if I3221_CH_EN_BY_CHANNEL[ch].of(config)]

    def conversion_time_s(self) -> float:
        config = self.regs[CONFIG]
        per = (I226_CT_US[I226_VBUSCT.of(config)] + I226_CT_US[I226_VSHCT.of(config)]) * \
            I226_AVERAGES[I226_AVG.of(config)] * 1e-6  # the same codes as the INA226
        return max(1, len(self._enabled())) * per

    def convert(self, bus_v: list[float], shunt_v: list[float]) -> None:
        for ch in self._enabled():
            shunt = _held(shunt_v[ch] / I3221_SHUNT_V, I3221_LIMIT)
            bus = max(0, min(I3221_LIMIT, round(bus_v[ch] / I3221_BUS_V)))
            self.regs[2 * ch + 1] = unsigned(shunt * 8, 16)
            self.regs[2 * ch + 2] = bus * 8

    @staticmethod
    def shunt_counts(raw: int) -> int:
        """The signed count in bits 15:3 of a shunt register value."""
        return signed(raw, 16) // 8
