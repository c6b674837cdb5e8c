"""Shared-memory segments: made owner-only by one process, checked before a reader trusts them.

A segment is a file in ``/dev/shm`` (what ``shm_open`` uses on Linux) mapped with ``mmap``. The
process that creates it owns it: it maps it read-write and is the only one that unlinks it.
Readers map it **read-only**, so a reader can never corrupt what other readers see, and only
after checking it:

- it is a regular file owned by this user, or, where a group is configured
  (``SENSEKIT_SHM_GROUP`` or the ``group=`` argument: a recorder running as a service account,
  readers in a login account), owned by that group;
- nobody but its owner may write it and others may not read it (sensekit makes them ``0600``,
  or ``0640`` with a group);
- its header is checked against its size by the ring that uses it
  (:class:`~sensekit.hub_shm.SharedRing`), so a crafted header cannot make a reader allocate
  or read beyond the segment.

Lifecycle: the owner unlinks its segments on :meth:`Segment.close`, when the object is
collected, at interpreter exit, and on SIGTERM and SIGHUP. The first segment made in the main
thread installs a handler for both unless the signal is ignored; it chains to the handler that
was there: a Python function runs first, and the segments go only if it raises (a process that
goes on, as many do on SIGHUP, needs them); under the default action it unlinks, then dies of
the signal as it would have. A handler installed later replaces it; an exit through it still
unlinks through ``atexit``. A SIGKILLed owner runs no code, so its segment outlives it; the
header records the owner's pid and start time, and the first segment a process creates or
attaches sweeps every sensekit segment of this user whose owner is gone (:func:`sweep_stale`).
"""

from __future__ import annotations

import atexit
import contextlib
import grp
import mmap
import os
import signal
import stat
import sys
import threading
import weakref
from types import FrameType
from typing import Any

from .errors import ConfigError, SegmentRefused

__all__ = ["SHM_DIR", "Segment", "owner_alive", "process_start_time", "sweep_stale"]

#: Where Linux exposes POSIX shared memory (``shm_open`` names are files there).
SHM_DIR = "/dev/shm"
#: First 8 bytes of every sensekit segment; the owner writes them last, when the header is ready.
MAGIC = b"SKRING01"
#: Byte offsets of the owner's pid and start time in the header (see hub_shm's layout).
OWNER_PID_OFFSET = 40
OWNER_START_OFFSET = 48
#: Environment variable naming the group that may share segments across users.
GROUP_ENV = "SENSEKIT_SHM_GROUP"
#: Signals after which a process's segments are unlinked (SIGINT already raises an exception).
CLEANUP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

_OPEN_FLAGS = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
#: name -> pid of the owner, for every segment this process created and has not unlinked.
_owned: dict[str, int] = {}
_lock = threading.Lock()
_swept = False
_previous: dict[int, Any] = {}
_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def current_pid() -> int:
    """This process's pid, without a system call (kept right across fork)."""
    return _pid


def process_start_time(pid: int) -> int:
    """Start time of ``pid`` in clock ticks since boot (0 where /proc is not available).

    Stored next to the pid so that a pid reused by an unrelated process is not taken for
    the owner.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat_line = f.read()
    except OSError:
        return 0
    fields = stat_line[stat_line.rindex(b")") + 2:].split()
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
    except OverflowError:
        return False  # not a pid at all
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat_line = f.read()
    except OSError:
        return True  # no /proc: the pid check is all there is
    rest = stat_line[stat_line.rindex(b")") + 2:].split()
    if rest[0] == b"Z":
        return False
    return start_time == 0 or int(rest[19]) == start_time


def _path(name: str) -> str:
    return os.path.join(SHM_DIR, name)


def _read_owner(name: str) -> tuple[int, int] | None:
    """Owner (pid, start time) of this user's sensekit segment ``name``; None if not one."""
    try:
        fd = os.open(_path(name), os.O_RDONLY | os.O_NONBLOCK | _OPEN_FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            return None
        head = os.pread(fd, OWNER_START_OFFSET + 8, 0)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(head) < OWNER_START_OFFSET + 8 or head[:8] != MAGIC:
        return None
    pid = int.from_bytes(head[OWNER_PID_OFFSET:OWNER_PID_OFFSET + 8], sys.byteorder)
    start = int.from_bytes(head[OWNER_START_OFFSET:OWNER_START_OFFSET + 8], sys.byteorder)
    return pid, start


def remove_if_stale(name: str) -> bool:
    """Unlink segment ``name`` if it is this user's sensekit segment and its owner has died."""
    owner = _read_owner(name)
    if owner is None or owner_alive(*owner):
        return False
    with contextlib.suppress(FileNotFoundError, PermissionError):
        os.unlink(_path(name))  # on behalf of its dead owner
        return True
    return False


def sweep_stale(prefix: str = "") -> list[str]:
    """Unlink every sensekit segment of this user (names starting with ``prefix``) whose owner
    has died; return the names removed. Linux only (``/dev/shm``); elsewhere it returns []."""
    try:
        names = sorted(os.listdir(SHM_DIR))
    except OSError:
        return []
    return [n for n in names if n.startswith(prefix) and remove_if_stale(n)]


def _sweep_once() -> None:
    """The first use of shared memory in a process sweeps what dead processes left."""
    global _swept
    if not _swept:
        _swept = True
        sweep_stale()


def _check_name(name: str) -> None:
    if not name or "/" in name or "\0" in name or len(name) > 200 or name in (".", ".."):
        raise ConfigError(f"shared-memory name {name!r} is not usable. Hint: use letters, "
                          "digits, '.', '-' and '_', without '/', up to 200 characters")


def _group_id(group: str | int | None) -> int | None:
    """The gid of ``group`` (a name or number), of ``$SENSEKIT_SHM_GROUP`` when None."""
    if group is None:
        group = os.environ.get(GROUP_ENV) or None
    if group is None or isinstance(group, int):
        return group
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ConfigError(f"shared-memory group {group!r} does not exist (from {GROUP_ENV} or "
                          "group=). Hint: create it, or leave it unset for owner-only "
                          "segments") from None


# -- cleanup on signals and at exit --------------------------------------------------------

def _unlink_owned() -> None:
    me = os.getpid()
    with _lock:
        names = [n for n, pid in _owned.items() if pid == me]
        for name in names:
            _owned.pop(name, None)
    for name in names:
        with contextlib.suppress(OSError):
            os.unlink(_path(name))


def _on_signal(signum: int, frame: FrameType | None) -> None:
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        # The user's own handler decides: a process that goes on (SIGHUP often means
        # "reload") keeps its segments; one that leaves through an exception loses them.
        try:
            previous(signum, frame)
        except BaseException:
            _unlink_owned()
            raise
        return
    _unlink_owned()
    # The default action (terminate) as if this handler had never been there.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_signal_cleanup() -> None:
    """Unlink this process's segments on SIGTERM/SIGHUP, chaining to what was there before.

    Only from the main thread (Python's rule), and never over an ignored signal (``nohup``):
    a process that ignores SIGHUP keeps running, and so must its segments.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in CLEANUP_SIGNALS:
        current = signal.getsignal(signum)
        if current is _on_signal or current in (signal.SIG_IGN, None):
            continue
        _previous[signum] = current
        signal.signal(signum, _on_signal)


atexit.register(_unlink_owned)


# -- segments ------------------------------------------------------------------------------

def _finalize(mapping: mmap.mmap, name: str, owner_pid: int) -> None:
    with contextlib.suppress(BufferError):
        # numpy views still point into the mapping: it is unmapped when the last one goes.
        mapping.close()
    if owner_pid == os.getpid():  # never from a forked child that inherited the object
        with _lock:
            _owned.pop(name, None)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(_path(name))


class Segment:
    """One named shared-memory block.

    Use :meth:`create` in the owner and :meth:`attach` elsewhere. Only the owner unlinks the
    name (on :meth:`close`, on collection, at exit, on SIGTERM/SIGHUP); readers map it
    read-only and only unmap.
    """

    def __init__(self, mapping: mmap.mmap, name: str, owner: bool) -> None:
        self.name = name
        self.owner_pid = os.getpid() if owner else 0
        self.writable = owner
        self.buf = memoryview(mapping)
        if not owner:
            self.buf = self.buf.toreadonly()
        self._finalizer = weakref.finalize(self, _finalize, mapping, name, self.owner_pid)

    @property
    def owner(self) -> bool:
        """Whether this process created the segment (a forked child of the creator is not)."""
        return self.owner_pid == _pid

    @classmethod
    def create(cls, name: str, size: int, group: str | int | None = None) -> Segment:
        """Create ``name`` (mode 0600, or 0640 owned by ``group``); replace a stale one.

        Raises:
            ConfigError: A live process owns a segment of that name, or the group is unknown.
        """
        _check_name(name)
        gid = _group_id(group)
        _sweep_once()
        try:
            fd = _create_fd(name)
        except FileExistsError:
            if not remove_if_stale(name):
                owner = _read_owner(name)
                who = f"process {owner[0]}" if owner else "another program or user"
                raise ConfigError(
                    f"shared-memory segment {name!r} already exists, owned by {who}. Hint: "
                    "pick another name or stop that process") from None
            fd = _create_fd(name)
        with _lock:
            _owned[name] = os.getpid()
        try:
            if gid is not None:
                os.fchown(fd, -1, gid)
            os.fchmod(fd, 0o640 if gid is not None else 0o600)  # whatever the umask
            os.ftruncate(fd, size)
            mapping = mmap.mmap(fd, size)
        except BaseException:
            _drop(name)
            raise
        finally:
            os.close(fd)
        _install_signal_cleanup()
        return cls(mapping, name, owner=True)

    @classmethod
    def attach(cls, name: str, group: str | int | None = None) -> Segment:
        """Map an existing segment read-only after checking its owner and mode.

        Raises:
            FileNotFoundError: No such segment.
            SegmentRefused: It belongs to another user (outside ``group``), others may write
                it, or it is not a regular file.
            ValueError: It is still empty (being created).
        """
        _check_name(name)
        gid = _group_id(group)
        _sweep_once()
        fd = os.open(_path(name), os.O_RDONLY | os.O_NONBLOCK | _OPEN_FLAGS)
        try:
            st = os.fstat(fd)
            _check_trust(name, st, gid)
            if st.st_size == 0:
                raise ValueError(f"shared-memory segment {name!r} is empty")
            mapping = mmap.mmap(fd, st.st_size, prot=mmap.PROT_READ)
        finally:
            os.close(fd)
        return cls(mapping, name, owner=False)

    @property
    def size(self) -> int:
        return len(self.buf)

    def close(self) -> None:
        """Unmap (and unlink if this process owns it). Idempotent.

        Arrays still viewing the segment keep their pages mapped until they are collected.
        """
        with contextlib.suppress(BufferError):
            self.buf.release()
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive


def _create_fd(name: str) -> int:
    try:
        return os.open(_path(name), os.O_RDWR | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o600)
    except FileNotFoundError:
        raise ConfigError(f"no {SHM_DIR}: shared-memory hubs need Linux POSIX shared memory. "
                          "Hint: use an in-process Hub, or mount tmpfs on /dev/shm") from None


def _drop(name: str) -> None:
    with _lock:
        _owned.pop(name, None)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_path(name))


def _check_trust(name: str, st: os.stat_result, gid: int | None) -> None:
    """Refuse a segment a reader should not trust (see the module docstring)."""
    where = f"shared-memory segment {_path(name)}"
    mode = stat.S_IMODE(st.st_mode)
    if not stat.S_ISREG(st.st_mode):
        raise SegmentRefused(f"{where} is not a regular file. Hint: check the hub name")
    if st.st_uid != os.geteuid() and not (gid is not None and st.st_gid == gid):
        group = f"group {gid}" if gid is not None else f"no group ({GROUP_ENV} is unset)"
        raise SegmentRefused(
            f"{where} belongs to user {st.st_uid} and group {st.st_gid}, not to you "
            f"(user {os.geteuid()}), and {group} is configured to share segments. Hint: run "
            f"the reader as the producer's user, or set {GROUP_ENV} (or group=) on both sides")
    if mode & 0o027:
        raise SegmentRefused(
            f"{where} has mode {mode:04o}: others than its owner may write it or anyone may "
            "read it, so its contents cannot be trusted (sensekit makes 0600, or 0640 with a "
            "group). Hint: remove it and restart its producer")
