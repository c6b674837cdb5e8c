"""Profiles: how well each static configuration did on tuning recordings, and at what cost.

``sensekit evaluate-policy TUNING.mcap... --pareto --json -o profile.json`` measures every static
configuration the network declares. A policy can then be given that file (``--profile``):

- the budget policy ranks configurations by their measured macro-F1 instead of a prior;
- the adaptive policy takes as its base set the cheapest configuration that came within
  ``tolerance`` of the best macro-F1, and on doubt or change adds only the sensors whose
  addition to that base raised macro-F1 by as much (a sensor that added less is never woken).

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

__all__ = ["Profile", "load_profile"]

STATIC = "static:"


@dataclass(frozen=True)
class Profile:
    """Measured macro-F1 and sensor+compute energy (J) per static configuration name."""

    macro_f1: Mapping[str, float]
    energy_j: Mapping[str, float]
    source: str

    def utility(self, config: Configuration) -> float:
        """Measured macro-F1 of ``config`` (0 for a configuration the profile lacks)."""
        return self.macro_f1.get(config.name(), 0.0)

    def base(self, tolerance: float = 0.01) -> Configuration:
        """The cheapest configuration within ``tolerance`` of the best measured macro-F1."""
        best = max(self.macro_f1.values())
        near = [n for n, f in self.macro_f1.items() if f >= best - tolerance]
        return Configuration.parse(min(near, key=lambda n: (self.energy_j[n], n)))

    def helpful(self, base: Configuration, gain: float = 0.01) -> tuple[str, ...]:
        """Modalities whose addition to ``base`` raised the measured macro-F1 by ``gain`` or
        more (a sensor that added less is not worth waking on doubt)."""
        own = self.macro_f1.get(base.name())
        if own is None:
            return ()
        out = []
        for name, f1 in self.macro_f1.items():
            config = Configuration.parse(name)
            extra = config.modalities - base.modalities
            if (len(extra) == 1 and config.modalities > base.modalities
                    and all(config.rates[m] == r for m, r in base.rates.items())
                    and f1 >= own + gain - 1e-9):
                out.append(next(iter(extra)))
        return tuple(sorted(out))


def load_profile(path: str | Path) -> Profile:
    """Read the JSON of an ``evaluate-policy --pareto --json`` run."""
    p = Path(path)
    rows = read_json(p, "profile", ConfigError)  # given as an option: a usage error
    f1, energy = {}, {}
    for n, row in enumerate(rows if isinstance(rows, list) else [], 1):
        name = str(row.get("policy", "")) if isinstance(row, dict) else ""
        if name.startswith(STATIC) and row.get("macro_f1") is not None:
            key = name[len(STATIC):]
            try:
                f1[key] = float(row["macro_f1"])
                energy[key] = float(row["sensor_j"]) + float(row["compute_j"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ConfigError(f"{p}: profile entry {n} ({name}) is malformed: "
                                  f"{type(exc).__name__} {exc}") from None
    if not f1:
        raise ConfigError(f"profile {p} has no static configurations with a macro-F1. Hint: "
                          "make it with 'sensekit evaluate-policy TUNING.mcap --pareto --json "
                          f"{p.name}' on labelled recordings")
    return Profile(f1, energy, str(p))
