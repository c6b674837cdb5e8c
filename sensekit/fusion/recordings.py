"""Labelled windows from recordings: the aligner's windows, labels from the log's ``labels`` stream.

Used by ``sensekit train`` / ``sensekit evaluate`` and the recipes in ``fusion/``. A recording
made by :func:`sensekit.testing.scenario.simulate` (or any recording with a ``labels`` stream
whose device metadata lists the class names per task) becomes a :class:`WindowSet`. Each
window's label is the majority of the label samples inside it.

Tasks: ``activity`` (still, walking, running, cycling, vehicle), ``indoor_outdoor`` and
``transport`` (none, foot, bicycle, motor), the last derived from the activity label, since
the simulator's day has one way of moving per segment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from .data import WindowSet
from .features import STREAMS, resize_series, window_inputs
from .inputs import ModalityInput

__all__ = ["TASKS", "TRANSPORT_OF", "recording_windows", "recordings_windows"]

TASKS: dict[str, list[str]] = {
    "activity": ["still", "walking", "running", "cycling", "vehicle"],
    "indoor_outdoor": ["indoor", "outdoor"],
    "transport": ["none", "foot", "bicycle", "motor"],
}
TRANSPORT_OF = {"still": "none", "walking": "foot", "running": "foot", "cycling": "bicycle",
                "vehicle": "motor"}


def _stream_rates(reader: Any) -> dict[str, float]:
    devices = reader.devices()
    out = {}
    for name, info in reader.streams.items():
        rate = float(devices.get(name, {}).get("rate_hz", 0) or 0) or info.rate_hz
        out[name] = float(rate)
    return out


def _label_codes(reader: Any) -> dict[str, list[str]]:
    meta = reader.devices().get("labels")
    if not meta:
        raise ConfigError(f"{reader.path}: no 'labels' stream metadata; sensekit train needs a "
                          f"labelled recording (e.g. made by sensekit.testing.scenario)")
    return {k: json.loads(v) for k, v in meta.items() if isinstance(v, str)
            and v.startswith("[")}


def _window_labels(win: Any, codes: Mapping[str, list[str]]) -> dict[str, int]:
    mask = win.mask.get("labels")
    out = {t: -1 for t in TASKS}
    if mask is None or not mask.any():
        return out
    data = win.data["labels"]

    def majority(field: str) -> str:
        values = np.asarray(data[field])[mask].astype(np.int64)
        return codes[field][int(np.bincount(values).argmax())]

    if "activity" in data:
        act = majority("activity")
        out["activity"] = TASKS["activity"].index(act)
        out["transport"] = TASKS["transport"].index(TRANSPORT_OF[act])
    if "indoor" in data:
        out["indoor_outdoor"] = TASKS["indoor_outdoor"].index(majority("indoor"))
    return out


def _fixed(x: npt.NDArray[np.float32], spec: ModalityInput) -> npt.NDArray[np.float32]:
    return x if spec.kind == "image" else resize_series(x, spec.steps())


def recording_windows(path: str | os.PathLike[str], mods: Mapping[str, ModalityInput], *,
                      window_s: float = 2.0, hop_s: float | None = None,
                      group: int = 0) -> WindowSet:
    """Labelled windows of one recording, every modality stored at its native rate."""
    from ..align import StreamSpec, align
    from ..log.reader import open as open_log

    with open_log(path) as reader:
        codes = _label_codes(reader)
        rates = _stream_rates(reader)
        wanted = {STREAMS.get(m, (m, ""))[0] for m in mods} | {"labels"}
        streams = {s: reader.read(s) for s in sorted(wanted & set(rates))}
    specs = {s: StreamSpec(rates[s]) for s in streams}
    windows = align(streams, specs, window_s, hop_s, origin_ns=min(
        int(p.t_ns[0]) for p in streams.values() if len(p)))
    rows: dict[str, list[Any]] = {m: [] for m in mods}
    present: dict[str, list[bool]] = {m: [] for m in mods}
    labels: dict[str, list[int]] = {t: [] for t in TASKS}
    for win in windows:
        lab = _window_labels(win, codes)
        if lab["activity"] < 0:
            continue
        feats = window_inputs(win, mods)
        for m, spec in mods.items():
            present[m].append(m in feats)
            rows[m].append(_fixed(feats[m], spec) if m in feats else None)
        for t in TASKS:
            labels[t].append(lab[t])
    return _assemble(mods, rows, present, labels, group, str(path))


def _assemble(mods: Mapping[str, ModalityInput], rows: Mapping[str, list[Any]],
              present: Mapping[str, list[bool]], labels: Mapping[str, list[int]], group: int,
              where: str) -> WindowSet:
    n = len(next(iter(labels.values())))
    if n == 0:
        raise ConfigError(f"{where}: no labelled windows")
    inputs = {}
    for m, spec in mods.items():
        shape = ((spec.channels, int(spec.native), int(spec.native)) if spec.kind == "image"
                 else (spec.channels, spec.steps()))
        arr = np.zeros((n, *shape), np.float32)
        for i, x in enumerate(rows[m]):
            if x is not None:
                arr[i] = x
        inputs[m] = arr
    return WindowSet(dict(mods), inputs, {m: np.array(v, bool) for m, v in present.items()},
                     {t: np.array(v, np.int64) for t, v in labels.items()},
                     {t: list(c) for t, c in TASKS.items()}, np.full(n, group, np.int64))


def recordings_windows(paths: Sequence[str | os.PathLike[str]],
                       mods: Mapping[str, ModalityInput], **kwargs: Any) -> WindowSet:
    """Windows of several recordings, each its own group (for splits by recording)."""
    sets = [recording_windows(p, mods, group=i, **kwargs) for i, p in enumerate(paths)]
    return concat_sets(sets)


def concat_sets(sets: Sequence[WindowSet]) -> WindowSet:
    """One :class:`WindowSet` of several with the same modalities and tasks."""
    first = sets[0]
    return WindowSet(first.modalities,
                     {m: np.concatenate([s.inputs[m] for s in sets]) for m in first.inputs},
                     {m: np.concatenate([s.present[m] for s in sets]) for m in first.present},
                     {t: np.concatenate([s.labels[t] for s in sets]) for t in first.labels},
                     first.classes, np.concatenate([s.groups for s in sets]))


def default_paths(folder: str | os.PathLike[str]) -> list[Path]:
    """The ``.mcap`` recordings in ``folder``, sorted."""
    return sorted(Path(folder).glob("*.mcap"))


def accel_csv_windows(path: str | os.PathLike[str], mods: Mapping[str, ModalityInput], *,
                      activity: str = "walking", window_s: float = 2.0, rate_hz: float = 100.0,
                      group: int = 0) -> WindowSet:
    """Windows of a phone accelerometer CSV (``t_ns, ax, ay, az, ...`` in m/s^2), one activity.

    This is the layout of the Oxford step-counter recordings in the corpus. Leading rows of
    zeros (the sensor not yet running) are dropped; only ``accel`` is present in the windows.
    """
    from ..align import StreamSpec, align
    from ..packets import Packet

    raw = np.loadtxt(path, delimiter=",", usecols=(0, 1, 2, 3), dtype=np.float64)
    raw = raw[np.flatnonzero(np.abs(raw[:, 1:4]).sum(1) > 0)[0]:]
    packet = Packet("imu", raw[:, 0].astype(np.int64),
                    {"accel_mps2": raw[:, 1:4].astype(np.float32)}, "imu")
    windows = align({"imu": packet}, {"imu": StreamSpec(rate_hz)}, window_s,
                    origin_ns=int(packet.t_ns[0]))
    rows: dict[str, list[Any]] = {m: [] for m in mods}
    present: dict[str, list[bool]] = {m: [] for m in mods}
    for win in windows:
        feats = window_inputs(win, {m: s for m, s in mods.items() if m == "accel"})
        if "accel" not in feats:
            continue
        for m, spec in mods.items():
            present[m].append(m in feats)
            rows[m].append(_fixed(feats[m], spec) if m in feats else None)
    n = len(present["accel"])
    act = TASKS["activity"].index(activity)
    labels = {"activity": [act] * n, "transport": [TASKS["transport"].index(
        TRANSPORT_OF[activity])] * n, "indoor_outdoor": [-1] * n}
    return _assemble(mods, rows, present, labels, group, str(path))


def recording_fingerprint(path: str | os.PathLike[str]) -> str:
    """What identifies a recording's content: the simulator's scenario parameters when it was
    simulated (``scenario_seed=3,scenario_duration_s=180.0``), else the file's SHA-256."""
    import hashlib

    from ..log.reader import open as open_log

    with open_log(path) as reader:
        meta = {k: v for rec in reader.metadata("sensekit.log") for k, v in rec.items()
                if k.startswith("scenario_")}
    if meta:
        return ",".join(f"{k}={meta[k]}" for k in sorted(meta))
    return "sha256=" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def expand_paths(items: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Recordings named on a command line: files, or folders of ``.mcap`` files."""
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out += default_paths(p)
        elif p.is_file():
            out.append(p)
        else:
            raise ConfigError(f"no recording or folder at {p}")
    if not out:
        raise ConfigError(f"no .mcap recordings in {[str(i) for i in items]}")
    return out
