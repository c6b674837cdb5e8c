"""``sensekit bench fleet``: recordings per second on Dask workers against a plain loop.

The work is ``sensekit fleet windows`` (align every sensor of a simulated day, log-mel audio,
resized frames, shards written): copies of one simulated day, so every task does the same
work. The peer is what people write without the fleet: a ``for`` loop calling the same
per-recording function in one process. Both sides run one thread per process (OMP, BLAS and
ONNX Runtime threads at 1: :data:`~sensekit.fleet.engine.ONE_THREAD_ENV`), the loop in a fresh
process started the way Dask starts its workers, and each repeat runs the loop and every
cluster size back to back, so a change of machine load hits them alike. Clusters are started
before timing and warmed with one task per worker; their start-up time is reported apart.

Per-task overhead: small recordings (one second of IMU) through ``info``, where the work is
a few milliseconds and what remains is the fleet's own cost per recording (a Dask task, the
input's SHA-256, the attempt mark, the rename, the manifest).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from . import Case, case

#: Wall-clock and CPU seconds of one pass.
Timing = tuple[float, float]
WINDOWS_OPTIONS = {"window_s": 2.0, "hop_s": None, "format": "npz", "shard_windows": 1024,
                   "modalities": None, "tasks": None}


def _day(folder: Path, seconds: float, copies: int) -> list[Path]:
    from ..testing.scenario import SimConfig, simulate

    first = folder / "day-000.mcap"
    simulate(first, SimConfig(duration_s=seconds, seed=1))
    paths = [first]
    for i in range(1, copies):
        paths.append(folder / f"day-{i:03d}.mcap")
        shutil.copyfile(first, paths[-1])
    return paths


def _small(folder: Path, count: int) -> list[Path]:
    import numpy as np

    from ..clock import FakeClock
    from ..log.recorder import Recorder
    from ..packets import Packet

    paths = []
    for i in range(count):
        clock = FakeClock()
        paths.append(folder / f"small-{i:03d}.mcap")
        with Recorder(paths[-1], clock=clock) as rec:
            t = clock.now_ns() + np.arange(100, dtype=np.int64) * 10_000_000
            rec.write(Packet("imu", t, {"accel_mps2": np.zeros((100, 3), np.float32)}, "imu"))
    return paths


def _loop(work: str, options: dict[str, Any], paths: Sequence[str], out: str) -> Timing:
    """The peer, in its own process: one recording after the other; wall and CPU seconds."""
    from ..fleet.task import resolve_work

    fn = resolve_work(work)
    opts = argparse.Namespace(**options)
    fn(opts, Path(paths[0]), Path(out) / "warm-up")
    start, cpu = time.perf_counter(), time.process_time()
    for i, path in enumerate(paths):
        fn(opts, Path(path), Path(out) / f"{i:05d}")
    return time.perf_counter() - start, time.process_time() - cpu


@contextmanager
def _one_thread_process() -> Iterator[ProcessPoolExecutor]:
    """A fresh process with the fleet workers' thread settings (set before it starts)."""
    from ..fleet.engine import ONE_THREAD_ENV

    before = {k: os.environ.get(k) for k in ONE_THREAD_ENV}
    os.environ.update(ONE_THREAD_ENV)
    try:
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            yield pool
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _sequential(pool: ProcessPoolExecutor, job: str, options: dict[str, Any],
                paths: Sequence[Path], scratch: Path) -> Timing:
    from ..fleet.jobs import JOBS

    out = Path(tempfile.mkdtemp(dir=scratch))
    try:
        timing: Timing = pool.submit(_loop, JOBS[job].work, options, [str(p) for p in paths],
                                     str(out)).result()
        return timing
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _cpu_seconds(client: Any) -> float:
    """CPU seconds so far of the workers (the task and the worker's own event loop; the
    scheduler and the client, which serve every worker, are left out)."""
    workers: dict[str, float] = client.run(time.process_time)
    return sum(workers.values())


def _fleet(client: Any, job: str, options: dict[str, Any], paths: Sequence[Path],
           scratch: Path) -> Timing:
    from ..fleet.engine import run_fleet

    out = Path(tempfile.mkdtemp(dir=scratch))
    try:
        cpu = _cpu_seconds(client)
        result = run_fleet(job, [str(p) for p in paths], str(out), options, client=client)
        cpu = _cpu_seconds(client) - cpu
        failed = [r.error for r in result.results if r.status != "ok"]
        if failed:
            raise RuntimeError(f"bench fleet: {len(failed)} tasks failed: {failed[0]}")
        return result.wall_s, cpu
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _worker_counts() -> list[int]:
    from ..fleet.engine import default_workers

    cores = default_workers()
    counts = [1]
    while counts[-1] * 2 <= cores:
        counts.append(counts[-1] * 2)
    return counts if cores in counts else [*counts, cores]


def run(quick: bool) -> list[Case]:
    """Throughput of the windows job against workers, the loop, and the per-task overhead."""
    from ..fleet.engine import connect

    copies, seconds, repeats, small = (8, 60.0, 3, 24) if quick else (24, 120.0, 3, 60)
    counts = _worker_counts()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sensekit-bench-fleet-") as tmp, ExitStack() as stack:
        scratch = Path(tmp)
        days, tiny = _day(scratch, seconds, copies), _small(scratch, small)
        mb = sum(p.stat().st_size for p in days) / 1e6
        pool = stack.enter_context(_one_thread_process())
        clients, started = {}, {}
        for k in counts:
            t0 = time.perf_counter()
            clients[k] = stack.enter_context(connect(k))
            started[k] = time.perf_counter() - t0
            _fleet(clients[k], "windows", WINDOWS_OPTIONS, days[:k], scratch)  # warm-up
        loop: list[Timing] = []
        fleet: dict[int, list[Timing]] = {k: [] for k in counts}
        for _ in range(repeats):
            loop.append(_sequential(pool, "windows", WINDOWS_OPTIONS, days, scratch))
            for k in counts:
                fleet[k].append(_fleet(clients[k], "windows", WINDOWS_OPTIONS, days, scratch))
        tiny_loop = _sequential(pool, "info", {"skip_corrupt": False}, tiny, scratch)
        tiny_fleet = _fleet(clients[1], "info", {"skip_corrupt": False}, tiny, scratch)
    load = f"1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    return _cases(copies, seconds, mb, loop, fleet, started, small, tiny_loop, tiny_fleet, load)


def _cases(copies: int, seconds: float, mb: float, loop: list[Timing],
           fleet: dict[int, list[Timing]], started: dict[int, float], small: int,
           tiny_loop: Timing, tiny_fleet: Timing, load: str) -> list[Case]:
    def median(times: list[Timing], which: int) -> float:
        return statistics.median(t[which] for t in times)

    rate, cpu = copies / median(loop, 0), 1e3 * median(loop, 1) / copies
    what = (f"{copies} simulated days of {seconds:g} s ({mb:,.0f} MB), windows job; median "
            f"of {len(loop)} repeats; {load}")
    cases = [case("plain loop, 1 process", rate, "recordings/s",
                  note=f"{what}; {rate * mb / copies:,.1f} MB/s")]
    one = copies / median(fleet[1], 0)
    for k, times in fleet.items():
        fleet_rate = copies / median(times, 0)
        workers = f"{k} worker{'s' if k > 1 else ''}"
        cases.append(case(f"fleet, {workers}", fleet_rate, "recordings/s", rate,
                          note=f"{fleet_rate * mb / copies:,.1f} MB/s; peer: the plain loop"))
        if k > 1:
            cases.append(case(f"{k} workers against 1", fleet_rate, "recordings/s", one,
                              note=f"goal on a quiet 2-core machine: 2 workers at least 1.7x "
                                   f"one; local cluster of {k} started in {started[k]:.1f} s"))
        cases.append(case(f"CPU per recording, {workers}", 1e3 * median(times, 1) / copies,
                          "ms", cpu, higher_is_better=False,
                          note="CPU of the worker processes against the loop's process; "
                               "a worker's event loop runs as long as the pass, so a busy "
                               "machine adds to it"))
    overhead_ms = 1e3 * (tiny_fleet[0] - tiny_loop[0]) / small
    cases.append(case("per-task overhead, small recordings", overhead_ms, "ms/task",
                      note=f"{small} one-second IMU recordings through info on 1 worker: "
                           f"{1e3 * tiny_fleet[0] / small:.1f} ms a task against "
                           f"{1e3 * tiny_loop[0] / small:.1f} ms in the loop; CPU "
                           f"{1e3 * tiny_fleet[1] / small:.1f} ms against "
                           f"{1e3 * tiny_loop[1] / small:.1f} ms"))
    return cases
