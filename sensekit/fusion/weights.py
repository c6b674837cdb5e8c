"""Weights that carry what they need: modalities, rates, window, normalisation, classes, data.

A network is saved as two files side by side: ``NAME.pt`` (the state dict, loaded only with
``torch.load(weights_only=True)``) and ``NAME.json`` (metadata: builder and its arguments,
modalities with their rates and window, the configurations it was trained across,
normalisation, classes, temperatures, training-data hash, the recipe and its scores, and the
SHA-256 of the ``.pt``). Default weights ship as package data in ``sensekit/fusion/weights/``;
``default`` names the ones sensekit uses unless told otherwise (:mod:`sensekit.fusion.shipped`).

Formats: ``sensekit.fusion.weights/2`` records where each modality comes from (its source
streams, feature extractor, step-signal hold) and its x/y/z flag. The first format is still
read (:func:`upgrade_first_format`): its modalities take their sources from the sensekit
modality of the same name, without holding anything, and its task ``transport`` with the
classes none/foot/bicycle/motor is the task now called ``locomotion`` (``transport`` names the
still/walking/car/bus/train task of the transport-mode recordings).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import read_json
from ..errors import ConfigError, FileFormatError
from ..outputs import atomic_output
from .inputs import ModalityInput, configurations, modalities_from_json
from .model import create_model
from .shipped import SHIPPED, shipped_name, shipped_names
from .tasks import renamed_tasks

__all__ = ["FIRST_FORMAT", "FORMAT", "SHIPPED", "load_model", "read_metadata", "save_model",
           "upgrade_first_format"]

FORMAT = "sensekit.fusion.weights/2"
FIRST_FORMAT = "sensekit.fusion.weights/1"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _normalisation(model: nn.Module) -> dict[str, Any]:
    out = {}
    for name, buf in model.named_buffers():
        if name.endswith("norm.mean") or name.endswith("norm.std"):
            out[name] = [round(float(v), 6) for v in buf.flatten()]
    return out


def _subset_temperatures(model: nn.Module, tasks: list[str]) -> dict[str, dict[str, float]]:
    """Per-subset corrections that differ from 1, keyed by ``accel+gps`` style names."""
    table: Any = getattr(model, "subset_temperature", None)
    order: list[str] = getattr(model, "order", [])
    out = {}
    for idx in range(0 if table is None else table.shape[0]):
        row = [float(v) for v in table[idx]]
        if any(abs(v - 1.0) > 1e-6 for v in row):
            name = "+".join(m for i, m in enumerate(order) if idx >> i & 1)
            out[name] = {t: round(v, 4) for t, v in zip(tasks, row, strict=True)}
    return out


def save_model(model: nn.Module, path: str | Path, *, data_hash: str = "",
               training: Mapping[str, Any] | None = None) -> Path:
    """Write ``path.pt`` and ``path.json``; returns the ``.json`` path.

    Args:
        model: A network made by :func:`~sensekit.fusion.model.create_model`.
        path: Destination without suffix (``weights/sim_har``).
        data_hash: :meth:`WindowSet.data_hash` of the training data.
        training: Recipe, seed, scores... anything that tells how the weights were made.
    """
    info = getattr(model, "build_info", None)
    if info is None:
        raise ConfigError("save_model needs a network made by sensekit.fusion.create_model")
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    pt = base.with_suffix(".pt")
    with atomic_output(pt, force=True) as tmp:  # never half a file under the final name
        torch.save(model.state_dict(), tmp)
    mods = modalities_from_json(info["modalities"])
    temps: Any = getattr(model, "temperature", torch.ones(0))
    meta = {
        "format": FORMAT, **info,
        "window_s": next(iter(mods.values())).window_s,
        "configurations": [c.name() for c in configurations(mods)],
        "normalisation": _normalisation(model),
        "temperature": dict(zip(info["tasks"], [float(t) for t in temps], strict=False)),
        "subset_temperature": _subset_temperatures(model, list(info["tasks"])),
        "parameters": sum(p.numel() for p in model.parameters()),
        "data_hash": data_hash, "training": dict(training or {}),
        "weights_file": pt.name, "weights_sha256": _sha256(pt),
    }
    out = base.with_suffix(".json")
    with atomic_output(out, force=True) as tmp:
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=False) + "\n")
    return out


def _rename_keys(table: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    return {names.get(k, k): v for k, v in table.items()}


def upgrade_first_format(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata of the first format, as the current format says it (see the module doc)."""
    names = renamed_tasks(meta["tasks"])
    out = dict(meta)
    out["tasks"] = _rename_keys(meta["tasks"], names)
    out["temperature"] = _rename_keys(meta.get("temperature", {}), names)
    out["subset_temperature"] = {k: _rename_keys(v, names)
                                 for k, v in meta.get("subset_temperature", {}).items()}
    mods = modalities_from_json(meta["modalities"])
    out["modalities"] = {m: spec.as_json() for m, spec in mods.items()}
    out["format"] = FORMAT
    out["_renamed_tasks"] = names
    return out


def weights_path(path: str | Path) -> Path:
    """The metadata file of ``path`` (``NAME``, ``NAME.json`` or ``NAME.pt``); a name without
    folder that is not a file here is a shipped one (``default``, ``sim_har``)."""
    p = Path(path)
    if not p.suffix and not p.parent.parts and not p.with_suffix(".json").exists():
        p = SHIPPED / shipped_name(p.name)
    return p.with_suffix(".json")


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of saved weights (see :func:`weights_path`), in the current format."""
    p = weights_path(path)
    if not p.is_file():
        raise ConfigError(f"no fusion weights metadata at {p}; shipped weights: "
                          f"{', '.join(shipped_names())}")
    meta = read_json(p, "fusion weights metadata")
    if isinstance(meta, dict) and meta.get("format") == FIRST_FORMAT:
        try:
            meta = upgrade_first_format(meta)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FileFormatError(f"{p}: malformed fusion weights metadata of the first format "
                                  f"({type(exc).__name__}: {exc})") from None
    meta = _checked_metadata(meta, p)
    meta["_path"] = str(p)
    return meta


def _checked_metadata(meta: Any, p: Path) -> dict[str, Any]:
    """``meta`` if it has what loading and evaluating weights read, else FileFormatError."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else f"a JSON {type(meta).__name__}"
        raise FileFormatError(f"{p}: not fusion weights metadata: format {found!r}, this "
                              f"sensekit reads {FORMAT} and {FIRST_FORMAT}")
    try:
        modalities_from_json(meta["modalities"])
        if not all(isinstance(c, str) for classes in meta["tasks"].values() for c in classes):
            raise TypeError("task classes must be names")
        for key in ("name", "weights_file", "weights_sha256"):
            if not isinstance(meta[key], str):
                raise TypeError(f"{key} must be a string")
        float(meta["window_s"])
        dict(meta.get("training", {}))
        dict(meta.get("kwargs", {}))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FileFormatError(f"{p}: malformed fusion weights metadata ({type(exc).__name__}: "
                              f"{exc})") from None
    return meta


def check_inputs(meta: Mapping[str, Any], modalities: Mapping[str, ModalityInput] | None,
                 tasks: Mapping[str, Sequence[str]] | None) -> None:
    """Raise :class:`ConfigError` saying what differs if the caller's inputs do not match."""
    where = meta.get("_path", "weights")
    if modalities is not None:
        have = modalities_from_json(meta["modalities"])
        for m in sorted(set(have) | set(modalities)):
            if m not in have or m not in modalities:
                raise ConfigError(f"{where}: trained on modalities {sorted(have)}, asked for "
                                  f"{sorted(modalities)}. Hint: a modality that is off at run "
                                  f"time is left out of the inputs, not out of the model")
            if have[m] != modalities[m]:
                raise ConfigError(f"{where}: modality {m!r} was trained as {have[m].as_json()}, "
                                  f"asked for {modalities[m].as_json()}")
    if tasks is not None:
        for t, classes in tasks.items():
            if list(meta["tasks"].get(t, [])) != list(classes):
                raise ConfigError(f"{where}: task {t!r} has classes "
                                  f"{meta['tasks'].get(t)}, asked for {list(classes)}")


def load_model(path: str | Path, *, modalities: Mapping[str, ModalityInput] | None = None,
               tasks: Mapping[str, Sequence[str]] | None = None) -> nn.Module:
    """Rebuild a network from saved weights, in eval mode.

    Args:
        path: ``NAME`` (with or without suffix), or a shipped name such as ``"default"``.
        modalities: The inputs the caller will feed; refused if they differ from training.
        tasks: The classes the caller expects per task; refused if they differ.

    Raises:
        ConfigError: missing files, a changed weights file, or mismatched inputs or classes.
    """
    meta = read_metadata(path)
    check_inputs(meta, modalities, tasks)
    pt = Path(meta["_path"]).with_name(meta["weights_file"])
    if not pt.is_file() or _sha256(pt) != meta["weights_sha256"]:
        raise ConfigError(f"{pt}: missing or not the file its metadata describes (SHA-256 "
                          f"differs). Hint: save weights and metadata together with save_model")
    model = create_model(meta["name"], modalities=modalities_from_json(meta["modalities"]),
                         tasks=meta["tasks"], **meta.get("kwargs", {}))
    state = torch.load(pt, map_location="cpu", weights_only=True)
    for old, new in meta.get("_renamed_tasks", {}).items():
        state = {k.replace(f"heads.{old}.", f"heads.{new}.", 1): v for k, v in state.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # the builder's defaults changed since these were saved
        first = str(exc).splitlines()[1:2] or [str(exc)]
        raise ConfigError(f"{pt}: the weights do not fit {meta['name']} built with "
                          f"{meta.get('kwargs', {})} ({first[0].strip()}). Hint: pass the "
                          "settings they were trained with to create_model, or retrain") from exc
    model.eval()
    return model


def metadata_modalities(meta: Mapping[str, Any]) -> dict[str, ModalityInput]:
    """The modalities recorded in metadata."""
    return modalities_from_json(meta["modalities"])


def metadata_inputs(meta: Mapping[str, Any]) -> dict[str, ModalityInput]:
    """Every modality a window must be cut for: the learned inputs, then the inputs of the
    network's post-processing rules (a context network's GPS speed)."""
    rules = meta.get("kwargs", {}).get("rule_inputs") or {}
    return {**modalities_from_json(meta["modalities"]), **modalities_from_json(rules)}

