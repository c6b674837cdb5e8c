"""Running benchmarks the same way every time, and the report a user attaches to a bug.

:func:`run_benchmark` runs one benchmark module, repeats it when it does not repeat its own
measurements, and records the machine's load around it: the load average before and after,
and how much CPU *other* processes used while it ran (the machine's busy time from
``/proc/stat`` less this process's and its children's own CPU time). A benchmark that shared
the machine with more than :data:`BUSY_SHARE` of its CPUs is flagged busy: its ratios may be
off, since the two sides of a pair are not always disturbed alike.

:func:`report` puts runs together with the machine (CPU, cores, memory, board), Python and the
versions of the libraries the benchmarks compare against, as one JSON document.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import importlib.metadata
import json
import os
import platform
import resource
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from . import BENCHMARKS, Case, merge_runs

__all__ = ["BUSY_SHARE", "BenchRun", "CpuWatch", "machine_info", "report", "run_benchmark",
           "run_isolated"]

#: Other processes using more than this share of the machine's CPUs make a run "busy".
BUSY_SHARE = 0.10
#: Repeats of a benchmark that does not repeat itself (quick, full).
REPEATS = (3, 5)
#: Seconds a benchmark may take in all (quick, full); it is repeated only while it fits.
BUDGET_S = (55.0, 900.0)
#: Distributions whose versions go into the report (never imported to read them).
LIBRARIES = ("sensekit", "numpy", "pynmea2", "pandas", "mcap", "lz4", "torch", "onnxruntime",
             "onnx", "opencv-python-headless", "pyserial", "dask", "pyarrow", "scipy")


def _cpu_ticks() -> int | None:
    """Busy CPU time of the whole machine since boot, in clock ticks (None without /proc)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle


def _own_cpu_s() -> float:
    """CPU seconds of this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class CpuWatch:
    """How much CPU other processes used between :meth:`__init__` and :meth:`stop`."""

    def __init__(self) -> None:
        self.load_before = os.getloadavg()
        self._ticks = _cpu_ticks()
        self._own = _own_cpu_s()
        self._t0 = time.monotonic()
        self.load_after = self.load_before
        self.others_cpus: float | None = None
        self.seconds = 0.0

    def stop(self) -> CpuWatch:
        """Take the second reading; ``others_cpus`` is the mean number of CPUs others used."""
        self.seconds = time.monotonic() - self._t0
        ticks = _cpu_ticks()
        if ticks is not None and self._ticks is not None and self.seconds > 0:
            busy_s = (ticks - self._ticks) / os.sysconf("SC_CLK_TCK")
            others = busy_s - (_own_cpu_s() - self._own)
            self.others_cpus = max(0.0, others / self.seconds)
        self.load_after = os.getloadavg()
        return self

    @property
    def busy(self) -> bool:
        """Whether others used more than :data:`BUSY_SHARE` of the CPUs meanwhile."""
        cpus = os.cpu_count() or 1
        return self.others_cpus is not None and self.others_cpus > BUSY_SHARE * cpus

    def as_json(self) -> dict[str, Any]:
        return {"load_before": list(self.load_before), "load_after": list(self.load_after),
                "others_cpus": self.others_cpus, "busy": self.busy,
                "seconds": round(self.seconds, 3)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CpuWatch:
        """A stopped watch as :meth:`as_json` wrote it (from another process)."""
        watch = cls()
        watch.load_before = tuple(data["load_before"])
        watch.load_after = tuple(data["load_after"])
        watch.others_cpus, watch.seconds = data.get("others_cpus"), float(data["seconds"])
        return watch

    def describe(self) -> str:
        """One line: load averages and what others used."""
        def avg(load: tuple[float, float, float]) -> str:
            return " ".join(f"{x:.2f}" for x in load)

        text = (f"load average before {avg(self.load_before)}, after {avg(self.load_after)} "
                f"(1, 5, 15 min; {os.cpu_count()} CPUs)")
        if self.others_cpus is not None:
            text += f"; other processes used {self.others_cpus:.2f} CPUs meanwhile"
        return text


@dataclass
class BenchRun:
    """One benchmark's cases with the conditions they were measured in."""

    name: str
    description: str
    quick: bool
    cases: list[Case] = field(default_factory=list)
    runs: int = 0
    watch: CpuWatch | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "description": self.description,
                               "quick": self.quick, "runs": self.runs,
                               "cases": [c.as_json() for c in self.cases]}
        if self.watch is not None:
            out.update(self.watch.as_json())
        if self.error is not None:
            out["error"] = self.error
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchRun:
        """A run as :meth:`as_json` wrote it (from another process)."""
        return cls(data["name"], data["description"], bool(data["quick"]),
                   [Case.from_json(c) for c in data["cases"]], int(data["runs"]),
                   CpuWatch.from_json(data) if "seconds" in data else None, data.get("error"))


def run_isolated(name: str, quick: bool, repeats: int | None = None) -> BenchRun:
    """:func:`run_benchmark` in a fresh Python process: what an earlier benchmark imported
    or allocated (torch, onnxruntime threads) does not weigh on this one's figures."""
    cmd = [sys.executable, "-m", "sensekit", "bench", name, "--json"]
    cmd += ["--quick"] * quick + ([] if repeats is None else ["--repeats", str(repeats)])
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        return BenchRun.from_json(json.loads(proc.stdout)["benchmarks"][0])
    except (ValueError, KeyError, IndexError, TypeError):
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        text = BENCHMARKS.get(name, ("", ""))[1]
        return BenchRun(name, text, quick, error=f"its process exited with {proc.returncode}: "
                        f"{last}")


def _repeats_itself(cases: Sequence[Case]) -> bool:
    return bool(cases) and all(c.repeats > 1 for c in cases)


def run_benchmark(name: str, quick: bool, repeats: int | None = None,
                  progress: Callable[[str], None] | None = None) -> BenchRun:
    """Run benchmark ``name`` (a key of :data:`BENCHMARKS`), repeated, with its load watched.

    A module whose cases do not carry repeats is run ``repeats`` times (3 quick, 5 full),
    while the total stays within :data:`BUDGET_S`. A module may set ``REPEATS`` (a soak: one
    long run) to say how many runs it takes. An exception
    becomes :attr:`BenchRun.error` (``SENSEKIT_DEBUG=1`` adds the traceback).
    """
    module_name, text = BENCHMARKS[name]
    result = BenchRun(name, text, quick)
    want = repeats or REPEATS[0 if quick else 1]
    watch = CpuWatch()
    try:
        module = importlib.import_module(module_name)
        runs: list[list[Case]] = [list(module.run(quick=quick))]
        took = time.monotonic() - watch._t0
        want = getattr(module, "REPEATS", None) or want
        budget = BUDGET_S[0 if quick else 1]
        while (not _repeats_itself(runs[0]) and len(runs) < want
               and took * (len(runs) + 1) / len(runs) <= budget):
            if progress is not None:
                progress(f"{name}: repeat {len(runs) + 1} of {want}")
            runs.append(list(module.run(quick=quick)))
            took = time.monotonic() - watch._t0
        result.cases, result.runs = merge_runs(runs), len(runs)
    except Exception as exc:  # one failing benchmark must not lose the others' figures
        result.error = f"{type(exc).__name__}: {exc}"
        if os.environ.get("SENSEKIT_DEBUG") == "1":
            result.error += "\n" + traceback.format_exc()
    result.watch = watch.stop()
    return result


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(errors="replace").strip("\x00 \n") or None
    except OSError:
        return None


def _cpu_model() -> str:
    text = _read("/proc/cpuinfo") or ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
            return value.strip()
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 2)
    return None


def machine_info() -> dict[str, Any]:
    """What the figures were measured on: CPU, cores, memory, board and OS."""
    info: dict[str, Any] = {
        "arch": platform.machine(), "cpu": _cpu_model(), "cpus": os.cpu_count(),
        "memory_gib": _memory_gib(), "os": platform.platform(),
    }
    board = _read("/proc/device-tree/model")      # Raspberry Pi, Jetson
    if board:
        info["board"] = board
    jetpack = _read("/etc/nv_tegra_release")
    if jetpack:
        info["l4t"] = jetpack.splitlines()[0]
    return info


def library_versions() -> dict[str, str]:
    """Installed versions of sensekit and the peers' libraries (absent ones left out)."""
    out = {}
    for dist in LIBRARIES:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    out.setdefault("sensekit", __version__)
    return out


def report(runs: Sequence[BenchRun], load_before: tuple[float, float, float],
           command: Sequence[str] | None = None) -> dict[str, Any]:
    """The JSON document of a ``sensekit bench`` invocation."""
    return {
        "report": "sensekit bench", "format": 1,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": list(sys.argv if command is None else command),
        "machine": machine_info(),
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation()},
        "libraries": library_versions(),
        "load": {"before": list(load_before), "after": list(os.getloadavg())},
        "benchmarks": [r.as_json() for r in runs],
    }
