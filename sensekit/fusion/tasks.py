"""Tasks the network's heads answer, registered by name (numpy-free, torch-free).

A :class:`Task` names its classes, the field of a recording's ``labels`` stream that holds
them, how its labels follow from another task's where a recording carries only that one, and
the head that answers it (:mod:`sensekit.fusion.encoders`). Built-ins:

- ``activity``: still, walking, running, cycling, vehicle (the simulator's days label it).
- ``transport``: still, walking, car, bus, train (the transport-mode recordings label it).
- ``indoor_outdoor``: indoor, outdoor (the ``indoor`` field of the simulator's labels).
- ``locomotion``: none, foot, bicycle, motor: how someone moves, from the activity or the
  transport label. The shipped simulator-trained network has this head (it was called
  ``transport`` before the transport-mode task existed; see :mod:`sensekit.fusion.weights`).

Third-party tasks register in the ``sensekit.tasks`` entry-point group (a :class:`Task`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .._registry import Declarations
from ..errors import ConfigError

__all__ = ["Task", "classes_of", "get", "register", "registered", "renamed_tasks"]


@dataclass(frozen=True)
class Task:
    """One task.

    Attributes:
        name: Its name in weights and labels.
        classes: Class names, in the order of the head's outputs.
        label: Field of the ``labels`` stream that holds it (default: the name).
        derived: Other task -> class map, used where a recording labels that task and not this
            one (``activity`` follows from ``transport``: a bus ride is a vehicle); a class
            the map leaves out stays unlabelled.
        head: Registered head that answers it.
        doc: One line.
    """

    name: str
    classes: tuple[str, ...]
    label: str = ""
    derived: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    head: str = "linear"
    doc: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)
        for other, table in self.derived.items():
            wrong = sorted(set(table.values()) - set(self.classes))
            if wrong:
                raise ConfigError(f"task {self.name!r}: derived from {other!r} into classes "
                                  f"{wrong} it does not have ({list(self.classes)})")


_VEHICLES = {"car": "vehicle", "bus": "vehicle", "train": "vehicle"}
BUILTIN = (
    Task("activity", ("still", "walking", "running", "cycling", "vehicle"),
         derived={"transport": {"still": "still", "walking": "walking", **_VEHICLES}},
         doc="what the wearer is doing"),
    Task("indoor_outdoor", ("indoor", "outdoor"), label="indoor", doc="where they are"),
    Task("transport", ("still", "walking", "car", "bus", "train"),
         doc="transport mode, as the transport-mode recordings label it"),
    Task("locomotion", ("none", "foot", "bicycle", "motor"),
         derived={"activity": {"still": "none", "walking": "foot", "running": "foot",
                               "cycling": "bicycle", "vehicle": "motor"},
                  "transport": {"still": "none", "walking": "foot", "car": "motor",
                                "bus": "motor", "train": "motor"}},
         doc="how they move"),
)

#: Tasks the first weights format called otherwise: old name -> (its classes, name now).
FIRST_FORMAT_NAMES = {"transport": (("none", "foot", "bicycle", "motor"), "locomotion")}


def renamed_tasks(tasks: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Task names of first-format weights or graphs that are called otherwise now (old -> new):
    a ``transport`` head with the classes none/foot/bicycle/motor answers ``locomotion``."""
    return {old: new for old, (classes, new) in FIRST_FORMAT_NAMES.items()
            if tuple(tasks.get(old, ())) == classes}


_DECLARED = Declarations("task", "sensekit.tasks", lambda: BUILTIN, Task)


def register(task: Task, *, replace: bool = False) -> Task:
    """Add a task (``replace``: override one of the same name)."""
    return _DECLARED.register(task, replace=replace)


def registered() -> Mapping[str, Task]:
    """Every declared task by name."""
    return dict(_DECLARED.table())


def get(name: str) -> Task:
    """The declaration of task ``name``.

    Raises:
        ConfigError: no such task (the message suggests close names).
    """
    return _DECLARED.get(name)


def classes_of(names: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Task -> class names, for the named tasks (default: every declared one)."""
    return {t: list(get(t).classes) for t in (names if names is not None else registered())}
