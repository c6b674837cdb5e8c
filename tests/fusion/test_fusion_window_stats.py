"""Window statistics that do not depend on the rate or the orientation, and rate views."""

from __future__ import annotations

import numpy as np
import pytest

from sensekit.fusion.inputs import stats_modalities
from sensekit.fusion.rates import RateView, native_rate_hz, rate_views, replay_decimate
from sensekit.fusion.recordings import accel_csv_recording, recording_windows
from sensekit.fusion.window_stats import (
    ACCEL_NAMES,
    accel_features,
    mag_features,
    point_sample,
)
from sensekit.packets import Packet

S = 1_000_000_000
#: The amplitude statistics (all but the two half-window features, whose noise grows as
#: fewer samples make each half's mean: rate augmentation covers those).
AMPLITUDE = slice(0, 12)
#: Stated tolerance (fusion/README.md): the median over a walk's windows of each amplitude
#: statistic at 2 Hz and at 5 Hz lies within this of the one at 20 Hz.
TOLERANCE = {2.0: 0.3, 5.0: 0.12}


def _walk(corpus):  # type: ignore[no-untyped-def]
    raw = np.loadtxt(sorted((corpus / "phone").glob("user1_frontpocket_*.csv"))[0],
                     delimiter=",", usecols=(0, 1, 2, 3))
    raw = raw[np.flatnonzero(np.abs(raw[:, 1:]).sum(1) > 0)[0]:]
    return raw[:, 0].astype(np.int64), raw[:, 1:]


def _median_features(t: np.ndarray, v: np.ndarray, rate: float) -> np.ndarray:
    idx = point_sample(t, rate, 0.3)
    t, v = t[idx], v[idx]
    rows = [accel_features(v[(t >= s) & (t < s + 5 * S)])
            for s in range(int(t[0]), int(t[-1]) - 5 * S, 5 * S)]
    return np.median(rows, axis=0)


def test_a_real_walk_point_sampled_to_2_5_20_hz_gives_the_same_statistics(corpus) -> None:  # type: ignore[no-untyped-def]
    t, v = _walk(corpus)
    assert native_rate_hz(t) > 90
    at20 = _median_features(t, v, 20.0)
    for rate, tol in TOLERANCE.items():
        diff = np.abs(_median_features(t, v, rate) - at20)[AMPLITUDE]
        assert diff.max() <= tol, dict(zip(ACCEL_NAMES, diff.round(3), strict=False))
    # the amplitude of a walk is what tells it from sitting: far outside that tolerance
    still = accel_features(np.tile([0.1, 9.7, 0.5], (50, 1)) + 0.02 * np.random.default_rng(
        0).normal(size=(50, 3)))
    assert np.abs(still - at20)[AMPLITUDE].max() > 3 * TOLERANCE[2.0]


def test_statistics_do_not_change_when_the_phone_is_turned() -> None:
    rng = np.random.default_rng(1)
    a = np.array([0.0, 0.0, 9.81]) + rng.normal(0, 2.0, (100, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    np.testing.assert_allclose(accel_features(a @ q.T), accel_features(a), atol=1e-4)
    m = np.array([20.0, -5.0, -40.0]) + rng.normal(0, 1.0, (100, 3))
    np.testing.assert_allclose(mag_features(m @ q.T), mag_features(m), atol=1e-4)


def test_point_sampling_never_invents_a_sample() -> None:
    rng = np.random.default_rng(2)
    t = np.cumsum(rng.integers(205, 450, 40) * 1_000_000).astype(np.int64)  # a 3 Hz phone
    idx = point_sample(t, 20.0, 0.5)
    assert len(idx) == len(np.unique(idx)) <= len(t)
    assert len(idx) >= len(t) - 2  # a slow stream keeps (nearly) every sample
    fast = np.arange(0, 5 * S, 10_000_000, dtype=np.int64)  # 100 Hz
    assert len(point_sample(fast, 20.0, 0.5)) == 100  # 20 Hz over 5 s


def test_the_aligner_path_caps_a_fast_phone_at_20_hz(corpus) -> None:  # type: ignore[no-untyped-def]
    # the same walk recorded at 100 Hz and point-sampled to 20 Hz beforehand: the window path
    # (aligner slots of 50 ms, point sampling in the extractor) gives the same statistics
    path = sorted((corpus / "phone").glob("user1_frontpocket_*.csv"))[0]
    rec = accel_csv_recording(path, {"transport": "walking"})
    mods = stats_modalities(["accel"])
    full = recording_windows(rec, mods, window_s=5.0, tasks=["transport"])
    p = rec.streams["accel"]
    rec.streams["accel"] = p.select(point_sample(p.t_ns, 20.0, 0.5, int(full.index[0])))
    slow = recording_windows(rec, mods, window_s=5.0, tasks=["transport"])
    assert full.present["accel"].all()
    diff = np.abs(np.median(full.inputs["accel"], 0) - np.median(slow.inputs["accel"], 0))
    assert diff[AMPLITUDE].max() <= 0.05


def _stream(rate: float, seconds: float = 20.0) -> Packet:
    """A gait swing (1.8 Hz, y) and an engine's 21 Hz vibration (x)."""
    t = (np.arange(int(rate * seconds)) * S / rate).astype(np.int64)
    swing = np.sin(2 * np.pi * 1.8 * t / S)[:, None] * np.array([0.0, 3.0, 1.0])
    hum = np.sin(2 * np.pi * 21.0 * t / S)[:, None] * np.array([2.0, 0.0, 0.0])
    return Packet("imu", t, {"accel_mps2": (swing + hum + [0, 9.81, 0]).astype(np.float32)},
                  "imu")


def test_rate_views_cover_the_phone_and_the_replay_path_through_one_decimation() -> None:
    calls = []

    def decimate(stream, packet, rate, lowpass):  # type: ignore[no-untyped-def]
        calls.append((stream, rate, lowpass))
        return replay_decimate(stream, packet, rate, lowpass)

    views = rate_views((5.0,), replay_rates=(25.0,), decimate=decimate)
    assert set(views) == {"point@5", "replay@25"}
    rng = np.random.default_rng(0)
    fast = _stream(100.0)
    point = views["point@5"]("imu", fast, rng)
    assert point is not None and 95 <= len(point) <= 101 and not calls
    replay = views["replay@25"]("imu", fast, rng)
    # the replay's own device: the part's low-pass setting (the accelerometer's declared
    # MPU-6050 DLPF bandwidths) and every fourth sample
    assert calls == [("imu", 25.0, calls[0][2])] and 10.0 in calls[0][2]
    assert replay is not None and len(replay) == 500
    # the 21 Hz hum is filtered out before decimating; point sampling keeps (aliases) it
    assert replay["accel_mps2"][:, 0].std() < 0.2 < 0.5 < point["accel_mps2"][:, 0].std()
    assert replay["accel_mps2"][:, 1].std() > 1.5  # the gait swing passes
    # a view at or above the native rate does not apply: nothing is upsampled
    slow = _stream(3.0)
    assert views["replay@25"]("imu", slow, rng) is None
    assert RateView("point", 5.0)("imu", slow, rng) is None


def test_window_views_of_a_slow_phone_keep_what_it_delivers(corpus) -> None:  # type: ignore[no-untyped-def]
    from sensekit.log.importers.android_events import read_us_tmd

    path = sorted((corpus / "us_tmd").glob("sensorfile_andrea_Bus_*.csv.gz"))[0]
    ws = recording_windows(read_us_tmd(path), stats_modalities(["accel", "mag"]),
                           window_s=5.0, tasks=["transport"],
                           views=rate_views((2.0, 20.0)), origin_ns=0)
    x20, p20 = ws.views["point@20"]
    # andrea's phone delivers about 3 Hz: a 20 Hz view is the recording as it is
    np.testing.assert_array_equal(x20["accel"], ws.inputs["accel"])
    np.testing.assert_array_equal(p20["accel"], ws.present["accel"])
    x2, p2 = ws.views["point@2"]
    assert p2["accel"].mean() > 0.9
    assert not np.allclose(x2["accel"][p2["accel"]], ws.inputs["accel"][p2["accel"]])
    np.testing.assert_array_equal(np.diff(ws.index), 1)


@pytest.mark.parametrize("fmt", ["npz", "parquet"])
def test_shards_keep_the_grid_index_and_rate_views(corpus, tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    from sensekit.fusion.shards import read_shard, recording_shards

    pytest.importorskip("pyarrow")
    src = accel_csv_recording(sorted((corpus / "phone").glob("user1_hand_*.csv"))[0],
                              {"transport": "walking"})
    ws = recording_windows(src, stats_modalities(["accel"]), window_s=5.0, hop_s=5.0,
                           tasks=["transport"], views=rate_views((2.0,)))
    (shard, n), = recording_shards(src, tmp_path / "w", window_s=5.0, hop_s=5.0, fmt=fmt,
                                   modalities=["accel"], tasks=["transport"], stats=True,
                                   rate_views_hz=(2.0,))
    back = read_shard(shard)
    assert n == len(ws) and back.modalities["accel"].kind == "features"
    np.testing.assert_array_equal(back.index, ws.index)
    np.testing.assert_allclose(back.inputs["accel"], ws.inputs["accel"])
    assert set(back.views) == {"point@2", "replay@2"}
    for view in ("point@2", "replay@2"):  # the same seed draws the same phases
        np.testing.assert_allclose(back.views[view][0]["accel"], ws.views[view][0]["accel"])
        np.testing.assert_array_equal(back.views[view][1]["accel"], ws.views[view][1]["accel"])
