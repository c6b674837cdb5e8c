"""Windows as arrays: the container training and evaluation use, and loaders for real data.

A :class:`WindowSet` holds N windows: per modality an array at its native rate (N, C, T) or
(N, 3, H, W), a per-window presence flag, and integer labels per task (-1 where unknown). It
carries a ``group`` per window (the recording it came from) so splits never put windows of one
recording on both sides. No torch here.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError, LogFormatError
from .inputs import ModalityInput

__all__ = ["WindowSet", "load_ts", "uea_dataset", "uea_path"]

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


#: One view of the windows: the inputs and presence of the modalities it changes.
View = tuple[dict[str, F32], dict[str, npt.NDArray[np.bool_]]]


@dataclass
class WindowSet:
    """N labelled windows, each modality at its native resolution.

    Attributes:
        modalities, inputs, present, labels, classes: The windows.
        groups: Group id per window (the recording it came from).
        index: Window number on its recording's grid (consecutive windows differ by one), for
            networks that read several consecutive windows (:mod:`sensekit.fusion.context`).
        views: The same windows as the sensors would have delivered them otherwise (a slower
            rate by point sampling or by the part's low-pass and decimation): view name ->
            inputs and presence of the modalities the view changes (rate augmentation).
    """

    modalities: dict[str, ModalityInput]
    inputs: dict[str, F32]
    present: dict[str, npt.NDArray[np.bool_]]
    labels: dict[str, I64]
    classes: dict[str, list[str]]
    groups: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    index: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    views: dict[str, View] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self)
        if self.groups.size == 0:
            self.groups = np.zeros(n, np.int64)
        if self.index.size == 0:
            self.index = np.arange(n, dtype=np.int64)
        arrays = [*self.inputs.items(), *self.present.items(), *self.labels.items(),
                  ("groups", self.groups), ("index", self.index)]
        for view, (inputs, present) in self.views.items():
            arrays += [(f"{view}/{k}", v) for k, v in [*inputs.items(), *present.items()]]
        for name, arr in arrays:
            if len(arr) != n:
                raise ConfigError(f"window set: {name!r} has {len(arr)} rows, expected {n}")
        for m in self.modalities:
            self.present.setdefault(m, np.ones(n, bool))

    def __len__(self) -> int:
        return len(next(iter(self.labels.values())))

    def subset(self, index: npt.NDArray[Any] | Sequence[int]) -> WindowSet:
        """Rows ``index`` (integer or boolean array)."""
        idx = np.asarray(index)
        return WindowSet(self.modalities, {k: v[idx] for k, v in self.inputs.items()},
                         {k: v[idx] for k, v in self.present.items()},
                         {k: v[idx] for k, v in self.labels.items()}, self.classes,
                         self.groups[idx], self.index[idx],
                         {name: ({k: v[idx] for k, v in x.items()},
                                 {k: v[idx] for k, v in p.items()})
                          for name, (x, p) in self.views.items()})

    def labelled_tasks(self) -> list[str]:
        """Tasks with at least one labelled window."""
        return [t for t, y in self.labels.items() if (y >= 0).any()]

    def only_tasks(self, tasks: Sequence[str]) -> WindowSet:
        """The windows labelled for at least one of ``tasks``, with only those tasks."""
        labels = {t: self.labels[t] for t in tasks}
        keep = np.logical_or.reduce([y >= 0 for y in labels.values()]) if labels else \
            np.zeros(len(self), bool)
        out = self.subset(keep)
        out.labels = {t: self.labels[t][keep] for t in tasks}
        out.classes = {t: self.classes[t] for t in tasks}
        return out

    def data_hash(self) -> str:
        """SHA-256 of the arrays and labels (recorded in weights metadata)."""
        h = hashlib.sha256()
        for d in (self.inputs, self.present, self.labels):
            for k in sorted(d):
                h.update(k.encode())
                h.update(np.ascontiguousarray(d[k]).tobytes())
        return h.hexdigest()

    def stats(self) -> dict[str, tuple[F32, F32]]:
        """Per-channel mean and std of each modality over windows where it is present."""
        out = {}
        for m, x in self.inputs.items():
            rows = x[self.present[m]] if self.present[m].any() else x
            axes = tuple(i for i in range(rows.ndim) if i != 1)
            mean = rows.mean(axis=axes).astype(np.float32)
            std = np.maximum(rows.std(axis=axes), 1e-3).astype(np.float32)
            out[m] = (mean, std)
        return out


def uea_path(problem: str, split: str) -> Path:
    """Path of a UEA/UCR ``.ts`` file shipped inside the ``aeon`` (or ``sktime``) package.

    The package is located without importing it (its import pulls in heavy dependencies).

    Raises:
        ConfigError: neither package is installed, or it does not ship ``problem``.
    """
    for pkg in ("aeon", "sktime"):
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            continue
        path = (Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
                / problem / f"{problem}_{split.upper()}.ts")
        if path.is_file():
            return path
    raise ConfigError(f"UEA problem {problem!r} ({split}) not found in aeon or sktime. "
                      f"Hint: pip install --no-deps aeon (its wheel ships BasicMotions and "
                      f"PickupGestureWiimoteZ)")


def load_ts(path: Path) -> tuple[list[F32], list[str], list[str]]:
    """Parse a ``.ts`` file: per case a (dims, length) array, the labels, and the class names.

    Raises:
        LogFormatError: a malformed line (file and line number in the message).
    """
    series: list[F32] = []
    labels: list[str] = []
    classes: list[str] = []
    in_data = False
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        low = line.lower()
        if low.startswith("@classlabel"):
            classes = line.split()[2:]
        elif low.startswith("@data"):
            in_data = True
        elif in_data:
            *dims, label = line.split(":")
            try:
                rows = [np.array([float(v) for v in d.split(",")], np.float32) for d in dims]
            except ValueError as exc:
                raise LogFormatError(f"{path}:{lineno}: bad value ({exc})") from exc
            length = max(len(r) for r in rows)
            series.append(np.stack([np.pad(r, (0, length - len(r)), mode="edge")
                                    for r in rows]))
            labels.append(label.strip())
    if not series:
        raise LogFormatError(f"{path}: no @data cases found")
    return series, labels, classes


def uea_dataset(problem: str, split: str, groups: Mapping[str, Sequence[int]],
                rate_hz: float, *, length: int | None = None) -> WindowSet:
    """A UEA problem as a :class:`WindowSet`, its dimensions split into named modalities.

    Args:
        problem: e.g. ``"BasicMotions"``.
        split: ``"train"`` or ``"test"``.
        groups: Modality name -> dimension indices (``{"accel": [0, 1, 2], "gyro": [3, 4, 5]}``);
            a group named for a declared x/y/z modality (:mod:`sensekit.modalities`) is x/y/z.
        rate_hz: Sampling rate of the series (BasicMotions: 10 Hz).
        length: Resample every case to this length (unequal-length problems).
    """
    series, labels, classes = load_ts(uea_path(problem, split))
    n_steps = length or max(s.shape[1] for s in series)
    grid = np.linspace(0.0, 1.0, n_steps)

    def fit(s: F32) -> F32:
        if s.shape[1] == n_steps:
            return s
        src = np.linspace(0.0, 1.0, s.shape[1])
        return np.stack([np.interp(grid, src, row) for row in s]).astype(np.float32)

    data = np.stack([fit(s) for s in series])
    window_s = n_steps / rate_hz
    from ..modalities import declarations

    xyz = {m for m, d in declarations(groups).items() if d.input.xyz}
    mods = {name: ModalityInput("series", len(dims), (rate_hz,), window_s,
                                xyz=name in xyz and len(dims) % 3 == 0)
            for name, dims in groups.items()}
    inputs = {name: np.ascontiguousarray(data[:, list(dims)]) for name, dims in groups.items()}
    y = np.array([classes.index(lbl) for lbl in labels], np.int64)
    return WindowSet(mods, inputs, {}, {"class": y}, {"class": list(classes)},
                     np.arange(len(y), dtype=np.int64))
