"""Real-data check of the IMU path on UEA problems shipped inside aeon (offline).

    python fusion/uea_check.py BasicMotions --seeds 5
    python fusion/uea_check.py PickupGestureWiimoteZ --seeds 5

BasicMotions: accelerometer (dims 0-2) and gyroscope (dims 3-5) as two modalities, 10 s at
10 Hz. PickupGestureWiimoteZ: one Wiimote z-axis acceleration series of unequal length,
resampled to a fixed length. Prints test accuracy per seed, the mean, and the same for the
DeepConvLSTM baseline; ``--json`` writes them.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

import sensekit.fusion as fusion
from sensekit.fusion.augment import Augment
from sensekit.fusion.data import uea_dataset
from sensekit.fusion.train import TrainOptions, evaluate, fit

PROBLEMS = {
    # name: (modality groups, rate Hz, length, epochs, batch)
    "BasicMotions": ({"accel": [0, 1, 2], "gyro": [3, 4, 5]}, 10.0, None, 60, 8),
    "PickupGestureWiimoteZ": ({"accel": [0]}, 100.0, 256, 150, 8),
}


def run_one(problem: str, model: str, seed: int) -> float:
    groups, rate, length, epochs, batch = PROBLEMS[problem]
    train = uea_dataset(problem, "train", groups, rate, length=length)
    test = uea_dataset(problem, "test", groups, rate, length=length)
    torch.manual_seed(seed)
    net = fusion.create_model(model, modalities=train.modalities, tasks=train.classes)
    fit(net, train, None, TrainOptions(epochs=epochs, batch_size=batch, seed=seed,
                                       modality_dropout=0.0, progress=False,
                                       augment=Augment(rotate_deg=10, time_warp=0.05)))
    return evaluate(net, test)["class"]["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("problem", choices=sorted(PROBLEMS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--models", default="fusion_small,deepconvlstm")
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = {}
    for model in args.models.split(","):
        t0 = time.perf_counter()
        accs = [run_one(args.problem, model, s) for s in range(args.seeds)]
        out[model] = {"accuracy": accs, "mean": float(np.mean(accs)), "min": min(accs),
                      "seconds": round(time.perf_counter() - t0, 1)}
        print(f"{args.problem} {model}: per seed {[round(a, 3) for a in accs]} "
              f"mean {np.mean(accs):.4f} min {min(accs):.3f} "
              f"({out[model]['seconds']} s)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({args.problem: out}, f, indent=1)


if __name__ == "__main__":
    main()
