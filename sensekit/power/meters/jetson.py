"""Jetson on-board rails: the INA3221 monitors the Jetson kernel exposes in sysfs.

Found by scanning ``/sys/bus/i2c/devices/*/name`` for ``ina3221`` (JetPack 5+, mainline hwmon
driver) or ``ina3221x`` (JetPack 4, NVIDIA's iio driver), never by a fixed ``hwmonN`` or
``iio:deviceN`` number, which changes from boot to boot. Two layouts:

- JetPack 5+ hwmon, under ``<device>/hwmon/hwmon*/``: ``in<N>_label`` (rail name),
  ``in<N>_input`` (bus voltage, mV), ``curr<N>_input`` (current, mA). Channel 7's label is
  "sum of shunt voltages" and it has no current: it is skipped, as are channels labelled "NC".
- JetPack 4 iio, under ``<device>/iio:device*/``: ``rail_name_<k>``, ``in_voltage<k>_input``
  (mV), ``in_current<k>_input`` (mA), ``in_power<k>_input`` (mW).

Rail names and layouts: NVIDIA Jetson Linux Developer Guide, "Platform Power and Performance"
(L4T 34+) and "Clock Frequency and Power Management" (L4T 32), rail tables per module.

The board total is ``VDD_IN`` (Xavier NX, Orin NX/Nano) or ``POM_5V_IN`` (Nano) when present;
the other rails sit inside it and are never added to it. Without such a rail (AGX modules) the
total is the sum of the rails, which the meter's note says.

URL: ``jetson`` or ``jetson@ROOT`` where ROOT (default ``/sys``) is the sysfs mount (tests use a
fake tree).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ...errors import DeviceIOError, DeviceNotFound
from .base import Meter, RailReading

__all__ = ["JetsonMeter", "find_rails"]

TOTAL_RAILS = ("VDD_IN", "POM_5V_IN")
SKIP_LABELS = ("sum of shunt voltages", "NC")


@dataclass(frozen=True)
class SysfsRail:
    """Where one rail's readings are: files in mV / mA / mW (power file may be absent)."""

    name: str
    voltage: Path
    current: Path
    power: Path | None = None


def _read(path: Path) -> str:
    return path.read_text().strip()


def _hwmon_rails(device: Path) -> list[SysfsRail]:
    rails = []
    for hwmon in sorted(device.glob("hwmon/hwmon*")):
        labels = sorted(hwmon.glob("in*_label"), key=lambda p: int(p.name[2:-6]))
        for label_file in labels:
            channel = label_file.name[2:-6]
            label = _read(label_file)
            current = hwmon / f"curr{channel}_input"
            if label in SKIP_LABELS or not current.is_file():
                continue
            rails.append(SysfsRail(label, hwmon / f"in{channel}_input", current))
    return rails


def _iio_rails(device: Path) -> list[SysfsRail]:
    rails = []
    for iio in sorted(device.glob("iio:device*")):
        names = sorted(iio.glob("rail_name_*"), key=lambda p: int(p.name.rsplit("_", 1)[1]))
        for name_file in names:
            k = name_file.name.rsplit("_", 1)[1]
            power = iio / f"in_power{k}_input"
            rails.append(SysfsRail(_read(name_file), iio / f"in_voltage{k}_input",
                                   iio / f"in_current{k}_input",
                                   power if power.is_file() else None))
    return rails


def find_rails(sysfs: Path) -> list[SysfsRail]:
    """Every INA3221 rail under ``sysfs`` (``/sys``), in bus/address then channel order."""
    rails: list[SysfsRail] = []
    for name_file in sorted(sysfs.glob("bus/i2c/devices/*/name")):
        chip = _read(name_file)
        if chip == "ina3221":
            rails += _hwmon_rails(name_file.parent)
        elif chip == "ina3221x":
            rails += _iio_rails(name_file.parent)
    return rails


class JetsonMeter(Meter):
    """Power of a Jetson's monitored rails, read from sysfs."""

    name: ClassVar[str] = "jetson"
    schemes: ClassVar[frozenset[str]] = frozenset({"path"})
    max_rate_hz: ClassVar[float] = 200.0

    def __init__(self, url: str = "/sys", **options: Any) -> None:
        super().__init__(url, **options)
        self.sysfs = Path(self.url.location or "/sys")
        self._rails: list[SysfsRail] = []

    def _discover(self) -> None:
        self._rails = find_rails(self.sysfs)
        if not self._rails:
            raise DeviceNotFound(
                f"{self.describe()}: no ina3221 or ina3221x under "
                f"{self.sysfs / 'bus/i2c/devices/*/name'}. Hint: this is not a Jetson with "
                "on-board monitors (the Nano 2GB has none); name another meter with --meter")
        self.rails = tuple(r.name for r in self._rails)
        self.total_rail = next((n for n in TOTAL_RAILS if n in self.rails), "")
        if self.total_rail:
            self.note = (f"board total is {self.total_rail} (module input); the other rails "
                         "are inside it and are not added to it")
        else:
            self.note = ("no module-input rail (VDD_IN / POM_5V_IN): the total is the sum of "
                         "the monitored rails and misses unmonitored supplies")

    def _sample(self) -> RailReading:
        volts, amps, watts = [], [], []
        for rail in self._rails:
            try:
                v = float(_read(rail.voltage)) / 1000.0
                a = float(_read(rail.current)) / 1000.0
                w = float(_read(rail.power)) / 1000.0 if rail.power else v * a
            except (OSError, ValueError) as exc:
                raise DeviceIOError(f"{self.describe()}: cannot read rail {rail.name} "
                                    f"({rail.voltage.parent}): {exc}") from exc
            volts.append(v)
            amps.append(a)
            watts.append(w)
        return RailReading(volts, amps, watts)
