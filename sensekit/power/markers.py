"""Phase markers: a workload tells the power harness what it is doing, and when.

In the workload::

    import sensekit.power

    with sensekit.power.phase("load model"):
        ...
    with sensekit.power.phase("inference"):
        ...

Protocol (so a workload in any language can send markers): ``sensekit power measure`` sets
the environment variable ``SENSEKIT_POWER_MARKERS`` to the path of a unix datagram socket (the
default) or a FIFO (``--markers fifo``). Each marker is one UTF-8 line::

    B <t_ns> <name>\\n      phase <name> begins
    E <t_ns> <name>\\n      phase <name> ends

``t_ns`` is ``CLOCK_MONOTONIC`` in nanoseconds (Python ``time.monotonic_ns()``, C
``clock_gettime(CLOCK_MONOTONIC)``), the clock the harness samples the meter on, or ``-`` to
have the harness stamp the marker when it arrives (a shell script cannot read that clock:
``echo "B - warm up" > "$SENSEKIT_POWER_MARKERS"`` with ``--markers fifo``); the name is the
rest of the line. A socket gets one datagram per line; a FIFO gets whole lines (shorter
than ``PIPE_BUF``, so lines from several processes never interleave). Phases may nest and
overlap; an ``E`` closes the latest open phase of that name; a phase still open when the
workload ends is closed there and marked incomplete.

Without the variable, :func:`phase` does nothing (the workload runs unchanged outside the
harness). A marker that cannot be delivered is counted in :data:`markers_lost` and warned
about once, never raised into the workload.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["ENV_VAR", "Phase", "pair_markers", "parse_marker", "phase", "send_marker"]

log = logging.getLogger(__name__)

ENV_VAR = "SENSEKIT_POWER_MARKERS"
#: Markers this process could not deliver to the harness.
markers_lost = 0

_lock = threading.Lock()
_sinks: dict[str, socket.socket | int] = {}


@dataclass(frozen=True)
class Phase:
    """A named stretch of the workload, in host monotonic ns; ``complete`` is False when its
    end marker never came (closed at the end of the run)."""

    name: str
    start_ns: int
    end_ns: int
    complete: bool = True


def _sink(path: str) -> socket.socket | int:
    if path not in _sinks:
        if stat.S_ISFIFO(os.stat(path).st_mode):
            _sinks[path] = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.connect(path)
            _sinks[path] = sock
    return _sinks[path]


def send_marker(kind: str, name: str, t_ns: int | None = None) -> bool:
    """Send one ``B``/``E`` marker to the harness; False (and counted) when not delivered."""
    global markers_lost
    path = os.environ.get(ENV_VAR)
    if not path:
        return False
    stamp = time.monotonic_ns() if t_ns is None else t_ns
    line = f"{kind} {stamp} {' '.join(name.split())}\n".encode()
    with _lock:
        try:
            sink = _sink(path)
            if isinstance(sink, int):
                os.write(sink, line)
            else:
                sink.send(line)
        except OSError as exc:
            markers_lost += 1
            if markers_lost == 1:
                log.warning("power phase marker %r not delivered to %s: %s", name, path, exc)
            return False
    return True


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Mark the ``with`` block as phase ``name`` for ``sensekit power measure``."""
    send_marker("B", name)
    try:
        yield
    finally:
        send_marker("E", name)


def parse_marker(line: str, arrived_ns: int = 0) -> tuple[str, int, str] | None:
    """``("B" | "E", t_ns, name)`` from one marker line, None if it is malformed.

    A ``-`` in place of the time stands for ``arrived_ns``.
    """
    parts = line.strip().split(" ", 2)
    if len(parts) != 3 or parts[0] not in ("B", "E") or not parts[2]:
        return None
    if parts[1] == "-":
        return parts[0], arrived_ns, parts[2]
    try:
        return parts[0], int(parts[1]), parts[2]
    except ValueError:
        return None


def pair_markers(events: list[tuple[str, int, str]], end_ns: int) -> tuple[list[Phase], int]:
    """Phases from ``B``/``E`` events, and the count of ``E`` markers with no open phase.

    Phases still open are closed at ``end_ns`` and marked incomplete.
    """
    open_: dict[str, list[int]] = {}
    phases: list[Phase] = []
    unmatched = 0
    for kind, t_ns, name in sorted(events, key=lambda e: e[1]):
        if kind == "B":
            open_.setdefault(name, []).append(t_ns)
        elif open_.get(name):
            phases.append(Phase(name, open_[name].pop(), t_ns))
        else:
            unmatched += 1
    for name, starts in open_.items():
        phases.extend(Phase(name, t, max(t, end_ns), complete=False) for t in starts)
    phases.sort(key=lambda p: (p.start_ns, p.name))
    return phases, unmatched
