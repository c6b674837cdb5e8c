"""Score sensekit's AHRS and its peers (imufusion, the ahrs package's Madgwick, VQF) the way
BROAD scores them, on the synthetic trials of ``sensekit.testing.motion`` and on real BROAD
trials when given.

usage:
    python orientation/evaluate_ahrs.py --seeds 3 -o orientation/results/synthetic.json
    python orientation/evaluate_ahrs.py --seeds 4-7 -o orientation/results/blind.json
    python orientation/evaluate_ahrs.py --north --seeds 4-7 --kinds attached_magnet,office
    python orientation/evaluate_ahrs.py --learn-bound --broad ../shared/corpus/imu/broad_*.hdf5 \\
        --hard-iron 5,-3,4 200,-150,100
    python orientation/evaluate_ahrs.py --broad ../shared/corpus/imu/broad_*.hdf5 \\
        --hard-iron 0,0,0 5,-3,4 60,-40,80 -o orientation/results/broad02.json

Every peer runs with its defaults (imufusion at the trial's rate, ENU); ``sensekit_offline``
is ``Ahrs.estimate(..., offline=True)``, the non-causal whole-recording estimate;
``sensekit_stored`` streams with the offset a first streaming pass learnt (a device's next
run). Heading is also scored from 10 s into the movement (``heading_after_10s``: after the
first turns have shown the hard iron).
With --hard-iron, each BROAD trial is also scored with that constant field added to its
magnetometer (a synthetic attached magnet on real motion). Prints one line per trial and a
summary of where sensekit is above the better of imufusion and Madgwick or more than 10% above
VQF.
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
    return Ahrs(fs, backend="vqf").estimate(g, a, m, offline=False)


def sensekit_cf(g: np.ndarray, a: np.ndarray, m: np.ndarray | None, fs: float) -> np.ndarray:
    return Ahrs(fs, backend="complementary").estimate(g, a, m, offline=False)


def sensekit_offline(g: np.ndarray, a: np.ndarray, m: np.ndarray | None, fs: float
                     ) -> np.ndarray:
    return Ahrs(fs, backend="vqf").estimate(g, a, m, offline=True)


def sensekit_stored(g: np.ndarray, a: np.ndarray, m: np.ndarray | None, fs: float
                    ) -> np.ndarray:
    """Streaming, started with the offset a first streaming pass over the same recording
    learnt (a device that stored what it learnt on its last run)."""
    first = Ahrs(fs, backend="vqf")
    first.estimate(g, a, m, offline=False)
    return Ahrs(fs, backend="vqf", hard_iron_ut=first.hard_iron_ut).estimate(g, a, m, offline=False)


def vqf_est(g: np.ndarray, a: np.ndarray, m: np.ndarray | None, fs: float) -> np.ndarray:
    from vqf import VQF

    c = np.ascontiguousarray
    out = VQF(1.0 / fs).updateBatch(c(g), c(a), None if m is None else c(m))
    return np.asarray(out["quat6D" if m is None else "quat9D"])


PEERS: dict[str, Estimator] = {"sensekit": sensekit_vqf, "sensekit_cf": sensekit_cf,
                               "sensekit_offline": sensekit_offline,
                               "sensekit_stored": sensekit_stored,
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
            late = _after(mask, fs, CONVERGED_S)
            res[f"{peer}{9 if use_mag else 6}"] = {
                "incl": round(incl, 3), "heading": round(head, 3) if use_mag else None,
                f"heading_after_{CONVERGED_S:g}s": round(orientation_rmse_deg(
                    q, truth, late)[1], 3) if use_mag else None,
                "rate": round(rate)}
    print(name, " ".join(f"{k}=({v['incl']},{v['heading']})" for k, v in res.items()),
          flush=True)
    return res


#: "After convergence": the movement from this many seconds after it starts.
CONVERGED_S = 10.0


def _after(mask: np.ndarray, fs: float, seconds: float) -> np.ndarray:
    """``mask`` from ``seconds`` after its first sample on."""
    late = mask.copy()
    late[:int(np.flatnonzero(mask)[0]) + int(seconds * fs)] = False
    return late


def learn_bound(broad: list[str], offsets: list[str]) -> None:
    """The least heading RMSE a causal filter can reach on a trial that starts at rest with a
    magnet attached: the streaming filter given the true offset (and its heading set from it)
    D seconds after the scored movement starts, and no offset before (nothing tells a hard
    iron from a heading until the sensor turns)."""
    import h5py

    from sensekit.orientation.ahrs import _field_after

    delays = (0.0, 0.25, 0.5, 1.0, 2.0)
    print("| trial | " + " | ".join(f"D={d:g} s" for d in delays) + " |")
    for path in broad:
        with h5py.File(path, "r") as h:
            g, a, m = (np.asarray(h[k], float) for k in ("imu_gyr", "imu_acc", "imu_mag"))
            truth = np.asarray(h["opt_quat"], float)
            mask = np.asarray(h["movement"]).astype(bool) & np.all(np.isfinite(truth), 1)
            fs = float(h.attrs["sampling_rate"])
        start = int(np.flatnonzero(mask)[0])
        for offset in offsets:
            b = np.array([float(x) for x in offset.split(",")])
            cells = []
            for d in delays:
                k = start + int(d * fs)
                ahrs = Ahrs(fs, backend="vqf", hard_iron=False)
                q1 = ahrs.estimate(g[:k], a[:k], m[:k] + b, offline=False)
                ahrs._offset = b.copy()  # the true offset, from sample k on
                q6 = ahrs._backend.update(g[k:k + 1], a[k:k + 1], m[k:k + 1]).quat6d
                ahrs._backend.set_mag_reference(*_field_after(q6, m[k:k + 1] + b, b))
                q = np.concatenate([q1, q6, ahrs.estimate(g[k + 1:], a[k + 1:],
                                                          m[k + 1:] + b, offline=False)])
                cells.append(f"{orientation_rmse_deg(q, truth, mask)[1]:.2f}")
            print(f"| {Path(path).stem}+[{offset}] | " + " | ".join(cells) + " |", flush=True)


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


def north_experiment(kinds: list[str], seeds: range) -> None:
    """Where north is: the synthetic trials' truth is north-referenced (their earth field
    points north), so the mean heading difference (the constant the BROAD score removes) is
    the error of the absolute heading. Per trial, for sensekit streaming, offline, and offline
    with no hard iron learnt, with the offline fit's error (uT, largest axis)."""
    from sensekit.orientation import quaternion as quat

    def north(q: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
        d = quat.multiply(truth[mask], quat.conj(q[mask]))
        return float(np.degrees(np.angle(np.mean(np.exp(2j * np.arctan2(d[:, 3], d[:, 0]))))))

    print("| trial | magnet (uT) | streaming | offline | offline, no hard iron | fit error (uT) |")
    print("|---|---|---|---|---|---|")
    for kind in kinds:
        for seed in seeds:
            tr = make_trial(kind, seed)
            fs, mv = tr.rate_hz, tr.movement
            ahrs = Ahrs(fs)
            off = ahrs.estimate_full(tr.gyr, tr.acc, tr.mag, offline=True)
            cells = [north(Ahrs(fs).estimate(tr.gyr, tr.acc, tr.mag, offline=False), tr.quat, mv),
                     north(off.quat, tr.quat, mv),
                     north(Ahrs(fs, hard_iron=False).estimate(tr.gyr, tr.acc, tr.mag,
                                                              offline=True), tr.quat, mv)]
            err = float(np.abs(off.hard_iron_ut[-1] - tr.hard_iron_ut).max())
            print(f"| {kind}/{seed} | {np.linalg.norm(tr.hard_iron_ut):.0f} | " +
                  " | ".join(f"{c:.1f}" for c in cells) + f" | {err:.2f} |", flush=True)


def table(rows: dict[str, dict[str, dict[str, float | None]]]) -> str:
    """Markdown: inclination (6-axis) and heading (9-axis) RMSE per trial and filter."""
    names = tuple(n for n in ("sensekit", "sensekit_cf", "sensekit_offline", "imufusion",
                              "madgwick", "vqf") if n + "6" in next(iter(rows.values())))
    lines = ["| trial | " + " | ".join(f"{n} incl / head" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for trial, r in rows.items():
        cells = [f"{r[n + '6']['incl']:.2f} / {r[n + '9']['heading']:.2f}" for n in names]
        lines.append(f"| {trial} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _seeds(text: str) -> range:
    """``"3"`` -> seeds 0, 1, 2; ``"4-7"`` -> seeds 4 to 7."""
    lo, sep, hi = text.partition("-")
    return range(int(lo), int(hi) + 1) if sep else range(int(lo))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0", metavar="N|A-B",
                    help="synthetic trials per kind: seeds 0..N-1, or A..B inclusive")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--broad", nargs="*", default=[], help="BROAD .hdf5 trials")
    ap.add_argument("--hard-iron", nargs="*", default=[], metavar="X,Y,Z",
                    help="constant fields (uT) to add to each BROAD trial's magnetometer")
    ap.add_argument("-o", "--output", help="write every figure as JSON here")
    ap.add_argument("--table", metavar="JSON", help="print the markdown table of a results file")
    ap.add_argument("--north", action="store_true",
                    help="absolute heading error (synthetic trials are north-referenced)")
    ap.add_argument("--learn-bound", action="store_true",
                    help="heading RMSE with the true offset known D s after the movement "
                    "starts (BROAD trials with --hard-iron)")
    ap.add_argument("--gate-experiment", action="store_true",
                    help="the acceleration gate that was tried and dropped (6-axis, VQF)")
    args = ap.parse_args(argv)
    if args.gate_experiment:
        gate_experiment(args.kinds.split(","), max(len(_seeds(args.seeds)), 1), args.broad)
        return 0
    if args.learn_bound:
        learn_bound(args.broad, args.hard_iron or ["0,0,0"])
        return 0
    if args.north:
        north_experiment(args.kinds.split(","), _seeds(args.seeds))
        return 0
    if args.table:
        print(table(json.loads(Path(args.table).read_text())))
        return 0
    rows: dict[str, dict[str, dict[str, float | None]]] = {}
    for kind in args.kinds.split(","):
        for seed in _seeds(args.seeds):
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
    for who in ("sensekit", "sensekit_cf", "sensekit_offline", "sensekit_stored"):
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
