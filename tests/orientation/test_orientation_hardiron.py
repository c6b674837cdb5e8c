"""The online hard-iron estimator: it learns a magnet fixed to the board and nothing else."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sensekit.orientation import Ahrs, HardIronEstimator
from sensekit.orientation.metrics import orientation_rmse_deg
from sensekit.testing.motion import make_trial

RATE = 100.0


def trial(kind: str, seed: int, **kw: float):  # type: ignore[no-untyped-def]
    return make_trial(kind, seed, rate_hz=RATE, rest_s=5.0, move_s=30.0, **kw)


@pytest.mark.parametrize("size", [10.0, 100.0, 400.0])
def test_an_attached_magnet_is_learnt(size: float) -> None:
    """Offsets of 10 to 400 uT are learnt to within 1 uT by the end; over the second half of
    the movement heading is within 2 degrees RMS, and over the whole trial it is better than
    without the estimator. (The seconds before the first turns cannot be right: at rest a
    hard iron and a heading cannot be told apart.)"""
    tr = trial("attached_magnet", 1, magnet_ut=size)
    ahrs = Ahrs(RATE)
    q = ahrs.estimate(tr.gyr, tr.acc, tr.mag, offline=False)
    assert np.abs(ahrs.hard_iron_ut - tr.hard_iron_ut).max() < 1.0
    late = tr.movement & (np.arange(len(q)) >= 20 * RATE)
    assert orientation_rmse_deg(q, tr.quat, late)[1] < 2.0
    _, head = orientation_rmse_deg(q, tr.quat, tr.movement)
    _, head_without = orientation_rmse_deg(Ahrs(RATE, hard_iron=False).estimate(
        tr.gyr, tr.acc, tr.mag, offline=False), tr.quat, tr.movement)
    assert head < head_without


@pytest.mark.parametrize("kind", ["rotation_slow", "translation_fast", "combined", "office",
                                  "stationary_magnet"])
def test_no_offset_is_learnt_where_there_is_none(kind: str) -> None:
    """A calibrated sensor in a clean room, an office or near a magnet on the table: the
    offset stays within 2 uT of zero at every sample (a field that changes from place to place
    is not a hard iron; a gradient can still pass for a small one for a while)."""
    for seed in range(2):
        tr = trial(kind, seed)
        ahrs = Ahrs(RATE)
        est = ahrs.estimate_full(tr.gyr, tr.acc, tr.mag, offline=False)
        assert np.abs(est.hard_iron_ut).max() < 2.0, (kind, seed, ahrs.hard_iron_ut)


def test_nothing_is_learnt_at_rest() -> None:
    """Still with a 200 uT magnet: rotation noise is no turn, so no offset is claimed."""
    tr = trial("attached_magnet", 2, magnet_ut=200.0)
    rest = ~tr.movement & (np.arange(len(tr.gyr)) < 5 * RATE)
    est = HardIronEstimator()
    from vqf import VQF

    q6 = VQF(1 / RATE).updateBatch(np.ascontiguousarray(tr.gyr[rest]),
                                    np.ascontiguousarray(tr.acc[rest]))["quat6D"]
    update = est.add(np.arange(rest.sum()) / RATE, q6, tr.mag[rest])
    assert not update.moved and np.all(est.offset_ut == 0)
    assert est.noise_ut == pytest.approx(0.7, rel=0.5)  # the trial's magnetometer noise


def test_state_round_trip() -> None:
    tr = trial("attached_magnet", 3, magnet_ut=50.0)
    ahrs = Ahrs(RATE)
    ahrs.estimate(tr.gyr, tr.acc, tr.mag, offline=False)
    est = HardIronEstimator()
    est.restore(json.loads(json.dumps(ahrs.state()["hard_iron"])))
    np.testing.assert_allclose(est.offset_ut, ahrs.hard_iron_ut)
    started = Ahrs(RATE, hard_iron_ut=ahrs.hard_iron_ut)
    np.testing.assert_allclose(started.hard_iron_ut, ahrs.hard_iron_ut)
