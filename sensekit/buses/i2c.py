"""I2C transport: one device at one address on an smbus2 bus, or on an emulated bus.

The same driver code runs on a Pi or Jetson (``i2c://BUS/ADDR``, real ``/dev/i2c-BUS`` through
smbus2) and in tests and demos (``emu://``, an :class:`~sensekit.buses.emulated.EmulatedBus`).
Both sit behind the :class:`RawBus` protocol, whose methods are smbus2's own names plus two
plain-I2C transfers smbus2 does with ``i2c_rdwr``.

Errors are judged by the phase they happen in, because the kernel reports a NACK as
``EREMOTEIO`` (121) on bcm2835, the Pi 5's RP1 and Tegra alike, and the same errno means "nothing
there" when opening but "a glitch" mid-stream:

- when opening (:meth:`I2CDevice.check_present`), no answer is :class:`DeviceNotFound` naming
  the bus and address, with the hint ``i2cdetect -y BUS``;
- ``EBUSY`` means a kernel driver owns the address; that is said as such, in any phase;
- mid-stream ``EIO``, ``EREMOTEIO``, ``ETIMEDOUT`` and ``EAGAIN`` are retried a bounded number
  of times, then raised as :class:`DeviceIOError`;
- a missing ``/dev/i2c-BUS`` or a permission error is :class:`DeviceNotFound` with the fix.

Reads longer than SMBus's 32-byte block limit (a FIFO drain) go through ``i2c_rdwr`` (a write
of the register then a read of any length, with a repeated start) where the adapter allows it,
and fall back to 32-byte blocks where it does not.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from .._optional import require
from ..clock import Clock, default_clock
from ..errors import ConfigError, DeviceIOError, DeviceNotFound
from ..url import DeviceURL

__all__ = ["SMBUS_BLOCK_MAX", "I2CDevice", "RawBus", "Smbus2Bus", "open_i2c_bus"]

#: The SMBus 2.0 block transfer limit (SMBus spec v2.0, sec. 5.5.7: up to 32 data bytes).
SMBUS_BLOCK_MAX = 32

#: Errnos that are a transient glitch once the device is known to be there.
TRANSIENT_ERRNOS = frozenset({errno.EIO, errno.EREMOTEIO, errno.ETIMEDOUT, errno.EAGAIN})
#: Errnos that mean "nothing answered at this address".
ABSENT_ERRNOS = frozenset({errno.EREMOTEIO, errno.ENXIO, errno.EIO, errno.ENODEV,
                           errno.ETIMEDOUT})


class RawBus(Protocol):
    """What :class:`I2CDevice` needs from a bus: smbus2's methods, plus two plain transfers.

    :class:`Smbus2Bus` provides it over a real adapter, :class:`~sensekit.buses.emulated.
    EmulatedBus` over emulated devices.
    """

    def read_byte(self, addr: int) -> int: ...

    def write_byte(self, addr: int, value: int) -> None: ...

    def read_byte_data(self, addr: int, reg: int) -> int: ...

    def write_byte_data(self, addr: int, reg: int, value: int) -> None: ...

    def read_i2c_block_data(self, addr: int, reg: int, length: int) -> list[int]: ...

    def write_i2c_block_data(self, addr: int, reg: int, data: Sequence[int]) -> None: ...

    def read_long(self, addr: int, reg: int, length: int) -> bytes:
        """Write ``reg``, repeated start, read ``length`` bytes (any length)."""
        ...

    def read_raw(self, addr: int, length: int) -> bytes:
        """A plain read of ``length`` bytes without a register (opcode devices: BH1750)."""
        ...

    def close(self) -> None: ...


class Smbus2Bus:
    """A real ``/dev/i2c-N`` adapter through smbus2, with ``i2c_rdwr`` for long reads.

    Args:
        bus: Adapter number (``1`` on a Pi's header, ``7`` or ``1`` on Jetson headers).
    """

    def __init__(self, bus: int) -> None:
        smbus2 = require("smbus2", extra="i2c", what=f"I2C bus {bus}")
        self.bus_number = bus
        self._smbus2 = smbus2
        self._bus: Any = smbus2.SMBus(bus)
        #: Cleared when the adapter refuses I2C_RDWR (some SMBus-only adapters do).
        self.rdwr_ok = True

    def read_byte(self, addr: int) -> int:
        return int(self._bus.read_byte(addr))

    def write_byte(self, addr: int, value: int) -> None:
        self._bus.write_byte(addr, value)

    def read_byte_data(self, addr: int, reg: int) -> int:
        return int(self._bus.read_byte_data(addr, reg))

    def write_byte_data(self, addr: int, reg: int, value: int) -> None:
        self._bus.write_byte_data(addr, reg, value)

    def read_i2c_block_data(self, addr: int, reg: int, length: int) -> list[int]:
        return list(self._bus.read_i2c_block_data(addr, reg, length))

    def write_i2c_block_data(self, addr: int, reg: int, data: Sequence[int]) -> None:
        self._bus.write_i2c_block_data(addr, reg, list(data))

    def read_long(self, addr: int, reg: int, length: int) -> bytes:
        if self.rdwr_ok:
            msg = self._smbus2.i2c_msg
            write, read = msg.write(addr, [reg]), msg.read(addr, length)
            try:
                self._bus.i2c_rdwr(write, read)
                return bytes(read)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.ENOTTY, errno.EINVAL):
                    raise
                self.rdwr_ok = False  # SMBus-only adapter: fall back to blocks below
        return _read_in_blocks(self, addr, reg, length)

    def read_raw(self, addr: int, length: int) -> bytes:
        read = self._smbus2.i2c_msg.read(addr, length)
        self._bus.i2c_rdwr(read)
        return bytes(read)

    def close(self) -> None:
        self._bus.close()


def _read_in_blocks(bus: RawBus, addr: int, reg: int, length: int) -> bytes:
    """A long read as 32-byte SMBus blocks from the same register (a FIFO port)."""
    out = bytearray()
    while len(out) < length:
        n = min(SMBUS_BLOCK_MAX, length - len(out))
        out += bytes(bus.read_i2c_block_data(addr, reg, n))
    return bytes(out)


def open_i2c_bus(url: DeviceURL) -> tuple[RawBus, int, int]:
    """The raw bus, bus number and address a URL names.

    ``i2c://BUS/ADDR`` opens ``/dev/i2c-BUS`` through smbus2. ``emu://`` is answered by the
    caller's emulator (see :mod:`sensekit.buses.emulated`); this function handles only real
    buses and raises :class:`ConfigError` for any other scheme.

    Raises:
        DeviceNotFound: the adapter is missing or not accessible (with the fix).
    """
    if url.scheme != "i2c":
        raise ConfigError(f"{url.raw!r} is not an i2c://BUS/ADDR URL")
    bus_number, address = url.i2c_address()
    try:
        return Smbus2Bus(bus_number), bus_number, address
    except FileNotFoundError:
        raise DeviceNotFound(
            f"I2C bus {bus_number} does not exist: /dev/i2c-{bus_number} is missing (for "
            f"{url.raw}). Hint: enable I2C (Pi: 'sudo raspi-config nonint do_i2c 0' or "
            "dtparam=i2c_arm=on in config.txt; Jetson: use a bus number 'i2cdetect -l' lists)"
        ) from None
    except PermissionError:
        raise DeviceNotFound(
            f"no permission to open /dev/i2c-{bus_number} (for {url.raw}). Hint: add yourself "
            "to the i2c group ('sudo usermod -aG i2c $USER', then log in again) or install "
            "drivers/99-sensekit.rules") from None


class I2CDevice:
    """One device at one address: register reads and writes with phase-aware errors.

    Thread-safe: a lock is held around each transfer and around :meth:`transaction` blocks, so
    a driver's reader thread and the controller's ``set_rate`` never interleave on the wire.

    Args:
        bus: The raw bus (real or emulated).
        bus_number: For messages (``i2c://1/0x68``); ``-1`` for an emulated bus.
        address: 7-bit address.
        name: Device name for messages (``"mpu6050"``).
        retries: Transient errors retried per transfer before :class:`DeviceIOError`.
        clock: Waits between retries.
        where: How messages name the location (defaults to ``i2c://BUS/ADDR``).
    """

    def __init__(self, bus: RawBus, bus_number: int, address: int, *, name: str = "device",
                 retries: int = 3, clock: Clock | None = None, where: str | None = None) -> None:
        self.bus = bus
        self.bus_number = bus_number
        self.address = address
        self.name = name
        self.retries = retries
        self.clock = clock or default_clock()
        self.where = where or f"i2c://{bus_number}/{address:#04x}"
        self.lock = threading.RLock()
        self.retried = 0

    # -- phase 1: is anything there? --------------------------------------------------
    def check_present(self, reg: int | None = None) -> int:
        """Read one byte (register ``reg``, or a plain read) to see that the device answers.

        Returns:
            The byte read.

        Raises:
            DeviceNotFound: nothing acknowledged the address (or the kernel owns it).
        """
        try:
            with self.lock:
                if reg is None:
                    return self.bus.read_byte(self.address)
                return self.bus.read_byte_data(self.address, reg)
        except OSError as exc:
            raise self._open_error(exc) from exc

    def check_write(self, opcode: int) -> None:
        """Write one opcode byte as the presence check (devices that cannot be read first)."""
        try:
            with self.lock:
                self.bus.write_byte(self.address, opcode)
        except OSError as exc:
            raise self._open_error(exc) from exc

    def _open_error(self, exc: OSError) -> DeviceNotFound:
        if exc.errno == errno.EBUSY:
            return DeviceNotFound(_busy_message(self.name, self.where, self.address))
        return DeviceNotFound(
            f"no {self.name} answered at {self.where} ({exc.strerror or exc}). Hint: check "
            f"wiring and power, and run 'i2cdetect -y {max(self.bus_number, 0)}' to see which "
            "addresses answer")

    # -- phase 2: streaming ------------------------------------------------------------
    def _io(self, op: str, fn: Any, *args: Any) -> Any:
        attempt = 0
        while True:
            try:
                with self.lock:
                    return fn(self.address, *args)
            except OSError as exc:
                if exc.errno == errno.EBUSY:
                    raise DeviceIOError(_busy_message(self.name, self.where,
                                                      self.address)) from exc
                if exc.errno not in TRANSIENT_ERRNOS or attempt >= self.retries:
                    raise DeviceIOError(
                        f"{self.name} at {self.where}: {op} failed: {exc.strerror or exc} "
                        f"(after {attempt + 1} attempts). Hint: check wiring, pull-ups and "
                        "bus speed; a device that vanished needs power cycling") from exc
                attempt += 1
                self.retried += 1
                self.clock.sleep(min(0.0005 * 2 ** attempt, 0.02))

    def read_u8(self, reg: int) -> int:
        """Register ``reg`` as one byte."""
        return int(self._io(f"read of register {reg:#04x}", self.bus.read_byte_data, reg))

    def write_u8(self, reg: int, value: int) -> None:
        """Write one byte to register ``reg``."""
        if not 0 <= value <= 0xFF:
            raise ConfigError(f"{self.name}: byte value {value} out of range")
        self._io(f"write of register {reg:#04x}", self.bus.write_byte_data, reg, value)

    def read_block(self, reg: int, length: int) -> bytes:
        """``length`` bytes from ``reg`` on (auto-increment or FIFO port), any length."""
        if length <= SMBUS_BLOCK_MAX:
            data = self._io(f"read of {length} bytes at {reg:#04x}",
                            self.bus.read_i2c_block_data, reg, length)
            return bytes(data)
        return bytes(self._io(f"read of {length} bytes at {reg:#04x}", self.bus.read_long,
                              reg, length))

    def write_block(self, reg: int, data: Sequence[int]) -> None:
        """Write ``data`` starting at ``reg`` (at most 32 bytes)."""
        self._io(f"write of {len(data)} bytes at {reg:#04x}", self.bus.write_i2c_block_data,
                 reg, list(data))

    def write_command(self, opcode: int) -> None:
        """Send a single opcode byte (opcode-only devices such as the BH1750)."""
        self._io(f"command {opcode:#04x}", self.bus.write_byte, opcode)

    def read_bytes(self, length: int) -> bytes:
        """A plain read of ``length`` bytes with no register (opcode-only devices)."""
        return bytes(self._io(f"read of {length} bytes", self.bus.read_raw, length))

    def close(self) -> None:
        """Close the underlying bus handle."""
        with self.lock:
            self.bus.close()


def _busy_message(name: str, where: str, address: int) -> str:
    return (f"{name} at {where}: address {address:#04x} is in use by a kernel driver (EBUSY). "
            "Hint: unload or unbind that driver (e.g. remove its dtoverlay), or read the "
            "device through the kernel's own interface")
