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


def _power(row: Mapping[str, Any], supply_v: float | None, where: str) -> float:
    if "power_w" in row:
        return float(row["power_w"])
    if "current_a" in row:
        volts = row.get("voltage_v", supply_v)
        if volts is None:
            raise ConfigError(f"{where}: current_a given without voltage_v or supply_v")
        return float(row["current_a"]) * float(volts)
    raise ConfigError(f"{where}: needs power_w or current_a")


def parse_power_model(data: Mapping[str, Any], where: str) -> PowerModel:
    """Build a :class:`PowerModel` from a parsed table; ``where`` names it in errors."""
    supply = data.get("supply_v")
    modes = {}
    for name, row in data.get("modes", {}).items():
        here = f"{where} [modes.{name}]"
        if not row.get("source"):
            raise ConfigError(f"{here}: every figure needs a source")
        modes[name] = ModePower(name, _power(row, supply, here), row["source"],
                                bool(row.get("estimate", False)), float(row.get("per_hz_w", 0)),
                                float(row.get("per_pixel_w", 0)), row.get("note", ""))
    if not modes:
        raise ConfigError(f"{where}: no [modes.*] tables")
    transitions = _transitions(data.get("transition", []), supply, where)
    _check_wake_ups(modes, transitions, where)
    return PowerModel(data.get("device", where), data.get("part", ""), MappingProxyType(modes),
                      tuple(transitions), supply, _readouts(data.get("readout", []), modes, where))


def _transitions(rows: Any, supply: float | None, where: str) -> list[Transition]:
    out = []
    for i, row in enumerate(rows):
        here = f"{where} [[transition]] #{i + 1}"
        if not row.get("source"):
            raise ConfigError(f"{here}: every figure needs a source")
        time_s = float(row["time_s"])
        energy = float(row["energy_j"]) if "energy_j" in row else _power(row, supply, here) * time_s
        targets = row["to"] if isinstance(row["to"], list) else [row["to"]]
        out += [Transition(row["from"], str(dst), time_s, energy, row["source"],
                           bool(row.get("estimate", False))) for dst in targets]
    return out


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


def _readouts(rows: Any, modes: Mapping[str, ModePower], where: str) -> tuple[Readout, ...]:
    out = []
    for i, row in enumerate(rows):
        here = f"{where} [[readout]] #{i + 1}"
        if not row.get("source"):
            raise ConfigError(f"{here}: every figure needs a source")
        unknown = [m for m in row.get("modes", []) if m not in modes]
        if unknown or not row.get("modes"):
            raise ConfigError(f"{here}: modes {unknown or '[]'} are not modes of the table")
        out.append(Readout(int(row["width"]), int(row["height"]), tuple(row["modes"]),
                           str(row["source"])))
    return tuple(out)


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
