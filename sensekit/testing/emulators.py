"""One way to get an emulated part for any driver: ``emu://`` URLs and ``SENSEKIT_BACKEND=emu``.

Every driver family (I2C parts, the GPS receiver, microphones, cameras) finds its emulator here
by driver name, built from the URL's options on the driver's clock::

    sensekit.open("mpu6050", "emu://?clock_ppm=8000")      # a fresh emulated part
    SENSEKIT_BACKEND=emu python my_pi_script.py             # i2c://, /dev/serial0, mic://,
                                                            # /dev/video0 open emulated parts

With ``SENSEKIT_BACKEND=emu`` the I2C parts of one process share one emulated bus per bus number
(so two parts at alternate addresses, or parts behind a TCA9548A at ``i2c://1/0x70:3/0x68``,
sit on the same wires, and a part reopened keeps its state as a real one would).

Drivers import this module only when they open an emulated part, never at module level.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from typing import Any

from ..buses.emulated import EmulatedBus
from ..clock import Clock
from ..errors import ConfigError

__all__ = ["EMULATORS", "make_emulator", "shared_bus"]

#: driver name -> (module, class) of its emulator; each class has
#: ``from_options(options: dict[str, str], clock: Clock)``.
EMULATORS: dict[str, tuple[str, str]] = {
    "mpu6050": ("sensekit.testing.mpu6050_emu", "Mpu6050Emulator"),
    "mpu9250": ("sensekit.testing.mpu9250_emu", "Mpu9250Emulator"),
    "bh1750": ("sensekit.testing.light_emu", "Bh1750Emulator"),
    "veml7700": ("sensekit.testing.light_emu", "Veml7700Emulator"),
    "ina219": ("sensekit.testing.ina_emu", "Ina219Emulator"),
    "ina226": ("sensekit.testing.ina_emu", "Ina226Emulator"),
    "ina3221": ("sensekit.testing.ina_emu", "Ina3221Emulator"),
    "tca9548a": ("sensekit.testing.tca9548a_emu", "Tca9548aEmulator"),
    "nmea": ("sensekit.testing.gps_receiver", "GpsReceiverEmulator"),
    "audio": ("sensekit.testing.audio_scenes", "AudioSceneEmulator"),
    "camera": ("sensekit.testing.camera_scenes", "CameraSceneEmulator"),
}

_BUSES: dict[tuple[int, int], EmulatedBus] = {}
_BUSES_LOCK = threading.Lock()


def make_emulator(driver: str, options: Mapping[str, str], clock: Clock) -> Any:
    """A fresh emulator for ``driver`` configured from URL options (``emu://?clock_ppm=8000``).

    Raises:
        ConfigError: no emulated part for that driver, or an option it cannot read.
    """
    if driver not in EMULATORS:
        raise ConfigError(f"no emulated part for driver {driver!r}; emulated: "
                          f"{', '.join(sorted(EMULATORS))}")
    module, cls_name = EMULATORS[driver]
    cls = getattr(importlib.import_module(module), cls_name)
    return cls.from_options(dict(options), clock)


def shared_bus(bus_number: int, clock: Clock, clock_hz: int | None = 400_000) -> EmulatedBus:
    """The process's emulated ``/dev/i2c-BUS`` on ``clock`` (made on first use)."""
    key = (bus_number, id(clock))
    with _BUSES_LOCK:
        bus = _BUSES.get(key)
        if bus is None:
            bus = _BUSES[key] = EmulatedBus(clock, bus_number=bus_number, clock_hz=clock_hz)
        return bus


def place(bus: EmulatedBus, driver: str, route: tuple[tuple[int, int], ...], address: int,
          options: Mapping[str, str]) -> Any:
    """The part at ``address`` behind ``route`` on ``bus``, made (with its multiplexers) if no
    part answers there yet; an existing part is reused, as a reopened real one would be."""
    hops: list[tuple[int, int]] = list(route)
    container: Any = bus
    for mux_address, channel in hops:
        mux = _device_on(container, mux_address)
        if mux is None:
            mux = make_emulator("tca9548a", {"address": hex(mux_address)}, bus.clock)
            _add(container, mux)
        container = (mux, channel)
    existing = _device_on(container, address)
    if existing is not None:
        return existing
    part = make_emulator(driver, {**options, "address": hex(address)}, bus.clock)
    _add(container, part)
    return part


def _device_on(container: Any, address: int) -> Any:
    if isinstance(container, EmulatedBus):
        return container.devices.get(address)
    mux, channel = container
    return mux.channels[channel].get(address)


def _add(container: Any, device: Any) -> None:
    if isinstance(container, EmulatedBus):
        container.add(device)
    else:
        mux, channel = container
        mux.add(channel, device)
