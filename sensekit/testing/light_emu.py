"""Emulated BH1750 and VEML7700 light sensors, encoded from their datasheets, fed a light level.

``lux`` is a constant or a vectorised function of seconds since the part was attached to its
bus: ``Bh1750Emulator(lux=lambda t: 300 + 200 * np.sin(t / 60))``. URL options for ``emu://``:
``lux`` and ``address``.

Nothing here comes from the drivers: the tables below are typed from the documents, so a wrong
figure in a driver shows up as a disagreement (``tests/testing/test_witnesses.py``).

BH1750 (ROHM "BH1750FVI" datasheet 2011.11 Rev.D): opcodes only, no registers (p. 5); after
power-on the part is powered down, MTreg is 69 and the data register reads 0; a continuous mode
yields a new result every measurement time (typical 120 ms high resolution, 16 ms low, p. 2,
scaled by MTreg / 69, p. 11); a one-time mode yields one result and powers down; a read before
the first result returns the previous value; RESET clears the data register and is ignored
while powered down (p. 5); results saturate at 65535; lux = count / 1.2 x 69 / MTreg (p. 7),
half that in H-resolution mode 2 (p. 11).

VEML7700 (Vishay "VEML7700" datasheet, document 84286, and application note 84323 "Designing
the VEML7700 Into an Application"): 16-bit registers sent LSB first; ALS_CONF_0 at 0x00 with
ALS_GAIN [12:11], ALS_IT [9:6], ALS_PERS [5:4], ALS_INT_EN [1], ALS_SD [0], power-on value
0x0001 (shut down); thresholds 0x01/0x02; results ALS 0x04, WHITE 0x05; interrupt flags 0x06
(bit 15 low, bit 14 high, cleared when read); ID 0x07 (0x81 in the low byte). A result every
integration time while ALS_SD is 0; a change of gain or integration time restarts the
integration, and the result registers keep the previous result until the first one at the new
setting. The resolution per gain and integration time is the application note's table (0.0042
lx/count at gain 2 and 800 ms; datasheet rev. 1.7 and Vishay's change notice withdrew the
earlier 0.0036). The part's response is not linear at high illuminance: the application note's
correction ``lux = 6.0135e-13 x^4 - 9.3924e-9 x^3 + 8.1488e-5 x^2 + 1.0023 x`` turns a linear
reading ``x`` into the illuminance, so the emulated part reports the linear reading whose
correction is the light it is fed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .i2c_devices import I2CEmulator, Signal, WordRegisterDevice, _float_option, signal_value
from .regs import Bits

__all__ = ["VEML7700_RESOLUTION", "Bh1750Emulator", "Veml7700Emulator", "veml7700_linear"]

Feed = Signal | float

# -- BH1750 (Rev.D) ---------------------------------------------------------------------------
BH_POWER_DOWN, BH_POWER_ON, BH_RESET = 0b0000_0000, 0b0000_0001, 0b0000_0111     # p. 5
#: opcode -> (mode name, one-time, typical measurement time s, counts per lx at MTreg 69).
BH_MODES: dict[int, tuple[str, bool, float, float]] = {
    0b0001_0000: ("continuous_high", False, 0.120, 1.2),
    0b0001_0001: ("continuous_high2", False, 0.120, 2.4),
    0b0001_0011: ("continuous_low", False, 0.016, 1.2),
    0b0010_0000: ("one_time_high", True, 0.120, 1.2),
    0b0010_0001: ("one_time_high2", True, 0.120, 2.4),
    0b0010_0011: ("one_time_low", True, 0.016, 1.2),
}
BH_MT_HIGH = Bits(0, 7, 3), 0b01000       # "Change Measurement time (High bit)": 01000_MT[7:5]
BH_MT_LOW = Bits(0, 7, 5), 0b011          # "Change Measurement time (Low bit)": 011_MT[4:0]
BH_MT_POWER_ON = 69                       # p. 11
#: The measurement-time register's halves (p. 11) and where each opcode carries them.
MTREG_HIGH, MTREG_LOW = Bits(0, 7, 5), Bits(0, 4, 0)
OPCODE_MT_HIGH, OPCODE_MT_LOW = Bits(0, 2, 0), Bits(0, 4, 0)
BH_L_RESOLUTION_COUNTS = 4                # L-resolution mode: 4 lx steps (p. 5), about 4 counts


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
        self._power_on_state()

    def _power_on_state(self) -> None:
        self.powered = False
        self.opcode: int | None = None
        self.mtreg = BH_MT_POWER_ON
        self.data = 0
        self._start_ns = 0
        self._results = 0
        self._mt_high = MTREG_HIGH.of(BH_MT_POWER_ON)

    @classmethod
    def _kwargs_from_options(cls, options: dict[str, str]) -> dict[str, Any]:
        return {"lux": _float_option(options, "lux", 300.0)}

    def power_on_reset(self) -> None:
        super().power_on_reset()
        self._power_on_state()

    @property
    def mode(self) -> str | None:
        return None if self.opcode is None else BH_MODES[self.opcode][0]

    def _period_ns(self) -> float:
        assert self.opcode is not None
        return BH_MODES[self.opcode][2] * self.mtreg / BH_MT_POWER_ON * 1e9

    def update(self) -> None:
        if self.opcode is None or not self.powered:
            return
        done = int((self.now_ns() - self._start_ns) // self._period_ns())
        if done <= self._results:
            return
        _, one_time, _, per_lx = BH_MODES[self.opcode]
        if one_time:
            done = 1
        t_s = float(self.seconds(self._start_ns + done * self._period_ns()))
        counts = max(0.0, signal_value(self.lux, t_s)) * per_lx * self.mtreg / BH_MT_POWER_ON
        if self.opcode == 0b0001_0011 or self.opcode == 0b0010_0011:
            counts = round(counts / BH_L_RESOLUTION_COUNTS) * BH_L_RESOLUTION_COUNTS
        self.data = min(0xFFFF, round(counts))
        self._results = done
        if one_time:
            self.powered, self.opcode = False, None

    def i2c_write(self, data: bytes) -> None:
        self.update()
        for opcode in data:
            self._command(opcode)

    def _command(self, opcode: int) -> None:
        field, high = BH_MT_HIGH
        low_field, low = BH_MT_LOW
        if opcode == BH_POWER_DOWN:
            self.powered = False
        elif opcode == BH_POWER_ON:
            self.powered = True
        elif opcode == BH_RESET:
            if self.powered:
                self.data = 0
        elif field.of(opcode) == high:
            self._mt_high = OPCODE_MT_HIGH.of(opcode)
        elif low_field.of(opcode) == low:
            self.mtreg = MTREG_LOW.into(MTREG_HIGH.into(0, self._mt_high),
                                        OPCODE_MT_LOW.of(opcode))
        elif opcode in BH_MODES:
            self.powered, self.opcode = True, opcode
            self._start_ns, self._results = self.now_ns(), 0

    def i2c_read(self, length: int) -> bytes:
        self.update()
        return self.data.to_bytes(2, "big")[:length].ljust(length, b"\xff")


# -- VEML7700 (DS 84286, AN 84323) -------------------------------------------------------------
ALS_CONF_0, ALS_WH, ALS_WL, PSM, ALS, WHITE, ALS_INT, ID = range(8)
ALS_GAIN, ALS_IT = Bits(ALS_CONF_0, 12, 11), Bits(ALS_CONF_0, 9, 6)
ALS_PERS, ALS_INT_EN, ALS_SD = Bits(ALS_CONF_0, 5, 4), Bits(ALS_CONF_0, 1), Bits(ALS_CONF_0, 0)
INT_TH_LOW, INT_TH_HIGH = Bits(ALS_INT, 15), Bits(ALS_INT, 14)
CONF_POWER_ON = 0x0001
ID_VALUE = 0xC481       # 0x81 device code in the low byte, 0xC4 (address option) high
#: ALS_GAIN code -> gain; ALS_IT code -> integration time in ms (DS 84286, Table 1).
GAIN_CODES = {0b00: 1.0, 0b01: 2.0, 0b10: 0.125, 0b11: 0.25}
IT_CODES = {0b1100: 25, 0b1000: 50, 0b0000: 100, 0b0001: 200, 0b0010: 400, 0b0011: 800}
#: (gain, integration ms) -> lx per count: AN 84323, table "Resolution and maximum detection
#: range" (the rev. with 0.0042 at gain 2 and 800 ms), typed row by row.
VEML7700_RESOLUTION: dict[tuple[float, int], float] = {
    (2.0, 800): 0.0042, (2.0, 400): 0.0084, (2.0, 200): 0.0168, (2.0, 100): 0.0336,
    (2.0, 50): 0.0672, (2.0, 25): 0.1344,
    (1.0, 800): 0.0084, (1.0, 400): 0.0168, (1.0, 200): 0.0336, (1.0, 100): 0.0672,
    (1.0, 50): 0.1344, (1.0, 25): 0.2688,
    (0.25, 800): 0.0336, (0.25, 400): 0.0672, (0.25, 200): 0.1344, (0.25, 100): 0.2688,
    (0.25, 50): 0.5376, (0.25, 25): 1.0752,
    (0.125, 800): 0.0672, (0.125, 400): 0.1344, (0.125, 200): 0.2688, (0.125, 100): 0.5376,
    (0.125, 50): 1.0752, (0.125, 25): 2.1504,
}
#: AN 84323's correction polynomial, highest power first.
CORRECTION = (6.0135e-13, -9.3924e-9, 8.1488e-5, 1.0023, 0.0)


def _correct(x: float) -> float:
    out = 0.0
    for c in CORRECTION:
        out = out * x + c
    return out


def veml7700_linear(lux: float) -> float:
    """The linear reading whose AN 84323 correction is ``lux`` (the part's non-linear response,
    inverted by Newton's method; the polynomial rises monotonically for x >= 0)."""
    if lux <= 0:
        return 0.0
    x = lux
    for _ in range(60):
        slope = (((4 * CORRECTION[0] * x) + 3 * CORRECTION[1]) * x + 2 * CORRECTION[2]) * x \
            + CORRECTION[3]
        step = (_correct(x) - lux) / slope
        x -= step
        if abs(step) < 1e-9 * max(lux, 1.0):
            break
    return x


class Veml7700Emulator(WordRegisterDevice):
    """The VEML7700 behind an emulated bus.

    Args:
        lux: Illuminance at the sensor (constant or function of seconds).
        address: 0x10 (the only one the part has).
    """

    default_address = 0x10
    byteorder = "little"
    resets: ClassVar[dict[int, int]] = {ALS_CONF_0: CONF_POWER_ON, ALS_WH: 0, ALS_WL: 0, PSM: 0,
                                        ALS: 0, WHITE: 0, ALS_INT: 0, ID: ID_VALUE}
    read_only = frozenset({ALS, WHITE, ALS_INT, ID})

    def __init__(self, *, lux: Feed = 300.0, address: int | None = None) -> None:
        self.lux = lux
        self._start_ns = 0
        self._results = 0
        self._outside = 0
        super().__init__(address=address)

    @classmethod
    def _kwargs_from_options(cls, options: dict[str, str]) -> dict[str, Any]:
        return {"lux": _float_option(options, "lux", 300.0)}

    def power_on_reset(self) -> None:
        super().power_on_reset()
        self._results = 0

    def _setting(self, conf: int) -> tuple[float, int]:
        return GAIN_CODES[ALS_GAIN.of(conf)], IT_CODES.get(ALS_IT.of(conf), 100)

    def _it_ns(self) -> float:
        return self._setting(self.regs[ALS_CONF_0])[1] * 1e6

    def update(self) -> None:
        conf = self.regs[ALS_CONF_0]
        if ALS_SD.of(conf) or self.clock is None:
            return
        done = int((self.now_ns() - self._start_ns) // self._it_ns())
        for k in range(max(self._results + 1, done - 8), done + 1):  # the last few matter
            if k >= 1:
                self._result(float(self.seconds(self._start_ns + (k - 0.5) * self._it_ns())),
                             conf)
        self._results = max(self._results, done)

    def _result(self, t_s: float, conf: int) -> None:
        per_count = VEML7700_RESOLUTION[self._setting(conf)]
        linear = veml7700_linear(max(0.0, signal_value(self.lux, t_s)))
        counts = min(0xFFFF, round(linear / per_count))
        self.regs[ALS] = counts
        self.regs[WHITE] = counts  # white channel: same light, no spectral model
        if not ALS_INT_EN.of(conf):
            return
        high, low = counts > self.regs[ALS_WH], counts < self.regs[ALS_WL]
        self._outside = self._outside + 1 if (high or low) else 0
        if self._outside >= 1 << ALS_PERS.of(conf):
            self.regs[ALS_INT] |= INT_TH_HIGH.bit() if high else INT_TH_LOW.bit()

    def write_register(self, reg: int, value: int) -> None:
        if reg in self.read_only or reg not in self.regs:
            return
        if reg == ALS_CONF_0:
            old = self.regs[ALS_CONF_0]
            restarts = (ALS_SD.of(old) and not ALS_SD.of(value)) or \
                self._setting(old) != self._setting(value)
            if restarts and not ALS_SD.of(value):
                self._start_ns, self._results = self.now_ns(), 0  # a new integration starts
        self.regs[reg] = value

    def read_register(self, reg: int) -> int:
        value = super().read_register(reg)
        if reg == ALS_INT:
            self.regs[ALS_INT] = 0
        return value
