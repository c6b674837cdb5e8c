"""Judge the GPS/IMU filter on the simulator's days: fixes withheld for 10 s and 30 s gaps.

usage:
    python orientation/evaluate_nav.py --seeds 0-4 -o orientation/results/nav_tune.json
    python orientation/evaluate_nav.py --seeds 5-9 -o orientation/results/nav_test.json

A day is :class:`sensekit.testing.scenario.Scenario` (its truth: position, speed, heading; its
GPS fixes at 1 Hz with their noise and outages). The IMU is the scenario's specific force and
rate at 100 Hz with MPU-6050-class errors added (gyroscope noise 0.05 deg/s and bias up to 0.5
deg/s, accelerometer noise 0.03 m/s^2 and offsets up to 0.1 m/s^2), run through
``Ahrs(100, backend="vqf")`` without a magnetometer (the simulated MPU-6050 has none) in 0.1 s
packets. The filter runs through the whole day with every fix; at a gap start every 23 s (where
fixes exist 20 s before and through the gap) a copy continues without fixes, and each withheld
fix second is scored:

- error: distance from the true position (the scenario's, not the noisy fix);
- linear extrapolation: the last fix's position plus its speed and course (zero speed where the
  receiver reports no course) times the time since;
- inside: whether the truth lies in the filter's 1-sigma region, taken as the ellipse that holds
  68.3% of a 2-D Gaussian (Mahalanobis distance under 1.515); also reported: per-axis 1 sigma
  and the plain 1-sigma ellipse (39.3% expected).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
from pathlib import Path

import numpy as np

from sensekit.orientation import Ahrs
from sensekit.orientation.nav import EARTH_RADIUS_M, GpsImuFilter, NavParams
from sensekit.packets import Packet
from sensekit.testing.scenario import ACTIVITIES, Scenario

RATE = 100.0
CHI2_68 = 2.2957  # 68.27% of a 2-D Gaussian lies within this squared Mahalanobis distance


def seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def simulate_day(seed: int, duration: float) -> dict[str, object]:
    sc = Scenario(duration, seed)
    t = np.arange(0.0, duration, 1.0 / RATE)
    acc, gyr = sc.imu(t)
    rng = np.random.default_rng([seed, 7])
    gyr = gyr + rng.normal(0, math.radians(0.05), gyr.shape) + \
        rng.uniform(-1, 1, 3) * math.radians(0.5)
    acc = acc + rng.normal(0, 0.03, acc.shape) + rng.uniform(-0.1, 0.1, 3)
    ahrs = Ahrs(RATE)
    t_ns = (t * 1e9).astype(np.int64)
    packets = []
    for lo in range(0, len(t), int(RATE / 10)):
        sl = slice(lo, lo + int(RATE / 10))
        packets.append(ahrs.update(Packet("imu", t_ns[sl], {"gyro_rads": gyr[sl],
                                                            "accel_mps2": acc[sl]}, "imu")))
    tf = np.arange(1.0, duration, 1.0)
    fixes = sc.gps_fixes(tf)
    lat, lon = sc.position(tf)
    return {"sc": sc, "packets": packets, "tf": tf, "fixes": fixes, "true": (lat, lon),
            "activity": sc.labels(tf)["activity"]}


def gps_packet(fixes: dict[str, np.ndarray], i: int, t: float) -> Packet:
    return Packet("gps", np.array([int(t * 1e9)], np.int64),
                  {k: v[i:i + 1] for k, v in fixes.items()}, "gps")


def local(origin: tuple[float, float, float], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    lat0, lon0, _ = origin
    return np.stack([np.radians(lon - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0)),
                     np.radians(lat - lat0) * EARTH_RADIUS_M], axis=-1)


def run_day(day: dict[str, object], gaps: tuple[int, ...], every: int = 23,
            params: NavParams | None = None) -> list[dict[str, object]]:
    packets: list[Packet] = day["packets"]  # type: ignore[assignment]
    tf: np.ndarray = day["tf"]  # type: ignore[assignment]
    fixes: dict[str, np.ndarray] = day["fixes"]  # type: ignore[assignment]
    have = np.isfinite(fixes["lat_deg"])
    nav = GpsImuFilter(params=params)
    starts = {}
    per_second = 10  # packets per second
    for i, t in enumerate(tf):
        for p in packets[int((t - 1) * per_second):int(t * per_second)]:
            nav.update(p)
        if have[i]:
            nav.update(gps_packet(fixes, i, t))
        if i % every == 0 and i >= 20 and nav.initialised:
            starts[i] = copy.deepcopy(nav)
    rows = []
    for g in gaps:
        for i0, snap in starts.items():
            if i0 + g >= len(tf) or not have[i0 - 20:i0 + g + 1].all():
                continue
            rows.append(score_gap(day, copy.deepcopy(snap), i0, g))
    return rows


def score_gap(day: dict[str, object], nav: GpsImuFilter, i0: int, gap: int) -> dict[str, object]:
    packets: list[Packet] = day["packets"]  # type: ignore[assignment]
    tf: np.ndarray = day["tf"]  # type: ignore[assignment]
    fixes: dict[str, np.ndarray] = day["fixes"]  # type: ignore[assignment]
    assert nav.origin is not None
    lat, lon = day["true"]  # type: ignore[misc]
    truth = local(nav.origin, lat, lon)
    fix_xy = local(nav.origin, fixes["lat_deg"], fixes["lon_deg"])
    speed, track = float(fixes["speed_mps"][i0]), float(fixes["track_deg"][i0])
    v = np.array([speed * math.sin(math.radians(track)), speed * math.cos(math.radians(track))]) \
        if math.isfinite(track) else np.zeros(2)
    err, lin, d2, axis_in = [], [], [], []
    for i in range(i0 + 1, i0 + gap + 1):
        for p in packets[int(tf[i - 1] * 10):int(tf[i] * 10)]:
            nav.update(p)
        e = nav.position_enu_m[:2] - truth[i]
        cov = nav.position_cov_m2[:2, :2]
        err.append(float(np.linalg.norm(e)))
        lin.append(float(np.linalg.norm(fix_xy[i0] + v * (tf[i] - tf[i0]) - truth[i])))
        d2.append(float(e @ np.linalg.solve(cov, e)))
        axis_in.append(bool(np.all(np.abs(e) <= np.sqrt(np.diag(cov)))))
    return {"gap": gap, "start": int(i0), "activity": ACTIVITIES[int(day["activity"][i0])],  # type: ignore[index]
            "err": err, "lin": lin, "d2": d2, "axis_in": axis_in}


def summary(rows: list[dict[str, object]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for gap in sorted({int(r["gap"]) for r in rows}):  # type: ignore[call-overload]
        for act in ["all", *ACTIVITIES]:
            sel = [r for r in rows if r["gap"] == gap and act in ("all", r["activity"])]
            if not sel:
                continue
            e = np.concatenate([r["err"] for r in sel])  # type: ignore[misc]
            lin = np.concatenate([r["lin"] for r in sel])  # type: ignore[misc]
            d2 = np.concatenate([r["d2"] for r in sel])  # type: ignore[misc]
            ax = np.concatenate([r["axis_in"] for r in sel])  # type: ignore[misc]
            out[f"{gap}s/{act}"] = {
                "gaps": len(sel), "fixes": len(e), "err_m": round(float(e.mean()), 2),
                "linear_m": round(float(lin.mean()), 2),
                "ratio": round(float(e.mean() / lin.mean()), 3),
                "inside_68_ellipse": round(float(np.mean(d2 <= CHI2_68)), 3),
                "inside_per_axis": round(float(np.mean(ax)), 3),
                "inside_1sigma_ellipse": round(float(np.mean(d2 <= 1.0)), 3)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--duration", type=float, default=1800.0)
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="override a NavParams figure (tuning)")
    ap.add_argument("-o", "--output")
    args = ap.parse_args(argv)
    params = NavParams(**{k: float(v) for k, v in (p.split("=") for p in args.param)})
    rows = []
    for seed in seeds(args.seeds):
        day = simulate_day(seed, args.duration)
        rows += [dict(r, seed=seed) for r in run_day(day, (10, 30), params=params)]
        print(f"seed {seed}: {len(rows)} gaps so far", file=sys.stderr, flush=True)
    table = summary(rows)
    for key, row in table.items():
        print(f"{key:18s} " + " ".join(f"{k}={v}" for k, v in row.items()))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps({"summary": table, "gaps": rows}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
