"""One reader's cursor on a :class:`~sensekit.hub_shm.SharedRing`: views, checks, exact losses.

See :mod:`sensekit.hub_shm` for the segment layout and the sequence lock this reads by.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from .errors import SegmentRefused
from .hub_shm import (
    _MAX_LAYOUTS,
    _S_BEFORE,
    _S_BLOB_AT,
    _S_BLOB_LEN,
    _S_COUNT,
    _S_META,
    _W_CLOSED,
    _W_HEAD,
    _W_MAGIC,
    SharedRing,
    _Layout,
)
from .packets import Packet

__all__ = ["Pacer", "RingReader"]

#: Keys in a view packet's ``__dict__``: where its slot's sequence word is (the reading reader's
#: token, its word view and the word's index: the same for every packet of a slot, so set once
#: per slot), and the value that word had when the packet was read (popped by validation).
_AT, _READ = "_ring_at", "_ring_read"
_NO_META: Mapping[str, Any] = MappingProxyType({})  # shared by every view without meta
#: A slot's header words, seq to meta bytes, read with one call (cheaper than seven loads).
_SLOT_WORDS = struct.Struct(f"{_S_META + 1}Q")
#: What a reader keeps per slot: layout id, layout, t_ns view, field views, and the start of
#: a view packet's ``__dict__`` (stream, modality, t_ns, fields, no meta, where its sequence
#: word is).
SlotViews = tuple[int, _Layout, npt.NDArray[Any], dict[str, npt.NDArray[Any]], dict[str, Any]]


class _RingView(Packet):
    """A packet whose arrays are views of a ring slot, made without re-checking its layout.

    It remembers which read made it (for :meth:`RingReader.validate`); pickled or copied, it
    becomes a plain :class:`~sensekit.packets.Packet`.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (Packet, (self.stream, self.t_ns, dict(self.fields), self.modality,
                         dict(self.meta)))


#: Sets an object's ``__dict__`` (the descriptor's own setter: no attribute lookup by name).
_SET_DICT = Packet.__dict__["__dict__"].__set__


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
        self._parsed: dict[int, _Layout] = {}
        # per slot: (layout id, layout, t_ns view, field views) of what it held last
        self._views: list[SlotViews | None] = [None] * ring.slots
        self._bases = ring._bases
        self._offsets = [8 * base for base in self._bases]  # byte offset of each slot header
        self._w, self._buf, self._slots = ring._w, ring.segment.buf, ring.slots  # every packet
        self.pacer = Pacer.for_ring(ring.slots)
        # Names this reader in the packets it makes (the reader itself would make a cycle
        # through its cache of slot views, keeping the mapping until a garbage collection).
        self._token = object()

    def close(self) -> None:
        """Forget the views this reader made, so that the ring can unmap."""
        self._views = [None] * len(self._views)

    def _samples_before(self, n: int) -> int:
        """Samples written before packet ``n`` (``n`` at most the head), for the start."""
        if n == 0:
            return 0
        # Packet n-1 is complete: its slot says exactly where n starts, unless it was
        # overwritten meanwhile (the reader was lapped as it started).
        ring, prev = self.ring, n - 1
        w, base = ring._w, ring._slot_word(prev % ring.slots)
        before, count = int(w[base + _S_BEFORE]), int(w[base + _S_COUNT])
        if int(w[base]) == 2 * prev + 2:
            return before + count
        return ring.samples_written

    @property
    def pending(self) -> int:
        """Packets written that this reader has not read yet (some may be lost)."""
        return max(0, self.ring._w[_W_HEAD] - self._next)

    def read(self, max_packets: int | None = None, *, copy: bool = False,
             latest: bool = False) -> list[Packet]:
        """Packets written since the last read, oldest first (at most ``max_packets``).

        Views by default (valid until overwritten; see :meth:`validate`); ``copy=True`` returns
        private arrays, checked after the copy. Packets overwritten before they are read are
        skipped and their samples added to :attr:`lost`. ``latest=True`` skips to the newest
        ``max_packets`` (default 1), counting the ones skipped as lost: for a reader slower
        than the producer, it spends its time on the packets least likely to be overwritten.

        Raises:
            SegmentRefused: A slot contradicts itself while its sequence says it is stable
                (the segment was not written by a sensekit producer).
        """
        ring = self.ring
        w = ring._w
        head = w[_W_HEAD]
        nxt = self._next
        if nxt == head:  # nothing new: the idle poll is two word loads
            # The closed flag first: once it is set, head and the sample count are final.
            if w[_W_CLOSED] and nxt == w[_W_HEAD]:
                self._settle(ring.samples_written)
            return []
        if head - nxt > ring.slots - 1:
            # The oldest slot may be the one being rewritten right now: skip it too.
            nxt = head - ring.slots + 1
        if latest:
            nxt = max(nxt, head - (max_packets or 1))
        stop = head if max_packets is None else min(head, nxt + max_packets)
        out = self._read_views(nxt, stop)
        if copy:
            out = [c for p in out if (c := self._copy_of(p)) is not None]
        self.pacer.found(head - self._next, time.monotonic())
        self._next = max(nxt, stop)
        # The closed flag first: once it is set, head and the sample count are final.
        if w[_W_CLOSED] and self._next == ring.head:
            self._settle(ring.samples_written)
        return out

    def _read_views(self, start: int, stop: int) -> list[Packet]:
        """Packets ``start`` to ``stop`` as views: the hot loop, everything it needs local."""
        w, buf, slots, cache = self._w, self._buf, self._slots, self._views
        bases, offsets, header = self._bases, self._offsets, _SLOT_WORDS.unpack_from
        new, set_dict = object.__new__, _SET_DICT
        expected = self._expected
        out: list[Packet] = []
        for n in range(start, stop):
            slot = n % slots
            good = 2 * n + 2
            seq, before, count, lid, _, _, meta_len = header(buf, offsets[slot])
            if seq != good:
                continue  # overwritten already; counted when a later packet is read
            views = cache[slot]
            if views is None or views[0] != lid:
                views = self._slot_views(slot, bases[slot], lid, good)
                if views is None:
                    continue
            meta = self._meta(slot, views[1], meta_len) if meta_len else _NO_META
            if w[bases[slot]] != good:
                continue  # rewritten while its words were read
            if count != views[1].n or meta is None:
                self._expected = expected
                raise self._corrupt(slot, f"it holds {count} samples of a {views[1].n}-sample "
                                    "layout" if meta is not None else "its meta is not a JSON "
                                    "object within the slot")
            if before > expected:
                self.lost += before - expected
            expected = before + count
            d = views[4].copy()  # stream, modality, t_ns, fields and no meta, of this slot
            if meta_len:
                d["meta"] = meta
            d[_READ] = good
            packet = new(_RingView)
            set_dict(packet, d)
            out.append(packet)
        self._expected = expected
        return out

    def _slot_views(self, slot: int, base: int, lid: int, good: int) -> SlotViews | None:
        """Views of ``slot`` laid out as layout ``lid`` (parsed once per id); None if torn."""
        ring, w = self.ring, self.ring._w
        layout = self._parsed.get(lid)
        if layout is None:
            blob_at, blob_len = int(w[base + _S_BLOB_AT]), int(w[base + _S_BLOB_LEN])
            at = ring._data_at(slot) + blob_at
            blob = bytes(ring.segment.buf[at:at + blob_len]) \
                if blob_at + blob_len <= ring.slot_bytes else b""
            try:
                layout = _Layout.parse(blob, lid, blob_at)
            except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
                if w[base] != good:
                    return None  # torn under us
                raise self._corrupt(slot, f"its layout is unusable ({exc})") from None
            if w[base] != good:
                return None  # read while being rewritten: do not remember it
            if len(self._parsed) >= _MAX_LAYOUTS:
                self._parsed.clear()
            self._parsed[lid] = layout
        data, buf = ring._data_at(slot), ring.segment.buf
        arrays: dict[str, npt.NDArray[Any]] = {
            name: np.frombuffer(buf, dt, count, data + off).reshape(shape)
            for (name, dt, shape, off), count in zip(layout.arrays, layout.counts, strict=True)}
        t_ns = arrays.pop("")
        # The fields mapping is shared by every packet read from this slot and layout, so
        # it is read-only.
        base_dict = {"stream": layout.stream, "modality": layout.modality, "t_ns": t_ns,
                     "fields": MappingProxyType(arrays), "meta": _NO_META,
                     _AT: (self._token, w, base)}
        views: SlotViews = (lid, layout, t_ns, arrays, base_dict)
        self._views[slot] = views
        return views

    def _meta(self, slot: int, layout: _Layout, meta_len: int) -> dict[str, Any] | None:
        at = layout.blob_end
        if at + meta_len > self.ring.slot_bytes:
            return None
        start = self.ring._data_at(slot) + at
        try:
            meta = json.loads(bytes(self.ring.segment.buf[start:start + meta_len]))
        except (ValueError, RecursionError):
            return None  # torn under us, or not meta: the sequence check that follows says
        return meta if isinstance(meta, dict) else None

    def _copy_of(self, view: Packet) -> Packet | None:
        """A private copy of ``view``, or None (its samples lost) if it was overwritten."""
        t_ns, fields = view.t_ns.copy(), {name: a.copy() for name, a in view.fields.items()}
        if not self.validate(view):
            return None
        packet = Packet(view.stream, t_ns, fields, view.modality, dict(view.meta))
        # A checked copy stays valid: its word is the segment's magic, which never changes.
        packet.__dict__.update({_AT: (self._token, self._w, _W_MAGIC), _READ: self._w[_W_MAGIC]})
        return packet

    def _corrupt(self, slot: int, what: str) -> SegmentRefused:
        return SegmentRefused(f"shared-memory ring {self.ring.name!r}: slot {slot} is "
                              f"inconsistent: {what}. Hint: the segment was not written by a "
                              "sensekit producer; remove it and restart the producer")

    def _settle(self, before: int) -> None:
        if before > self._expected:
            self.lost += before - self._expected
            self._expected = before

    def validate(self, packet: Packet) -> bool:
        """Whether ``packet`` (read from this reader) was still intact when this is called.

        Call it after using a view. ``False`` means the producer overwrote the slot meanwhile:
        the data may be torn, and its samples are added to :attr:`lost`.
        """
        d = packet.__dict__
        good, at = d.pop(_READ, None), d.get(_AT)
        if good is None or at is None or at[0] is not self._token:
            if good is not None:
                d[_READ] = good  # another reader's: leave it for that reader
            raise ValueError(f"reader {self.name!r}: packet was not read here, or was already "
                             "validated")
        if at[1][at[2]] == good:  # the slot's sequence word still says the same
            return True
        self.lost += len(packet)
        return False

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a packet or the producer's close; True if one came.

        Sleeps as :class:`Pacer` says: a busy reader reads a few packets per wake-up, an idle
        one wakes about a thousand times a second.
        """
        deadline = time.monotonic() + timeout_s
        delay = self.pacer.first_delay()
        while self.ring.head <= self._next and not self.ring.producer_closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(delay, left))
            delay = min(delay * 2, Pacer.MAX_S)
        return self.ring.head > self._next


class Pacer:
    """How long a polling reader sleeps before it looks again: until a few packets are there.

    A sleep and its wake-up cost a reader process 10-20 us of CPU, several times what reading
    a packet costs (``sensekit.hub``'s docstring has the figures), so a reader of a fast stream
    that wakes for every packet spends most of its time waking, and with more readers than
    cores that CPU is taken from the producer. The pacer keeps an estimate of the producer's
    packet interval (from how many packets each read found since the one before) and, once a
    read found nothing, sleeps ``batch`` intervals, then doubles the sleep up to 1 ms. Its
    bounds are those of a plain backoff (50 us to 1 ms): a reader never sleeps longer than
    before, and the latency it adds is at most ``batch`` packet intervals.

    Args:
        batch: Packets to find per wake-up; keep it well below the ring's slots, or a reader
            that sleeps that long risks being lapped.
    """

    MIN_S = 5e-5
    MAX_S = 1e-3

    def __init__(self, batch: int = 4) -> None:
        self.batch = batch
        self.interval_s = 0.0  # mean seconds between packets; 0 until two reads found some
        self._last = 0.0

    @classmethod
    def for_ring(cls, slots: int) -> Pacer:
        """The pacer for a ring of ``slots``: four packets a wake-up, or fewer in a small
        ring, so that a sleeping reader is never near being lapped."""
        return cls(max(1, min(4, slots // 4)))

    def found(self, packets: int, now: float) -> None:
        """Tell the pacer that a read at ``now`` (monotonic seconds) found ``packets``."""
        if packets <= 0:
            return
        if self._last:
            gap = (now - self._last) / packets
            self.interval_s = gap if not self.interval_s else 0.75 * self.interval_s + 0.25 * gap
        self._last = now

    def first_delay(self) -> float:
        """The first sleep after a read that found nothing."""
        return min(self.MAX_S, max(self.MIN_S, self.batch * self.interval_s))
