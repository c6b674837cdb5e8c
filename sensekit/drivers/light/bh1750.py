"""ROHM BH1750FVI ambient light sensor over I2C.

Usage::

    light = sensekit.open("bh1750", "i2c://1/0x23", rate_hz=2)        # 0x5C with ADDR high
    light.read()["lux"]

The part has no registers and no ID: it takes one-byte opcodes and answers a plain two-byte
read with its last result. One-time modes measure once and power down by themselves (0.01 uA),
so at low rates they cost a fraction of the continuous modes' 120 uA: the driver sends the
opcode, waits the datasheet's maximum measurement time, then reads.

Power loss: the part comes back powered down, MTreg at 69 and its data register at 0 (DS
p. 5), so a continuous mode would read 0 lx for ever. A result of 0 after a non-zero one makes
the driver send its mode and MTreg again and measure once more: a non-zero result then was a
reset (counted in ``stats.resets``, and the 0 is never returned); a 0 again is darkness. One-time
modes send MTreg with every measurement, since a reset part would measure at 69 silently.

Source: ROHM "BH1750FVI Digital 16bit Serial Output Type Ambient Light Sensor IC", datasheet
2011.11 Rev.D ("DS" below): opcodes p. 5, measurement times p. 2, lux = count / 1.2 * (69 /
MTreg) p. 7 and p. 11 (halved in H-resolution mode 2).
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import numpy as np

from ...buses.i2c import transfer_bits
from ...driver import PollSchedule
from ...options import check_number
from ...packets import Packet
from ..i2c_base import I2CDriver
from ..registers import Field, Register

__all__ = ["Bh1750"]

# Opcodes, DS p. 5 "Instruction Set Architecture".
POWER_DOWN = 0x00
POWER_ON = 0x01
RESET = 0x07              # clears the data register; not accepted while powered down
CHANGE_MT_HIGH = 0x40     # 01000_MT[7:5]
CHANGE_MT_LOW = 0x60      # 011_MT[4:0]
#: The measurement-time register (DS p. 11), written through the two opcodes above: its bits
#: 7:5 go in bits 2:0 of the first, its bits 4:0 in bits 4:0 of the second. (The part has no
#: register addresses; the declarations describe the bits, the opcodes carry them.)
MTREG = Register("MTreg", 0x00, reset=69, source="BH1750FVI Rev.D p. 11")
MT_HIGH, MT_LOW = Field(MTREG, 5, 3), Field(MTREG, 0, 5)
MT_HIGH_OPCODE = Field(Register("Change Measurement time (High bit)", CHANGE_MT_HIGH), 0, 3)
MT_LOW_OPCODE = Field(Register("Change Measurement time (Low bit)", CHANGE_MT_LOW), 0, 5)
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
MT_MIN, MT_MAX = 31, 254   # DS p. 11
MT_DEFAULT = MTREG.reset or 69


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
        self.mtreg = int(check_number(self.describe(), "mtreg", mtreg, MT_MIN, MT_MAX,
                                      integer=True))
        self._schedule = PollSchedule()
        self._last_count = -1

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
        self._start()

    def _send_mtreg(self) -> None:
        for opcode, part in ((MT_HIGH_OPCODE, MT_HIGH), (MT_LOW_OPCODE, MT_LOW)):
            self.device.write_command(opcode.put(opcode.register.address,
                                                 part.get(self.mtreg)))

    def _start(self) -> None:
        self._send_mtreg()
        if not self.one_time:
            self.device.write_command(MODES[self.mode][0])
            self.clock.sleep(self.measurement_time_s)  # first result
        self._schedule.reset()

    def _read_packet(self, timeout_s: float) -> Packet | None:
        lead = self.measurement_time_s if self.one_time else 0.0
        if not self._schedule.wait(self.clock, self.rate_hz or 1.0, timeout_s, lead):
            return None
        t_ns, count = self._measure()
        if count == 0 and self._last_count > 0 and not self.one_time:
            t_ns, count = self._recheck_zero(t_ns)
        self._last_count = count
        lux = lux_from_count(count, self.mode, self.mtreg)
        return Packet(self.stream, np.array([t_ns], np.int64),
                      {"lux": np.array([lux], np.float32)}, "light", {"mode": self.mode})

    def _measure(self) -> tuple[int, int]:
        """(middle of the integration, count): trigger a one-time measurement if needed."""
        typical = MODES[self.mode][2] * self.mtreg / MT_DEFAULT
        if self.one_time:
            self.device.write_command(POWER_ON)
            self._send_mtreg()
            start = self.clock.now_ns()
            self.device.write_command(MODES[self.mode][0])
            self.clock.sleep(self.measurement_time_s)
            t_ns = start + round(typical / 2 * 1e9)
        else:  # continuous: the last result ended within one measurement time before now
            t_ns = self.clock.now_ns() - round(typical * 1e9)
        return t_ns, int.from_bytes(self.device.read_bytes(2), "big")

    def _recheck_zero(self, t_ns: int) -> tuple[int, int]:
        """A 0 after light: restart the mode and measure again; light then means the part had
        been reset (powered down, data 0), darkness means it is dark."""
        self.device.write_command(POWER_ON)
        self._start()
        t_ns, count = self._measure()
        if count > 0:
            self.report_reset("it read 0 lx after light and light after a restart")
        return t_ns, count

    def bus_bits_per_s(self, rate_hz: float) -> float:
        writes = 4 * transfer_bits(1) if self.one_time else 0
        return rate_hz * (transfer_bits(0, 2) + writes)

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
        self._last_count = -1

    def _close(self) -> None:
        with contextlib.suppress(OSError):  # closing must not fail because the part is gone
            self.device.write_command(POWER_DOWN)
        super()._close()
