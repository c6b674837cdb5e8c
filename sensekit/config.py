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
    name = "adaptive"

    [fusion]
    weights = "default"      # a shipped name, or the path of an exported .onnx.json
    task = "activity"

    [record]
    output = "ride.mcap"

The file is checked against :data:`SCHEMA`; an error names the file, the line and the key and
says what was expected.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10
    import tomli as tomllib

__all__ = ["SCHEMA", "DeviceConfig", "RigConfig", "load_rig", "parse_rig"]


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
        "name": Key(_is_str, "a policy name such as \"always-on\" or \"adaptive\"",
                    required=True),
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
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read rig config {p}: {exc.strerror}") from exc
    return parse_rig(text, source=str(p))


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
            options=table.get("options", {}))
    streams = [d.stream for d in devices.values()]
    dup = sorted({s for s in streams if streams.count(s) > 1})
    if dup:
        raise ConfigError(f"{source}: stream names must be unique; repeated: {', '.join(dup)}")
    return RigConfig(source, data.get("rig", {}).get("name", Path(source).stem), devices,
                     data.get("policy", {}), data.get("record", {}), data,
                     data.get("fusion", {}))


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
