"""The emulators' own register helper, written the way datasheets write bit fields.

The emulated parts must not import the drivers' register maps (an emulator that reads its
addresses and constants from the driver agrees with the driver by construction, so a test
cannot catch a wrong figure). They do not use the drivers' generic descriptor machinery either
(:mod:`sensekit.drivers.registers`, ``Field(register, lsb, width)``): a slip in that shared code
would then be made identically on both sides. This helper is deliberately different and tiny:
a field is named by its register address and its ``[hi:lo]`` bits exactly as a datasheet's
register table prints them (``ALS_IT = Bits(0x00, 9, 6)`` for VEML7700 "ALS_IT [9:6]").
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Bits", "signed", "unsigned"]


@dataclass(frozen=True)
class Bits:
    """Bits ``hi`` down to ``lo`` (inclusive) of the register at ``reg``."""

    reg: int
    hi: int
    lo: int | None = None

    @property
    def low(self) -> int:
        return self.hi if self.lo is None else self.lo

    @property
    def span(self) -> int:
        return self.hi - self.low + 1

    def of(self, word: int) -> int:
        """This field's value in the register value ``word``."""
        return (word >> self.low) % (1 << self.span)

    def into(self, word: int, value: int) -> int:
        """``word`` with this field set to ``value`` (which must fit)."""
        if not 0 <= value < (1 << self.span):
            raise ValueError(f"[{self.hi}:{self.low}] holds {self.span} bits, not {value}")
        cleared = word - (self.of(word) << self.low)
        return cleared + (value << self.low)

    def bit(self) -> int:
        """The single bit this (one-bit) field occupies, as a value."""
        return 1 << self.low


def signed(value: int, bits: int) -> int:
    """Two's complement: the signed value of a ``bits``-wide raw pattern."""
    value %= 1 << bits
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def unsigned(value: int, bits: int) -> int:
    """The raw ``bits``-wide pattern of a signed value."""
    return value % (1 << bits)
