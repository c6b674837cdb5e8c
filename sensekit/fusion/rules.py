"""Post-processing rules: declared steps that correct a network's output from a sensor reading.

A rule reads one feature of a modality's window input (its ``stats`` vector) and, where it
holds, removes classes from tasks' outputs (their logits become :data:`REMOVED`, so the
softmax gives them nothing and the rest share the probability). Rules are data (a
:class:`Rule`), saved with the weights and the ONNX manifest, applied by the PyTorch evaluation
and by ONNX Runtime alike; the kinds are registered by name (:data:`KINDS`). Nothing here tests
a modality's or a class's name: a rule names them as data.

The shipped one, :data:`SPEED_GATE`: a GPS fix faster than 5 m/s within the last 45 s removes
still and walking (from the transport and the activity task; running and cycling stay: a
cyclist can ride faster than that). Its threshold is physics (a brisk walk is under 2 m/s, and
GPS speed of a walk was seen to reach 3.5 m/s on the transport-mode recordings), not tuned.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError

__all__ = ["KINDS", "REMOVED", "SPEED_GATE", "Rule", "apply_rules", "rules_from_json"]

F32 = npt.NDArray[np.float32]
#: The logit a removed class gets (finite, so ONNX, JSON and argmax all handle it).
REMOVED = -1e4


@dataclass(frozen=True)
class Rule:
    """One post-processing step.

    Attributes:
        kind: Registered kind (:data:`KINDS`): ``above`` removes ``remove`` where the feature is
            above ``threshold``.
        modality: The modality whose window input it reads (its ``stats`` input).
        feature: Which feature of that input.
        threshold: In the feature's units (``log1p(5.0)`` for 5 m/s of a ``speed_stats``).
        remove: Task -> classes removed where it holds.
        doc: What it means, one line.
    """

    kind: str
    modality: str
    feature: int
    threshold: float
    remove: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    doc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"rule kind {self.kind!r} unknown; use one of {sorted(KINDS)}")

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "modality": self.modality, "feature": self.feature,
                "threshold": self.threshold,
                "remove": {t: list(c) for t, c in self.remove.items()}, "doc": self.doc}

    def holds(self, x: F32 | None, present: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.bool_]:
        """Where the rule holds, for a batch of the modality's inputs (B, C, 1)."""
        return KINDS[self.kind](self, x, present)


def _above(rule: Rule, x: F32 | None, present: npt.NDArray[np.bool_] | None
           ) -> npt.NDArray[np.bool_]:
    if x is None:
        return np.zeros(0, bool)
    value = np.asarray(x, np.float32).reshape(len(x), -1)[:, rule.feature]
    holds = np.isfinite(value) & (value > rule.threshold)
    return holds if present is None else holds & np.asarray(present, bool)


#: Rule kinds: name -> where the rule holds.
KINDS: dict[str, Callable[[Rule, F32 | None, npt.NDArray[np.bool_] | None],
                          npt.NDArray[np.bool_]]] = {"above": _above}

SPEED_GATE = Rule("above", "gps_speed", 0, math.log1p(5.0),
                  {"transport": ("still", "walking"), "activity": ("still", "walking")},
                  "a GPS fix faster than 5 m/s in the last 45 s: not still, not walking")


def rules_from_json(items: Sequence[Mapping[str, Any]]) -> list[Rule]:
    """Rules saved by :meth:`Rule.as_json`."""
    return [Rule(str(d["kind"]), str(d["modality"]), int(d["feature"]), float(d["threshold"]),
                 {t: tuple(c) for t, c in d.get("remove", {}).items()}, str(d.get("doc", "")))
            for d in items]


def apply_rules(rules: Sequence[Rule], logits: Mapping[str, F32],
                classes: Mapping[str, Sequence[str]], inputs: Mapping[str, F32],
                present: Mapping[str, npt.NDArray[np.bool_]] | None = None) -> dict[str, F32]:
    """``logits`` (task -> (B, classes)) with each rule's classes removed where it holds.

    A rule whose modality is not in ``inputs`` (the sensor is off) does nothing; a rule never
    removes every class of a task.
    """
    out = {t: np.array(z, np.float32, copy=True) for t, z in logits.items()}
    for rule in rules:
        if rule.modality not in inputs:
            continue
        holds = rule.holds(inputs[rule.modality], (present or {}).get(rule.modality))
        for task, names in rule.remove.items():
            if task not in out or not holds.any():
                continue
            cols = np.array([classes[task].index(c) for c in names if c in classes[task]],
                            np.int64)
            if len(cols) and len(cols) < len(classes[task]):
                rows = np.flatnonzero(holds)
                out[task][np.ix_(rows, cols)] = REMOVED
    return out
