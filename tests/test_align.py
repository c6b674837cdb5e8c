"""Offline alignment: slot rule, masks, exact timestamps and counts, against a plain reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensekit.align import NO_TIME, Aligner, StreamSpec, Window, align
from sensekit.errors import ConfigError
from sensekit.packets import Packet

S = 1_000_000_000
SPECS = {"imu": StreamSpec(100.0), "audio": StreamSpec(16000.0), "gps": StreamSpec(1.0),
         "light": StreamSpec(2.0), "camera": StreamSpec(5.0)}


def regular(name: str, rate: float, t0_s: float, dur_s: float) -> Packet:
    t = np.round(t0_s * S + np.arange(round(rate * dur_s)) * S / rate).astype(np.int64)
    return Packet(name, t, {"v": np.arange(len(t), dtype=np.float32)})


def messy(name: str, rate: float, dur_s: float, rng: np.random.Generator) -> Packet:
    """Drift, jitter, a gap, duplicates and swapped neighbours, like a real sensor."""
    n = round(rate * dur_s)
    period = S / (rate * (1 + rng.uniform(-0.01, 0.01)))
    t = (3.7 * S + np.arange(n) * period + rng.normal(0, 0.05 * period, n)).astype(np.int64)
    if n > 20:
        cut = int(rng.integers(0, n - n // 10))
        t = np.delete(t, np.arange(cut, cut + n // 10))
    dup = rng.integers(0, len(t), max(1, len(t) // 50))
    t = np.insert(t, dup, t[dup])
    swap = rng.integers(0, len(t) - 1, max(1, len(t) // 50))
    t[swap], t[swap + 1] = t[swap + 1], t[swap].copy()
    values = rng.standard_normal((len(t), 2)).astype(np.float32)
    return Packet(name, t, {"v": values})


def reference(streams: dict[str, Packet], specs: dict[str, StreamSpec], window_s: float,
              hop_s: float) -> list[dict[str, Any]]:
    """The documented rule in plain Python, one sample at a time."""
    win, hop = round(window_s * S), round(hop_s * S)
    clean = {}
    for name, p in streams.items():
        seen: dict[int, Any] = {}
        for i, t in enumerate(p.t_ns.tolist()):
            seen.setdefault(t, p["v"][i])
        clean[name] = sorted(seen.items())
    times = [t for rows in clean.values() for t, _ in rows]
    out = []
    for k in range((min(times) - win) // hop + 1, max(times) // hop + 1):
        start = k * hop
        row: dict[str, Any] = {"index": k, "t_ns": {}, "v": {}, "collisions": {}}
        for name, rows in clean.items():
            n = specs[name].slots(win)
            t_ns, v, coll = [NO_TIME] * n, [None] * n, 0
            for t, val in rows:
                if start <= t < start + win:
                    slot = (t - start) * n // win
                    if t_ns[slot] == NO_TIME:
                        t_ns[slot], v[slot] = t, val
                    else:
                        coll += 1
            row["t_ns"][name], row["v"][name], row["collisions"][name] = t_ns, v, coll
        if any(t != NO_TIME for ts in row["t_ns"].values() for t in ts):
            out.append(row)
    return out


def check_against_reference(windows: list[Window], ref: list[dict[str, Any]]) -> None:
    assert [w.index for w in windows] == [r["index"] for r in ref]
    for w, r in zip(windows, ref, strict=True):
        for name, t_ns in r["t_ns"].items():
            assert w.t_ns[name].tolist() == t_ns
            assert w.mask[name].tolist() == [t != NO_TIME for t in t_ns]
            assert w.collisions[name] == r["collisions"][name]
            if not w.data[name]:  # a stream without any sample has no fields yet
                assert all(x is None for x in r["v"][name])
                continue
            want = np.array([np.zeros(2, np.float32) if x is None else x for x in r["v"][name]])
            np.testing.assert_array_equal(w.data[name]["v"], want)


def test_each_stream_keeps_native_resolution_and_exact_times() -> None:
    data = {k: regular(k, s.rate_hz, 0.25, 10.0) for k, s in SPECS.items()}
    windows = align(data, SPECS, window_s=2.0, hop_s=1.0)
    assert [w.t_start_ns for w in windows] == [k * S for k in range(-1, 11)]
    assert all(w.t_end_ns - w.t_start_ns == 2 * S for w in windows)
    w = windows[3]  # [2 s, 4 s): wholly inside the data
    for name, spec in SPECS.items():
        n = round(spec.rate_hz * 2.0)
        assert w.data[name]["v"].shape == (n,) and w.mask[name].all()
        assert w.coverage[name] == 1.0
        sel = (data[name].t_ns >= 2 * S) & (data[name].t_ns < 4 * S)
        np.testing.assert_array_equal(w.t_ns[name], data[name].t_ns[sel])
        np.testing.assert_array_equal(w.data[name]["v"], data[name]["v"][sel])
    first = windows[0]  # [-1 s, 1 s): data starts at 0.25 s
    assert first.coverage["imu"] == pytest.approx(0.375)
    assert not first.mask["imu"][:125].any() and first.mask["imu"][125:].all()
    assert (first.t_ns["imu"][:125] == NO_TIME).all()
    assert (first.data["imu"]["v"][:125] == 0).all()


@pytest.mark.parametrize("window_s,hop_s", [(2.0, 1.0), (2.0, 0.5), (1.0, 0.3), (1.5, 1.5)])
def test_matches_plain_reference_on_messy_streams(window_s: float, hop_s: float) -> None:
    rng = np.random.default_rng(int(window_s * 10 + hop_s * 100))
    specs = {"imu": StreamSpec(200.0), "gps": StreamSpec(1.0), "cam": StreamSpec(30.0),
             "light": StreamSpec(3.0)}
    data = {k: messy(k, s.rate_hz, 8.0, rng) for k, s in specs.items()}
    windows = align(data, specs, window_s, hop_s)
    check_against_reference(windows, reference(data, specs, window_s, hop_s))


def test_gap_is_masked_not_interpolated_and_counted() -> None:
    p = regular("imu", 100.0, 0.0, 10.0)
    keep = (p.t_ns < 4 * S) | (p.t_ns >= int(4.5 * S))
    stats: dict[str, Any] = {}
    windows = align({"imu": p.select(keep)}, {"imu": StreamSpec(100.0)}, 2.0, 1.0, stats=stats)
    w = next(w for w in windows if w.t_start_ns == 4 * S)
    assert w.coverage["imu"] == pytest.approx(0.75)
    assert not w.mask["imu"][:50].any() and w.mask["imu"][50:].all()
    assert (w.data["imu"]["v"][:50] == 0).all()
    assert stats["imu"].gaps == 1
    assert stats["imu"].longest_gap_ns == 510_000_000


def test_duplicates_keep_first_arrival_and_are_counted() -> None:
    t = np.array([0, 10, 10, 20, 20, 20], np.int64) * 1_000_000
    v = np.array([0, 1, 99, 2, 98, 97], np.float32)
    stats: dict[str, Any] = {}
    (w,) = align({"imu": (t, {"v": v})}, {"imu": StreamSpec(100.0)}, 1.0, stats=stats)
    assert w.data["imu"]["v"][:3].tolist() == [0, 1, 2]
    assert stats["imu"].duplicates == 3
    assert stats["imu"].collisions == 0


def test_out_of_order_samples_are_sorted_into_place_and_counted() -> None:
    p = regular("imu", 100.0, 0.0, 2.0)
    order = np.arange(len(p))
    order[[10, 11]], order[[50, 53]] = order[[11, 10]], order[[53, 50]]
    stats: dict[str, Any] = {}
    shuffled = align({"imu": p.select(order)}, {"imu": StreamSpec(100.0)}, 2.0, stats=stats)
    plain = align({"imu": p}, {"imu": StreamSpec(100.0)}, 2.0)
    np.testing.assert_array_equal(shuffled[0].data["imu"]["v"], plain[0].data["imu"]["v"])
    np.testing.assert_array_equal(shuffled[0].t_ns["imu"], p.t_ns)
    assert stats["imu"].out_of_order == 4  # samples 10, 51, 52 and 50 came after a newer one


def test_lower_rate_fills_fewer_slots() -> None:
    fast = regular("imu", 100.0, 0.0, 4.0)
    slow = regular("imu", 25.0, 4.0, 4.0)  # the controller lowered the rate at 4 s
    stats: dict[str, Any] = {}
    windows = align({"imu": [fast, slow]}, {"imu": StreamSpec(100.0)}, 2.0, stats=stats)
    assert [w.coverage["imu"] for w in windows] == [1.0, 1.0, 0.25, 0.25]
    assert windows[2].mask["imu"].tolist() == [i % 4 == 0 for i in range(200)]
    assert stats["imu"].gaps == 4 * 25 - 1  # every slower interval lacks samples


def test_faster_stream_keeps_earliest_sample_per_slot_and_counts_collisions() -> None:
    p = regular("imu", 101.0, 0.0, 3.0)  # clock runs 1 % fast
    windows = align({"imu": p}, {"imu": StreamSpec(100.0)}, 1.0)
    for w in windows[:3]:
        sel = (p.t_ns >= w.t_start_ns) & (p.t_ns < w.t_end_ns)
        assert w.collisions["imu"] == np.count_nonzero(sel) - 100
        slot = (p.t_ns[sel] - w.t_start_ns) * 100 // S
        first = np.concatenate(([True], slot[1:] != slot[:-1]))
        np.testing.assert_array_equal(w.t_ns["imu"], p.t_ns[sel][first])


def test_absent_stream_has_empty_masks_and_zero_coverage() -> None:
    windows = align({"imu": regular("imu", 100.0, 0.0, 4.0)}, SPECS, 2.0, 1.0)
    assert len(windows) == 5
    for w in windows:
        assert w.coverage["gps"] == 0.0 and not w.mask["gps"].any()
        assert w.mask["gps"].shape == (2,) and (w.t_ns["gps"] == NO_TIME).all()
        assert w.data["gps"] == {}
        assert w.mask["audio"].shape == (32000,)


def test_windows_without_any_data_are_skipped() -> None:
    specs = {"imu": StreamSpec(100.0)}
    data = [regular("imu", 100.0, 0.0, 2.0), regular("imu", 100.0, 100.0, 2.0)]
    windows = align(data, specs, 2.0, 1.0)
    assert [w.index for w in windows] == [-1, 0, 1, 99, 100, 101]


def test_fields_with_per_sample_shape_are_windowed() -> None:
    t = np.arange(10, dtype=np.int64) * (S // 5)
    frames = np.arange(10 * 4 * 6 * 3, dtype=np.uint8).reshape(10, 4, 6, 3)
    (w,) = align({"camera": Packet("camera", t[::2], {"image": frames[::2]})},
                 {"camera": StreamSpec(5.0)}, 2.0)
    assert w.data["camera"]["image"].shape == (10, 4, 6, 3)
    np.testing.assert_array_equal(w.data["camera"]["image"][::2], frames[::2])
    assert not w.data["camera"]["image"][1::2].any()
    assert w.mask["camera"].tolist() == [True, False] * 5


def test_window_arrays_are_read_only_views() -> None:
    windows = align({"imu": regular("imu", 100.0, 0.0, 4.0)}, {"imu": StreamSpec(100.0)}, 2.0, 1.0)
    with pytest.raises(ValueError):
        windows[1].data["imu"]["v"][0] = 5.0
    with pytest.raises(ValueError):
        windows[1].mask["imu"][0] = False


def test_origin_shifts_the_grid() -> None:
    windows = align({"imu": regular("imu", 100.0, 0.0, 4.0)}, {"imu": StreamSpec(100.0)}, 2.0,
                    origin_ns=S // 2)
    assert [w.t_start_ns for w in windows] == [-S // 2 * 3, S // 2, S // 2 * 5]


def test_input_forms_give_the_same_windows() -> None:
    p = regular("imu", 100.0, 0.0, 4.0)
    specs = {"imu": StreamSpec(100.0)}
    forms = [{"imu": p}, {"imu": [p.slice(0, 150), p.slice(150, 400)]},
             {"imu": (p.t_ns, dict(p.fields))}, [p.slice(0, 10), p.slice(10, 400)]]
    results = [align(form, specs, 2.0, 1.0) for form in forms]
    for windows in results[1:]:
        assert [w.index for w in windows] == [w.index for w in results[0]]
        for a, b in zip(windows, results[0], strict=True):
            np.testing.assert_array_equal(a.data["imu"]["v"], b.data["imu"]["v"])


def test_spec_fields_select_the_payload() -> None:
    t = np.arange(4, dtype=np.int64)
    p = Packet("imu", t, {"a": np.ones(4, np.float32), "b": np.zeros(4, np.int8)})
    (w,) = align({"imu": p}, {"imu": StreamSpec(4e9, fields=("b",))}, 1e-9 * 4)
    assert set(w.data["imu"]) == {"b"}


def test_bad_configuration_is_reported() -> None:
    with pytest.raises(ConfigError, match="hop_s"):
        Aligner({"imu": StreamSpec(100.0)}, window_s=1.0, hop_s=2.0)
    with pytest.raises(ConfigError, match=r"'imu'.*rate_hz"):
        Aligner({"imu": StreamSpec(0.0)}, window_s=1.0)
    aligner = Aligner({"imu": StreamSpec(100.0)}, window_s=1.0)
    with pytest.raises(ConfigError, match="'gps' is not one of the aligner's streams"):
        aligner.push(regular("gps", 1.0, 0.0, 2.0))
    aligner.push(regular("imu", 100.0, 0.0, 0.5))
    changed = Packet("imu", np.array([S], np.int64), {"v": np.zeros(1, np.float64)})
    with pytest.raises(ConfigError, match=r"'v' is float64.*float32"):
        aligner.push(changed)
    with pytest.raises(ConfigError, match="lacks fields"):
        Aligner({"imu": StreamSpec(100.0, fields=("accel_mps2",))}, 1.0).push(
            regular("imu", 100.0, 0.0, 0.5))


def test_slot_starts_are_where_samples_enter_each_slot() -> None:
    specs = {"camera": StreamSpec(30.0)}  # slots of 33 333 333.3 ns
    edges = np.array([S + (i * S + 29) // 30 for i in range(30)], np.int64)
    t = np.concatenate([edges, edges[1:] - 1])
    (w,) = align({"camera": (t, {"v": t})}, specs, 1.0, origin_ns=S)
    np.testing.assert_array_equal(w.slot_starts_ns("camera"), edges)
    # edges[i] - 1 falls in slot i - 1, behind edges[i - 1]: never the first of slot i.
    np.testing.assert_array_equal(w.t_ns["camera"], edges)
    assert w.collisions["camera"] == 29
    assert "coverage: camera=1.00" in repr(w)


@settings(max_examples=60, deadline=None)
@given(t_a=st.lists(st.integers(0, 40 * S // 10), min_size=1, max_size=60),
       t_b=st.lists(st.integers(0, 40 * S // 10), max_size=20),
       rate=st.sampled_from([0.5, 1.0, 3.0, 7.0, 10.0]),
       shape=st.sampled_from([(1.0, 1.0), (2.0, 0.5), (1.0, 0.3), (1.2, 0.8)]))
def test_any_timestamps_follow_the_documented_rule(t_a: list[int], t_b: list[int], rate: float,
                                                   shape: tuple[float, float]) -> None:
    specs = {"a": StreamSpec(rate), "b": StreamSpec(4.0)}
    data = {"a": (np.array(t_a, np.int64), {"v": np.arange(2 * len(t_a), dtype=np.float32)
                                            .reshape(-1, 2)}),
            "b": (np.array(t_b, np.int64), {"v": np.ones((len(t_b), 2), np.float32)})}
    packets = {k: Packet(k, t, f) for k, (t, f) in data.items()}
    windows = align(packets, specs, *shape)
    check_against_reference(windows, reference(packets, specs, *shape))
