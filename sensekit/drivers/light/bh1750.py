"""ROHM BH1750FVI ambient light sensor over I2C.

Usage::

    light = sensekit.open("bh1750", "i2c://1/0x23", rate_hz=2)        # 0x5C with ADDR high
    light.read()["lux"]

The part has no registers and no ID: it takes one-byte opcodes and answers a plain two-byte
read with its last result. One-time modes measure once and power down by themselves (0.01 uA),
so at low rates they cost a fraction of the continuous modes' 120 uA: the driver sends the
opcode, waits the datasheet's maximum measurement time, then reads.

Source: ROHM "BH1750FVI Digital 16bit Serial Output Type Ambient Light Sensor IC", datasheet
2011.11 Rev.D ("DS" below): opcodes p. 5, measurement times p. 2, lux = count / 1.2 * (69 /
MTreg) p. 7 and p. 11 (halved in H-resolution mode 2).
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import numpy as np

from ...errors import ConfigError
from ...packets import Packet
from ..i2c_base import I2CDriver

__all__ = ["Bh1750"]

# Opcodes, DS p. 5 "Instruction Set Architecture".
POWER_DOWN = 0x00
POWER_ON = 0x01
RESET = 0x07              # clears the data register; not accepted while powered down
CHANGE_MT_HIGH = 0x40     # 01000_MT[7:5]
CHANGE_MT_LOW = 0x60      # 011_MT[4:0]
#: mode -> (opcode, one-time?, typical time s, maximum time s, lux per count at MTreg 69).
#: Times DS p. 2 (H-res typ 120 ms / max 180 ms, L-res typ 16 ms / max 24 ms); 1/1.2 lx per
#: count DS p. 7, halved in H-resolution mode 2 (DS p. 11).
MODES: dict[str, tuple[int, bool, float, float, float]] = {
    "continuous_high": (0x10, False, 0.120, 0.180, 1 / 1.2),
    "continuous_high2": (0x11, False, 0.120, 0.180, 1 / 1.2 / 2),
    "continuous_low": (0x13, False, 0.016, 0.024, 1 / 1.2),
    "one_time_high": (0x20, True, 0.120, 0.180, 1 / 1.2),
    "one_time_high2": (0x21, True, 0.120, 0.180, 1 / 1.2 / 2),
    "one_time_low": (0x23, True, 0.016, 0.024, 1 / 1.2),
}
MT_DEFAULT, MT_MIN, MT_MAX = 69, 31, 254   # DS p. 11


def lux_from_count(count: int, mode: str = "continuous_high", mtreg: int = MT_DEFAULT) -> float:
    """Illuminance of a raw result (DS p. 7: count / 1.2, scaled by 69 / MTreg)."""
    return count * MODES[mode][4] * MT_DEFAULT / mtreg


class Bh1750(I2CDriver):
    """The BH1750.

    Args:
        url: ``i2c://BUS/0x23`` (0x5C with ADDR high) or ``emu://``.
        mode: One of :data:`MODES` (default ``continuous_high``, 1 lx resolution).
        mtreg: Measurement time register, 31 to 254 (69 default); a larger value sees
            dimmer light and measures longer.
        **kwargs: Passed to :class:`~sensekit.drivers.i2c_base.I2CDriver`.
    """

    name = "bh1750"
    modality = "light"
    modes = tuple(MODES)
    power_model = "bh1750"
    default_rate_hz = 1.0
    #: Up to one result per fastest measurement (L-resolution, 24 ms max at MTreg 69, DS p. 2).
    rate_range_hz: ClassVar[tuple[float, float]] = (1e-3, 1 / min(m[3] for m in MODES.values()))
    default_address: ClassVar[int] = 0x23

    def __init__(self, url: str, *, mtreg: int = MT_DEFAULT, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        if not MT_MIN <= mtreg <= MT_MAX:
            raise ConfigError(f"{self.describe()}: mtreg must be {MT_MIN} to {MT_MAX}")
        self.mtreg = mtreg
        self._due_ns: int | None = None

    @property
    def measurement_time_s(self) -> float:
        """Maximum time one measurement takes in this mode and MTreg (DS p. 2)."""
        return MODES[self.mode][3] * self.mtreg / MT_DEFAULT

    @property
    def one_time(self) -> bool:
        return MODES[self.mode][1]

    def _open(self) -> None:
        device = self.connect()
        device.check_write(POWER_ON)   # no ID to read: an acknowledged opcode is the answer
        device.write_command(RESET)
        device.write_command(CHANGE_MT_HIGH | self.mtreg >> 5)
        device.write_command(CHANGE_MT_LOW | self.mtreg & 0x1F)
        self._start()

    def _start(self) -> None:
        if not self.one_time:
            self.device.write_command(MODES[self.mode][0])
            self.clock.sleep(self.measurement_time_s)  # first result
        self._due_ns = None

    def _read_packet(self, timeout_s: float) -> Packet | None:
        now = self.clock.now_ns()
        period_ns = round(1e9 / (self.rate_hz or 1.0))
        if self._due_ns is None or now - self._due_ns > period_ns:
            self._due_ns = now
        wait_s = (self._due_ns - now) / 1e9
        if self.asleep or wait_s + (self.measurement_time_s if self.one_time else 0) > timeout_s:
            self.clock.sleep(timeout_s)
            return None
        self.clock.sleep(max(wait_s, 0.0))
        t_ns = self._measure_time_ns()
        raw = self.device.read_bytes(2)
        self._due_ns += period_ns
        lux = lux_from_count(int.from_bytes(raw, "big"), self.mode, self.mtreg)
        return Packet(self.stream, np.array([t_ns], np.int64),
                      {"lux": np.array([lux], np.float32)}, "light", {"mode": self.mode})

    def _measure_time_ns(self) -> int:
        """Trigger a one-time measurement if needed; return the middle of its integration."""
        typical = MODES[self.mode][2] * self.mtreg / MT_DEFAULT
        if self.one_time:
            self.device.write_command(POWER_ON)
            start = self.clock.now_ns()
            self.device.write_command(MODES[self.mode][0])
            self.clock.sleep(self.measurement_time_s)
            return start + round(typical / 2 * 1e9)
        # Continuous: the last result ended within one measurement time before now.
        return self.clock.now_ns() - round(typical * 1e9)

    def _set_rate(self, rate_hz: float) -> float:
        return min(rate_hz, 1.0 / self.measurement_time_s)

    def _set_mode(self, mode: str, **options: Any) -> None:
        self.mode = mode
        self._start()
        fastest = 1.0 / self.measurement_time_s
        if self.rate_hz is not None and self.rate_hz > fastest:
            old, self.rate_hz = self.rate_hz, fastest
            self._record("rate", old, fastest, f"mode {mode} measures for longer")

    def _sleep(self) -> None:
        self.device.write_command(POWER_DOWN)

    def _wake(self) -> None:
        self.device.write_command(POWER_ON)
        self._start()

    def _close(self) -> None:
        with contextlib.suppress(OSError):  # closing must not fail because the part is gone
            self.device.write_command(POWER_DOWN)
        super()._close()
