"""Power-model tables: what each mode of a device draws, from its datasheet.

One TOML file per device in ``sensekit/power/tables/`` (package data) is the single source the
drivers, the sampling controller and the energy ledger read. Every figure names its source
(document, revision, page or table); a figure not taken from a datasheet is marked
``estimate = true`` and says how it was made.

Format::

    device = "mpu6050"
    part = "InvenSense MPU-6050"
    supply_v = 3.3                       # default voltage for current figures

    [modes.accel_gyro]
    current_a = 3.8e-3                   # or power_w = ...
    source = "PS-MPU-6000A-00 rev 3.4, sec. 6.4, p. 12"

    [modes.dnn]                          # optional terms that scale with the work
    power_w = 0.2
    per_pixel_w = 1.0e-7                 # W per pixel per frame/s
    per_hz_w = 1.0e-4                    # W per Hz of sample rate

    [[transition]]
    from = "sleep"
    to = "accel_gyro"                    # or a list of modes the same figures hold for
    time_s = 0.030                       # nothing usable comes out for this long
    current_a = 3.8e-3                   # drawn meanwhile (or energy_j = ...)
    source = "PS-MPU-6000A-00 rev 3.4, Table 6.1: gyro start-up 30 ms"

    [[readout]]                          # cameras: the sensor's readout modes
    width = 640                          # pixels read per frame in this readout
    height = 480
    modes = ["dnn"]                      # the table modes that may use it
    source = "binned 2x2 and cropped, the sensor's smallest mode"

A part that can sleep (a ``sleep`` mode) must list a wake-up from ``sleep`` to every other mode
it has: a missing one is an error when the table is loaded, not a free wake-up. A camera with
``[[readout]]`` rows is charged for the pixels of the readout a mode actually uses (the
smallest of its readouts that covers the frame asked for), not for the frame delivered.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10
    import tomli as tomllib

__all__ = ["ModePower", "PowerModel", "Readout", "Transition", "available_models",
           "load_power_model", "parse_power_model"]

SLEEP = "sleep"


@dataclass(frozen=True)
class ModePower:
    """Power drawn in one mode: ``power_w + per_hz_w * rate + per_pixel_w * pixels * fps``."""

    name: str
    power_w: float
    source: str
    estimate: bool = False
    per_hz_w: float = 0.0
    per_pixel_w: float = 0.0
    note: str = ""

    def watts(self, rate_hz: float = 0.0, pixels: int = 0) -> float:
        """Power in this mode at ``rate_hz`` (and ``pixels`` per frame for cameras)."""
        return self.power_w + self.per_hz_w * rate_hz + self.per_pixel_w * pixels * rate_hz


@dataclass(frozen=True)
class Transition:
    """A change of mode that costs time (no usable data) and energy."""

    src: str
    dst: str
    time_s: float
    energy_j: float
    source: str
    estimate: bool = False


@dataclass(frozen=True)
class Readout:
    """One readout mode of an image sensor: the pixels it reads per frame."""

    width: int
    height: int
    modes: tuple[str, ...]
    source: str

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class PowerModel:
    """The power table of one device."""

    device: str
    part: str
    modes: Mapping[str, ModePower]
    transitions: tuple[Transition, ...] = ()
    supply_v: float | None = None
    readouts: tuple[Readout, ...] = ()

    @property
    def active_modes(self) -> tuple[str, ...]:
        """Every mode but ``sleep``."""
        return tuple(m for m in self.modes if m != SLEEP)

    def readout(self, mode: str, size: tuple[int, int] | None = None) -> Readout | None:
        """The readout ``mode`` uses for frames of ``size`` (width, height): the smallest of
        its readouts that covers it (the largest when none does, or without a size); None
        when the table lists no readouts for the mode."""
        mine = sorted((r for r in self.readouts if mode in r.modes), key=lambda r: r.pixels)
        if not mine:
            return None
        if size is None:
            return mine[-1]
        return next((r for r in mine if r.width >= size[0] and r.height >= size[1]), mine[-1])

    def mode(self, name: str) -> ModePower:
        try:
            return self.modes[name]
        except KeyError:
            raise ConfigError(f"power model {self.device!r} has no mode {name!r}; "
                              f"it has {', '.join(self.modes)}") from None

    def transition(self, src: str, dst: str) -> Transition | None:
        """The transition from ``src`` to ``dst`` if the table lists one."""
        for t in self.transitions:
            if t.src == src and t.dst == dst:
                return t
        return None


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a table, found {type(value).__name__} {value!r}")
    return value


def _number(row: Mapping[str, Any], key: str, where: str, default: float | None = None
            ) -> float:
    """A finite number of zero or more (power, current, voltage, time and energy all are)."""
    value = row.get(key, default)
    if value is None:
        raise ConfigError(f"{where}: needs {key}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            0 <= value < float("inf")):
        raise ConfigError(f"{where}: {key} = {value!r}; expected a number of zero or more")
    return float(value)


def _text(row: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = row.get(key, default)
    if not isinstance(value, str) or (default is None and not value):
        raise ConfigError(f"{where}: {key} = {value!r}; expected text")
    return value


def _power(row: Mapping[str, Any], supply_v: float | None, where: str) -> float:
    if "power_w" in row:
        return _number(row, "power_w", where)
    if "current_a" in row:
        volts = _number(row, "voltage_v", where, supply_v) if (
            "voltage_v" in row or supply_v is not None) else None
        if volts is None:
            raise ConfigError(f"{where}: current_a given without voltage_v or supply_v")
        return _number(row, "current_a", where) * volts
    raise ConfigError(f"{where}: needs power_w or current_a")


def parse_power_model(data: Mapping[str, Any], where: str) -> PowerModel:
    """Build a :class:`PowerModel` from a parsed table; ``where`` names it in errors.

    Raises:
        ConfigError: the table lacks something or holds a value of the wrong kind (a table
            is also read from recordings, so nothing in it is trusted).
    """
    data = _table(data, where)
    supply = _number(data, "supply_v", where) if "supply_v" in data else None
    modes = {}
    for name, row in _table(data.get("modes", {}), f"{where} [modes]").items():
        here = f"{where} [modes.{name}]"
        row = _table(row, here)
        modes[name] = ModePower(name, _power(row, supply, here), _text(row, "source", here),
                                _flag(row, here), _number(row, "per_hz_w", here, 0),
                                _number(row, "per_pixel_w", here, 0), _text(row, "note", here, ""))
    if not modes:
        raise ConfigError(f"{where}: no [modes.*] tables")
    rows = data.get("transition", [])
    if not isinstance(rows, list):
        raise ConfigError(f"{where}: transition must be a list of [[transition]] tables")
    transitions = [t for i, row in enumerate(rows) for t in _transition(
        _table(row, f"{where} [[transition]] #{i + 1}"), supply,
        f"{where} [[transition]] #{i + 1}")]
    _check_wake_ups(modes, transitions, where)
    readouts = data.get("readout", [])
    if not isinstance(readouts, list):
        raise ConfigError(f"{where}: readout must be a list of [[readout]] tables")
    return PowerModel(_text(data, "device", where, where), _text(data, "part", where, ""),
                      MappingProxyType(modes), tuple(transitions), supply,
                      _readouts(readouts, modes, where))


def _transition(row: Mapping[str, Any], supply: float | None, here: str) -> list[Transition]:
    """One ``[[transition]]`` row: one transition per mode its ``to`` names (a mode or a
    list of modes the same figures hold for)."""
    time_s = _number(row, "time_s", here)
    energy = (_number(row, "energy_j", here) if "energy_j" in row
              else _power(row, supply, here) * time_s)
    targets = row.get("to")
    names = targets if isinstance(targets, list) else [_text(row, "to", here)]
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"{here}: to = {targets!r}; expected a mode or a list of modes")
    return [Transition(_text(row, "from", here), str(dst), time_s, energy,
                       _text(row, "source", here), _flag(row, here)) for dst in names]


def _check_wake_ups(modes: Mapping[str, ModePower], transitions: list[Transition],
                    where: str) -> None:
    """A part that sleeps wakes into each of its modes at a listed cost (never for free)."""
    if SLEEP not in modes:
        return
    woken = {t.dst for t in transitions if t.src == SLEEP}
    missing = [m for m in modes if m != SLEEP and m not in woken]
    if missing:
        raise ConfigError(f"{where}: no wake-up from 'sleep' to {', '.join(missing)}; a part "
                          "that sleeps needs a [[transition]] from = \"sleep\" with its time "
                          "and energy for every mode it wakes into (a wake-up is never free)")


def _readouts(rows: list[Any], modes: Mapping[str, ModePower],
              where: str) -> tuple[Readout, ...]:
    out = []
    for i, raw in enumerate(rows):
        here = f"{where} [[readout]] #{i + 1}"
        row = _table(raw, here)
        names = row.get("modes")
        if not isinstance(names, list) or not names or any(m not in modes for m in names):
            raise ConfigError(f"{here}: modes = {names!r}; expected a list of the table's modes")
        out.append(Readout(int(_number(row, "width", here)), int(_number(row, "height", here)),
                           tuple(names), _text(row, "source", here)))
    return tuple(out)


def _flag(row: Mapping[str, Any], where: str) -> bool:
    value = row.get("estimate", False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: estimate = {value!r}; expected true or false")
    return value


def available_models() -> list[str]:
    """Names of the power-model tables shipped with sensekit."""
    folder = resources.files(__package__).joinpath("tables")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


@cache
def load_power_model(device: str) -> PowerModel:
    """The shipped power model of ``device`` (e.g. ``"mpu6050"``)."""
    entry = resources.files(__package__).joinpath("tables").joinpath(f"{device}.toml")
    if not entry.is_file():
        raise ConfigError(f"no power model for {device!r}; shipped models: "
                          f"{', '.join(available_models())}")
    data = tomllib.loads(entry.read_text(encoding="utf-8"))
    return parse_power_model(data, f"power model {device}.toml")
