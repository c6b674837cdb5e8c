"""Cross-process ring buffers of packets in shared memory, with a per-slot sequence lock.

One producer process writes each packet once; any number of reader processes read it as
zero-copy numpy views, each with its own cursor. The producer never waits for a reader: a
reader that falls behind loses the oldest packets and counts exactly how many samples it lost.

Segment layout (all integers are native-endian uint64)::

    header (4096 bytes)                       slot i (stride bytes: an odd number of 64)
      0  magic "SKRING01" (written last)        0  seq: 2n+1 while packet n is written,
      8  layout version (2)                        2n+2 once it is complete
     16  slots        24  slot payload bytes    8  samples published before packet n
     32  stride       40  owner pid            16  samples in packet n
     48  owner start  56  head (packets done)  24  layout id     32  layout offset
     64  samples done 72  closed flag          40  layout bytes  48  meta bytes
     80  info length 128  info JSON            64  the arrays at fixed offsets (t_ns first,
                                                   each 64-aligned), the layout JSON, the meta

**Sequence lock.** The producer writes ``2n+1`` into a slot's ``seq`` before touching it and
``2n+2`` after, then advances ``head``. A reader (:mod:`sensekit.ring_reader`) that wants packet
``n`` checks ``seq == 2n+2`` before and after reading the slot header; ``validate`` checks it
again after the caller has used the data. A slot overwritten in between is detected, never
returned as good data. The check relies on stores becoming visible in program order, which
x86-64 and the interpreter's own locking give; on weakly ordered CPUs (AArch64) the window
between a store and its visibility is far shorter than one Python bytecode, but it is not a
formal guarantee.

**Layouts.** Each distinct packet shape (stream, modality, dtypes and shapes) gets a layout id
from the producer; its arrays sit at the same offsets in every slot, so both sides build the
numpy views of a slot once per layout and reuse them: a read costs a few word loads, a dict
and a :class:`~sensekit.packets.Packet`, whatever the packet's size. The layout's JSON is
written into a slot only when the slot changes layout; a reader parses it once per id.

**Trust.** Readers map the segment read-only after :mod:`sensekit._shm` checked its owner and
mode, and check the header against the segment's size before using it; a layout that does not
fit its slot, or a slot whose words contradict its layout while its sequence says it is
stable, is refused with :class:`~sensekit.errors.SegmentRefused`.

**Validity of views.** A packet a reader reads is a view of the slot: it stays valid until the
producer overwrites that slot (``slots`` packets later). Call the reader's ``validate`` after
using it (``False`` means it was overwritten while in use, and its samples are counted as
lost), or read with ``copy=True`` to get private arrays that are checked once copied.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._shm import MAGIC, Segment, current_pid, owner_alive, process_start_time
from .errors import ConfigError, SegmentRefused, SensekitError
from .packets import Packet

__all__ = ["SharedRing"]

if TYPE_CHECKING:
    from .ring_reader import RingReader

HEADER_BYTES = 4096
SLOT_HEADER = 64
_VERSION = 2
_MAGIC_WORD = int.from_bytes(MAGIC, "little" if np.little_endian else "big")
# header word indices
_W_MAGIC, _W_VERSION, _W_SLOTS, _W_SLOT_BYTES, _W_STRIDE, _W_PID, _W_START = range(7)
_W_HEAD, _W_TOTAL, _W_CLOSED, _W_INFO_LEN = 7, 8, 9, 10
_INFO_OFFSET, _INFO_MAX = 128, HEADER_BYTES - 128
# slot word indices, from the slot's first word
_S_SEQ, _S_BEFORE, _S_COUNT, _S_LID, _S_BLOB_AT, _S_BLOB_LEN, _S_META = range(7)
#: Parsed layouts a reader keeps (a producer makes one per packet shape it sees).
_MAX_LAYOUTS = 256


def _align(n: int, to: int = 64) -> int:
    return (n + to - 1) // to * to


def _stride(slot_bytes: int) -> int:
    """Bytes from one slot to the next: an odd number of 64-byte cache lines.

    Slots a whole number of pages apart start at the same place in every page, so their
    headers and first lines compete for the same cache sets. Copying a 640x480x3 frame into
    page-aligned slots took 19 us against 18 with this stride, and a publish about 1 us more
    (best of 5 loops of 320 frames, 4 alternations, on the 2-core x86 machine of
    ``sensekit/bench/README.md`` shared with another job). An odd number of lines spreads
    successive slots over every set.
    """
    lines = -(-(SLOT_HEADER + slot_bytes) // 64)
    return 64 * (lines | 1)


ArraySpec = tuple[str, np.dtype[Any], tuple[int, ...], int]
#: What the producer keeps per slot: layout id, t_ns view and field views.
SlotArrays = tuple[int, npt.NDArray[Any], list[npt.NDArray[Any]]]


class _Layout:
    """Where each array of one packet shape lies in a slot, and the JSON that says so."""

    __slots__ = ("arrays", "blob", "blob_at", "blob_end", "counts", "lid", "modality", "n",
                 "stream")

    def __init__(self, stream: str, modality: str, arrays: list[ArraySpec], lid: int) -> None:
        self.stream = stream
        self.modality = modality
        self.arrays = arrays  # (name, dtype, shape, offset from the data start); "" is t_ns
        self.counts = [math.prod(shape) for _, _, shape, _ in arrays]
        self.n = arrays[0][2][0]
        last = arrays[-1]
        self.blob_at = _align(last[3] + last[1].itemsize * self.counts[-1])
        self.blob = json.dumps([stream, modality, [
            [name, dt.str, list(shape), off] for name, dt, shape, off in arrays]]).encode()
        self.blob_end = self.blob_at + len(self.blob)  # where a packet's meta starts
        self.lid = lid

    @classmethod
    def of(cls, packet: Packet, lid: int) -> _Layout:
        arrays: list[ArraySpec] = []
        offset = 0
        for name, array in [("", packet.t_ns), *packet.fields.items()]:
            if array.dtype.hasobject or array.dtype.fields is not None:
                raise ConfigError(
                    f"stream {packet.stream!r}: field {name!r} has dtype {array.dtype}, which "
                    "cannot cross processes. Hint: use plain numeric arrays, one per field")
            arrays.append((name, array.dtype, tuple(array.shape), offset))
            offset = _align(offset + array.nbytes)
        return cls(packet.stream, packet.modality, arrays, lid)

    @classmethod
    def parse(cls, blob: bytes, lid: int, blob_at: int) -> _Layout:
        """The layout a producer wrote, checked so that views built from it stay in the slot.

        Raises:
            ValueError: Not a layout, or arrays that overlap the layout JSON or do not make
                a packet (t_ns int64 first, every field as long as it).
        """
        stream, modality, items = json.loads(blob)
        if not (isinstance(stream, str) and isinstance(modality, str) and items
                and isinstance(items, list)):
            raise ValueError("layout is not [stream, modality, arrays]")
        arrays = [_parse_array(item) for item in items]
        layout = cls(stream, modality, arrays, lid)
        n = arrays[0][2]
        if arrays[0][0] != "" or arrays[0][1] != np.dtype(np.int64) or len(n) != 1:
            raise ValueError("layout does not start with the int64 t_ns array")
        for (name, dt, shape, off), count in zip(arrays, layout.counts, strict=True):
            if not shape or shape[0] != n[0] or off + dt.itemsize * count > blob_at:
                raise ValueError(f"array {name!r} {shape} at {off} does not fit its slot")
        if layout.blob_at != blob_at:
            raise ValueError(f"layout JSON at {blob_at}, expected at {layout.blob_at}")
        return layout


def _parse_array(item: Any) -> ArraySpec:
    name, dtype, shape, off = item
    dt = np.dtype(dtype)
    if dt.hasobject or dt.fields is not None or dt.itemsize == 0:
        raise ValueError(f"dtype {dtype!r} cannot be shared")
    if not (isinstance(name, str) and isinstance(off, int) and off >= 0 and isinstance(shape, list)
            and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise ValueError(f"array {item!r} is malformed")
    return name, dt, tuple(shape), off


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
        self._w = segment.buf.cast("Q")  # every word of the segment
        try:
            self._check_header()
        except BaseException:
            self._w.release()
            raise
        self.slots = int(self._w[_W_SLOTS])
        self.slot_bytes = int(self._w[_W_SLOT_BYTES])
        self.stride = int(self._w[_W_STRIDE])
        self._bases = [self._slot_word(slot) for slot in range(self.slots)]  # each slot's seq
        self._lock = threading.Lock()
        self._closed = False
        self._next_alive_check = 0.0
        self._owner_dead = False
        # producer side: layouts by packet shape, and what each slot is laid out for
        self._layouts: dict[tuple[Any, ...], _Layout] = {}
        self._next_lid = 1
        # per slot: (layout id, t_ns view, field views) of the layout it was last written in
        self._slot_views: list[SlotArrays | None] = []
        self._head, self._total = int(self._w[_W_HEAD]), int(self._w[_W_TOTAL])

    def _check_header(self) -> None:
        w, size = self._w, self.segment.size
        where = f"shared-memory segment {self.name!r}"
        if w[_W_MAGIC] != _MAGIC_WORD:
            raise SegmentRefused(f"{where} is not a sensekit ring. Hint: check the name")
        if w[_W_VERSION] != _VERSION:
            raise SegmentRefused(f"{where} has ring layout {w[_W_VERSION]}; this sensekit "
                                 f"reads layout {_VERSION}. Hint: use the same sensekit "
                                 "version on both sides")
        slots, slot_bytes, stride = int(w[_W_SLOTS]), int(w[_W_SLOT_BYTES]), int(w[_W_STRIDE])
        expected = HEADER_BYTES + slots * stride
        if (slots < 2 or slot_bytes < 256 or stride < SLOT_HEADER + slot_bytes or stride % 64
                or expected != size or w[_W_INFO_LEN] > _INFO_MAX):
            raise SegmentRefused(
                f"{where} has an inconsistent header: {slots} slots of {slot_bytes} bytes "
                f"every {stride} bytes make {expected} bytes, the segment has {size} (info "
                f"{w[_W_INFO_LEN]} bytes). Hint: it was not made by a sensekit producer; "
                "remove it and restart the producer")

    # -- opening -----------------------------------------------------------------------
    @classmethod
    def create(cls, name: str, slot_bytes: int, slots: int, *,
               info: Mapping[str, Any] | None = None,
               group: str | int | None = None) -> SharedRing:
        """Create the ring ``name`` in this process, which owns (and later unlinks) it.

        Args:
            name: Segment name (``/dev/shm/<name>`` on Linux).
            slot_bytes: Payload bytes per slot: the largest packet, arrays 64-aligned, plus
                its layout description (a few hundred bytes).
            slots: Packets kept; a reader more than ``slots - 1`` packets behind loses data.
            info: Small JSON facts readers can see in :attr:`info` (stream, modality...).
            group: Group whose members may read it (mode 0640); default
                ``$SENSEKIT_SHM_GROUP``, else owner-only (0600).
        """
        if slots < 2 or slot_bytes < 256:
            raise ConfigError(f"ring {name!r}: needs slots >= 2 and slot_bytes >= 256, got "
                              f"{slots} and {slot_bytes}")
        blob = json.dumps(dict(info or {})).encode()
        if len(blob) > _INFO_MAX:
            raise ConfigError(f"ring {name!r}: info is {len(blob)} bytes, at most {_INFO_MAX}")
        stride = _stride(slot_bytes)
        segment = Segment.create(name, HEADER_BYTES + stride * slots, group)
        words = segment.buf[:HEADER_BYTES].cast("Q")
        pid = os.getpid()
        for index, value in ((_W_VERSION, _VERSION), (_W_SLOTS, slots),
                             (_W_SLOT_BYTES, slot_bytes), (_W_STRIDE, stride), (_W_PID, pid),
                             (_W_START, process_start_time(pid)), (_W_INFO_LEN, len(blob))):
            words[index] = value
        segment.buf[_INFO_OFFSET:_INFO_OFFSET + len(blob)] = blob
        words[_W_MAGIC] = _MAGIC_WORD  # last: readers wait for it
        words.release()
        ring = cls(segment)
        ring._slot_views = [None] * slots
        return ring

    @classmethod
    def attach(cls, name: str, timeout_s: float = 0.0,
               group: str | int | None = None) -> SharedRing:
        """Open the ring ``name`` made by another process (waiting up to ``timeout_s``).

        The segment is mapped read-only after its owner, mode and header are checked.

        Raises:
            FileNotFoundError: No such ring appeared within ``timeout_s``.
            SegmentRefused: It is not to be trusted (another user's, writable by others,
                or an inconsistent header).
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                segment = Segment.attach(name, group)
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
        n = int(self._w[_W_INFO_LEN])
        result: dict[str, Any] = json.loads(bytes(self.segment.buf[_INFO_OFFSET:_INFO_OFFSET + n]))
        return result

    @property
    def head(self) -> int:
        """Packets completely written so far."""
        return int(self._w[_W_HEAD])

    @property
    def samples_written(self) -> int:
        """Samples completely written so far."""
        return int(self._w[_W_TOTAL])

    @property
    def producer_closed(self) -> bool:
        """Whether the producer has closed the ring (no more packets will come)."""
        return bool(self._w[_W_CLOSED])

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
            self._owner_dead = not owner_alive(self.owner_pid, int(self._w[_W_START]))
        return self._owner_dead

    @property
    def owner_pid(self) -> int:
        """Pid of the producer that created the ring."""
        return int(self._w[_W_PID])

    @property
    def owner(self) -> bool:
        """Whether this process is the producer (only it writes and unlinks)."""
        return self.segment.owner

    def _slot_word(self, slot: int) -> int:
        """Index in the word view of slot ``slot``'s first word."""
        return (HEADER_BYTES + slot * self.stride) >> 3

    def _data_at(self, slot: int) -> int:
        """Byte offset of slot ``slot``'s data (after its header)."""
        return HEADER_BYTES + slot * self.stride + SLOT_HEADER

    # -- writing -------------------------------------------------------------------------
    def write(self, packet: Packet) -> int:
        """Copy ``packet`` into the ring (split if it exceeds a slot); return packets written.

        Never waits for readers. Raises :class:`ConfigError` if one sample does not fit a slot.
        """
        if self.segment.owner_pid != current_pid():
            raise SensekitError(f"ring {self.name!r} is attached, not owned; only its "
                                f"producer (pid {self.owner_pid}) writes")
        with self._lock:
            if self._closed:
                raise SensekitError(f"ring {self.name!r} is closed")
            layout = self._layout(packet)
            if not packet.meta and layout.blob_end <= self.slot_bytes:
                self._write_one(packet, layout, b"")  # the common case, checked once
                return 1
            return self._write_split(packet, layout)

    def _write_split(self, packet: Packet, layout: _Layout | None = None) -> int:
        layout = layout or self._layout(packet)
        meta = _encode_meta(packet.meta) if packet.meta else b""
        if layout.blob_end + len(meta) <= self.slot_bytes:
            self._write_one(packet, layout, meta)
            return 1
        if len(packet) <= 1:
            need = layout.blob_end + len(meta)
            raise ConfigError(
                f"ring {self.name!r}: one sample of stream {packet.stream!r} needs {need} "
                f"bytes, slots hold {self.slot_bytes}. Hint: create the ring with a larger "
                "slot_bytes")
        half = len(packet) // 2
        return self._write_split(packet.slice(0, half)) + \
            self._write_split(packet.slice(half, len(packet)))

    def _layout(self, packet: Packet) -> _Layout:
        key: tuple[Any, ...] = (packet.stream, packet.modality, packet.t_ns.shape)
        for name, array in packet.fields.items():  # a loop: cheaper than a comprehension
            key += (name, array.dtype, array.shape)
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) > _MAX_LAYOUTS:
                self._layouts.clear()  # ids are never reused: readers' caches stay right
            layout = self._layouts[key] = _Layout.of(packet, self._next_lid)
            self._next_lid += 1
        return layout

    def _lay_out_slot(self, slot: int, layout: _Layout) -> SlotArrays:
        """Write ``layout``'s id and JSON into ``slot`` and make the slot's array views."""
        w, base, data = self._w, self._slot_word(slot), self._data_at(slot)
        w[base + _S_LID] = layout.lid
        w[base + _S_BLOB_AT] = layout.blob_at
        w[base + _S_BLOB_LEN] = len(layout.blob)
        at = data + layout.blob_at
        self.segment.buf[at:at + len(layout.blob)] = layout.blob
        t_ns, *fields = [np.frombuffer(self.segment.buf, dt, count, data + off).reshape(shape)
                         for (_, dt, shape, off), count in zip(layout.arrays, layout.counts,
                                                               strict=True)]
        views = self._slot_views[slot] = (layout.lid, t_ns, fields)
        return views

    def _write_one(self, packet: Packet, layout: _Layout, meta: bytes) -> None:
        w = self._w
        n = self._head  # the owner's own copies of head and total: no loads from the segment
        slot = n % self.slots
        base = self._bases[slot]
        w[base] = 2 * n + 1  # odd: being written; readers holding it see the change
        total = self._total
        count = layout.n
        w[base + _S_BEFORE] = total
        w[base + _S_COUNT] = count
        views = self._slot_views[slot]
        if views is None or views[0] != layout.lid:
            views = self._lay_out_slot(slot, layout)
        if meta:
            at = self._data_at(slot) + layout.blob_end
            self.segment.buf[at:at + len(meta)] = meta
        w[base + _S_META] = len(meta)
        # Shapes and dtypes equal the layout's (it is keyed by them): a plain copy, no cast.
        views[1][...] = packet.t_ns
        for dst, src in zip(views[2], packet.fields.values(), strict=True):
            dst[...] = src
        w[base] = 2 * n + 2
        self._total = w[_W_TOTAL] = total + count
        self._head = w[_W_HEAD] = n + 1

    # -- closing -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop using the ring. The owner marks it closed for readers and unlinks it."""
        with self._lock:  # waits for a write in flight
            if self._closed:
                return
            self._closed = True
            if self.owner:
                self._w[_W_CLOSED] = 1
            self._slot_views = []
            with contextlib.suppress(BufferError):
                self._w.release()
            self.segment.close()

    def __enter__(self) -> SharedRing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reader(self, name: str = "", *, from_oldest: bool = False) -> RingReader:
        """A new cursor on this ring (starting at the next packet, or the oldest kept)."""
        from .ring_reader import RingReader

        return RingReader(self, name or f"pid {os.getpid()}", from_oldest=from_oldest)

    def __repr__(self) -> str:
        role = "owner" if self.owner else "reader"
        return f"<SharedRing {self.name!r} {self.slots}x{self.slot_bytes}B {role}>"
