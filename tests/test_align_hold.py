"""Step signals (``StreamSpec.hold_s``): a sensor that reports only on change holds its value."""

from __future__ import annotations

import numpy as np

from sensekit.align import NO_TIME, Aligner, StreamSpec, align
from sensekit.packets import Packet

S = 1_000_000_000
LIGHT = Packet("light", (np.array([0.3, 5.2, 20.0]) * S).astype(np.int64),
               {"lux": np.array([10.0, 20.0, 30.0], np.float32)})
IMU = Packet("imu", np.arange(0, 24 * S, S // 10, dtype=np.int64),
             {"accel_mps2": np.zeros((240, 3), np.float32)})
SPECS = {"light": StreamSpec(1.0, hold_s=4.0), "imu": StreamSpec(10.0)}


def test_empty_slots_hold_the_last_report_up_to_its_age() -> None:
    wins = {w.index: w for w in align({"light": LIGHT, "imu": IMU}, SPECS, 2.0)}
    first = wins[0]
    assert first.mask["light"].tolist() == [True, False]
    assert first.held["light"].tolist() == [False, True]
    assert first.data["light"]["lux"].tolist() == [10.0, 10.0]
    assert first.t_ns["light"].tolist() == [int(0.3 * S)] * 2  # the held sample's own time
    assert first.valid("light").all() and first.coverage["light"] == 0.5
    # [4, 6): 10 lx from 0.3 s is 3.7 s old at 4 s (held); 20 lx arrives at 5.2 s
    assert wins[2].data["light"]["lux"].tolist() == [10.0, 20.0]
    # [8, 10): the slot at 9 s holds 20 lx (3.8 s old); [10, 12) would be 4.8 s: not held
    assert wins[4].held["light"].tolist() == [True, True]
    assert not wins[5].valid("light").any()
    assert wins[5].t_ns["light"].tolist() == [NO_TIME, NO_TIME]


def test_a_stream_without_hold_leaves_empty_slots_empty() -> None:
    (win, *_) = align({"light": LIGHT, "imu": IMU},
                      {"light": StreamSpec(1.0), "imu": StreamSpec(10.0)}, 2.0)
    assert win.held == {} and win.valid("light").tolist() == [True, False]
    assert win.data["light"]["lux"].tolist() == [10.0, 0.0]


def test_overlapping_windows_hold_across_their_own_slot_grids() -> None:
    wins = {w.index: w for w in align({"light": LIGHT, "imu": IMU}, SPECS, 2.0, 1.0)}
    assert wins[4].data["light"]["lux"].tolist() == [10.0, 20.0]  # [4, 6)
    assert wins[9].held["light"].tolist() == [True, False]  # 9 s held, 10 s too old


def test_online_holds_from_finalized_samples_and_never_waits_for_a_silent_stream() -> None:
    aligner = Aligner(SPECS, 2.0)
    online = aligner.push(LIGHT.slice(0, 1))
    for k in range(0, 240, 10):
        if k == 60:
            online += aligner.push(LIGHT.slice(1, 2))
        if k == 210:
            online += aligner.push(LIGHT.slice(2, 3))
        online += aligner.push(IMU.slice(k, k + 10))
        if k == 40:  # the light was silent since 0.3 s, yet windows up to 4 s closed
            assert [w.index for w in online] == [0, 1]
    online += aligner.flush()
    offline = align({"light": LIGHT, "imu": IMU}, SPECS, 2.0)
    assert [w.index for w in online] == [w.index for w in offline]
    for a, b in zip(online, offline, strict=True):
        assert not a.missed
        np.testing.assert_array_equal(a.held["light"], b.held["light"])
        np.testing.assert_array_equal(a.data["light"]["lux"], b.data["light"]["lux"])
        np.testing.assert_array_equal(a.t_ns["light"], b.t_ns["light"])
