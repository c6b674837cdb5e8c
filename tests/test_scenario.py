"""The scenario simulator: a labelled day whose sensors behave like the day says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sensekit.log as sklog
from sensekit.log.reader import LogReader
from sensekit.testing.scenario import ACTIVITIES, Scenario, SimConfig, simulate


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> LogReader:
    path = tmp_path_factory.mktemp("sim") / "day.mcap"
    simulate(path, SimConfig(duration_s=90, seed=3))
    return sklog.open(path)


def _label_at(day: LogReader, t_ns: np.ndarray) -> dict[str, np.ndarray]:
    """Labels at each time, plus ``settled``: no change of activity or place within 2 s
    (the simulator blends motion and light across a boundary, as a real transition does)."""
    labels = day.read("labels")

    def at(t: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(labels.t_ns, t, side="right") - 1, 0, len(labels) - 1)

    idx = at(t_ns)
    out = {k: v[idx] for k, v in labels.fields.items()}
    code = labels["activity"] * 2 + labels["indoor"]
    two_s = 2_000_000_000
    out["settled"] = (code[at(t_ns - two_s)] == code[idx]) & (code[at(t_ns + two_s)] == code[idx])
    return out


def test_every_stream_is_recorded_at_its_rate(day: LogReader) -> None:
    streams = day.streams
    assert set(streams) == {"imu", "audio", "camera", "gps", "light", "labels"}
    assert streams["imu"].rate_hz == pytest.approx(100.0, rel=0.01)
    assert streams["audio"].rate_hz == pytest.approx(8000.0, rel=0.001)
    assert streams["camera"].samples == pytest.approx(90, abs=2)
    assert all(s.gaps == 0 for s in streams.values())
    assert day.devices()["imu"]["driver"] == "mpu6050"
    assert day.read("camera")["image"].shape[1:] == (72, 96, 3)


def test_labels_cover_the_day(day: LogReader) -> None:
    labels = day.read("labels")
    vocab = day.devices()["labels"]
    assert sorted(set(labels["activity"].tolist())) == list(range(len(ACTIVITIES)))
    assert set(labels["indoor"].tolist()) == {0, 1}
    assert '"vehicle"' in vocab["activity"]


def test_gps_has_no_fix_indoors_and_moves_outdoors(day: LogReader) -> None:
    gps = day.read("gps")
    lab = _label_at(day, gps.t_ns)
    indoor = lab["indoor"] == 1
    assert np.isnan(gps["lat_deg"][indoor]).all() and (gps["mode"][indoor] == 1).all()
    fixed = gps["mode"] == 3
    assert fixed.sum() > 40
    lat, lon = gps["lat_deg"][fixed], gps["lon_deg"][fixed]
    spread_m = np.hypot(np.ptp(lat) * 111_000, np.ptp(lon) * 111_000 * np.cos(np.radians(52.5)))
    assert 100 < spread_m < 2000  # walking, running, cycling and a drive for a minute and a half


def test_gps_utc_gives_the_wall_clock_offset(day: LogReader) -> None:
    offset = day.gps_wall_offset_ns()
    assert offset is not None
    # Fixes are stamped at their UTC epoch mapped to the host clock, to within the time a
    # 9600-baud burst takes; an unsynchronised Pi clock is off by far more.
    assert abs(offset - day.wall_offset_ns) < 200_000_000


def test_light_indoor_hundreds_outdoor_thousands(day: LogReader) -> None:
    light = day.read("light")
    lab = _label_at(day, light.t_ns)
    indoor = (lab["indoor"] == 1) & lab["settled"]
    assert light["lux"][indoor].max() < 1000
    outdoor = (lab["indoor"] == 0) & (lab["activity"] != ACTIVITIES.index("vehicle")) & \
        lab["settled"]
    assert light["lux"][outdoor].min() > 2000 and light["lux"].max() <= 120_000


def test_imu_shows_gait_and_stillness(day: LogReader) -> None:
    imu = day.read("imu")
    lab = _label_at(day, imu.t_ns)
    vert = imu["accel_mps2"][:, 2].astype(np.float64)
    still = (lab["activity"] == ACTIVITIES.index("still")) & lab["settled"]
    walking = (lab["activity"] == ACTIVITIES.index("walking")) & lab["settled"]
    # Still: gravity plus the MPU-6050's noise (400 ug/sqrt(Hz) over the DLPF bandwidth).
    assert vert[still].mean() == pytest.approx(9.81, abs=0.1)
    assert 0.005 < vert[still].std() < 0.1
    seg = vert[walking][:1000]
    seg = seg - seg.mean()
    spectrum = np.abs(np.fft.rfft(seg))
    freqs = np.fft.rfftfreq(len(seg), 0.01)
    assert 1.6 < freqs[np.argmax(spectrum)] < 2.2  # step frequency near 1.9 Hz
    assert seg.std() > 10 * vert[still].std()


def test_audio_follows_the_scene(day: LogReader) -> None:
    audio = day.read("audio")
    lab = _label_at(day, audio.t_ns)
    pcm = audio["pcm"][:, 0].astype(np.float64)
    quiet = pcm[lab["audio_scene"] == 0]
    street = pcm[lab["audio_scene"] == 2]
    assert street.std() > 3 * quiet.std()


def test_same_seed_same_recording(tmp_path: Path) -> None:
    cfg = SimConfig(duration_s=12, seed=7)
    simulate(tmp_path / "a.mcap", cfg)
    simulate(tmp_path / "b.mcap", cfg)
    simulate(tmp_path / "c.mcap", SimConfig(duration_s=12, seed=8))
    with sklog.open(tmp_path / "a.mcap") as a, sklog.open(tmp_path / "b.mcap") as b, \
            sklog.open(tmp_path / "c.mcap") as c:
        for stream in ("imu", "audio", "light", "gps"):
            pa, pb = a.read(stream), b.read(stream)
            np.testing.assert_array_equal(pa.t_ns, pb.t_ns)
            for name in pa.fields:
                np.testing.assert_array_equal(pa[name], pb[name])
        assert not np.array_equal(a.read("imu")["accel_mps2"], c.read("imu")["accel_mps2"])


def test_ground_truth_is_a_function_of_time() -> None:
    sc = Scenario(60, seed=1)
    t = np.linspace(0, 60, 601)
    accel_all, _ = sc.imu(t)
    accel_part, _ = sc.imu(t[100:200])
    np.testing.assert_array_equal(accel_all[100:200], accel_part)
    assert [s.activity for s in sc.segments][:3] == ["still", "walking", "walking"]
    assert sc.segments[-1].end_s == pytest.approx(60)
