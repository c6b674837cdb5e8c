"""What every I2C driver shares: finding its bus (real or emulated) and its register bank.

A driver subclasses :class:`I2CDriver`, sets ``default_address``, and in ``_open`` calls
:meth:`I2CDriver.connect`, which returns the device's :class:`~sensekit.buses.i2c.I2CDevice`.
Where the device is comes from the URL or the keyword arguments:

- ``i2c://BUS/ADDR``: the real adapter ``/dev/i2c-BUS`` through smbus2;
- ``emu://`` (options: ``emu://?clock_ppm=8000&address=0x69``): a fresh emulator of the part,
  on its own emulated bus that keeps time with the driver's clock;
- ``emulator=`` a given emulator instance (a scenario's part, fed its own signals);
- ``bus=`` any :class:`~sensekit.buses.i2c.RawBus` (an ``EmulatedBus`` shared by several
  parts), at the URL's address (``i2c://1/0x68``) or ``emu://?address=...``.

With ``SENSEKIT_BACKEND=emu`` in the environment (as gpiozero's ``GPIOZERO_PIN_FACTORY=mock``),
``i2c://`` URLs open emulated parts at their addresses, so a script written for the Pi runs
unchanged on a laptop.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from ..buses.emulated import EmulatedBus
from ..buses.i2c import I2CDevice, RawBus, open_i2c_bus
from ..driver import Driver
from ..errors import ConfigError, DeviceClosed
from ..url import DeviceURL
from .registers import RegisterBank

__all__ = ["I2CDriver"]


class I2CDriver(Driver):
    """Base of drivers for parts on an I2C bus.

    Args:
        url: ``i2c://BUS/ADDR`` or ``emu://``.
        bus: A raw bus to use instead of opening one (e.g. a shared ``EmulatedBus``).
        emulator: An emulator instance to talk to (with ``emu://``).
        **kwargs: Passed to :class:`~sensekit.driver.Driver`.
    """

    schemes: ClassVar[frozenset[str]] = frozenset({"i2c", "emu"})
    default_address: ClassVar[int] = 0x00

    def __init__(self, url: str | DeviceURL, *, bus: RawBus | None = None,
                 emulator: Any = None, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        if emulator is not None and self.url.scheme != "emu":
            raise ConfigError(f"{self.describe()}: emulator= needs an emu:// URL")
        self._given_bus = bus
        self._given_emulator = emulator
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

    def _address(self) -> int:
        if self.url.scheme == "i2c":
            return self.url.i2c_address()[1]
        return self.url.option("address", lambda s: int(s, 0), self.default_address)

    def connect(self) -> I2CDevice:
        """Open the bus the URL names and return the device's transport (no traffic yet)."""
        raw: RawBus
        if self._given_bus is not None:
            raw, address = self._given_bus, self._address()
            bus_number = int(getattr(raw, "bus_number", -1))
        elif self.url.scheme == "emu" or os.environ.get("SENSEKIT_BACKEND") == "emu":
            bus_number = self.url.i2c_address()[0] if self.url.scheme == "i2c" else -1
            raw, address = self._emulated_bus()
        else:
            raw, bus_number, address = open_i2c_bus(self.url)
        if isinstance(raw, EmulatedBus):
            self.emulator = raw.devices.get(address)
        self._device = I2CDevice(raw, bus_number, address, name=self.name or type(self).__name__,
                                 retries=self.retries, clock=self.clock, where=self.url.raw)
        self._regs = RegisterBank(self._device)
        return self._device

    def _emulated_bus(self) -> tuple[EmulatedBus, int]:
        from ..testing.i2c_devices import make_emulator

        emulator = self._given_emulator
        if emulator is None:
            address = self._address()
            emulator = make_emulator(self.name, {**self.url.options, "address": hex(address)})
        else:  # a given emulator is found at its own address
            address = int(emulator.address)
        bus = EmulatedBus(self.clock)
        bus.add(emulator)
        return bus, address

    def _close(self) -> None:
        if self._device is not None:
            self._device.close()
