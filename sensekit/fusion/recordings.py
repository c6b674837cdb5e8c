"""Labelled windows from recordings: the aligner's windows, labels from the log's ``labels`` stream.

Used by ``sensekit train`` / ``sensekit evaluate`` and the recipes in ``fusion/``. A recording
with a ``labels`` stream (made by :func:`sensekit.testing.scenario.simulate`, or imported with
``sensekit import --label TASK=CLASS`` / ``--labels SPANS.csv``) becomes a :class:`WindowSet`:
one int field per labelled task, class lists in the stream's device metadata, ``-1`` where a
task has no label. Each window's label is the majority of its label samples; a window with no
label sample of a task is unlabelled for it, and a window unlabelled for every task is left
out. Tasks (:mod:`sensekit.fusion.tasks`) a recording does not label follow from those it
does where their declaration says how (a bus ride is a ``vehicle`` activity).

Each modality is read from the first of its source streams the recording has, and step
signals (light that reports only on change) are held as their declaration says.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from ..packets import Packet
from .data import WindowSet
from .features import fit_rate, window_inputs
from .inputs import ModalityInput
from .tasks import Task, get, registered

__all__ = ["LabelledStreams", "accel_csv_recording", "label_codes", "labels_of",
           "recording_windows", "recordings_windows", "window_labels"]

LABELS = "labels"


def _stream_rates(devices: Mapping[str, Mapping[str, Any]],
                  streams: Mapping[str, Any]) -> dict[str, float]:
    """Each stream's declared rate (device metadata), else its median rate."""
    from .rates import native_rate_hz

    out = {}
    for name, packet in streams.items():
        rate = float(devices.get(name, {}).get("rate_hz", 0) or 0)
        out[name] = rate or native_rate_hz(packet.t_ns)
    return out


def label_codes(reader: Any) -> dict[str, list[str]]:
    """Label field -> class names, from the ``labels`` stream's device metadata.

    Raises:
        ConfigError: the recording has no labels stream.
    """
    return _codes(reader.devices().get(LABELS), LABELS in reader.streams, str(reader.path))


def _codes(meta: Mapping[str, Any] | None, has_stream: bool, where: str
           ) -> dict[str, list[str]]:
    if not meta or not has_stream:
        raise ConfigError(f"{where}: no '{LABELS}' stream; label the recording (sensekit "
                          "import --label TASK=CLASS, or --labels SPANS.csv)")
    # a log's metadata holds the class lists as JSON text, an imported recording as lists
    return {k: (json.loads(v) if isinstance(v, str) else [str(c) for c in v])
            for k, v in meta.items()
            if (isinstance(v, str) and v.startswith("[")) or isinstance(v, (list, tuple))}


def labels_of(names: Mapping[str, str], tasks: Sequence[Task], where: str = "") -> dict[str, int]:
    """Class index per task (-1: unlabelled) from label-field -> class-name pairs.

    A task the names do not label directly follows from another task's label where its
    declaration maps that class.

    Raises:
        ConfigError: a label names a class its task does not have.
    """
    out = {}
    for task in tasks:
        cls = names.get(task.label)
        if cls is None:
            cls = next((table[names[get(o).label]] for o, table in task.derived.items()
                        if get(o).label in names and names[get(o).label] in table), None)
        if cls is not None and cls not in task.classes:
            raise ConfigError(f"{where}: {task.label} label {cls!r} is not a class of task "
                              f"{task.name!r} ({', '.join(task.classes)})")
        out[task.name] = -1 if cls is None else task.classes.index(cls)
    return out


def window_labels(win: Any, codes: Mapping[str, list[str]], tasks: Sequence[Task],
                  where: str = "") -> dict[str, int]:
    """Majority label per task over the window's label samples (-1 where it has none)."""
    mask = win.mask.get(LABELS)
    names: dict[str, str] = {}
    if mask is not None and mask.any():
        for fld, classes in codes.items():
            if fld in win.data[LABELS]:
                values = np.asarray(win.data[LABELS][fld])[mask].astype(np.int64)
                values = values[values >= 0]
                if len(values):
                    names[fld] = classes[int(np.bincount(values).argmax())]
    return labels_of(names, tasks, where)


def _specs(rates: Mapping[str, float], mods: Mapping[str, ModalityInput],
           window_s: float) -> dict[str, Any]:
    """Aligner specs: each stream at its recorded rate (one slot per window for a stream with
    a single sample, which has none), step signals held as declared. A stream every reader of
    which is rate-normalised (``max_rate_hz``: the window statistics) is slotted at that rate:
    the earliest sample of each slot, no filter (point sampling), and a slower stream keeps
    every sample instead of losing the ones its irregular timing puts in a taken slot."""
    from ..align import StreamSpec

    hold: dict[str, float] = {}
    capped: dict[str, list[float | None]] = {}
    for spec in mods.values():
        for src in spec.sources:
            if src.hold_s is not None:
                hold[src.stream] = max(hold.get(src.stream, 0.0), src.hold_s)
            cap = src.options.get("max_rate_hz")
            capped.setdefault(src.stream, []).append(None if cap is None else float(cap))

    def rate(stream: str, recorded: float) -> float:
        caps = capped.get(stream, [None])
        if caps and all(c is not None for c in caps):
            return max(c for c in caps if c is not None)
        return recorded if recorded > 0 else 1.0 / window_s

    return {s: StreamSpec(rate(s, r), hold_s=hold.get(s)) for s, r in rates.items()}


def _tasks(names: Sequence[str | Task] | None) -> list[Task]:
    if names is None:
        return list(registered().values())
    return [t if isinstance(t, Task) else get(t) for t in names]


def _read(source: Any, mods: Mapping[str, ModalityInput]
          ) -> tuple[dict[str, Any], dict[str, float], dict[str, list[str]], str]:
    """Streams the modalities and labels need, their rates, the label codes, and a name."""
    wanted = {s for spec in mods.values() for s in spec.streams} | {LABELS}
    if hasattr(source, "streams") and hasattr(source, "devices") and \
            not isinstance(source, (str, os.PathLike)):
        where = str(getattr(source, "source", "recording"))
        streams = {s: p for s, p in source.streams.items() if s in wanted and len(p)}
        return (streams, _stream_rates(source.devices, streams),
                _codes(source.devices.get(LABELS), LABELS in source.streams, where), where)
    from ..log.reader import open as open_log

    with open_log(source) as reader:
        codes = label_codes(reader)
        streams = {s: reader.read(s) for s in sorted(wanted & set(reader.streams))}
        streams = {s: p for s, p in streams.items() if len(p)}
        rates = _stream_rates(reader.devices(), streams)
        for s, info in reader.streams.items():  # a log without device rates: its index's
            if s in rates and not rates[s]:
                rates[s] = float(info.rate_hz)
    return streams, rates, codes, str(source)


def recording_windows(source: str | os.PathLike[str] | Any,
                      mods: Mapping[str, ModalityInput], *, window_s: float = 2.0,
                      hop_s: float | None = None, group: int = 0,
                      tasks: Sequence[str | Task] | None = None,
                      views: Mapping[str, Any] | None = None, seed: int = 0,
                      origin_ns: int | None = None) -> WindowSet:
    """Labelled windows of one recording, every modality stored at its native rate.

    This is the one function that turns a recording into training windows (``sensekit
    train``, ``sensekit evaluate``, the recipes and ``sensekit fleet windows`` call it).

    Args:
        source: The recording: a log's path, or an imported recording in memory (anything
            with ``streams`` and ``devices``, such as :func:`sensekit.log.importers.
            android_events.read_us_tmd`'s).
        mods: The network's modalities (each read from the first source stream present).
        window_s, hop_s: Windows.
        group: Group id of its windows (splits keep a group on one side).
        tasks: Tasks to label, by name or as :class:`Task` (default: every declared task).
        views: Rate augmentation (:func:`sensekit.fusion.rates.rate_views`): each view also
            delivers the streams of rate-normalised modalities (``max_rate_hz``) slower, and
            the windows keep those modalities' inputs as that view saw them
            (:attr:`WindowSet.views`; absent where the view does not apply).
        seed: Seed of the views' random phases.
        origin_ns: Start of the window grid (default: the first sample).
    """
    from ..align import align

    streams, rates, codes, where = _read(source, mods)
    if not streams:
        raise ConfigError(f"{where}: none of the streams {sorted(_all_streams(mods))} and no "
                          "labels")
    specs = _specs(rates, mods, window_s)
    origin = min(int(p.t_ns[0]) for p in streams.values()) if origin_ns is None else origin_ns
    windows = align(streams, specs, window_s, hop_s, origin_ns=origin)
    chosen = _tasks(tasks)
    rows: dict[str, list[Any]] = {m: [] for m in mods}
    present: dict[str, list[bool]] = {m: [] for m in mods}
    labels: dict[str, list[int]] = {t.name: [] for t in chosen}
    index: list[int] = []
    for win in windows:
        lab = window_labels(win, codes, chosen, where)
        if max(lab.values(), default=-1) < 0:
            continue
        _add(window_inputs(win, mods), mods, rows, present)
        index.append(win.index)
        for t, v in lab.items():
            labels[t].append(v)
    ws = _assemble(mods, rows, present, labels, chosen, group, where)
    ws.index = np.asarray(index, np.int64)
    rng = np.random.default_rng(seed)
    for name, view in (views or {}).items():
        ws.views[name] = _view(view, streams, specs, ws, origin, window_s, hop_s, rng)
    return ws


def _all_streams(mods: Mapping[str, ModalityInput]) -> set[str]:
    return {s for spec in mods.values() for s in spec.streams}


def _normalised(mods: Mapping[str, ModalityInput]) -> dict[str, ModalityInput]:
    """The modalities whose every source is rate-normalised (``max_rate_hz``)."""
    return {m: spec for m, spec in mods.items()
            if spec.sources and all("max_rate_hz" in s.options for s in spec.sources)}


def _view(view: Any, streams: Mapping[str, Any], specs: Mapping[str, Any], ws: WindowSet,
          origin: int, window_s: float, hop_s: float | None, rng: np.random.Generator) -> Any:
    """One view's inputs and presence of the rate-normalised modalities, for the windows of
    ``ws``. A stream the view does not slow down (already at or below its rate) is delivered as
    recorded, as the replay passes it through: those modalities keep their inputs."""
    from ..align import align

    vmods = _normalised(ws.modalities)
    read = {m: next((s for s in spec.streams if s in streams), None) for m, spec in vmods.items()}
    changed = {}
    for s in {s for s in read.values() if s is not None}:
        got = view(s, streams[s], rng)
        if got is not None:
            changed[s] = got
    inputs = {m: ws.inputs[m].copy() for m in vmods}
    present = {m: ws.present[m].copy() for m in vmods}
    slowed = {m: spec for m, spec in vmods.items() if read[m] in changed}
    for m in slowed:
        inputs[m][:] = 0.0
        present[m][:] = False
    delivered = {s: p for s, p in changed.items() if len(p)}
    if delivered:
        at = {int(k): i for i, k in enumerate(ws.index)}
        for win in align(delivered, {s: specs[s] for s in delivered}, window_s, hop_s,
                         origin_ns=origin):
            i = at.get(win.index)
            if i is None:
                continue
            for m, x in window_inputs(win, slowed).items():
                inputs[m][i], present[m][i] = fit_rate(x, slowed[m]), True
    return inputs, present


def _add(feats: Mapping[str, npt.NDArray[np.float32]], mods: Mapping[str, ModalityInput],
         rows: dict[str, list[Any]], present: dict[str, list[bool]]) -> None:
    for m, spec in mods.items():
        present[m].append(m in feats)
        rows[m].append(fit_rate(feats[m], spec) if m in feats else None)


def _assemble(mods: Mapping[str, ModalityInput], rows: Mapping[str, list[Any]],
              present: Mapping[str, list[bool]], labels: Mapping[str, list[int]],
              tasks: Sequence[Task], group: int, where: str) -> WindowSet:
    n = len(next(iter(labels.values()), []))
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
                     {t.name: list(t.classes) for t in tasks}, np.full(n, group, np.int64))


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
                     first.classes, np.concatenate([s.groups for s in sets]),
                     np.concatenate([s.index for s in sets]),
                     {v: ({m: np.concatenate([s.views[v][0][m] for s in sets])
                           for m in first.views[v][0]},
                          {m: np.concatenate([s.views[v][1][m] for s in sets])
                           for m in first.views[v][1]})
                      for v in first.views if all(v in s.views for s in sets)})


def default_paths(folder: str | os.PathLike[str]) -> list[Path]:
    """The ``.mcap`` recordings in ``folder``, sorted."""
    return sorted(Path(folder).glob("*.mcap"))


@dataclass
class LabelledStreams:
    """A recording in memory, as :func:`recording_windows` reads one: packets by stream, each
    stream's device metadata (``rate_hz``; the ``labels`` stream's class lists)."""

    source: str
    streams: dict[str, Packet]
    devices: dict[str, dict[str, Any]]


def accel_csv_recording(path: str | os.PathLike[str], labels: Mapping[str, str]
                        ) -> LabelledStreams:
    """A phone accelerometer CSV (``t_ns, ax, ay, az, ...`` in m/s^2, gravity included: the
    Oxford step-counter recordings of the corpus) as an ``accel`` stream, labelled over its
    whole length with ``labels`` (task -> class, such as ``{"transport": "walking"}``).
    Leading rows of zeros (the sensor not yet running) are dropped."""
    raw = np.loadtxt(path, delimiter=",", usecols=(0, 1, 2, 3), dtype=np.float64, ndmin=2)
    moving = np.flatnonzero(np.abs(raw[:, 1:4]).sum(1) > 0)
    if len(moving) < 2:
        raise ConfigError(f"{path}: fewer than two accelerometer rows")
    raw = raw[moving[0]:]
    t = raw[:, 0].astype(np.int64)
    accel = Packet("accel", t, {"accel_mps2": raw[:, 1:4].astype(np.float32)}, "imu")
    grid = np.arange(int(t[0]), int(t[-1]) + 1, 100_000_000, dtype=np.int64)
    tasks = [get(name) for name in labels]
    fields = {task.label: np.full(len(grid), task.classes.index(labels[task.name]), np.int32)
              for task in tasks}
    devices: dict[str, dict[str, Any]] = {
        "accel": {"rate_hz": 1e9 / float(np.median(np.diff(t)))},
        LABELS: {"kind": "labels", "rate_hz": 10.0,
                 **{task.label: list(task.classes) for task in tasks}}}
    return LabelledStreams(str(path), {"accel": accel, LABELS: Packet(LABELS, grid, fields)},
                           devices)


def accel_csv_windows(path: str | os.PathLike[str], mods: Mapping[str, ModalityInput], *,
                      activity: str = "walking", window_s: float = 2.0, rate_hz: float = 100.0,
                      group: int = 0, tasks: Sequence[str | Task] | None = None) -> WindowSet:
    """Windows of a phone accelerometer CSV (``t_ns, ax, ay, az, ...`` in m/s^2), one activity.

    This is the layout of the Oxford step-counter recordings in the corpus. Leading rows of
    zeros (the sensor not yet running) are dropped; the samples arrive as an ``imu`` stream's
    ``accel_mps2``, so only the modalities read from that are present.
    """
    from ..align import StreamSpec, align

    raw = np.loadtxt(path, delimiter=",", usecols=(0, 1, 2, 3), dtype=np.float64)
    raw = raw[np.flatnonzero(np.abs(raw[:, 1:4]).sum(1) > 0)[0]:]
    packet = Packet("imu", raw[:, 0].astype(np.int64),
                    {"accel_mps2": raw[:, 1:4].astype(np.float32)}, "imu")
    windows = align({"imu": packet}, {"imu": StreamSpec(rate_hz)}, window_s,
                    origin_ns=int(packet.t_ns[0]))
    rows: dict[str, list[Any]] = {m: [] for m in mods}
    present: dict[str, list[bool]] = {m: [] for m in mods}
    for win in windows:
        feats = window_inputs(win, mods)
        if feats:
            _add(feats, mods, rows, present)
    chosen = _tasks(tasks)
    label = labels_of({get("activity").label: activity}, chosen, str(path))
    n = len(next(iter(present.values()), []))
    return _assemble(mods, rows, present, {t: [v] * n for t, v in label.items()}, chosen,
                     group, str(path))


def recording_fingerprint(path: str | os.PathLike[str] | Any) -> str:
    """What identifies a recording's content: the simulator's scenario parameters when it was
    simulated (``scenario_seed=3,scenario_duration_s=180.0``), else the file's SHA-256 (of a
    recording in memory: of its streams' times and values)."""
    import hashlib

    from ..log.reader import open as open_log

    if not isinstance(path, (str, os.PathLike)):
        h = hashlib.sha256()
        for name in sorted(path.streams):
            packet = path.streams[name]
            h.update(name.encode())
            h.update(np.ascontiguousarray(packet.t_ns).tobytes())
            for f in sorted(packet.fields):
                h.update(np.ascontiguousarray(packet.fields[f]).tobytes())
        return "sha256=" + h.hexdigest()

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
