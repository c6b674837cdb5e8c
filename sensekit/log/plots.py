"""One matplotlib figure per stream of a recording (PNG, Agg backend: no display needed)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import require
from ..outputs import atomic_output
from ..packets import Packet

__all__ = ["plot_streams", "stream_figure"]


def plot_streams(streams: Mapping[str, Packet], out_dir: Path,
                 devices: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Path]:
    """Write ``STREAM.png`` for each stream into ``out_dir``; return the paths by stream."""
    matplotlib = require("matplotlib", extra="report", what="the demo's plots")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = min((int(p.t_ns[0]) for p in streams.values() if len(p)), default=0)
    out: dict[str, Path] = {}
    for name, packet in streams.items():
        if not len(packet):
            continue
        fig = stream_figure(name, packet, t0, (devices or {}).get(name, {}))
        path = out_dir / f"{name}.png"
        with atomic_output(path, force=True) as tmp:  # the caller checked the folder
            fig.savefig(tmp)
        plt.close(fig)
        out[name] = path
    return out


def stream_figure(name: str, packet: Packet, t0: int = 0,
                  device: Mapping[str, str] | None = None) -> Any:
    """The figure of one stream (times in seconds from ``t0``, host monotonic ns)."""
    require("matplotlib", extra="report", what="plotting a stream")
    import matplotlib.pyplot as plt

    modality = packet.modality or name
    height = {"labels": 1.2 * len(packet.fields) + 1, "gps": 4.8}.get(modality, 3.2)
    fig = plt.figure(figsize=(9, height), dpi=90)
    draw = _DRAW.get(modality, _draw_generic)
    draw(fig, (packet.t_ns - t0) / 1e9, packet, device or {})
    fig.suptitle(f"{name} ({packet.modality or 'custom'}, {len(packet):,} samples)")
    fig.tight_layout()
    return fig


def _legend(ax: Any, **options: Any) -> None:
    """A legend where something is labelled (matplotlib draws an empty box otherwise)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**options)


def _thin(n: int, limit: int = 20_000) -> slice:
    return slice(None, None, max(1, n // limit))


def _draw_imu(fig: Any, t: np.ndarray, p: Packet, dev: Mapping[str, str]) -> None:
    keys = [k for k in ("accel_mps2", "gyro_rads") if k in p.fields]
    s = _thin(len(t))
    for i, key in enumerate(keys):
        ax = fig.add_subplot(1, len(keys), i + 1)
        for k, axis in enumerate("xyz"):
            ax.plot(t[s], p[key][s, k], lw=0.5, label=axis)
        ax.set_xlabel("s")
        ax.set_ylabel(key)
        _legend(ax, loc="upper right", fontsize=7)


def _draw_audio(fig: Any, t: np.ndarray, p: Packet, dev: Mapping[str, str]) -> None:
    pcm = p["pcm"][:, 0].astype(np.float64)
    scale = 32768.0 if p["pcm"].dtype == np.int16 else 1.0
    block = max(1, len(pcm) // 2000)
    n = len(pcm) // block * block
    rms = np.sqrt((pcm[:n].reshape(-1, block) / scale) ** 2).mean(1)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(t[:n:block], 20 * np.log10(np.maximum(rms, 1e-6)), lw=0.7)
    ax.set_xlabel("s")
    ax.set_ylabel("level (dBFS)")


def _draw_camera(fig: Any, t: np.ndarray, p: Packet, dev: Mapping[str, str]) -> None:
    images = p["image"]
    picks = np.linspace(0, len(images) - 1, min(8, len(images))).astype(int)
    for i, k in enumerate(picks):
        ax = fig.add_subplot(1, len(picks), i + 1)
        ax.imshow(images[k])
        ax.set_title(f"{t[k]:.0f} s", fontsize=8)
        ax.axis("off")


#: The receiver's fix modes (NMEA GSA, as gpsd numbers them), for the fix-quality axis.
FIX_MODES = ("unknown", "no fix", "2D", "3D")


def _draw_gps(fig: Any, t: np.ndarray, p: Packet, dev: Mapping[str, str]) -> None:
    """The track as a map (north up, metres alike both ways), speed, and the fix quality on
    an axis of its own."""
    grid = fig.add_gridspec(2, 2, width_ratios=(1.1, 1), height_ratios=(3, 2))
    _draw_track(fig, fig.add_subplot(grid[:, 0]), t, p)
    speed = fig.add_subplot(grid[0, 1])
    if "speed_mps" in p.fields:
        speed.plot(t, p["speed_mps"], lw=0.8)
    speed.set_ylabel("speed (m/s)")
    speed.tick_params(labelbottom=False)
    quality = fig.add_subplot(grid[1, 1], sharex=speed)
    if "mode" in p.fields:
        quality.step(t, p["mode"], where="post", lw=0.9)
    quality.set_yticks(range(len(FIX_MODES)), FIX_MODES, fontsize=7)
    quality.set_ylim(-0.4, len(FIX_MODES) - 0.6)
    quality.set_ylabel("fix")
    quality.set_xlabel("s")


def _draw_track(fig: Any, ax: Any, t: np.ndarray, p: Packet) -> None:
    from matplotlib.ticker import MaxNLocator, ScalarFormatter

    lat, lon = p["lat_deg"], p["lon_deg"]
    ok = np.isfinite(lat) & np.isfinite(lon)
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    if not ok.any():
        ax.text(0.5, 0.5, "no fix", transform=ax.transAxes, ha="center", va="center")
        return
    sc = ax.scatter(lon[ok], lat[ok], c=t[ok], s=6)
    fig.colorbar(sc, ax=ax, label="s")
    # A degree of longitude is cos(latitude) times a degree of latitude on the ground.
    ax.set_aspect(1 / max(np.cos(np.radians(np.median(lat[ok]))), 0.01), adjustable="datalim")
    for axis in (ax.xaxis, ax.yaxis):
        plain = ScalarFormatter(useOffset=False)  # 13.4051, never "+1.34e1" and 0.0001
        plain.set_scientific(False)
        axis.set_major_formatter(plain)
        axis.set_major_locator(MaxNLocator(4))  # long labels: few enough not to overlap


def _draw_light(fig: Any, t: np.ndarray, p: Packet, dev: Mapping[str, str]) -> None:
    ax = fig.add_subplot(1, 1, 1)
    ax.semilogy(t, np.maximum(p["lux"], 0.1), lw=0.8)
    ax.set_xlabel("s")
    ax.set_ylabel("lux")


def _draw_labels(fig: Any, t: np.ndarray, p: Packet, dev: Mapping[str, str]) -> None:
    fields = list(p.fields)
    for i, key in enumerate(fields):
        ax = fig.add_subplot(len(fields), 1, i + 1)
        ax.step(t, p[key], where="post", lw=0.9)
        names = _vocab(dev.get(key))
        if names:
            ax.set_yticks(range(len(names)), names, fontsize=6)
        ax.set_ylabel(key, fontsize=7)
    fig.axes[-1].set_xlabel("s")


def _draw_generic(fig: Any, t: np.ndarray, p: Packet, dev: Mapping[str, str]) -> None:
    ax = fig.add_subplot(1, 1, 1)
    s = _thin(len(t))
    for key, values in p.fields.items():
        if values.ndim == 1 and values.dtype.kind in "fiu":
            ax.plot(t[s], values[s], lw=0.7, label=key)
    ax.set_xlabel("s")
    _legend(ax, fontsize=7)


def _vocab(text: str | None) -> list[str]:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


_DRAW = {"imu": _draw_imu, "audio": _draw_audio, "camera": _draw_camera, "gps": _draw_gps,
         "light": _draw_light, "labels": _draw_labels}
