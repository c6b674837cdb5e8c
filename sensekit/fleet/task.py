"""One recording's task, as a Dask worker runs it: mark the attempt, check whether the result
is already there, run the job's work, publish the result whole.

A failing recording is a result (``status="failed"`` with its error), never an exception that
would stop the others or make Dask retry a recording that fails the same way every time. Only
a lost worker makes Dask run the task again, and the attempt marks count those runs.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import os
import posixpath
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .outputs import OutputDir
from .sources import Source, digest, filesystem, is_local

__all__ = ["RecordingResult", "TaskSpec", "run_task"]

Work = Callable[[argparse.Namespace, Path, Path], dict[str, Any]]


@dataclass(frozen=True)
class TaskSpec:
    """Everything a worker needs for one recording (small and picklable).

    Attributes:
        work: ``"module:function"`` of the job's work.
        options: The job's parsed options.
        source: The recording.
        output: The result's path inside ``out_dir``.
        out_dir: The output folder (path or URL).
        run: This run's id (names attempt marks and temporaries).
        expect: ``(size, sha256)`` of the input an existing result was made from; the task
            is skipped when the input still matches.
    """

    work: str
    options: dict[str, Any]
    source: Source
    output: str
    out_dir: str
    run: str
    expect: tuple[int, str] | None = None


@dataclass
class RecordingResult:
    """What became of one recording.

    Attributes:
        input: The recording (path or URL).
        output: Its result (path or URL), None when nothing was written.
        status: ``"ok"``, ``"failed"`` or ``"skipped"`` (result exists, input unchanged).
        duration_s: Time spent on it (the last attempt).
        error: Why it failed.
        attempts: Times it was started; above 1 when a worker was lost mid-task.
        size: Input bytes.
        sha256: Input content hash.
        worker: ``host:pid`` of the worker that finished it.
        facts: What the job reports about it (streams, messages, windows...).
    """

    input: str
    output: str | None
    status: str
    duration_s: float = 0.0
    error: str | None = None
    attempts: int = 1
    size: int = 0
    sha256: str | None = None
    worker: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def resolve_work(work: str) -> Work:
    """The function named ``"module:function"``."""
    module, _, name = work.partition(":")
    fn: Work = getattr(importlib.import_module(module), name)
    return fn


@contextlib.contextmanager
def local_copy(url: str) -> Iterator[Path]:
    """A local path of the recording: itself, or a temporary copy of a remote one."""
    fs, path = filesystem(url)
    if is_local(fs):
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="sensekit-fleet-in-") as scratch:
        local = Path(scratch) / posixpath.basename(path.rstrip("/"))
        fs.get(path, str(local), recursive=bool(fs.isdir(path)))
        yield local


def run_task(spec: TaskSpec) -> RecordingResult:
    """Run one recording's job (on a worker) and say what became of it."""
    started = time.perf_counter()
    out = OutputDir(spec.out_dir)
    key = hashlib.sha256(spec.output.encode()).hexdigest()[:16]
    result = RecordingResult(spec.source.url, out.path(spec.output), "failed",
                             attempts=out.mark_attempt(spec.run, key), size=spec.source.size,
                             worker=f"{socket.gethostname()}:{os.getpid()}")
    try:
        _run(spec, out, result)
    except Exception as exc:  # one recording's failure is its result, not the fleet's
        result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        result.output = None
    result.duration_s = time.perf_counter() - started
    return result


def _run(spec: TaskSpec, out: OutputDir, result: RecordingResult) -> None:
    known = digest(spec.source.url) if spec.expect is not None else None
    if known is not None and known == spec.expect:
        result.size, result.sha256 = known
        result.status = "skipped"
        return
    work = resolve_work(spec.work)
    with local_copy(spec.source.url) as path:
        result.size, result.sha256 = known or digest(str(path))
        token = f"{spec.run}-{uuid.uuid4().hex[:8]}"
        with out.writing(spec.output, token) as tmp:
            result.facts = work(argparse.Namespace(**spec.options), path, tmp)
    result.status = "ok"
