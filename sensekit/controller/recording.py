"""A labelled recording held in memory, as policy evaluation replays it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from ..packets import Packet

__all__ = ["Recording"]


@dataclass
class Recording:
    """A labelled recording held in memory: streams as arrays, labels per time."""

    name: str
    streams: dict[str, Packet]
    label_t_ns: npt.NDArray[np.int64]
    labels: npt.NDArray[np.int64]
    classes: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: str, label_stream: str = "labels", task: str = "activity") -> Recording:
        """Read a recording with its ``task`` labels, if it has them.

        A recording that labels another task the declared ``task`` follows from (a
        transport-mode recording's ``transport=bus`` is a ``vehicle`` activity) is labelled
        through that. Without labels (a real recording nobody annotated) energy is still
        measured and the accuracy figures are NaN.
        """
        from ..log.reader import open as open_log

        with open_log(path) as log:
            streams = {s: log.read(s) for s in log.stream_names()}
            meta = log.devices().get(label_stream, {})
        codes = {k: json.loads(v) for k, v in meta.items()
                 if isinstance(v, str) and v.startswith("[")}
        lab = streams.get(label_stream)
        if lab is not None and codes:
            classes, values = _task_labels(task, lab, codes)
            streams[label_stream] = Packet(label_stream, lab.t_ns, {task: values})
            return cls.from_streams(path, streams, classes, label_stream, task)
        return cls.from_streams(path, streams, [], label_stream, task)

    @classmethod
    def from_streams(cls, name: str, streams: Mapping[str, Packet], classes: Sequence[str],
                     label_stream: str = "labels", label_field: str = "activity") -> Recording:
        """A recording already in memory (e.g. the demo's replayed streams)."""
        data = {s: p for s, p in streams.items()
                if s not in (label_stream, "controller") and len(p) >= 2}
        if not data:
            raise ConfigError(f"{name}: no sensor stream with two or more samples to replay")
        lab = streams.get(label_stream)
        if lab is None or label_field not in lab.fields:
            return cls(name, data, np.empty(0, np.int64), np.empty(0, np.int64), list(classes))
        return cls(name, data, lab.t_ns, np.asarray(lab[label_field], np.int64), list(classes))

    @property
    def labelled(self) -> bool:
        return len(self.labels) > 0

    def label_at(self, t_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Label code at each time (-1 everywhere for an unlabelled recording)."""
        if not self.labelled:
            return np.full(len(t_ns), -1, np.int64)
        idx = np.clip(np.searchsorted(self.label_t_ns, t_ns, side="right") - 1, 0,
                      len(self.labels) - 1)
        return self.labels[idx]

    @property
    def span_ns(self) -> tuple[int, int]:
        starts = [int(p.t_ns[0]) for p in self.streams.values()]
        ends = [int(p.t_ns[-1]) for p in self.streams.values()]
        return min(starts), max(ends)


def _task_labels(task: str, labels: Packet, codes: Mapping[str, list[str]]
                 ) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Class names and per-sample class index of ``task`` (-1: unlabelled) from a labels
    stream: its own field, else through a task it follows from (:mod:`sensekit.fusion.tasks`)."""
    from ..fusion.tasks import get, registered

    decl = registered().get(task)
    own = decl.label if decl is not None else task
    if own in labels.fields:
        return list(codes[own]), np.asarray(labels[own], np.int64)
    for other, table in (decl.derived if decl is not None else {}).items():
        src = get(other).label
        if decl is not None and src in labels.fields:
            index = [decl.classes.index(table[c]) if c in table else -1 for c in codes[src]]
            lookup = np.asarray([*index, -1], np.int64)  # code -1 (no label) stays -1
            return list(decl.classes), lookup[np.asarray(labels[src], np.int64)]
    return [], np.full(len(labels), -1, np.int64)
