"""``sensekit train``: train a fusion network on labelled recordings.

    sensekit train recordings/ --val val/ --out my_har --seed 0 --epochs 40 --onnx

Labels come from each recording's ``labels`` stream; one head is trained per task they label
(or follows from, see :mod:`sensekit.fusion.tasks`). Validation recordings (``--val``, or the
last recordings given when it is left out) pick the best epoch (early stopping) and fit the
temperatures. Writes ``OUT.pt`` and ``OUT.json`` (weights and metadata), optionally the ONNX
graphs beside them; ``--checkpoint`` keeps the best epoch's weights while training runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._optional import require
from ..errors import ConfigError
from ..outputs import add_force_argument, check_output, refuse_stdout


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", nargs="+", help="training recordings (.mcap files or folders)")
    parser.add_argument("--val", nargs="+", help="validation recordings (default: hold out "
                        "the last 20%% of the training recordings)")
    parser.add_argument("-o", "--output", "--out", dest="out", required=True,
                        help="weights path without suffix")
    parser.add_argument("--model", default="fusion_small", help="registered network")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--patience", type=int, default=8, help="early-stopping patience")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modality-dropout", type=float, default=0.8,
                        help="share of windows with a random subset of sensors switched off")
    parser.add_argument("--no-rate-augment", action="store_true")
    parser.add_argument("--no-augment", action="store_true", help="no sensor augmentation")
    parser.add_argument("--window-s", type=float, default=2.0)
    parser.add_argument("--modalities", nargs="+", metavar="NAME",
                        help="declared modalities the network takes (default: the rig's six; "
                             "see sensekit.modalities)")
    parser.add_argument("--tasks", nargs="+", metavar="TASK",
                        help="tasks to train a head for (default: every declared task the "
                             "training recordings label)")
    parser.add_argument("--checkpoint", help="file for the best epoch's state dict")
    parser.add_argument("--onnx", action="store_true", help="also export ONNX (and int8)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_force_argument(parser)


def run(args: argparse.Namespace) -> int:
    require("torch", extra="train", what="sensekit train")
    import torch

    from .augment import Augment
    from .calibrate import fit_temperature
    from .export import export_onnx, quantize_int8
    from .inputs import configurations, sensor_modalities
    from .model import create_model
    from .recordings import expand_paths, recording_fingerprint, recordings_windows
    from .train import TrainOptions, evaluate, fit
    from .weights import save_model

    torch.set_num_threads(args.threads)
    paths = expand_paths(args.data)
    val_paths = expand_paths(args.val) if args.val else paths[-max(1, len(paths) // 5):]
    train_paths = paths if args.val else paths[:len(paths) - len(val_paths)] or paths
    _check_outputs(args, [*paths, *val_paths])  # refused before training, not after
    mods = sensor_modalities(args.window_s, names=args.modalities)
    train = recordings_windows(train_paths, mods, window_s=args.window_s, tasks=args.tasks)
    tasks = train.labelled_tasks()
    if not tasks:
        raise ConfigError(f"no task is labelled in {[str(p) for p in train_paths]}")
    train = train.only_tasks(tasks)
    val = recordings_windows(val_paths, mods, window_s=args.window_s, tasks=tasks)
    print(f"sensekit train: {len(train)} training windows from {len(train_paths)} recordings, "
          f"{len(val)} validation windows", file=sys.stderr)
    torch.manual_seed(args.seed)
    net = create_model(args.model, modalities=mods, tasks=train.classes)
    print(f"tasks: {', '.join(tasks)}; modalities: {', '.join(mods)}", file=sys.stderr)
    opts = TrainOptions(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                        patience=args.patience, seed=args.seed,
                        modality_dropout=args.modality_dropout,
                        rate_augment=not args.no_rate_augment,
                        augment=None if args.no_augment else Augment(rotate_deg=180.0,
                                                                      placement_gain=2.5),
                        checkpoint=Path(args.checkpoint) if args.checkpoint else None,
                        progress=not args.quiet)
    result = fit(net, train, val, opts)
    temps = fit_temperature(net, val, configurations(mods, every_rate=False))
    scores = evaluate(net, val)
    meta = save_model(net, args.out, data_hash=train.data_hash(), training={
        "command": "sensekit train " + " ".join(sys.argv[2:]), "seed": args.seed,
        "best_epoch": result.best_epoch, "val_score": result.best_score,
        "recordings": [recording_fingerprint(p) for p in train_paths],
        "val_recordings": [recording_fingerprint(p) for p in val_paths]})
    if args.onnx:
        out = Path(args.out)
        quantize_int8(export_onnx(net, out.parent, out.name))
    print(f"best epoch {result.best_epoch}, validation score {result.best_score:.3f}; "
          f"temperatures {', '.join(f'{t}={v:.2f}' for t, v in temps.items())}")
    for task, s in scores.items():
        print(f"  {task:<16} accuracy {s['accuracy']:.3f}  macro-F1 {s['macro_f1']:.3f}")
    print(f"wrote {meta} and {meta.with_suffix('.pt')}")
    return 0


def _check_outputs(args: argparse.Namespace, inputs: list[Path]) -> None:
    refuse_stdout(args.out, "the weights (OUT.pt and OUT.json)")
    out = Path(args.out)
    files = [out.with_suffix(".pt"), out.with_suffix(".json")]
    files += [Path(args.checkpoint)] if args.checkpoint else []
    files += [out.with_name(f"{out.name}.onnx.json")] if args.onnx else []
    for path in files:
        check_output(path, inputs=inputs, force=args.force)
