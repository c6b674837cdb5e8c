"""The fleet benchmark's parts run and measure what they say (no timing is asserted)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sensekit.bench import BENCHMARKS
from sensekit.bench import fleet as bench


def test_registered() -> None:
    assert BENCHMARKS["fleet"][0] == "sensekit.bench.fleet"


def test_loop_and_fleet_do_the_same_work_one_thread_each(tmp_path: Path, client: Any) -> None:
    tiny = bench._small(tmp_path, 3)
    with bench._one_thread_process() as pool:
        assert pool.submit(os.getenv, "OMP_NUM_THREADS").result() == "1"
        assert pool.submit(os.getenv, "OPENBLAS_NUM_THREADS").result() == "1"
        loop = bench._sequential(pool, "info", {"skip_corrupt": False}, tiny, tmp_path)
    fleet = bench._fleet(client, "info", {"skip_corrupt": False}, tiny, tmp_path)
    assert min(loop) > 0 and min(fleet) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in tiny]  # cleaned up
    assert client.run(os.getenv, "OMP_NUM_THREADS") == {
        w: "1" for w in client.scheduler_info()["workers"]}


def test_cases_report_throughput_scaling_and_overhead() -> None:
    cases = bench._cases(8, 60.0, 16.0, [(4.0, 3.9), (4.2, 4.1)],
                         {1: [(4.4, 4.2), (4.3, 4.2)], 2: [(2.4, 4.6), (2.5, 4.4)]},
                         {1: 1.0, 2: 1.5}, 20, (0.1, 0.1), (0.3, 0.2), "load 0.1")
    by_name = {c.name: c for c in cases}
    assert by_name["plain loop, 1 process"].value == 8 / 4.1
    assert by_name["2 workers against 1"].ratio == (8 / 2.45) / (8 / 4.35)
    assert abs(by_name["per-task overhead, small recordings"].value - 10.0) < 1e-9
    assert "load 0.1" in by_name["plain loop, 1 process"].note
    assert by_name["CPU per recording, 2 workers"].value == 1e3 * 4.5 / 8
    assert by_name["CPU per recording, 2 workers"].ratio == 4.0 / 4.5
