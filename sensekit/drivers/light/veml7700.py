"""Vishay VEML7700 ambient light sensor over I2C, with its threshold interrupt.

Usage::

    light = sensekit.open("veml7700", "i2c://1/0x10", gain=1, integration_ms=100)
    light.set_thresholds(low_lux=50, high_lux=500)    # the part flags leaving the window
    light.on_threshold(lambda t_ns, which: ...)       # "high" or "low"

Registers are 16 bits, sent LSB first. Sources: Vishay "VEML7700 High Accuracy Ambient Light
Sensor With I2C Interface", document 84286 ("DS"): command codes and bit fields, Tables 1 to 7;
resolution 0.0036 lx/count at gain 2 and 800 ms, scaling with gain and integration time, from
Vishay application note 84323 "Designing the VEML7700 Into an Application" ("AN"), Table 1
(later datasheet revisions quote 0.0042; the AN figure is used here).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from ...errors import ConfigError, DeviceNotFound
from ...packets import Packet
from ..i2c_base import I2CDriver
from ..registers import Field, Register

__all__ = ["Veml7700"]

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
ID_LOW = 0x81

#: ALS_GAIN code -> gain, DS Table 1.
GAINS = {0b00: 1.0, 0b01: 2.0, 0b10: 0.125, 0b11: 0.25}
#: ALS_IT code -> integration time (ms), DS Table 1.
INTEGRATION_MS = {0b1100: 25, 0b1000: 50, 0b0000: 100, 0b0001: 200, 0b0010: 400, 0b0011: 800}
#: lx per count at gain 2 and 800 ms, AN 84323 Table 1.
RESOLUTION_LX = 0.0036


def resolution_lux(gain: float, integration_ms: int) -> float:
    """Lux per count for a gain and integration time (AN 84323 Table 1)."""
    return RESOLUTION_LX * (2.0 / gain) * (800.0 / integration_ms)


class Veml7700(I2CDriver):
    """The VEML7700.

    Args:
        url: ``i2c://BUS/0x10`` or ``emu://``.
        gain: 1/8, 1/4, 1 or 2.
        integration_ms: 25, 50, 100, 200, 400 or 800.
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

    def __init__(self, url: str, *, gain: float = 1.0, integration_ms: int = 100,
                 **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        gains = {v: k for k, v in GAINS.items()}
        times = {v: k for k, v in INTEGRATION_MS.items()}
        if gain not in gains or integration_ms not in times:
            raise ConfigError(f"{self.describe()}: gain must be one of {sorted(gains)} and "
                              f"integration_ms one of {sorted(times)}")
        self.gain, self.integration_ms = gain, integration_ms
        self._gain_code, self._it_code = gains[gain], times[integration_ms]
        self.lux_per_count = resolution_lux(gain, integration_ms)
        self._callbacks: list[Callable[[int, str], None]] = []
        self._interrupts = False
        self._due_ns: int | None = None
        self.threshold_events = 0

    def _conf(self, shutdown: bool) -> int:
        return (self._gain_code << ALS_GAIN.lsb | self._it_code << ALS_IT.lsb
                | int(self._interrupts) << ALS_INT_EN.lsb | int(shutdown))

    def _open(self) -> None:
        device = self.connect()
        device.check_present(ID.address)
        ident = self.regs.read(ID)
        if ident & 0xFF != ID_LOW:
            raise DeviceNotFound(f"{self.describe()}: ID register reads {ident:#06x}, not a "
                                 "VEML7700 (low byte 0x81). Hint: check the address")
        self.regs.write(ALS_CONF, self._conf(shutdown=False))
        self.clock.sleep(0.0025 + self.integration_ms / 1000)  # DS: 2.5 ms wake, then one IT
        self._due_ns = None

    def set_thresholds(self, low_lux: float, high_lux: float, persistence: int = 1) -> None:
        """Arm the interrupt: the part flags a result below ``low_lux`` or above ``high_lux``.

        Args:
            persistence: Consecutive results outside the window needed (1, 2, 4 or 8).
        """
        codes = {1: 0, 2: 1, 4: 2, 8: 3}
        if persistence not in codes or not 0 <= low_lux < high_lux:
            raise ConfigError(f"{self.describe()}: need 0 <= low_lux < high_lux and "
                              "persistence 1, 2, 4 or 8")
        top = 0xFFFF
        self.regs.write(ALS_WL, min(top, round(low_lux / self.lux_per_count)))
        self.regs.write(ALS_WH, min(top, round(high_lux / self.lux_per_count)))
        self._interrupts = True
        self.regs.update({ALS_PERS: codes[persistence], ALS_INT_EN: 1})

    def on_threshold(self, callback: Callable[[int, str], None]) -> None:
        """Call ``callback(t_ns, "high" | "low")`` when the part flags a threshold crossing."""
        self._callbacks.append(callback)

    def _read_packet(self, timeout_s: float) -> Packet | None:
        now = self.clock.now_ns()
        period_ns = round(1e9 / (self.rate_hz or 1.0))
        if self._due_ns is None or now - self._due_ns > period_ns:
            self._due_ns = now
        wait_s = (self._due_ns - now) / 1e9
        if self.asleep or wait_s > timeout_s:
            self.clock.sleep(timeout_s)
            return None
        self.clock.sleep(max(wait_s, 0.0))
        with self.device.lock:
            counts = self.regs.read(ALS)
            flags = self.regs.read(ALS_INT) if self._interrupts else 0
        # The result is the last full integration, which ended within one IT before now.
        t_ns = self.clock.now_ns() - round(self.integration_ms * 1e6)
        self._due_ns += period_ns
        for which, field in (("high", INT_TH_HIGH), ("low", INT_TH_LOW)):
            if field.get(flags):
                self.threshold_events += 1
                for callback in self._callbacks:
                    callback(t_ns, which)
        lux = counts * self.lux_per_count
        return Packet(self.stream, np.array([t_ns], np.int64),
                      {"lux": np.array([lux], np.float32)}, "light",
                      {"saturated": counts == 0xFFFF})

    def _set_rate(self, rate_hz: float) -> float:
        return min(rate_hz, 1000.0 / self.integration_ms)

    def _sleep(self) -> None:
        self.regs.set(ALS_SD, 1)

    def _wake(self) -> None:
        self.regs.set(ALS_SD, 0)
        self.clock.sleep(0.0025 + self.integration_ms / 1000)
        self._due_ns = None

    def _close(self) -> None:
        with contextlib.suppress(OSError):  # closing must not fail because the part is gone
            self.regs.set(ALS_SD, 1)
        super()._close()
