"""Measure what a workload costs in joules, phase by phase.

    python examples/workload_energy.py [-o energy-run] [--meter ina219@i2c://1/0x40?shunt_ohm=0.01]

The script measures itself: it runs again as the workload (``--workload``), which marks two
phases with :func:`sensekit.power.phase`. Without a meter it uses ``estimate``, a CPU model
labelled as an estimate in every output; on a board, name the INA219/INA226 in its supply line,
or ``pi5`` / ``jetson`` for the on-board monitors. The same as
``sensekit power measure -- python examples/workload_energy.py --workload``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import sensekit.power
from sensekit.power.report import load_run, phase_rows


def workload(seconds: float) -> None:
    with sensekit.power.phase("idle"):
        time.sleep(seconds)
    with sensekit.power.phase("matmul"):
        a = np.random.default_rng(0).standard_normal((256, 256))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            a = np.tanh(a @ a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("energy-run"))
    parser.add_argument("--meter", default="estimate")
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each phase")
    parser.add_argument("--workload", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workload:
        workload(args.seconds)
        return

    meter = sensekit.power.open_meter(args.meter, rate_hz=20)
    with meter:
        run = sensekit.power.measure(
            [sys.executable, __file__, "--workload", "--seconds", str(args.seconds)],
            meter, args.output, render=False)
    result = load_run(run)
    kind = "ESTIMATE" if result.estimate else "measured"
    print(f"run folder: {run} ({kind}, meter {args.meter})")
    for row in phase_rows(result):   # the whole workload, then each marked phase
        energy = row.integral
        print(f"  {row.name:9} {energy.energy_j:7.2f} J  {energy.average_w:5.2f} W  "
              f"{energy.window_s:5.2f} s")


if __name__ == "__main__":
    main()
