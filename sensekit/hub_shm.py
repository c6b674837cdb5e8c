"""Cross-process ring buffers of packets in shared memory, with a per-slot sequence lock.

One producer process writes each packet once; any number of reader processes read it as
zero-copy numpy views, each with its own cursor. The producer never waits for a reader: a
reader that falls behind loses the oldest packets and counts exactly how many samples it lost.

Segment layout (all integers are native-endian uint64)::

    header (4096 bytes)                       slot i (stride bytes, 64-aligned)
      0  magic "SKRING01" (written last)        0  seq: 2n+1 while packet n is written,
      8  layout version                            2n+2 once it is complete
     16  slots        24  slot payload bytes    8  samples published before packet n
     32  stride       40  owner pid            16  samples in packet n
     48  owner start  56  head (packets done)  24  layout bytes   32  meta bytes
     64  samples done 72  closed flag          64  layout JSON, meta JSON, then the arrays
     80  info length 128  info JSON              (t_ns first, each array 64-aligned)

**Sequence lock.** The producer writes ``2n+1`` into a slot's ``seq`` before touching it and
``2n+2`` after, then advances ``head``. A reader that wants packet ``n`` checks ``seq == 2n+2``
before and after reading the slot header; :meth:`RingReader.validate` checks it again after
the caller has used the data. A slot overwritten in between is detected, never returned as
good data. The check relies on stores becoming visible in program order, which x86-64 and the
interpreter's own locking give; on weakly ordered CPUs (AArch64) the window between a store
and its visibility is far shorter than one Python bytecode, but it is not a formal guarantee.

**Validity of views.** A packet from :meth:`RingReader.read` is a view of the slot: it stays
valid until the producer overwrites that slot (``slots`` packets later). Call
:meth:`RingReader.validate` after using it (``False`` means it was overwritten while in use,
and its samples are counted as lost), or read with ``copy=True`` to get private arrays that are
checked once copied.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ._shm import MAGIC, Segment, owner_alive, process_start_time
from .errors import ConfigError, SensekitError
from .packets import Packet

__all__ = ["RingReader", "SharedRing"]

HEADER_BYTES = 4096
SLOT_HEADER = 64
_VERSION = 1
_MAGIC_WORD = int.from_bytes(MAGIC, "little" if np.little_endian else "big")
# header word indices
_W_MAGIC, _W_VERSION, _W_SLOTS, _W_SLOT_BYTES, _W_STRIDE, _W_PID, _W_START = range(7)
_W_HEAD, _W_TOTAL, _W_CLOSED, _W_INFO_LEN = 7, 8, 9, 10
_INFO_OFFSET, _INFO_MAX = 128, HEADER_BYTES - 128
# slot word indices
_S_SEQ, _S_BEFORE, _S_COUNT, _S_LAYOUT, _S_META = range(5)


def _align(n: int, to: int = 64) -> int:
    return (n + to - 1) // to * to


class _Layout:
    """Where each array of one packet shape lies in a slot (decoded once, then cached)."""

    __slots__ = ("arrays", "blob", "counts", "modality", "nbytes", "stream")

    def __init__(self, stream: str, modality: str, arrays: list[tuple[str, np.dtype[Any],
                 tuple[int, ...], int]]) -> None:
        self.stream = stream
        self.modality = modality
        self.arrays = arrays  # (name, dtype, shape, offset from the data start); "" is t_ns
        self.counts = [math.prod(shape) for _, _, shape, _ in arrays]
        last = arrays[-1]
        self.nbytes = last[3] + last[1].itemsize * self.counts[-1]
        self.blob = json.dumps([stream, modality, [
            [name, dt.str, list(shape), off] for name, dt, shape, off in arrays]]).encode()

    @classmethod
    def of(cls, packet: Packet) -> _Layout:
        arrays: list[tuple[str, np.dtype[Any], tuple[int, ...], int]] = []
        offset = 0
        for name, array in [("", packet.t_ns), *packet.fields.items()]:
            if array.dtype.hasobject or array.dtype.fields is not None:
                raise ConfigError(
                    f"stream {packet.stream!r}: field {name!r} has dtype {array.dtype}, which "
                    "cannot cross processes. Hint: use plain numeric arrays, one per field")
            arrays.append((name, array.dtype, tuple(array.shape), offset))
            offset = _align(offset + array.nbytes)
        return cls(packet.stream, packet.modality, arrays)

    @classmethod
    def parse(cls, blob: bytes) -> _Layout:
        stream, modality, items = json.loads(blob)
        return cls(stream, modality, [(n, np.dtype(d), tuple(s), o) for n, d, s, o in items])


def _encode_meta(meta: Mapping[str, Any]) -> bytes:
    # Meta is small per-packet facts; anything JSON cannot carry crosses as its repr.
    return json.dumps(dict(meta), default=repr).encode() if meta else b""


class SharedRing:
    """A ring of ``slots`` packet slots of ``slot_bytes`` each, in one shared-memory segment.

    Create it in the producer with :meth:`create`, open it in readers with :meth:`attach`.
    ``write`` is thread-safe; one process writes (the owner). Packets larger than a slot are
    split into consecutive packets of fewer samples.
    """

    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        self.name = segment.name
        self._words = segment.buf[:HEADER_BYTES].cast("Q")
        if self._words[_W_MAGIC] != _MAGIC_WORD or self._words[_W_VERSION] != _VERSION:
            self._words.release()
            raise SensekitError(f"shared-memory segment {self.name!r} is not a sensekit ring "
                                f"(version {_VERSION}). Hint: check the name")
        self.slots = int(self._words[_W_SLOTS])
        self.slot_bytes = int(self._words[_W_SLOT_BYTES])
        self.stride = int(self._words[_W_STRIDE])
        self._slot_words = [segment.buf[self._slot_at(i):self._slot_at(i) + SLOT_HEADER]
                            .cast("Q") for i in range(self.slots)]
        self._lock = threading.Lock()
        self._layouts: dict[tuple[Any, ...], _Layout] = {}
        self._closed = False
        self._next_alive_check = 0.0
        self._owner_dead = False

    # -- opening -----------------------------------------------------------------------
    @classmethod
    def create(cls, name: str, slot_bytes: int, slots: int, *,
               info: Mapping[str, Any] | None = None) -> SharedRing:
        """Create the ring ``name`` in this process, which owns (and later unlinks) it.

        Args:
            name: Segment name (``/dev/shm/<name>`` on Linux).
            slot_bytes: Payload bytes per slot: the largest packet, arrays 64-aligned, plus
                its layout description (a few hundred bytes).
            slots: Packets kept; a reader more than ``slots - 1`` packets behind loses data.
            info: Small JSON facts readers can see in :attr:`info` (stream, modality...).
        """
        if slots < 2 or slot_bytes < 256:
            raise ConfigError(f"ring {name!r}: needs slots >= 2 and slot_bytes >= 256, got "
                              f"{slots} and {slot_bytes}")
        blob = json.dumps(dict(info or {})).encode()
        if len(blob) > _INFO_MAX:
            raise ConfigError(f"ring {name!r}: info is {len(blob)} bytes, at most {_INFO_MAX}")
        stride = _align(SLOT_HEADER + slot_bytes, 4096 if slot_bytes >= 65536 else 64)
        segment = Segment.create(name, HEADER_BYTES + stride * slots)
        words = segment.buf[:HEADER_BYTES].cast("Q")
        pid = os.getpid()
        for index, value in ((_W_VERSION, _VERSION), (_W_SLOTS, slots),
                             (_W_SLOT_BYTES, slot_bytes), (_W_STRIDE, stride), (_W_PID, pid),
                             (_W_START, process_start_time(pid)), (_W_INFO_LEN, len(blob))):
            words[index] = value
        segment.buf[_INFO_OFFSET:_INFO_OFFSET + len(blob)] = blob
        words[_W_MAGIC] = _MAGIC_WORD  # last: readers wait for it
        words.release()
        return cls(segment)

    @classmethod
    def attach(cls, name: str, timeout_s: float = 0.0) -> SharedRing:
        """Open the ring ``name`` made by another process (waiting up to ``timeout_s``).

        The reader never unlinks it, also on Python < 3.13 (see :mod:`sensekit._shm`).

        Raises:
            FileNotFoundError: No such ring appeared within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                segment = Segment.attach(name)
                if segment.size >= HEADER_BYTES and bytes(segment.buf[:8]) == MAGIC:
                    return cls(segment)
                segment.close()  # still being set up by its owner
            except ValueError:
                pass  # created but not sized yet: mmap refuses an empty file
            except FileNotFoundError:
                if time.monotonic() >= deadline:
                    raise FileNotFoundError(
                        f"no shared-memory ring {name!r}. Hint: start its producer first, or "
                        "pass timeout_s to wait for it") from None
            if time.monotonic() >= deadline:
                raise SensekitError(f"shared-memory ring {name!r} was never completed by its "
                                    "owner. Hint: the producer may have died while creating it")
            time.sleep(0.002)

    # -- facts ---------------------------------------------------------------------------
    @property
    def info(self) -> dict[str, Any]:
        """The JSON facts given at creation."""
        n = int(self._words[_W_INFO_LEN])
        result: dict[str, Any] = json.loads(bytes(self.segment.buf[_INFO_OFFSET:_INFO_OFFSET + n]))
        return result

    @property
    def head(self) -> int:
        """Packets completely written so far."""
        return int(self._words[_W_HEAD])

    @property
    def samples_written(self) -> int:
        """Samples completely written so far."""
        return int(self._words[_W_TOTAL])

    @property
    def producer_closed(self) -> bool:
        """Whether the producer has closed the ring (no more packets will come)."""
        return bool(self._words[_W_CLOSED])

    @property
    def producer_gone(self) -> bool:
        """Whether no more packets can come: the producer closed the ring or has died.

        Whether it lives is looked up in /proc at most every 0.2 s (cheap to call in a loop).
        """
        if self.producer_closed:
            return True
        now = time.monotonic()
        if now >= self._next_alive_check:
            self._next_alive_check = now + 0.2
            self._owner_dead = not owner_alive(self.owner_pid, int(self._words[_W_START]))
        return self._owner_dead

    @property
    def owner_pid(self) -> int:
        """Pid of the producer that created the ring."""
        return int(self._words[_W_PID])

    @property
    def owner(self) -> bool:
        """Whether this process is the producer (only it writes and unlinks)."""
        return self.segment.owner

    def _slot_at(self, index: int) -> int:
        return HEADER_BYTES + index * self.stride

    # -- writing -------------------------------------------------------------------------
    def write(self, packet: Packet) -> int:
        """Copy ``packet`` into the ring (split if it exceeds a slot); return packets written.

        Never waits for readers. Raises :class:`ConfigError` if one sample does not fit a slot.
        """
        if not self.owner:
            raise SensekitError(f"ring {self.name!r} is attached, not owned; only its "
                                f"producer (pid {self.owner_pid}) writes")
        with self._lock:
            if self._closed:
                raise SensekitError(f"ring {self.name!r} is closed")
            return self._write_split(packet)

    def _write_split(self, packet: Packet) -> int:
        layout, meta = self._layout(packet), _encode_meta(packet.meta)
        if self._fits(layout, meta) or len(packet) <= 1:
            self._check_fits(packet, layout, meta)
            self._write_one(packet, layout, meta)
            return 1
        half = len(packet) // 2
        return self._write_split(packet.slice(0, half)) + \
            self._write_split(packet.slice(half, len(packet)))

    def _fits(self, layout: _Layout, meta: bytes) -> bool:
        data = _align(len(layout.blob) + len(meta))
        return data + layout.nbytes <= self.slot_bytes

    def _check_fits(self, packet: Packet, layout: _Layout, meta: bytes) -> None:
        if not self._fits(layout, meta):
            need = _align(len(layout.blob) + len(meta)) + layout.nbytes
            raise ConfigError(
                f"ring {self.name!r}: one sample of stream {packet.stream!r} needs {need} "
                f"bytes, slots hold {self.slot_bytes}. Hint: create the ring with a larger "
                "slot_bytes")

    def _layout(self, packet: Packet) -> _Layout:
        key = (packet.stream, packet.modality, packet.t_ns.shape,
               *((k, v.dtype, v.shape) for k, v in packet.fields.items()))
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) > 256:
                self._layouts.clear()
            layout = self._layouts[key] = _Layout.of(packet)
        return layout

    def _write_one(self, packet: Packet, layout: _Layout, meta: bytes) -> None:
        n = int(self._words[_W_HEAD])
        slot = n % self.slots
        words = self._slot_words[slot]
        base = self._slot_at(slot) + SLOT_HEADER
        buf = self.segment.buf
        words[_S_SEQ] = 2 * n + 1  # odd: being written; readers holding it see the change
        total = int(self._words[_W_TOTAL])
        words[_S_BEFORE] = total
        words[_S_COUNT] = len(packet)
        words[_S_LAYOUT] = len(layout.blob)
        words[_S_META] = len(meta)
        buf[base:base + len(layout.blob)] = layout.blob
        buf[base + len(layout.blob):base + len(layout.blob) + len(meta)] = meta
        data = base + _align(len(layout.blob) + len(meta))
        sources = [packet.t_ns, *packet.fields.values()]
        for (_, dtype, shape, offset), count, src in zip(layout.arrays, layout.counts, sources,
                                                          strict=True):
            dst = np.frombuffer(buf, dtype, count, data + offset).reshape(shape)
            np.copyto(dst, src, casting="no")
        words[_S_SEQ] = 2 * n + 2
        self._words[_W_TOTAL] = total + len(packet)
        self._words[_W_HEAD] = n + 1

    # -- closing -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop using the ring. The owner marks it closed for readers and unlinks it."""
        with self._lock:  # waits for a write in flight
            if self._closed:
                return
            self._closed = True
            if self.owner:
                self._words[_W_CLOSED] = 1
            for words in self._slot_words:
                words.release()
            self._words.release()
            self.segment.close()

    def __enter__(self) -> SharedRing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reader(self, name: str = "", *, from_oldest: bool = False) -> RingReader:
        """A new cursor on this ring (starting at the next packet, or the oldest kept)."""
        return RingReader(self, name or f"pid {os.getpid()}", from_oldest=from_oldest)

    def __repr__(self) -> str:
        role = "owner" if self.owner else "reader"
        return f"<SharedRing {self.name!r} {self.slots}x{self.slot_bytes}B {role}>"


class RingReader:
    """One reader's cursor on a :class:`SharedRing` (use each reader from one thread).

    Attributes:
        lost: Samples this reader lost (overwritten before it got to them, or overwritten
            while it held them, as found by :meth:`validate` or a copying read). Exact; a loss
            is known once a later packet has been read or the producer has closed the ring.
    """

    def __init__(self, ring: SharedRing, name: str, *, from_oldest: bool = False) -> None:
        self.ring = ring
        self.name = name
        self.lost = 0
        head = ring.head
        self._next = max(0, head - ring.slots + 1) if from_oldest else head
        self._expected = self._samples_before(self._next)
        self._held: weakref.WeakKeyDictionary[Packet, int] = weakref.WeakKeyDictionary()
        self._parsed: dict[bytes, _Layout] = {}

    def _samples_before(self, n: int) -> int:
        """Samples written before packet ``n`` (``n`` at most the head), for the start."""
        if n == 0:
            return 0
        # Packet n-1 is complete: its slot says exactly where n starts, unless it was
        # overwritten meanwhile (the reader was lapped as it started).
        ring, prev = self.ring, n - 1
        words = ring._slot_words[prev % ring.slots]
        before, count = int(words[_S_BEFORE]), int(words[_S_COUNT])
        if int(words[_S_SEQ]) == 2 * prev + 2:
            return before + count
        return ring.samples_written

    @property
    def pending(self) -> int:
        """Packets written that this reader has not read yet (some may be lost)."""
        return max(0, self.ring.head - self._next)

    def read(self, max_packets: int | None = None, *, copy: bool = False,
             latest: bool = False) -> list[Packet]:
        """Packets written since the last read, oldest first (at most ``max_packets``).

        Views by default (valid until overwritten; see :meth:`validate`); ``copy=True`` returns
        private arrays, checked after the copy. Packets overwritten before they are read are
        skipped and their samples added to :attr:`lost`. ``latest=True`` skips to the newest
        ``max_packets`` (default 1), counting the ones skipped as lost: for a reader slower
        than the producer, it spends its time on the packets least likely to be overwritten.
        """
        ring = self.ring
        head = ring.head
        if head - self._next > ring.slots - 1:
            # The oldest slot may be the one being rewritten right now: skip it too.
            self._next = head - ring.slots + 1
        if latest:
            self._next = max(self._next, head - (max_packets or 1))
        stop = head if max_packets is None else min(head, self._next + max_packets)
        out: list[Packet] = []
        for n in range(self._next, stop):
            packet = self._read_slot(n, copy)
            if packet is not None:
                out.append(packet)
        self._next = max(self._next, stop)
        # The closed flag first: once it is set, head and the sample count are final.
        if ring.producer_closed and self._next == ring.head:
            self._settle(ring.samples_written)
        return out

    def _read_slot(self, n: int, copy: bool) -> Packet | None:
        ring = self.ring
        words = ring._slot_words[n % ring.slots]
        good = 2 * n + 2
        if words[_S_SEQ] != good:
            return None  # overwritten already; counted when a later packet is read
        before, count = int(words[_S_BEFORE]), int(words[_S_COUNT])
        layout_len, meta_len = int(words[_S_LAYOUT]), int(words[_S_META])
        base = ring._slot_at(n % ring.slots) + SLOT_HEADER
        buf = ring.segment.buf
        blob = bytes(buf[base:base + layout_len])
        meta = bytes(buf[base + layout_len:base + layout_len + meta_len])
        if words[_S_SEQ] != good:
            return None
        try:
            packet = self._build(blob, meta, base + _align(layout_len + meta_len), copy)
        except (ValueError, KeyError, TypeError):
            packet = None  # a header torn under us; the seq check below confirms it
        if words[_S_SEQ] != good or packet is None:
            return None
        self._settle(before)
        self._expected = before + count
        self._held[packet] = -1 if copy else n  # a checked copy stays valid
        return packet

    def _build(self, blob: bytes, meta: bytes, data: int, copy: bool) -> Packet:
        layout = self._parsed.get(blob)
        if layout is None:
            if len(self._parsed) > 256:
                self._parsed.clear()
            layout = self._parsed[blob] = _Layout.parse(blob)
        buf = self.ring.segment.buf
        arrays: dict[str, npt.NDArray[Any]] = {}
        for (name, dtype, shape, offset), count in zip(layout.arrays, layout.counts,
                                                      strict=True):
            view = np.frombuffer(buf, dtype, count, data + offset).reshape(shape)
            if copy:
                view = view.copy()
            else:
                view.flags.writeable = False
            arrays[name] = view
        t_ns = arrays.pop("")
        return Packet(layout.stream, t_ns, arrays, layout.modality,
                      json.loads(meta) if meta else {})

    def _settle(self, before: int) -> None:
        if before > self._expected:
            self.lost += before - self._expected
            self._expected = before

    def validate(self, packet: Packet) -> bool:
        """Whether ``packet`` (read from this reader) was still intact when this is called.

        Call it after using a view. ``False`` means the producer overwrote the slot meanwhile:
        the data may be torn, and its samples are added to :attr:`lost`.
        """
        n = self._held.pop(packet, None)
        if n is None:
            raise ValueError(f"reader {self.name!r}: packet was not read here, or was already "
                             "validated")
        ring = self.ring
        if n < 0 or ring._slot_words[n % ring.slots][_S_SEQ] == 2 * n + 2:
            return True
        self.lost += len(packet)
        return False

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a packet or the producer's close; True if one came.

        Polls the ring's head with a backoff from 50 us to 1 ms, so an idle reader costs
        about a thousand wake-ups a second and a busy one reads batches.
        """
        deadline = time.monotonic() + timeout_s
        delay = 5e-5
        while self.ring.head <= self._next and not self.ring.producer_closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(delay, left))
            delay = min(delay * 2, 1e-3)
        return self.ring.head > self._next
