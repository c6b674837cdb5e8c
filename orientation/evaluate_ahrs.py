"""Score sensekit's AHRS and its peers (imufusion, the ahrs package's Madgwick, VQF) the way
BROAD scores them, on the synthetic trials of ``sensekit.testing.motion`` and on real BROAD
trials when given.

usage:
    python orientation/evaluate_ahrs.py --seeds 3 -o orientation/results/synthetic.json
    python orientation/evaluate_ahrs.py --broad ../shared/corpus/imu/broad_*.hdf5 \\
        --hard-iron 0,0,0 5,-3,4 60,-40,80 -o orientation/results/broad02.json

Every peer runs with its defaults (imufusion at the trial's rate, ENU). With --hard-iron, each
BROAD trial is also scored with that constant field added to its magnetometer (a synthetic
attached magnet on real motion). Prints one line per trial and a summary of where sensekit is
above the better of imufusion and Madgwick or more than 10% above VQF.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sensekit.bench.ahrs import imufusion_estimate, madgwick_estimate
from sensekit.orientation import Ahrs
from sensekit.orientation.metrics import orientation_rmse_deg
from sensekit.testing.motion import KINDS, make_trial

Estimator = Callable[[np.ndarray, np.ndarray, np.ndarray | None, float], np.ndarray]


def sensekit_vqf(g: np.ndarray, a: np.ndarray, m: np.ndarray | None, fs: float) -> np.ndarray:
    return Ahrs(fs, backend="vqf").estimate(g, a, m)


def sensekit_cf(g: np.ndarray, a: np.ndarray, m: np.ndarray | None, fs: float) -> np.ndarray:
    return Ahrs(fs, backend="complementary").estimate(g, a, m)


def vqf_est(g: np.ndarray, a: np.ndarray, m: np.ndarray | None, fs: float) -> np.ndarray:
    from vqf import VQF

    c = np.ascontiguousarray
    out = VQF(1.0 / fs).updateBatch(c(g), c(a), None if m is None else c(m))
    return np.asarray(out["quat6D" if m is None else "quat9D"])


PEERS: dict[str, Estimator] = {"sensekit": sensekit_vqf, "sensekit_cf": sensekit_cf,
                               "imufusion": imufusion_estimate, "madgwick": madgwick_estimate,
                               "vqf": vqf_est}


def score(name: str, g: np.ndarray, a: np.ndarray, m: np.ndarray, fs: float, truth: np.ndarray,
          mask: np.ndarray) -> dict[str, dict[str, float | None]]:
    res: dict[str, dict[str, float | None]] = {}
    for peer, fn in PEERS.items():
        for use_mag in (False, True):
            t0 = time.perf_counter()
            q = fn(g, a, m if use_mag else None, fs)
            rate = len(g) / (time.perf_counter() - t0)
            incl, head = orientation_rmse_deg(q, truth, mask)
            res[f"{peer}{9 if use_mag else 6}"] = {
                "incl": round(incl, 3), "heading": round(head, 3) if use_mag else None,
                "rate": round(rate)}
    print(name, " ".join(f"{k}=({v['incl']},{v['heading']})" for k, v in res.items()),
          flush=True)
    return res


def verdict(rows: dict[str, dict[str, dict[str, float | None]]], who: str = "sensekit"
            ) -> list[str]:
    """Trials where ``who`` misses the goal: above min(imufusion, madgwick) or above 1.1 x
    VQF, per inclination (6D and 9D) and heading (9D)."""
    misses = []
    for trial, r in rows.items():
        for d in ("6", "9"):
            for metric in ("incl", "heading") if d == "9" else ("incl",):
                mine = r[f"{who}{d}"][metric]
                best = min(r[f"imufusion{d}"][metric], r[f"madgwick{d}"][metric])  # type: ignore[type-var]
                vqf = r[f"vqf{d}"][metric]
                assert mine is not None and best is not None and vqf is not None
                if mine > best or mine > 1.1 * vqf:
                    misses.append(f"{trial} {metric}{d}: {who} {mine} vs best peer {best}, "
                                  f"vqf {vqf}")
    return misses


def gate_experiment(kinds: list[str], seeds: int, broad: list[str]) -> None:
    """The tried-and-dropped acceleration gate: VQF with the samples whose specific force
    departs from 9.81 m/s^2 by more than T skipped (T = 0: none skipped); 6-axis inclination
    RMSE per trial and threshold."""
    from vqf import VQF

    def incl(g: np.ndarray, a: np.ndarray, fs: float, truth: np.ndarray, mask: np.ndarray,
             gate: float) -> float:
        a = a.copy()
        if gate:
            a[np.abs(np.linalg.norm(a, axis=1) - 9.81) > gate] = 0.0  # VQF skips zero rows
        q = VQF(1.0 / fs).updateBatch(np.ascontiguousarray(g), np.ascontiguousarray(a))
        return orientation_rmse_deg(q["quat6D"], truth, mask)[0]

    gates = (0.0, 2.0, 5.0, 10.0)
    print("| trial | " + " | ".join(f"T={t:g}" for t in gates) + " |")
    for kind in kinds:
        for seed in range(seeds):
            tr = make_trial(kind, seed)
            cells = [f"{incl(tr.gyr, tr.acc, tr.rate_hz, tr.quat, tr.movement, t):.2f}"
                     for t in gates]
            print(f"| {kind}/{seed} | " + " | ".join(cells) + " |")
    for path in broad:
        import h5py

        with h5py.File(path, "r") as h:
            g, a = np.asarray(h["imu_gyr"], float), np.asarray(h["imu_acc"], float)
            truth = np.asarray(h["opt_quat"], float)
            mask = np.asarray(h["movement"]).astype(bool) & np.all(np.isfinite(truth), 1)
            fs = float(h.attrs["sampling_rate"])
        cells = [f"{incl(g, a, fs, truth, mask, t):.2f}" for t in gates]
        print(f"| {Path(path).stem} | " + " | ".join(cells) + " |")


def table(rows: dict[str, dict[str, dict[str, float | None]]]) -> str:
    """Markdown: inclination (6-axis) and heading (9-axis) RMSE per trial and filter."""
    names = ("sensekit", "sensekit_cf", "imufusion", "madgwick", "vqf")
    lines = ["| trial | " + " | ".join(f"{n} incl / head" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for trial, r in rows.items():
        cells = [f"{r[n + '6']['incl']:.2f} / {r[n + '9']['heading']:.2f}" for n in names]
        lines.append(f"| {trial} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=0, help="synthetic trials per kind")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--broad", nargs="*", default=[], help="BROAD .hdf5 trials")
    ap.add_argument("--hard-iron", nargs="*", default=[], metavar="X,Y,Z",
                    help="constant fields (uT) to add to each BROAD trial's magnetometer")
    ap.add_argument("-o", "--output", help="write every figure as JSON here")
    ap.add_argument("--table", metavar="JSON", help="print the markdown table of a results file")
    ap.add_argument("--gate-experiment", action="store_true",
                    help="the acceleration gate that was tried and dropped (6-axis, VQF)")
    args = ap.parse_args(argv)
    if args.gate_experiment:
        gate_experiment(args.kinds.split(","), max(args.seeds, 1), args.broad)
        return 0
    if args.table:
        print(table(json.loads(Path(args.table).read_text())))
        return 0
    rows: dict[str, dict[str, dict[str, float | None]]] = {}
    for kind in args.kinds.split(",") if args.seeds else []:
        for seed in range(args.seeds):
            tr = make_trial(kind, seed)
            rows[f"{kind}/{seed}"] = score(f"{kind}/{seed}", tr.gyr, tr.acc, tr.mag, tr.rate_hz,
                                           tr.quat, tr.movement)
    for path in args.broad:
        import h5py

        with h5py.File(path, "r") as h:
            g, a, m = (np.asarray(h[k], float) for k in ("imu_gyr", "imu_acc", "imu_mag"))
            truth = np.asarray(h["opt_quat"], float)
            mask = np.asarray(h["movement"]).astype(bool) & np.all(np.isfinite(truth), 1)
            fs = float(h.attrs["sampling_rate"])
        for offset in args.hard_iron or ["0,0,0"]:
            b = np.array([float(x) for x in offset.split(",")])
            name = f"{Path(path).stem}+[{offset}]"
            rows[name] = score(name, g, a, m + b, fs, truth, mask)
    for who in ("sensekit", "sensekit_cf"):
        misses = verdict(rows, who)
        print(f"\n{who}: {len(misses)} misses of the goal")
        for line in misses:
            print("  " + line)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
