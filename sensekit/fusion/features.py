"""From an aligned window to the network's inputs, in numpy (shared by training and inference).

:func:`window_inputs` takes one :class:`~sensekit.align.Window` and returns, for each modality
the network has and the window holds, the array its encoder takes (without the batch axis):

- ``accel``, ``gyro``: (3, slots) in m/s^2 and rad/s at the rate the IMU ran at.
- ``audio``: (mels, frames) log-mel in dB (20 ms hop), from the PCM at whatever rate it ran.
- ``camera``: (3, S, S) in [0, 1], the newest frame of the window resized to the DNN size S.
- ``gps``: (4, slots) speed (m/s, 0 without a fix), HDOP (50 without a fix), satellites used,
  fix mode.
- ``light``: (1, slots) log10(1 + lux).

A modality counts as present when its stream filled at least ``min_coverage`` of its slots (one
sample is enough for the camera, GPS and light). Feature extraction (log-mel, the image resize)
is part of the measured latency from window to prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from .inputs import ModalityInput

__all__ = ["STREAMS", "logmel", "resize_image", "resize_series", "window_inputs"]

F32 = npt.NDArray[np.float32]

#: Modality -> (stream in the recording, field).
STREAMS: dict[str, tuple[str, str]] = {
    "accel": ("imu", "accel_mps2"), "gyro": ("imu", "gyro_rads"), "audio": ("audio", "pcm"),
    "camera": ("camera", "image"), "gps": ("gps", "speed_mps"), "light": ("light", "lux"),
}
#: Below this share of filled slots a high-rate modality counts as absent.
MIN_COVERAGE = 0.5
AUDIO_FMAX_HZ = 4000.0  # the same mel bands at 8 and 16 kHz


def resize_series(x: F32, steps: int) -> F32:
    """(C, T) -> (C, steps) by linear interpolation (rate changes of a stored window)."""
    if x.shape[-1] == steps:
        return x
    src = np.linspace(0.0, 1.0, x.shape[-1])
    dst = np.linspace(0.0, 1.0, steps)
    return np.stack([np.interp(dst, src, row) for row in x]).astype(np.float32)


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


_LOGMEL: dict[tuple[float, int], Any] = {}


def logmel(pcm: npt.NDArray[Any], rate_hz: float, n_mels: int, frames: int) -> F32:
    """(n_mels, frames) log-mel in dB with a 20 ms hop; short tails are padded with the floor."""
    from ..features.audio import LogMel

    key = (rate_hz, n_mels)
    if key not in _LOGMEL:
        _LOGMEL[key] = LogMel(rate_hz=rate_hz, n_mels=n_mels, win_s=0.032, hop_s=0.020,
                              fmax_hz=min(AUDIO_FMAX_HZ, rate_hz / 2), floor_db=-100.0)
    mel = _LOGMEL[key](pcm).T
    if mel.shape[1] < frames:
        mel = np.pad(mel, ((0, 0), (0, frames - mel.shape[1])), constant_values=-100.0)
    return np.ascontiguousarray(mel[:, :frames], np.float32)


def _series(win: Any, stream: str, field: str, spec: ModalityInput) -> F32 | None:
    mask = win.mask[stream]
    if win.coverage.get(stream, 0.0) < MIN_COVERAGE or field not in win.data[stream]:
        return None
    x = np.asarray(win.data[stream][field], np.float32).reshape(len(mask), -1).T
    if not mask.all():  # hold the last real sample over an empty slot, not a zero
        idx = np.maximum.accumulate(np.where(mask, np.arange(len(mask)), 0))
        x = x[:, idx]
    return np.ascontiguousarray(x)


def _audio(win: Any, spec: ModalityInput) -> F32 | None:
    if win.coverage.get("audio", 0.0) < MIN_COVERAGE or "pcm" not in win.data["audio"]:
        return None
    pcm = np.asarray(win.data["audio"]["pcm"])
    rate = len(pcm) / spec.window_s
    return logmel(pcm, rate, spec.channels, spec.steps())


def _camera(win: Any, spec: ModalityInput, size: float) -> F32 | None:
    mask = win.mask.get("camera")
    if mask is None or not mask.any():
        return None
    newest = int(np.flatnonzero(mask)[-1])
    return resize_image(np.asarray(win.data["camera"]["image"][newest]), int(size))


def _lowrate(win: Any, stream: str, build: Callable[[Mapping[str, Any]], F32]) -> F32 | None:
    mask = win.mask.get(stream)
    if mask is None or not mask.any():
        return None
    rows = build(win.data[stream])
    return np.ascontiguousarray(rows[:, np.flatnonzero(mask)], np.float32)


def _gps_rows(d: Mapping[str, Any]) -> F32:
    speed = np.nan_to_num(np.asarray(d["speed_mps"], np.float32), nan=0.0)
    hdop = np.nan_to_num(np.asarray(d["hdop"], np.float32), nan=50.0)
    return np.stack([speed, np.minimum(hdop, 50.0), np.asarray(d["sats_used"], np.float32),
                     np.asarray(d["mode"], np.float32)])


def _light_rows(d: Mapping[str, Any]) -> F32:
    return np.log10(1.0 + np.maximum(np.asarray(d["lux"], np.float32), 0.0))[None]


def window_inputs(win: Any, mods: Mapping[str, ModalityInput],
                  camera_size: float | None = None) -> dict[str, F32]:
    """The network inputs of one aligned window (modalities absent from it are left out).

    Args:
        win: A :class:`~sensekit.align.Window` (anything with ``data``, ``mask``, ``coverage``).
        mods: The network's modalities.
        camera_size: DNN resolution to resize the frame to (default: the native one).
    """
    out: dict[str, F32 | None] = {}
    for name, spec in mods.items():
        stream, field = STREAMS.get(name, (name, spec.fields[0] if spec.fields else ""))
        if stream not in win.mask:
            continue
        if name == "audio":
            out[name] = _audio(win, spec)
        elif spec.kind == "image":
            out[name] = _camera(win, spec, camera_size or spec.native)
        elif name == "gps":
            out[name] = _lowrate(win, stream, _gps_rows)
        elif name == "light":
            out[name] = _lowrate(win, stream, _light_rows)
        else:
            out[name] = _series(win, stream, field, spec)
    return {k: v for k, v in out.items() if v is not None}
