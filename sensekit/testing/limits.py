"""Running a piece of code with its memory and time bounded, for fuzz and robustness tests.

:func:`run_bounded` forks, limits the child's address space (``RLIMIT_AS``) to what it has
mapped already plus a budget, arms an alarm, runs the function and sends back what it
returned or raised. A parser that allocates without bound then fails with ``MemoryError``
instead of taking the machine down, and one that loops fails with ``TimeoutError``; both come
back to the caller as :class:`BoundedFailure` with the child's traceback. POSIX only (fork).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import signal
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["BoundedFailure", "address_space", "run_bounded"]

T = TypeVar("T")


class BoundedFailure(AssertionError):
    """The bounded function raised (or was killed); the message has the child's traceback.

    Attributes:
        kind: Name of the exception's class in the child (``"MemoryError"``...), or
            ``"killed"`` when the child died without reporting.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def address_space() -> int:
    """Bytes of address space this process has mapped now (``VmSize``), 0 if unknown."""
    with contextlib.suppress(OSError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _alarm(signum: int, frame: Any) -> None:
    raise TimeoutError("time bound reached")


def _child(fn: Callable[[], Any], memory_mib: float, timeout_s: float, out: int) -> None:
    try:
        limit = address_space() + int(memory_mib * 2**20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        result: tuple[Any, ...] = ("ok", fn())
        signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        result = ("error", type(exc).__name__, "".join(traceback.format_exception(exc)))
    try:
        data = pickle.dumps(result)
    except Exception as exc:  # an unpicklable result is the caller's bug: say so
        data = pickle.dumps(("error", type(exc).__name__, f"result not picklable: {exc}"))
    with os.fdopen(out, "wb") as f:
        f.write(data)


def run_bounded(fn: Callable[[], T], *, memory_mib: float, timeout_s: float) -> T:
    """``fn()`` in a forked child allowed ``memory_mib`` more address space and ``timeout_s``.

    Returns what ``fn`` returned (it must be picklable).

    Raises:
        BoundedFailure: ``fn`` raised in the child (``MemoryError`` when it went past the
            memory bound, ``TimeoutError`` past the time bound), or the child was killed.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        os.close(read_end)
        code = 0
        try:
            _child(fn, memory_mib, timeout_s, write_end)
        except BaseException:
            code = 70
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise BoundedFailure("killed", f"the bounded child died without reporting (wait "
                             f"status {status}); likely out of memory or killed")
    result = pickle.loads(data)
    if result[0] == "ok":
        value: T = result[1]
        return value
    raise BoundedFailure(result[1], f"{result[1]} in the bounded child "
                         f"(memory {memory_mib} MiB, time {timeout_s} s):\n{result[2]}")
