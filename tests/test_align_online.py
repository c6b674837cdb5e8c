"""Online alignment: watermarks, lateness bound, absent streams, bounded memory, and the same
windows as offline on the same data."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import pytest

from sensekit.align import Aligner, StreamSpec, Window, align
from sensekit.packets import Packet

S = 1_000_000_000


def stream(name: str, rate: float, t0_s: float, dur_s: float, seed: int = 0) -> Packet:
    rng = np.random.default_rng(seed)
    n = round(rate * dur_s)
    period = S / (rate * (1 + rng.uniform(-0.01, 0.01)))
    t = (t0_s * S + np.arange(n) * period + rng.normal(0, 0.05 * period, n)).astype(np.int64)
    dup = rng.integers(0, n, max(1, n // 100))
    t = np.insert(t, dup, t[dup])
    swap = rng.integers(0, len(t) - 1, max(1, n // 100))
    t[swap], t[swap + 1] = t[swap + 1], t[swap].copy()
    return Packet(name, t, {"v": rng.standard_normal((len(t), 3)).astype(np.float32)})


def arrivals(streams: Mapping[str, Packet], packet_s: Mapping[str, float],
             delay_s: Mapping[str, float]) -> list[Packet]:
    """Cut each stream into packets and order them as a hub would deliver them."""
    timed = []
    for name, p in streams.items():
        step = packet_s.get(name, 0.1)
        edges = np.arange(0, len(p) + 1, max(1, round(step * len(p) / 10.0)))
        for i, j in itertools.pairwise(edges):
            arrive = int(p.t_ns[i:j].max()) + round(delay_s.get(name, 0.0) * S)
            timed.append((arrive, name, p.slice(int(i), int(j))))
        if edges[-1] < len(p):
            timed.append((int(p.t_ns.max()) + round(delay_s.get(name, 0.0) * S), name,
                          p.slice(int(edges[-1]), len(p))))
    timed.sort(key=lambda x: (x[0], x[1]))
    return [p for _, _, p in timed]


def assert_same(a: list[Window], b: list[Window]) -> None:
    assert [w.index for w in a] == [w.index for w in b]
    for x, y in zip(a, b, strict=True):
        assert (x.t_start_ns, x.t_end_ns) == (y.t_start_ns, y.t_end_ns)
        assert x.coverage == y.coverage and x.collisions == y.collisions
        for name in x.mask:
            np.testing.assert_array_equal(x.mask[name], y.mask[name])
            np.testing.assert_array_equal(x.t_ns[name], y.t_ns[name])
            assert x.data[name].keys() == y.data[name].keys()
            for field in x.data[name]:
                np.testing.assert_array_equal(x.data[name][field], y.data[name][field])


#: reorder_s: the swapped neighbours of stream() arrive up to about one period late.
SPECS = {"imu": StreamSpec(100.0, reorder_s=0.02), "audio": StreamSpec(1600.0, reorder_s=0.002),
         "gps": StreamSpec(1.0, reorder_s=1.2), "light": StreamSpec(2.0, reorder_s=0.6),
         "camera": StreamSpec(5.0, reorder_s=0.25)}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("hop_s", [1.0, 0.7])
def test_online_gives_the_same_windows_and_counts_as_offline(seed: int, hop_s: float) -> None:
    streams = {k: stream(k, s.rate_hz, 0.4 + seed * 0.13, 10.0, seed * 7 + i)
               for i, (k, s) in enumerate(SPECS.items())}
    packets = arrivals(streams, {"imu": 0.25, "audio": 0.064, "camera": 0.2, "gps": 0.1},
                       {"gps": 0.9, "camera": 0.15, "light": 0.3})
    # gps arrives 0.9 s after its fix and may reorder by a period: allow 4 s of lateness.
    aligner = Aligner(SPECS, window_s=2.0, hop_s=hop_s, max_lateness_s=4.0)
    online: list[Window] = []
    for p in packets:
        online += aligner.push(p)
    assert len(online) > 5  # windows came out while data was still arriving
    online += aligner.flush()
    offline_stats: dict[str, object] = {}
    offline = align(packets, SPECS, window_s=2.0, hop_s=hop_s, stats=offline_stats)
    assert_same(online, offline)
    assert all(w.missed == () for w in online)
    assert aligner.stats == offline_stats
    assert all(s.late == 0 and s.windows_missed == 0 for s in aligner.stats.values())
    assert sum(s.duplicates for s in aligner.stats.values()) > 0
    assert sum(s.out_of_order for s in aligner.stats.values()) > 0


def imu(t0_s: float, dur_s: float) -> Packet:
    t = (np.arange(round(100 * dur_s)) * (S // 100) + round(t0_s * S)).astype(np.int64)
    return Packet("imu", t, {"v": np.ones(len(t), np.float32)})


def gps(*t_s: float) -> Packet:
    t = np.array([round(x * S) for x in t_s], np.int64)
    return Packet("gps", t, {"v": np.ones(len(t), np.float32)})


def test_a_slow_stream_holds_windows_open_until_it_passes_their_end() -> None:
    aligner = Aligner({"imu": StreamSpec(100.0), "gps": StreamSpec(1.0)}, 2.0, 1.0,
                      max_lateness_s=10.0)
    assert aligner.push(gps(0.5)) == []
    assert aligner.push(imu(0.0, 5.0)) == []  # gps has only reached 0.5 s
    assert aligner.watermarks_ns == {"imu": 4_990_000_000, "gps": 500_000_000}
    assert [w.index for w in aligner.push(gps(1.5))] == [-1]  # [-1 s, 1 s) is complete
    assert [w.index for w in aligner.push(gps(2.5, 3.5))] == [0, 1]
    w = aligner.flush()[0]
    assert w.index == 2 and w.coverage == {"imu": 1.0, "gps": 1.0}


def test_lateness_bound_closes_windows_without_a_silent_stream() -> None:
    aligner = Aligner({"imu": StreamSpec(100.0), "gps": StreamSpec(1.0)}, 2.0, 1.0,
                      max_lateness_s=1.5)
    windows = aligner.push(gps(0.2)) + aligner.push(imu(0.0, 4.0))
    # imu's newest sample is 3.99 s: windows ending by 2.49 s may close without gps.
    assert [w.index for w in windows] == [-1, 0]
    assert windows[0].missed == windows[1].missed == ("gps",)
    assert windows[0].coverage["gps"] == windows[1].coverage["gps"] == 0.5
    assert aligner.stats["gps"].windows_missed == 2
    assert aligner.frontier_ns == S
    assert aligner.push(gps(0.9, 1.2)) == []  # 0.9 s belongs to closed windows: late
    assert aligner.stats["gps"].late == 1
    rest = aligner.flush()
    assert [w.index for w in rest] == [1, 2, 3]
    assert rest[0].t_ns["gps"].tolist()[0] == round(1.2 * S)


def test_a_stream_that_never_starts_does_not_stall_windows() -> None:
    aligner = Aligner({"imu": StreamSpec(100.0), "camera": StreamSpec(5.0)}, 1.0)
    windows = []
    for k in range(10):
        windows += aligner.push(imu(k * 1.0, 1.0))
    assert [w.index for w in windows] == list(range(8))  # lateness 1 s behind the newest
    assert all(w.coverage["camera"] == 0.0 and not w.mask["camera"].any() for w in windows)
    assert all(w.missed == ("camera",) for w in windows)
    assert aligner.stats["camera"].windows_missed == 8


def test_a_stream_declared_absent_is_not_waited_for() -> None:
    aligner = Aligner({"imu": StreamSpec(100.0), "camera": StreamSpec(5.0)}, 1.0,
                      max_lateness_s=60.0)
    assert aligner.push(imu(0.0, 3.0)) == []
    windows = aligner.mark_absent("camera")  # the controller switched the camera off
    assert [w.index for w in windows] == [0, 1]
    assert all(w.missed == () for w in windows)
    frame = Packet("camera", np.array([3_100_000_000], np.int64), {"v": np.ones(1, np.float32)})
    assert aligner.push(frame) == []  # camera is back: windows wait for it again
    assert [w.index for w in aligner.push(imu(3.0, 2.0))] == [2]  # camera reached 3.1 s
    assert [w.index for w in aligner.advance("camera", 4 * S)] == [3]


def test_rate_change_online_shows_in_coverage_and_mask() -> None:
    aligner = Aligner({"imu": StreamSpec(100.0)}, 1.0)
    windows = aligner.push(imu(0.0, 2.0))
    slow = Packet("imu", (2 * S + np.arange(50) * (S // 25)).astype(np.int64),
                  {"v": np.ones(50, np.float32)})
    windows += aligner.push(slow) + aligner.flush()
    assert [w.coverage["imu"] for w in windows] == [1.0, 1.0, 0.25, 0.25]
    assert windows[3].mask["imu"].tolist() == [i % 4 == 0 for i in range(100)]


def test_memory_stays_bounded_online() -> None:
    specs = {"imu": StreamSpec(1000.0), "audio": StreamSpec(16000.0), "gps": StreamSpec(1.0)}
    aligner = Aligner(specs, window_s=2.0, hop_s=1.0, max_lateness_s=2.0)
    most = {k: 0 for k in specs}
    closed = 0
    for i in range(600):  # 60 s in 100 ms packets
        t0 = i * S // 10
        for name, rate in (("imu", 1000), ("audio", 16000)):
            n = rate // 10
            t = (t0 + np.arange(n) * (S // rate)).astype(np.int64)
            closed += len(aligner.push(Packet(name, t, {"v": np.zeros(n, np.int16)})))
        if i % 10 == 0:
            closed += len(aligner.push(gps(t0 / S)))
        for k, n in aligner.buffered().items():
            most[k] = max(most[k], n)
    assert closed >= 56
    # open windows (2 s) + one hop + one packet, at each stream's rate
    assert most["imu"] <= 3.1 * 1000 and most["audio"] <= 3.1 * 16000 and most["gps"] <= 4


def test_flush_ends_the_data_once() -> None:
    aligner = Aligner({"imu": StreamSpec(100.0)}, 1.0)
    windows = aligner.push(imu(0.0, 2.5))
    assert [w.index for w in windows] == [0, 1]
    assert [w.index for w in aligner.flush()] == [2]
    assert aligner.flush() == []
    assert aligner.buffered() == {"imu": 0}
