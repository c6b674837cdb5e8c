"""The streaming (causal) AHRS with a magnet attached: once the online hard-iron estimator
has seen the first turns, heading is as good as without the magnet.

"After convergence" is the movement from 10 s after it starts (or after the magnet is glued
on), with one constant heading offset removed as BROAD scores it. Before the first turns no
causal filter can tell a hard iron from a heading (see orientation/README.md), so the whole
movement is not what these bound.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ahrs_trials import BACKENDS, RATE

from sensekit.orientation import Ahrs
from sensekit.orientation.metrics import heading_errors_deg
from sensekit.testing.motion import make_trial

BROAD02 = "imu/broad_02_undisturbed_slow_rotation_B.hdf5"


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x)))


def _after(mask: np.ndarray, start: int, seconds: float, rate: float) -> np.ndarray:
    late = mask.copy()
    late[:start + int(seconds * rate)] = False
    return late


@pytest.mark.parametrize("size", [60.0, 200.0])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_fixed_magnet_is_learnt_away_while_streaming(seed: int, size: float) -> None:
    """A synthetic rotating trial with a magnet fixed to the sensor from the first sample:
    from 10 s into the movement the streaming heading is within 0.6 degrees RMS and the
    offset within 0.5 uT. (Before the hard-iron estimator followed its fit, seed 1 was at
    0.68 degrees: an axis turned little at first was held at its first guess.)"""
    tr = make_trial("attached_magnet", seed, rate_hz=RATE, rest_s=5.0, move_s=40.0,
                    magnet_ut=size)
    est = Ahrs(RATE).estimate_full(tr.gyr, tr.acc, tr.mag, offline=False)
    late = _after(tr.movement, int(np.flatnonzero(tr.movement)[0]), 10.0, RATE)
    assert _rms(heading_errors_deg(est.quat[late], tr.quat[late])) < 0.6
    assert np.abs(est.hard_iron_ut[late] - tr.hard_iron_ut).max() < 0.5


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_a_magnet_attached_part_way_is_learnt_while_streaming(backend: str, seed: int) -> None:
    """A 60 uT magnet glued on 15 s into a 40 s movement: 10 s later the offset is within
    0.5 uT and the heading within 0.8 degrees RMS to the end (seeds 0-3 gave 0.09-0.56)."""
    tr = make_trial("combined", seed, rate_hz=RATE, rest_s=5.0, move_s=40.0)
    t = np.arange(len(tr.gyr)) / RATE
    b = np.array([35.0, -30.0, 38.0])
    mag = tr.mag + (t >= 20.0)[:, None] * b
    est = Ahrs(RATE, backend=backend).estimate_full(tr.gyr, tr.acc, mag, offline=False)
    late = tr.movement & (t >= 30.0)
    assert np.abs(est.hard_iron_ut[t >= 30.0] - b).max() < 0.5
    assert np.abs(est.hard_iron_ut[t < 20.0]).max() < 0.5  # nothing learnt before it
    assert _rms(heading_errors_deg(est.quat[late], tr.quat[late])) < 0.8


@pytest.mark.skipif(BACKENDS[0] != "vqf", reason="vqf not installed")
@pytest.mark.parametrize("offset", [(20.0, -10.0, 15.0), (200.0, -150.0, 100.0)])
def test_broad_trial_02_streaming_with_a_magnet_added(corpus: Path,
                                                      offset: tuple[float, ...]) -> None:
    """Real motion (BROAD trial 02) with a constant field added to its magnetometer, streamed:
    from 10 s into the movement heading is within 2 degrees RMS (1.27 for both; before the
    estimator followed its fit, 3.18 and 2.72: the sensor's x axis is turned little in the
    first 15 s of movement). Not blind: this trial shaped the change."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(corpus / BROAD02, "r") as h:
        g, a, m = (np.asarray(h[k], float) for k in ("imu_gyr", "imu_acc", "imu_mag"))
        truth = np.asarray(h["opt_quat"], float)
        mask = np.asarray(h["movement"]).astype(bool) & np.all(np.isfinite(truth), axis=1)
        rate = float(h.attrs["sampling_rate"])
    q = Ahrs(rate).estimate(g, a, m + np.array(offset), offline=False)
    late = _after(mask, int(np.flatnonzero(mask)[0]), 10.0, rate)
    assert _rms(heading_errors_deg(q[late], truth[late])) < 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_learnt_offset_carries_to_the_next_run(backend: str) -> None:
    """A device that stores the offset it learnt (``Ahrs.hard_iron_ut``, or ``state()``) starts
    its next run with the magnet already removed: heading over the whole movement, the first
    turns included, within 1 degree RMS (a fresh filter: over 5)."""
    tr = make_trial("attached_magnet", 2, rate_hz=RATE, rest_s=5.0, move_s=40.0,
                    magnet_ut=100.0)
    first = Ahrs(RATE, backend=backend)
    fresh = first.estimate(tr.gyr, tr.acc, tr.mag, offline=False)
    mv = tr.movement
    assert _rms(heading_errors_deg(fresh[mv], tr.quat[mv])) > 5.0
    again = Ahrs(RATE, backend=backend, hard_iron_ut=first.hard_iron_ut)
    q = again.estimate(tr.gyr, tr.acc, tr.mag, offline=False)
    assert _rms(heading_errors_deg(q[mv], tr.quat[mv])) < 1.0
