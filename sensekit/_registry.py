"""Lazy registries of plugin classes: built-ins as ``(module, class)`` strings plus entry points.

Drivers (``sensekit.drivers``) and power meters (``sensekit.meters``) are found the same way:
a built-in name imports only its own module; anything else is looked up in the entry-point
group, so third-party packages register without sensekit knowing them.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from .errors import ConfigError, DriverUnavailable


def plugins(group: str) -> dict[str, EntryPoint]:
    """Entry points of ``group`` by name."""
    return {ep.name: ep for ep in entry_points(group=group)}


def names(table: Mapping[str, tuple[str, str]], group: str) -> list[str]:
    """Every built-in and plugin name, sorted."""
    return sorted(set(table) | set(plugins(group)))


def resolve(kind: str, name: str, table: Mapping[str, tuple[str, str]], group: str,
            base: type) -> Any:
    # ``base`` is usually an abstract class, which mypy refuses as a ``type[T]`` argument;
    # callers annotate the result with their own type.
    """The class registered as ``name`` (a subclass of ``base``).

    Raises:
        ConfigError: no such name (the message suggests close ones), or it is not a ``base``.
        DriverUnavailable: its module needs a package that is not installed.
    """
    key = name.lower()
    if key in table:
        module_name, class_name = table[key]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and not exc.name.startswith("sensekit"):
                raise DriverUnavailable(f"{kind} {name!r} needs {exc.name!r}: {exc}") from exc
            raise ConfigError(f"{kind} {name!r} is listed but not built into this sensekit "
                              f"({module_name} is missing)") from exc
        cls = getattr(module, class_name)
    else:
        found = plugins(group)
        if key not in found:
            known = names(table, group)
            close = difflib.get_close_matches(key, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"unknown {kind} {name!r}{hint} Known: {', '.join(known)}")
        cls = found[key].load()
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(f"{kind} {name!r} resolves to {cls!r}, which is not a {base.__name__}")
    return cls
