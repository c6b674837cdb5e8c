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

__all__ = ["plot_streams"]


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
        height = 1.2 * len(packet.fields) + 1 if name == "labels" else 3.2
        fig = plt.figure(figsize=(9, height), dpi=90)
        t = (packet.t_ns - t0) / 1e9
        draw = _DRAW.get(packet.modality or name, _draw_generic)
        draw(fig, t, packet, (devices or {}).get(name, {}))
        fig.suptitle(f"{name} ({packet.modality or 'custom'}, {len(packet):,} samples)")
        fig.tight_layout()
        path = out_dir / f"{name}.png"
        with atomic_output(path, force=True) as tmp:  # the caller checked the folder
            fig.savefig(tmp)
        plt.close(fig)
        out[name] = path
    return out


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
        ax.legend(loc="upper right", fontsize=7)


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


def _draw_gps(fig: Any, t: np.ndarray, p: Packet, dev: Mapping[str, str]) -> None:
    ax = fig.add_subplot(1, 2, 1)
    ok = np.isfinite(p["lat_deg"])
    sc = ax.scatter(p["lon_deg"][ok], p["lat_deg"][ok], c=t[ok], s=6)
    fig.colorbar(sc, ax=ax, label="s")
    ax.set_xlabel("longitude (deg)")
    ax.set_ylabel("latitude (deg)")
    ax2 = fig.add_subplot(1, 2, 2)
    ax2.plot(t, p["speed_mps"], lw=0.8, label="speed m/s")
    ax2.step(t, p["mode"], where="post", lw=0.8, label="fix mode")
    ax2.set_xlabel("s")
    ax2.legend(fontsize=7)


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
    ax.legend(fontsize=7)


def _vocab(text: str | None) -> list[str]:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


_DRAW = {"imu": _draw_imu, "audio": _draw_audio, "camera": _draw_camera, "gps": _draw_gps,
         "light": _draw_light, "labels": _draw_labels}
