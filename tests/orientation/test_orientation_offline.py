"""The offline (whole-recording, non-causal) AHRS: one hard-iron offset fitted to every turn
of a recording, and the heading smoothed both ways (``Ahrs.estimate(..., offline=True)``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ahrs_trials import BACKENDS, RATE, short

from sensekit.orientation import Ahrs
from sensekit.orientation import quaternion as quat
from sensekit.orientation.metrics import heading_errors_deg, orientation_rmse_deg
from sensekit.orientation.offline import fit_hard_iron


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size", [10.0, 100.0, 400.0])
def test_an_attached_magnet_is_removed_from_the_first_sample(backend: str, size: float) -> None:
    """Magnets of 10 to 400 uT: the offset is fitted to 0.5 uT and removed from every sample,
    so heading over the whole movement is within 1 degree RMS (the streaming filter, which has
    to wait for the first turns, is worse than 1 degree on each)."""
    tr = short("attached_magnet", 1, magnet_ut=size)
    ahrs = Ahrs(RATE, backend=backend)
    est = ahrs.estimate_full(tr.gyr, tr.acc, tr.mag, offline=True)
    assert ahrs.offline_fit is not None and ahrs.offline_fit.accepted
    assert np.abs(est.hard_iron_ut - tr.hard_iron_ut).max() < 0.5
    incl, head = orientation_rmse_deg(est.quat, tr.quat, tr.movement)
    assert incl < 1.0 and head < 1.0
    online = Ahrs(RATE, backend=backend).estimate(tr.gyr, tr.acc, tr.mag, offline=False)
    assert orientation_rmse_deg(online, tr.quat, tr.movement)[1] > 1.0


@pytest.mark.parametrize("kind", ["rotation_slow", "translation_fast", "combined", "office",
                                  "stationary_magnet", "mixed"])
def test_no_offset_is_fitted_where_there_is_none(kind: str) -> None:
    """A calibrated sensor in a clean room, an office or beside a magnet on the table: no
    offset is accepted (a field that changes from place to place is not a hard iron) and the
    heading is no worse than 2.5 degrees RMS."""
    for seed in range(2):
        tr = short(kind, seed)
        ahrs = Ahrs(RATE)
        est = ahrs.estimate_full(tr.gyr, tr.acc, tr.mag, offline=True)
        assert ahrs.offline_fit is not None and not ahrs.offline_fit.accepted, (kind, seed)
        assert np.all(est.hard_iron_ut == 0)
        assert orientation_rmse_deg(est.quat, tr.quat, tr.movement)[1] < 2.5, (kind, seed)


@pytest.mark.parametrize("kind", ["office", "stationary_magnet", "mixed"])
def test_an_attached_magnet_is_found_in_a_disturbed_room(kind: str) -> None:
    """A 60 uT magnet attached throughout, in an office or beside a magnet on the table: the
    fit's robust weights drop the disturbed turns, so the offset is found to 1 uT and north is
    right to 6 degrees (the room's own disturbances move it by up to 5 without a magnet)."""
    b = np.array([30.0, -50.0, 20.0])
    for seed in range(2):
        tr = short(kind, seed)
        ahrs = Ahrs(RATE)
        est = ahrs.estimate_full(tr.gyr, tr.acc, tr.mag + b, offline=True)
        assert ahrs.offline_fit is not None and ahrs.offline_fit.accepted, (kind, seed)
        assert np.abs(est.hard_iron_ut - b).max() < 1.0, (kind, seed)
        m = tr.movement
        turn = quat.multiply(tr.quat[m], quat.conj(est.quat[m]))
        north = np.degrees(np.angle(np.mean(np.exp(2j * np.arctan2(turn[:, 3], turn[:, 0])))))
        assert abs(north) < 6.0, (kind, seed, north)


def test_a_magnet_glued_on_part_way_is_followed() -> None:
    """A 60 uT magnet glued on 15 s into the movement: no single offset explains the
    recording, so the offsets come from the online estimator run over it; the heading stays
    within 1 degree RMS over the movement and the final offset is within 2 uT."""
    tr = short("combined", 3)
    t = np.arange(len(tr.gyr)) / RATE
    b = np.array([35.0, -30.0, 38.0])
    mag = tr.mag + (t >= 20.0)[:, None] * b
    ahrs = Ahrs(RATE)
    est = ahrs.estimate_full(tr.gyr, tr.acc, mag, offline=True)
    assert ahrs.offline_fit is not None and not ahrs.offline_fit.accepted
    assert np.abs(est.hard_iron_ut[t < 20.0]).max() < 2.0
    assert np.abs(est.hard_iron_ut[-1] - b).max() < 2.0
    assert orientation_rmse_deg(est.quat, tr.quat, tr.movement)[1] < 1.0


def test_a_still_recording_claims_no_offset() -> None:
    """At rest a hard iron and a heading cannot be told apart: nothing is fitted."""
    tr = short("attached_magnet", 2, magnet_ut=200.0)
    rest = ~tr.movement & (np.arange(len(tr.gyr)) < 5 * RATE)
    fit = fit_hard_iron(np.arange(rest.sum()) / RATE, tr.quat[rest], tr.mag[rest])
    assert not fit.accepted and "turning pairs" in fit.reason
    assert np.all(fit.offset_ut == 0)


def test_offline_leaves_the_streaming_state_alone() -> None:
    """An offline estimate neither uses nor changes the streaming filter: the stream after
    it gives what a fresh Ahrs gives."""
    tr = short("attached_magnet", 1, magnet_ut=50.0)
    ahrs = Ahrs(RATE)
    ahrs.estimate(tr.gyr, tr.acc, tr.mag, offline=True)
    assert np.all(ahrs.hard_iron_ut == 0)
    np.testing.assert_array_equal(ahrs.estimate(tr.gyr, tr.acc, tr.mag, offline=False),
                                  Ahrs(RATE).estimate(tr.gyr, tr.acc, tr.mag, offline=False))


def test_a_stored_offset_is_the_starting_point() -> None:
    """``hard_iron_ut`` given: the fit is of what remains, and the removed offset is the sum;
    with ``hard_iron=False`` only the stored offset is removed."""
    tr = short("attached_magnet", 1, magnet_ut=80.0)
    prior = tr.hard_iron_ut + np.array([3.0, -2.0, 1.0])
    ahrs = Ahrs(RATE, hard_iron_ut=prior)
    est = ahrs.estimate_full(tr.gyr, tr.acc, tr.mag, offline=True)
    assert np.abs(est.hard_iron_ut[0] - tr.hard_iron_ut).max() < 0.5
    fixed = Ahrs(RATE, hard_iron=False, hard_iron_ut=prior)
    est = fixed.estimate_full(tr.gyr, tr.acc, tr.mag, offline=True)
    assert fixed.offline_fit is None
    np.testing.assert_array_equal(est.hard_iron_ut[0], prior)


def test_ned_missing_fields_and_six_axes() -> None:
    """NED is the ENU estimate turned; NaN and all-zero magnetometer rows (no reading) are
    skipped, and not called disturbed (there was no field to judge); without a magnetometer
    the 6-axis orientation is returned."""
    tr = short("attached_magnet", 4, magnet_ut=60.0)
    mag = tr.mag.copy()
    mag[1000:1100] = np.nan
    mag[2000:2050] = 0.0
    enu = Ahrs(RATE).estimate_full(tr.gyr, tr.acc, mag, offline=True)
    ned = Ahrs(RATE, "ned").estimate(tr.gyr, tr.acc, mag, offline=True)
    np.testing.assert_allclose(ned, quat.enu_to_ned(enu.quat), atol=1e-12)
    assert not enu.mag_disturbed[1000:1100].any() and not enu.mag_disturbed[2000:2050].any()
    assert np.all(np.isfinite(enu.quat))
    assert orientation_rmse_deg(enu.quat, tr.quat, tr.movement)[1] < 1.0
    six = Ahrs(RATE).estimate_full(tr.gyr, tr.acc, offline=True)
    assert orientation_rmse_deg(six.quat, tr.quat, tr.movement)[0] < 1.0
    assert not six.mag_disturbed.any()
    assert len(Ahrs(RATE).estimate(np.zeros((0, 3)), np.zeros((0, 3)), offline=True)) == 0


BROAD02 = "imu/broad_02_undisturbed_slow_rotation_B.hdf5"


@pytest.mark.skipif(BACKENDS[0] != "vqf", reason="vqf not installed")
def test_broad_trial_02_with_a_magnet_added(corpus: Path) -> None:
    """Real motion (BROAD trial 02, a calibrated sensor) with a synthetic 100 uT magnet added to
    its magnetometer: the offset is found to 0.5 uT and heading is within 1 degree RMS over
    the movement (the streaming filter: about 12 degrees). Not blind: this trial shaped the
    noise figures the fit uses."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(corpus / BROAD02, "r") as h:
        g, a, m = (np.asarray(h[k], float) for k in ("imu_gyr", "imu_acc", "imu_mag"))
        truth = np.asarray(h["opt_quat"], float)
        mask = np.asarray(h["movement"]).astype(bool) & np.all(np.isfinite(truth), axis=1)
        rate = float(h.attrs["sampling_rate"])
    b = np.array([60.0, -40.0, 69.0])
    ahrs = Ahrs(rate)
    est = ahrs.estimate_full(g, a, m + b, offline=True)
    assert np.abs(est.hard_iron_ut[0] - b).max() < 0.5
    head = heading_errors_deg(est.quat[mask], truth[mask])
    assert np.sqrt(np.mean(head**2)) < 1.0


def test_whole_arrays_are_estimated_as_a_recording_by_default() -> None:
    """``estimate`` on whole arrays is the whole-recording estimate unless asked to stream:
    a scorer that calls it with its defaults, as BROAD's is, gets the attached magnet removed
    from the first sample (under 5 degrees RMS; the causal filter is over it here)."""
    tr = short("attached_magnet", 2, magnet_ut=150.0)
    default = Ahrs(RATE).estimate(tr.gyr, tr.acc, tr.mag)
    np.testing.assert_array_equal(default, Ahrs(RATE).estimate(tr.gyr, tr.acc, tr.mag,
                                                                 offline=True))
    assert orientation_rmse_deg(default, tr.quat, tr.movement)[1] < 5.0
    causal = Ahrs(RATE).estimate(tr.gyr, tr.acc, tr.mag, offline=False)
    assert orientation_rmse_deg(causal, tr.quat, tr.movement)[1] > 5.0


def test_the_smoother_decays_by_each_samples_own_constant() -> None:
    """The chunked exponential mean equals the plain recursion, across chunk boundaries."""
    from sensekit.orientation.offline import _ema

    rng = np.random.default_rng(3)
    x = rng.normal(size=5000) + 1j * rng.normal(size=5000)
    log_keep = -rng.uniform(0.01, 0.3, 5000)  # sums to about -800: several chunks
    want = np.empty_like(x)
    acc = 0j
    for i in range(len(x)):
        acc = np.exp(log_keep[i]) * acc + x[i]
        want[i] = acc
    assert np.allclose(_ema(x, log_keep), want, rtol=1e-9, atol=1e-9)


def test_heading_smoothing_follows_turn_rate_and_field_noise() -> None:
    """Fast turning shortens the heading average (a gyroscope scale error turns the 6-axis
    heading with every turn); a disturbed field lengthens it."""
    from sensekit.orientation.backends import whole_6d
    from sensekit.orientation.offline import adaptive_tau, heading_noise_deg

    def tau_and_noise(kind: str) -> tuple[float, float]:
        trial = short(kind)
        out = whole_6d("vqf" if "vqf" in BACKENDS else "complementary", RATE, trial.gyr,
                       trial.acc)
        rest = np.asarray(out.rest, bool)
        tau = adaptive_tau(out.quat6d, trial.mag, RATE, rest, trial.gyr)
        return (float(np.median(tau[trial.movement])),
                heading_noise_deg(out.quat6d, trial.mag, RATE, rest))

    slow, fast, office = (tau_and_noise(k) for k in ("rotation_slow", "rotation_fast",
                                                        "office"))
    assert fast[0] < 0.8 * slow[0]
    assert office[1] > 2 * slow[1]
    assert office[0] > slow[0]


@pytest.mark.parametrize("kind", ["rotation_fast", "translation_fast"])
def test_adaptive_heading_smoothing_beats_one_fixed_constant(kind: str) -> None:
    from sensekit.orientation.backends import whole_6d
    from sensekit.orientation.offline import offline_heading

    trial = short(kind, seed=1)
    out = whole_6d(BACKENDS[0], RATE, trial.gyr, trial.acc)
    rest = np.asarray(out.rest, bool)

    def heading_rmse(**how: object) -> float:
        head = offline_heading(out.quat6d, rest, trial.mag, RATE, np.zeros(3), **how)
        return orientation_rmse_deg(head.quat9d, trial.quat, trial.movement)[1]

    adaptive, fixed = heading_rmse(gyr_rads=trial.gyr), heading_rmse(tau_s=15.0)
    assert adaptive < 0.9 * fixed, (adaptive, fixed)
