"""Export to ONNX (one graph per encoder plus one fusion graph) and int8 quantisation.

The context network (:mod:`sensekit.fusion.context`) exports as a ``fuse`` and a ``context``
graph instead (:func:`export_context_onnx`).

Splitting the network at the tokens keeps the deployment as flexible as the PyTorch model: the
runtime runs only the encoders of the modalities that are on, then the fusion graph with the
presence mask, so one export serves every configuration. Series and image inputs have dynamic
time and size axes, so every rate and camera resolution of the configuration set runs on the
same graphs.

Files, for a prefix ``P`` in a folder: ``P.enc-<modality>.onnx``, ``P.fusion.onnx`` and the
manifest ``P.onnx.json``; int8 versions get ``.int8`` before ``.onnx``. Quantisation uses ONNX
Runtime's quantiser (``torch.ao.quantization`` is deprecated).
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .baseline import DeepConvLSTM
from .inputs import modalities_to_json
from .model import FusionNet

__all__ = ["export_context_onnx", "export_onnx", "quantize_int8"]


class _FusionGraph(nn.Module):
    def __init__(self, net: FusionNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, tokens: Tensor, present: Tensor) -> tuple[Tensor, ...]:
        keep = present > 0.5
        out = self.net.forward_head(self.net.fusion(tokens, keep), present=keep)
        return tuple(out.values())


def _example(spec_kind: str, channels: int, steps: int) -> Tensor:
    if spec_kind == "image":
        return torch.rand(1, channels, steps, steps)
    return torch.randn(1, channels, steps)


def _export(module: nn.Module, args: tuple[Tensor, ...], path: Path, inputs: list[str],
            outputs: list[str], axes: dict[str, dict[int, str]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=17, dynamo=False)


@torch.no_grad()
def export_onnx(model: nn.Module, folder: str | Path, prefix: str = "fusion") -> Path:
    """Export ``model`` (a :class:`FusionNet`) to ONNX; returns the manifest path."""
    if not isinstance(model, FusionNet):
        raise ConfigError(f"export_onnx exports FusionNet models, got {type(model).__name__}")
    model.eval()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for m, spec in model.modalities.items():
        path = out / f"{prefix}.enc-{m}.onnx"
        axes = {"x": {0: "batch", 2: "steps"}, "token": {0: "batch"}}
        if spec.kind == "image":
            axes["x"][3] = "width"
        _export(model.encoders[m], (_example(spec.kind, spec.channels, spec.steps()),), path,
                ["x"], ["token"], axes)
        files[m] = path.name
    path = out / f"{prefix}.fusion.onnx"
    n = len(model.order)
    tasks = list(model.tasks)
    # A fresh wrapper is in training mode, and the exporter restores that mode afterwards,
    # recursively: put it in eval mode so exporting leaves the network in eval mode.
    _export(_FusionGraph(model).eval(), (torch.randn(1, n, model.dim), torch.ones(1, n)), path,
            ["tokens", "present"], tasks,
            {"tokens": {0: "batch"}, "present": {0: "batch"}, **{t: {0: "batch"} for t in tasks}})
    files["fusion"] = path.name
    manifest: dict[str, Any] = {
        "format": "sensekit.fusion.onnx/2", "order": model.order, "dim": model.dim,
        "modalities": modalities_to_json(model.modalities), "tasks": model.tasks,
        "files": files, "int8_files": {},
        "build": getattr(model, "build_info", {}).get("name", ""),
    }
    mpath = out / f"{prefix}.onnx.json"
    mpath.write_text(json.dumps(manifest, indent=1) + "\n")
    return mpath


def quantize_int8(manifest_path: str | Path) -> Path:
    """Write int8 (dynamic, weights int8) versions of every graph; returns the manifest path."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    mpath = Path(manifest_path)
    manifest = json.loads(mpath.read_text())
    for part, name in manifest["files"].items():
        src = mpath.parent / name
        dst = src.with_suffix(".int8.onnx")
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantiser's "consider pre-processing" notice
        try:
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
        finally:
            root.setLevel(level)
        manifest["int8_files"][part] = dst.name
    mpath.write_text(json.dumps(manifest, indent=1) + "\n")
    return mpath


class _StackedGraph(nn.Module):
    def __init__(self, net: DeepConvLSTM) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.net.forward_stacked(x).values())


@torch.no_grad()
def export_baseline_onnx(model: nn.Module, path: str | Path, channels: int, steps: int) -> Path:
    """Export an early-fusion baseline (input: the stacked (B, C, T) tensor) to one graph."""
    if not isinstance(model, DeepConvLSTM):
        raise ConfigError(f"export_baseline_onnx exports DeepConvLSTM, got {type(model).__name__}")
    model.eval()
    out = Path(path)
    tasks = list(getattr(model, "tasks", {}))
    _export(_StackedGraph(model).eval(), (torch.randn(1, channels, steps),), out, ["x"], tasks,
            {"x": {0: "batch"}, **{t: {0: "batch"} for t in tasks}})
    return out


class _FuseGraph(nn.Module):
    def __init__(self, net: Any) -> None:
        super().__init__()
        self.net = net

    def forward(self, *args: Tensor) -> Tensor:
        *xs, present = args
        inputs = dict(zip(self.net.order, xs, strict=True))
        fused: Tensor = self.net.fuse(inputs, present > 0.5)
        return fused


class _ContextGraph(nn.Module):
    def __init__(self, net: Any) -> None:
        super().__init__()
        self.net = net

    def forward(self, fused: Tensor, valid: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.net.head(fused, valid).values())


@torch.no_grad()
def export_context_onnx(model: nn.Module, folder: str | Path, prefix: str = "fusion") -> Path:
    """Export a :class:`~sensekit.fusion.context.ContextFusion` as two graphs; returns the
    manifest path.

    ``P.fuse.onnx`` takes one window's statistics per learned modality (``x_<modality>``,
    (B, C, 1); zeros where absent) and ``present`` (B, M) and gives its vector (B, dim);
    ``P.context.onnx`` takes the last ``context`` windows' vectors (B, K, dim) and ``valid``
    (B, K) and gives each task's logits. The manifest (format ``sensekit.fusion.onnx/3``)
    records the modalities, the rules and their inputs, the calibration, the window length
    and the context, so :class:`~sensekit.fusion.runtime.OnnxFusion` needs nothing else.
    """
    from .context import ContextFusion

    if not isinstance(model, ContextFusion):
        raise ConfigError(f"export_context_onnx exports ContextFusion models, got "
                          f"{type(model).__name__}")
    model.eval()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    m = len(model.order)
    xs = tuple(torch.randn(1, model.modalities[name].channels, 1) for name in model.order)
    names = [f"x_{name}" for name in model.order]
    fuse = out / f"{prefix}.fuse.onnx"
    _export(_FuseGraph(model).eval(), (*xs, torch.ones(1, m)), fuse, [*names, "present"],
            ["fused"], {**{n: {0: "batch"} for n in names}, "present": {0: "batch"},
                        "fused": {0: "batch"}})
    tasks = list(model.tasks)
    context = out / f"{prefix}.context.onnx"
    _export(_ContextGraph(model).eval(), (torch.randn(1, model.context, model.dim),
                                          torch.ones(1, model.context)), context,
            ["fused", "valid"], tasks,
            {"fused": {0: "batch"}, "valid": {0: "batch"}, **{t: {0: "batch"} for t in tasks}})
    info = getattr(model, "build_info", {})
    manifest: dict[str, Any] = {
        "format": "sensekit.fusion.onnx/3", "layout": "context", "order": model.order,
        "dim": model.dim, "context": model.context,
        "window_s": next(iter(model.modalities.values())).window_s,
        "modalities": modalities_to_json(model.modalities),
        "rule_inputs": modalities_to_json(model.rule_inputs),
        "rules": [r.as_json() for r in model.rules], "calibration": model.calibration,
        "tasks": model.tasks, "files": {"fuse": fuse.name, "context": context.name},
        "int8_files": {}, "build": info.get("name", ""),
    }
    mpath = out / f"{prefix}.onnx.json"
    mpath.write_text(json.dumps(manifest, indent=1) + "\n")
    return mpath
