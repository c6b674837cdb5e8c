"""``sensekit bench soak``: a day of a rig's data through a shared hub to 8 reader processes.

The rig is a carried device at the modalities' nominal rates (:data:`RIG`): IMU at 100 Hz and
audio at 16 kHz in 100 ms packets, 320x240 camera frames at 15 fps, power at 10 Hz, GPS and
light at 1 Hz. The packets of ``hours`` of that rig (24 by default, ``SENSEKIT_SOAK_HOURS`` to
change it; 0.25 with ``--quick``) are published as fast as the hub takes them, in time order,
into ``Hub(shared=...)``; 8 processes read every stream and check every view. Throughout, the
producer samples the private resident memory (RSS) of itself and of each reader and what the hub's
segments occupy in ``/dev/shm``. At the end it checks what a day-long recording needs:

- no process's RSS grows by 1 MiB per simulated hour or more (least-squares slope over the
  samples after a warm-up, see :meth:`SoakResult.slopes`); for a run too short for that to
  be resolved (under an hour or so), growth under 1 MiB in all, one allocator arena of
  Python's (:meth:`SoakResult.growth_ok`);
- every sample published was either read or counted as lost by each reader (exact);
- no segment of the hub is left in ``/dev/shm`` once the producer closed and the readers left.

The run is fast-forwarded, not slowed to real time: a simulated day takes minutes.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .._shm import SHM_DIR
from ..errors import ConfigError, SampleDropped
from ..hub import Hub, connect
from ..packets import Packet
from . import Case, case, repeated

__all__ = ["RIG", "SoakResult", "StreamRate", "run", "soak"]

#: A soak is one long run whose samples are its repeats: the bench runner does not rerun it.
REPEATS = 1
#: Simulated hours of a full run, and of a quick one.
HOURS = (24.0, 0.25)
ENV_HOURS = "SENSEKIT_SOAK_HOURS"
READERS = 8
SLOTS = 64                       # per stream's ring
TICK_S = 0.1                     # the schedule's step: 100 ms packets
SLOPE_LIMIT_MIB_PER_H = 1.0
ARENA_MIB = 1.0                  # pymalloc's arena size on 64-bit CPython 3.10+


@dataclass(frozen=True)
class StreamRate:
    """One stream of the rig: its packets per second and the arrays of one packet."""

    name: str
    modality: str
    packets_per_s: float
    fields: tuple[tuple[str, str, tuple[int, ...]], ...]  # name, dtype, shape of one packet

    def samples(self) -> int:
        return self.fields[0][2][0]


#: The carried-device rig at the modalities' nominal rates (``sensekit.packets.SPECS``).
RIG = (
    StreamRate("imu", "imu", 10.0, (("accel_mps2", "float32", (10, 3)),
                                    ("gyro_rads", "float32", (10, 3)))),
    StreamRate("audio", "audio", 10.0, (("pcm", "int16", (1600, 1)),)),
    StreamRate("camera", "camera", 15.0, (("image", "uint8", (1, 240, 320, 3)),)),
    StreamRate("power", "power", 10.0, (("voltage_v", "float32", (1, 3)),
                                        ("power_w", "float32", (1, 3)))),
    StreamRate("gps", "gps", 1.0, (("lat_deg", "float64", (1,)), ("lon_deg", "float64", (1,)))),
    StreamRate("light", "light", 1.0, (("lux", "float32", (1,)),)),
)


@dataclass
class SoakResult:
    """What a soak measured."""

    hours: float
    seconds: float = 0.0
    packets: int = 0
    published: dict[str, int] = field(default_factory=dict)          # samples per stream
    readers: list[dict[str, tuple[int, int]]] = field(default_factory=list)  # (read, lost)
    rss: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # (hour, MiB)
    shm_mib: list[tuple[float, float]] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)
    ring_turn_h: float = 0.0                      # hours the slowest stream's ring lasts

    def slopes(self) -> dict[str, float]:
        """RSS slope per process in MiB per simulated hour, after the warm-up.

        The warm-up is the first tenth of the run, and at least twice the time the slowest
        stream takes to go once round its ring: until every slot has been written and read
        once, the shared pages a process touches for the first time add to its RSS.
        """
        warm = max(self.hours / 10, 2 * self.ring_turn_h)
        return {who: _slope(samples, warm) for who, samples in self.rss.items()}

    def growth_ok(self) -> dict[str, bool]:
        """Per process: RSS slope under 1 MiB per simulated hour, or, for a short run, growth
        after the warm-up (slope times the span measured) under :data:`ARENA_MIB`: Python
        takes memory from the system an arena at a time, so a run of a quarter of an hour
        cannot tell a leak of 1 MiB/h from one arena more."""
        span = self.hours - max(self.hours / 10, 2 * self.ring_turn_h)
        return {who: not slope >= SLOPE_LIMIT_MIB_PER_H or slope * span < ARENA_MIB
                for who, slope in self.slopes().items()}

    def unaccounted(self) -> int:
        """Samples neither read nor counted as lost, summed over readers and streams."""
        return sum(abs(self.published[s] - read - lost) for r in self.readers
                   for s, (read, lost) in r.items())


def _slope(samples: list[tuple[float, float]], skip: float) -> float:
    points = [(h, m) for h, m in samples if h >= skip]
    if len(points) < 3:
        return math.nan
    x, y = np.array(points).T
    return float(np.polyfit(x, y, 1)[0])


def rss_mib(pid: int) -> float:
    """Private resident memory of ``pid`` in MiB (``RssAnon``; NaN without /proc).

    A leak grows a process's private memory. Its total RSS also counts the hub's shared
    pages it has touched, which grow as a reader that falls behind and skips slots reaches
    slots it never read before, up to the rings' fixed size: that is measured, and bounded,
    as the segments' size in /dev/shm (:func:`shm_mib`), not as a leak.
    """
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return math.nan
    value = fields.get("RssAnon") or fields.get("VmRSS")
    return int(value.split()[0]) / 1024 if value else math.nan


def shm_mib(prefix: str) -> float:
    """MiB the segments named ``prefix...`` occupy in /dev/shm (allocated blocks)."""
    total = 0
    try:
        for name in os.listdir(SHM_DIR):
            if name.startswith(prefix):
                total += os.stat(os.path.join(SHM_DIR, name)).st_blocks * 512
    except OSError:
        pass
    return total / 2**20


def schedule(hours: float, rig: tuple[StreamRate, ...] = RIG) -> Iterator[tuple[int, int]]:
    """(tick, stream index) of every packet of ``hours`` of ``rig``, in time order."""
    ticks = round(hours * 3600 / TICK_S)
    for tick in range(ticks):
        for i, stream in enumerate(rig):
            per_tick = stream.packets_per_s * TICK_S
            due = math.floor((tick + 1) * per_tick + 1e-9) - math.floor(tick * per_tick + 1e-9)
            for _ in range(due):
                yield tick, i


def _reader(hub_name: str, streams: list[str], ready: Any, results: Any) -> None:
    warnings.simplefilter("ignore", SampleDropped)
    sub = connect(hub_name, *streams, timeout_s=60)
    got = {s: 0 for s in streams}
    ready.set()
    while True:
        finished = sub.producer_closed
        for packet in sub.poll(timeout_s=0.05):
            if sub.validate(packet):
                got[packet.stream] += len(packet)
        if finished:
            break
    lost = sub.lost
    results.put({s: (got[s], lost.get(s, 0)) for s in streams})
    sub.close()


class _Producer:
    """Publishes the rig's packets; one template per stream, stamped with its tick."""

    def __init__(self, hub: Hub, rig: tuple[StreamRate, ...]) -> None:
        self.hub, self.rig = hub, rig
        rng = np.random.default_rng(0)
        self.templates = [{name: _array(rng, dtype, shape) for name, dtype, shape in s.fields}
                          for s in rig]

    def publish(self, tick: int, i: int) -> int:
        stream = self.rig[i]
        n = stream.samples()
        t0 = tick * int(TICK_S * 1e9)
        t_ns = np.arange(t0, t0 + n, dtype=np.int64)
        self.hub.publish(Packet(stream.name, t_ns, self.templates[i], stream.modality))
        return n


def _array(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> npt.NDArray[Any]:
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, 127, shape).astype(dtype)


def soak(hours: float, readers: int = READERS, rig: tuple[StreamRate, ...] = RIG,
         samples: int = 60) -> SoakResult:
    """Push ``hours`` of ``rig`` through a shared hub to ``readers`` processes; measure."""
    if not hours > 0:
        raise ConfigError(f"soak hours must be positive, got {hours}")
    name = f"sksoak-{uuid.uuid4().hex[:8]}"
    result = SoakResult(hours, ring_turn_h=SLOTS / min(s.packets_per_s for s in rig) / 3600)
    hub = Hub(shared=name, capacity_packets=SLOTS, shared_slots=SLOTS)
    producer = _Producer(hub, rig)
    for i in range(len(rig)):                     # every ring exists before readers connect
        producer.publish(0, i)                    # (readers start after these: not counted)
        result.published[rig[i].name] = 0
    procs, results = _start_readers(name, rig, readers)
    try:
        _drive(result, producer, procs, name, samples)
    finally:
        hub.close()
    result.readers = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    result.leaked = [n for n in os.listdir(SHM_DIR) if n.startswith(f"{name}.")] \
        if os.path.isdir(SHM_DIR) else []
    return result


def _start_readers(name: str, rig: tuple[StreamRate, ...], n: int) -> tuple[list[Any], Any]:
    """``n`` reader processes, started and connected to every stream."""
    ctx: Any = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    ready, results = [ctx.Event() for _ in range(n)], ctx.Queue()
    procs = [ctx.Process(target=_reader, args=(name, [s.name for s in rig], ev, results))
             for ev in ready]
    for p in procs:
        p.start()
    for ev in ready:
        ev.wait(60)
    return procs, results


def _drive(result: SoakResult, producer: _Producer, procs: list[Any], name: str,
           samples: int) -> None:
    total_ticks = max(1, round(result.hours * 3600 / TICK_S))
    every = max(1, total_ticks // samples)
    pids = {"producer": os.getpid(), **{f"reader {i + 1}": p.pid for i, p in enumerate(procs)}}
    result.rss = {who: [] for who in pids}
    start, last_tick = time.monotonic(), -1
    for tick, i in schedule(result.hours, producer.rig):
        if tick == 0:
            continue                              # published before the readers started
        if tick != last_tick and tick % every == 0:
            hour = tick * TICK_S / 3600
            for who, pid in pids.items():
                result.rss[who].append((hour, rss_mib(pid)))
            result.shm_mib.append((hour, shm_mib(f"{name}.")))
        last_tick = tick
        result.published[producer.rig[i].name] += producer.publish(tick, i)
        result.packets += 1
    result.seconds = time.monotonic() - start


def hours_from_env(quick: bool) -> float:
    """``$SENSEKIT_SOAK_HOURS``, else 24 (0.25 with ``quick``)."""
    text = os.environ.get(ENV_HOURS)
    if not text:
        return HOURS[1] if quick else HOURS[0]
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{ENV_HOURS}={text!r} is not a number of hours") from None


def run(quick: bool) -> list[Case]:
    """One soak of ``hours_from_env(quick)`` simulated hours; its figures as cases."""
    result = soak(hours_from_env(quick))
    slopes = result.slopes()
    worst = max(slopes, key=lambda who: abs(slopes[who]) if not math.isnan(slopes[who]) else 0)
    shm = [m for _, m in result.shm_mib] or [0.0]
    lost = sum(lost for r in result.readers for _, lost in r.values())
    samples = sum(result.published.values()) * len(result.readers)
    return [
        case("simulated hours", result.hours, "h",
             note=f"{result.packets:,} packets to {len(result.readers)} reader processes in "
             f"{result.seconds:.1f} s ({result.hours * 3600 / max(result.seconds, 1e-9):,.0f}x "
             "real time)"),
        repeated("RSS slope", list(slopes.values()), "MiB/h",
                 note=f"per process (producer and each reader), least squares after the "
                 f"warm-up; the largest is {worst}'s {slopes[worst]:+.3f} MiB/h; limit "
                 f"{SLOPE_LIMIT_MIB_PER_H} MiB/h (under {ARENA_MIB} MiB in all for a short run)"
                 f": {'met' if all(result.growth_ok().values()) else 'NOT met'}"),
        case("shared memory", max(shm), "MiB",
             note="the hub's segments in /dev/shm, largest sample (rings are fixed in size)"),
        case("samples lost", lost / max(samples, 1), "fraction",
             note=f"each reader read or counted every sample: {result.unaccounted()} "
             "unaccounted"),
        case("segments left", float(len(result.leaked)), "segments",
             note="in /dev/shm after the producer closed and the readers left"),
    ]
