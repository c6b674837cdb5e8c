"""The hub benchmark's parts run and measure what they say (no timing is asserted)."""

from __future__ import annotations

import os

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
def test_both_sides_deliver_frames_to_every_reader_and_leave_no_segment() -> None:
    before = {n for n in os.listdir(SHM_DIR) if n.startswith("skbench-")}
    ours = bench.run_hub(2, True, 0.2)
    peer = bench.run_queue(2, True, 0.2)
    assert ours["fps"] > 0 and peer["fps"] > 0
    assert ours["sent"] >= 1 and 0 <= ours["lost_frac"] < 1
    assert {n for n in os.listdir(SHM_DIR) if n.startswith("skbench-")} <= before  # unlinked
