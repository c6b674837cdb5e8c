"""``sensekit bench hub``: one camera producer, K reader processes, hub vs multiprocessing.Queue.

The producer publishes 640x480x3 uint8 frames as fast as it can for a fixed time. sensekit
writes each frame once into a shared-memory ring (``Hub(shared=...)``) and every reader process
polls zero-copy views (:func:`sensekit.hub.connect`). The peer is the naive way: one
``multiprocessing.Queue`` per reader and a pickled copy of each frame put into each of them.

Two workloads: ``light`` (a reader takes the frame and reads its header) and ``full`` (a
reader reads every pixel: CRC-32 of the frame). The figure is frames each reader processed per
second of wall time, averaged over the readers, best of 2 runs (3 without ``--quick``), the
two sides alternating. A sensekit reader counts only frames that were still intact after it
used them (the seqlock check); frames it lost because the producer lapped it (or, ``full``,
skipped to take the newest frame: ``poll(latest=True)``) are reported in the note. PSS
(proportional set size, from ``/proc/<pid>/smaps_rollup``) of the producer plus all readers
is sampled while the ``full`` runs go on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import uuid
import warnings
import zlib
from typing import Any

import numpy as np

from ..errors import SampleDropped
from ..hub import Hub, connect
from ..packets import Packet
from . import Case, case

SHAPE = (480, 640, 3)
SLOTS = 32


def pss_kib(pid: int) -> int:
    """Proportional set size of ``pid`` in KiB (0 where /proc has no smaps_rollup)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _use(image: Any, t_ns: int, full: bool) -> int:
    """The readers' work: the header only, or every pixel."""
    return zlib.crc32(image) if full else int(image.shape[0]) + t_ns


def _hub_reader(hub_name: str, full: bool, ready: Any, results: Any) -> None:
    warnings.simplefilter("ignore", SampleDropped)
    sub = connect(hub_name, "camera", timeout_s=60)
    ready.set()
    frames = 0
    while True:
        finished = sub.producer_closed
        # A reader slower than the producer (full) takes the newest frame each time.
        packets = sub.poll(timeout_s=0.05, latest=full)
        for packet in packets:
            _use(packet["image"][0], int(packet.t_ns[0]), full)
            frames += sub.validate(packet)
        del packets
        if finished:
            break
    results.put((frames, sub.lost["camera"]))
    sub.close()


def _queue_reader(queue: Any, full: bool, ready: Any, results: Any) -> None:
    ready.set()
    frames = 0
    while (item := queue.get()) is not None:
        t_ns, image = item
        _use(image, t_ns, full)
        frames += 1
    results.put((frames, 0))


def _frames() -> list[Any]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, SHAPE, dtype=np.uint8) for _ in range(4)]


def _context() -> Any:
    # fork starts readers in milliseconds; both sides get the same start method.
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def _collect(procs: list[Any], results: Any, t0: float) -> tuple[float, list[int], list[int]]:
    got = [results.get(timeout=120) for _ in procs]
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join(30)
    return elapsed, [g[0] for g in got], [g[1] for g in got]


def _sample_pss(pids: list[int]) -> int:
    return sum(pss_kib(pid) for pid in [os.getpid(), *pids])


def run_hub(k: int, full: bool, seconds: float) -> dict[str, float]:
    """sensekit: one shared hub, ``k`` reader processes."""
    ctx, name = _context(), f"skbench-{uuid.uuid4().hex[:8]}"
    frames = _frames()
    ready, results = [ctx.Event() for _ in range(k)], ctx.Queue()
    hub = Hub(shared=name, capacity_packets=4, shared_slots=SLOTS)
    hub.publish(Packet("camera", np.zeros(1, np.int64), {"image": frames[0][None]}, "camera"))
    procs = [ctx.Process(target=_hub_reader, args=(name, full, ev, results)) for ev in ready]
    for p in procs:
        p.start()
    try:
        for ev in ready:
            ev.wait(60)
        sent, pss, t0 = 0, 0, time.perf_counter()
        while (now := time.perf_counter()) - t0 < seconds:
            image = frames[sent % len(frames)]
            image[0, 0, 0] = sent & 0xFF
            hub.publish(Packet("camera", np.array([time.monotonic_ns()], np.int64),
                               {"image": image[None]}, "camera"))
            sent += 1
            if not pss and now - t0 > 0.6 * seconds:
                pss = _sample_pss([p.pid for p in procs if p.pid])
    finally:
        hub.close()  # marks the ring closed: readers drain and report
    elapsed, got, lost = _collect(procs, results, t0)
    return {"fps": sum(got) / k / elapsed, "pss_mib": pss / 1024, "sent": sent,
            "lost_frac": sum(lost) / max(1, k * sent)}


def run_queue(k: int, full: bool, seconds: float) -> dict[str, float]:
    """The peer: a pickled copy of every frame through one Queue per reader."""
    ctx = _context()
    frames = _frames()
    ready, results = [ctx.Event() for _ in range(k)], ctx.Queue()
    queues = [ctx.Queue(maxsize=4) for _ in range(k)]
    procs = [ctx.Process(target=_queue_reader, args=(q, full, ev, results))
             for q, ev in zip(queues, ready, strict=True)]
    for p in procs:
        p.start()
    for ev in ready:
        ev.wait(60)
    sent, pss, t0 = 0, 0, time.perf_counter()
    while (now := time.perf_counter()) - t0 < seconds:
        image = frames[sent % len(frames)]
        image[0, 0, 0] = sent & 0xFF
        t_ns = time.monotonic_ns()
        for q in queues:
            q.put((t_ns, image))
        sent += 1
        if not pss and now - t0 > 0.6 * seconds:
            pss = _sample_pss([p.pid for p in procs if p.pid])
    for q in queues:
        q.put(None)
    elapsed, got, _ = _collect(procs, results, t0)
    for q in queues:
        q.close()
        q.join_thread()
    return {"fps": sum(got) / k / elapsed, "pss_mib": pss / 1024, "sent": sent}


def _best(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the most frames/s (timeit's rule: the others were disturbed more)."""
    return max(runs, key=lambda r: r["fps"])


def run(quick: bool) -> list[Case]:
    """Both workloads at K = 1, 2, 4, 8, best of 2 (3) alternated runs, then PSS."""
    seconds, repeats = (0.6, 2) if quick else (2.0, 3)
    cases: list[Case] = []
    pss: dict[int, tuple[float, float]] = {}
    for workload in ("light", "full"):
        for k in (1, 2, 4, 8):
            full = workload == "full"
            runs = [(run_hub(k, full, seconds), run_queue(k, full, seconds))
                    for _ in range(repeats)]
            ours, peer = _best([r[0] for r in runs]), _best([r[1] for r in runs])
            note = (f"hub readers lost {ours['lost_frac']:.0%} of the frames (lapped by the "
                    "producer" + (", or skipped for the newest" if workload == "full" else "")
                    + f", each counted); producer sent {ours['sent']:.0f} frames, "
                    f"{peer['sent']:.0f} with Queue")
            cases.append(case(f"{workload} K={k}", ours["fps"], "frames/s", peer["fps"],
                              note=note))
            if workload == "full":
                pss[k] = (ours["pss_mib"], peer["pss_mib"])
    ring_mib = SLOTS * np.prod(SHAPE) / 2**20
    for k, (ours_mib, peer_mib) in pss.items():
        cases.append(case(f"pss K={k}", ours_mib, "MiB", peer_mib, higher_is_better=False,
                          note=f"producer + {k} readers; the hub's ring is {ring_mib:.0f} MiB"
                          if k == 8 else ""))
    if pss.get(1, (0, 0))[0] and pss.get(8, (0, 0))[0]:
        per = [(pss[8][i] - pss[1][i]) / 7 for i in (0, 1)]
        cases.append(case("pss per extra reader", per[0], "MiB", per[1],
                          higher_is_better=False, note="(PSS at K=8 - PSS at K=1) / 7"))
    return cases
