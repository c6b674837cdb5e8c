"""Magnetometer calibration: the ellipsoid fit on synthetic distorted fields and on the real
recordings of the corpus, the store, the driver applying it, and ``sensekit calibrate``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import sensekit
from sensekit.cli import main
from sensekit.clock import FakeClock
from sensekit.drivers.calibrate import collect, load_samples
from sensekit.drivers.calibration import CalibrationStore, ImuCalibration, MagCalibration
from sensekit.drivers.mag_calibration import coverage, fit_ellipsoid, fit_magnetometer
from sensekit.errors import ConfigError
from sensekit.testing.mpu9250_emu import Mpu9250Emulator, tumbling_field

SOFT = np.array([[1.2, 0.1, 0.05], [0.1, 0.9, 0.02], [0.05, 0.02, 1.05]])
HARD = np.array([20.0, -15.0, 30.0])


def distorted(n: int = 2000, *, flat: bool = False, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n, 3))
    if flat:                      # turned on a table only: a circle, not a sphere
        u[:, 2] = 0.3 * np.abs(u[:, 2])
    u /= np.linalg.norm(u, axis=1)[:, None]
    return (48.0 * u) @ SOFT.T + HARD + rng.normal(0, 0.3, (n, 3))


def spread(mag: np.ndarray) -> float:
    norms = np.linalg.norm(mag[np.isfinite(mag).all(axis=1)], axis=1)
    return float(norms.std() / norms.mean())


def test_the_ellipsoid_fit_finds_hard_and_soft_iron() -> None:
    raw = distorted()
    cal = fit_magnetometer(raw)
    assert cal.model == "ellipsoid" and cal.coverage == 1.0
    np.testing.assert_allclose(cal.hard_iron_ut, HARD, atol=0.1)
    assert spread(raw - HARD) > 0.08 and spread(cal.apply(raw)) < 0.01
    # The soft-iron matrix undoes the distortion up to scale (a rotation-free, symmetric fit).
    undo = cal.soft_iron @ SOFT
    np.testing.assert_allclose(undo / undo[0, 0], np.eye(3), atol=0.02)
    assert cal.residual == pytest.approx(spread(cal.apply(raw)), rel=1e-6)


def test_too_few_orientations_fit_only_the_hard_iron_and_say_so() -> None:
    raw = distorted(flat=True)
    assert coverage(raw) < 0.75
    cal = fit_magnetometer(raw)
    assert cal.model == "sphere" and np.allclose(cal.soft_iron, np.eye(3))
    with pytest.raises(ConfigError, match="at least 50 samples"):
        fit_magnetometer(raw[:10])
    with pytest.raises(ConfigError, match="more orientations"):
        fit_ellipsoid(np.column_stack([np.cos(np.arange(100.0)), np.sin(np.arange(100.0)),
                                       np.zeros(100)]) * 40)


def test_real_xio_recording_covers_a_hemisphere_and_gets_its_hard_iron(corpus: Path) -> None:
    rows = np.loadtxt(corpus / "imu" / "xio_sensor_data.csv", delimiter=",", skiprows=1)
    mag = rows[:, 7:10]
    cal = fit_magnetometer(mag)
    # The board turned with its z axis down only (mag z from -51 to -6 uT): a third of the
    # directions, so only the hard iron is fitted, and it narrows the magnitude's spread.
    assert cal.model == "sphere" and 0.25 < cal.coverage < 0.45
    assert spread(cal.apply(mag)) < 0.85 * spread(mag)


def test_real_broad_recording_gets_an_ellipsoid(corpus: Path) -> None:
    h5py = pytest.importorskip("h5py")
    with h5py.File(corpus / "imu" / "broad_02_undisturbed_slow_rotation_B.hdf5") as f:
        mag = np.asarray(f["imu_mag"][:])
    cal = fit_magnetometer(mag)
    assert cal.model == "ellipsoid" and cal.coverage > 0.9
    assert spread(cal.apply(mag)) < spread(mag)
    assert 40 < cal.field_ut < 50        # the Earth's field in Berlin is about 49 uT


def test_the_store_keeps_imu_and_magnetometer_calibrations_side_by_side(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "cal.json")
    cal = fit_magnetometer(distorted())
    store.save_mag("i2c://1/0x68", cal)
    with pytest.raises(ConfigError, match="only a magnetometer calibration"):
        store.load("i2c://1/0x68")
    store.save("i2c://1/0x68", ImuCalibration(gyro_bias_rads=np.array([0.1, 0, 0])))
    back = store.load_mag("i2c://1/0x68")
    np.testing.assert_allclose(back.soft_iron, cal.soft_iron)
    assert back.model == cal.model and back.samples == cal.samples
    assert store.load("i2c://1/0x68").gyro_bias_rads[0] == 0.1
    with pytest.raises(ConfigError, match="no magnetometer calibration"):
        store.load_mag("other")
    with pytest.raises(ConfigError, match="malformed"):
        MagCalibration.from_dict({"soft_iron": [1, 2]})


def test_the_driver_applies_the_calibration_to_every_sample() -> None:
    clock = FakeClock()
    field = tumbling_field(1.0, (20.0, -10.0, 5.0), np.diag([1.15, 0.9, 1.0]))
    emu = Mpu9250Emulator(field=field, noise=False)
    imu = sensekit.open("mpu9250", "emu://", emulator=emu, clock=clock, rate_hz=200,
                        mag_rate_hz=100)
    raw = collect(imu, 2.0, clock, say=lambda line: None)
    cal = fit_magnetometer(raw)
    assert cal.model == "ellipsoid" and spread(raw) > 0.1
    imu.close()
    calibrated = sensekit.open("mpu9250", "emu://", emulator=Mpu9250Emulator(field=field),
                               clock=clock, rate_hz=200, mag_rate_hz=100, mag_calibration=cal)
    got = collect(calibrated, 1.0, clock, say=lambda line: None)
    assert spread(got) < 0.01


def test_calibrate_from_a_recording_stores_and_refuses_to_overwrite(
        corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "cal.json"
    args = ["calibrate", "mag", "--from", str(corpus / "imu" / "xio_sensor_data.csv"),
            "--store", str(store), "--key", "xio", "--json"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["model"] == "sphere" and "hard iron only" in err
    assert CalibrationStore(store).load_mag("xio").model == "sphere"
    assert main(args) == 2 and "--force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


def test_calibrate_live_says_when_enough_orientations_were_covered(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = "emu://?field=tumble&tumble_s=2&iron=20,-10,5"
    assert main(["calibrate", "mag", "--url", url, "--seconds", "6", "--store",
                 str(tmp_path / "c.json")]) == 0
    err = capsys.readouterr().err
    assert "enough" in err and "hard and soft iron" in err
    cal = CalibrationStore(tmp_path / "c.json").load_mag(url)
    np.testing.assert_allclose(cal.hard_iron_ut, [20.0, -10.0, 5.0], atol=0.5)


def test_samples_load_from_csv_and_complain_clearly(tmp_path: Path) -> None:
    good = tmp_path / "m.csv"
    good.write_text("t,mag_x,mag_y,mag_z\n0,1,2,3\n1,4,5,6\n")
    assert load_samples(good).shape == (2, 3)
    bad = tmp_path / "b.csv"
    bad.write_text("t,a,b\n0,1,2\n")
    with pytest.raises(ConfigError, match="no magnetometer x column"):
        load_samples(bad)
    with pytest.raises(ConfigError, match="no such file"):
        load_samples(tmp_path / "missing.csv")
