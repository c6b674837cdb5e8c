"""Scores of a network on labelled recordings, per task and per recording (``sensekit evaluate``).

Each recording is cut into windows with every modality it has (a modality it lacks is masked,
as a switched-off sensor is), and only windows inside labelled spans count. Per task: macro-F1
and accuracy pooled over every labelled window, and per recording its majority label
(``truth``), its labelled windows and the share of them predicted as each class (``shares``):
the figures that tell "labels walking on 58% of this person's walk" apart from a pooled score.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from .data import WindowSet
from .metrics import accuracy, macro_f1
from .tasks import Task, registered

__all__ = ["RecordingShare", "TaskScore", "network_tasks", "score_by_recording"]

I64 = npt.NDArray[np.int64]


@dataclass
class RecordingShare:
    """One recording under one task."""

    path: str
    truth: str
    windows: int
    shares: dict[str, float]

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "truth": self.truth, "windows": self.windows,
                "shares": self.shares}


@dataclass
class TaskScore:
    """One task over every recording that labels it."""

    macro_f1: float
    accuracy: float
    windows: int
    recordings: list[RecordingShare] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return None if math.isnan(v) else round(v, 4)

        return {"macro_f1": num(self.macro_f1), "accuracy": num(self.accuracy),
                "windows": self.windows, "recordings": [r.as_json() for r in self.recordings]}


def network_tasks(tasks: Mapping[str, Sequence[str]]) -> list[Task]:
    """The network's heads as tasks: the declaration of each (how its labels are read and
    derived) with the head's own classes; a head no declaration names reads its own field."""
    declared = registered()
    out = []
    for name, classes in tasks.items():
        decl = declared.get(name)
        if decl is None:
            out.append(Task(name, tuple(classes)))
        elif list(decl.classes) == list(classes):
            out.append(decl)
        else:  # classes differ from today's declaration: only direct labels can be trusted
            out.append(replace(decl, classes=tuple(classes), derived={}))
    return out


def _share(path: str, y: I64, pred: I64, classes: Sequence[str]) -> RecordingShare:
    counts = np.bincount(pred, minlength=len(classes))
    truth = classes[int(np.bincount(y, minlength=len(classes)).argmax())]
    return RecordingShare(path, truth, len(y), {c: round(float(n) / len(y), 4)
                                                for c, n in zip(classes, counts, strict=True)})


def score_by_recording(sets: Sequence[tuple[str | os.PathLike[str], WindowSet]],
                       logits: Sequence[Mapping[str, npt.NDArray[np.float32]]]
                       ) -> dict[str, TaskScore]:
    """Per-task scores from each recording's windows and the network's logits on them.

    Args:
        sets: ``(path, windows)`` per recording.
        logits: The network's logits per task for each recording's windows, in order.
    """
    out = {}
    for task in logits[0] if logits else {}:
        ys, preds, shares = [], [], []
        for (path, ws), z in zip(sets, logits, strict=True):
            y = ws.labels.get(task)
            if y is None or not (y >= 0).any():
                continue
            keep = y >= 0
            pred = np.asarray(z[task]).argmax(1).astype(np.int64)[keep]
            ys.append(y[keep])
            preds.append(pred)
            shares.append(_share(str(path), y[keep], pred, ws.classes[task]))
        if ys:
            y_all, p_all = np.concatenate(ys), np.concatenate(preds)
            out[task] = TaskScore(macro_f1(y_all, p_all), accuracy(y_all, p_all), len(y_all),
                                  shares)
    return out
