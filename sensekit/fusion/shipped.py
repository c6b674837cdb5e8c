"""Weights that ship with sensekit, and the names that stand for them (no torch here).

``default`` is the network the demo, the sampling controller and ``sensekit evaluate default``
use unless a rig names another (``[fusion] weights`` in its config): ``real_transport``, the
context network trained on the real transport-mode recordings of six people by
``fusion/real_recipe.py`` (5 s windows of rate-free statistics; tasks ``transport`` and
``activity``). The simulator-trained rig network ``sim_har`` (2 s raw windows of the rig's six
sensors) still ships and loads by its name.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ALIASES", "DEFAULT", "SHIPPED", "shipped_name", "shipped_names"]

#: Folder of the weights (``NAME.pt``, ``NAME.json``) and ONNX graphs (``NAME.onnx.json``).
SHIPPED = Path(__file__).resolve().parent / "weights"
DEFAULT = "default"
#: Shipped names that stand for other shipped weights.
ALIASES = {DEFAULT: "real_transport"}


def shipped_name(name: str) -> str:
    """The shipped weights ``name`` stands for (itself unless it is an alias)."""
    return ALIASES.get(name, name)


def shipped_names() -> list[str]:
    """Names of the shipped weights, aliases included."""
    own = sorted(p.stem for p in SHIPPED.glob("*.json") if not p.stem.endswith(".onnx"))
    return sorted(ALIASES) + own
