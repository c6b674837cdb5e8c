"""``sensekit bench align``: multi-rate windows with masks, sensekit against pandas.merge_asof.

Both sides do the same job on the same streams: cut five streams (with clock drift, jitter,
gaps, duplicate and out-of-order timestamps) into 2 s windows with a 1 s hop, each stream at its
own resolution, with the exact timestamp and a presence mask per slot, and the earliest sample
of a slot kept. The peer is the usual pandas way: sort and de-duplicate each stream, then
``merge_asof(direction="forward")`` it onto the grid of slot start times (built once per stream,
shared by overlapping windows), mask the matches that fall past their slot's end, and gather
the slots of each window. The benchmark checks that both give the same windows before it
reports any time.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .._optional import require
from ..align import NO_TIME, Aligner, StreamSpec, Window, align
from ..errors import ConfigError
from ..packets import Packet
from . import Case, case

WINDOW_S, HOP_S = 2.0, 1.0
Array = npt.NDArray[Any]


@dataclass(frozen=True)
class _Source:
    rate_hz: float
    fields: Mapping[str, tuple[str, tuple[int, ...]]]


#: Realistic mix: (rate, payload). Camera carries a frame id, not pixels, so the figure is
#: about alignment and not about copying images.
MULTI_RATE = {
    "imu": _Source(1000.0, {"accel_mps2": ("float32", (3,)), "gyro_rads": ("float32", (3,))}),
    "audio": _Source(16000.0, {"pcm": ("int16", (1,))}),
    "gps": _Source(10.0, {"lat_deg": ("float64", ()), "lon_deg": ("float64", ())}),
    "light": _Source(10.0, {"lux": ("float32", ())}),
    "camera": _Source(30.0, {"frame_id": ("int32", ())}),
}
#: Five streams of equal sample count: body-worn IMUs at 1 kHz, each with its own clock drift.
EQUAL_COUNT = {f"imu.{place}": _Source(1000.0, {"accel_mps2": ("float32", (3,))})
               for place in ("chest", "wrist", "ankle", "head", "pocket")}


def _timestamps(rate: float, n: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Drift (up to 0.5 %), 2 % jitter, gaps, 0.1 % duplicates, 0.1 % swapped neighbours."""
    period = 1e9 / (rate * (1 + rng.uniform(-0.005, 0.005)))
    t = 5e9 + np.arange(n) * period + rng.normal(0, 0.02 * period, n)
    ts = t.astype(np.int64)
    for start in rng.integers(0, n, max(1, n // 20000)):  # gaps of up to 50 samples
        ts[start:start + int(rng.integers(2, 50))] = -1
    ts = ts[ts >= 0]
    dup = rng.integers(0, len(ts), len(ts) // 1000)
    ts = np.insert(ts, dup, ts[dup])
    swap = rng.integers(0, len(ts) - 1, len(ts) // 1000)
    ts[swap], ts[swap + 1] = ts[swap + 1], ts[swap].copy()
    return ts


def make_streams(sources: Mapping[str, _Source], total: int,
                 seed: int = 0) -> dict[str, Packet]:
    """Streams over a common span holding about ``total`` samples in all."""
    rng = np.random.default_rng(seed)
    span_s = total / sum(s.rate_hz for s in sources.values())
    out = {}
    for name, src in sources.items():
        t = _timestamps(src.rate_hz, round(span_s * src.rate_hz), rng)
        fields = {f: (rng.standard_normal((len(t), *shape)) * 100).astype(dtype)
                  for f, (dtype, shape) in src.fields.items()}
        out[name] = Packet(name, t, fields)
    return out


def pandas_windows(streams: Mapping[str, Packet], specs: Mapping[str, StreamSpec],
                   k0: int, k1: int) -> dict[str, dict[str, Array]]:
    """The peer: windows ``k0..k1`` as ``(windows, slots)`` arrays per stream, via merge_asof."""
    pd = require("pandas", extra="report", what="the pandas peer of 'sensekit bench align'")
    window_ns, hop_ns = round(WINDOW_S * 1e9), round(HOP_S * 1e9)
    out = {}
    for name, packet in streams.items():
        n = specs[name].slots(window_ns)
        if hop_ns * n % window_ns:
            raise ConfigError(f"stream {name!r}: the pandas peer needs hop a whole number of slots")
        hs = hop_ns * n // window_ns
        total = (k1 - k0) * hs + n
        edges = k0 * hop_ns + (np.arange(total + 1, dtype=np.int64) * window_ns + n - 1) // n
        right = pd.DataFrame({"t": packet.t_ns, "row": np.arange(len(packet), dtype=np.int64)})
        right = right.sort_values("t", kind="stable").drop_duplicates("t", keep="first")
        grid = pd.DataFrame({"slot_t": edges[:-1]})
        merged = pd.merge_asof(grid, right, left_on="slot_t", right_on="t", direction="forward")
        row = merged["row"].to_numpy(dtype=np.float64, na_value=np.nan)
        has = ~np.isnan(row)
        idx = np.where(has, row, 0).astype(np.int64)
        t = packet.t_ns[idx]
        present = has & (t < edges[1:])
        slots = np.arange(k1 - k0 + 1)[:, None] * hs + np.arange(n)
        res = {"mask": present[slots], "t_ns": np.where(present, t, NO_TIME)[slots]}
        for field, col in packet.fields.items():
            shape = (-1,) + (1,) * (col.ndim - 1)
            res[field] = np.where(present.reshape(shape), col[idx], 0)[slots]
        out[name] = res
    return out


def _agree(windows: list[Window], peer: Mapping[str, Mapping[str, Array]], k0: int) -> None:
    rows = [w.index - k0 for w in windows]
    for name, res in peer.items():
        mine = {"mask": np.stack([w.mask[name] for w in windows]),
                "t_ns": np.stack([w.t_ns[name] for w in windows])}
        mine.update({f: np.stack([w.data[name][f] for w in windows]) for f in res
                     if f not in mine})
        for key, value in mine.items():
            if not np.array_equal(value, res[key][rows]):
                raise AssertionError(f"sensekit and pandas disagree on {name}.{key}")


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _compare(label: str, sources: Mapping[str, _Source], total: int, repeats: int) -> list[Case]:
    streams = make_streams(sources, total)
    specs = {name: StreamSpec(src.rate_hz) for name, src in sources.items()}
    n_samples = sum(len(p) for p in streams.values())
    mine_s, windows = _best(lambda: align(streams, specs, WINDOW_S, HOP_S), repeats)
    k0, k1 = windows[0].index, windows[-1].index
    peer_s, peer = _best(lambda: pandas_windows(streams, specs, k0, k1), repeats)
    _agree(windows, peer, k0)
    note = (f"{n_samples:,} samples in {len(sources)} streams -> {len(windows)} windows "
            f"of {WINDOW_S:g} s, hop {HOP_S:g} s; peer: sort + drop_duplicates + merge_asof "
            "onto the slot grid + mask + gather; outputs checked equal")
    return [case(f"{label} time", mine_s, "s", peer_s, higher_is_better=False, note=note),
            case(f"{label} throughput", n_samples / mine_s / 1e6, "Msamples/s",
                 n_samples / peer_s / 1e6)]


def _packets(streams: Mapping[str, Packet], packet_s: float) -> list[Packet]:
    """Cut streams into packets of about ``packet_s`` and order them as they would arrive."""
    timed = []
    for p in streams.values():
        newest = np.maximum.accumulate(p.t_ns)
        step = round(packet_s * 1e9)
        cuts = np.searchsorted(newest, np.arange(int(newest[0]), int(newest[-1]) + step, step))
        edges = np.unique(np.concatenate(([0], cuts, [len(p)])))
        timed += [(int(newest[j - 1]), p.slice(int(i), int(j)))
                  for i, j in itertools.pairwise(edges)]
    timed.sort(key=lambda x: x[0])
    return [p for _, p in timed]


def _online(label: str, sources: Mapping[str, _Source], total: int) -> Case:
    streams = make_streams(sources, total)
    specs = {name: StreamSpec(src.rate_hz) for name, src in sources.items()}
    packets = _packets(streams, 0.1)
    aligner = Aligner(specs, WINDOW_S, HOP_S, max_lateness_s=2 * WINDOW_S)
    start = time.perf_counter()
    windows = [w for p in packets for w in aligner.push(p)] + aligner.flush()
    took = time.perf_counter() - start
    offline = align(packets, specs, WINDOW_S, HOP_S)
    same = [w.index for w in windows] == [w.index for w in offline] and all(
        np.array_equal(a.t_ns[k], b.t_ns[k]) and np.array_equal(a.mask[k], b.mask[k])
        for a, b in zip(windows, offline, strict=True) for k in specs)
    if not same:
        raise AssertionError("online and offline windows differ")
    n_samples = sum(len(p) for p in packets)
    return case(f"{label} online", n_samples / took / 1e6, "Msamples/s",
                note=f"{len(packets):,} packets of 0.1 s pushed one by one in arrival order "
                     f"-> {len(windows)} windows, same as offline; no pandas equivalent")


def run(quick: bool) -> list[Case]:
    """Time :func:`sensekit.align.align` and the pandas peer on the same streams."""
    scale = 100_000 if quick else 1_000_000
    repeats = 3
    return (_compare(f"5 streams x {scale:.0e} samples", EQUAL_COUNT, 5 * scale, repeats)
            + _compare(f"multi-rate {5 * scale:.0e} samples", MULTI_RATE, 5 * scale, repeats)
            + [_online(f"multi-rate {scale:.0e} samples", MULTI_RATE, scale)])
