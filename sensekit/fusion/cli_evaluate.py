"""``sensekit evaluate``: how well saved weights label recordings, per task and per recording.

    sensekit evaluate default walk.mcap car.mcap [--json]
    sensekit evaluate my_har held_out/ --configurations [--every-rate]

Scores recordings that carry a ``labels`` stream (``sensekit import --label TASK=CLASS`` or
``--labels SPANS.csv``, or a simulated day), using every modality each recording has; only
windows inside labelled spans count. For each task of the network that the recordings label
(directly, or through a task it follows from: a ``transport=bus`` recording is a ``vehicle``
activity): macro-F1 and accuracy over the pooled windows, and per recording its majority
label and the share of its windows predicted as each class. ``--json`` prints::

    {"tasks": {TASK: {"macro_f1": F, "accuracy": A, "windows": N, "recordings":
        [{"path": P, "truth": CLASS, "windows": N, "shares": {CLASS: fraction}}, ...]}}}

``--configurations`` also scores every configuration the network declares (each modality
subset at native rates plus each rate change; ``--every-rate`` crosses all), as the sampling
controller would run it. ``default`` names the weights sensekit ships for use. Recordings the
weights were trained or validated on are refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .._optional import require
from ..cli import add_stdout_output
from ..errors import ConfigError
from ..progress import Progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("weights", help="weights path (NAME, NAME.json) or a shipped name "
                                        "(default)")
    parser.add_argument("data", nargs="+", help="labelled recordings (.mcap files or folders)")
    parser.add_argument("--json", action="store_true",
                        help="print the scores as JSON on stdout instead of a table")
    add_stdout_output(parser, inputs=("weights", "data"))
    parser.add_argument("--configurations", action="store_true",
                        help="also score every configuration the network declares")
    parser.add_argument("--every-rate", action="store_true",
                        help="with --configurations: every subset crossed with every rate")


def _refuse_seen(meta: dict[str, Any], paths: list[Path]) -> None:
    from .recordings import recording_fingerprint

    seen = set(meta["training"].get("recordings", [])) | set(
        meta["training"].get("val_recordings", []))
    for p in paths:
        if recording_fingerprint(p) in seen:
            raise ConfigError(f"{p} was used to train or validate {meta['_path']} "
                              f"({recording_fingerprint(p)}); evaluate on held-out recordings")


def _table(scores: dict[str, dict[str, dict[str, float | None]]], tasks: list[str]
           ) -> list[str]:
    width = max(len(c) for c in scores)
    head = "  ".join(f"{t[:14]:>14} acc/F1/ECE" for t in tasks)
    lines = [f"{'configuration':<{width}}  {head}"]
    for cfg, by_task in scores.items():
        cells = "  ".join(f"{_num(by_task[t]['accuracy']):>8}/{_num(by_task[t]['macro_f1'])}/"
                          f"{_num(by_task[t]['ece'])}" for t in tasks)
        lines.append(f"{cfg:<{width}}  {cells}")
    return lines


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _summary(tasks: dict[str, Any]) -> list[str]:
    lines = []
    for task, score in tasks.items():
        lines.append(f"{task}: macro-F1 {score.macro_f1:.3f}, accuracy {score.accuracy:.3f} "
                     f"over {score.windows} windows of {len(score.recordings)} recordings")
        for r in score.recordings:
            top = sorted(r.shares.items(), key=lambda kv: -kv[1])[:3]
            shares = ", ".join(f"{c} {v:.0%}" for c, v in top if v > 0)
            lines.append(f"  {Path(r.path).name}: truth {r.truth}, {r.windows} windows: "
                         f"{shares}")
    return lines


def _windows(net: Any, meta: dict[str, Any], paths: list[Path], progress: bool = True
             ) -> tuple[list[tuple[str, Any]], list[dict[str, Any]]]:
    """Each recording's labelled windows (every modality it has) and the network's logits."""
    from .by_recording import network_tasks
    from .recordings import recording_windows
    from .train import predict_logits
    from .weights import metadata_inputs

    mods = metadata_inputs(meta)
    tasks = network_tasks(meta["tasks"])
    sets, logits = [], []
    with Progress("evaluate", len(paths), unit=" recordings", enabled=progress) as bar:
        for i, p in enumerate(paths):
            ws = recording_windows(p, mods, window_s=meta["window_s"], hop_s=meta["window_s"],
                                   group=i, tasks=tasks)
            sets.append((str(p), ws))
            logits.append(predict_logits(net, ws))
            bar.update(1, info=p.name)
    return sets, logits


def score_recordings(args: argparse.Namespace, paths: list[Path], *, progress: bool = True
                     ) -> tuple[dict[str, Any], dict[str, Any]]:
    """What ``--json`` prints for ``paths``, and the scores per task behind it (``sensekit
    fleet evaluate`` runs it per recording)."""
    require("torch", extra="train", what="sensekit evaluate")
    import torch

    from .by_recording import score_by_recording
    from .inputs import configurations, modalities_from_json
    from .recordings import concat_sets
    from .train import evaluate
    from .weights import load_model, read_metadata

    torch.set_num_threads(1)
    meta = read_metadata(args.weights)
    _refuse_seen(meta, paths)
    net = load_model(args.weights)
    sets, logits = _windows(net, meta, paths, progress)
    scores = score_by_recording(sets, logits)
    if not scores:
        raise ConfigError(f"the recordings label none of the network's tasks "
                          f"({', '.join(meta['tasks'])})")
    result: dict[str, Any] = {"tasks": {t: s.as_json() for t, s in scores.items()}}
    if args.configurations:
        pooled = concat_sets([ws for _, ws in sets])
        result["configurations"] = {
            c.name(): {t: _finite(v) for t, v in evaluate(net, pooled, c).items()
                       if t in scores}
            for c in configurations(modalities_from_json(meta["modalities"]),
                                    every_rate=args.every_rate)}
    return result, scores


def run(args: argparse.Namespace) -> int:
    from .recordings import expand_paths

    result, scores = score_recordings(args, expand_paths(args.data))
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        print()
        return 0
    print("\n".join(_summary(scores)))
    if args.configurations:
        print("\n".join(_table(result["configurations"], list(scores))))
    return 0


def _finite(scores: dict[str, float]) -> dict[str, float | None]:
    """NaN (no window of a class) as null, which JSON can hold."""
    return {k: None if v != v else v for k, v in scores.items()}
