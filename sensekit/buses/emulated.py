"""An emulated I2C bus: the same interface as the smbus2 transport, answered by emulators.

Emulated devices (``sensekit.testing``) sit *behind* this bus and see only what a real part
sees on the wire: a write of some bytes (the first usually a register pointer or an opcode)
and a read of some bytes. Every SMBus call is turned into those transfers exactly as the
SMBus specification frames it (``read_byte_data`` = write the register, repeated start, read
one byte), so the real driver code runs unchanged.

Faults are injected here, where they happen on a real bus::

    bus = EmulatedBus(clock, clock_hz=100_000)   # a 100 kHz bus: transfers cost bus time
    bus.add(Mpu6050Emulator())
    bus.nack(0x68)             # the address stops acknowledging (EREMOTEIO, as the kernel says)
    bus.eio_burst(3)           # the next 3 transfers fail with EIO before any data moved
    bus.fail_after(5, 0x68)    # the next transfer fails after 5 data bytes crossed the wire
    bus.fail_after(5, 0x68, register=0x74)   # ... the next one that reads register 0x74
    bus.power_cycle(0x68)      # the part loses power and comes back with its reset values
    bus.stuck = True           # SDA held low: every transfer times out (ETIMEDOUT)
    bus.vanish(0x68)           # the device is gone for good (unplugged)
    bus.busy(0x40)             # a kernel driver owns the address (EBUSY)
    bus.rdwr_ok = False        # an SMBus-only adapter: long reads fall back to 32-byte blocks

Bus time: each transfer takes the bits it puts on the wire (a start, 9 bits per byte with its
acknowledge, a repeated start for a register read, a stop) at ``clock_hz``. On a
:class:`~sensekit.clock.FakeClock` the clock is moved on by that time, so a 1 kHz IMU drained
over a 100 kHz bus falls behind as it would on the real one; on a real clock the time is only
counted (:attr:`BusTraffic.busy_s`).

Parts behind a multiplexer (a TCA9548A emulator) are reached through it: a transfer to an
address that is not on the bus itself goes to the part at that address on the channels the
multiplexer has selected.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..clock import Clock, default_clock
from .i2c import SMBUS_BLOCK_MAX, transfer_bits

__all__ = ["BusTraffic", "EmulatedBus", "I2CTarget", "transfer_bits"]

@runtime_checkable
class I2CTarget(Protocol):
    """What an emulated device implements: the two halves of an I2C transfer."""

    address: int

    def attach(self, clock: Clock) -> None:
        """Take the bus's time base (called when added to a bus)."""
        ...

    def i2c_write(self, data: bytes) -> None:
        """The master wrote ``data`` (register pointer or opcode first)."""
        ...

    def i2c_read(self, length: int) -> bytes:
        """The master reads ``length`` bytes."""
        ...


@dataclass
class BusTraffic:
    """What crossed the emulated wire, for tests and for the bus-load figures."""

    transfers: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    long_reads: int = 0
    bits: int = 0
    busy_s: float = 0.0


def _err(code: int) -> OSError:
    return OSError(code, os.strerror(code))


@dataclass
class _Fault:
    moved: int
    address: int | None
    register: int | None
    count: int
    code: int

    def applies(self, addr: int, reg: int | None) -> bool:
        return self.address in (None, addr) and self.register in (None, reg)


class EmulatedBus:
    """An I2C adapter whose devices are emulators.

    Args:
        clock: Time base handed to every device added (the driver's clock, a FakeClock in
            tests, so emulated samples appear as simulated time passes).
        bus_number: The number messages and ``sensekit probe`` show.
        clock_hz: SCL frequency (100 kHz standard mode, 400 kHz fast mode); ``None`` makes
            transfers free (no bus time), which only unit tests of other things want.
    """

    def __init__(self, clock: Clock | None = None, bus_number: int = -1,
                 clock_hz: int | None = 400_000) -> None:
        self.clock = clock or default_clock()
        self.bus_number = bus_number
        self.clock_hz = clock_hz
        self.devices: dict[int, I2CTarget] = {}
        self.traffic = BusTraffic()
        self.stuck = False
        self.rdwr_ok = True
        #: Held around a multiplexer selection and the transfer it is for (all users share it).
        self.lock = threading.RLock()
        self._nacking: set[int] = set()
        self._busy: set[int] = set()
        self._eio_left = 0
        self._eio_addr: int | None = None
        self._fault: _Fault | None = None
        self._lock = threading.Lock()
        self.closed = False

    # -- set-up and faults ---------------------------------------------------------------
    def add(self, device: I2CTarget) -> I2CTarget:
        """Put ``device`` on the bus at its ``address``; return it."""
        if device.address in self.devices:
            raise ValueError(f"emulated bus already has a device at {device.address:#04x}")
        device.attach(self.clock)
        self.devices[device.address] = device
        for part in getattr(device, "companions", ()):
            self.add(part)  # parts inside the same package (an MPU-9250's magnetometer)
        return device

    def nack(self, address: int, on: bool = True) -> None:
        """Make ``address`` stop (or resume) acknowledging."""
        (self._nacking.add if on else self._nacking.discard)(address)

    def vanish(self, address: int) -> None:
        """Remove the device at ``address`` as if unplugged."""
        self.devices.pop(address, None)

    def busy(self, address: int, on: bool = True) -> None:
        """Mark ``address`` as owned by a kernel driver (EBUSY on every access)."""
        (self._busy.add if on else self._busy.discard)(address)

    def eio_burst(self, count: int, address: int | None = None) -> None:
        """Fail the next ``count`` transfers (to ``address``, or any) with EIO, before any data
        byte moved (the address or the register pointer was not acknowledged)."""
        self._eio_left, self._eio_addr = count, address

    def fail_after(self, moved: int, address: int | None = None, *,
                   register: int | None = None, count: int = 1, code: int = errno.EIO) -> None:
        """Fail the next ``count`` transfers (to ``address`` and from ``register``, or any)
        after ``moved`` data bytes crossed the wire: a read's part has clocked those bytes out
        (a FIFO has lost them), a write's part has taken them."""
        self._fault = _Fault(moved, address, register, count, code)

    def power_cycle(self, address: int | None = None) -> None:
        """The part at ``address`` (every part if None) loses power and comes back: it holds its
        power-on reset values, as the datasheets' reset columns give them."""
        targets = self.devices.values() if address is None else [self.devices[address]]
        for device in list(targets):
            reset = getattr(device, "power_on_reset", None)
            if reset is not None:
                reset()

    # -- the wire ------------------------------------------------------------------------
    def _route(self, addr: int) -> I2CTarget | None:
        device = self.devices.get(addr)
        if device is not None:
            return device
        for mux in list(self.devices.values()):
            downstream = getattr(mux, "downstream", None)
            if downstream is not None:
                found: I2CTarget | None = downstream(addr)
                if found is not None:
                    return found
        return None

    def _target(self, addr: int) -> I2CTarget:
        if self.closed:
            raise _err(errno.EBADF)
        if self.stuck:
            raise _err(errno.ETIMEDOUT)
        if addr in self._busy:
            raise _err(errno.EBUSY)
        if self._eio_left and self._eio_addr in (None, addr):
            self._eio_left -= 1
            raise _err(errno.EIO)
        device = self._route(addr)
        if device is None or addr in self._nacking:
            raise _err(errno.EREMOTEIO)  # what i2c-bcm2835 and tegra-i2c return on NACK
        self.traffic.transfers += 1
        return device

    def _take_fault(self, addr: int, reg: int | None = None) -> _Fault | None:
        fault = self._fault
        if fault is None or not fault.applies(addr, reg):
            return None
        fault.count -= 1
        if fault.count <= 0:
            self._fault = None
        return fault

    def _charge(self, written: int, read: int) -> None:
        bits = transfer_bits(written, read)
        self.traffic.bits += bits
        if not self.clock_hz:
            return
        seconds = bits / self.clock_hz
        self.traffic.busy_s += seconds
        advance: Any = getattr(self.clock, "advance", None)
        if advance is not None:  # a FakeClock: the transfer takes its time
            advance(seconds)

    def _write(self, addr: int, data: Sequence[int]) -> None:
        with self._lock:
            device = self._target(addr)
            payload = bytes(data)
            fault = self._take_fault(addr, payload[0] if payload else None)
            if fault is not None:
                moved = payload[:fault.moved]
                if moved:
                    device.i2c_write(moved)
                self._charge(len(moved), 0)
                raise _err(fault.code)
            device.i2c_write(payload)
            self.traffic.bytes_written += len(payload)
            self._charge(len(payload), 0)

    def _write_read(self, addr: int, reg: int | None, length: int) -> bytes:
        with self._lock:
            device = self._target(addr)
            fault = self._take_fault(addr, reg)
            if reg is not None:
                device.i2c_write(bytes([reg]))
                self.traffic.bytes_written += 1
            if fault is not None:
                moved = min(fault.moved, length)
                if moved:
                    device.i2c_read(moved)  # clocked out, then the transfer broke
                self._charge(0 if reg is None else 1, moved)
                raise _err(fault.code)
            out = device.i2c_read(length)
            self.traffic.bytes_read += len(out)
            self._charge(0 if reg is None else 1, length)
            return out

    # -- smbus2's names ------------------------------------------------------------------
    def read_byte(self, addr: int) -> int:
        return self._write_read(addr, None, 1)[0]

    def write_byte(self, addr: int, value: int) -> None:
        self._write(addr, [value])

    def read_byte_data(self, addr: int, reg: int) -> int:
        return self._write_read(addr, reg, 1)[0]

    def write_byte_data(self, addr: int, reg: int, value: int) -> None:
        self._write(addr, [reg, value])

    def read_i2c_block_data(self, addr: int, reg: int, length: int) -> list[int]:
        if length > SMBUS_BLOCK_MAX:
            raise ValueError(f"Desired block length over {SMBUS_BLOCK_MAX} bytes")
        return list(self._write_read(addr, reg, length))

    def write_i2c_block_data(self, addr: int, reg: int, data: Sequence[int]) -> None:
        if len(data) > SMBUS_BLOCK_MAX:
            raise ValueError(f"Data length cannot exceed {SMBUS_BLOCK_MAX} bytes")
        self._write(addr, [reg, *data])

    def read_long(self, addr: int, reg: int, length: int) -> bytes:
        if not self.rdwr_ok:
            from .i2c import _read_in_blocks

            return _read_in_blocks(self, addr, reg, length)
        self.traffic.long_reads += 1
        return self._write_read(addr, reg, length)

    def read_raw(self, addr: int, length: int) -> bytes:
        return self._write_read(addr, None, length)

    def close(self) -> None:
        # Several drivers may share one emulated bus; closing a handle does not end it.
        pass
