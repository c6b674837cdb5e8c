"""Shared-memory segments owned by one process: created owner-only, unlinked by the owner only.

Built on :mod:`multiprocessing.shared_memory`, with its lifecycle taken out of the standard
library's resource tracker:

- Before Python 3.13 a process that merely *attaches* to a segment registers it with its
  resource tracker, which unlinks the segment when that process exits (CPython gh-82300), so
  a consumer exiting would destroy the producer's ring. On 3.13+ ``track=False`` turns this
  off; before 3.13 :class:`_UntrackedSharedMemory` runs the standard library's own ``__init__``
  and ``unlink`` with a tracker that does nothing. Unregistering after the fact is not enough:
  it starts a tracker process in every consumer, and a consumer that shares its parent's
  tracker would unregister the producer's own entry.
- The owner (the process that created the segment) unlinks it on :meth:`Segment.close`, from a
  ``weakref.finalize`` when the object is collected, and at interpreter exit.
- A SIGKILLed owner runs no code, so its segment outlives it (tmpfs pages stay allocated until
  the name is unlinked). The header records the owner's pid and start time; the next
  :meth:`Segment.create` of the same name, or :func:`sweep_stale`, unlinks segments whose owner
  is gone. This is all that can be done without a watchdog process. SIGTERM's default action
  runs no Python code either: a service should turn it into an exit
  (``signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))``) so that the owner cleans up.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
import weakref
from multiprocessing import shared_memory
from typing import Any

from .errors import ConfigError

__all__ = ["SHM_DIR", "Segment", "owner_alive", "process_start_time", "sweep_stale"]

#: Where Linux exposes POSIX shared memory (``shm_open`` names are files there).
SHM_DIR = "/dev/shm"
#: First 8 bytes of every sensekit segment; the owner writes them last, when the header is ready.
MAGIC = b"SKRING01"
#: Byte offsets of the owner's pid and start time in the header (see hub_shm's layout).
OWNER_PID_OFFSET = 40
OWNER_START_OFFSET = 48


class _NoTracker:
    """Stands in for ``multiprocessing.resource_tracker`` inside the untracked class."""

    @staticmethod
    def register(name: str, rtype: str) -> None:
        return None

    @staticmethod
    def unregister(name: str, rtype: str) -> None:
        return None


def _untracked(func: Any) -> Any:
    """``func`` with the module global ``resource_tracker`` replaced by :class:`_NoTracker`."""
    scope = dict(func.__globals__)
    scope["resource_tracker"] = _NoTracker
    return types.FunctionType(func.__code__, scope, func.__name__, func.__defaults__,
                              func.__closure__)


class _CreatorUnlinks(shared_memory.SharedMemory):
    """``SharedMemory`` whose ``unlink`` acts only in the process that created the segment.

    The standard library's ``__init__`` unlinks the name when mapping fails, also on a mere
    attach; a consumer must never do that.
    """

    def unlink(self) -> None:
        if getattr(self, "_flags", 0) & os.O_CREAT:
            _force_unlink(self)


if sys.version_info >= (3, 13):
    def _open_shm(name: str, create: bool, size: int) -> shared_memory.SharedMemory:
        return _CreatorUnlinks(name, create=create, size=size, track=False)

    def _force_unlink(shm: shared_memory.SharedMemory) -> None:
        shared_memory.SharedMemory.unlink(shm)  # untracked: no resource tracker involved
else:
    class _UntrackedSharedMemory(_CreatorUnlinks):
        """Never talks to the resource tracker (Python < 3.13, gh-82300)."""

        __init__ = _untracked(shared_memory.SharedMemory.__init__)

    _force_unlink = _untracked(shared_memory.SharedMemory.unlink)

    def _open_shm(name: str, create: bool, size: int) -> shared_memory.SharedMemory:
        shm: shared_memory.SharedMemory = _UntrackedSharedMemory(name, create=create, size=size)
        return shm


def process_start_time(pid: int) -> int:
    """Start time of ``pid`` in clock ticks since boot (0 where /proc is not available).

    Stored next to the pid so that a pid reused by an unrelated process is not taken for
    the owner.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return 0
    fields = stat[stat.rindex(b")") + 2:].split()
    return int(fields[19])  # field 22 of proc(5); the list starts at field 3


def owner_alive(pid: int, start_time: int) -> bool:
    """Whether the process that created a segment is still running (zombies count as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process; it exists
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return True  # no /proc: the pid check is all there is
    rest = stat[stat.rindex(b")") + 2:].split()
    if rest[0] == b"Z":
        return False
    return start_time == 0 or int(rest[19]) == start_time


def _read_owner(name: str) -> tuple[int, int] | None:
    """Owner (pid, start time) of the sensekit segment ``name``, or None if it is not ours."""
    try:
        with open(os.path.join(SHM_DIR, name), "rb") as f:
            head = f.read(OWNER_START_OFFSET + 8)
    except OSError:
        return None
    if len(head) < OWNER_START_OFFSET + 8 or head[:8] != MAGIC:
        return None
    pid = int.from_bytes(head[OWNER_PID_OFFSET:OWNER_PID_OFFSET + 8], sys.byteorder)
    start = int.from_bytes(head[OWNER_START_OFFSET:OWNER_START_OFFSET + 8], sys.byteorder)
    return pid, start


def _unlink_name(name: str) -> None:
    try:
        shm = _open_shm(name, False, 0)
    except FileNotFoundError:
        return
    shm.close()
    with contextlib.suppress(FileNotFoundError):
        _force_unlink(shm)  # on behalf of its dead owner


def remove_if_stale(name: str) -> bool:
    """Unlink segment ``name`` if it is a sensekit segment whose owner has died."""
    owner = _read_owner(name)
    if owner is None or owner_alive(*owner):
        return False
    _unlink_name(name)
    return True


def sweep_stale(prefix: str = "") -> list[str]:
    """Unlink every sensekit segment (names starting with ``prefix``) whose owner has died.

    Only segments of the current user can be opened (they are created mode 0600), so this
    never touches another user's data. Returns the names removed. Linux only (``/dev/shm``);
    elsewhere it returns an empty list.
    """
    try:
        names = sorted(os.listdir(SHM_DIR))
    except OSError:
        return []
    return [n for n in names if n.startswith(prefix) and remove_if_stale(n)]


def _finalize(shm: shared_memory.SharedMemory, owner_pid: int) -> None:
    try:
        shm.close()
    except BufferError:
        # numpy views still point into the mapping: leave it to them (it is unmapped when the
        # last one goes) and stop SharedMemory.__del__ from trying again.
        fd = getattr(shm, "_fd", -1)
        if fd >= 0:
            os.close(fd)
        shm._buf = shm._mmap = None  # type: ignore[attr-defined]
        shm._fd = -1  # type: ignore[attr-defined]
    if owner_pid == os.getpid():  # never from a forked child that inherited the object
        with contextlib.suppress(FileNotFoundError):
            shm.unlink()


def _check_name(name: str) -> None:
    if not name or "/" in name or len(name) > 200 or name in (".", ".."):
        raise ConfigError(f"shared-memory name {name!r} is not usable. Hint: use letters, "
                          "digits, '.', '-' and '_', without '/', up to 200 characters")


class Segment:
    """One named shared-memory block.

    Use :meth:`create` in the owner and :meth:`attach` elsewhere. Only the owner unlinks the
    name (on :meth:`close`, on collection, at interpreter exit); other processes only unmap.
    """

    def __init__(self, shm: shared_memory.SharedMemory, name: str, owner: bool) -> None:
        self.shm = shm
        self.name = name
        self.owner_pid = os.getpid() if owner else 0
        self.buf: memoryview = shm.buf  # type: ignore[assignment]
        self._finalizer = weakref.finalize(self, _finalize, shm, self.owner_pid)

    @property
    def owner(self) -> bool:
        """Whether this process created the segment (a forked child of the creator is not)."""
        return self.owner_pid == os.getpid()

    @classmethod
    def create(cls, name: str, size: int) -> Segment:
        """Create ``name`` (mode 0600); a stale one left by a dead owner is replaced first.

        Raises:
            ConfigError: A live process owns a segment of that name.
        """
        _check_name(name)
        try:
            shm = _open_shm(name, True, size)
        except FileExistsError:
            if not remove_if_stale(name):
                owner = _read_owner(name)
                who = f"process {owner[0]}" if owner else "another program"
                raise ConfigError(
                    f"shared-memory segment {name!r} already exists, owned by {who}. Hint: "
                    "pick another name or stop that process") from None
            shm = _open_shm(name, True, size)
        # Owner-only whatever the umask or platform default.
        os.fchmod(shm._fd, 0o600)  # type: ignore[attr-defined]
        return cls(shm, name, owner=True)

    @classmethod
    def attach(cls, name: str) -> Segment:
        """Map an existing segment; never unlinks it. Raises FileNotFoundError if absent."""
        _check_name(name)
        return cls(_open_shm(name, False, 0), name, owner=False)

    @property
    def size(self) -> int:
        return len(self.buf)

    def close(self) -> None:
        """Unmap (and unlink if this process owns it). Idempotent."""
        self.buf = memoryview(b"")
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive
