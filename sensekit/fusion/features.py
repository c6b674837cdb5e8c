"""From an aligned window to the network's inputs, in numpy (shared by training and inference).

:func:`window_inputs` takes one :class:`~sensekit.align.Window` and returns, for each modality
the network has and the window holds, the array its encoder takes (without the batch axis).
Each modality names its :class:`~sensekit.fusion.inputs.Source` streams and a feature
extractor registered by name here (lazily, plus the ``sensekit.features`` entry-point group):

- ``series``: the fields' slots as (channels, slots) at whatever rate the stream ran at; an
  empty slot holds the last real sample, not a zero. Present when at least ``min_coverage``
  (default :data:`MIN_COVERAGE`) of the slots are filled.
- ``logmel``: (mels, frames) log-mel in dB (20 ms hop, bands up to 4 kHz) from PCM at
  whatever rate it ran.
- ``frame``: (3, S, S) in [0, 1], the newest frame of the window resized to the DNN size S.
- ``samples``: (channels, samples) of the slots that hold a value (real or held), one row
  per field, each transformed as its options say: ``nan`` (value for NaN), ``min``/``max``
  (clip), ``log10_1p`` (log10(1 + x)), ``centre`` (minus the window's mean).
- ``pcm_level``: (1, frames) the level of PCM in dBFS, one value per ``hop_s`` (0.1 s).
- ``accel_stats``, ``gyro_stats``, ``mag_stats``, ``level_stats``, ``speed_stats``,
  ``light_stats``: (features, 1) window statistics that do not depend on the sampling rate or
  the phone's orientation (:mod:`sensekit.fusion.window_stats`).

Feature extraction (log-mel, the image resize) is part of the measured latency from window to
prediction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from .._registry import names as registry_names
from .._registry import resolve
from .inputs import ModalityInput, Source

__all__ = ["FEATURES", "Feature", "feature", "feature_names", "fit_rate", "logmel",
           "register_feature", "resize_image", "resize_series", "window_inputs"]

F32 = npt.NDArray[np.float32]

#: Below this share of filled slots a ``series`` modality counts as absent.
MIN_COVERAGE = 0.5
AUDIO_FMAX_HZ = 4000.0  # the same mel bands at 8 and 16 kHz
ENTRY_POINTS = "sensekit.features"


class Feature(ABC):
    """Turns one source stream of a window into a modality's network input.

    Subclasses are registered by name (:data:`FEATURES` or the ``sensekit.features`` entry
    points) and made once; they keep no per-window state.
    """

    @abstractmethod
    def __call__(self, win: Any, source: Source, spec: ModalityInput,
                 rate: float) -> F32 | None:
        """The input array, or None when the window holds too little of the stream.

        Args:
            win: A :class:`~sensekit.align.Window` (``data``, ``mask``, ``coverage``...).
            source: Which stream and fields, and the extractor's options.
            spec: The modality as the network takes it.
            rate: The rate (or image size) the controller runs the modality at.
        """


def resize_series(x: F32, steps: int) -> F32:
    """(C, T) -> (C, steps) by linear interpolation (rate changes of a stored window)."""
    if x.shape[-1] == steps:
        return x
    src = np.linspace(0.0, 1.0, x.shape[-1])
    dst = np.linspace(0.0, 1.0, steps)
    return np.stack([np.interp(dst, src, row) for row in x]).astype(np.float32)


def fit_rate(x: F32, spec: ModalityInput, rate: float | None = None) -> F32:
    """A ``series`` input at the steps of ``rate`` (default: native), whatever rate the
    stream ran at (a phone's accelerometer at 2-20 Hz): linear interpolation, as training
    stores windows. Other layouts are returned as they are."""
    if spec.kind != "series" or x.shape[-1] == spec.steps(rate):
        return x
    return resize_series(x, spec.steps(rate))


def resize_image(img: npt.NDArray[np.uint8], size: int) -> F32:
    """(H, W, 3) uint8 -> (3, size, size) float in [0, 1], box-averaged (area resize)."""
    h, w = img.shape[:2]
    ys = np.linspace(0, h, size + 1).astype(int)
    xs = np.linspace(0, w, size + 1).astype(int)
    # Integral image: the mean over each target cell in O(H W) whatever the scale.
    s = np.pad(img.astype(np.float32).cumsum(0).cumsum(1), ((1, 0), (1, 0), (0, 0)))
    y0, y1 = ys[:-1, None], np.maximum(ys[1:], ys[:-1] + 1)[:, None]
    x0, x1 = xs[None, :-1], np.maximum(xs[1:], xs[:-1] + 1)[None, :]
    total = s[y1, x1] - s[y0, x1] - s[y1, x0] + s[y0, x0]
    area = ((y1 - y0) * (x1 - x0))[..., None]
    return np.ascontiguousarray((total / area / 255.0).transpose(2, 0, 1), np.float32)


@cache
def _logmel_of(rate_hz: float, n_mels: int) -> Any:
    from ..features.audio import LogMel

    return LogMel(rate_hz=rate_hz, n_mels=n_mels, win_s=0.032, hop_s=0.020,
                  fmax_hz=min(AUDIO_FMAX_HZ, rate_hz / 2), floor_db=-100.0)


def logmel(pcm: npt.NDArray[Any], rate_hz: float, n_mels: int, frames: int) -> F32:
    """(n_mels, frames) log-mel in dB with a 20 ms hop; short tails are padded with the floor."""
    mel = _logmel_of(rate_hz, n_mels)(pcm).T
    if mel.shape[1] < frames:
        mel = np.pad(mel, ((0, 0), (0, frames - mel.shape[1])), constant_values=-100.0)
    return np.ascontiguousarray(mel[:, :frames], np.float32)


def _has(win: Any, source: Source) -> bool:
    data = win.data.get(source.stream, {})
    return all(f in data for f in source.fields)


class Series(Feature):
    """The fields' slots, (channels, slots); empty slots hold the last real sample."""

    def __call__(self, win: Any, source: Source, spec: ModalityInput,
                 rate: float) -> F32 | None:
        mask = win.mask[source.stream]
        cover = float(source.options.get("min_coverage", MIN_COVERAGE))
        if win.coverage.get(source.stream, 0.0) < cover or not _has(win, source):
            return None
        data = win.data[source.stream]
        x = np.concatenate([np.asarray(data[f], np.float32).reshape(len(mask), -1).T
                            for f in source.fields])
        if not mask.all():  # hold the last real sample over an empty slot, not a zero
            idx = np.maximum.accumulate(np.where(mask, np.arange(len(mask)), 0))
            x = x[:, idx]
        return np.ascontiguousarray(x)


class LogMelFrames(Feature):
    """(mels, frames) log-mel of the window's PCM, at whatever rate the microphone ran."""

    def __call__(self, win: Any, source: Source, spec: ModalityInput,
                 rate: float) -> F32 | None:
        if win.coverage.get(source.stream, 0.0) < MIN_COVERAGE or not _has(win, source):
            return None
        pcm = np.asarray(win.data[source.stream][source.fields[0]])
        return logmel(pcm, len(pcm) / spec.window_s, spec.channels, spec.steps())


class NewestFrame(Feature):
    """(3, S, S): the newest frame of the window at the DNN size S (the rate)."""

    def __call__(self, win: Any, source: Source, spec: ModalityInput,
                 rate: float) -> F32 | None:
        mask = win.mask.get(source.stream)
        if mask is None or not mask.any() or not _has(win, source):
            return None
        newest = int(np.flatnonzero(mask)[-1])
        return resize_image(np.asarray(win.data[source.stream][source.fields[0]][newest]),
                            int(rate))


def _transform(x: F32, how: Mapping[str, Any]) -> F32:
    if "nan" in how:
        x = np.nan_to_num(x, nan=float(how["nan"]))
    if "min" in how:
        x = np.maximum(x, float(how["min"]))
    if "max" in how:
        x = np.minimum(x, float(how["max"]))
    if how.get("log10_1p"):
        x = np.log10(1.0 + x)
    if how.get("centre") and len(x):
        x = x - np.nanmean(x)
    return np.asarray(x, np.float32)


class Samples(Feature):
    """(fields, samples): the slots that hold a value, real or held, each field transformed."""

    def __call__(self, win: Any, source: Source, spec: ModalityInput,
                 rate: float) -> F32 | None:
        if source.stream not in win.mask or not _has(win, source):
            return None
        keep = np.flatnonzero(win.valid(source.stream))
        if not len(keep):
            return None
        data = win.data[source.stream]
        rows = [_transform(np.asarray(data[f], np.float32)[keep], source.options.get(f, {}))
                for f in source.fields]
        return np.ascontiguousarray(np.stack(rows), np.float32)


class PcmLevel(Feature):
    """(1, frames): PCM level in dBFS every ``hop_s`` (0.1 s), a microphone's cheap output."""

    def __call__(self, win: Any, source: Source, spec: ModalityInput,
                 rate: float) -> F32 | None:
        from ..features.audio import ActivityScore

        if win.coverage.get(source.stream, 0.0) < MIN_COVERAGE or not _has(win, source):
            return None
        pcm = np.asarray(win.data[source.stream][source.fields[0]])
        hop = float(source.options.get("hop_s", 0.1))
        score = ActivityScore(rate_hz=len(pcm) / spec.window_s, win_s=hop, hop_s=hop)
        level = score.level_dbfs(pcm)
        return np.ascontiguousarray(level[None], np.float32) if len(level) else None


#: Built-in feature extractors: name -> (module, class).
FEATURES: dict[str, tuple[str, str]] = {
    "series": (__name__, "Series"),
    "logmel": (__name__, "LogMelFrames"),
    "frame": (__name__, "NewestFrame"),
    "samples": (__name__, "Samples"),
    "pcm_level": (__name__, "PcmLevel"),
    # rate-free window statistics (the real-recordings network's inputs)
    "accel_stats": ("sensekit.fusion.window_stats", "AccelStats"),
    "gyro_stats": ("sensekit.fusion.window_stats", "GyroStats"),
    "mag_stats": ("sensekit.fusion.window_stats", "MagStats"),
    "level_stats": ("sensekit.fusion.window_stats", "LevelStats"),
    "speed_stats": ("sensekit.fusion.window_stats", "SpeedStats"),
    "light_stats": ("sensekit.fusion.window_stats", "LightStats"),
}


def register_feature(name: str) -> Callable[[type[Feature]], type[Feature]]:
    """Register a feature extractor class under ``name`` (a class decorator)."""
    def add(cls: type[Feature]) -> type[Feature]:
        FEATURES[name] = (cls.__module__, cls.__qualname__)
        feature.cache_clear()
        return cls
    return add


@cache
def feature(name: str) -> Feature:
    """The registered feature extractor ``name`` (made once)."""
    cls: type[Feature] = resolve("feature extractor", name, FEATURES, ENTRY_POINTS, Feature)
    return cls()


def feature_names() -> list[str]:
    """Every registered feature extractor."""
    return registry_names(FEATURES, ENTRY_POINTS)


def _input(win: Any, spec: ModalityInput, rate: float) -> F32 | None:
    for source in spec.sources:
        if source.stream in win.mask:
            x = feature(source.features)(win, source, spec, rate)
            if x is not None:
                return x
    return None


def window_inputs(win: Any, mods: Mapping[str, ModalityInput],
                  rates: Mapping[str, float] | None = None) -> dict[str, F32]:
    """The network inputs of one aligned window (modalities absent from it are left out).

    Args:
        win: A :class:`~sensekit.align.Window` (anything with ``data``, ``mask``, ``coverage``).
        mods: The network's modalities.
        rates: The rate (image size) each modality runs at (default: its native one); an
            image input is resized to it.
    """
    out = {}
    for name, spec in mods.items():
        x = _input(win, spec, (rates or {}).get(name, spec.native))
        if x is not None:
            out[name] = x
    return out

