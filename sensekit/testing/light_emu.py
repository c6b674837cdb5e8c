"""Emulated BH1750 and VEML7700 light sensors, fed a light level.

``lux`` is a constant or a vectorised function of seconds since the part was attached to its
bus: ``Bh1750Emulator(lux=lambda t: 300 + 200 * np.sin(t / 60))``. URL option for ``emu://``:
``lux``, and ``address``.

BH1750 (ROHM BH1750FVI Rev.D): opcodes only, no registers; after power-on the data register
reads 0; a continuous mode yields a new result every measurement time (typical: 120 ms high
resolution, 16 ms low, scaled by MTreg / 69); a one-time mode yields one result after that time
and powers down by itself; a read before the first result returns the previous value; RESET is
ignored while powered down; results saturate at 65535.

VEML7700 (Vishay 84286): 16-bit LSB-first registers; a result every integration time while
ALS_SD is 0; counts = lux / resolution; with ALS_INT_EN, a result above ALS_WH or below ALS_WL
for the persistence count sets ALS_INT bit 14 or 15, cleared when read.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..drivers.light import bh1750 as b
from ..drivers.light import veml7700 as v
from .i2c_devices import I2CEmulator, Signal, WordRegisterDevice, _float_option, signal_value

__all__ = ["Bh1750Emulator", "Veml7700Emulator"]

Feed = Signal | float
_OPCODE_MODES = {spec[0]: name for name, spec in b.MODES.items()}


class Bh1750Emulator(I2CEmulator):
    """The BH1750 behind an emulated bus.

    Args:
        lux: Illuminance at the sensor (constant or function of seconds).
        address: 0x23 (ADDR low) or 0x5C (ADDR high).
    """

    default_address = 0x23

    def __init__(self, *, lux: Feed = 300.0, address: int | None = None) -> None:
        super().__init__(address=address)
        self.lux = lux
        self.powered = False
        self.mode: str | None = None
        self.mtreg = b.MT_DEFAULT
        self.data = 0
        self._start_ns = 0
        self._results = 0
        self._mt_high = b.MT_DEFAULT >> 5

    @classmethod
    def _kwargs_from_options(cls, options: dict[str, str]) -> dict[str, Any]:
        return {"lux": _float_option(options, "lux", 300.0)}

    def _period_ns(self) -> float:
        assert self.mode is not None
        return b.MODES[self.mode][2] * self.mtreg / b.MT_DEFAULT * 1e9

    def update(self) -> None:
        if self.mode is None or not self.powered:
            return
        done = int((self.now_ns() - self._start_ns) // self._period_ns())
        if done <= self._results:
            return
        if b.MODES[self.mode][1]:  # one-time: one result, then power down by itself
            done = 1
        t_s = float(self.seconds(self._start_ns + done * self._period_ns()))
        lux = max(0.0, signal_value(self.lux, t_s))
        count = lux / b.lux_from_count(1, self.mode, self.mtreg)
        if self.mode.endswith("_low"):
            count = round(count / 4) * 4  # 4 lx resolution
        self.data = min(0xFFFF, round(count))
        self._results = done
        if b.MODES[self.mode][1]:
            self.powered, self.mode = False, None

    def i2c_write(self, data: bytes) -> None:
        self.update()
        for opcode in data:
            self._command(opcode)

    def _command(self, opcode: int) -> None:
        if opcode == b.POWER_DOWN:
            self.powered = False
        elif opcode == b.POWER_ON:
            self.powered = True
        elif opcode == b.RESET:
            if self.powered:
                self.data = 0
        elif opcode & 0xF8 == b.CHANGE_MT_HIGH:
            self._mt_high = opcode & 0x07
        elif opcode & 0xE0 == b.CHANGE_MT_LOW:
            self.mtreg = self._mt_high << 5 | opcode & 0x1F
        elif opcode in _OPCODE_MODES:
            self.powered, self.mode = True, _OPCODE_MODES[opcode]
            self._start_ns, self._results = self.now_ns(), 0

    def i2c_read(self, length: int) -> bytes:
        self.update()
        return self.data.to_bytes(2, "big")[:length].ljust(length, b"\xff")


class Veml7700Emulator(WordRegisterDevice):
    """The VEML7700 behind an emulated bus.

    Args:
        lux: Illuminance at the sensor (constant or function of seconds).
        address: 0x10 (the only one the part has).
    """

    default_address = 0x10
    byteorder = "little"
    resets: ClassVar[dict[int, int]] = {0x00: 0x0001, 0x01: 0, 0x02: 0, 0x03: 0, 0x04: 0,
                                        0x05: 0, 0x06: 0, 0x07: 0xC481}
    read_only = frozenset({0x04, 0x05, 0x06, 0x07})

    def __init__(self, *, lux: Feed = 300.0, address: int | None = None) -> None:
        self.lux = lux
        self._start_ns = 0
        self._results = 0
        self._outside = 0
        super().__init__(address=address)

    @classmethod
    def _kwargs_from_options(cls, options: dict[str, str]) -> dict[str, Any]:
        return {"lux": _float_option(options, "lux", 300.0)}

    def _it_ns(self) -> float:
        return v.INTEGRATION_MS.get(v.ALS_IT.get(self.regs[0x00]), 100) * 1e6

    def update(self) -> None:
        conf = self.regs[0x00]
        if v.ALS_SD.get(conf) or self.clock is None:
            return
        done = int((self.now_ns() - self._start_ns) // self._it_ns())
        for k in range(max(self._results + 1, done - 8), done + 1):  # the last few matter
            self._result(float(self.seconds(self._start_ns + k * self._it_ns())), conf)
        self._results = max(self._results, done)

    def _result(self, t_s: float, conf: int) -> None:
        per_count = v.resolution_lux(v.GAINS[v.ALS_GAIN.get(conf)],
                                     v.INTEGRATION_MS.get(v.ALS_IT.get(conf), 100))
        counts = min(0xFFFF, max(0, round(signal_value(self.lux, t_s) / per_count)))
        self.regs[0x04] = counts
        self.regs[0x05] = counts  # white channel: same light, no spectral model
        if not v.ALS_INT_EN.get(conf):
            return
        high, low = counts > self.regs[0x01], counts < self.regs[0x02]
        self._outside = self._outside + 1 if (high or low) else 0
        if self._outside >= 1 << v.ALS_PERS.get(conf):
            self.regs[0x06] |= (1 << v.INT_TH_HIGH.lsb) if high else (1 << v.INT_TH_LOW.lsb)

    def write_register(self, reg: int, value: int) -> None:
        if reg in self.read_only or reg not in self.regs:
            return
        if reg == 0x00 and v.ALS_SD.get(self.regs[0x00]) and not v.ALS_SD.get(value):
            self._start_ns, self._results = self.now_ns(), 0  # measuring starts now
        self.regs[reg] = value

    def read_register(self, reg: int) -> int:
        value = super().read_register(reg)
        if reg == 0x06:
            self.regs[0x06] = 0
        return value
