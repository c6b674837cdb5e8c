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

Retries follow what a transfer does to the part. Reading an ordinary register or writing a
value is idempotent and retried; a read with side effects (a FIFO port, a clear-on-read status
register, a read that ends a measurement) is not: if it fails, bytes may already have left the
part, and repeating it would return the bytes after them as if they were the first. Such reads
raise :class:`TransferLost` at once, and the driver resynchronises and counts what was lost.

One process shares one adapter handle per bus (:meth:`Smbus2Bus.shared`), with one lock that
every device on the bus holds around each transfer, so a multiplexer's channel selection and the
transfer it is for are never split by another thread. Parts behind a TCA9548A
(``i2c://1/0x70:3/0x68``) are reached by writing the channel's bit to the multiplexer's control
register first (TI SCPS207F sec. 8.5.4, p. 17), only when the selection has to change. The kernel
driver ``i2c-mux-pca954x`` (``dtoverlay=i2c-mux,pca9548``) does the same for every process and
gives each channel a bus of its own; when it owns the multiplexer, use those bus numbers.

The bus clock is read when a bus is opened (:func:`bus_clock_hz`): the adapter's device-tree
node holds it, ``/sys/class/i2c-adapter/i2c-N/of_node/clock-frequency`` (a 32-bit big-endian
number; on a Raspberry Pi ``dtparam=i2c_arm_baudrate`` sets it, on a Jetson the module's device
tree); a multiplexer channel takes its parent bus's clock.
"""

from __future__ import annotations

import errno
import os
import re
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

from .._optional import require
from ..clock import Clock, default_clock
from ..errors import ConfigError, DeviceIOError, DeviceNotFound
from ..url import DeviceURL

__all__ = ["SMBUS_BLOCK_MAX", "I2CDevice", "RawBus", "Smbus2Bus", "TransferLost",
           "bus_clock_hz", "open_i2c_bus", "transfer_bits"]

#: The SMBus 2.0 block transfer limit (SMBus spec v2.0, sec. 5.5.7: up to 32 data bytes).
SMBUS_BLOCK_MAX = 32

#: Errnos that are a transient glitch once the device is known to be there.
TRANSIENT_ERRNOS = frozenset({errno.EIO, errno.EREMOTEIO, errno.ETIMEDOUT, errno.EAGAIN})
#: Errnos that mean "nothing answered at this address".
ABSENT_ERRNOS = frozenset({errno.EREMOTEIO, errno.ENXIO, errno.EIO, errno.ENODEV,
                           errno.ETIMEDOUT})


#: Bits per byte on the wire: 8 data bits and the acknowledge (I2C-bus specification UM10204
#: Rev. 7, sec. 3.1.5-3.1.6).
BITS_PER_BYTE = 9


def transfer_bits(written: int, read: int = 0) -> int:
    """Bits one transfer puts on an I2C bus: ``written`` bytes after the address, then (with a
    repeated start and the address again) ``read`` bytes; start and stop count one bit each."""
    bits = 1 + BITS_PER_BYTE * (1 + written) + 1
    if read:
        bits += BITS_PER_BYTE * (1 + read) + (1 if written else 0)
    return bits


class TransferLost(DeviceIOError):
    """A transfer with side effects failed part-way: bytes may have left the part (a FIFO read
    lost them), so it was not repeated. The driver resynchronises and counts the loss."""


def bus_clock_hz(bus_number: int, root: Path = Path("/")) -> tuple[int | None, str]:
    """The SCL frequency of ``/dev/i2c-N`` and where it was read from.

    Returns ``(None, reason)`` where the adapter does not say (a USB adapter, no device tree).
    """
    sysfs = root / "sys/class/i2c-adapter" / f"i2c-{bus_number}"
    node = sysfs / "of_node/clock-frequency"
    if node.exists():
        raw = node.read_bytes()[:4]
        if len(raw) == 4:
            return int.from_bytes(raw, "big"), f"/{node.relative_to(root)}"
    parent = _mux_parent(sysfs)
    if parent is not None and parent != bus_number:
        hz, where = bus_clock_hz(parent, root)
        return hz, f"{where} (parent of multiplexer channel i2c-{bus_number})"
    return None, f"/{node.relative_to(root)} is absent"


def _mux_parent(sysfs: Path) -> int | None:
    """The bus a kernel multiplexer channel hangs from (its sysfs path passes through it)."""
    try:
        real = os.path.realpath(sysfs)
    except OSError:
        return None
    numbers = [int(n) for n in re.findall(r"/i2c-(\d+)(?=/)", real)]
    return numbers[-1] if numbers else None


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

    Use :meth:`shared` to get the process's one handle for a bus; each user calls ``close``
    once and the file is closed when the last one has.

    Args:
        bus: Adapter number (``1`` on a Pi's header; ``1``, ``7`` or ``8`` on Jetson headers by
            module, see ``drivers/wiring.md``).
    """

    _open: ClassVar[dict[int, Smbus2Bus]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, bus: int) -> None:
        smbus2 = require("smbus2", extra="i2c", what=f"I2C bus {bus}")
        self.bus_number = bus
        self._smbus2 = smbus2
        self._bus: Any = smbus2.SMBus(bus)
        #: Cleared when the adapter refuses I2C_RDWR (some SMBus-only adapters do).
        self.rdwr_ok = True
        #: Held around each transfer and multiplexer selection by every device on the bus.
        self.lock = threading.RLock()
        self.users = 1
        self.clock_hz, self.clock_source = bus_clock_hz(bus)

    @classmethod
    def shared(cls, bus: int) -> Smbus2Bus:
        """The process's handle for ``/dev/i2c-BUS``, opened on first use."""
        with cls._guard:
            handle = cls._open.get(bus)
            if handle is not None:
                handle.users += 1
                return handle
            handle = cls._open[bus] = cls(bus)
            return handle

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
        with self._guard:
            self.users -= 1
            if self.users > 0:
                return
            if self._open.get(self.bus_number) is self:
                del self._open[self.bus_number]
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
        return Smbus2Bus.shared(bus_number), bus_number, address
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

    Thread-safe: the bus's lock is held around each transfer (and any multiplexer selection it
    needs) and around :attr:`lock` blocks, so a driver's reader thread, the controller's
    ``set_rate`` and other devices on the same bus never interleave on the wire.

    Args:
        bus: The raw bus (real or emulated).
        bus_number: For messages (``i2c://1/0x68``); ``-1`` for an emulated bus.
        address: 7-bit address.
        name: Device name for messages (``"mpu6050"``).
        retries: Transient errors retried per idempotent transfer before :class:`DeviceIOError`.
        clock: Waits between retries.
        where: How messages name the location (defaults to ``i2c://BUS/ADDR``).
        route: ``(multiplexer address, channel)`` hops from the bus to the device.
    """

    def __init__(self, bus: RawBus, bus_number: int, address: int, *, name: str = "device",
                 retries: int = 3, clock: Clock | None = None, where: str | None = None,
                 route: tuple[tuple[int, int], ...] = ()) -> None:
        self.bus = bus
        self.bus_number = bus_number
        self.address = address
        self.name = name
        self.retries = retries
        self.clock = clock or default_clock()
        self.where = where or f"i2c://{bus_number}/{address:#04x}"
        self.route = route
        shared: Any = getattr(bus, "lock", None)
        self.lock: Any = shared if shared is not None else threading.RLock()
        self.retried = 0

    @property
    def clock_hz(self) -> int | None:
        """The bus's SCL frequency, where the adapter says (see :func:`bus_clock_hz`)."""
        hz = getattr(self.bus, "clock_hz", None)
        return int(hz) if hz else None

    # -- multiplexers ------------------------------------------------------------------
    def _select(self) -> None:
        """Point every multiplexer on the route at the device's channel (only if it is not)."""
        state = _MUX_STATE.setdefault(self.bus, {})
        for mux, channel in self.route:
            want = 1 << channel       # TCA9548A control register: bit n selects channel n
            if state.get(mux) == want:
                continue
            state.pop(mux, None)
            try:
                self.bus.write_byte(mux, want)
            except OSError as exc:
                if exc.errno == errno.EBUSY:
                    raise DeviceIOError(
                        f"{self.name} at {self.where}: the multiplexer at {mux:#04x} is owned by "
                        "a kernel driver (i2c-mux-pca954x). Hint: use the bus the kernel made "
                        f"for channel {channel} ('i2cdetect -l' lists it) as i2c://N/"
                        f"{self.address:#04x}") from exc
                raise
            state[mux] = want

    def _on_bus(self, fn: Any, *args: Any) -> Any:
        with self.lock:
            try:
                self._select()
                return fn(self.address, *args)
            except OSError:
                _MUX_STATE.pop(self.bus, None)  # a failed transfer leaves the selection unknown
                raise

    # -- phase 1: is anything there? --------------------------------------------------
    def check_present(self, reg: int | None = None) -> int:
        """Read one byte (register ``reg``, or a plain read) to see that the device answers.

        Returns:
            The byte read.

        Raises:
            DeviceNotFound: nothing acknowledged the address (or the kernel owns it).
        """
        try:
            if reg is None:
                return int(self._on_bus(self.bus.read_byte))
            return int(self._on_bus(self.bus.read_byte_data, reg))
        except OSError as exc:
            raise self._open_error(exc) from exc

    def check_write(self, opcode: int) -> None:
        """Write one opcode byte as the presence check (devices that cannot be read first)."""
        try:
            self._on_bus(self.bus.write_byte, opcode)
        except OSError as exc:
            raise self._open_error(exc) from exc

    def _open_error(self, exc: OSError) -> DeviceNotFound:
        if isinstance(exc, DeviceIOError):
            return DeviceNotFound(str(exc))
        if exc.errno == errno.EBUSY:
            return DeviceNotFound(_busy_message(self.name, self.where, self.address))
        hops = ", ".join(f"{mux:#04x}:{channel}" for mux, channel in self.route)
        behind = f" behind multiplexer channel(s) {hops}" if self.route else ""
        return DeviceNotFound(
            f"no {self.name} answered at {self.where}{behind} ({exc.strerror or exc}). Hint: "
            f"check wiring and power, and run 'i2cdetect -y {max(self.bus_number, 0)}' to see "
            "which addresses answer")

    # -- phase 2: streaming ------------------------------------------------------------
    def _io(self, op: str, fn: Any, *args: Any, repeatable: bool = True) -> Any:
        attempt = 0
        while True:
            try:
                return self._on_bus(fn, *args)
            except DeviceIOError:
                raise
            except OSError as exc:
                if exc.errno == errno.EBUSY:
                    raise DeviceIOError(_busy_message(self.name, self.where,
                                                      self.address)) from exc
                if not repeatable:
                    raise TransferLost(
                        f"{self.name} at {self.where}: {op} failed part-way "
                        f"({exc.strerror or exc}); not repeated, since bytes may have left the "
                        "part") from exc
                if exc.errno not in TRANSIENT_ERRNOS or attempt >= self.retries:
                    raise DeviceIOError(
                        f"{self.name} at {self.where}: {op} failed: {exc.strerror or exc} "
                        f"(after {attempt + 1} attempts). Hint: check wiring, pull-ups and "
                        "bus speed; a device that vanished needs power cycling") from exc
                attempt += 1
                self.retried += 1
                self.clock.sleep(min(0.0005 * 2 ** attempt, 0.02))

    def read_u8(self, reg: int, *, repeatable: bool = True) -> int:
        """Register ``reg`` as one byte (``repeatable=False`` for clear-on-read registers)."""
        return int(self._io(f"read of register {reg:#04x}", self.bus.read_byte_data, reg,
                            repeatable=repeatable))

    def write_u8(self, reg: int, value: int) -> None:
        """Write one byte to register ``reg``."""
        if not 0 <= value <= 0xFF:
            raise ConfigError(f"{self.name}: byte value {value} out of range")
        self._io(f"write of register {reg:#04x}", self.bus.write_byte_data, reg, value)

    def read_block(self, reg: int, length: int, *, repeatable: bool = True) -> bytes:
        """``length`` bytes from ``reg`` on (auto-increment or FIFO port), any length.

        ``repeatable=False`` for reads with side effects (a FIFO port): a failure then raises
        :class:`TransferLost` instead of repeating the read.
        """
        op = f"read of {length} bytes at {reg:#04x}"
        if length <= SMBUS_BLOCK_MAX:
            data = self._io(op, self.bus.read_i2c_block_data, reg, length,
                            repeatable=repeatable)
            return bytes(data)
        return bytes(self._io(op, self.bus.read_long, reg, length, repeatable=repeatable))

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
        """Close the underlying bus handle (shared handles close with their last user)."""
        with self.lock:
            self.bus.close()


#: Multiplexer selections last written, per bus object (a cache to save bus time).
_MUX_STATE: weakref.WeakKeyDictionary[Any, dict[int, int]] = weakref.WeakKeyDictionary()


def _busy_message(name: str, where: str, address: int) -> str:
    return (f"{name} at {where}: address {address:#04x} is in use by a kernel driver (EBUSY). "
            "Hint: unload or unbind that driver (e.g. remove its dtoverlay), or read the "
            "device through the kernel's own interface")
