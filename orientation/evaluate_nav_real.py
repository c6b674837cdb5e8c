"""What the GPS/IMU filter can be judged on with real phones: speed between GPS speed reports.

usage:
    python orientation/evaluate_nav_real.py ../shared/corpus/us_tmd \
        -o orientation/results/nav_us_tmd.json

The us_tmd recordings have GPS speed about every 30-40 s and no position, so position through
gaps cannot be judged on real data here; speed can. For every recording with a gyroscope and at
least three speed reports, the phone's gyroscope and accelerometer (resampled to 50 Hz; the
accelerometer comes at 2-20 Hz on some phones) run through ``Ahrs`` and the filter, which fuses
each speed report; just before each report (from the second on) the filter's predicted speed is
compared with the report, against holding the previous report. Nothing was tuned on these
recordings: every figure here is blind.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from sensekit.orientation import Ahrs
from sensekit.orientation.nav import GpsImuFilter, NavParams
from sensekit.packets import Packet

RATE = 50.0


def read(path: Path) -> dict[str, np.ndarray]:
    rows: dict[str, list[list[float]]] = defaultdict(list)
    with gzip.open(path, "rt") as fh:
        for line in fh:
            parts = line.strip().split(",")
            if len(parts) < 3 or not parts[0]:
                continue
            name = parts[1].rsplit(".", 1)[-1]
            if name in ("accelerometer", "gyroscope", "speed"):
                try:
                    rows[name].append([float(x) for x in [parts[0], *parts[2:5]]])
                except ValueError:
                    continue
    out = {}
    for k, v in rows.items():
        a = np.array([r[:4] if len(r) >= 4 else r + [np.nan] * (4 - len(r)) for r in v])
        out[k] = a[np.argsort(a[:, 0], kind="stable")]
    return out


def evaluate(path: Path, params: NavParams | None = None) -> list[dict[str, float]] | None:
    d = read(path)
    if "gyroscope" not in d or "accelerometer" not in d or len(d.get("speed", [])) < 3:
        return None
    t0 = max(d["gyroscope"][0, 0], d["accelerometer"][0, 0])
    t1 = min(d["gyroscope"][-1, 0], d["accelerometer"][-1, 0])
    t = np.arange(t0, t1, 1000.0 / RATE)
    gyr = np.stack([np.interp(t, d["gyroscope"][:, 0], d["gyroscope"][:, i]) for i in (1, 2, 3)], 1)
    acc = np.stack([np.interp(t, d["accelerometer"][:, 0], d["accelerometer"][:, i])
                    for i in (1, 2, 3)], 1)
    ahrs, nav = Ahrs(RATE, backend="vqf"), GpsImuFilter(params=params)
    speeds = d["speed"][(d["speed"][:, 0] > t0) & (d["speed"][:, 0] < t1)]
    rows, k, prev = [], 0, None
    step = int(RATE / 10)
    t_ns = (t * 1e6).astype(np.int64)
    for lo in range(0, len(t), step):
        sl = slice(lo, lo + step)
        nav.update(ahrs.update(Packet("imu", t_ns[sl], {"gyro_rads": gyr[sl],
                                                        "accel_mps2": acc[sl]}, "imu")))
        while k < len(speeds) and speeds[k, 0] <= t[min(lo + step, len(t)) - 1]:
            report = float(speeds[k, 1])
            if prev is not None:
                predicted = float(np.linalg.norm(nav.velocity_enu_mps[:2]))
                sigma = float(np.sqrt(nav._p[2, 2]))
                rows.append({"gap_s": (speeds[k, 0] - prev[0]) / 1000.0, "report": report,
                             "filter_err": abs(predicted - report),
                             "hold_err": abs(prev[1] - report),
                             "inside_1sigma": float(abs(predicted - report) <= sigma)})
            nav.update(Packet("gps", np.array([int(speeds[k, 0] * 1e6)], np.int64),
                              {"lat_deg": np.array([np.nan]), "lon_deg": np.array([np.nan]),
                               "speed_mps": np.array([report], np.float32)}, "gps"))
            prev = (speeds[k, 0], report)
            k += 1
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="override a NavParams figure")
    ap.add_argument("-o", "--output")
    args = ap.parse_args(argv)
    params = NavParams(**{k: float(v) for k, v in (p.split("=") for p in args.param)})
    per_file, mode_rows = {}, defaultdict(list)
    for path in sorted(args.corpus.glob("*.csv.gz")):
        rows = evaluate(path, params)
        if not rows:
            continue
        mode = path.name.split("_")[2]
        per_file[path.name] = rows
        mode_rows[mode] += rows
        mode_rows["all"] += rows
        print(f"{path.name}: {len(rows)} reports", file=sys.stderr, flush=True)
    summary = {}
    for mode, rows in mode_rows.items():
        f = np.array([r["filter_err"] for r in rows])
        h = np.array([r["hold_err"] for r in rows])
        summary[mode] = {"reports": len(rows), "filter_mae": round(float(f.mean()), 3),
                         "hold_mae": round(float(h.mean()), 3),
                         "ratio": round(float(f.mean() / max(h.mean(), 1e-9)), 3),
                         "inside_1sigma": round(float(np.mean([r["inside_1sigma"]
                                                               for r in rows])), 3),
                         "median_gap_s": round(float(np.median([r["gap_s"] for r in rows])),
                                               1)}
        print(mode, summary[mode])
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps({"summary": summary, "files": per_file}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
