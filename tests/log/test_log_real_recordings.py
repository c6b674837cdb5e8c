"""Real recordings from the corpus through the importer, the recorder, the reader and replay."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import sensekit
import sensekit.log as sklog
from sensekit.cli import main
from sensekit.log.importers import import_csv


def test_xio_imu_csv_in_g_and_deg_per_s(corpus: Path, tmp_path: Path) -> None:
    src = corpus / "imu" / "xio_sensor_data.csv"
    axes = "XYZ"
    result = import_csv(
        src, tmp_path / "xio.mcap", stream="imu", modality="imu", time_unit="s",
        columns={"t_ns": "Time (s)",
                 "accel_mps2": [f"Accelerometer {a} (g)" for a in axes],
                 "gyro_rads": [f"Gyroscope {a} (deg/s)" for a in axes],
                 "mag_ut": [f"Magnetometer {a} (uT)" for a in axes]},
        scales={"accel_mps2": 9.80665, "gyro_rads": math.pi / 180})
    assert result.samples == {"imu": 13_514}
    with sklog.open(result.path) as log:
        info = log.streams["imu"]
        imu = log.read("imu")
    assert info.rate_hz == pytest.approx(100, rel=0.02)
    # The first row: 0.9970807 g on z, 0.1080897 deg/s about z, -41.06483 uT on z.
    assert imu["accel_mps2"][0, 2] == pytest.approx(0.9970807 * 9.80665, rel=1e-6)
    assert imu["gyro_rads"][0, 2] == pytest.approx(math.radians(0.1080897), rel=1e-6)
    assert imu["mag_ut"][0, 2] == pytest.approx(-41.06483, rel=1e-6)
    assert np.median(np.linalg.norm(imu["accel_mps2"], axis=1)) == pytest.approx(9.81, abs=0.3)


@pytest.mark.parametrize("place", ["armband", "frontpocket"])
def test_phone_walk_replayed_gives_the_counted_steps(corpus: Path, tmp_path: Path,
                                                     place: str) -> None:
    src = next((corpus / "phone").glob(f"user1_{place}_*.csv"))
    out = tmp_path / f"{place}.mcap"
    # No header: timestamp (ns since boot), accel x, y, z (m/s^2), then step counters.
    assert main(["import", str(src), "-o", str(out), "--no-header", "--modality", "imu",
                 "--map", "t_ns=0", "--map", "accel_mps2=1,2,3"]) == 0
    raw = np.loadtxt(src, delimiter=",", dtype=np.float64)
    truth_steps = raw[-1, 5]
    with sensekit.open(f"replay://{out}?speed=0#imu") as replay:
        packets = list(replay)
    t_ns = np.concatenate([p.t_ns for p in packets])
    accel = np.concatenate([p["accel_mps2"] for p in packets])
    # Every row, its timestamp exact (the armband file repeats one), its values to float32.
    np.testing.assert_array_equal(t_ns, np.loadtxt(src, delimiter=",", usecols=0,
                                                   dtype=np.int64))
    np.testing.assert_allclose(accel, raw[:, 1:4], rtol=1e-6)
    t = t_ns / 1e9
    rate = (len(t) - 1) / (t[-1] - t[0])
    assert rate == pytest.approx(100, rel=0.02)
    # The walking cadence from the recorded acceleration matches the ground-truth step count.
    x = np.linalg.norm(accel, axis=1)
    spectrum = np.abs(np.fft.rfft(x - x.mean()))
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    band = (freqs > 0.5) & (freqs < 3.5)
    cadence = freqs[band][np.argmax(spectrum[band])]
    assert cadence * (t[-1] - t[0]) == pytest.approx(truth_steps, rel=0.1)


def test_real_gps_fixes_round_trip_as_location_fix(corpus: Path, tmp_path: Path) -> None:
    """Every fix gpsd's corpus receivers gave, no-fix epochs included, comes back exactly."""
    from sensekit.drivers.gps.capture import read_capture
    from sensekit.drivers.gps.streams import fixes_to_packet
    from sensekit.log.recorder import Recorder

    originals = []
    path = tmp_path / "gps.mcap"
    with Recorder(path, clock=sensekit.FakeClock(), wall_offset_ns=0) as rec:
        for log_path in sorted((corpus / "gpsd").glob("*.log")):
            packet = fixes_to_packet(read_capture(log_path).fixes)
            if not len(packet):
                continue
            # Captures have no host clock: stamp each fix with its UTC time, as an import does.
            packet = sensekit.Packet("gps", packet["utc_ns"].copy(), packet.fields, "gps")
            originals.append(packet)
            rec.write(packet)
    assert sum(len(p) for p in originals) > 300
    with sklog.open(path) as log:
        assert log.streams["gps"].schema == "foxglove.LocationFix"
        back = list(log.packets(["gps"]))
    expected = sensekit.packets.concat(originals)
    got = sensekit.packets.concat(back)
    order = np.argsort(expected.t_ns, kind="stable")
    np.testing.assert_array_equal(got.t_ns, expected.t_ns[order])
    for name, values in expected.fields.items():
        np.testing.assert_array_equal(got[name], values[order], err_msg=name)
