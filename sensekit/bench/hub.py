"""``sensekit bench hub``: one camera producer, K reader processes; the hub against two peers.

The producer publishes 640x480x3 uint8 frames as fast as it can for a fixed time. Three sides
run the same workload in turn, each repeat running all three back to back:

- **hub** (sensekit): ``Hub(shared=...)`` writes each frame once into a shared-memory ring and
  every reader process polls zero-copy views (:func:`sensekit.hub.connect`), checking each
  view after use (:meth:`~sensekit.hub.SharedSubscriber.validate`);
- **Queue** (the naive way): one ``multiprocessing.Queue`` per reader and a pickled copy of
  each frame put into each of them;
- **bare ring** (the floor): :class:`BareRing`, a minimal seqlock ring over
  ``multiprocessing.shared_memory`` written here: fixed frame slots, a head counter, a
  sequence word per slot checked before and after use, no framing, no per-stream layout, no
  metadata, no warnings. Its readers wait the way the hub's do
  (:class:`sensekit.ring_reader.Pacer`: sleep until a few frames are there, 50 us to 1 ms).

Each repeat runs the three in turn, in an order rotated from one repeat to the next.

Two workloads: ``light`` (a reader takes the frame and reads its header) and ``full`` (a
reader reads every pixel: CRC-32 of the frame; a reader slower than the producer takes the
newest frame each time, ``poll(latest=True)`` and its equivalent in the bare ring). The figure
is frames each reader processed per second while the producer ran, averaged over the readers.
Readers of the two rings count only frames still intact after use (the sequence check);
frames they lost (lapped by the producer, or skipped for the newest) are counted and reported.
Latency is publish to read (the reader's clock minus the producer's, both monotonic) over the
``light`` frames; jitter is its standard deviation. PSS (proportional set size, from
``/proc/<pid>/smaps_rollup``) of the producer plus all readers is sampled while the ``full``
runs go on: the cost of one more reader is (PSS at the largest K - PSS at K=1) / (K - 1).
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import platform
import time
import uuid
import warnings
import zlib
from collections.abc import Callable
from multiprocessing import shared_memory
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import SampleDropped
from ..hub import Hub, connect
from ..packets import Packet
from ..ring_reader import Pacer
from . import Case, repeated

SHAPE = (480, 640, 3)
SLOTS = 32
SIDES = ("hub", "ring", "queue")
#: Read times kept per reader (enough for a reader at 50,000 frames/s for 2 s).
MAX_FRAMES = 100_000


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


class _Tally:
    """What one reader saw: when it read each frame and how old the frame was then."""

    def __init__(self) -> None:
        self.read_ns = np.zeros(MAX_FRAMES, np.int64)
        self.age_ns = np.zeros(MAX_FRAMES, np.int64)
        self.frames = 0
        self.lost = 0
        self.torn = 0  # frames overwritten while in use (found after use: work wasted)

    def got(self, t_ns: int, now_ns: int) -> None:
        i = self.frames
        if i < MAX_FRAMES:
            self.read_ns[i] = now_ns
            self.age_ns[i] = now_ns - t_ns
        self.frames = i + 1

    def result(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int, int]:
        n = min(self.frames, MAX_FRAMES)
        return self.read_ns[:n].copy(), self.age_ns[:n].copy(), self.lost, self.torn


# -- the floor: a bare seqlock ring ------------------------------------------------------------

class BareRing:
    """A minimal seqlock ring of fixed-size frames over ``multiprocessing.shared_memory``.

    Word 0 of the segment is the head (frames written); slot ``i`` starts at
    ``64 + i * stride`` with its sequence word (``2n+1`` while frame ``n`` is written,
    ``2n+2`` after), the frame's timestamp, then the pixels. Readers inherit the mapping
    (fork), so nothing but the seqlock protocol is involved.
    """

    def __init__(self, shape: tuple[int, ...], slots: int) -> None:
        self.slots = slots
        nbytes = int(np.prod(shape))
        self.stride = (64 + nbytes + 63) // 64 * 64
        self.shm = shared_memory.SharedMemory(create=True, size=64 + slots * self.stride)
        buf = self.shm.buf
        assert buf is not None
        self.words = buf.cast("Q")
        self.frames = [np.ndarray(shape, np.uint8, buf, 64 + i * self.stride + 64)
                       for i in range(slots)]
        self.seq = [(64 + i * self.stride) // 8 for i in range(slots)]

    def write(self, frame: npt.NDArray[np.uint8], t_ns: int) -> None:
        words, n = self.words, self.words[0]
        slot = n % self.slots
        seq = self.seq[slot]
        words[seq] = 2 * n + 1
        words[seq + 1] = t_ns
        np.copyto(self.frames[slot], frame)
        words[seq] = 2 * n + 2
        words[0] = n + 1

    def close(self) -> None:
        self.frames.clear()
        self.words.release()
        self.shm.close()
        self.shm.unlink()


def _ring_read(ring: BareRing, n: int, full: bool, tally: _Tally) -> None:
    words, slot = ring.words, n % ring.slots
    seq, good = ring.seq[slot], 2 * n + 2
    if words[seq] != good:
        tally.lost += 1
        return
    t_ns = words[seq + 1]
    now = time.monotonic_ns()
    _use(ring.frames[slot], t_ns, full)
    if words[seq] != good:
        tally.lost += 1
        tally.torn += 1
        return
    tally.got(t_ns, now)


def _ring_reader(ring: BareRing, full: bool, stop: Any, ready: Any, results: Any) -> None:
    tally, nxt, delay = _Tally(), int(ring.words[0]), 0.0
    pacer = Pacer.for_ring(ring.slots)  # as a hub reader's
    ready.set()
    while True:
        head = int(ring.words[0])
        if head == nxt:
            if stop.is_set() and int(ring.words[0]) == nxt:
                break
            delay = min(2 * delay, Pacer.MAX_S) if delay else pacer.first_delay()
            time.sleep(delay)
            continue
        delay = 0.0
        pacer.found(head - nxt, time.monotonic())
        start = head - 1 if full else max(nxt, head - ring.slots + 1)
        tally.lost += start - nxt
        for n in range(start, head):
            _ring_read(ring, n, full, tally)
        nxt = head
    results.put(tally.result())


def run_ring(k: int, full: bool, seconds: float) -> dict[str, Any]:
    """The floor: the bare seqlock ring, ``k`` reader processes."""
    ctx, frames = _context(), _frames()
    ring = BareRing(SHAPE, SLOTS)
    stop = ctx.Event()
    try:
        return _drive(ctx, k, seconds, lambda ev, res: ctx.Process(
            target=_ring_reader, args=(ring, full, stop, ev, res)),
            lambda n, t: ring.write(_frame(frames, n), t), stop.set)
    finally:
        ring.close()


# -- sensekit ----------------------------------------------------------------------------------

def _hub_reader(hub_name: str, full: bool, ready: Any, results: Any) -> None:
    warnings.simplefilter("ignore", SampleDropped)
    sub = connect(hub_name, "camera", timeout_s=60)
    tally = _Tally()
    ready.set()
    while True:
        # A reader slower than the producer (full) takes the newest frame each time.
        packets = sub.poll(timeout_s=0.05, latest=full)
        if not packets and sub.producer_closed:
            packets = sub.poll(timeout_s=0, latest=full)  # what came before the close
            if not packets:
                break
        now = time.monotonic_ns()
        for packet in packets:
            t_ns = int(packet.t_ns[0])
            _use(packet["image"], t_ns, full)  # one frame per packet: its bytes are the frame
            if sub.validate(packet):
                tally.got(t_ns, now)
            else:
                tally.torn += 1
        del packets
    tally.lost = sub.lost["camera"]
    results.put(tally.result())
    sub.close()


def run_hub(k: int, full: bool, seconds: float) -> dict[str, Any]:
    """sensekit: one shared hub, ``k`` reader processes."""
    ctx, frames = _context(), _frames()
    name = f"skbench-{uuid.uuid4().hex[:8]}"
    hub = Hub(shared=name, capacity_packets=4, shared_slots=SLOTS)
    hub.publish(Packet("camera", np.zeros(1, np.int64), {"image": frames[0][None]}, "camera"))

    def publish(n: int, t_ns: int) -> None:
        hub.publish(Packet("camera", np.array([t_ns], np.int64),
                           {"image": _frame(frames, n)[None]}, "camera"))

    try:
        return _drive(ctx, k, seconds, lambda ev, res: ctx.Process(
            target=_hub_reader, args=(name, full, ev, res)), publish, hub.close)
    finally:
        hub.close()  # marks the ring closed: readers drain and report


# -- the naive way -----------------------------------------------------------------------------

def _queue_reader(queue: Any, full: bool, ready: Any, results: Any) -> None:
    tally = _Tally()
    ready.set()
    while (item := queue.get()) is not None:
        t_ns, image = item
        now = time.monotonic_ns()
        _use(image, t_ns, full)
        tally.got(t_ns, now)
    results.put(tally.result())


def run_queue(k: int, full: bool, seconds: float) -> dict[str, Any]:
    """The peer: a pickled copy of every frame through one Queue per reader."""
    ctx, frames = _context(), _frames()
    queues = [ctx.Queue(maxsize=4) for _ in range(k)]
    readers = iter(queues)

    def publish(n: int, t_ns: int) -> None:
        image = _frame(frames, n)
        for q in queues:
            q.put((t_ns, image))

    def stop() -> None:
        for q in queues:
            q.put(None)

    result = _drive(ctx, k, seconds, lambda ev, res: ctx.Process(
        target=_queue_reader, args=(next(readers), full, ev, res)), publish, stop)
    for q in queues:
        q.close()
        q.join_thread()
    return result


# -- the common driver -------------------------------------------------------------------------

def _frames() -> list[npt.NDArray[np.uint8]]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, SHAPE, dtype=np.uint8) for _ in range(4)]


def _frame(frames: list[npt.NDArray[np.uint8]], n: int) -> npt.NDArray[np.uint8]:
    image = frames[n % len(frames)]
    image[0, 0, 0] = n & 0xFF  # every frame differs from the one before
    return image


def _context() -> Any:
    # fork starts readers in milliseconds; every side gets the same start method.
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def _drive(ctx: Any, k: int, seconds: float, make: Callable[[Any, Any], Any],
           publish: Callable[[int, int], None], finish: Callable[[], None]) -> dict[str, Any]:
    """Start ``k`` readers, publish for ``seconds``, stop them, gather what they saw."""
    ready, results = [ctx.Event() for _ in range(k)], ctx.Queue()
    procs = [make(ev, results) for ev in ready]
    for p in procs:
        p.start()
    try:
        for ev in ready:
            ev.wait(60)
        sent, pss, t0 = 0, 0, time.perf_counter()
        start_ns = time.monotonic_ns()
        while (now := time.perf_counter()) - t0 < seconds:
            publish(sent, time.monotonic_ns())
            sent += 1
            if not pss and now - t0 > 0.6 * seconds:
                pss = sum(pss_kib(pid) for pid in [os.getpid(), *(p.pid for p in procs)])
        stop_ns = time.monotonic_ns()
    finally:
        finish()
    got = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    return _summary(got, k, sent, pss, start_ns, stop_ns)


def _summary(got: list[Any], k: int, sent: int, pss: int, start_ns: int,
             stop_ns: int) -> dict[str, Any]:
    span_s = (stop_ns - start_ns) / 1e9
    frames = sum(int(np.count_nonzero(read <= stop_ns)) for read, _, _, _ in got)
    ages = np.concatenate([age for _, age, _, _ in got]) / 1e6
    lost = sum(lost for _, _, lost, _ in got)
    torn = sum(torn for _, _, _, torn in got)
    return {"fps": frames / k / span_s, "pss_mib": pss / 1024, "sent": sent,
            "lost_frac": lost / max(1, k * sent), "torn_frac": torn / max(1, frames + torn),
            "p50_ms": float(np.median(ages)) if ages.size else float("nan"),
            "p99_ms": float(np.percentile(ages, 99)) if ages.size else float("nan"),
            "jitter_ms": float(np.std(ages)) if ages.size else float("nan")}


# -- CPU per frame, in one process --------------------------------------------------------------

def frame_costs(shape: tuple[int, ...], n: int = 2000) -> dict[str, float]:
    """CPU seconds per frame of publishing and reading (16 at a time) with the hub and with
    the bare ring, in this process: the producer's and a reader's own work, without the
    scheduling and wake-ups of the cross-process runs. Each ring is written round once
    before it is timed, so that the first touch of its pages (page faults) is not counted."""
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    name = f"skbench-{uuid.uuid4().hex[:8]}"
    hub = Hub(shared=name, capacity_packets=4, shared_slots=SLOTS)
    packet = Packet("camera", np.zeros(1, np.int64), {"image": image[None]}, "camera")
    hub.publish(packet)
    sub = connect(name, "camera")

    def hub_read() -> None:
        for p in sub.poll(0):
            _use(p["image"], int(p.t_ns[0]), False)
            sub.validate(p)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SampleDropped)  # the publishing loop laps the reader
            _cpu(lambda: hub.publish(packet), SLOTS)
            out = {"hub publish": _cpu(lambda: hub.publish(packet), n),
                   "hub read": _cpu_reads(lambda: hub.publish(packet), hub_read, n)}
    finally:
        sub.close()
        hub.close()
    ring, tally = BareRing(shape, SLOTS), _Tally()
    try:
        _cpu(lambda: ring.write(image, 0), SLOTS)
        out["ring publish"] = _cpu(lambda: ring.write(image, 0), n)

        def ring_read() -> None:
            head = int(ring.words[0])
            for k in range(head - 16, head):
                _ring_read(ring, k, False, tally)

        out["ring read"] = _cpu_reads(lambda: ring.write(image, 0), ring_read, n)
    finally:
        ring.close()
    return out


def _cpu(fn: Callable[[], object], n: int) -> float:
    start = time.thread_time()
    for _ in range(n):
        fn()
    return (time.thread_time() - start) / n


def _cpu_reads(write: Callable[[], object], read: Callable[[], object], n: int) -> float:
    spent = 0.0
    for _ in range(n // 16):
        for _ in range(16):
            write()
        start = time.thread_time()
        read()
        spent += time.thread_time() - start
    return spent / (n // 16 * 16)


RUNNERS: dict[str, Callable[[int, bool, float], dict[str, Any]]] = {
    "hub": run_hub, "ring": run_ring, "queue": run_queue}


def warm_heap() -> bool:
    """Keep large buffers in glibc's heap, so that pickled frames reuse warm pages.

    Sets ``M_MMAP_THRESHOLD`` to 4 MiB (buffers up to that size come from the heap, not from
    a fresh ``mmap``) and ``M_TRIM_THRESHOLD`` to 256 MiB (freed heap is kept, not handed
    back and faulted in again). Forked readers inherit it. Returns False, changing nothing,
    where the C library is not glibc.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(libc.mallopt(m_mmap_threshold, 4 << 20)) and \
        bool(libc.mallopt(m_trim_threshold, 256 << 20))


# -- the cases ---------------------------------------------------------------------------------

def _throughput(workload: str, k: int, runs: list[dict[str, dict[str, Any]]]) -> list[Case]:
    hub, ring, queue = ([r[s] for r in runs] for s in SIDES)
    fps = [r["fps"] for r in hub]
    why = "lapped by the producer" + (", or skipped for the newest" if workload == "full"
                                      else "")
    lost = np.median([r["lost_frac"] for r in hub])
    ring_lost = np.median([r["lost_frac"] for r in ring])
    sent = np.median([r["sent"] for r in hub])
    # What the floor itself reaches against the Queue (the same pairing and median as the
    # cases): no shared ring's ratio goes far past it.
    floor = repeated("floor", [r["fps"] for r in ring], "frames/s",
                     [q["fps"] for q in queue]).ratio or float("nan")
    return [
        repeated(f"{workload} K={k}", fps, "frames/s", [r["fps"] for r in queue],
                 note=f"peer: multiprocessing.Queue (warm heap); hub readers lost {lost:.0%} of "
                 f"the frames ({why}, each counted); producer sent {sent:,.0f} frames, "
                 f"{np.median([r['sent'] for r in queue]):,.0f} with Queue; the bare ring "
                 f"reached {floor:.1f}x the Queue"),
        repeated(f"{workload} K={k} vs bare ring", fps, "frames/s", [r["fps"] for r in ring],
                 note=f"peer: the bare seqlock ring (1.00x: as fast; the goal is >= 0.67x); "
                 f"its readers lost {ring_lost:.0%}"),
    ]


def _latency(k: int, runs: list[dict[str, dict[str, Any]]]) -> list[Case]:
    hub, ring, queue = ([r[s] for r in runs] for s in SIDES)
    out = []
    for key, label in (("p50_ms", "median"), ("p99_ms", "p99"), ("jitter_ms", "jitter")):
        floor = np.median([r[key] for r in ring])
        out.append(repeated(f"light K={k} latency {label}", [r[key] for r in hub], "ms",
                            [r[key] for r in queue], higher_is_better=False,
                            note=f"publish to read; peer: Queue; bare ring {floor:.3g} ms"))
    return out


def _memory(pss: dict[int, list[dict[str, dict[str, Any]]]]) -> list[Case]:
    ks = sorted(pss)
    cases = []
    for k in ks:
        cases.append(repeated(f"pss K={k}", [r["hub"]["pss_mib"] for r in pss[k]], "MiB",
                              [r["queue"]["pss_mib"] for r in pss[k]], higher_is_better=False,
                              note=f"producer + {k} readers; the hub's ring is "
                              f"{SLOTS * np.prod(SHAPE) / 2**20:.0f} MiB" if k == ks[-1] else ""))
    if len(ks) > 1 and all(r["hub"]["pss_mib"] for r in pss[ks[0]] + pss[ks[-1]]):
        lo, hi = pss[ks[0]], pss[ks[-1]]

        def per(side: str) -> list[float]:
            return [(b[side]["pss_mib"] - a[side]["pss_mib"]) / (ks[-1] - ks[0])
                    for a, b in zip(lo, hi, strict=True)]

        ring = float(np.median(per("ring")))
        cases.append(repeated("pss per extra reader", per("hub"), "MiB", per("queue"),
                              higher_is_better=False,
                              note=f"(PSS at K={ks[-1]} - PSS at K={ks[0]}) / {ks[-1] - ks[0]}; "
                              f"bare ring {ring:.2f} MiB"))
    return cases


#: (workload, reader counts) of a quick run and of a full one. A quick run measures what the
#: goals are stated for (K=8) and K=1 for the memory one more reader costs.
PLAN = ((("light", (8,)), ("full", (1, 8))),
        (("light", (1, 2, 4, 8)), ("full", (1, 2, 4, 8))))


def run(quick: bool) -> list[Case]:
    """Both workloads at each K, every side in turn per repeat; then latency and PSS.

    Calls :func:`warm_heap` first, which holds for the rest of this process (freed heap is
    kept rather than handed back); ``sensekit bench all`` runs each benchmark in a process of
    its own, so the others are not affected.
    """
    warm_heap()  # the Queue in its fast mode, whatever this process did before
    seconds, repeats = (0.6, 3) if quick else (2.0, 5)
    cases: list[Case] = []
    latency: list[Case] = []
    pss: dict[int, list[dict[str, dict[str, Any]]]] = {}
    for workload, ks in PLAN[0 if quick else 1]:
        for k in ks:
            full = workload == "full"
            runs = [_repeat(k, full, seconds, r) for r in range(repeats)]
            cases += _throughput(workload, k, runs)
            if full:
                pss[k] = runs
            else:
                latency += _latency(k, runs)
    return cases + latency + _memory(pss) + _costs(repeats)


def _repeat(k: int, full: bool, seconds: float, r: int) -> dict[str, dict[str, Any]]:
    """One repeat: every side in turn, the order rotated each repeat so that none always
    runs right after another's teardown."""
    order = SIDES[r % len(SIDES):] + SIDES[:r % len(SIDES)]
    return {side: RUNNERS[side](k, full, seconds) for side in order}


def _costs(repeats: int) -> list[Case]:
    """The hub's and the bare ring's own CPU per frame, repeated in turn."""
    cases = []
    for label, shape in (("640x480x3", SHAPE), ("8x8x3", (8, 8, 3))):
        runs = [frame_costs(shape) for _ in range(repeats)]
        for what in ("publish", "read"):
            cases.append(repeated(
                f"cpu {what} {label}", [r[f"hub {what}"] * 1e6 for r in runs], "us",
                [r[f"ring {what}"] * 1e6 for r in runs], higher_is_better=False,
                note="in one process, per frame; peer: the bare ring" if what == "publish"
                and label == "640x480x3" else ""))
    return cases
