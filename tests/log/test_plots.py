"""Stream plots as people read them: coordinates in plain degrees, a map's aspect, the fix
quality on its own axis, no empty legends."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

from sensekit.log.plots import FIX_MODES, stream_figure
from sensekit.packets import Packet

pytest.importorskip("matplotlib")
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def gps_walk(n: int = 120) -> Packet:
    """A walk of ~100 m at 60 degrees north: spans of 1e-3 degrees, where matplotlib's default
    would write an offset (+6.0e1) and ticks like 0.0005."""
    rng = np.random.default_rng(3)
    t = np.arange(n, dtype=np.int64) * 1_000_000_000
    lat = 60.1699 + np.linspace(0, 8e-4, n) + rng.normal(0, 2e-6, n)
    lon = 24.9384 + np.linspace(0, 1.6e-3, n)
    lat[:5] = np.nan  # no fix yet
    mode = np.r_[np.ones(5), np.full(10, 2), np.full(n - 15, 3)].astype(np.int8)
    return Packet("gps", t, {"lat_deg": lat, "lon_deg": lon, "mode": mode,
                             "speed_mps": np.full(n, 1.2, np.float32)}, modality="gps")


def shown_labels(axis: Any) -> list[str]:
    lo, hi = sorted(axis.get_view_interval())
    return [tick.get_text() for tick, at in zip(axis.get_ticklabels(), axis.get_ticklocs(),
                                                strict=True)
            if lo <= at <= hi and tick.get_text()]


def test_gps_track_reads_as_a_map() -> None:
    fig = stream_figure("gps", gps_walk())
    fig.canvas.draw()
    track = next(ax for ax in fig.axes if ax.get_xlabel().startswith("longitude"))
    walk = gps_walk()
    for axis, data in ((track.xaxis, walk["lon_deg"]), (track.yaxis, walk["lat_deg"])):
        assert axis.get_offset_text().get_text() == ""  # no "+2.49e1" in a corner
        labels = shown_labels(axis)
        assert len(labels) >= 2
        values = [float(text.replace("\u2212", "-")) for text in labels]  # plain numbers
        assert all(np.nanmin(data) - 1e-3 <= v <= np.nanmax(data) + 1e-3 for v in values)
    assert track.get_aspect() == pytest.approx(1 / math.cos(math.radians(60.17)), rel=1e-3)
    plt.close(fig)


def test_fix_quality_has_its_own_axis() -> None:
    fig = stream_figure("gps", gps_walk())
    fig.canvas.draw()
    quality = [ax for ax in fig.axes if ax.get_ylabel() == "fix"]
    speed = [ax for ax in fig.axes if ax.get_ylabel() == "speed (m/s)"]
    assert len(quality) == 1 and len(speed) == 1 and quality[0] is not speed[0]
    assert [t.get_text() for t in quality[0].get_yticklabels()] == list(FIX_MODES)
    steps = quality[0].get_lines()[0].get_ydata()
    assert set(np.asarray(steps).tolist()) == {1, 2, 3}
    plt.close(fig)


def test_a_stream_with_nothing_to_label_draws_no_empty_legend() -> None:
    text_only = Packet("notes", np.arange(3, dtype=np.int64),
                       {"text": np.array(["a", "b", "c"])})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "No artists with labels found"
        fig = stream_figure("notes", text_only)
    assert all(ax.get_legend() is None for ax in fig.axes)
    plt.close(fig)
    no_fix = gps_walk()
    no_fix["lat_deg"][:] = np.nan
    fig = stream_figure("gps", no_fix)
    assert all(ax.get_legend() is None or ax.get_legend().get_texts() for ax in fig.axes)
    plt.close(fig)
