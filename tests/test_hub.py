"""The in-process hub: one copy per packet, own cursors, exact and reported loss."""

from __future__ import annotations

import threading
import warnings
import zlib
from typing import Any

import numpy as np
import pytest

from sensekit.clock import FakeClock
from sensekit.driver import Driver
from sensekit.errors import SampleDropped, SensekitError
from sensekit.hub import Hub, Subscriber
from sensekit.packets import Packet


def imu(n: int, start: int = 0, stream: str = "imu") -> Packet:
    t = np.arange(start, start + n, dtype=np.int64) * 10_000_000
    return Packet(stream, t, {"accel_mps2": np.full((n, 3), start, np.float32)}, "imu")


def frame(i: int, rng: np.random.Generator, stream: str = "camera") -> Packet:
    image = rng.integers(0, 256, (1, 8, 8, 3), dtype=np.uint8)
    return Packet(stream, np.array([i], np.int64), {"image": image}, "camera",
                  {"crc": zlib.crc32(image.tobytes()), "i": i})


def test_packets_come_once_per_subscriber_in_publish_order_without_copies() -> None:
    with Hub() as hub:
        a, b = hub.subscribe("imu", "gps"), hub.subscribe("imu")
        sent = [imu(3, 0), imu(1, 5, "gps"), imu(2, 10)]
        for p in sent:
            hub.publish(p)
        got_a, got_b = a.poll(0), b.poll(0)
        assert [id(p) for p in got_a] == [id(p) for p in sent]  # the same objects: no copy
        assert [p.t_ns[0] for p in got_b] == [0, 100_000_000]
        assert a.poll(0) == [] and b.poll(0) == []  # each cursor moved on
        assert a.lost == {"imu": 0, "gps": 0} and b.lost == {"imu": 0}


def test_subscribing_to_everything_includes_streams_created_later() -> None:
    with Hub() as hub:
        hub.publish(imu(1, 0))
        everything = hub.subscribe()
        hub.publish(imu(1, 1))
        hub.publish(imu(2, 0, "imu.wrist"))
        assert [(p.stream, len(p)) for p in everything.poll(0)] == [("imu", 1), ("imu.wrist", 2)]


def test_a_named_stream_that_appears_later_is_read_from_its_first_packet() -> None:
    with Hub() as hub:
        sub = hub.subscribe("gps")
        hub.publish(imu(1, 0))
        hub.publish(imu(4, 0, "gps"))
        assert [len(p) for p in sub.poll(0)] == [4]


def test_backlog_returns_what_the_hub_still_keeps() -> None:
    with Hub(capacity_packets=3) as hub:
        for i in range(5):
            hub.publish(imu(1, i))
        assert [int(p.t_ns[0]) // 10_000_000 for p in hub.subscribe(backlog=True).poll(0)] == \
            [2, 3, 4]
        assert hub.subscribe().poll(0) == []


def test_slow_subscriber_loses_oldest_samples_exactly_and_is_warned() -> None:
    with Hub(capacity_packets=4) as hub:
        fast, slow = hub.subscribe("imu", name="plotter"), hub.subscribe("imu", name="logger")
        fast_got = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for n in range(1, 11):  # packets of 1..10 samples
                hub.publish(imu(n, 100 * n))
                fast_got += fast.poll(0)
            assert caught == []  # the fast one never lost anything
            slow_got = slow.poll(0)
        assert [len(p) for p in fast_got] == list(range(1, 11))
        assert [len(p) for p in slow_got] == [7, 8, 9, 10]
        assert slow.lost == {"imu": 1 + 2 + 3 + 4 + 5 + 6} and fast.lost == {"imu": 0}
        [warning] = caught
        assert issubclass(warning.category, SampleDropped)
        assert "21 samples" in str(warning.message)
        assert "'logger'" in str(warning.message) and "'imu'" in str(warning.message)


def test_latest_takes_the_newest_packets_and_counts_the_skipped_ones() -> None:
    with Hub() as hub:
        sub = hub.subscribe("imu", name="detector")
        for n in range(1, 6):
            hub.publish(imu(n, 100 * n))
        with pytest.warns(SampleDropped, match="10 samples.*'detector'"):
            assert [len(p) for p in sub.poll(0, latest=True)] == [5]
        hub.publish(imu(6))
        hub.publish(imu(7))
        with pytest.warns(SampleDropped, match="6 samples"):
            assert [len(p) for p in sub.poll(0, max_packets=1, latest=True)] == [7]
        assert sub.lost == {"imu": 16}
        hub.publish(imu(8))
        assert [len(p) for p in sub.poll(0, max_packets=2, latest=True)] == [8]  # none skipped


def test_byte_capacity_bounds_memory_and_keeps_the_newest_packet() -> None:
    with Hub(capacity_bytes=1000) as hub:
        sub = hub.subscribe("imu")
        for i in range(10):
            hub.publish(imu(5, i))  # 5 * (8 + 12) = 100 bytes each
        assert hub.streams["imu"].kept_bytes == 1000
        assert len(sub.poll(0)) == 10
        hub.set_capacity("imu", nbytes=10)
        hub.publish(imu(50, 0))  # bigger than the budget: still kept, alone
        assert hub.streams["imu"].kept_packets == 1
        assert [len(p) for p in sub.poll(0)] == [50]


def test_byte_capacity_loss_is_counted() -> None:
    with Hub(capacity_bytes=1000) as hub:
        sub = hub.subscribe("imu")
        for i in range(12):
            hub.publish(imu(5, i))
        with pytest.warns(SampleDropped, match="10 samples"):
            assert len(sub.poll(0)) == 10
        assert sub.lost["imu"] == 10


def test_max_packets_leaves_the_rest_for_the_next_poll() -> None:
    with Hub() as hub:
        sub = hub.subscribe()
        for i in range(5):
            hub.publish(imu(1, i))
        assert len(sub.poll(0, max_packets=2)) == 2
        assert len(sub.poll(0)) == 3


def test_stream_info_counts_packets_and_samples(clock: FakeClock) -> None:
    with Hub(clock=clock) as hub:
        hub.publish(imu(3))
        clock.advance(0.5)
        hub.publish(imu(4))
        info = hub.streams["imu"]
        assert (info.modality, info.packets, info.samples, info.kept_packets) == ("imu", 2, 7, 2)
        assert info.last_t_ns == clock.now_ns()
        assert info.shared_name is None


def test_poll_times_out_empty_and_wakes_when_another_thread_publishes() -> None:
    with Hub() as hub:
        sub = hub.subscribe("imu")
        assert sub.poll(timeout_s=0.005) == []
        ready = threading.Event()

        def producer() -> None:
            ready.wait(5)
            hub.publish(imu(2))

        thread = threading.Thread(target=producer)
        thread.start()
        ready.set()
        got = sub.poll(timeout_s=5)
        thread.join()
        assert [len(p) for p in got] == [2]


def test_closed_subscriber_polls_nothing_and_closed_hub_refuses_packets() -> None:
    hub = Hub()
    sub = hub.subscribe()
    sub.close()
    hub.publish(imu(1))
    assert sub.poll(0) == [] and sub.closed
    other = hub.subscribe()
    hub.close()
    assert other.closed and other.poll(1.0) == []
    with pytest.raises(SensekitError, match="hub is closed"):
        hub.publish(imu(1))


class Ticker(Driver):
    """Yields one light packet per read, numbered from 1."""

    name = "ticker"
    modality = "light"
    schemes = frozenset({"emu"})

    def __init__(self, url: str, **kw: Any) -> None:
        super().__init__(url, **kw)
        self.n = 0
        self.gate = threading.Semaphore(0)

    def _open(self) -> None:
        pass

    def _read_packet(self, timeout_s: float) -> Packet | None:
        if not self.gate.acquire(timeout=0.01):
            return None
        self.n += 1
        return Packet("light", np.array([self.n], np.int64),
                      {"lux": np.array([float(self.n)], np.float32)}, "light")

    def _close(self) -> None:
        pass


def test_attached_driver_publishes_and_is_stopped_by_close() -> None:
    hub = Hub()
    sub = hub.subscribe("light")
    driver = Ticker("emu://")
    hub.attach(driver)
    for _ in range(3):
        driver.gate.release()
    got: list[Packet] = []
    while len(got) < 3:
        got += sub.poll(timeout_s=5)
    assert [float(p["lux"][0]) for p in got] == [1.0, 2.0, 3.0]
    hub.close()
    assert not driver.is_open


def checksum_consumer(sub: Subscriber, results: dict[str, Any], name: str,
                      start: threading.Event | None, done: threading.Event) -> None:
    if start is not None:
        start.wait(10)  # a reader that only gets going late: it must lose the oldest data
    good = bad = 0
    while True:
        finished = done.is_set()
        for packet in sub.poll(timeout_s=0.01):
            image = packet["image"]
            ok = zlib.crc32(image.tobytes()) == packet.meta["crc"]
            good, bad = good + ok, bad + (not ok)
        if finished:  # read before the poll, which then drained everything
            break
    results[name] = (good, bad, sub.lost.get("camera", 0))


def test_threads_checksum_every_frame_with_slow_and_fast_readers() -> None:
    rng = np.random.default_rng(1)
    total = 200
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDropped)
        with Hub(capacity_packets=16) as hub:
            results: dict[str, Any] = {}
            start, done = threading.Event(), threading.Event()
            threads = [threading.Thread(target=checksum_consumer,
                                        args=(hub.subscribe("camera"), results, name, gate, done))
                       for name, gate in (("fast1", None), ("fast2", None), ("slow", start))]
            for t in threads:
                t.start()
            for i in range(total):
                hub.publish(frame(i, rng))
                if i == 100:
                    start.set()
            start.set()
            done.set()
            for t in threads:
                t.join(30)
    for good, bad, lost in results.values():
        assert bad == 0
        assert good + lost == total  # each frame either checked or counted as lost
    assert results["slow"][2] >= 100 - 16  # it started after 100 frames with room for 16
