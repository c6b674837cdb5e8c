"""Rewrite weights and ONNX graphs of the first format in the current one, outputs unchanged.

    python fusion/migrate_weights.py sensekit/fusion/weights/sim_har

What changes (sensekit.fusion.weights/1 -> /2, sensekit.fusion.onnx/1 -> /2):

- Each modality records where it comes from: the source streams, feature extractor and
  step-signal hold of the sensekit modality of its name (sensekit.modalities), and its x/y/z
  flag. The layout, channels, rates, window and fields must be the file's own, or the script
  stops.
- The task ``transport`` with the classes none/foot/bicycle/motor is ``locomotion`` (the name
  ``transport`` now belongs to the still/walking/car/bus/train task): its head's parameters
  in the ``.pt``, its temperatures, its output in the fusion graphs (float and int8).

Every number in the weights and graphs stays as it was; ``tests/fusion/
test_fusion_shipped_reference.py`` checks the outputs against those recorded before. The
first format stays readable (sensekit.fusion.weights.read_metadata upgrades it on the fly,
without holding step signals, as that format did not).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import onnx
import torch

from sensekit.fusion.inputs import modalities_from_json
from sensekit.fusion.tasks import renamed_tasks
from sensekit.fusion.weights import FIRST_FORMAT, FORMAT
from sensekit.modalities import get

ONNX_FORMAT = ("sensekit.fusion.onnx/1", "sensekit.fusion.onnx/2")


def modalities(old: dict[str, Any]) -> dict[str, Any]:
    """Each modality with its declaration's sources and x/y/z flag, checked against the file."""
    out = {}
    for name, spec in modalities_from_json(old).items():
        decl = get(name).input
        mine = (spec.kind, spec.channels, spec.rates_hz, spec.fields)
        theirs = (decl.kind, decl.channels, decl.rates_hz, decl.fields)
        if mine != theirs:
            raise SystemExit(f"{name}: the file has {mine}, the declaration {theirs}")
        out[name] = {**spec.as_json(), "sources": [s.as_json() for s in decl.sources],
                     "xyz": decl.xyz}
    return out


def rename(table: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {names.get(k, k): v for k, v in table.items()}


def migrate_weights(base: Path) -> dict[str, str]:
    meta_path = base.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    if meta["format"] != FIRST_FORMAT:
        raise SystemExit(f"{meta_path}: format {meta['format']}, not {FIRST_FORMAT}")
    names = renamed_tasks(meta["tasks"])
    pt = meta_path.with_name(meta["weights_file"])
    state = torch.load(pt, map_location="cpu", weights_only=True)
    for old, new in names.items():
        state = {k.replace(f"heads.{old}.", f"heads.{new}.", 1): v for k, v in state.items()}
    torch.save(state, pt)
    meta.update(format=FORMAT, modalities=modalities(meta["modalities"]),
                tasks=rename(meta["tasks"], names),
                temperature=rename(meta["temperature"], names),
                subset_temperature={k: rename(v, names)
                                    for k, v in meta["subset_temperature"].items()},
                weights_sha256=hashlib.sha256(pt.read_bytes()).hexdigest())
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return names


def rename_output(path: Path, names: dict[str, str]) -> None:
    graph = onnx.load(str(path))
    for out in graph.graph.output:
        out.name = names.get(out.name, out.name)
    for node in graph.graph.node:
        node.output[:] = [names.get(o, o) for o in node.output]
        node.input[:] = [names.get(i, i) for i in node.input]
    onnx.checker.check_model(graph)
    onnx.save(graph, str(path))


def migrate_graphs(manifest_path: Path, names: dict[str, str]) -> None:
    manifest = json.loads(manifest_path.read_text())
    if manifest["format"] != ONNX_FORMAT[0]:
        raise SystemExit(f"{manifest_path}: format {manifest['format']}, not {ONNX_FORMAT[0]}")
    for files in ("files", "int8_files"):
        if "fusion" in manifest[files]:
            rename_output(manifest_path.parent / manifest[files]["fusion"], names)
    manifest.update(format=ONNX_FORMAT[1], modalities=modalities(manifest["modalities"]),
                    tasks=rename(manifest["tasks"], names))
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path, help="weights path without suffix")
    args = parser.parse_args()
    names = migrate_weights(args.weights)
    manifest = args.weights.with_name(args.weights.name + ".onnx.json")
    if manifest.is_file():
        migrate_graphs(manifest, names)
    print(f"{args.weights}: {FIRST_FORMAT} -> {FORMAT}; tasks renamed: {names or 'none'}")


if __name__ == "__main__":
    main()
