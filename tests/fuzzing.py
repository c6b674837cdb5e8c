"""Running a property-based test in a child process with its memory and time bounded.

:func:`bounded` forks; the child caps its address space (``RLIMIT_AS``) at what it already maps
plus ``memory_mb``, runs the test, and reports back through a pipe. A parser that allocates
without bound then fails with MemoryError in the child instead of taking the machine down, and a
parser that loops forever is killed at ``timeout_s``; either fails the test.
"""

from __future__ import annotations

import os
import resource
import select
import signal
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

PAGE = resource.getpagesize()


def _mapped_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[0]) * PAGE


def bounded(test: Callable[[], None], *, memory_mb: int = 512, timeout_s: float = 120.0
            ) -> None:
    """Run ``test`` in a forked child with bounded memory and time; fail on any failure."""
    if not hasattr(os, "fork") or not Path("/proc/self/statm").exists():
        pytest.skip("needs fork and /proc (Linux)")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_end)
        report = b""
        try:
            limit = _mapped_bytes() + (memory_mb << 20)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            test()
        except BaseException:
            report = traceback.format_exc().encode("utf-8", "replace") or b"failed"
        os.write(write_end, report[-60_000:])
        os._exit(1 if report else 0)
    os.close(write_end)
    report = _read_until_exit(read_end, pid, timeout_s)
    _, status = os.waitpid(pid, 0)
    if report:
        pytest.fail(f"in the bounded child:\n{report}")
    assert os.waitstatus_to_exitcode(status) == 0, "the bounded child died without a report"


def _read_until_exit(fd: int, pid: int, timeout_s: float) -> str:
    chunks = []
    deadline = time.monotonic() + timeout_s
    with os.fdopen(fd, "rb") as pipe:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([pipe], [], [], max(left, 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"the bounded child ran past {timeout_s:g} s")
            data = os.read(pipe.fileno(), 65536)
            if not data:
                return b"".join(chunks).decode("utf-8", "replace")
            chunks.append(data)
