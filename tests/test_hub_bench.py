"""The hub benchmark's parts run and measure what they say (no timing is asserted)."""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from sensekit._shm import SHM_DIR
from sensekit.bench import BENCHMARKS
from sensekit.bench import hub as bench


def test_registered() -> None:
    assert BENCHMARKS["hub"][0] == "sensekit.bench.hub"


@pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/smaps_rollup"),
                    reason="needs Linux /proc smaps_rollup")
def test_pss_of_this_process_is_read_from_proc() -> None:
    assert 1024 < bench.pss_kib(os.getpid()) < 64 * 2**20  # more than 1 MiB, less than 64 GiB
    assert bench.pss_kib(2**22 + 1) == 0  # no such process


@pytest.mark.skipif(not os.path.isdir(SHM_DIR), reason="needs Linux /dev/shm")
def test_every_side_delivers_frames_to_every_reader_and_leaves_no_segment() -> None:
    before = {n for n in os.listdir(SHM_DIR) if n.startswith(("skbench-", "psm_", "wnsm_"))}
    for full in (True, False):
        for side, runner in bench.RUNNERS.items():
            got = runner(2, full, 0.2)
            assert got["fps"] > 0 and got["sent"] >= 1, (side, got)
            assert 0 <= got["lost_frac"] < 1
            if not full:  # publish to read, in milliseconds, measured by the readers
                assert 0 < got["p50_ms"] <= got["p99_ms"] < 60_000 and got["jitter_ms"] >= 0
    left = {n for n in os.listdir(SHM_DIR) if n.startswith(("skbench-", "psm_", "wnsm_"))}
    assert left <= before  # the hub's rings and the bare ring's segment are unlinked


def test_bare_ring_readers_detect_a_frame_overwritten_while_in_use() -> None:
    ring = bench.BareRing((4, 4, 3), 2)
    try:
        frame = np.zeros((4, 4, 3), np.uint8)
        ring.write(frame, 10)
        tally = bench._Tally()
        bench._ring_read(ring, 0, False, tally)
        assert (tally.frames, tally.lost) == (1, 0)
        for n in range(2):
            ring.write(frame, 11 + n)  # slot 0 now holds frame 2
        bench._ring_read(ring, 0, False, tally)
        assert (tally.frames, tally.lost) == (1, 1)
    finally:
        ring.close()


def test_cases_pair_the_hub_with_both_peers_and_report_spreads() -> None:
    def side(fps: float, p50: float) -> dict[str, float]:
        return {"fps": fps, "sent": 10, "lost_frac": 0.1, "p50_ms": p50, "p99_ms": 2 * p50,
                "jitter_ms": p50 / 2, "pss_mib": fps / 100}

    runs = [{"hub": side(900, 0.2), "ring": side(1000, 0.1), "queue": side(30, 20.0)},
            {"hub": side(800, 0.3), "ring": side(1000, 0.2), "queue": side(20, 30.0)}]
    light, vs_ring = bench._throughput("light", 8, runs)
    assert light.ratios == (30.0, 40.0) and light.ratio == 35.0
    assert "the bare ring reached 41.7x the Queue" in light.note  # median of 33.3x and 50x
    assert vs_ring.ratios == (0.9, 0.8) and vs_ring.name == "light K=8 vs bare ring"
    median, p99, jitter = bench._latency(8, runs)
    assert median.ratios == (100.0, 100.0) and median.unit == "ms"
    assert p99.name == "light K=8 latency p99" and jitter.values == (0.1, 0.15)
    memory = bench._memory({1: runs, 8: runs})
    assert [c.name for c in memory] == ["pss K=1", "pss K=8", "pss per extra reader"]


@pytest.mark.skipif(not os.path.isdir(SHM_DIR), reason="needs Linux /dev/shm")
def test_cpu_per_frame_is_measured_for_the_hub_and_the_bare_ring() -> None:
    costs = bench.frame_costs((8, 8, 3), n=64)
    assert set(costs) == {"hub publish", "hub read", "ring publish", "ring read"}
    assert all(0 < seconds < 1 for seconds in costs.values())


_HEAP_PROBE = """
import ctypes, sys
from sensekit.bench.hub import warm_heap

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks",
                                               "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
if sys.argv[1] == "warm":
    assert warm_heap()
before = libc.mallinfo2().hblkhd
buf = bytearray(3 << 20)  # 3 MiB: above glibc's default threshold, below the warm one
print(libc.mallinfo2().hblkhd - before)
"""


_GLIBC = platform.libc_ver()[0] == "glibc" and hasattr(ctypes.CDLL(None), "mallinfo2")


@pytest.mark.skipif(not _GLIBC, reason="glibc's allocator (mallinfo2: glibc 2.33 or later)")
def test_warm_heap_serves_frame_sized_buffers_from_the_heap() -> None:
    def mapped(mode: str) -> int:
        # A fresh process: its thresholds are glibc's defaults, whatever this one did.
        out = subprocess.run([sys.executable, "-c", _HEAP_PROBE, mode], capture_output=True,
                             text=True, check=True)
        return int(out.stdout)

    assert mapped("default") >= 3 << 20  # a fresh mmap for the buffer
    assert mapped("warm") == 0  # from the heap
