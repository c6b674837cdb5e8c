"""Running a job over many recordings on Dask distributed: :func:`run_fleet`.

One task per recording, on a local cluster of single-threaded worker processes by default or
on an existing cluster by its scheduler address. Dask does the scheduling, the retry of tasks
whose worker was lost (up to ``distributed.scheduler.allowed-failures`` times) and the
dashboard; sensekit plans the tasks, keeps the manifest and reports.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import hashlib
import json
import logging
import os
import posixpath
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._optional import require
from ..errors import ConfigError
from ..progress import Progress
from .jobs import JOBS, Job
from .outputs import MANIFEST, OutputDir
from .sources import Source, expand
from .task import RecordingResult, TaskSpec, run_task

__all__ = ["ONE_THREAD_ENV", "FleetResult", "connect", "default_workers", "plan", "run_fleet"]

log = logging.getLogger(__name__)

#: Worker processes run one thread each, and so do the numeric libraries inside them: one
#: task per core, without BLAS or OpenMP pools competing for the same cores. (ONNX Runtime
#: sessions in sensekit are made with one intra-op thread.)
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                  "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}
#: The manifest is rewritten at most this often while results arrive (and at the end).
MANIFEST_INTERVAL_S = 1.0


@dataclass
class FleetResult:
    """A fleet run: one :class:`~sensekit.fleet.task.RecordingResult` per input, in order."""

    job: str
    output: str
    results: list[RecordingResult]
    workers: int = 0
    dashboard: str | None = None
    wall_s: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Recordings per status."""
        out = {"ok": 0, "failed": 0, "skipped": 0}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    @property
    def retries(self) -> int:
        """Tasks run again because their worker was lost."""
        return sum(max(0, r.attempts - 1) for r in self.results)

    def as_json(self) -> dict[str, Any]:
        return {"job": self.job, "options": self.options, "output": self.output,
                "workers": self.workers, "dashboard": self.dashboard, "wall_s": self.wall_s,
                "counts": self.counts(), "retries": self.retries,
                "results": [r.as_json() for r in self.results]}


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def connect(workers: int | None = None, scheduler: str | None = None, *,
            quiet: bool = True) -> Iterator[Any]:
    """A Dask client: of a new local cluster (``workers`` processes, one thread each, default
    one per core) or of the cluster whose scheduler is at ``scheduler``. Closed on exit."""
    distributed = require("dask.distributed", extra="fleet", what="sensekit fleet")
    if scheduler:
        with distributed.Client(scheduler) as client:
            yield client
        return
    n = default_workers() if workers is None else workers
    if n < 1:
        raise ConfigError(f"--workers {n}: a local cluster needs at least one worker")
    with _dask_logs(logging.ERROR if quiet else logging.INFO), distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, env=ONE_THREAD_ENV,
            silence_logs=logging.ERROR if quiet else logging.INFO) as cluster, \
            distributed.Client(cluster) as client:
        yield client


@contextmanager
def _dask_logs(level: int) -> Iterator[None]:
    """Dask's own log level while a local cluster runs (its scheduler lives in this process
    and logs every start and stop at INFO)."""
    logger = logging.getLogger("distributed")
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


def options_dict(options: argparse.Namespace | Mapping[str, Any] | None) -> dict[str, Any]:
    if options is None:
        return {}
    return dict(vars(options) if isinstance(options, argparse.Namespace) else options)


def _options_hash(job: Job, options: Mapping[str, Any]) -> str:
    text = json.dumps({"job": job.name, **options}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def output_names(job: Job, sources: Sequence[Source], options: Mapping[str, Any]) -> list[str]:
    """Each recording's result path inside the output folder: its path below the argument
    that named it, with the job's name for the result; a hash of the input tells apart two
    recordings that would otherwise share one."""
    def name(src: Source, tag: str = "") -> str:
        folder, base = posixpath.split(src.rel)
        stem = base[: -len(s)] if (s := next((x for x in job.suffixes if base.endswith(x)),
                                             "")) else posixpath.splitext(base)[0] or base
        return posixpath.join(folder, job.output(stem + tag, options))

    names = [name(s) for s in sources]
    clash = {n for n, count in collections.Counter(names).items() if count > 1}
    return [name(s, "-" + hashlib.sha256(s.url.encode()).hexdigest()[:8]) if n in clash else n
            for s, n in zip(sources, names, strict=True)]


@dataclass
class _Plan:
    """One run's recordings, result names and steps (a task, or a result decided already)."""

    job: Job
    out: OutputDir
    sources: list[Source]
    names: list[str]
    steps: list[TaskSpec | RecordingResult]
    options_hash: str
    run: str


def plan(job: Job, sources: Sequence[Source], out: OutputDir, options: Mapping[str, Any],
         run: str, force: bool) -> _Plan:
    """A task per recording, or its result when it is decided without one (an output that
    the fleet did not write is never replaced without ``force``)."""
    manifest = out.read_manifest()
    names = output_names(job, sources, options)
    opts = _options_hash(job, options)
    existing = out.existing()
    steps: list[TaskSpec | RecordingResult] = []
    for src, rel in zip(sources, names, strict=True):
        _refuse_input_as_output(src, out, rel)
        entry = manifest.get(rel)
        expect = None
        if rel in existing and not force:
            if entry is None:
                steps.append(RecordingResult(src.url, None, "failed", size=src.size, error=(
                    f"{out.path(rel)} exists but is not in {out.path(MANIFEST)} "
                    f"(written by something else, or by a run stopped before it recorded "
                    f"it); --force replaces it")))
                continue
            if entry.get("options") == opts and entry.get("size") == src.size:
                expect = (int(entry["size"]), str(entry["sha256"]))
        steps.append(TaskSpec(job.work, dict(options), src, rel, out.url, run, expect))
    return _Plan(job, out, list(sources), names, steps, opts, run)


def _refuse_input_as_output(src: Source, out: OutputDir, rel: str) -> None:
    if out.local and Path(out.path(rel)).resolve() == Path(src.url).resolve():
        raise ConfigError(f"the result of {src.url} would be written over it "
                          f"({out.path(rel)}); choose another output folder")


def run_fleet(job: Job | str, inputs: Sequence[str], output: str,
              options: argparse.Namespace | Mapping[str, Any] | None = None, *,
              workers: int | None = None, scheduler: str | None = None, client: Any = None,
              force: bool = False, progress: bool = False,
              notify: Callable[[str], None] | None = None, quiet: bool = True) -> FleetResult:
    """Run ``job`` over every recording in ``inputs``, one Dask task each; results in ``output``.

    Args:
        job: A name in :data:`~sensekit.fleet.jobs.JOBS`, or a :class:`~sensekit.fleet.jobs.Job`.
        inputs: Files, folders, glob patterns, fsspec URLs.
        output: Output folder (path or fsspec URL), made if needed.
        options: The job's options (as its command parses them); those left out take the
            command's defaults.
        workers: Local worker processes (default: one per core).
        scheduler: Address of an existing cluster's scheduler instead (``tcp://host:8786``).
        client: An existing ``dask.distributed.Client`` instead of either.
        force: Redo recordings whose result exists and replace results not in the manifest.
        progress: Draw a progress bar (recordings and bytes) on stderr.
        notify: Called with a line saying where it runs (the dashboard address).
        quiet: Keep a local cluster's own log lines below errors out of the log.

    Raises:
        ConfigError: No recording found, an output would overwrite an input, bad workers.
    """
    from .cli import job_defaults

    job = JOBS[job] if isinstance(job, str) else job
    opts = {**job_defaults(job), **options_dict(options)}
    folder = job.folder
    sources = expand(inputs, job.suffixes,
                     None if folder is None else lambda fs, path: folder(fs, path, opts))
    out = OutputDir(output)
    out.make()
    run = f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    the_plan = plan(job, sources, out, opts, run, force)
    started = time.perf_counter()
    if client is not None:
        results, n, link = _execute(client, the_plan, progress, notify)
    else:
        with connect(workers, scheduler, quiet=quiet) as own:
            results, n, link = _execute(own, the_plan, progress, notify)
    return FleetResult(job.name, output, results, n, link, time.perf_counter() - started, opts)


def _execute(client: Any, p: _Plan, progress: bool, notify: Callable[[str], None] | None
             ) -> tuple[list[RecordingResult], int, str | None]:
    workers = len(client.scheduler_info().get("workers", {}))
    link = getattr(client, "dashboard_link", None)
    total = sum(s.size for s in p.sources)
    if notify is not None:
        notify(f"{len(p.sources)} recordings ({total / 1e6:,.1f} MB) on {workers} workers; "
               f"dashboard {link or 'not available'}")
    try:
        results = _gather(client, p, total, progress)
    finally:
        p.out.sweep([MANIFEST, *(n for s, n in zip(p.steps, p.names, strict=True)
                                 if isinstance(s, TaskSpec))])
        p.out.forget_run(p.run)
    return results, workers, link


def _gather(client: Any, p: _Plan, total: int, progress: bool) -> list[RecordingResult]:
    distributed = require("dask.distributed", extra="fleet", what="sensekit fleet")
    results: list[RecordingResult | None] = [s if isinstance(s, RecordingResult) else None
                                             for s in p.steps]
    futures = {client.submit(run_task, s, key=f"{p.job.name}-{p.run}-{i}", pure=False): i
               for i, s in enumerate(p.steps) if isinstance(s, TaskSpec)}
    manifest = p.out.read_manifest()
    bar = Progress(f"fleet {p.job.name}", len(p.steps), unit=" recordings", enabled=progress)
    done_bytes, written = sum(r.size for r in results if r is not None), time.monotonic()
    bar.update(len(p.steps) - len(futures))
    try:
        for future, value in _completed(client, distributed.as_completed(list(futures))):
            i = futures.pop(future)
            results[i] = result = _result_of(value, p.sources[i])
            # Let go of the result at once: a kept one would be computed again if its worker
            # were lost later, and count as a retry although nothing was lost.
            future.release()
            _record(manifest, p.names[i], result, p.options_hash)
            done_bytes += result.size
            bar.update(1, info=_bar_info(done_bytes, total, results))
            if time.monotonic() - written >= MANIFEST_INTERVAL_S:
                p.out.write_manifest(p.job.name, manifest)
                written = time.monotonic()
    finally:
        client.cancel([f for f in futures if not f.done()])
        p.out.write_manifest(p.job.name, manifest)
        bar.close(_bar_info(done_bytes, total, results))
    return [r for r in results if r is not None]


def _completed(client: Any, done: Any) -> Iterator[tuple[Any, Any]]:
    """(future, result or exception) as tasks finish: the results of each batch of finished
    futures in one gather from this thread. (Letting ``as_completed`` fetch every result on
    its own sent many gathers at once, and under load one of them could stall for good.)"""
    for batch in done.batches():
        values = _fetch(client, [f for f in batch if f.status == "finished"])
        for future in batch:
            yield future, values[future] if future in values else _outcome(future)


def _fetch(client: Any, finished: list[Any]) -> dict[Any, Any]:
    """The results of futures that were finished, in one gather. Should one have failed
    meanwhile (lost with its worker, then run again until Dask gave up), the gather raises
    that failure; then each is asked on its own, so the others keep their results."""
    if not finished:
        return {}
    try:
        return dict(zip(finished, client.gather(finished), strict=True))
    except Exception:  # which one failed, and how, is each one's own outcome
        return {future: _outcome(future) for future in finished}


def _outcome(future: Any) -> Any:
    """The result or the exception of one future, waited for.

    A future of a batch that is not finished either failed, or had finished on a worker
    that was lost before its result was fetched and runs again elsewhere; then this waits
    for the new run's result. (Its ``exception()`` alone would be None there, which is not
    a result.)
    """
    try:
        return future.result()
    except Exception as exc:  # the task's own failure (KilledWorker, cancelled) is its result
        return exc


def _result_of(value: Any, src: Source) -> RecordingResult:
    """The task's result; an exception means the task itself failed: its worker died more
    often than Dask allows (KilledWorker)."""
    if isinstance(value, RecordingResult):
        return value
    return RecordingResult(src.url, None, "failed", size=src.size,
                           error=f"{type(value).__name__}: {value}")


def _record(manifest: dict[str, Any], rel: str, result: RecordingResult, options: str) -> None:
    """A finished result's manifest entry (a failure keeps the entry of the result before)."""
    if result.status != "ok":
        return
    manifest[rel] = {"input": result.input, "size": result.size, "sha256": result.sha256,
                     "options": options, "duration_s": round(result.duration_s, 3),
                     "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def _bar_info(done_bytes: int, total: int, results: Sequence[RecordingResult | None]) -> str:
    failed = sum(1 for r in results if r is not None and r.status == "failed")
    text = f"{done_bytes / 1e6:,.1f}/{total / 1e6:,.1f} MB"
    return text + (f", {failed} failed" if failed else "")
