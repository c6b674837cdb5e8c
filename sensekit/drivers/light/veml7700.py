"""Vishay VEML7700 ambient light sensor over I2C: automatic range, the application note's
non-linearity correction, saturation reported, its threshold interrupt, and power-loss recovery.

Usage::

    light = sensekit.open("veml7700", "i2c://1/0x10")            # gain and time chosen by itself
    light.read()["lux"], light.read().meta["saturated"]
    sensekit.open("veml7700", "i2c://1/0x10", gain=1, integration_ms=100)   # fixed setting
    light.set_thresholds(low_lux=50, high_lux=500)    # the part flags leaving the window
    light.on_threshold(lambda t_ns, which: ...)       # "high" or "low"

Sources: Vishay "VEML7700 High Accuracy Ambient Light Sensor With I2C Interface", document
84286 ("DS"): command codes and bit fields, Tables 1 to 7; registers are 16 bits sent LSB first.
Vishay application note 84323 "Designing the VEML7700 Into an Application" ("AN"): the table of
resolution per gain and integration time, 0.0042 lx/count at gain 2 and 800 ms, halving with
each doubling of gain or time (0.0672 at gain 1 and 100 ms, 2.1504 at gain 1/8 and 25 ms, the
Linux driver's VEML6030_MAX_SCALE); DS rev. 1.7 and Vishay's change notice withdrew the
0.0036 printed before, with which every reading was 14 % low. The AN's correction polynomial
(``lux = 6.0135e-13 x^4 - 9.3924e-9 x^3 + 8.1488e-5 x^2 + 1.0023 x`` for a linear reading
``x``) is applied to every reading: it raises a linear reading by about 7.5 % at 1 klx, 25 % at
5 klx and 48 % at 10 klx, and by under 1 % below 100 lx, so applying it everywhere is as good as
the AN's choice of applying it above about 100 counts at gain 1/8 and simpler.

Range: by default (``gain="auto"``) the driver follows the AN's flow chart (gain 1/8 at 100 ms
first; gain up then integration time up while a result is under 100 counts; integration time
down while it is over 10,000): after each result it steps one setting toward the middle, and a
saturated result (65535) is measured again one setting down before anything is returned. A
result saturated at the least sensitive setting (above about 140 klx linear) is returned with
``meta["saturated"] = True``.

Power loss: the part comes back shut down with ALS_CONF_0 at its reset value and its result at
0. Every read checks ALS_CONF_0 against what was written; a mismatch configures the part again,
is counted (``stats.resets``) and that read returns nothing rather than a stale zero.

Timestamps: a result covers the integration that ended within one integration time before the
read, so its middle is on average one integration time before the read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from ...driver import PollSchedule
from ...errors import ConfigError, DeviceNotFound
from ...options import check_choice, check_number
from ...packets import Packet
from ..i2c_base import I2CDriver
from ..registers import Field, Register, compose

__all__ = ["Veml7700", "correct_lux", "linear_lux", "resolution_lux"]

_DS = "VEML7700 datasheet, Vishay doc. 84286"
ALS_CONF = Register("ALS_CONF_0", 0x00, width=2, byteorder="little", reset=0x0001,
                    source=f"{_DS}, Table 1")
ALS_GAIN = Field(ALS_CONF, 11, 2)
ALS_IT = Field(ALS_CONF, 6, 4)
ALS_PERS = Field(ALS_CONF, 4, 2)
ALS_INT_EN = Field(ALS_CONF, 1)
ALS_SD = Field(ALS_CONF, 0)
ALS_WH = Register("ALS_WH", 0x01, width=2, byteorder="little", reset=0x0000,
                  source=f"{_DS}, Table 2")
ALS_WL = Register("ALS_WL", 0x02, width=2, byteorder="little", reset=0x0000,
                  source=f"{_DS}, Table 3")
POWER_SAVING = Register("POWER_SAVING", 0x03, width=2, byteorder="little", reset=0x0000,
                        source=f"{_DS}, Table 4")
ALS = Register("ALS", 0x04, width=2, byteorder="little", read_only=True,
               source=f"{_DS}, Table 5")
WHITE = Register("WHITE", 0x05, width=2, byteorder="little", read_only=True,
                 source=f"{_DS}, Table 6")
ALS_INT = Register("ALS_INT", 0x06, width=2, byteorder="little", read_only=True,
                   source=f"{_DS}, Table 7: bit 15 low threshold, bit 14 high; cleared on read")
INT_TH_LOW = Field(ALS_INT, 15)
INT_TH_HIGH = Field(ALS_INT, 14)
ID = Register("ID", 0x07, width=2, byteorder="little", read_only=True,
              source=f"{_DS}, Table 1: low byte 0x81")
ID_CODE = Field(ID, 0, 8)
ID_LOW = 0x81

#: ALS_GAIN code -> gain, DS Table 1.
GAINS = {0b00: 1.0, 0b01: 2.0, 0b10: 0.125, 0b11: 0.25}
#: ALS_IT code -> integration time (ms), DS Table 1.
INTEGRATION_MS = {0b1100: 25, 0b1000: 50, 0b0000: 100, 0b0001: 200, 0b0010: 400, 0b0011: 800}
#: ALS_PERS code by persistence (results outside the window before the flag), DS Table 1.
PERSISTENCE = {1: 0b00, 2: 0b01, 4: 0b10, 8: 0b11}
#: lx per count at gain 2 and 800 ms, AN 84323 resolution table (DS rev. 1.7).
RESOLUTION_LX = 0.0042
#: AN 84323's non-linearity correction, coefficients of x^4 .. x^1.
CORRECTION = (6.0135e-13, -9.3924e-9, 8.1488e-5, 1.0023)
FULL_SCALE = 0xFFFF
#: AN 84323 flow chart thresholds: step up under 100 counts, down over 10,000.
LOW_COUNTS, HIGH_COUNTS = 100, 10_000
#: Settings from least to most sensitive, in the AN flow chart's order (gain 1/8 at 25, 50,
#: 100 ms; gain up at 100 ms; then integration time up at gain 2).
LADDER: tuple[tuple[float, int], ...] = ((0.125, 25), (0.125, 50), (0.125, 100), (0.25, 100),
                                         (1.0, 100), (2.0, 100), (2.0, 200), (2.0, 400),
                                         (2.0, 800))
#: Power-on: the oscillator needs 2.5 ms before the first measurement (DS, ALS_SD).
_WAKE_S = 0.0025


def resolution_lux(gain: float, integration_ms: float) -> float:
    """Lux per count for a gain and integration time (AN 84323 resolution table)."""
    return RESOLUTION_LX * (2.0 / gain) * (800.0 / integration_ms)


def correct_lux(linear: float) -> float:
    """The illuminance of a linear reading (AN 84323 non-linearity correction)."""
    x = max(0.0, linear)
    return (((CORRECTION[0] * x + CORRECTION[1]) * x + CORRECTION[2]) * x + CORRECTION[3]) * x


def linear_lux(lux: float) -> float:
    """The linear reading that corrects to ``lux`` (for thresholds); Newton's method, the
    correction rises monotonically."""
    x = max(0.0, lux)
    for _ in range(50):
        slope = ((4 * CORRECTION[0] * x + 3 * CORRECTION[1]) * x + 2 * CORRECTION[2]) * x \
            + CORRECTION[3]
        step = (correct_lux(x) - lux) / slope
        x = max(0.0, x - step)
        if abs(step) < 1e-6:
            break
    return x


class Veml7700(I2CDriver):
    """The VEML7700.

    Args:
        url: ``i2c://BUS/0x10`` or ``emu://``.
        gain: ``"auto"`` (default), or a fixed 1/8, 1/4, 1 or 2.
        integration_ms: With a fixed gain: 25, 50, 100, 200, 400 or 800.
        **kwargs: Passed to :class:`~sensekit.drivers.i2c_base.I2CDriver`.
    """

    name = "veml7700"
    modality = "light"
    modes = ("continuous",)
    power_model = "veml7700"
    default_rate_hz = 1.0
    #: Up to one result per shortest integration time (25 ms, DS Table 1).
    rate_range_hz: ClassVar[tuple[float, float]] = (1e-3, 40.0)
    default_address: ClassVar[int] = 0x10

    def __init__(self, url: str, *, gain: float | str = "auto", integration_ms: int = 100,
                 **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        where = self.describe()
        self.auto = gain == "auto"
        if self.auto:
            self._step = LADDER.index((0.125, 100))
        else:
            gain = check_choice(where, "gain", gain, sorted(GAINS.values()))
            integration_ms = check_choice(where, "integration_ms", integration_ms,
                                          sorted(INTEGRATION_MS.values()))
            self._fixed = (float(gain), int(integration_ms))
        self._callbacks: list[Callable[[int, str], None]] = []
        self._thresholds: tuple[float, float, int] | None = None
        self._schedule = PollSchedule()
        self._settled_ns = 0
        self._conf = 0
        self.threshold_events = 0

    @property
    def setting(self) -> tuple[float, int]:
        """(gain, integration time in ms) now in use."""
        return LADDER[self._step] if self.auto else self._fixed

    @property
    def gain(self) -> float:
        return self.setting[0]

    @property
    def integration_ms(self) -> int:
        return self.setting[1]

    @property
    def lux_per_count(self) -> float:
        return resolution_lux(*self.setting)

    def _conf_value(self, shutdown: bool) -> int:
        gain, it = self.setting
        codes = {v: k for k, v in GAINS.items()}, {v: k for k, v in INTEGRATION_MS.items()}
        persistence = PERSISTENCE[self._thresholds[2]] if self._thresholds else 0
        return compose({ALS_GAIN: codes[0][gain], ALS_IT: codes[1][it], ALS_PERS: persistence,
                        ALS_INT_EN: int(self._thresholds is not None), ALS_SD: int(shutdown)})

    def _open(self) -> None:
        device = self.connect()
        device.check_present(ID.address)
        ident = self.regs.read(ID)
        if ID_CODE.get(ident) != ID_LOW:
            raise DeviceNotFound(f"{self.describe()}: ID register reads {ident:#06x}, not a "
                                 "VEML7700 (low byte 0x81). Hint: check the address")
        if self.auto:
            self._fit_ladder(self.rate_hz or 1.0)
        self._configure()

    def _configure(self) -> None:
        """Write the setting (and thresholds) and wait for the first result at it."""
        if self._thresholds is not None:
            self._write_thresholds()
        self._conf = self._conf_value(shutdown=False)
        self.regs.write(ALS_CONF, self._conf)
        self._settled_ns = self.clock.now_ns() + round((_WAKE_S + self._it_s() * 1.1) * 1e9)
        self._schedule.reset()

    def _it_s(self) -> float:
        return self.integration_ms / 1000

    # -- thresholds ------------------------------------------------------------------------
    def set_thresholds(self, low_lux: float, high_lux: float, persistence: int = 1) -> None:
        """Arm the interrupt: the part flags a result below ``low_lux`` or above ``high_lux``.

        Args:
            persistence: Consecutive results outside the window needed (1, 2, 4 or 8).
        """
        where = self.describe()
        low = check_number(where, "low_lux", low_lux, 0.0)
        high = check_number(where, "high_lux", high_lux, 0.0)
        if not low < high:
            raise ConfigError(f"{where}: need low_lux < high_lux, got {low:g} and {high:g}")
        count = int(check_choice(where, "persistence", persistence, sorted(PERSISTENCE)))
        self._thresholds = (low, high, count)
        self._write_thresholds()
        self._conf = self._conf_value(shutdown=self.asleep)
        self.regs.write(ALS_CONF, self._conf)

    def _write_thresholds(self) -> None:
        assert self._thresholds is not None
        low, high, _ = self._thresholds
        for register, lux in ((ALS_WL, low), (ALS_WH, high)):
            self.regs.write(register, min(FULL_SCALE, round(linear_lux(lux)
                                                            / self.lux_per_count)))

    def on_threshold(self, callback: Callable[[int, str], None]) -> None:
        """Call ``callback(t_ns, "high" | "low")`` when the part flags a threshold crossing."""
        self._callbacks.append(callback)

    # -- reading ---------------------------------------------------------------------------
    def _read_packet(self, timeout_s: float) -> Packet | None:
        settle_s = max(0.0, (self._settled_ns - self.clock.now_ns()) / 1e9)
        if not self._schedule.wait(self.clock, self.rate_hz or 1.0, timeout_s, settle_s):
            return None
        self.clock.sleep(settle_s)
        counts, flags = self._measure(timeout_s)
        if counts is None:
            return None
        t_ns = self.clock.now_ns() - round(self._it_s() * 1e9)
        self._fire(flags, t_ns)
        lux = correct_lux(counts * self.lux_per_count)
        saturated = counts >= FULL_SCALE
        meta = {"saturated": saturated, "gain": self.gain, "integration_ms": self.integration_ms,
                "counts": counts}
        if self.auto:
            self._adjust(counts)
        return Packet(self.stream, np.array([t_ns], np.int64),
                      {"lux": np.array([lux], np.float32)}, "light", meta)

    def _measure(self, timeout_s: float) -> tuple[int | None, int]:
        """A result at a setting that does not saturate (auto), or None after a reset."""
        deadline = self.clock.now_ns() + round(timeout_s * 1e9)
        while True:
            with self.device.lock:
                conf = self.regs.read(ALS_CONF)
                counts = self.regs.read(ALS)
                flags = self.regs.read(ALS_INT) if self._thresholds else 0
            if conf != self._conf:
                self.report_reset(f"ALS_CONF_0 read {conf:#06x}, {self._conf:#06x} was written")
                self._configure()
                return None, 0
            if not (self.auto and counts >= FULL_SCALE and self._step > 0):
                return counts, flags
            self._step -= 1             # saturated: measure again one setting down
            self._configure()
            if self._settled_ns > deadline:
                return None, 0
            self.clock.sleep(max(0.0, (self._settled_ns - self.clock.now_ns()) / 1e9))

    def _adjust(self, counts: int) -> None:
        """One step of the AN 84323 flow toward 100..10,000 counts, for the next result (never
        to an integration longer than the read period, which would repeat results)."""
        period_ms = 1000.0 / (self.rate_hz or 1.0)
        if counts < LOW_COUNTS and self._step < len(LADDER) - 1 \
                and LADDER[self._step + 1][1] <= period_ms:
            self._step += 1
        elif counts > HIGH_COUNTS and self._step > 0:
            self._step -= 1
        else:
            return
        self._configure()

    def _fire(self, flags: int, t_ns: int) -> None:
        for which, field in (("high", INT_TH_HIGH), ("low", INT_TH_LOW)):
            if field.get(flags):
                self.threshold_events += 1
                for callback in self._callbacks:
                    callback(t_ns, which)

    def bus_bits_per_s(self, rate_hz: float) -> float:
        return rate_hz * 3 * super().bus_bits_per_s(1.0)  # ALS_CONF_0, ALS, ALS_INT

    # -- power -----------------------------------------------------------------------------
    def _set_rate(self, rate_hz: float) -> float:
        if not self.auto:
            return min(rate_hz, 1.0 / self._it_s())
        self._fit_ladder(rate_hz)
        self._configure()
        return rate_hz

    def _fit_ladder(self, rate_hz: float) -> None:
        while self._step > 0 and LADDER[self._step][1] > 1000.0 / rate_hz:
            self._step -= 1   # a faster rate needs a shorter integration

    def _sleep(self) -> None:
        self._conf = self._conf_value(shutdown=True)
        self.regs.write(ALS_CONF, self._conf)

    def _wake(self) -> None:
        self._configure()

    def _close(self) -> None:
        with contextlib.suppress(OSError):  # closing must not fail because the part is gone
            self.regs.set(ALS_SD, 1)
        super()._close()
