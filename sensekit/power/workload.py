"""Running the measured workload: its exit status as a shell reports it, and signals passed on.

The status follows ``time`` and ``timeout``: the workload's own exit code; 127 when the command
is not found; 126 when it cannot be executed; 128+N when signal N killed it. SIGINT (Ctrl-C) or
SIGTERM (``systemctl stop``, ``kill``) sent to the harness is passed on to the workload, which
gets :data:`GRACE_S` seconds to stop before it is killed, so the harness still writes what was
measured.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["GRACE_S", "WorkloadResult", "run_workload"]

#: Seconds a workload has to stop after the harness passed a signal on, before SIGKILL.
GRACE_S = 5.0

_FORWARDED = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class WorkloadResult:
    """How the workload ended.

    Attributes:
        exit_code: As a shell reports it (127 not found, 126 not executable, 128+N signal N).
        signal: Name of the signal that ended it (``"SIGTERM"``), else None.
        error: Why it could not be started, else None.
        interrupted_by: Name of the signal that stopped the harness itself, else None.
    """

    exit_code: int
    signal: str | None = None
    error: str | None = None
    interrupted_by: str | None = None

    def describe(self, command: Sequence[str]) -> str:
        """One line saying how the workload ended (empty when it succeeded)."""
        if self.error is not None:
            return f"{self.error} (exit {self.exit_code})"
        if self.interrupted_by is not None:
            return (f"interrupted by {self.interrupted_by}: the workload was stopped "
                    f"(exit {self.exit_code})")
        if self.signal is not None:
            return f"the workload was killed by {self.signal} (exit {self.exit_code})"
        if self.exit_code:
            return f"the workload {command[0]!r} exited with {self.exit_code}"
        return ""


def run_workload(command: Sequence[str], env: Mapping[str, str]) -> WorkloadResult:
    """Run ``command`` to its end; pass SIGINT and SIGTERM on to it (see the module docstring)."""
    try:
        proc = subprocess.Popen(list(command), env=dict(env))
    except FileNotFoundError:
        return WorkloadResult(127, error=f"workload {command[0]!r}: command not found")
    except OSError as exc:
        if isinstance(exc, PermissionError) or exc.errno == errno.ENOEXEC:
            return WorkloadResult(126, error=f"workload {command[0]!r} cannot be executed: "
                                             f"{exc.strerror or exc}")
        raise
    caught: list[int] = []
    with _passing_signals_to(proc, caught):
        code = _wait(proc, caught)
    name = signal.Signals(-code).name if code < 0 else None
    interrupted = signal.Signals(caught[0]).name if caught else None
    return WorkloadResult(128 - code if code < 0 else code, name, None, interrupted)


def _wait(proc: subprocess.Popen[bytes], caught: list[int]) -> int:
    deadline: float | None = None
    while True:
        try:
            return proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            pass
        except KeyboardInterrupt:  # no handler could be installed (not the main thread)
            caught.append(signal.SIGINT)
            proc.send_signal(signal.SIGINT)
        if caught and deadline is None:
            deadline = time.monotonic() + GRACE_S
        if deadline is not None and time.monotonic() > deadline:
            proc.kill()


@contextlib.contextmanager
def _passing_signals_to(proc: subprocess.Popen[bytes], caught: list[int]) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers live in the main thread only
        return

    def forward(signum: int, frame: object) -> None:
        caught.append(signum)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in _FORWARDED}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
