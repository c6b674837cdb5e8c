"""Profiles: how well each static operating point did on tuning recordings, and at what cost.

``sensekit evaluate-policy TUNING/ --pareto --json -o profile.json`` measures every static
operating point the recordings allow. A policy can then be given that file (``--profile``):

- the budget policy ranks configurations by their measured macro-F1 instead of a prior;
- the adaptive policy takes as its base point the cheapest point that came within
  ``tolerance`` of the best macro-F1 (with its modes: an accelerometer in its low-power cycle
  mode), and on doubt or change adds only the sensors whose addition to that base raised
  macro-F1 by as much (a sensor that added less is never woken).

Only the pooled rows of a run over several recordings count (``recording`` is ``pooled``).

Profile on recordings that the evaluation itself does not use, or the evaluation is not
held out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config import read_json
from ..errors import ConfigError
from ..fusion.inputs import Configuration
from .operating import OperatingPoint

__all__ = ["Profile", "load_profile"]

STATIC = "static:"
POOLED = "pooled"


@dataclass(frozen=True)
class Profile:
    """Measured macro-F1 and sensor+compute energy (J) per static configuration name."""

    macro_f1: Mapping[str, float]
    energy_j: Mapping[str, float]
    source: str

    def utility(self, config: Configuration) -> float:
        """Measured macro-F1 of ``config`` (0 for a configuration the profile lacks)."""
        return self.macro_f1.get(config.name(), 0.0)

    def base(self, tolerance: float = 0.01) -> OperatingPoint:
        """The cheapest point within ``tolerance`` of the best measured macro-F1."""
        best = max(self.macro_f1.values())
        near = [n for n, f in self.macro_f1.items() if f >= best - tolerance]
        return OperatingPoint.parse(min(near, key=lambda n: (self.energy_j[n], n)))

    def helpful(self, base: OperatingPoint | Configuration,
                gain: float = 0.01) -> tuple[str, ...]:
        """Modalities whose addition to ``base`` (each in its delivering mode, the base's
        settings kept) raised the measured macro-F1 by ``gain`` or more (a sensor that added
        less is not worth waking on doubt)."""
        point = base if isinstance(base, OperatingPoint) else OperatingPoint(base)
        own = self.macro_f1.get(point.name())
        if own is None:
            return ()
        out = []
        for name, f1 in self.macro_f1.items():
            other = OperatingPoint.parse(name)
            extra = other.modalities - point.modalities
            if (len(extra) == 1 and other.modalities > point.modalities
                    and other.restricted(set(point.modalities)) == point
                    and not set(other.modes) & extra and not set(other.duty) & extra
                    and f1 >= own + gain - 1e-9):
                out.append(next(iter(extra)))
        return tuple(sorted(out))


def load_profile(path: str | Path) -> Profile:
    """Read the JSON of an ``evaluate-policy --pareto --json`` run (its pooled rows, or the
    rows of its one recording)."""
    p = Path(path)
    data = read_json(p, "profile", ConfigError)  # given as an option: a usage error
    f1, energy = {}, {}
    rows = [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []
    if any(r.get("recording") == POOLED for r in rows):
        rows = [r for r in rows if r.get("recording") == POOLED]
    for n, row in enumerate(rows, 1):
        name = str(row.get("policy", ""))
        if name.startswith(STATIC) and row.get("macro_f1") is not None:
            key = name[len(STATIC):]
            try:
                OperatingPoint.parse(key)
                f1[key] = float(row["macro_f1"])
                energy[key] = float(row["sensor_j"]) + float(row["compute_j"])
            except (KeyError, TypeError, ValueError, ConfigError) as exc:
                raise ConfigError(f"{p}: profile entry {n} ({name}) is malformed: "
                                  f"{type(exc).__name__} {exc}") from None
    if not f1:
        raise ConfigError(f"profile {p} has no static configurations with a macro-F1. Hint: "
                          "make it with 'sensekit evaluate-policy TUNING/ --pareto --json > "
                          f"{p.name}' on labelled recordings")
    return Profile(f1, energy, str(p))
