"""Training windows as shards on disk, and a dataset that streams them shuffled.

``sensekit windows`` (one machine) and ``sensekit fleet windows`` (many) write each recording's
labelled windows, exactly as training takes them from a recording
(:func:`~sensekit.fusion.recordings.recording_windows`: aligned, every modality resized to its
native steps, audio as log-mel, frames in [0, 1]), into a folder of shards of at most
``per_shard`` windows. A shard describes itself: its modalities, tasks and classes, the
recording it came from, and per-channel sums over its windows, so the mean and standard
deviation that training normalises with are known exactly without reading the data twice. The
values themselves are not standardised: which statistics apply depends on the training set, and
the network's normalisers take them from :meth:`WindowShards.stats`.

Two formats: NumPy (``.npz``, one array per field plus the description) and Parquet (one row
per window, a flattened float32 list per modality, the description in the schema metadata;
needs pyarrow).

:class:`WindowShards` reads a set of shards in a random order, a shard at a time, through a
shuffle buffer: memory holds the buffer and one shard, however many recordings there are.
No torch here.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError, LogFormatError
from .data import WindowSet
from .inputs import modalities_from_json, modalities_to_json

__all__ = ["FORMATS", "WindowShards", "read_shard", "read_shard_meta", "recording_shards",
           "write_shard"]

FORMATS = {"npz": ".npz", "parquet": ".parquet"}
KIND = "sensekit.windows"
F32 = npt.NDArray[np.float32]


def _sums(ws: WindowSet) -> dict[str, dict[str, Any]]:
    """Per modality and channel: element count, sum and sum of squares over present windows
    (``present``) and over all windows (``all``, used when a modality is never present)."""
    out = {}
    for m, x in ws.inputs.items():
        axes = tuple(i for i in range(x.ndim) if i != 1)
        entry = {}
        for which, rows in (("present", x[ws.present[m]]), ("all", x)):
            rows64 = rows.astype(np.float64)
            count = rows.size // x.shape[1] if rows.size else 0
            entry[which] = {"count": count, "sum": rows64.sum(axis=axes).tolist(),
                            "sumsq": np.square(rows64).sum(axis=axes).tolist()}
        out[m] = entry
    return out


def _meta(ws: WindowSet, source: str, fingerprint: str) -> dict[str, Any]:
    return {"kind": KIND, "version": 1, "source": source, "fingerprint": fingerprint,
            "windows": len(ws),
            "modalities": modalities_to_json(ws.modalities), "classes": ws.classes,
            "shapes": {m: list(x.shape[1:]) for m, x in ws.inputs.items()},
            "tasks": sorted(ws.labels), "sums": _sums(ws), "data_hash": ws.data_hash(),
            "views": {v: sorted(x) for v, (x, _) in ws.views.items()}}


def _extra(ws: WindowSet) -> dict[str, Any]:
    """The windows' grid index and their rate views, as named arrays."""
    out: dict[str, Any] = {"index": ws.index}
    for v, (x, p) in ws.views.items():
        out |= {f"views.{v}.inputs.{m}": a for m, a in x.items()}
        out |= {f"views.{v}.present.{m}": a for m, a in p.items()}
    return out


def write_shard(ws: WindowSet, path: str | os.PathLike[str], *, source: str = "",
                fingerprint: str = "") -> Path:
    """Write ``ws`` as one shard; the format follows the suffix (``.npz`` or ``.parquet``).

    Args:
        ws: The windows.
        path: The shard file.
        source: The recording they came from (windows of one source share a group).
        fingerprint: What identifies that recording's content
            (:func:`~sensekit.fusion.recordings.recording_fingerprint`), so weights trained
            on shards still name their training recordings.
    """
    path = Path(path)
    meta = _meta(ws, source, fingerprint)
    if path.suffix == ".parquet":
        _write_parquet(ws, path, meta)
        return path
    if path.suffix != ".npz":
        raise ConfigError(f"{path}: a shard is .npz or .parquet")
    arrays: dict[str, Any] = {f"inputs.{m}": x for m, x in ws.inputs.items()}
    arrays |= {f"present.{m}": p for m, p in ws.present.items()}
    arrays |= {f"labels.{t}": y for t, y in ws.labels.items()}
    arrays |= _extra(ws)
    with open(path, "wb") as fh:
        np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)
    return path


def _write_parquet(ws: WindowSet, path: Path, meta: dict[str, Any]) -> None:
    from .._optional import require

    pa = require("pyarrow", extra="report", what="Parquet window shards")
    pq = require("pyarrow.parquet", extra="report", what="Parquet window shards")
    n = len(ws)
    cols: dict[str, Any] = {}
    for m, x in ws.inputs.items():
        flat = pa.array(np.ascontiguousarray(x, np.float32).reshape(-1))
        cols[f"inputs.{m}"] = pa.FixedSizeListArray.from_arrays(flat, int(x[0].size) if n else 1)
    cols |= {f"present.{m}": pa.array(p) for m, p in ws.present.items()}
    cols |= {f"labels.{t}": pa.array(y) for t, y in ws.labels.items()}
    for name, a in _extra(ws).items():
        if a.ndim > 1:
            flat = pa.array(np.ascontiguousarray(a, np.float32).reshape(-1))
            cols[name] = pa.FixedSizeListArray.from_arrays(flat, int(a[0].size) if n else 1)
        else:
            cols[name] = pa.array(a)
    table = pa.table(cols).replace_schema_metadata({KIND: json.dumps(meta)})
    pq.write_table(table, path)


def read_shard_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A shard's description, without reading its windows.

    Raises:
        LogFormatError: not a sensekit window shard.
    """
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            raw = (pq.read_schema(path).metadata or {}).get(KIND.encode())
            meta = json.loads(raw) if raw else {}
        else:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError) as exc:
        raise LogFormatError(f"{path}: not a window shard ({exc})") from exc
    if meta.get("kind") != KIND:
        raise LogFormatError(f"{path}: not a sensekit window shard")
    return dict(meta)


def read_shard(path: str | os.PathLike[str], group: int = 0) -> WindowSet:
    """One shard's windows (every window's group set to ``group``)."""
    path = Path(path)
    meta = read_shard_meta(path)
    mods = modalities_from_json(meta["modalities"])
    n = int(meta["windows"])
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)

        def column(name: str) -> Any:
            return table.column(name).combine_chunks()

        def array(name: str, shape: Sequence[int] = ()) -> Any:
            col = column(name)
            if shape:
                return np.asarray(col.flatten().to_numpy(), np.float32).reshape(n, *shape)
            return col.to_numpy(zero_copy_only=False)

        names = set(table.column_names)
    else:
        with np.load(path, allow_pickle=False) as z:
            stored = {k: z[k] for k in z.files}

        def array(name: str, shape: Sequence[int] = ()) -> Any:
            return stored[name]

        names = set(stored)
    inputs = {m: array(f"inputs.{m}", meta["shapes"][m]) for m in mods}
    present = {m: array(f"present.{m}") for m in mods}
    labels = {t: array(f"labels.{t}") for t in meta["tasks"]}
    views = {v: ({m: array(f"views.{v}.inputs.{m}", meta["shapes"][m]) for m in vm},
                 {m: array(f"views.{v}.present.{m}") for m in vm})
             for v, vm in meta.get("views", {}).items()}
    index = array("index") if "index" in names else np.arange(n)
    return WindowSet(mods, inputs, present, labels, meta["classes"], np.full(n, group, np.int64),
                     np.asarray(index, np.int64), views)


def recording_shards(src: str | os.PathLike[str], out: str | os.PathLike[str], *,
                     window_s: float = 2.0, hop_s: float | None = None, fmt: str = "npz",
                     per_shard: int = 1024, modalities: Sequence[str] | None = None,
                     tasks: Sequence[str] | None = None, stats: bool = False,
                     rate_views_hz: Sequence[float] = ()) -> list[tuple[Path, int]]:
    """A recording's labelled training windows as shards in the new folder ``out``.

    Args:
        src: The recording.
        out: The folder to make.
        window_s, hop_s: Windows, as ``sensekit train --window-s`` takes them.
        fmt: ``"npz"`` or ``"parquet"``.
        per_shard: Most windows in one shard.
        modalities, tasks: As ``sensekit train --modalities/--tasks`` (default: the rig's
            sensor set, every declared task).
        stats: Each modality's rate-free window statistics (its declared ``stats``, what the
            network trained on real phones takes) instead of its raw resolution.
        rate_views_hz: Rate augmentation: also store each window as the sensors would have
            delivered it at these rates (point sampling and the replay's decimation,
            :func:`~sensekit.fusion.rates.rate_views`).

    Returns:
        Each shard written and its number of windows (with their grid index, so a network
        that reads consecutive windows finds them).
    """
    from .inputs import sensor_modalities, stats_modalities
    from .rates import rate_views
    from .recordings import recording_fingerprint, recording_windows

    if fmt not in FORMATS:
        raise ConfigError(f"window shard format {fmt!r}: use one of {sorted(FORMATS)}")
    if per_shard < 1:
        raise ConfigError(f"--shard-windows {per_shard}: a shard holds at least one window")
    if stats:
        from ..modalities import registered

        mods = stats_modalities(modalities or [m for m, d in registered().items()
                                               if d.stats is not None])
    else:
        mods = sensor_modalities(window_s, names=modalities)
    views = rate_views(rate_views_hz) if rate_views_hz else None
    ws = recording_windows(src, mods, window_s=window_s, hop_s=hop_s, tasks=tasks,
                           views=views)
    fingerprint = recording_fingerprint(src)
    folder = Path(out)
    folder.mkdir(parents=True)
    written = []
    for i, start in enumerate(range(0, len(ws), per_shard)):
        part = ws.subset(np.arange(start, min(len(ws), start + per_shard)))
        path = write_shard(part, folder / f"part-{i:05d}{FORMATS[fmt]}", source=str(src),
                           fingerprint=fingerprint)
        written.append((path, len(part)))
    return written


def shard_paths(items: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Shard files named directly or found in folders (all levels), sorted per folder."""
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix in FORMATS.values())
        elif p.is_file():
            out.append(p)
        else:
            raise ConfigError(f"no window shard or folder at {p}")
    if not out:
        raise ConfigError(f"no window shards (.npz, .parquet) in {[str(i) for i in items]}")
    return out


class WindowShards:
    """Windows of many shards, streamed in shuffled batches with bounded memory.

    Each pass visits the shards in a new random order; every window is yielded once per pass.
    A shard is read only when the buffer runs low, mixed into the buffer and the buffer
    shuffled, so at most ``buffer`` windows plus one shard are held at a time, however many
    shards there are.

    Example::

        shards = WindowShards(["shards/"], buffer=4096, seed=0)
        for batch in shards.batches(32, epoch=0):   # each batch is a WindowSet
            ...

    Args:
        items: Shard files or folders of them.
        buffer: Windows kept back and mixed with the next shard.
        batch_size: Windows per batch when iterated directly.
        seed: Seed of the shard order and shuffles (each epoch draws its own).
    """

    def __init__(self, items: Sequence[str | os.PathLike[str]], *, buffer: int = 2048,
                 batch_size: int = 32, seed: int = 0) -> None:
        self.paths = shard_paths(items)
        self.metas = [read_shard_meta(p) for p in self.paths]
        self.buffer, self.batch_size, self.seed = buffer, batch_size, seed
        self.epoch = 0
        self.peak_windows = 0
        first = self.metas[0]
        for path, meta in zip(self.paths, self.metas, strict=True):
            if meta["modalities"] != first["modalities"] or meta["classes"] != first["classes"]:
                raise ConfigError(f"{path}: its modalities or classes differ from "
                                  f"{self.paths[0]}'s; shards of one training set must agree")
        self.modalities = modalities_from_json(first["modalities"])
        self.classes: dict[str, list[str]] = first["classes"]
        sources = sorted({m["source"] for m in self.metas})
        self._groups = [sources.index(m["source"]) for m in self.metas]

    def __len__(self) -> int:
        return sum(int(m["windows"]) for m in self.metas)

    @property
    def fingerprints(self) -> list[str]:
        """The recordings these windows came from, as weights metadata names them."""
        return sorted({str(m.get("fingerprint") or m["source"]) for m in self.metas})

    def stats(self) -> dict[str, tuple[F32, F32]]:
        """Per-channel mean and std of each modality, as :meth:`WindowSet.stats` gives them
        for all these windows together (from the shards' sums, reading no window)."""
        out = {}
        for m in self.modalities:
            total = {k: sum(self._sum(meta, m, "present", k) for meta in self.metas)
                     for k in ("count", "sum", "sumsq")}
            if not np.any(total["count"]):
                total = {k: sum(self._sum(meta, m, "all", k) for meta in self.metas)
                         for k in ("count", "sum", "sumsq")}
            mean = total["sum"] / max(float(total["count"]), 1.0)
            var = np.maximum(total["sumsq"] / max(float(total["count"]), 1.0) - mean ** 2, 0.0)
            out[m] = (mean.astype(np.float32), np.maximum(np.sqrt(var), 1e-3).astype(np.float32))
        return out

    @staticmethod
    def _sum(meta: dict[str, Any], m: str, which: str, key: str) -> Any:
        value = meta["sums"][m][which][key]
        return np.asarray(value, np.float64) if key != "count" else int(value)

    def data_hash(self) -> str:
        """SHA-256 over the shards' own data hashes, in path order."""
        h = hashlib.sha256()
        for meta in self.metas:
            h.update(str(meta["data_hash"]).encode())
        return h.hexdigest()

    def load(self) -> WindowSet:
        """Every window in memory, in path order (for small sets such as validation)."""
        from .recordings import concat_sets

        whole: WindowSet = concat_sets([read_shard(p, g) for p, g in zip(
            self.paths, self._groups, strict=True)])
        return whole

    def batches(self, batch_size: int, *, epoch: int = 0) -> Iterator[WindowSet]:
        """One pass: ``len(self) // batch_size`` full batches (one short batch if there are
        fewer windows than ``batch_size``), shuffled across shards."""
        from .recordings import concat_sets

        rng = np.random.default_rng([self.seed, epoch])
        pool: WindowSet | None = None
        emitted = 0
        self.peak_windows = 0
        for k in rng.permutation(len(self.paths)):
            shard = read_shard(self.paths[k], self._groups[k])
            pool = shard if pool is None else concat_sets([pool, shard])
            self.peak_windows = max(self.peak_windows, len(pool))
            order = rng.permutation(len(pool))
            ready = max(0, (len(pool) - self.buffer) // batch_size)
            for b in range(ready):
                yield pool.subset(order[b * batch_size:(b + 1) * batch_size])
            emitted += ready
            pool = pool.subset(order[ready * batch_size:])
        if pool is None:
            return
        for b in range(len(pool) // batch_size):  # the buffer, already shuffled
            yield pool.subset(np.arange(b * batch_size, (b + 1) * batch_size))
            emitted += 1
        if emitted == 0 and len(pool):
            yield pool

    def __iter__(self) -> Iterator[WindowSet]:
        """Batches of ``batch_size``; each iteration is the next epoch."""
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self.batches(self.batch_size, epoch=epoch)
