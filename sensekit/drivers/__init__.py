"""Device drivers and the driver registry.

Built-in drivers sit in a lazy table of ``(module, class)`` strings, so listing or opening one
imports only that driver. Third-party drivers register through the ``sensekit.drivers``
entry-point group (``name = "package.module:Class"``). :func:`sensekit.open` is the front door.
"""

from __future__ import annotations

from typing import Any

from .. import _registry
from ..driver import Driver
from ..errors import ConfigError
from ..url import parse_url

__all__ = ["BUILTIN_DRIVERS", "available_drivers", "driver_class", "open_device"]

#: name -> (module, class). Keep sorted by area; the module must import without its extras.
BUILTIN_DRIVERS: dict[str, tuple[str, str]] = {
    # I2C inertial, light and power monitors
    "mpu6050": ("sensekit.drivers.imu.mpu6050", "Mpu6050"),
    "mpu9250": ("sensekit.drivers.imu.mpu9250", "Mpu9250"),
    "bh1750": ("sensekit.drivers.light.bh1750", "Bh1750"),
    "veml7700": ("sensekit.drivers.light.veml7700", "Veml7700"),
    "ina219": ("sensekit.drivers.power.ina219", "Ina219"),
    "ina226": ("sensekit.drivers.power.ina226", "Ina226"),
    "ina3221": ("sensekit.drivers.power.ina3221", "Ina3221"),
    # GPS
    "nmea": ("sensekit.drivers.gps.nmea_gps", "NmeaGps"),
    # audio and camera
    "audio": ("sensekit.drivers.audio.microphone", "Microphone"),
    "camera": ("sensekit.drivers.camera.camera", "Camera"),
    # recorded streams
    "replay": ("sensekit.log.replay", "ReplaySource"),
}

ENTRY_POINT_GROUP = "sensekit.drivers"


def available_drivers() -> list[str]:
    """Names of every built-in and plugin driver."""
    return _registry.names(BUILTIN_DRIVERS, ENTRY_POINT_GROUP)


def driver_class(name: str) -> type[Driver]:
    """The driver class registered as ``name``.

    Raises:
        ConfigError: no driver of that name (the message suggests close names).
        DriverUnavailable: the driver's module needs a package that is not installed.
    """
    cls: type[Driver] = _registry.resolve("driver", name, BUILTIN_DRIVERS, ENTRY_POINT_GROUP,
                                          Driver)
    return cls


def open_device(driver: str, url: str | None = None, **options: Any) -> Driver:
    """Create and open a driver; see :func:`sensekit.open`."""
    if url is None:
        if "://" not in driver:
            raise ConfigError(f"open({driver!r}) needs a URL saying where the device is, "
                              f"e.g. open({driver!r}, 'emu://')")
        url, driver = driver, parse_url(driver).scheme
    device = driver_class(driver)(url, **options)
    return device.open()
