"""Registers and bit fields declared as data, so a driver reads like its datasheet.

A device's register map is a handful of module-level declarations::

    PWR_MGMT_1 = Register("PWR_MGMT_1", 0x6B, reset=0x40, source="RM-MPU-6000A-00 4.2, p. 40")
    SLEEP = Field(PWR_MGMT_1, 6)            # bit 6
    CLKSEL = Field(PWR_MGMT_1, 0, 3)        # bits 2:0

and a driver talks to the device through a :class:`RegisterBank`::

    regs = RegisterBank(i2c_device)
    regs.set(SLEEP, 0)                      # read-modify-write of PWR_MGMT_1
    regs.write_fields({SLEEP: 0, CLKSEL: 1})   # the whole register, composed from its fields
    who = regs.read(WHO_AM_I)
    if MOT_INT.get(status): ...             # a bit of a value already read

Drivers compose every value through these declarations: no hand shifts, no magic numbers.

The emulators in :mod:`sensekit.testing` do not use these declarations: each encodes its part
from the datasheet on its own (with the small helper :mod:`sensekit.testing.regs`, written in
the datasheets' ``[hi:lo]`` notation), so a wrong address, bit or reset value here is caught by
a disagreement rather than copied into the witness.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from ..buses.i2c import I2CDevice

__all__ = ["Field", "Register", "RegisterBank", "compose", "to_signed", "to_unsigned"]


def to_signed(value: int, bits: int) -> int:
    """Two's-complement value of an unsigned ``bits``-bit integer."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def to_unsigned(value: int, bits: int) -> int:
    """Unsigned ``bits``-bit pattern of a (possibly negative) integer."""
    return value & ((1 << bits) - 1)


@dataclass(frozen=True)
class Register:
    """One register.

    Attributes:
        name: The datasheet's name.
        address: Register address (pointer value).
        width: Size in bytes (1 or 2).
        reset: Power-on value, where the datasheet gives one.
        signed: Whether the contents are two's complement.
        byteorder: Byte order on the wire (most parts send MSB first; the VEML7700 LSB first).
        read_only: Writes are refused by the driver (and ignored by the part).
        source: Document, revision and page the figures come from.
    """

    name: str
    address: int
    width: int = 1
    reset: int | None = None
    signed: bool = False
    byteorder: Literal["big", "little"] = "big"
    read_only: bool = False
    source: str = ""

    @property
    def bits(self) -> int:
        return 8 * self.width

    def decode(self, raw: bytes) -> int:
        """The register's value from the bytes read."""
        value = int.from_bytes(raw[:self.width], self.byteorder)
        return to_signed(value, self.bits) if self.signed else value

    def encode(self, value: int) -> bytes:
        """The bytes that write ``value``."""
        return to_unsigned(value, self.bits).to_bytes(self.width, self.byteorder)


@dataclass(frozen=True)
class Field:
    """Bits ``lsb`` to ``lsb + width - 1`` of a register; ``signed``: two's complement within
    the field (a left-aligned result such as the INA3221's bits 15:3)."""

    register: Register
    lsb: int
    width: int = 1
    signed: bool = False

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb

    def get(self, register_value: int) -> int:
        """This field's value within ``register_value``."""
        value = (to_unsigned(register_value, self.register.bits) & self.mask) >> self.lsb
        return to_signed(value, self.width) if self.signed else value

    def get_array(self, register_values: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """This field of each register value in an array (bytes drained from a FIFO)."""
        values = (np.asarray(register_values).astype(np.int64) & self.mask) >> self.lsb
        if self.signed:
            values = np.where(values >= 1 << (self.width - 1), values - (1 << self.width), values)
        return values

    def put(self, register_value: int, value: int) -> int:
        """``register_value`` with this field replaced by ``value``."""
        if not 0 <= value < (1 << self.width):
            raise ValueError(f"{self.register.name}[{self.lsb + self.width - 1}:{self.lsb}] "
                             f"holds {self.width} bits; {value} does not fit")
        unsigned = to_unsigned(register_value, self.register.bits)
        return (unsigned & ~self.mask) | (value << self.lsb)

    def value(self, value: int = 1) -> int:
        """The register value with only this field set to ``value`` (others 0)."""
        return self.put(0, value)


def compose(values: Mapping[Field, int], base: int = 0) -> int:
    """One register's value from its fields: ``base`` with each field replaced.

    Raises:
        ValueError: the fields belong to different registers, or a value does not fit.
    """
    registers = {f.register for f in values}
    if len(registers) > 1:
        raise ValueError("compose() builds one register at a time; got fields of "
                         + ", ".join(sorted(r.name for r in registers)))
    out = base
    for field, value in values.items():
        out = field.put(out, value)
    return out


class RegisterBank:
    """Reads and writes declared registers of one device.

    Args:
        device: The device's I2C transport.
    """

    def __init__(self, device: I2CDevice) -> None:
        self.device = device

    def read(self, register: Register) -> int:
        """The value of ``register`` (signed if it is declared so)."""
        if register.width == 1:
            raw = bytes([self.device.read_u8(register.address)])
        else:
            raw = self.device.read_block(register.address, register.width)
        return register.decode(raw)

    def read_many(self, first: Register, count: int) -> bytes:
        """``count`` bytes from ``first`` on, in one burst (auto-increment)."""
        return self.device.read_block(first.address, count)

    def write(self, register: Register, value: int) -> None:
        """Write ``value`` to ``register``."""
        if register.read_only:
            raise ValueError(f"{register.name} ({register.address:#04x}) is read-only")
        data = register.encode(value)
        if register.width == 1:
            self.device.write_u8(register.address, data[0])
        else:
            self.device.write_block(register.address, data)

    def get(self, field: Field) -> int:
        """The value of one field."""
        return field.get(self.read(field.register))

    def write_fields(self, values: Mapping[Field, int], base: int = 0) -> None:
        """Write one whole register composed from ``values`` (other bits from ``base``)."""
        if not values:
            raise ValueError("write_fields() needs at least one field")
        register = next(iter(values)).register
        self.write(register, compose(values, base))

    def set(self, field: Field, value: int) -> None:
        """Change one field, keeping the register's other bits (read-modify-write)."""
        self.update({field: value})

    def update(self, values: Mapping[Field, int]) -> None:
        """Change several fields of one register in a single read-modify-write."""
        registers = {f.register for f in values}
        if len(registers) != 1:
            raise ValueError("update() changes fields of one register at a time")
        register = registers.pop()
        with self.device.lock:
            current = self.read(register)
            for field, value in values.items():
                current = field.put(current, value)
            self.write(register, current)
