"""Cheap informativeness scores: how much a window of each sensor is worth looking at.

Each scorer reads one stream of an aligner :class:`~sensekit.align.Window` (masked slots only)
and returns a number in [0, 1], computed in numpy in microseconds to a millisecond, so that a
policy can decide which sensors run, which windows reach the network and which encoders run,
for a small fraction of the network's cost.

- IMU motion energy: the spread of the accelerometer magnitude (gravity cancels), with a
  change-point term comparing the two halves of the window (a transition is informative even
  when both halves are calm).
- Audio activity: the frame-level sound score of
  :class:`sensekit.features.audio.ActivityScore`.
- Light change: the change of log illuminance across the window (a door, a tunnel).
- GPS: speed and fix quality (a fix that came or went, a moving receiver).
- Camera: mean absolute difference between consecutive frames.

Thresholds are stated as constants with the physical reasoning next to them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..align import Window

__all__ = ["SCORERS", "audio_activity", "camera_change", "gps_info", "imu_motion",
           "light_change", "score_window"]

Array = npt.NDArray[Any]

#: Accelerometer magnitude spread (m/s^2) that scores 0.5. A phone at rest shows about
#: 0.01-0.05 m/s^2 of sensor noise; slow walking about 1-2 m/s^2 (gait peaks of 0.2-0.5 g).
IMU_HALF_MPS2 = 0.4
#: Change of log10(lux) that scores 0.5: half a decade, e.g. 300 lx indoors to 1,000 lx.
LIGHT_HALF_DECADES = 0.5
#: Speed (m/s) that scores 0.5: a brisk walk.
GPS_HALF_MPS = 1.5
#: Mean absolute pixel difference (0-255) between consecutive frames that scores 0.5.
CAMERA_HALF_LEVELS = 8.0


def _squash(x: float, half: float) -> float:
    """Map x >= 0 to [0, 1) with x = half giving 0.5."""
    return float(x / (x + half)) if x > 0 else 0.0


def _valid(window: Window, stream: str, field: str) -> Array | None:
    fields = window.data.get(stream, {})
    if field not in fields:
        return None
    values = np.asarray(fields[field])[window.mask[stream]]
    return values if len(values) else None


def imu_motion(window: Window, stream: str = "imu") -> float | None:
    """Motion energy plus change point of the accelerometer, in [0, 1]; None if no samples."""
    accel = _valid(window, stream, "accel_mps2")
    if accel is None or len(accel) < 4:
        return None
    mag = np.linalg.norm(accel.astype(np.float64), axis=1)
    spread = float(mag.std())
    half = len(mag) // 2
    shift = abs(float(mag[:half].mean() - mag[half:].mean()))
    return _squash(spread + shift, IMU_HALF_MPS2)


def audio_activity(window: Window, stream: str = "audio", rate_hz: float = 16000.0
                   ) -> float | None:
    """Share of 40 ms frames with sound activity, in [0, 1]; None if no samples."""
    pcm = _valid(window, stream, "pcm")
    if pcm is None or len(pcm) < int(0.08 * rate_hz):
        return None
    from ..features.audio import ActivityScore

    return float(np.mean(ActivityScore(rate_hz=rate_hz).sound(pcm)))


def light_change(window: Window, stream: str = "light") -> float | None:
    """Change of log illuminance across the window, in [0, 1]; None if no samples."""
    lux = _valid(window, stream, "lux")
    if lux is None:
        return None
    logs = np.log10(np.maximum(lux.astype(np.float64), 0.0) + 1.0)
    return _squash(float(logs.max() - logs.min()), LIGHT_HALF_DECADES)


def gps_info(window: Window, stream: str = "gps") -> float | None:
    """Speed and fix changes, in [0, 1]; None if no fixes were delivered."""
    speed = _valid(window, stream, "speed_mps")
    mode = _valid(window, stream, "mode")
    if speed is None or mode is None:
        return None
    moving = _squash(float(np.nanmax(np.nan_to_num(speed, nan=0.0))), GPS_HALF_MPS)
    fix_changed = 1.0 if len(np.unique(mode >= 2)) > 1 else 0.0
    return max(moving, fix_changed)


def camera_change(window: Window, stream: str = "camera") -> float | None:
    """Mean absolute difference of consecutive frames (grey, 4x subsampled), in [0, 1]."""
    frames = _valid(window, stream, "image")
    if frames is None or len(frames) < 2:
        return None
    grey = frames[:, ::4, ::4].astype(np.float32).mean(axis=3)
    diff = float(np.abs(np.diff(grey, axis=0)).mean())
    return _squash(diff, CAMERA_HALF_LEVELS)


#: Stream name -> scorer, for windows whose streams are named by modality.
SCORERS: Mapping[str, Callable[[Window], float | None]] = {
    "imu": imu_motion,
    "audio": audio_activity,
    "light": light_change,
    "gps": gps_info,
    "camera": camera_change,
}


def score_window(window: Window, scorers: Mapping[str, Callable[[Window], float | None]]
                 = SCORERS) -> dict[str, float]:
    """Scores of every stream of ``window`` that has a scorer and delivered samples."""
    out = {}
    for stream, scorer in scorers.items():
        if stream in window.mask:
            value = scorer(window)
            if value is not None:
                out[stream] = value
    return out
