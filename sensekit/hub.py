"""The hub: one copy of every packet, shared by any number of readers.

Producers (drivers through :meth:`Hub.attach`, or any code through :meth:`Hub.publish`) put
each packet once into its stream's ring. Every :class:`Subscriber` has its own cursor per
stream. A subscriber that falls behind loses the oldest packets, is told how many samples it
lost (its :attr:`Subscriber.lost` counter and a :class:`~sensekit.errors.SampleDropped`
warning naming it and the stream), and never slows the producer or the other subscribers.

In one process the rings hold references: packets are immutable and are returned as they were
published, with no copy, and stay valid for as long as the caller keeps them.

Other processes read through shared memory: ``Hub(shared="cam-node")`` also writes each stream
into a :class:`~sensekit.hub_shm.SharedRing` named ``"cam-node.<stream>"``, and a process calls
:func:`connect` (``connect("cam-node", "camera")``) to get a :class:`SharedSubscriber` with the
same ``poll``/``lost``/``close`` API. Its packets are zero-copy views of the ring, valid until
the producer overwrites their slot; :meth:`SharedSubscriber.validate` tells whether that
happened while the view was in use (the sequence lock of :mod:`sensekit.hub_shm`), and
``poll(copy=True)`` returns checked private copies. Only the producer unlinks its segments: on
:meth:`Hub.close`, at exit, on SIGTERM/SIGHUP, and, after a SIGKILL, at the next start of any
process that uses shared memory (see :mod:`sensekit._shm`). Readers map the segments read-only
after checking their owner, mode and header.

Where the time goes (profiled on the 2-core x86 machine of ``sensekit/bench/README.md``: CPU
time per frame from ``getrusage`` of the producer and of 8 reader processes in the ``light``
workload of ``sensekit bench hub``, in-process ``thread_time`` loops, and ``py-spy`` samples of
both sides; the ``cpu ...`` cases of the benchmark measure the in-process part on any machine).
The in-process figures of the current code and the ones they replaced were measured while
another job shared the machine, alternating old and new code: each is the median over 6
processes of the best of 7 runs of ``sensekit.bench.hub.frame_costs``.

- **Wake-ups were the largest cost.** A reader's sleep and wake-up costs it 10-20 us of CPU,
  several times a read. Readers that slept 50 us whenever they found nothing woke 0.6-1.0
  times per frame read, and with 8 readers on 2 cores that CPU was taken from the producer, so
  the producer slowed, readers found even fewer frames per wake-up, and throughput swung by
  2-3x from run to run. Readers now sleep as :class:`~sensekit.ring_reader.Pacer` says: until
  about four packets are there (from the packet interval they observe), 50 us to 1 ms as
  before. They wake 0.12-0.18 times per frame, and a reader's CPU per frame halved (about 12
  to 6 us). The benchmark's bare ring waits the same way, so the comparison with it measures
  framing and accounting, not waiting.
- **Publishing:** copying the frame is most of it. py-spy puts 73% of the producer's samples on
  the copy into the slot (90% for the bare ring). Per 640x480x3 frame, in one process, rotating
  through 32 slots after one lap of the ring: 23 us against 19-20 for the
  bare ring. Slots used to be a whole number of pages apart, which made the copy about 1 us
  slower (:func:`sensekit.hub_shm._stride`). The rest is Python: the caller's
  :class:`~sensekit.packets.Packet` (about 1 us, not counted above), and 2.8 us of the hub's
  own with 8x8x3 frames against 0.6 for the bare ring (3.1 before the layout key was built in a
  loop and the slot word indices computed once per ring): the in-process ring (0.35 us), the
  layout lookup (0.3), the slot's header words and array copies (1.1), the locks, the owner
  check and the calls. The owner keeps its own copies of the head and sample count, so a write
  stores to the segment and never loads from it.
- **Reading:** 1.2 us a frame against 0.54 for the bare ring (8x8x3 frames, 16 per poll), down
  from 1.36; 2.1 against 0.73 with 640x480x3 frames, down from 2.3. Warm, the read loop spends
  about 0.16 us a packet on the slot's header (one ``struct`` read of its seven words, 54 ns
  against 82 for five loads from the word view, then the sequence word again) and 0.25 making
  the :class:`~sensekit.packets.Packet` (a copy of the slot's attribute dict and an object,
  released later); ``validate`` is a dict pop and one word compared, without a call when the
  view is intact. Two fixed costs per poll went: ``list[Packet]()`` (a generic alias whose call
  raises and catches an AttributeError, 0.3 us), and a comprehension with ``min()`` for the
  first sleep (an idle poll 1.4 -> 0.9 us).
- **Why a 640x480x3 read costs more than an 8x8x3 one:** not the slot's layout, but the
  producer's copies evicting the reader's working set (the interpreter's objects and the slot
  headers). In one process (best of 5 loops, two runs), an 8x8x3 read took 1.49-1.56 us (bare
  ring 0.65) when the producer also wrote 921,600 bytes elsewhere for every frame, against
  1.00-1.02 (0.53-0.54) without, and a 640x480x3 read 1.44-1.45 (0.63-0.64). The more Python a
  read runs, the more a cold cache costs it, and a reader in another process starts cold after
  every wake-up.
- **Across processes** (light workload, K=8, 3 runs of 2 s, ``getrusage``; a machine shared
  with another job, load 0.8-1.7): a reader spends 5.8 us of CPU per frame read (4.9-6.1)
  against 2.9 (2.7-4.1) for the bare ring, the producer 38 us per frame (34-40) against 28
  (26-31), and both sides wake 0.14-0.16 times per frame read. Before the changes above, in the
  same alternation, 6.6 (4.6-6.7) and 41 (35-45): the change is within the spread. With 8
  readers on 2 cores that is about 85 us of CPU per frame against 51: the readers' Python per
  frame is most of the gap, then the producer's.
- **Tried and dropped:** a class per slot whose class attributes are the slot's stream, t_ns
  and fields views, so that a read makes an object and a one-entry dict (115 ns against 245 to
  make a packet, micro-benchmark); every attribute read from such a packet then falls through
  to its class (``p["image"]`` and ``p.t_ns`` 169 ns against 116), which takes back half of the
  gain for a reader of one field and more for others, and the classes live in reference cycles,
  so a closed reader's views would only go at a garbage collection.
- **Accounting** (samples before each packet, the closed flag, the owner's liveness, cached for
  0.2 s) is a few word loads per read. Losses are only warned about when the count changed.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType

from ._shm import SHM_DIR, sweep_stale
from .clock import Clock, default_clock
from .driver import Driver, ReaderThread
from .errors import ConfigError, SensekitError, warn_dropped
from .hub_shm import SharedRing
from .packets import Packet
from .ring_reader import _AT, _READ, Pacer, RingReader

__all__ = ["Hub", "RingReader", "SharedRing", "SharedSubscriber", "StreamInfo", "Subscriber",
           "connect", "sweep_stale"]

_names = itertools.count(1)


@dataclass(frozen=True)
class StreamInfo:
    """What the hub knows about one stream.

    Attributes:
        name: Stream name.
        modality: Modality of its packets (``""`` for custom streams).
        packets: Packets published so far.
        samples: Samples published so far.
        kept_packets: Packets currently held in the in-process ring.
        kept_bytes: Payload bytes currently held (the packets' arrays).
        last_t_ns: Hub clock time of the last publish.
        shared_name: Name of its shared-memory ring, if the hub is shared.
        shared_dropped: Samples that did not fit a shared-memory slot (each warned).
    """

    name: str
    modality: str
    packets: int
    samples: int
    kept_packets: int
    kept_bytes: int
    last_t_ns: int
    shared_name: str | None = None
    shared_dropped: int = 0


def _nbytes(packet: Packet) -> int:
    total = packet.t_ns.nbytes
    for array in packet.fields.values():
        total += array.nbytes
    return int(total)


class _Stream:
    """One stream's ring of packet references, with sample counts for exact loss counting."""

    def __init__(self, name: str, modality: str, max_packets: int, max_bytes: int) -> None:
        self.name = name
        self.modality = modality
        self.max_packets = max_packets
        self.max_bytes = max_bytes
        # (stream seq, hub-wide order, samples published before it, packet, its bytes)
        self.ring: deque[tuple[int, int, int, Packet, int]] = deque()
        self.next_seq = 0
        self.samples = 0
        self.kept_bytes = 0
        self.last_t_ns = 0
        self.shared: SharedRing | None = None
        self.shared_dropped = 0

    @property
    def first_seq(self) -> int:
        return self.ring[0][0] if self.ring else self.next_seq

    @property
    def samples_before_first(self) -> int:
        return self.ring[0][2] if self.ring else self.samples

    def append(self, packet: Packet, order: int, now_ns: int) -> None:
        nbytes = _nbytes(packet)
        ring = self.ring
        ring.append((self.next_seq, order, self.samples, packet, nbytes))
        self.next_seq += 1
        self.samples += packet.t_ns.shape[0]
        self.kept_bytes += nbytes
        self.last_t_ns = now_ns
        # Keep at least the newest packet, even one larger than the byte budget.
        while len(ring) > 1 and (len(ring) > self.max_packets
                                 or self.kept_bytes > self.max_bytes):
            self.kept_bytes -= ring.popleft()[4]

    def info(self) -> StreamInfo:
        return StreamInfo(self.name, self.modality, self.next_seq, self.samples, len(self.ring),
                          self.kept_bytes, self.last_t_ns,
                          self.shared.name if self.shared else None, self.shared_dropped)


class Subscriber:
    """One reader's cursors into a :class:`Hub` (create with :meth:`Hub.subscribe`).

    Attributes:
        name: How warnings and errors name this subscriber.
        lost: Samples lost per stream because this subscriber fell behind (exact).
    """

    def __init__(self, hub: Hub, streams: tuple[str, ...], name: str) -> None:
        self.hub = hub
        self.name = name
        self.every_stream = not streams
        self.streams = set(streams)
        self.lost: dict[str, int] = {s: 0 for s in streams}
        # stream -> (next stream seq to read, samples published before it)
        self._cursor: dict[str, tuple[int, int]] = {}
        self.closed = False

    def _wants(self, stream: str) -> bool:
        return self.every_stream or stream in self.streams

    def poll(self, timeout_s: float = 0.1, max_packets: int | None = None, *,
             latest: bool = False) -> list[Packet]:
        """Packets published since the last poll, in publish order; ``[]`` after ``timeout_s``.

        Waits (real time) only while nothing is there. Packets are the published objects
        themselves (no copy). A loss found here is added to :attr:`lost` and warned about.
        ``latest=True`` takes only the newest ``max_packets`` (default 1) of each stream and
        counts the older ones as lost.
        """
        return self.hub._poll(self, timeout_s, max_packets, latest)

    def validate(self, packet: Packet) -> bool:
        """Always True in one process: packets are immutable and held by reference."""
        return True

    def close(self) -> None:
        """Stop reading; later polls return ``[]``."""
        self.hub._unsubscribe(self)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        what = "every stream" if self.every_stream else ", ".join(sorted(self.streams))
        return f"<Subscriber {self.name!r} on {what}{' closed' if self.closed else ''}>"


class Hub:
    """Per-stream ring buffers of packets, shared by any number of subscribers.

    Args:
        clock: Stamps :attr:`StreamInfo.last_t_ns` (default: the monotonic clock). Poll
            timeouts are real time, since they wait for other threads.
        capacity_packets: Packets kept per stream (the default for every stream).
        capacity_bytes: Payload bytes kept per stream; the newest packet is always kept.
        shared: If given, also publish every stream into shared memory as
            ``"<shared>.<stream>"`` for other processes (see :func:`connect`); ``True`` picks
            ``"sensekit-<pid>"``. The name is in :attr:`shared`.
        shared_slots: Slots of each shared ring (default: ``capacity_packets``, bounded by
            ``capacity_bytes``).
        shared_slot_bytes: Bytes per shared slot (default: twice the stream's first packet,
            at least 4 KiB); larger packets are split into several slots.
        shared_group: Group whose members may read the shared rings from other accounts
            (segments mode 0640 instead of 0600; readers pass the same ``group`` to
            :func:`connect`). Default: ``$SENSEKIT_SHM_GROUP``, else owner-only.
    """

    def __init__(self, clock: Clock | None = None, *, capacity_packets: int = 256,
                 capacity_bytes: int = 64 << 20, shared: str | bool | None = None,
                 shared_slots: int | None = None, shared_slot_bytes: int | None = None,
                 shared_group: str | int | None = None) -> None:
        if capacity_packets < 1 or capacity_bytes < 1:
            raise ConfigError("hub capacity must be at least one packet and one byte, got "
                              f"{capacity_packets} packets and {capacity_bytes} bytes")
        self.clock = clock or default_clock()
        if shared is True:
            shared = f"sensekit-{os.getpid()}"
        self.shared: str | None = shared or None
        if self.shared is not None:
            sweep_stale(f"{shared}.")  # rings a killed producer of this hub left behind
        self._capacity: dict[str, tuple[int, int]] = {}
        self._default_capacity = (capacity_packets, capacity_bytes)
        self._shared_size = (shared_slots, shared_slot_bytes)
        self._shared_group = shared_group
        self._streams: dict[str, _Stream] = {}
        self._subscribers: list[Subscriber] = []
        self._readers: list[ReaderThread] = []
        # publish() enters the plain lock (a C-level context manager); waiting and notifying
        # go through the condition built on it.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._waiting = 0  # subscribers blocked in poll(): only they need a notify
        self._order = itertools.count()
        self._closed = False

    # -- configuration -------------------------------------------------------------------
    def set_capacity(self, stream: str, *, packets: int | None = None,
                     nbytes: int | None = None) -> None:
        """Change how much of ``stream`` is kept (before or after it exists)."""
        with self._cond:
            old = self._capacity.get(stream, self._default_capacity)
            new = (packets or old[0], nbytes or old[1])
            self._capacity[stream] = new
            if stream in self._streams:
                self._streams[stream].max_packets, self._streams[stream].max_bytes = new

    @property
    def streams(self) -> dict[str, StreamInfo]:
        """A snapshot of every stream's counters."""
        with self._cond:
            return {name: s.info() for name, s in self._streams.items()}

    # -- producing -----------------------------------------------------------------------
    def publish(self, packet: Packet) -> None:
        """Add ``packet`` to its stream (created on its first packet). Never blocks on readers.

        Raises:
            SensekitError: The hub is closed.
        """
        now = self.clock.now_ns()
        with self._lock:
            if self._closed:
                raise SensekitError(f"hub is closed; cannot publish to stream {packet.stream!r}")
            stream = self._streams.get(packet.stream) or self._new_stream(packet)
            stream.append(packet, next(self._order), now)
            if self._waiting:
                self._cond.notify_all()
        if stream.shared is not None:
            self._publish_shared(stream, packet)

    def _new_stream(self, packet: Packet) -> _Stream:
        packets, nbytes = self._capacity.get(packet.stream, self._default_capacity)
        stream = _Stream(packet.stream, packet.modality, packets, nbytes)
        if self.shared is not None:
            stream.shared = self._create_ring(packet, packets, nbytes)
        self._streams[packet.stream] = stream
        return stream

    def _create_ring(self, packet: Packet, packets: int, nbytes: int) -> SharedRing:
        slots, slot_bytes = self._shared_size
        if slot_bytes is None:
            slot_bytes = max(4096, 2 * _nbytes(packet) + 64 * (len(packet.fields) + 1) + 1024)
        if slots is None:
            slots = max(2, min(packets, nbytes // slot_bytes))
        return SharedRing.create(f"{self.shared}.{packet.stream}", slot_bytes, slots,
                                 info={"stream": packet.stream, "modality": packet.modality,
                                       "pid": os.getpid()}, group=self._shared_group)

    def _publish_shared(self, stream: _Stream, packet: Packet) -> None:
        assert stream.shared is not None
        try:
            stream.shared.write(packet)
        except ConfigError as exc:
            stream.shared_dropped += len(packet)
            warn_dropped(len(packet), where=f"shared ring {stream.shared.name!r}",
                         why=str(exc), stacklevel=3)
        except SensekitError:
            pass  # closed while this packet was in flight: the hub is shutting down

    def attach(self, driver: Driver) -> ReaderThread:
        """Read ``driver`` in its own thread and publish its packets; stopped by :meth:`close`."""
        reader = ReaderThread(driver, self.publish).start()
        with self._cond:
            self._readers.append(reader)
        return reader

    # -- consuming -----------------------------------------------------------------------
    def subscribe(self, *streams: str, name: str | None = None,
                  backlog: bool = False) -> Subscriber:
        """A new subscriber to ``streams`` (none: every stream, including later ones).

        It sees packets published from now on, or with ``backlog=True`` also the ones the
        hub still keeps. A stream created later is read from its first packet.
        """
        sub = Subscriber(self, streams, name or f"subscriber-{next(_names)}")
        with self._cond:
            if self._closed:
                raise SensekitError("hub is closed; cannot subscribe")
            for s in self._streams.values():
                if sub._wants(s.name):
                    sub._cursor[s.name] = ((s.first_seq, s.samples_before_first) if backlog
                                           else (s.next_seq, s.samples))
            self._subscribers.append(sub)
        return sub

    def _poll(self, sub: Subscriber, timeout_s: float, max_packets: int | None,
              latest: bool) -> list[Packet]:
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._cond:
            while not sub.closed:
                taken, losses = self._take(sub, max_packets, latest)
                if taken or losses:
                    break
                left = deadline - time.monotonic()
                if left <= 0 or not self._wait(left):
                    return []
            else:
                return []
        for stream, count in losses:
            warn_dropped(count, where=f"hub subscriber {sub.name!r}, stream {stream!r}",
                         why="the subscriber fell behind: older packets were overwritten "
                         "(or skipped by latest=True)", stacklevel=3)
        taken.sort(key=lambda item: item[0])
        return [packet for _, packet in taken]

    def _wait(self, timeout_s: float) -> bool:
        """Wait for a notify (the condition's lock is held)."""
        self._waiting += 1
        try:
            return self._cond.wait(timeout_s)
        finally:
            self._waiting -= 1

    def _take(self, sub: Subscriber, limit: int | None,
              latest: bool) -> tuple[list[tuple[int, Packet]], list[tuple[str, int]]]:
        taken: list[tuple[int, Packet]] = []
        losses: list[tuple[str, int]] = []
        for name, stream in self._streams.items():
            if not sub._wants(name):
                continue
            seq, samples = sub._cursor.get(name, (0, 0))
            target = max(seq, stream.first_seq)
            if latest:
                target = max(target, stream.next_seq - (limit or 1))
            if target > seq:
                before = stream.ring[target - stream.first_seq][2]
                sub.lost[name] = sub.lost.get(name, 0) + before - samples
                losses.append((name, before - samples))
                seq, samples = target, before
            start = seq - stream.first_seq
            room = None if limit is None or latest else max(0, limit - len(taken))
            stop = None if room is None else start + room
            for entry in itertools.islice(stream.ring, start, stop):
                taken.append((entry[1], entry[3]))
                seq, samples = entry[0] + 1, entry[2] + len(entry[3])
            sub._cursor[name] = (seq, samples)
            sub.lost.setdefault(name, 0)
        return taken, losses

    def _unsubscribe(self, sub: Subscriber) -> None:
        with self._cond:
            sub.closed = True
            if sub in self._subscribers:
                self._subscribers.remove(sub)
            self._cond.notify_all()

    # -- closing -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop attached readers, close every subscription and unlink shared rings."""
        with self._cond:
            if self._closed:
                return
            readers = list(self._readers)
        for reader in readers:
            reader.stop()
        with self._cond:
            self._closed = True
            for sub in list(self._subscribers):
                sub.closed = True
            self._subscribers.clear()
            self._cond.notify_all()
            rings = [s.shared for s in self._streams.values() if s.shared is not None]
        for ring in rings:
            ring.close()

    def __enter__(self) -> Hub:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Hub {len(self._streams)} streams, {len(self._subscribers)} subscribers>"


class SharedSubscriber:
    """A subscriber in another process, reading a shared hub's rings (see :func:`connect`).

    Use it from one thread (each thread that reads makes its own). Once the producer has
    closed (:attr:`producer_closed`), nothing more comes: connect again to follow a new one.

    Attributes:
        name: How warnings name this subscriber.
        lost: Samples lost per stream (exact; see :class:`~sensekit.hub_shm.RingReader`).
    """

    def __init__(self, hub_name: str, streams: tuple[str, ...], name: str,
                 timeout_s: float, group: str | int | None = None) -> None:
        self.hub_name = hub_name
        self.group = group
        self.name = name
        self.every_stream = not streams
        self._readers: dict[str, RingReader] = {}
        self._reported: dict[str, int] = {}
        self._next_scan = 0.0
        self._lost_seen = 0  # losses already warned about, over every stream
        self.closed = False
        for stream in streams:
            self._add(stream, timeout_s)

    def _add(self, stream: str, timeout_s: float) -> None:
        ring = SharedRing.attach(f"{self.hub_name}.{stream}", timeout_s, self.group)
        self._readers[stream] = ring.reader(self.name, from_oldest=self.every_stream)
        self._reported[stream] = 0

    def _scan(self) -> None:
        """Pick up streams the hub created since the last scan (every 0.2 s at most)."""
        if not self.every_stream or time.monotonic() < self._next_scan:
            return
        self._next_scan = time.monotonic() + 0.2
        prefix = f"{self.hub_name}."
        try:
            names = os.listdir(SHM_DIR)
        except OSError:
            return
        for seg in names:
            stream = seg[len(prefix):]
            if seg.startswith(prefix) and stream not in self._readers:
                try:
                    self._add(stream, 0.0)
                except (FileNotFoundError, SensekitError):
                    continue  # gone meanwhile, or refused: a named connect() says why

    @property
    def lost(self) -> dict[str, int]:
        return {stream: reader.lost for stream, reader in self._readers.items()}

    @property
    def producer_closed(self) -> bool:
        """Whether nothing more will come: the hub closed (or its process died)."""
        if self.closed:
            return True
        return bool(self._readers) and all(r.ring.producer_gone
                                           for r in self._readers.values())

    def poll(self, timeout_s: float = 0.1, max_packets: int | None = None, *,
             copy: bool = False, latest: bool = False) -> list[Packet]:
        """Packets written since the last poll, stream by stream; ``[]`` after ``timeout_s``.

        Views of the ring unless ``copy=True``: use them, then :meth:`validate` them.
        ``latest=True`` takes only the newest ``max_packets`` (default 1) of each stream and
        counts the older ones as lost (for a reader that cannot keep up, e.g. a detector on
        camera frames).
        """
        deadline = delay = 0.0
        while not self.closed:
            if self.every_stream:
                self._scan()
            out = self._read(max_packets, copy, latest)  # a few word loads when idle
            if self._lost_seen != self._lost_total():
                self._report()
            if out:
                return out
            now = time.monotonic()
            if not deadline:
                deadline = now + max(0.0, timeout_s)
                # The fastest stream says how long a few packets take (sensekit.ring_reader.Pacer);
                # a loop, since this runs at every wake-up that found nothing (a comprehension
                # and min() cost three times as much).
                delay = Pacer.MAX_S
                for reader in self._readers.values():
                    first = reader.pacer.first_delay()
                    if first < delay:
                        delay = first
            if now >= deadline:
                return []
            time.sleep(min(delay, deadline - now))
            delay = min(2 * delay, Pacer.MAX_S)
        return []

    def _lost_total(self) -> int:
        total = 0
        for reader in self._readers.values():
            total += reader.lost
        return total

    def _read(self, max_packets: int | None, copy: bool, latest: bool) -> list[Packet]:
        readers = self._readers
        if len(readers) == 1 or max_packets is None or latest:
            out: list[Packet] = []
            for reader in readers.values():
                out += reader.read(max_packets, copy=copy, latest=latest)
            return out
        out = []
        for reader in readers.values():
            out += reader.read(max_packets - len(out), copy=copy)
        return out

    def validate(self, packet: Packet) -> bool:
        """Whether a view from :meth:`poll` was intact until now (False counts it as lost)."""
        d = packet.__dict__
        at, good = d.get(_AT), d.pop(_READ, None)
        # The common case without a call: read by this subscriber's reader, and intact.
        reader = self._readers.get(packet.stream)
        if at is not None and at[1][at[2]] == good and reader is not None and \
                at[0] is reader._token:
            return True
        if good is not None:
            d[_READ] = good  # the reader says why not (or raises for another's packet)
        ok = self._readers[packet.stream].validate(packet)
        if not ok:
            self._report()
        return ok

    def _report(self) -> None:
        self._lost_seen = self._lost_total()
        for stream, reader in self._readers.items():
            new = reader.lost - self._reported[stream]
            if new > 0:
                self._reported[stream] = reader.lost
                warn_dropped(new, where=f"shared subscriber {self.name!r}, stream {stream!r} "
                             f"of hub {self.hub_name!r}", why="the subscriber fell behind: the "
                             "producer overwrote the data (or latest=True skipped it)",
                             stacklevel=3)

    def close(self) -> None:
        """Unmap the rings (never unlinks them: the producer owns them)."""
        self.closed = True
        for reader in self._readers.values():
            reader.close()
            reader.ring.close()

    def __enter__(self) -> SharedSubscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(hub_name: str, *streams: str, name: str | None = None,
            timeout_s: float = 5.0, group: str | int | None = None) -> SharedSubscriber:
    """Subscribe from another process to ``Hub(shared=hub_name)``'s ``streams``.

    Named streams are read from the next packet on. With no streams it reads every stream,
    including ones created later (found in ``/dev/shm``, Linux), each from the oldest packet
    its ring still holds. Waits up to ``timeout_s`` for each named stream to appear.

    Each ring is checked before it is trusted: owned by this user, or by ``group`` (default
    ``$SENSEKIT_SHM_GROUP``) when the producer runs in another account; writable by its owner
    only; a header consistent with its size. Otherwise
    :class:`~sensekit.errors.SegmentRefused` says which check failed.
    """
    return SharedSubscriber(hub_name, streams, name or f"pid-{os.getpid()}", timeout_s, group)
