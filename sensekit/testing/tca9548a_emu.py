"""An emulated TI TCA9548A 8-channel I2C switch, with parts on its downstream channels.

From TI "TCA9548A Low-Voltage 8-Channel I2C Switch with Reset", SCPS207F (revised November 2016):

- address 0x70 to 0x77 by A2..A0 (Table 1, p. 15);
- one control register, written by a plain write after the address (no register pointer) and
  read by a plain read; bit n selects channel n, several channels may be selected at once; if
  several bytes are written the last one is kept; 0x00 (no channel) at power-up and reset
  (sec. 8.5.4 and Table 2, p. 17).

A transfer to an address not on the upstream bus reaches the part at that address on the
selected channels. Two selected channels with a part at the same address both answer, and their
open-drain outputs fight: the emulator reports that as an I/O error, the way such a transfer
fails.
"""

from __future__ import annotations

import errno
import os
from typing import Any

from ..clock import Clock
from .regs import Bits

__all__ = ["Tca9548aEmulator"]

CHANNELS = 8
POWER_ON_CONTROL = 0x00


class Tca9548aEmulator:
    """The switch: an upstream address and eight downstream channels.

    Args:
        address: 0x70 to 0x77.
    """

    def __init__(self, *, address: int = 0x70) -> None:
        if not 0x70 <= address <= 0x77:
            raise ValueError(f"a TCA9548A answers at 0x70-0x77, not {address:#04x}")
        self.address = address
        self.control = POWER_ON_CONTROL
        self.channels: list[dict[int, Any]] = [{} for _ in range(CHANNELS)]
        self.clock: Clock | None = None

    @classmethod
    def from_options(cls, options: dict[str, str], clock: Clock | None = None) -> Tca9548aEmulator:
        return cls(address=int(options.get("address", "0x70"), 0))

    def attach(self, clock: Clock) -> None:
        self.clock = clock
        for channel in self.channels:
            for part in channel.values():
                part.attach(clock)

    def add(self, channel: int, part: Any) -> Any:
        """Wire ``part`` to downstream channel ``channel``; return it."""
        if part.address in self.channels[channel]:
            raise ValueError(f"channel {channel} already has a part at {part.address:#04x}")
        self.channels[channel][part.address] = part
        if self.clock is not None:
            part.attach(self.clock)
        for companion in getattr(part, "companions", ()):
            self.add(channel, companion)
        return part

    def selected(self) -> list[int]:
        return [n for n in range(CHANNELS) if Bits(0, n).of(self.control)]

    def downstream(self, address: int) -> Any:
        """The part that answers ``address`` through the selected channels, or None."""
        found = [self.channels[n][address] for n in self.selected()
                 if address in self.channels[n]]
        if len(found) > 1:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return found[0] if found else None

    def power_on_reset(self) -> None:
        self.control = POWER_ON_CONTROL

    def i2c_write(self, data: bytes) -> None:
        if data:
            self.control = data[-1]  # "it saves the last byte received"

    def i2c_read(self, length: int) -> bytes:
        return bytes([self.control]) * length
