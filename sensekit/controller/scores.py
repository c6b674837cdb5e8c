"""Cheap informativeness scores: how much a window of each modality is worth looking at.

Each declared modality names its scorer and settings (:class:`~sensekit.modalities.Score`).
A scorer reads the modality's fields in an aligner :class:`~sensekit.align.Window` (only the
slots that hold a value) and returns a number in [0, 1], computed in numpy in microseconds to
a millisecond, so that a policy can decide which sensors run, which windows reach the network
and which encoders run, for a small fraction of the network's cost. Scorers are registered by
name (:func:`register_scorer`):

- ``norm_spread``: the spread of an x/y/z vector's norm plus a change-point term comparing the
  two halves of the window (a transition is informative even when both halves are calm);
  gravity (or the earth's field) cancels. The accelerometer's motion score.
- ``sound_activity``: the share of 40 ms frames louder than a threshold
  (:class:`sensekit.features.audio.ActivityScore`).
- ``log_range``: the change of log10(1 + x) across the window (light: a door, a tunnel).
- ``range``: the change of a value across the window (a sound level, pressure).
- ``speed_fix``: speed, and a fix that came or went (GPS).
- ``peak``: the highest value (a speed without a fix).
- ``frame_difference``: mean absolute difference between consecutive frames (camera).

Each score is ``x / (x + half)``: the declared ``half`` is the value that scores 0.5, stated in
the declaration with its physical reasoning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..align import Window
from ..errors import ConfigError
from ..modalities import Modality, registered

__all__ = ["SCORERS", "ScoreTimer", "Scorer", "register_scorer", "score", "score_modality",
           "score_window"]

Array = npt.NDArray[Any]
#: ``scorer(fields, rate_hz, options)``: the modality's fields (slots with a value only), the
#: stream's slot rate, and the declared settings.
Scorer = Callable[[Mapping[str, Array], float, Mapping[str, Any]], "float | None"]
SCORERS: dict[str, Scorer] = {}


def register_scorer(name: str) -> Callable[[Scorer], Scorer]:
    """Register a scorer under ``name`` (a decorator)."""
    def add(fn: Scorer) -> Scorer:
        SCORERS[name] = fn
        return fn
    return add


def _squash(x: float, half: float) -> float:
    """Map x >= 0 to [0, 1) with x = half giving 0.5."""
    return float(x / (x + half)) if x > 0 else 0.0


def _first(fields: Mapping[str, Array]) -> Array:
    return next(iter(fields.values()))


@register_scorer("norm_spread")
def norm_spread(fields: Mapping[str, Array], rate_hz: float, options: Mapping[str, Any]
                ) -> float | None:
    vec = _first(fields)
    if len(vec) < 4:
        return None
    mag = np.linalg.norm(vec.astype(np.float64), axis=1)
    half = len(mag) // 2
    shift = abs(float(mag[:half].mean() - mag[half:].mean()))
    return _squash(float(mag.std()) + shift, float(options["half"]))


@register_scorer("sound_activity")
def sound_activity(fields: Mapping[str, Array], rate_hz: float, options: Mapping[str, Any]
                   ) -> float | None:
    from ..features.audio import ActivityScore

    pcm = _first(fields)
    if len(pcm) < int(0.08 * rate_hz):
        return None
    threshold = float(options.get("threshold_dbfs", -50.0))
    return float(np.mean(ActivityScore(rate_hz=rate_hz, threshold_dbfs=threshold).sound(pcm)))


@register_scorer("log_range")
def log_range(fields: Mapping[str, Array], rate_hz: float, options: Mapping[str, Any]
              ) -> float | None:
    logs = np.log10(np.maximum(_first(fields).astype(np.float64), 0.0) + 1.0)
    return _squash(float(logs.max() - logs.min()), float(options["half"]))


@register_scorer("range")
def value_range(fields: Mapping[str, Array], rate_hz: float, options: Mapping[str, Any]
                ) -> float | None:
    x = _first(fields).astype(np.float64)
    x = x[np.isfinite(x)]
    return _squash(float(x.max() - x.min()), float(options["half"])) if len(x) else None


@register_scorer("speed_fix")
def speed_fix(fields: Mapping[str, Array], rate_hz: float, options: Mapping[str, Any]
              ) -> float | None:
    if "speed_mps" not in fields or "mode" not in fields:
        return None
    speed = np.nan_to_num(fields["speed_mps"].astype(np.float64), nan=0.0)
    moving = _squash(float(speed.max()), float(options["half"]))
    fix_changed = 1.0 if len(np.unique(fields["mode"] >= 2)) > 1 else 0.0
    return max(moving, fix_changed)


@register_scorer("peak")
def peak(fields: Mapping[str, Array], rate_hz: float, options: Mapping[str, Any]
         ) -> float | None:
    x = np.nan_to_num(_first(fields).astype(np.float64), nan=0.0)
    return _squash(float(x.max()), float(options["half"]))


@register_scorer("frame_difference")
def frame_difference(fields: Mapping[str, Array], rate_hz: float, options: Mapping[str, Any]
                     ) -> float | None:
    frames = _first(fields)
    if len(frames) < 2:
        return None
    grey = frames[:, ::4, ::4].astype(np.float32).mean(axis=3)
    diff = float(np.abs(np.diff(grey, axis=0)).mean())
    return _squash(diff, float(options["half"]))


def _fields(window: Window, decl: Modality) -> tuple[dict[str, Array], float] | None:
    """The declared fields of the first source the window holds (valid slots), and the rate."""
    assert decl.score is not None
    for src in decl.input.sources:
        if decl.score.streams and src.stream not in decl.score.streams:
            continue
        data = window.data.get(src.stream, {})
        if src.stream in window.mask and all(f in data for f in src.fields):
            valid = window.valid(src.stream)
            if not valid.any():
                return None
            rate = len(valid) * 1e9 / (window.t_end_ns - window.t_start_ns)
            return {f: np.asarray(data[f])[valid] for f in src.fields}, rate
    return None


def score_modality(window: Window, decl: Modality) -> float | None:
    """The declared score of ``decl`` for ``window``; None if it has no score or no samples.

    Raises:
        ConfigError: the declaration names a scorer nobody registered.
    """
    if decl.score is None:
        return None
    fn = SCORERS.get(decl.score.scorer)
    if fn is None:
        raise ConfigError(f"modality {decl.name!r}: unknown scorer {decl.score.scorer!r}; "
                          f"registered: {', '.join(sorted(SCORERS))}")
    got = _fields(window, decl)
    return None if got is None else fn(got[0], got[1], decl.score.options)


def score(window: Window, modality: str) -> float | None:
    """The score of the declared modality named ``modality``."""
    return score_modality(window, registered()[modality])


def score_window(window: Window, modalities: Mapping[str, Modality] | None = None
                 ) -> dict[str, float]:
    """Scores of every modality (default: every declared one) that has a score and whose
    stream delivered samples in ``window``, by modality name."""
    out = {}
    for name, decl in (registered() if modalities is None else modalities).items():
        value = score_modality(window, decl)
        if value is not None:
            out[name] = value
    return out


class ScoreTimer:
    """Scores windows and says how long the scorers took: their own compute, to be charged.

    Each modality's scorer is timed on its first ``warmup`` windows with samples; from then on
    the median of those stands for it, so the charge follows the work, not machine noise.
    """

    def __init__(self, modalities: Mapping[str, Modality], warmup: int = 5) -> None:
        self.modalities = dict(modalities)
        self.warmup = warmup
        self._times: dict[str, list[float]] = {}

    def seconds(self, modality: str) -> float | None:
        """The latency that stands for ``modality``'s scorer (None: not timed yet)."""
        times = self._times.get(modality)
        return float(np.median(times)) if times else None

    def score(self, window: Window, only: str | None = None) -> tuple[dict[str, float], float]:
        """Scores of ``window`` (every modality, or ``only`` one) and the seconds spent."""
        out: dict[str, float] = {}
        spent = 0.0
        for name, decl in self.modalities.items():
            if only is not None and name != only:
                continue
            start = time.perf_counter()
            value = score_modality(window, decl)
            took = time.perf_counter() - start
            if value is None:
                continue
            out[name] = value
            times = self._times.setdefault(name, [])
            if len(times) < self.warmup:
                times.append(took)
            spent += float(np.median(times))
        return out, spent
