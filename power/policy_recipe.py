"""What each sampling policy costs and scores on days it was not tuned on.

    python power/policy_recipe.py --data /tmp/sensekit-policy --results power/results

1. Simulate three tuning days (seeds 400-402, 600 s, the demo's sensors: 8 kHz microphone,
   96x72 camera) and two held-out days (seeds 1000-1001, 30 minutes each, other sensors:
   16 kHz microphone, 128x96 camera). The simulator fixes the day's mix in advance (30% still,
   12 segments an hour, no two neighbours alike); this script checks it on the held-out days
   (at most 35% still, at least 10 activity transitions an hour) before scoring anything.
2. Profile every static configuration the network declares on the tuning days
   (``sensekit evaluate-policy --pareto``): the adaptive policy takes its base and optional
   sensors from it. Its thresholds were chosen on the same tuning days.
3. Replay the held-out days under always-on, the adaptive policy and every static
   configuration; write the table, ``policy_heldout.json`` and the accuracy-versus-energy plot.
4. Judge the goal: the adaptive policy at no more than 1 point of macro-F1 below always-on
   using at most 25% of its sensor+compute energy, and below the static Pareto front (every
   static configuration that scores at least as well costs more).
5. With ``--phone DIR``: import the real phone recordings there (accelerometer CSVs without a
   header, as in the Oxford step-counter set) with ``sensekit import`` and replay them under
   the same policies. They carry no labels, so only energy is reported.

Recordings already in ``--data`` are reused.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

TUNING = [(seed, {"duration_s": 600.0}) for seed in (400, 401, 402)]
HELD_OUT = [(seed, {"duration_s": 1800.0, "audio_rate_hz": 16000, "camera_size": (128, 96)})
            for seed in (1000, 1001)]


def simulate(folder: Path, name: str, seed: int, params: dict[str, Any]) -> Path:
    from sensekit.testing.scenario import SimConfig
    from sensekit.testing.scenario import simulate as run

    path = folder / f"{name}-{seed}.mcap"
    if not path.exists():
        run(path, SimConfig(seed=seed, **params))
    return path


def day_mix(path: Path) -> dict[str, float]:
    """Share of time still and activity transitions per hour, from the recorded labels."""
    import sensekit.log as sklog
    from sensekit.testing.scenario import ACTIVITIES

    labels = sklog.open(path).read("labels")
    act = np.asarray(labels["activity"])
    t = labels.t_ns / 1e9
    hours = (t[-1] - t[0]) / 3600.0
    return {"still_share": float(np.mean(act == ACTIVITIES.index("still"))),
            "transitions_per_hour": float(np.count_nonzero(np.diff(act)) / hours)}


def evaluate(logs: list[Path], *extra: str) -> None:
    cmd = [sys.executable, "-m", "sensekit", "evaluate-policy", *map(str, logs), *extra]
    print("$", " ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True)


def import_phone(csv: Path, folder: Path) -> Path:
    out = folder / f"phone-{csv.stem}.mcap"
    if not out.exists():
        subprocess.run([sys.executable, "-m", "sensekit", "import", str(csv), "-o", str(out),
                        "--no-header", "--map", "t_ns=0", "--map", "accel_mps2=1,2,3",
                        "--modality", "imu", "--stream", "imu"], check=True)
    return out


def judge(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by = {r["policy"]: r for r in rows}
    always, adaptive = by["always-on"], by["adaptive"]

    def cost(r: dict[str, Any]) -> float:
        return float(r["sensor_j"] + r["compute_j"])

    statics = [r for r in rows if r["policy"].startswith("static:")]
    as_good = [r for r in statics if r["macro_f1"] >= adaptive["macro_f1"]]
    cheapest = min(as_good, key=cost) if as_good else None
    share = cost(adaptive) / cost(always)
    gap = always["macro_f1"] - adaptive["macro_f1"]
    return {"energy_share_of_always_on": share, "macro_f1_below_always_on": gap,
            "goal_energy_and_f1": bool(share <= 0.25 and gap <= 0.01),
            "cheapest_static_at_least_as_good": None if cheapest is None else {
                "policy": cheapest["policy"], "macro_f1": cheapest["macro_f1"],
                "energy_j": cost(cheapest)},
            "goal_below_static_front": bool(cheapest is None or cost(adaptive) < cost(cheapest))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/tmp/sensekit-policy"))
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--phone", type=Path, help="folder of real phone accelerometer CSVs")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    args.results.mkdir(parents=True, exist_ok=True)
    tuning = [simulate(args.data, "tune", s, p) for s, p in TUNING]
    held = [simulate(args.data, "heldout", s, p) for s, p in HELD_OUT]
    mix = {p.name: day_mix(p) for p in held}
    print(json.dumps(mix, indent=1))
    for name, m in mix.items():
        if m["still_share"] > 0.35 or m["transitions_per_hour"] < 10:
            sys.exit(f"{name}: the day's mix is not the one fixed in advance: {m}")
    profile = args.results / "policy_profile.json"
    evaluate(tuning, "--pareto", "--json", "-o", str(profile))
    out = args.results / "policy_heldout.json"
    evaluate(held, "--policy", "always-on", "--policy", "adaptive", "--profile", str(profile),
             "--pareto", "--json", "-o", str(out),
             "--plot", str(args.results / "policy_heldout.png"))
    verdict = judge(json.loads(out.read_text()))
    verdict["held_out_mix"] = mix
    if args.phone is not None:
        phone = [import_phone(csv, args.data) for csv in sorted(args.phone.glob("*.csv"))]
        if not phone:
            sys.exit(f"--phone {args.phone}: no CSV files there")
        evaluate(phone, "--policy", "always-on", "--policy", "adaptive", "--profile",
                 str(profile), "--json", "-o", str(args.results / "policy_phone.json"))
    (args.results / "policy_verdict.json").write_text(json.dumps(verdict, indent=1) + "\n")
    print(json.dumps(verdict, indent=1))


if __name__ == "__main__":
    main()
