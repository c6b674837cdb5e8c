"""Run a function in a forked child under a memory limit (RLIMIT_AS) and a time limit."""

from __future__ import annotations

import os
import resource
import signal
import traceback
from collections.abc import Callable

from sensekit.errors import SensekitError

MB = 1 << 20


def address_space() -> int:
    """This process's virtual size in bytes (what RLIMIT_AS limits)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def run_limited(fn: Callable[[], object], *, extra_bytes: int = 512 * MB,
                seconds: int = 30) -> str:
    """``fn()`` in a forked child allowed ``extra_bytes`` more address space than this process
    has now and ``seconds`` of time. Returns ``"ok"``, ``"sensekit: MESSAGE"`` for one of
    sensekit's own errors, ``"memory"``, ``"timeout"``, or ``"other: TRACEBACK"``."""
    limit = address_space() + extra_bytes
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_end)
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            signal.alarm(seconds)
            fn()
            result = "ok"
        except SensekitError as exc:
            result = f"sensekit: {exc}"
        except MemoryError:
            result = "memory"
        except BaseException:
            result = "other: " + traceback.format_exc()
        os.write(write_end, result.encode()[:65_000])
        os._exit(0)
    os.close(write_end)
    chunks = []
    while data := os.read(read_end, 65_536):
        chunks.append(data)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return "timeout" if os.WTERMSIG(status) == signal.SIGALRM else (
            f"other: killed by signal {os.WTERMSIG(status)}")
    return b"".join(chunks).decode()
