"""A worker killed mid-task (kill -9): Dask runs the task again elsewhere; nothing is lost,
nothing is written twice, and the summary counts the retry."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from fleet_helpers import GATED, make_recording

from sensekit.fleet import FleetResult, run_fleet
from sensekit.fleet.outputs import MANIFEST, STATE


def _allow_failures(n: int, dask_scheduler: Any = None) -> int:
    """Set how often a task may lose its worker before Dask gives up; return the old value."""
    before: int = dask_scheduler.allowed_failures
    dask_scheduler.allowed_failures = n
    return before


def _wait_for(gate: Path, timeout_s: float = 30.0) -> list[Path]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if started := sorted(gate.glob("started-*")):
            return started
        time.sleep(0.02)
    raise AssertionError("the victim's task never started")


def test_worker_killed_mid_task_loses_no_result_and_duplicates_none(
        tmp_path: Path, client: Any) -> None:
    logs, out, gate = tmp_path / "logs", tmp_path / "out", tmp_path / "gate"
    logs.mkdir()
    gate.mkdir()
    for i in range(4):
        make_recording(logs / f"rec{i}.mcap", seconds=1 + i, seed=i)
    box: dict[str, FleetResult] = {}
    options = {"gate": str(gate), "victim": "rec2.mcap"}
    runner = threading.Thread(target=lambda: box.update(result=run_fleet(
        GATED, [str(logs)], str(out), options, client=client)))
    runner.start()
    victim = _wait_for(gate)[0]
    pid = int(victim.name.split("-")[1])
    assert list(out.glob(".rec2.txt.*")), "the killed attempt had half a result on disk"
    os.kill(pid, signal.SIGKILL)
    (gate / "go").touch()
    runner.join(60)
    result = box["result"]
    assert [r.status for r in result.results] == ["ok"] * 4
    # The victim ran twice. Another task of the killed worker runs again only if the kill
    # came before the client had its result, and then it counts too.
    attempts = [r.attempts for r in result.results]
    assert attempts[2] == 2 and set(attempts) <= {1, 2}
    assert result.retries == sum(a - 1 for a in attempts) >= 1
    assert result.results[2].worker != f"{os.uname().nodename}:{pid}"
    # One whole result per recording, no temporaries, no run state left behind.
    assert sorted(p.name for p in out.iterdir()) == [
        MANIFEST, "rec0.txt", "rec1.txt", "rec2.txt", "rec3.txt"]
    for i in range(4):
        size = (logs / f"rec{i}.mcap").stat().st_size
        assert (out / f"rec{i}.txt").read_text() == f"{size}\n"
    assert len(json.loads((out / MANIFEST).read_text())["outputs"]) == 4
    assert not (out / STATE).exists()


def test_a_recording_that_kills_every_worker_is_failed_and_the_rest_finish(
        tmp_path: Path, client: Any) -> None:
    from fleet_helpers import DEADLY

    logs, out = tmp_path / "logs", tmp_path / "out"
    logs.mkdir()
    for i in range(3):
        make_recording(logs / f"rec{i}.mcap", seconds=1, seed=i)
    before = client.run_on_scheduler(_allow_failures, 0)  # KilledWorker at the first death
    try:
        result = run_fleet(DEADLY, [str(logs)], str(out),
                           {"victim": "rec1.mcap", "others": ["rec0.txt", "rec2.txt"]},
                           client=client)
    finally:
        client.run_on_scheduler(_allow_failures, before)
    assert [r.status for r in result.results] == ["ok", "failed", "ok"]
    assert "KilledWorker" in str(result.results[1].error)
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "rec0.txt", "rec2.txt"]


class _Future:
    """A future as a batch of ``as_completed`` hands it over: its status then, and what it
    gives when asked afterwards."""

    def __init__(self, status: str, outcome: Any) -> None:
        self.status, self._outcome = status, outcome

    def result(self) -> Any:
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        return self._outcome


class _Client:
    def __init__(self) -> None:
        self.gathered: list[list[_Future]] = []

    def gather(self, futures: list[_Future]) -> list[Any]:
        """All the results, or the first failure among them (as Dask's gather does)."""
        self.gathered.append(futures)
        return [f.result() for f in futures]


class _Batches:
    def __init__(self, *batches: list[_Future]) -> None:
        self._batches = batches

    def batches(self) -> Any:
        return iter(self._batches)


def test_a_result_lost_with_its_worker_and_computed_again_is_that_result_not_a_failure(
        ) -> None:
    """A task that finished on a worker killed before its result was fetched is no longer
    "finished" when its batch is read: Dask runs it again, and its new result is the one
    reported (it was once reported as a failure with no error but "None")."""
    from sensekit.fleet.engine import _completed, _result_of
    from sensekit.fleet.sources import Source
    from sensekit.fleet.task import RecordingResult

    done = RecordingResult("a.mcap", "a.txt", "ok")
    again = RecordingResult("b.mcap", "b.txt", "ok", attempts=2)
    killed = RuntimeError("KilledWorker: b.mcap's task lost its worker 3 times")
    futures = [_Future("finished", done), _Future("pending", again), _Future("error", killed)]
    client = _Client()
    outcomes = list(_completed(client, _Batches(futures[:2], futures[2:])))
    assert client.gathered == [futures[:1]]  # only the finished one, in one gather
    assert [value for _, value in outcomes] == [done, again, killed]
    failed = _result_of(killed, Source("c.mcap", "c.mcap", 10))
    assert (failed.status, failed.error) == ("failed", f"RuntimeError: {killed}")


def test_one_failure_in_a_batchs_gather_does_not_take_the_others_results() -> None:
    """A future finished when its batch came can fail before the gather (its worker lost,
    then Dask gave up on it): the gather raises, and the other results of the batch are
    still each reported."""
    from sensekit.fleet.engine import _completed
    from sensekit.fleet.task import RecordingResult

    done = RecordingResult("a.mcap", "a.txt", "ok")
    killed = RuntimeError("KilledWorker: b.mcap's task lost its worker 3 times")
    futures = [_Future("finished", done), _Future("finished", killed)]
    outcomes = list(_completed(_Client(), _Batches(futures)))
    assert [value for _, value in outcomes] == [done, killed]
