"""Power: meters, per-device power models (package data), the energy ledger and the harness.

- :func:`phase`: mark a stretch of a workload for ``sensekit power measure``
  (:mod:`sensekit.power.markers` describes the protocol).
- :func:`open_meter`, :class:`Meter`: power meters yielding per-rail power packets
  (:mod:`sensekit.power.meters`).
- :class:`EnergyLedger`: joules per sensor, mode, inference and phase (:mod:`.ledger`).
- :func:`load_power_model`: the datasheet power tables (:mod:`.model`).
- :func:`measure`, :func:`render_report`: the harness and its reports (:mod:`.harness`,
  :mod:`.report`; the plot needs matplotlib, imported only when drawing).
"""

from __future__ import annotations

from typing import Any

from .markers import phase
from .model import load_power_model

__all__ = ["EnergyLedger", "Meter", "load_power_model", "measure", "open_meter", "phase",
           "render_report", "total_power_w"]

_LAZY = {
    "EnergyLedger": "sensekit.power.ledger",
    "Meter": "sensekit.power.meters",
    "open_meter": "sensekit.power.meters",
    "total_power_w": "sensekit.power.meters",
    "measure": "sensekit.power.harness",
    "render_report": "sensekit.power.report",
}


def __getattr__(name: str) -> Any:
    """Import the ledger, meters and harness only when they are used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sensekit.power' has no attribute {name!r}")
