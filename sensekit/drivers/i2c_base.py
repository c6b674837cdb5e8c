"""What every I2C driver shares: finding its bus (real or emulated), its register bank, and
checking that the bus can carry what the configured rates need.

A driver subclasses :class:`I2CDriver`, sets ``default_address``, and in ``_open`` calls
:meth:`I2CDriver.connect`, which returns the device's :class:`~sensekit.buses.i2c.I2CDevice`.
Where the device is comes from the URL or the keyword arguments:

- ``i2c://BUS/ADDR``: the real adapter ``/dev/i2c-BUS`` through smbus2 (one handle per bus per
  process); ``i2c://BUS/0x70:3/ADDR``: behind channel 3 of a TCA9548A multiplexer at 0x70;
- ``emu://`` (options: ``emu://?clock_ppm=8000&address=0x69&bus_khz=100``): a fresh emulator of
  the part, on its own emulated bus that keeps time with the driver's clock;
- ``emulator=`` a given emulator instance (a scenario's part, fed its own signals);
- ``bus=`` any :class:`~sensekit.buses.i2c.RawBus` (an ``EmulatedBus`` shared by several
  parts), at the URL's address (``i2c://1/0x68``) or ``emu://?address=...``.

With ``SENSEKIT_BACKEND=emu`` in the environment (as gpiozero's ``GPIOZERO_PIN_FACTORY=mock``),
``i2c://`` URLs open emulated parts at their addresses, all parts of a bus number on one
emulated bus, so a script written for the Pi runs unchanged on a laptop.

Bus time: each driver states the bits per second its configured rate puts on the bus
(:meth:`I2CDriver.bus_bits_per_s`); at open and at every rate change the sum over the drivers of
this process on that bus is checked against the bus clock read at open (see
:func:`sensekit.buses.i2c.bus_clock_hz`). A load the clock cannot carry is a
:class:`~sensekit.errors.ConfigError` with the fix; more than half of it is logged.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, ClassVar

from ..buses.emulated import EmulatedBus
from ..buses.i2c import I2CDevice, RawBus, open_i2c_bus, transfer_bits
from ..driver import Driver
from ..errors import ConfigError, DeviceClosed
from ..url import DeviceURL
from .registers import RegisterBank

__all__ = ["I2CDriver", "bus_load_bits_per_s"]

log = logging.getLogger(__name__)

#: Bits per second each open driver claims, per bus object.
_LOADS: weakref.WeakKeyDictionary[Any, dict[int, tuple[str, float]]] = \
    weakref.WeakKeyDictionary()


def bus_load_bits_per_s(bus: Any) -> float:
    """What the open drivers of this process claim of ``bus``, in bits per second."""
    return sum(bps for _, bps in _LOADS.get(bus, {}).values())


class I2CDriver(Driver):
    """Base of drivers for parts on an I2C bus.

    Args:
        url: ``i2c://BUS/ADDR``, ``i2c://BUS/MUX:CHANNEL/ADDR`` or ``emu://``.
        bus: A raw bus to use instead of opening one (e.g. a shared ``EmulatedBus``).
        **kwargs: Passed to :class:`~sensekit.driver.Driver` (``emulator=`` with ``emu://``).
    """

    schemes: ClassVar[frozenset[str]] = frozenset({"i2c", "emu"})
    emulable: ClassVar[frozenset[str]] = frozenset({"i2c"})
    default_address: ClassVar[int] = 0x00

    def __init__(self, url: str | DeviceURL, *, bus: RawBus | None = None,
                 **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._given_bus = bus
        #: The emulated part behind the bus, when there is one (tests and demos read it).
        self.emulator: Any = None
        self._device: I2CDevice | None = None
        self._regs: RegisterBank | None = None

    @property
    def device(self) -> I2CDevice:
        if self._device is None:
            raise DeviceClosed(f"{self.describe()} is not open")
        return self._device

    @property
    def regs(self) -> RegisterBank:
        if self._regs is None:
            raise DeviceClosed(f"{self.describe()} is not open")
        return self._regs

    def _route(self) -> tuple[int, tuple[tuple[int, int], ...], int]:
        """``(bus number, multiplexer hops, address)`` the URL names (-1 for ``emu://``)."""
        if self.url.scheme == "i2c":
            return self.url.i2c_route()
        address = self.url.option("address", lambda s: int(s, 0), self.default_address)
        return -1, (), address

    def connect(self) -> I2CDevice:
        """Open the bus the URL names and return the device's transport (no traffic yet)."""
        bus_number, route, address = self._route()
        raw: RawBus
        if self._given_bus is not None:
            raw = self._given_bus
            bus_number = int(getattr(raw, "bus_number", bus_number))
        elif self.uses_emulator:
            raw, address = self._emulated_bus(bus_number, route, address)
        else:
            raw, bus_number, address = open_i2c_bus(self.url)
        self._device = I2CDevice(raw, bus_number, address, name=self.name or type(self).__name__,
                                 retries=self.retries, clock=self.clock, where=self.url.raw,
                                 route=route)
        if isinstance(raw, EmulatedBus) and self.emulator is None:
            self.emulator = _find(raw, route, address)
        self._regs = RegisterBank(self._device)
        return self._device

    def _emulated_bus(self, bus_number: int, route: tuple[tuple[int, int], ...],
                      address: int) -> tuple[EmulatedBus, int]:
        from ..testing.emulators import place, shared_bus

        khz = self.url.option("bus_khz", float, 400.0)
        if self.url.scheme == "i2c":  # SENSEKIT_BACKEND=emu: the process's emulated bus N
            bus = shared_bus(bus_number, self.clock, round(khz * 1000))
            self.emulator = place(bus, self.name, route, address, self.url.options)
            return bus, address
        part = self.emulated_part()
        if self._given_emulator is not None:  # a given part answers at its own address
            address = int(part.address)
        elif int(part.address) != address:
            part.address = address
        bus = EmulatedBus(self.clock, clock_hz=round(khz * 1000))
        bus.add(part)
        self.emulator = part
        return bus, address

    # -- bus time ----------------------------------------------------------------------
    def bus_bits_per_s(self, rate_hz: float) -> float:
        """Bits per second this driver puts on the bus at ``rate_hz`` (each driver's reads)."""
        return rate_hz * transfer_bits(1, 2)

    def open(self) -> I2CDriver:
        super().open()
        self._claim_bus_time(self.rate_hz or self.default_rate_hz or 1.0)
        return self

    def set_rate(self, rate_hz: float, *, reason: str = "") -> float:
        self._check_open()
        self._claim_bus_time(self.check_rate(rate_hz))
        actual = super().set_rate(rate_hz, reason=reason)
        self._claim_bus_time(actual)
        return actual

    def _claim_bus_time(self, rate_hz: float) -> None:
        device = self.device
        claims = _LOADS.setdefault(device.bus, {})
        others = sum(bps for key, (_, bps) in claims.items() if key != id(self))
        mine = self.bus_bits_per_s(rate_hz)
        clock_hz = device.clock_hz
        if clock_hz:
            self._check_load(rate_hz, mine, others, clock_hz)
        claims[id(self)] = (self.describe(), mine)

    def _check_load(self, rate_hz: float, mine: float, others: float, clock_hz: int) -> None:
        total = mine + others
        where = getattr(self.device.bus, "clock_source", "the emulated bus")
        if total > clock_hz:
            shared = f" (with {others / 1000:.0f} kbit/s of other parts)" if others else ""
            fits = rate_hz * (clock_hz - others) / mine if mine else 0.0
            raise ConfigError(
                f"{self.describe()}: {rate_hz:g} Hz needs about {mine / 1000:.0f} kbit/s of I2C "
                f"bus {self.device.bus_number}{shared}, but the bus runs at "
                f"{clock_hz / 1000:g} kHz (read from {where}). Hint: raise the bus clock (Pi: "
                "dtparam=i2c_arm_baudrate=400000 in config.txt, then reboot) or lower rate_hz "
                f"to {max(fits, 0.0):.0f} or less")
        if total > clock_hz / 2:
            log.warning("%s: the I2C bus is %.0f%% busy at %g kHz; reads may fall behind",
                        self.describe(), 100 * total / clock_hz, clock_hz / 1000)

    def _close(self) -> None:
        if self._device is not None:
            _LOADS.get(self._device.bus, {}).pop(id(self), None)
            self._device.close()


def _find(bus: EmulatedBus, route: tuple[tuple[int, int], ...], address: int) -> Any:
    if not route:
        return bus.devices.get(address)
    container: Any = bus.devices.get(route[0][0])
    for i, (_, channel) in enumerate(route):
        if container is None:
            return None
        part = container.channels[channel].get(route[i + 1][0] if i + 1 < len(route)
                                               else address)
        container = part
    return container
