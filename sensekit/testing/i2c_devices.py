"""Building blocks of emulated I2C devices.

An emulator sees only the wire: ``i2c_write(data)`` and ``i2c_read(length)`` (see
:class:`sensekit.buses.emulated.EmulatedBus`). Two kinds of parts cover what sensekit drives:

- :class:`ByteRegisterDevice`: 8-bit registers behind a pointer that auto-increments (the
  MPU-6050); a subclass decides what a read or write of each register does.
- :class:`WordRegisterDevice`: 16-bit registers behind a pointer that does not increment (the
  INA2xx family, MSB first; the VEML7700, LSB first).

Emulators keep time with the bus's clock (the driver's clock: a ``FakeClock`` in tests, so ten
simulated minutes of a 1 kHz IMU run in seconds) and compute what the part would hold at
``clock.now_ns()`` whenever they are accessed, vectorised, rather than ticking. Each can lose
power (:meth:`I2CEmulator.power_on_reset`, called by ``EmulatedBus.power_cycle``): it then holds
its power-on values, as its datasheet's reset column gives them.

Opening a driver on an emulator::

    sensekit.open("mpu6050", "emu://?clock_ppm=8000")            # a fresh emulator
    emu = Mpu6050Emulator(motion=my_trajectory)
    sensekit.open("mpu6050", "emu://", emulator=emu)             # a given one
    bus = EmulatedBus(clock); bus.add(emu); bus.add(Bh1750Emulator(lux=lambda t: 300 + 0 * t))
    sensekit.open("mpu6050", "i2c://1/0x68", bus=bus)            # several parts on one bus

The table that finds an emulator by driver name is :mod:`sensekit.testing.emulators`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from ..clock import Clock
from ..errors import ConfigError

__all__ = ["ByteRegisterDevice", "I2CEmulator", "Signal", "WordRegisterDevice", "constant",
           "signal_value"]

#: A signal of host time: seconds since the emulator was attached (array) -> values (array).
Signal = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]


def constant(value: float) -> Signal:
    """A signal that stays at ``value``."""
    return lambda t: np.full(np.shape(t), float(value))


def signal_value(signal: Signal | float, t_s: float) -> float:
    """One value of ``signal`` (a callable or a constant) at ``t_s``."""
    if callable(signal):
        return float(np.asarray(signal(np.array([t_s], np.float64))).reshape(-1)[0])
    return float(signal)


def _float_option(options: dict[str, str], name: str, default: float) -> float:
    if name not in options:
        return default
    text = options.pop(name)
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"emulator option {name}={text!r} is not a number") from None


class I2CEmulator:
    """Base of every emulated part: an address, a clock, and the two halves of a transfer.

    Args:
        address: 7-bit address (defaults to the part's usual one).
    """

    default_address = 0x00

    def __init__(self, *, address: int | None = None) -> None:
        self.address = self.default_address if address is None else address
        self.clock: Clock | None = None
        self.t0_ns = 0
        #: Power losses this part went through (tests read it).
        self.power_losses = 0

    @classmethod
    def from_options(cls, options: dict[str, str], clock: Clock | None = None) -> I2CEmulator:
        """Build from URL query options; each subclass takes the ones it knows."""
        options = dict(options)
        kwargs = cls._kwargs_from_options(options)
        if "address" in options:
            kwargs["address"] = int(options.pop("address"), 0)
        # Options meant for the driver (rate, ranges) are the driver's business.
        return cls(**kwargs)

    @classmethod
    def _kwargs_from_options(cls, options: dict[str, str]) -> dict[str, Any]:
        return {}

    def attach(self, clock: Clock) -> None:
        """Take the bus's clock; signals are functions of seconds since this moment."""
        self.clock = clock
        self.t0_ns = clock.now_ns()

    def now_ns(self) -> int:
        if self.clock is None:
            raise RuntimeError(f"{type(self).__name__} is not on a bus; add it to an EmulatedBus")
        return self.clock.now_ns()

    def seconds(self, t_ns: float | npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """Signal time (seconds since attach) of host times ``t_ns``."""
        return (np.asarray(t_ns, np.float64) - self.t0_ns) * 1e-9

    def power_on_reset(self) -> None:
        """The part lost power and came back: everything as at power-on."""
        self.power_losses += 1

    def i2c_write(self, data: bytes) -> None:
        raise NotImplementedError

    def i2c_read(self, length: int) -> bytes:
        raise NotImplementedError


class ByteRegisterDevice(I2CEmulator):
    """8-bit registers behind an auto-incrementing pointer.

    Subclasses set ``resets`` (address -> power-on value) and override :meth:`read_register`
    and :meth:`write_register` for registers with behaviour; ``no_increment`` lists ports
    (FIFO) that a burst read drains instead of walking past.
    """

    resets: ClassVar[Mapping[int, int]] = {}
    no_increment: frozenset[int] = frozenset()
    size = 128

    def __init__(self, *, address: int | None = None) -> None:
        super().__init__(address=address)
        self.regs = bytearray(self.size)
        self.pointer = 0
        self.reset_registers()

    def reset_registers(self) -> None:
        self.regs[:] = bytes(self.size)
        for reg, value in self.resets.items():
            self.regs[reg] = value

    def power_on_reset(self) -> None:
        super().power_on_reset()
        self.pointer = 0
        self.reset_registers()

    def update(self) -> None:
        """Bring the part's state up to the clock's now (called before every transfer)."""

    def read_register(self, reg: int) -> int:
        return self.regs[reg]

    def write_register(self, reg: int, value: int) -> None:
        self.regs[reg] = value

    def i2c_write(self, data: bytes) -> None:
        self.update()
        if not data:
            return
        self.pointer = data[0] % self.size
        for value in data[1:]:
            self.write_register(self.pointer, value)
            self._advance_pointer()

    def i2c_read(self, length: int) -> bytes:
        self.update()
        out = bytearray()
        for _ in range(length):
            out.append(self.read_register(self.pointer) & 0xFF)
            self._advance_pointer()
        return bytes(out)

    def _advance_pointer(self) -> None:
        if self.pointer not in self.no_increment:
            self.pointer = (self.pointer + 1) % self.size


class WordRegisterDevice(I2CEmulator):
    """16-bit registers behind a pointer; a read returns the pointed register, 2 bytes at a time.

    ``byteorder`` is ``"big"`` for the INA2xx parts (MSB first) and ``"little"`` for the
    VEML7700 (LSB first).
    """

    resets: ClassVar[Mapping[int, int]] = {}
    byteorder: ClassVar[Literal["big", "little"]] = "big"

    def __init__(self, *, address: int | None = None) -> None:
        super().__init__(address=address)
        self.regs: dict[int, int] = {}
        self.pointer = 0
        self.reset_registers()

    def reset_registers(self) -> None:
        self.regs = dict(self.resets)

    def power_on_reset(self) -> None:
        super().power_on_reset()
        self.pointer = 0
        self.reset_registers()

    def update(self) -> None:
        """Bring the part's state up to the clock's now (called before every transfer)."""

    def read_register(self, reg: int) -> int:
        return self.regs.get(reg, 0)

    def write_register(self, reg: int, value: int) -> None:
        if reg in self.regs:
            self.regs[reg] = value

    def i2c_write(self, data: bytes) -> None:
        self.update()
        if not data:
            return
        self.pointer = data[0]
        if len(data) >= 3:
            value = int.from_bytes(data[1:3], self.byteorder)
            self.write_register(self.pointer, value)

    def i2c_read(self, length: int) -> bytes:
        self.update()
        word = (self.read_register(self.pointer) & 0xFFFF).to_bytes(2, self.byteorder)
        return bytes(word[i % 2] for i in range(length))
