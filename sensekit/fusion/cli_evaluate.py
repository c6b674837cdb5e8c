"""``sensekit evaluate``: accuracy and macro-F1 per task and per configuration.

    sensekit evaluate my_har held_out/ [--every-rate] [--json scores.json]

Runs saved weights on labelled recordings in every configuration the network declares (each
modality subset at native rates plus each rate change; ``--every-rate`` crosses all). Refuses
recordings the weights were trained or validated on (same scenario parameters or same file), so
scores are never on the training distribution.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .._optional import require
from ..errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("weights", help="weights path (NAME, NAME.json) or a shipped name")
    parser.add_argument("data", nargs="+", help="held-out recordings (.mcap files or folders)")
    parser.add_argument("--every-rate", action="store_true",
                        help="every subset crossed with every rate (many configurations)")
    parser.add_argument("--json", help="also write the scores as JSON")


def _table(scores: dict[str, dict[str, dict[str, float]]], tasks: list[str]) -> list[str]:
    width = max(len(c) for c in scores)
    head = "  ".join(f"{t[:14]:>14} acc/F1/ECE" for t in tasks)
    lines = [f"{'configuration':<{width}}  {head}"]
    for cfg, by_task in scores.items():
        cells = "  ".join(f"{by_task[t]['accuracy']:>8.3f}/{by_task[t]['macro_f1']:.3f}/"
                          f"{by_task[t]['ece']:.3f}" for t in tasks)
        lines.append(f"{cfg:<{width}}  {cells}")
    return lines


def score_recordings(weights: str, paths: list[Path], *, every_rate: bool = False
                     ) -> tuple[dict[str, Any], int]:
    """Scores per configuration and task of ``weights`` on ``paths`` (pooled), and the number
    of windows: what the command prints (``sensekit fleet evaluate`` runs it per recording)."""
    require("torch", extra="fusion", what="sensekit evaluate")
    import torch

    from .inputs import configurations, modalities_from_json
    from .sim import recording_fingerprint, recordings_windows
    from .train import evaluate
    from .weights import load_model, read_metadata

    torch.set_num_threads(1)
    meta = read_metadata(weights)
    seen = set(meta["training"].get("recordings", [])) | set(
        meta["training"].get("val_recordings", []))
    for p in paths:
        if recording_fingerprint(p) in seen:
            raise ConfigError(f"{p} was used to train or validate {meta['_path']} "
                              f"({recording_fingerprint(p)}); evaluate on held-out recordings")
    mods = modalities_from_json(meta["modalities"])
    net = load_model(weights)
    ws = recordings_windows(paths, mods, window_s=meta["window_s"])
    scores: dict[str, Any] = {}
    for cfg in configurations(mods, every_rate=every_rate):
        scores[cfg.name()] = evaluate(net, ws, cfg)
    return scores, len(ws)


def run(args: argparse.Namespace) -> int:
    from .sim import expand_paths
    from .weights import read_metadata

    paths = expand_paths(args.data)
    scores, windows = score_recordings(args.weights, paths, every_rate=args.every_rate)
    print(f"{windows} windows from {len(paths)} recordings")
    print("\n".join(_table(scores, list(read_metadata(args.weights)["tasks"]))))
    if args.json:
        Path(args.json).write_text(json.dumps(scores, indent=1) + "\n")
    return 0
