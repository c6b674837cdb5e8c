"""Power meters, named the way drivers are, and the choice of the best one on this machine.

Meter names (``sensekit power measure --meter NAME``):

============================================  =================================================
``estimate``, ``estimate@/?platform=pi5``     CPU utilisation and frequency model (an estimate)
``jetson``, ``jetson@/sys``                   Jetson INA3221 rails in sysfs (hwmon or iio)
``pi5``, ``pi5@/usr/bin/vcgencmd``            Raspberry Pi 5 PMIC, ``vcgencmd pmic_read_adc``
``ina219@i2c://1/0x40?shunt_ohm=0.1``         INA219 in the supply line (also ``emu://``)
``ina226@i2c://1/0x40?shunt_ohm=0.01``        INA226
``ina3221@i2c://1/0x40?shunt_ohm=0.1``        INA3221, three channels
============================================  =================================================

The part after ``@`` is the meter's URL; for the INA parts it is the driver's URL and its query
options (``shunt_ohm``, ``max_current_a``, ``rails=VIN,5V,3V3``) go to the driver. Third-party
meters register through the ``sensekit.meters`` entry-point group (``name = "pkg.mod:Class"``).

:func:`open_meter` with no name picks the best meter found: the Jetson rails, then the Pi 5
PMIC, then the estimate.
"""

from __future__ import annotations

import logging
from typing import Any

from ... import _registry
from ...errors import ConfigError, DeviceError
from .base import Meter, RailReading, total_power_w

__all__ = ["METERS", "Meter", "RailReading", "available_meters", "meter_class", "open_meter",
           "total_power_w"]

log = logging.getLogger(__name__)

#: name -> (module, class); imported only when used.
METERS: dict[str, tuple[str, str]] = {
    "estimate": ("sensekit.power.meters.estimate", "EstimateMeter"),
    "jetson": ("sensekit.power.meters.jetson", "JetsonMeter"),
    "pi5": ("sensekit.power.meters.pi5", "Pi5PmicMeter"),
    "ina219": ("sensekit.power.meters.ina", "Ina219Meter"),
    "ina226": ("sensekit.power.meters.ina", "Ina226Meter"),
    "ina3221": ("sensekit.power.meters.ina", "Ina3221Meter"),
}

ENTRY_POINT_GROUP = "sensekit.meters"
#: Tried in this order when no meter is named.
AUTO_ORDER = ("jetson", "pi5", "estimate")


def available_meters() -> list[str]:
    """Names of the built-in and plugin meters."""
    return _registry.names(METERS, ENTRY_POINT_GROUP)


def meter_class(name: str) -> type[Meter]:
    """The meter class registered as ``name``."""
    cls: type[Meter] = _registry.resolve("meter", name, METERS, ENTRY_POINT_GROUP, Meter)
    return cls


def split_spec(spec: str) -> tuple[str, str | None]:
    """Name and URL of a meter spec: ``"ina219@i2c://1/0x40"`` -> ``("ina219", "i2c://...")``."""
    name, sep, url = spec.partition("@")
    if "://" in name:
        raise ConfigError(f"meter {spec!r} needs a name before the URL, e.g. 'ina219@{spec}'")
    return name.strip(), (url.strip() or None) if sep else None


def open_meter(spec: str | None = None, **options: Any) -> Meter:
    """Create and open the meter ``spec`` names, or the best one found when it is None/"auto".

    Args:
        spec: ``"NAME"`` or ``"NAME@URL"`` (see the module docstring).
        **options: Passed to the meter (``clock``, ``rate_hz``, ``stream``...).

    Raises:
        ConfigError: unknown name or bad URL. DeviceNotFound: nothing answered there.
    """
    if spec is None or spec in ("", "auto"):
        return best_meter(**options)
    name, url = split_spec(spec)
    cls = meter_class(name)
    meter = cls(url, **options) if url is not None else cls(**options)
    meter.open()
    return meter


def best_meter(**options: Any) -> Meter:
    """The first meter of :data:`AUTO_ORDER` that opens on this machine."""
    for name in AUTO_ORDER:
        try:
            meter = meter_class(name)(**options)
            meter.open()
        except DeviceError as exc:
            log.info("meter %s not available: %s", name, exc)
            continue
        return meter
    raise ConfigError("no power meter found, not even the estimate (no /proc/stat?)")
