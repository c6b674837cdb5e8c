"""``sensekit windows REC... -o DIR``: recordings' labelled training windows as shards.

    sensekit windows day1.mcap day2.mcap -o shards/ [--format parquet] [--shard-windows 1024]
    sensekit train shards/ --val val-shards/ --out my_har

Each recording becomes ``DIR/NAME.windows/part-00000.npz`` and so on: the windows training
takes from it (see :mod:`sensekit.fusion.shards`), so training on many recordings reads shards
instead of decoding every log again. ``sensekit fleet windows`` does the same over many
recordings on a Dask cluster.
"""

from __future__ import annotations

import argparse
import shutil
import uuid
from pathlib import Path

from ..errors import ConfigError
from ..outputs import refuse_stdout


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", nargs="+", help="labelled recordings (.mcap files or folders)")
    parser.add_argument("-o", "--output", required=True, help="folder for the shards")
    parser.add_argument("--window-s", type=float, default=2.0, help="window length (s)")
    parser.add_argument("--hop-s", type=float, help="hop between windows (default: no overlap)")
    parser.add_argument("--format", choices=("npz", "parquet"), default="npz",
                        help="NumPy .npz (default) or Parquet (needs pyarrow)")
    parser.add_argument("--shard-windows", type=int, default=1024,
                        help="most windows per shard (default 1024)")
    parser.add_argument("--modalities", nargs="+", metavar="NAME",
                        help="declared modalities to keep (default: the rig's six; as "
                             "sensekit train --modalities)")
    parser.add_argument("--tasks", nargs="+", metavar="TASK",
                        help="tasks to label (default: every declared task)")
    parser.add_argument("--force", action="store_true", help="replace existing shards")


def run(args: argparse.Namespace) -> int:
    from ..fleet.outputs import replace_atomically
    from .recordings import expand_paths
    from .shards import recording_shards

    refuse_stdout(args.output, "a folder of shards")
    out = Path(args.output)
    for src in expand_paths(args.data):
        final = out / f"{src.stem}.windows"
        if final.exists() and not args.force:
            raise ConfigError(f"{final} exists; --force replaces it")
        tmp = out / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            shards = recording_shards(src, tmp, window_s=args.window_s, hop_s=args.hop_s,
                                      fmt=args.format, per_shard=args.shard_windows,
                                      modalities=args.modalities, tasks=args.tasks)
            replace_atomically(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
        print(f"wrote {final}: {sum(n for _, n in shards):,} windows in {len(shards)} shards")
    return 0
