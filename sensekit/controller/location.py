"""What a policy's choices cost beyond accuracy: location error while the GPS sleeps, and the
delay before a change of activity shows in the prediction."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..packets import Packet

__all__ = ["STILL_SCORE", "detection_delays", "location_error_m"]


#: IMU motion score under which dead reckoning assumes the device stands still.
STILL_SCORE = 0.15
EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)


def _metres(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Haversine distance in metres."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def location_error_m(truth: Packet, delivered: Sequence[Packet], window_t_ns: Sequence[int],
                     moving: Sequence[bool], window_s: float,
                     track: tuple[Any, Any, Any] | None = None) -> float:
    """Mean distance between the recorded fixes and what the policy knew at those times.

    Between the fixes the policy received, position is dead-reckoned from the last fix: held
    while the IMU says the device is still (or in standby), advanced along the last course at
    the last speed while it moves. A policy that runs a navigation filter knows its position
    instead: ``track`` is ``(t_ns, lat_deg, lon_deg)`` of the filter's estimates, and at each
    recorded fix it did not receive, its latest finite estimate (at most 1 s old) stands where
    it has one. Only recorded fixes with a position count as truth.
    """
    ok = (truth["mode"] >= 2) & np.isfinite(truth["lat_deg"])
    if not ok.any():
        return math.nan
    t_true = truth.t_ns[ok]
    got = [p for p in delivered if len(p)]
    if not got:
        return math.nan
    fix_t = np.concatenate([p.t_ns for p in got])
    fields = {k: np.concatenate([p[k] for p in got]).astype(np.float64)
              for k in ("lat_deg", "lon_deg", "speed_mps", "track_deg", "mode")}
    valid = (fields["mode"] >= 2) & np.isfinite(fields["lat_deg"])
    fix_t = fix_t[valid]
    if not len(fix_t):
        return math.nan
    f = {k: v[valid] for k, v in fields.items()}
    last = np.searchsorted(fix_t, t_true, side="right") - 1
    known = last >= 0
    idx = last[known]
    dt = (t_true[known] - fix_t[idx]) / 1e9
    win = np.clip(np.searchsorted(np.asarray(window_t_ns), t_true[known], side="right") - 1,
                  0, len(moving) - 1)
    speed = np.nan_to_num(f["speed_mps"][idx]) * np.asarray(moving, bool)[win]
    course = np.radians(np.nan_to_num(f["track_deg"][idx]))
    north, east = speed * dt * np.cos(course), speed * dt * np.sin(course)
    lat = f["lat_deg"][idx] + np.degrees(north / EARTH_RADIUS_M)
    lon = f["lon_deg"][idx] + np.degrees(east / (EARTH_RADIUS_M *
                                                 np.cos(np.radians(f["lat_deg"][idx]))))
    if track is not None:  # between delivered fixes: the filter's estimate
        between = dt > 0
        lat[between], lon[between] = _tracked(t_true[known][between], lat[between],
                                              lon[between], track)
    err = _metres(truth["lat_deg"][ok][known], truth["lon_deg"][ok][known], lat, lon)
    return float(np.mean(err)) if len(err) else math.nan


def _tracked(t_ns: Any, lat: Any, lon: Any, track: tuple[Any, Any, Any]) -> tuple[Any, Any]:
    """``lat``, ``lon`` with the filter's latest estimate (at most 1 s old) where it has one."""
    tt, tlat, tlon = (np.asarray(a) for a in track)
    finite = np.isfinite(tlat) & np.isfinite(tlon)
    tt, tlat, tlon = tt[finite], tlat[finite], tlon[finite]
    if not len(tt):
        return lat, lon
    i = np.searchsorted(tt, t_ns, side="right") - 1
    use = (i >= 0) & (t_ns - tt[np.maximum(i, 0)] <= 1_000_000_000)
    return (np.where(use, tlat[np.maximum(i, 0)], lat),
            np.where(use, tlon[np.maximum(i, 0)], lon))


def detection_delays(truth: Sequence[int], pred: Sequence[int], window_s: float) -> list[float]:
    """Seconds from each change of the true class until the prediction first shows it."""
    out = []
    for k in range(1, len(truth)):
        if truth[k] == truth[k - 1]:
            continue
        j = k
        while j < len(truth) and truth[j] == truth[k] and pred[j] != truth[k]:
            j += 1
        if j < len(truth) and truth[j] == truth[k]:
            out.append((j - k) * window_s)
    return out
