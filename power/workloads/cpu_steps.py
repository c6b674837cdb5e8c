"""A calibration workload: idle, then 1, 2 and all CPUs busy, each a marked phase.

Run under the harness::

    sensekit power measure --meter pi5 -- python power/workloads/cpu_steps.py --step-s 20

The phases give the platform's idle floor and its power per busy core, the figures the
platform tables (sensekit/power/tables/pi*.toml, jetson_*.toml) should be checked against.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

from sensekit.power import phase


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF


def busy(cores: int, seconds: float) -> None:
    """Keep ``cores`` CPUs busy for ``seconds``."""
    workers = [mp.Process(target=_spin, args=(seconds,)) for _ in range(cores)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-s", type=float, default=10.0, help="seconds per step")
    args = parser.parse_args()
    ncpu = os.cpu_count() or 1
    with phase("idle"):
        time.sleep(args.step_s)
    for cores in sorted({1, 2, ncpu}):
        if cores <= ncpu:
            with phase(f"{cores} core{'s' if cores > 1 else ''} busy"):
                busy(cores, args.step_s)
    with phase("idle again"):
        time.sleep(args.step_s)


if __name__ == "__main__":
    main()
