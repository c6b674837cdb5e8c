"""Lazy registries of plugin classes: built-ins as ``(module, class)`` strings plus entry points.

Drivers (``sensekit.drivers``) and power meters (``sensekit.meters``) are found the same way:
a built-in name imports only its own module; anything else is looked up in the entry-point
group, so third-party packages register without sensekit knowing them. Encoders, task heads,
feature extractors and policies are such tables too. :class:`Declarations` holds named
objects instead of classes (modalities, tasks).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from .errors import ConfigError, DriverUnavailable

D = TypeVar("D")


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


class Declarations(Generic[D]):
    """Named declarations (objects, not classes): built-ins, then an entry-point group.

    The sensor set (:mod:`sensekit.modalities`) and the tasks (:mod:`sensekit.fusion.tasks`)
    are tables of frozen dataclasses with a ``name``; a plugin's entry point loads one. Loaded on
    first use, so ``import sensekit`` reads no entry points.

    Args:
        kind: What a declaration is, for messages (``"modality"``).
        group: Entry-point group of third-party declarations.
        builtin: Returns the built-in declarations (imported on first use).
        cls: Their class; an entry point that loads anything else is refused.
    """

    def __init__(self, kind: str, group: str, builtin: Callable[[], Iterable[D]],
                 cls: type[D]) -> None:
        self.kind, self.group, self.cls = kind, group, cls
        self._builtin = builtin
        self._table: dict[str, D] | None = None

    def table(self) -> dict[str, D]:
        """Every declaration by name, built-ins first (the live table)."""
        if self._table is None:
            table: dict[str, D] = {}
            for decl in self._builtin():
                table.setdefault(_name(decl), decl)
            for name, ep in plugins(self.group).items():
                decl = ep.load()
                if not isinstance(decl, self.cls):
                    raise ConfigError(f"entry point {self.group}:{name} is {decl!r}, not a "
                                      f"{self.cls.__module__}.{self.cls.__name__}")
                table.setdefault(_name(decl), decl)
            self._table = table
        return self._table

    def register(self, decl: D, *, replace: bool = False) -> D:
        """Add ``decl`` (``replace``: override one of the same name)."""
        table, name = self.table(), _name(decl)
        if name in table and not replace and table[name] != decl:
            raise ConfigError(f"{self.kind} {name!r} is already declared; pass replace=True "
                              "to override it")
        table[name] = decl
        return decl

    def get(self, name: str) -> D:
        """The declaration ``name``; a :class:`ConfigError` suggests close names."""
        table = self.table()
        if name in table:
            return table[name]
        close = difflib.get_close_matches(name, list(table), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown {self.kind} {name!r}{hint} Declared: {', '.join(table)}")


def _name(decl: Any) -> str:
    return str(decl.name)
