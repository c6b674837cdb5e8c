"""Shared-memory rings: zero-copy views across processes, seqlock, exact loss, segment lifecycle."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import uuid
import warnings
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from sensekit._shm import SHM_DIR, sweep_stale
from sensekit.errors import ConfigError, SampleDropped, SensekitError
from sensekit.hub import Hub, SharedRing, connect
from sensekit.packets import Packet

pytestmark = pytest.mark.skipif(not os.path.isdir(SHM_DIR), reason="needs Linux /dev/shm")


@pytest.fixture
def name() -> Iterator[str]:
    """A unique segment name; fails the test if the segment outlives it."""
    base = f"sktest-{uuid.uuid4().hex[:10]}"
    yield base
    left = [n for n in os.listdir(SHM_DIR) if n.startswith(base)]
    for n in left:
        os.unlink(os.path.join(SHM_DIR, n))
    assert left == [], f"segments leaked: {left}"


def imu(n: int, start: int = 0) -> Packet:
    t = np.arange(start, start + n, dtype=np.int64)
    accel = np.arange(3 * n, dtype=np.float32).reshape(n, 3) + start
    return Packet("imu", t, {"accel_mps2": accel, "temp_c": np.full(n, 25.5, np.float32)},
                  "imu", {"fifo_level": n})


def test_packets_cross_as_read_only_views_with_fields_modality_and_meta(name: str) -> None:
    with SharedRing.create(name, 4096, 4, info={"stream": "imu"}) as ring, \
            SharedRing.attach(name) as other:
        reader = other.reader("test")
        sent = imu(5, 100)
        ring.write(sent)
        [got] = reader.read()
        assert (got.stream, got.modality, dict(got.meta)) == ("imu", "imu", {"fifo_level": 5})
        np.testing.assert_array_equal(got.t_ns, sent.t_ns)
        np.testing.assert_array_equal(got["accel_mps2"], sent["accel_mps2"])
        assert got["accel_mps2"].dtype == np.float32 and got["temp_c"].shape == (5,)
        assert not got["accel_mps2"].flags.writeable and not got["accel_mps2"].flags.owndata
        assert reader.validate(got)
        assert other.info == {"stream": "imu"} and not other.owner
        del got


def test_segment_is_owner_only_and_unlinked_by_its_owner(name: str) -> None:
    ring = SharedRing.create(name, 4096, 2)
    assert os.stat(os.path.join(SHM_DIR, name)).st_mode & 0o777 == 0o600
    reader = SharedRing.attach(name)
    reader.close()
    assert os.path.exists(os.path.join(SHM_DIR, name))  # a reader never unlinks
    with pytest.raises(SensekitError, match="only its producer"):
        SharedRing.attach(name).write(imu(1))
    ring.close()
    assert not os.path.exists(os.path.join(SHM_DIR, name))


def close_inherited(ring: SharedRing) -> None:
    ring.close()  # in a forked child: unmaps, must not unlink nor mark the ring closed


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_a_forked_child_closing_an_inherited_ring_leaves_it_to_the_owner(name: str) -> None:
    with SharedRing.create(name, 4096, 2) as ring:
        child = mp.get_context("fork").Process(target=close_inherited, args=(ring,))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        assert os.path.exists(os.path.join(SHM_DIR, name)) and not ring.producer_closed


def test_a_live_owners_name_cannot_be_taken(name: str) -> None:
    with SharedRing.create(name, 4096, 2), \
            pytest.raises(ConfigError, match=f"process {os.getpid()}"):
        SharedRing.create(name, 4096, 2)


def test_attaching_a_missing_ring_says_what_to_do(name: str) -> None:
    with pytest.raises(FileNotFoundError, match="start its producer first"):
        SharedRing.attach(name)


def test_attaching_a_segment_still_being_set_up_waits_and_leaves_it(name: str) -> None:
    path = os.path.join(SHM_DIR, name)
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))  # created, not sized
    with pytest.raises(SensekitError, match="never completed"):
        SharedRing.attach(name, timeout_s=0.01)
    assert os.path.exists(path)
    os.truncate(path, 8192)  # sized, but no magic: not (yet) a ring
    with pytest.raises(SensekitError, match="never completed"):
        SharedRing.attach(name, timeout_s=0.01)
    assert os.path.exists(path)
    assert sweep_stale(name) == []  # not a sensekit ring: never swept
    os.unlink(path)


def test_reader_that_falls_behind_counts_lost_samples_exactly(name: str) -> None:
    with SharedRing.create(name, 4096, 4) as ring, SharedRing.attach(name) as other:
        reader = other.reader()
        for n in range(1, 11):  # 1..10 samples
            ring.write(imu(n))
        got = reader.read()
        # slots - 1 are readable (the oldest slot may be mid-write); 1..7 are lost
        assert [len(p) for p in got] == [8, 9, 10]
        assert reader.lost == sum(range(1, 8))
        ring.write(imu(2))
        assert [len(p) for p in reader.read()] == [2] and reader.lost == 28


def test_latest_skips_to_the_newest_and_counts_what_it_skipped(name: str) -> None:
    with SharedRing.create(name, 4096, 8) as ring, SharedRing.attach(name) as other:
        reader = other.reader()
        for n in range(1, 6):
            ring.write(imu(n))
        assert [len(p) for p in reader.read(2, latest=True, copy=True)] == [4, 5]
        assert reader.lost == 1 + 2 + 3
        ring.write(imu(6))
        assert [len(p) for p in reader.read(latest=True, copy=True)] == [6]
        assert reader.lost == 6


def test_overwritten_view_is_detected_and_copies_stay_good(name: str) -> None:
    with SharedRing.create(name, 4096, 4) as ring, SharedRing.attach(name) as other:
        views, copies = other.reader(), other.reader()
        ring.write(imu(3, 7))
        [view], [copy] = views.read(), copies.read(copy=True)
        for i in range(4):  # wraps round: the slot holding them is rewritten
            ring.write(imu(3, 1000 + i))
        assert view["accel_mps2"][0, 0] != 7.0  # the view shows other data now...
        assert not views.validate(view)  # ...and the seqlock says so
        assert views.lost == 3
        assert copy["accel_mps2"][0, 0] == 7.0 and copy["accel_mps2"].flags.owndata
        assert copies.validate(copy) and copies.lost == 0  # checked when copied
        with pytest.raises(ValueError, match="already validated"):
            views.validate(view)
        del view


def test_large_packets_are_split_and_oversized_samples_refused(name: str) -> None:
    with SharedRing.create(name, 1024, 8) as ring, SharedRing.attach(name) as other:
        reader = other.reader()
        assert ring.write(imu(100)) > 1
        got = reader.read(copy=True)
        np.testing.assert_array_equal(np.concatenate([p.t_ns for p in got]), np.arange(100))
        huge = Packet("camera", np.zeros(1, np.int64),
                      {"image": np.zeros((1, 32, 32, 3), np.uint8)}, "camera")
        with pytest.raises(ConfigError, match="larger slot_bytes"):
            ring.write(huge)
        names = Packet("labels", np.zeros(1, np.int64), {"label": np.array(["a"], object)})
        with pytest.raises(ConfigError, match="'label' has dtype object"):
            ring.write(names)


def test_reader_settles_losses_when_the_producer_closes(name: str) -> None:
    ring = SharedRing.create(name, 4096, 4)
    other = SharedRing.attach(name)
    reader = other.reader()
    ring.write(imu(2))
    [held] = reader.read()
    for _ in range(6):
        ring.write(imu(5))
    ring.close()
    assert not reader.validate(held)
    assert [len(p) for p in reader.read()] == [5, 5, 5]
    assert reader.lost == 2 + 3 * 5 and other.producer_closed
    del held
    other.close()


def test_a_reader_racing_the_producer_accounts_for_every_sample(name: str) -> None:
    """Producer and reader in two threads; the reader sometimes stalls, so it is lapped, its
    views are overwritten in use, and the producer closes while it reads."""
    import threading

    total, rng = 2000, np.random.default_rng(3)
    stalls = set(rng.choice(total, 100, replace=False).tolist())
    with SharedRing.create(name, 4096, 8) as ring, SharedRing.attach(name) as other:
        reader = other.reader()

        def produce() -> None:
            for i in range(total):
                ring.write(Packet("x", np.array([i, i], np.int64),
                                  {"v": np.full((2, 16), i, np.int32)}))
            ring.close()

        thread = threading.Thread(target=produce)
        thread.start()
        good = 0
        while True:
            finished = other.producer_closed
            for packet in reader.read():
                first = int(packet.t_ns[0])
                if first in stalls:
                    threading.Event().wait(0.0002)
                intact = bool((packet["v"] == first).all())
                if reader.validate(packet):
                    assert intact
                    good += 2
            if finished:
                break
        thread.join()
        assert good + reader.lost == 2 * total


CONSUMER = """
import sys, zlib
from sensekit.hub_shm import SharedRing
ring = SharedRing.attach(sys.argv[1])
reader = ring.reader(from_oldest=True)
print(sum(zlib.crc32(p["accel_mps2"].tobytes()) for p in reader.read(copy=True)))
ring.close()
# Let this interpreter's resource tracker (if one was started) finish now: without the
# workaround it unlinks the segment, and would do so only after we had looked.
import os
from multiprocessing import resource_tracker
tracker = resource_tracker._resource_tracker
if tracker._pid is not None:
    os.close(tracker._fd)
    os.waitpid(tracker._pid, 0)
"""


def test_a_consumer_process_exiting_leaves_the_segment(name: str) -> None:
    """CPython gh-82300: before 3.13 an attaching process's resource tracker unlinks the segment
    when that process exits. A consumer here is an unrelated interpreter with its own tracker."""
    with SharedRing.create(name, 4096, 4) as ring:
        sent = [imu(3, i) for i in range(2)]
        for p in sent:
            ring.write(p)
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", CONSUMER, name], capture_output=True,
                                 text=True, timeout=60, check=True)
            assert int(out.stdout) == sum(zlib.crc32(p["accel_mps2"].tobytes()) for p in sent)
            assert "leaked" not in out.stderr
            assert os.path.exists(os.path.join(SHM_DIR, name))
        ring.write(imu(1))  # still the producer's live ring


PRODUCER = """
import sys, time, numpy as np
from sensekit.hub_shm import SharedRing
from sensekit.packets import Packet
ring = SharedRing.create(sys.argv[1], 4096, 4)
ring.write(Packet("x", np.arange(3, dtype=np.int64), {}))
print("ready", flush=True)
if sys.argv[2] == "hang":
    time.sleep(60)
"""


def start_producer(name: str, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", PRODUCER, name, mode],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_producer_exit_without_close_unlinks_its_segment(name: str) -> None:
    proc = start_producer(name, "exit")
    assert proc.wait(60) == 0
    assert not os.path.exists(os.path.join(SHM_DIR, name))


def test_segment_of_a_killed_producer_is_swept_or_replaced(name: str) -> None:
    for fix in ("sweep", "create"):
        proc = start_producer(name, "hang")
        reader = SharedRing.attach(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
        # SIGKILL runs no code: the segment survives its owner until someone sweeps it
        assert os.path.exists(os.path.join(SHM_DIR, name))
        assert reader.owner_pid == proc.pid and not reader.producer_closed
        assert reader.producer_gone  # no close, but its owner is dead: nothing more will come
        reader.close()
        if fix == "sweep":
            assert sweep_stale(name) == [name]
            assert not os.path.exists(os.path.join(SHM_DIR, name))
        else:
            with SharedRing.create(name, 4096, 2) as ring:  # replaces the stale one
                assert ring.owner_pid == os.getpid() and ring.head == 0


def hub_consumer(hub_name: str, role: str, ready: Any, holding: Any, overwritten: Any,
                 results: Any) -> None:
    """Checksum every frame read from another process; the slow one sits on a view."""
    warnings.simplefilter("ignore", SampleDropped)
    sub = connect(hub_name, "camera", name=role, timeout_s=30)
    ready.set()
    good = bad = invalid = samples = 0
    while True:
        finished = sub.producer_closed  # read before the poll, so that poll drains the rest
        packets = sub.poll(timeout_s=0.05)
        if role == "slow" and packets and not holding.is_set():
            holding.set()
            overwritten.wait(30)  # the producer laps the ring while these views are held
        for packet in packets:
            crc = zlib.crc32(packet["image"].tobytes())
            if not sub.validate(packet):
                invalid += 1
                continue
            good, bad = good + (crc == packet.meta["crc"]), bad + (crc != packet.meta["crc"])
            samples += len(packet)
        del packets
        if finished:
            break
    results.put((role, samples, bad, invalid, sub.lost["camera"]))
    sub.close()


def test_processes_checksum_every_frame_with_slow_and_fast_readers(name: str) -> None:
    ctx = mp.get_context("spawn")
    rng = np.random.default_rng(2)
    ready = [ctx.Event() for _ in range(3)]
    holding, overwritten, results = ctx.Event(), ctx.Event(), ctx.Queue()
    hub = Hub(shared=name, shared_slots=8)
    hub.publish(Packet("camera", np.zeros(1, np.int64),
                       {"image": np.zeros((1, 16, 16, 3), np.uint8)}, "camera", {"crc": 0}))
    procs = [ctx.Process(target=hub_consumer, args=(name, role, ev, holding, overwritten,
                                                    results))
             for role, ev in zip(("fast1", "fast2", "slow"), ready, strict=True)]
    for p in procs:
        p.start()
    total = 0
    try:
        assert all(ev.wait(60) for ev in ready)
        for i in range(300):
            if i == 20:
                assert holding.wait(60)
            if i == 20 + 8:
                overwritten.set()
            image = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
            hub.publish(Packet("camera", np.array([2 * i, 2 * i + 1], np.int64),
                               {"image": image}, "camera", {"crc": zlib.crc32(image.tobytes())}))
            total += 2
    finally:
        overwritten.set()
        hub.close()
        got = {}
        for _ in procs:
            role, samples, bad, invalid, lost = results.get(timeout=60)
            got[role] = (samples, bad, invalid, lost)
        for p in procs:
            p.join(30)
    for samples, bad, _invalid, lost in got.values():
        assert bad == 0  # no torn frame ever passed validation
        assert samples + lost == total, got  # every frame either checked or counted as lost
    assert got["slow"][2] >= 1 and got["slow"][3] > 0  # it held views that were overwritten


def test_shared_subscriber_is_warned_with_exact_loss_and_sees_new_streams(name: str) -> None:
    with Hub(shared=name, shared_slots=4) as hub:
        hub.publish(imu(1))
        named = connect(name, "imu", name="remote-plot")
        everything = connect(name)
        for n in range(1, 11):
            hub.publish(imu(n))
        with pytest.warns(SampleDropped, match="remote-plot.*'imu'") as caught:
            assert [len(p) for p in named.poll(0, copy=True)] == [8, 9, 10]
        assert named.lost == {"imu": sum(range(1, 8))}
        assert f"{sum(range(1, 8))} samples" in str(caught[0].message)
        everything.poll(0)
        hub.publish(Packet("gps.rover", np.zeros(2, np.int64),
                           {"lat_deg": np.ones(2)}, "gps"))
        got: list[Packet] = []
        while not got:  # it looks for new rings every 0.2 s
            got = everything.poll(timeout_s=5, copy=True)
        assert [(p.stream, float(p["lat_deg"][1])) for p in got] == [("gps.rover", 1.0)]
        assert hub.streams["gps.rover"].shared_name == f"{name}.gps.rover"
        assert not named.producer_closed
    assert named.producer_closed and everything.producer_closed  # the hub closed its rings
    named.close()
    everything.close()


def test_shared_hub_sweeps_rings_its_killed_predecessor_left(name: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", PRODUCER, f"{name}.old", "hang"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.kill()
    proc.wait(60)
    assert os.path.exists(os.path.join(SHM_DIR, f"{name}.old"))
    with Hub(shared=name):
        assert not os.path.exists(os.path.join(SHM_DIR, f"{name}.old"))


def test_shared_true_names_the_hub_after_its_process() -> None:
    with Hub(shared=True) as hub:
        assert hub.shared == f"sensekit-{os.getpid()}"
        hub.publish(imu(2))
        with connect(hub.shared, "imu") as sub:
            hub.publish(imu(3, 10))
            assert [int(p.t_ns[0]) for p in sub.poll(0, copy=True)] == [10]
    assert not os.path.exists(os.path.join(SHM_DIR, f"sensekit-{os.getpid()}.imu"))



def test_pacer_sleeps_for_a_few_packets_within_the_backoff_bounds() -> None:
    from sensekit.ring_reader import Pacer

    pacer = Pacer(batch=4)
    assert pacer.first_delay() == Pacer.MIN_S  # nothing known yet: look again soon
    pacer.found(1, 10.0)
    for k in range(1, 20):  # 2 packets every millisecond: 0.5 ms apart
        pacer.found(2, 10.0 + k * 1e-3)
    assert pacer.interval_s == pytest.approx(5e-4)
    assert pacer.first_delay() == Pacer.MAX_S  # 4 packets take 2 ms: capped at 1 ms
    for k in range(1, 40):  # then 20 packets every millisecond
        pacer.found(20, 10.019 + k * 1e-3)
    assert pacer.first_delay() == pytest.approx(4 * 5e-5, rel=0.01)
    pacer.found(0, 11.0)  # an empty read changes nothing
    assert pacer.first_delay() == pytest.approx(4 * 5e-5, rel=0.01)


def test_a_shared_subscriber_sleeps_as_its_fastest_streams_pacer_says(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import sensekit.hub as hub_module

    with Hub(shared=name, capacity_packets=32) as hub:
        hub.publish(imu(1))
        with connect(name, "imu") as sub:
            reader = sub._readers["imu"]
            reader.pacer.interval_s = 1e-4  # as if packets came every 100 us
            slept: list[float] = []

            def sleep(seconds: float) -> None:
                slept.append(seconds)
                if len(slept) == 3:
                    hub.publish(imu(1, 5))

            monkeypatch.setattr(hub_module.time, "sleep", sleep)
            [packet] = sub.poll(timeout_s=5.0)
            assert int(packet.t_ns[0]) == 5 and sub.validate(packet)
            first = reader.pacer.batch * 1e-4  # then doubled, up to 1 ms
            assert slept[:3] == pytest.approx([first, 2 * first, min(4 * first, 1e-3)])


def test_views_of_one_slot_share_a_read_only_fields_mapping(name: str) -> None:
    with SharedRing.create(name, 4096, 4) as ring, SharedRing.attach(name) as other:
        reader = other.reader()
        ring.write(imu(2))
        [view] = reader.read()
        with pytest.raises(TypeError):
            view.fields["accel_mps2"] = np.zeros((2, 3), np.float32)  # type: ignore[index]
        assert reader.validate(view)
        del view


def test_shared_subscribers_validate_their_own_views_and_count_torn_ones(name: str) -> None:
    with Hub(shared=name, shared_slots=4) as hub:
        hub.publish(imu(1))
        one, two = connect(name, "imu", name="one"), connect(name, "imu", name="two")
        hub.publish(imu(3, 7))
        [mine], [theirs] = one.poll(0), two.poll(0)
        with pytest.raises(ValueError, match="not read here"):
            one.validate(theirs)  # another subscriber's view: refused, and left to it
        assert two.validate(theirs) and one.validate(mine)
        with pytest.raises(ValueError, match="already validated"):
            one.validate(mine)
        hub.publish(imu(2, 20))
        [held] = one.poll(0)
        [copy] = two.poll(0, copy=True)
        for i in range(4):  # wraps round: the slot holding them is rewritten
            hub.publish(imu(5, 1000 + i))
        with pytest.warns(SampleDropped, match="2 samples .*'one'"):
            assert not one.validate(held)  # torn while held: its 2 samples are lost
        assert one.lost == {"imu": 2}
        assert two.validate(copy) and two.lost == {"imu": 0}  # the copy was checked when made
        one.close()
        two.close()
        del mine, theirs, held


def test_a_reader_dropped_without_close_lets_the_ring_unmap(name: str) -> None:
    with SharedRing.create(name, 4096, 4) as ring:
        other = SharedRing.attach(name)
        mapping = other.segment._finalizer.peek()[2][0]  # type: ignore[index]
        reader = other.reader()
        ring.write(imu(2))
        [view] = reader.read()
        assert reader.validate(view)
        del view, reader  # no close(): refcounting alone must free its slot views
        other.close()
        assert mapping.closed


@pytest.mark.parametrize("slot_bytes", [1024, 4096 - 64, 8192 - 64, 65536, 921_600 + 1024])
def test_slots_are_an_odd_number_of_cache_lines_apart(name: str, slot_bytes: int) -> None:
    """Slots a whole number of pages apart would share cache sets (a slower frame copy)."""
    with SharedRing.create(name, slot_bytes, 3) as ring:
        assert ring.stride >= 64 + slot_bytes and ring.stride % 64 == 0
        assert (ring.stride // 64) % 2 == 1 and ring.stride % 4096
        with SharedRing.attach(name) as other:  # readers take it as it is
            reader = other.reader()
            ring.write(imu(2, 5))
            [got] = reader.read(copy=True)
            assert list(got.t_ns) == [5, 6]
