"""The rig config: one TOML file naming the devices, their URLs, rates, modes and the policy.

Example::

    [rig]
    name = "bike"

    [devices.imu]
    driver = "mpu6050"
    url = "i2c://1/0x68"
    rate_hz = 200
    options = { accel_range_g = 4 }

    [devices.gps]
    driver = "nmea"
    url = "/dev/serial0?baud=9600"

    [policy]
    name = "default"         # the shipped static point (also without a [policy] table)

    [fusion]
    weights = "default"      # a shipped name, or the path of an exported .onnx.json
    task = "activity"

    [record]
    output = "ride.mcap"

The file is checked against :data:`SCHEMA`; an error names the file, the line and the key and
says what was expected. Errors raised later, while a device of the rig is opened, name the file,
the line of the device's table and the device (:func:`device_errors`).
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, DeviceError, FileFormatError, SensekitError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10
    import tomli as tomllib

__all__ = ["SCHEMA", "DeviceConfig", "Key", "RigConfig", "check_table", "device_errors",
           "load_rig", "parse_duration", "parse_rig", "parse_size", "read_json", "read_toml"]


@dataclass(frozen=True)
class Key:
    """What one key may hold: a check, a description of what is expected, and whether needed."""

    check: Callable[[Any], bool]
    expected: str
    required: bool = False


def _is_str(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _is_pos(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def _is_table(v: Any) -> bool:
    return isinstance(v, dict)


def _parses(parse: Callable[[Any], float], v: Any) -> bool:
    try:
        parse(v)
    except ConfigError:
        return False
    return True


_SIZE_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
               "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}
_TIME_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def _amount(text: Any, units: Mapping[str, float], what: str) -> float:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*",
                             str(text))
        if match is None:
            raise ConfigError(f"{what} {text!r} is not a number with an optional unit")
        value, unit = float(match.group(1)), match.group(2).lower()
    scale = units.get(unit.removesuffix("b") if what == "size" else unit)
    if scale is None or not value > 0 or value * scale == float("inf"):
        raise ConfigError(f"{what} {text!r}: expected a positive number with a unit among "
                          f"{', '.join(u for u in units if u) or 'none'}")
    return value * scale


def parse_size(text: Any) -> int:
    """Bytes in a size such as ``500M``, ``2G``, ``1.5GiB`` or ``4096`` (SI units, or IEC).

    Raises:
        ConfigError: not a positive size.
    """
    return int(_amount(text, _SIZE_UNITS, "size"))


def parse_duration(text: Any) -> float:
    """Seconds in a duration such as ``90``, ``30m``, ``1.5h`` or ``1d``.

    Raises:
        ConfigError: not a positive duration.
    """
    return _amount(text, _TIME_UNITS, "duration")


#: section -> key -> Key. ``devices.*`` applies to every device table.
SCHEMA: Mapping[str, Mapping[str, Key]] = {
    "rig": {
        "name": Key(_is_str, "a non-empty string"),
        "description": Key(_is_str, "a non-empty string"),
    },
    "devices.*": {
        "driver": Key(_is_str, "a driver name such as \"mpu6050\"", required=True),
        "url": Key(_is_str, "a device URL such as \"i2c://1/0x68\" or \"emu://\"", required=True),
        "stream": Key(_is_str, "a stream name"),
        "rate_hz": Key(_is_pos, "a positive number of hertz"),
        "mode": Key(_is_str, "a mode name of the driver"),
        "enabled": Key(lambda v: isinstance(v, bool), "true or false"),
        "options": Key(_is_table, "a table of driver options"),
    },
    "policy": {
        # without a name (or a [policy] table) the rig runs the shipped "default" policy
        "name": Key(_is_str, "a policy name such as \"default\", \"static\" or "
                    "\"adaptive\""),
        "params": Key(_is_table, "a table of policy parameters"),
        "budget_mw": Key(_is_pos, "a positive power budget in milliwatts"),
    },
    "fusion": {
        "weights": Key(_is_str, "shipped weights (\"default\") or an exported .onnx.json path"),
        "task": Key(_is_str, "the task the controller acts on, such as \"activity\""),
    },
    "record": {
        "output": Key(_is_str, "an output path"),
        "duration_s": Key(_is_pos, "a positive number of seconds"),
        "split_size": Key(lambda v: _parses(parse_size, v), "a size such as \"500M\" or \"2G\""),
        "split_duration": Key(lambda v: _parses(parse_duration, v),
                              "a duration such as \"30m\", \"1h\" or seconds"),
        "split_mb": Key(_is_pos, "a positive size in megabytes"),
        "split_s": Key(_is_pos, "a positive number of seconds"),
        "flush_s": Key(_is_pos, "a positive number of seconds"),
    },
}


@dataclass(frozen=True)
class DeviceConfig:
    """One ``[devices.NAME]`` table."""

    name: str
    driver: str
    url: str
    stream: str
    rate_hz: float | None = None
    mode: str | None = None
    enabled: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)
    #: Line of the device's table in the rig file (None when it cannot be found).
    line: int | None = None


@dataclass(frozen=True)
class RigConfig:
    """A validated rig config."""

    source: str
    name: str
    devices: Mapping[str, DeviceConfig]
    policy: Mapping[str, Any] = field(default_factory=dict)
    record: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)
    fusion: Mapping[str, Any] = field(default_factory=dict)

    @property
    def weights(self) -> str:
        """The fusion network the controller runs: ``[fusion] weights``, else ``default``."""
        return str(self.fusion.get("weights", "default"))


def load_rig(path: str | Path) -> RigConfig:
    """Read and validate a rig config file."""
    return parse_rig(read_text(path, "rig config"), source=str(path))


def read_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of a configuration file.

    Raises:
        ConfigError: it cannot be read, or is not UTF-8 text; the message names the file.
    """
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {p}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not a {what}: not UTF-8 text (byte {exc.start} is "
                          f"{exc.object[exc.start:exc.start + 1]!r})") from None


def read_json(path: str | Path, what: str,
              error: type[SensekitError] = FileFormatError) -> Any:
    """A JSON file sensekit reads (weights metadata, a model manifest, a profile), parsed.

    Raises:
        FileFormatError: (or ``error``) it cannot be read, or is not JSON; the message names
            the file, and the line and column of a syntax error.
    """
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"cannot read {what} {p}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{p}: not a {what}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise error(f"{p}:{exc.lineno}:{exc.colno}: not a {what}: not valid JSON "
                    f"({exc.msg})") from None
    except RecursionError:
        raise error(f"{p}: not a {what}: nested too deeply") from None


def read_toml(path: str | Path, what: str) -> tuple[dict[str, Any], str]:
    """A TOML configuration file, parsed, and its text (for :func:`check_table`'s lines).

    Raises:
        ConfigError: it cannot be read or is not valid TOML; the message names the file.
    """
    text = read_text(path, what)
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


@contextlib.contextmanager
def device_errors(rig: RigConfig, device: DeviceConfig) -> Iterator[None]:
    """Make an error raised while opening ``device`` name the rig file, its line and the device.

    sensekit's errors keep their class (a missing device stays :class:`DeviceNotFound`); an
    ``OSError`` or ``ValueError`` from below becomes a :class:`DeviceError`.
    """
    where = f"{rig.source}:{device.line}" if device.line else rig.source
    head = f"{where}: device {device.name!r} ({device.driver} at {device.url})"
    try:
        yield
    except SensekitError as exc:
        exc.args = (f"{head}: {exc}",)
        raise
    except (OSError, ValueError) as exc:
        raise DeviceError(f"{head}: {type(exc).__name__}: {exc}") from exc


def parse_rig(text: str, source: str = "<string>") -> RigConfig:
    """Validate rig config ``text``; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    locator = _Locator(text, source)
    for section in data:
        if section not in {"rig", "devices", "policy", "fusion", "record"}:
            raise locator.error(section, None, f"unknown section [{section}]",
                                "one of [rig], [devices.NAME], [policy], [fusion], [record]")
    devices_raw = data.get("devices", {})
    if not isinstance(devices_raw, dict) or not devices_raw:
        raise ConfigError(f"{source}: no devices; add at least one [devices.NAME] table "
                          "with driver and url")
    for section in ("rig", "policy", "fusion", "record"):
        if section in data:
            _check_table(data[section], section, SCHEMA[section], locator)
    devices = {}
    for name, table in devices_raw.items():
        if not isinstance(table, dict):
            raise locator.error(f"devices.{name}", None, f"devices.{name} is not a table",
                                "a [devices.NAME] table")
        _check_table(table, f"devices.{name}", SCHEMA["devices.*"], locator)
        devices[name] = DeviceConfig(
            name=name, driver=table["driver"], url=table["url"],
            stream=str(table.get("stream", name)), rate_hz=table.get("rate_hz"),
            mode=table.get("mode"), enabled=table.get("enabled", True),
            options=table.get("options", {}), line=locator.line_of(f"devices.{name}", None))
    streams = [d.stream for d in devices.values()]
    dup = sorted({s for s in streams if streams.count(s) > 1})
    if dup:
        raise ConfigError(f"{source}: stream names must be unique; repeated: {', '.join(dup)}")
    return RigConfig(source, data.get("rig", {}).get("name", Path(source).stem), devices,
                     data.get("policy", {}), data.get("record", {}), data,
                     data.get("fusion", {}))


def check_table(text: str, source: str, section: str, table: Any,
                schema: Mapping[str, Key]) -> None:
    """Check one table of a TOML file (``text``, named ``source``) against ``schema``.

    Raises:
        ConfigError: naming the file, the line and the key, and what was expected.
    """
    locator = _Locator(text, source)
    if not isinstance(table, dict):
        raise locator.error(section, None, f"[{section}] is not a table", "a table")
    _check_table(table, section, schema, locator)


def _check_table(table: Mapping[str, Any], path: str, schema: Mapping[str, Key],
                 locator: _Locator) -> None:
    for key, value in table.items():
        if key not in schema:
            known = ", ".join(schema)
            raise locator.error(path, key, f"unknown key {key!r} in [{path}]",
                                f"one of: {known}")
        spec = schema[key]
        if not spec.check(value):
            raise locator.error(path, key, f"[{path}] {key} = {value!r} is not valid",
                                spec.expected)
    for key, spec in schema.items():
        if spec.required and key not in table:
            raise locator.error(path, None, f"[{path}] lacks required key {key!r}", spec.expected)


class _Locator:
    """Finds the line of a table or key in TOML text, for error messages."""

    _header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def line_of(self, table: str, key: str | None) -> int | None:
        current = ""
        table_line: int | None = None
        leaf = table.rsplit(".", 1)[-1]
        for number, line in enumerate(self.lines, 1):
            match = self._header.match(line)
            if match:
                current = re.sub(r"\s*\.\s*", ".", match.group(1)).replace('"', "")
                if current == table:
                    table_line = number
                    if key is None:
                        return number
                continue
            stripped = line.strip()
            if key is None:
                # Dotted or inline form: devices.imu = {...} / imu = {...} under [devices].
                inline = re.match(rf"^\"?{re.escape(leaf)}\"?\s*=", stripped)
                if (inline and table.startswith(f"{current}.")) or stripped.startswith(
                        f"{table} ="):
                    return number
            elif current == table and re.match(rf"^\"?{re.escape(key)}\"?\s*=", stripped):
                return number
        return table_line

    def error(self, table: str, key: str | None, what: str, expected: str) -> ConfigError:
        line = self.line_of(table, key)
        where = f"{self.source}:{line}" if line else self.source
        return ConfigError(f"{where}: {what}; expected {expected}")
