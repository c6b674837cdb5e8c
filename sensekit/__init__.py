"""sensekit: energy-aware sensing and sensor fusion for Raspberry Pi and Jetson.

The front doors:

- :func:`sensekit.open` opens a device by driver name and URL.
- :class:`sensekit.hub.Hub` shares one copy of every sample among all consumers.
- :mod:`sensekit.align` cuts streams of different rates into windows with masks.

``import sensekit`` stays light: it imports the standard library only, and numpy with the first
use of a packet, clock or driver. Hardware and learning libraries are imported when a driver or
model that needs them is opened.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    ConfigError,
    DeviceIOError,
    DeviceNotFound,
    DeviceTimeout,
    DriverUnavailable,
    LogFormatError,
    SampleDropped,
    SensekitError,
)

if TYPE_CHECKING:
    from .clock import Clock, FakeClock, MonotonicClock
    from .driver import Driver, ModeChange
    from .packets import SPECS, Packet

#: Names imported on first use, so that ``import sensekit`` (and the ``sensekit`` command's
#: start, where Ctrl-C must already be handled) does not wait for numpy.
_LAZY = {"Clock": "clock", "FakeClock": "clock", "MonotonicClock": "clock", "Driver": "driver",
         "ModeChange": "driver", "SPECS": "packets", "Packet": "packets"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sensekit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

__all__ = [
    "SPECS",
    "Clock",
    "ConfigError",
    "DeviceIOError",
    "DeviceNotFound",
    "DeviceTimeout",
    "Driver",
    "DriverUnavailable",
    "FakeClock",
    "LogFormatError",
    "ModeChange",
    "MonotonicClock",
    "Packet",
    "SampleDropped",
    "SensekitError",
    "__version__",
    "open",
]


def open(driver: str, url: str | None = None, **options: Any) -> Driver:
    """Open a device by driver name and location.

    Examples::

        sensekit.open("mpu6050", "i2c://1/0x68")
        sensekit.open("ina219", "i2c://1/0x40", shunt_ohm=0.1)
        sensekit.open("nmea", "/dev/serial0?baud=9600")
        sensekit.open("mpu6050", "emu://")          # the emulated part
        sensekit.open("replay://walk.mcap#imu")      # a recorded stream

    Several parts share an I2C address, so the address never picks the driver: name it.

    Raises:
        ConfigError: unknown driver, or a URL or option the driver cannot use.
        DriverUnavailable: the driver's optional dependency is not installed.
        DeviceNotFound: nothing answered at that location.
    """
    from .drivers import open_device

    return open_device(driver, url, **options)
