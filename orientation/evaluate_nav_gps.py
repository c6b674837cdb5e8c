"""What keeping the GPS asleep by the GPS/IMU filter (the ``nav-gps`` policy) saves, on the
simulator's days.

usage:
    python orientation/evaluate_nav_gps.py --seeds 0-4 --dv-wake 2.5,8,inf \\
        -o orientation/results/nav_gps_tuning.json
    python orientation/evaluate_nav_gps.py --seeds 5-9 -o orientation/results/nav_gps_heldout.json

Each day is :func:`sensekit.testing.scenario.simulate` (``--duration`` seconds, the IMU at
100 Hz, GPS fixes at 1 Hz) replayed by :func:`sensekit.controller.evaluate.evaluate_policy`
under: the GPS always on; the GPS duty-cycled 10 s of every 60 s and 30 s of every 300 s, with
the accelerometer and gyroscope at 50 Hz throughout; and each duty cycle wrapped in ``nav-gps``
with a 25 m budget and a 300 s maximum sleep, once per ``--dv-wake`` threshold (m/s of speed
change over 4 s that wakes the GPS; ``inf``: off). Reported per policy: the GPS's energy from
its power table (wake-ups included) and the mean location error at the recorded fixes (the
policy's position: the filter's estimate under ``nav-gps``, else the last fix dead-reckoned).
The recorded fixes are the truth here, as in ``sensekit evaluate-policy``: they carry the
simulated receiver's noise, so always-on scores 0. The network plays no part in either figure,
so none runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sensekit.align import Window
from sensekit.controller.evaluate import Prediction, Recording, evaluate_policy
from sensekit.controller.nav_gate import NavGps, NavTracker
from sensekit.controller.operating import OperatingPoint
from sensekit.controller.policies import Policy, Static
from sensekit.fusion.inputs import Configuration
from sensekit.testing.scenario import ACTIVITIES, SimConfig, simulate

IMU = "accel@50+gyro@50"
DUTIES = ("10/60", "30/300")
BUDGET_M = 25.0
MAX_SLEEP_S = 300.0


class NoNetwork:
    """No inference: GPS energy and location error do not depend on the network."""

    classes: Sequence[str] = ACTIVITIES

    def predict(self, window: Window, config: Configuration, *,
                explain: bool = False) -> Prediction:
        return Prediction(-1, 0.0)

    def joules(self, config: Configuration, *, explain: bool = False) -> float:
        return 0.0


def seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def policies(dv_wakes: Sequence[float]) -> dict[str, Callable[[], Policy]]:
    out: dict[str, Callable[[], Policy]] = {
        "gps always on": lambda: Static.of(OperatingPoint.parse(f"{IMU}+gps@1"))}
    for duty in DUTIES:
        point = OperatingPoint.parse(f"{IMU}+gps@1~{duty}")
        out[f"duty {duty}"] = lambda p=point: Static.of(p)
        for dv in dv_wakes:
            out[f"duty {duty} + nav-gps {BUDGET_M:g} m, dv {dv:g}"] = \
                lambda p=point, dv=dv: NavGps(Static.of(p), BUDGET_M, MAX_SLEEP_S,
                                              tracker=NavTracker(dv_wake_mps=dv))
    return out


def one_day(seed: int, duration: float, makers: dict[str, Callable[[], Policy]]
            ) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"day{seed}.mcap"
        simulate(path, SimConfig(duration_s=duration, seed=seed))
        rec = Recording.load(str(path))
    out = {}
    for name, make in makers.items():
        r = evaluate_policy(rec, make, NoNetwork())
        out[name] = {"gps_j": r.sensor_j_by_part.get("gps", 0.0),
                     "location_error_m": r.location_error_m,
                     "nav_compute_j": r.compute_j_by_kind.get("nav", 0.0)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--duration", type=float, default=600.0, help="seconds per day")
    ap.add_argument("--dv-wake", default="2.5", help="comma-separated m/s (inf: off)")
    ap.add_argument("-o", "--output", help="JSON file (default: stdout only)")
    args = ap.parse_args(argv)
    makers = policies([float(x) for x in args.dv_wake.split(",")])
    days = {}
    for seed in seeds(args.seeds):
        days[seed] = one_day(seed, args.duration, makers)
        print(f"day {seed} done", file=sys.stderr)
    pooled: dict[str, Any] = {}
    for name in makers:
        rows = [days[s][name] for s in days]
        pooled[name] = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
    for name, row in pooled.items():
        print(f"{name:<40} GPS {row['gps_j']:6.1f} J   location error "
              f"{row['location_error_m']:6.1f} m")
    if args.output:
        result = {"seeds": args.seeds, "duration_s": args.duration, "budget_m": BUDGET_M,
                  "max_sleep_s": MAX_SLEEP_S, "pooled": pooled, "days": days}
        Path(args.output).write_text(json.dumps(_clean(result), indent=1) + "\n")
    return 0


def _clean(obj: Any) -> Any:
    """NaN (no fix to judge) as null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    return obj


if __name__ == "__main__":
    sys.exit(main())
