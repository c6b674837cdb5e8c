"""What a part delivers at a lower rate than a stream was recorded at: the one decimation path.

Policy replays (:class:`~sensekit.controller.replay.RecordedDevice`) and the training of a
network that must serve reduced rates (rate augmentation) call the same functions here, so a
network learns the signal the controller will give it:

- a part that filters before it hands out fewer samples (an MPU-6050 in its normal modes:
  the DLPF bandwidth its driver picks for the rate, :meth:`~sensekit.modalities.TurnDown.
  cutoff_hz`) is low-pass filtered at that bandwidth, then sampled on the new rate's grid;
- a part whose every sample is one measurement (a duty-cycled accelerometer, a magnetometer,
  a light sensor; ``TurnDown.point_modes`` or no declared low-pass) is point sampled: the
  sample nearest each grid point, no filter;
- a step signal (a light sensor that reports on change, ``Source.hold_s``) is read on the
  grid: the value standing at each grid time, for as long as it holds;
- a stream recorded at or below the rate asked for is returned unchanged: never upsampled.

Timestamps stay those of the measurements kept (grid times for a step signal read on the grid).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from . import Modality

__all__ = ["decimate", "decimate_modality", "lowpass", "native_rate_hz"]

Array = npt.NDArray[Any]
#: A stream within this share of the rate asked for counts as already at it.
RATE_TOLERANCE = 0.05


def native_rate_hz(t_ns: npt.NDArray[np.int64]) -> float:
    """The recorded rate: one over the median interval between samples."""
    if len(t_ns) < 2:
        return 0.0
    return 1e9 / float(np.median(np.diff(np.asarray(t_ns, np.int64))))


def lowpass(values: Array, rate_hz: float, cutoff_hz: float) -> Array:
    """Windowed-sinc FIR low-pass along axis 0 (zero phase, edges reflected)."""
    if cutoff_hz >= rate_hz / 2 or len(values) < 4:
        return values
    taps = int(min(4 * rate_hz / cutoff_hz, len(values) // 2 * 2 - 1))
    taps = max(taps | 1, 3)
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff_hz / rate_hz * n) * np.hamming(taps)
    h /= h.sum()
    x = np.asarray(values, np.float64)
    pad = taps // 2
    flat = x.reshape(len(x), -1)
    padded = np.pad(flat, ((pad, pad), (0, 0)), mode="reflect")
    out = np.stack([np.convolve(padded[:, j], h, mode="valid") for j in range(flat.shape[1])],
                   axis=1)
    return out.reshape(x.shape).astype(values.dtype)


def _grid(t_ns: npt.NDArray[np.int64], rate_hz: float, origin_ns: int | None) -> Array:
    step = 1e9 / rate_hz
    start = int(t_ns[0]) if origin_ns is None else int(origin_ns)
    if start > t_ns[0]:  # a phase after the first sample: step back to cover the start
        start -= int(np.ceil((start - int(t_ns[0])) / step) * step)
    count = int((int(t_ns[-1]) - start) // step) + 1
    return start + np.round(np.arange(count) * step).astype(np.int64)


def _nearest(t_ns: npt.NDArray[np.int64], grid: Array, rate_hz: float) -> Array:
    """Index of the sample nearest each grid point, unique; a grid point a step or more from
    every sample is a gap (a slow phone's missing samples stay missing)."""
    right = np.clip(np.searchsorted(t_ns, grid), 1, len(t_ns) - 1)
    left = right - 1
    pick = np.where(np.abs(t_ns[right] - grid) < np.abs(grid - t_ns[left]), right, left)
    near = np.abs(t_ns[pick] - grid) < 1e9 / rate_hz
    return np.unique(pick[near])


def decimate(t_ns: npt.NDArray[np.int64], fields: Mapping[str, Array], rate_hz: float, *,
             cutoff_hz: float | None = None, hold_s: float | None = None,
             origin_ns: int | None = None) -> tuple[npt.NDArray[np.int64], dict[str, Array]]:
    """The samples a part running at ``rate_hz`` delivers from a stream recorded faster.

    Args:
        t_ns: Recorded sample times (sorted).
        fields: Recorded payloads, first axis per sample.
        rate_hz: The rate the part runs at.
        cutoff_hz: The part's low-pass before it hands out samples (None: point sampling).
            Floating-point fields are filtered at the recorded rate, others are picked.
        hold_s: A step signal: each grid point reads the value standing then (the last
            sample at or before it, if no older than ``hold_s``), stamped at the grid time.
        origin_ns: Where the grid starts (default: the first sample). Training draws a random
            phase here; a replay keeps the default so every window sees the same grid.

    Returns:
        Times and payloads of the samples delivered (unchanged when the stream was recorded
        at or below ``rate_hz``: never upsampled).
    """
    t = np.asarray(t_ns, np.int64)
    native = native_rate_hz(t)
    if len(t) < 2 or native <= rate_hz * (1 + RATE_TOLERANCE):
        return t, dict(fields)
    grid = _grid(t, rate_hz, origin_ns)
    if hold_s is not None:
        last = np.searchsorted(t, grid, side="right") - 1
        ok = (last >= 0) & (grid - t[np.maximum(last, 0)] <= hold_s * 1e9)
        return grid[ok], {k: np.asarray(v)[last[ok]] for k, v in fields.items()}
    src = dict(fields)
    if cutoff_hz is not None:
        src = {k: lowpass(v, native, cutoff_hz) if np.issubdtype(np.asarray(v).dtype,
                                                                  np.floating) else v
               for k, v in fields.items()}
    idx = _nearest(t, grid, rate_hz)
    return t[idx], {k: np.asarray(v)[idx] for k, v in src.items()}


def decimate_modality(decl: Modality, t_ns: npt.NDArray[np.int64],
                      fields: Mapping[str, Array], rate_hz: float, *, mode: str | None = None,
                      stream: str | None = None, origin_ns: int | None = None
                      ) -> tuple[npt.NDArray[np.int64], dict[str, Array]]:
    """:func:`decimate` as ``decl``'s part does it in ``mode`` (its delivering mode by
    default): the low-pass its declaration names for that mode and rate, and the hold of its
    source ``stream`` (default: the first source) if that source is a step signal.

    This is what a policy replay delivers at ``rate_hz``; a network trained to serve that
    rate should see its windows through this function (with a random ``origin_ns``).
    """
    mode = mode if mode is not None else (decl.turn_down.modes or ("",))[0] or None
    source = next((s for s in decl.input.sources if stream is None or s.stream == stream),
                  decl.input.sources[0])
    return decimate(t_ns, fields, rate_hz, cutoff_hz=decl.cutoff_hz(mode, rate_hz),
                    hold_s=source.hold_s, origin_ns=origin_ns)
