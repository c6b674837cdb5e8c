"""Importers and exporters, each with a round trip through the reader."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from log_helpers import MS, gps_packet, imu_packet, light_packet
from mcap.reader import make_reader

import sensekit.log as sklog
from sensekit.clock import FakeClock
from sensekit.errors import LogFormatError
from sensekit.log.exporters import to_csv, to_dataframe, to_foxglove_mcap, to_parquet
from sensekit.log.importers import import_csv, import_sensor_logger
from sensekit.log.recorder import Recorder

T0 = 1_698_501_144_401_773_000  # an epoch time in ns, as Sensor Logger writes


def _sensor_logger_tables() -> dict[str, str]:
    """A small export as the app writes it: 100 Hz motion, 1 Hz location, light, microphone."""
    rows = {name: [] for name in ("Accelerometer", "Gyroscope", "Gravity")}
    for i in range(200):
        t = T0 + i * 10 * MS
        s = f"{i * 0.01 + 0.2167:.4f}"
        rows["Accelerometer"].append(f"{t},{s},{0.1 * np.sin(i / 5):.6f},-0.0009,0.0611")
        rows["Gyroscope"].append(f"{t + 2 * MS},{s},0.002,-0.01,{0.05 * i:.4f}")
        rows["Gravity"].append(f"{t},{s},9.80665,0,0")
    files = {name: "time,seconds_elapsed,z,y,x\n" + "\n".join(r) + "\n"
             for name, r in rows.items()}
    loc = ["time,seconds_elapsed,bearingAccuracy,speedAccuracy,verticalAccuracy,"
           "horizontalAccuracy,speed,bearing,altitude,longitude,latitude"]
    for k in range(2):
        loc.append(f"{T0 + k * 1000 * MS},{k + 0.3},0,0,1.77,15.1,{1.2 + k},-1,214.2,"
                   f"{-0.1276 + k * 1e-5},{51.5072 + k * 1e-5}")
    files["Location"] = "\n".join(loc) + "\n"
    files["Light"] = f"time,seconds_elapsed,lux\n{T0},0.1,312.5\n{T0 + 500 * MS},0.6,298.0\n"
    files["Microphone"] = f"time,seconds_elapsed,dBFS\n{T0},0.1,-42.5\n{T0 + 200 * MS},0.3,-40.0\n"
    files["Network"] = f"time,seconds_elapsed,type\n{T0},0.1,wifi\n"
    files["metadata"] = ("version,device name,recording time,platform\n"
                         "3,Pixel 7,2023-10-28_13-52-24,android\n")
    return files


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "Walk-2023-10-28_13-52-24"
    folder.mkdir()
    for name, text in _sensor_logger_tables().items():
        (folder / f"{name}.csv").write_text(text)
    return folder


def _check_walk(path: Path) -> None:
    with sklog.open(path) as log:
        assert set(log.streams) == {"imu", "gps", "light", "sound_level"}
        imu = log.read("imu")
        assert len(imu) == 200 and imu.t_ns[0] == T0
        # Accelerometer (user acceleration, z y x column order) plus Gravity: total force.
        np.testing.assert_allclose(imu["accel_mps2"][0], [0.0611, -0.0009, 9.80665],
                                   atol=1e-5)
        # Gyroscope resampled onto the accelerometer's times (2 ms later, 0.05 rad/s per row).
        assert imu["gyro_rads"][10, 0] == pytest.approx(0.05 * 9.8, abs=1e-4)
        assert log.streams["imu"].rate_hz == pytest.approx(100.0)
        gps = log.read("gps")
        assert gps["lat_deg"].tolist() == [51.5072, 51.5072 + 1e-5]
        assert gps["alt_msl_m"][0] == pytest.approx(214.2)
        assert np.isnan(gps["track_deg"]).all()  # bearing -1 means invalid
        assert log.read("light")["lux"].tolist() == [312.5, 298.0]
        assert log.read("sound_level")["level_dbfs"].tolist() == [-42.5, -40.0]
        assert log.wall_offset_ns == 0
        assert log.metadata("sensekit.log")[0]["source.device name"] == "Pixel 7"


def test_sensor_logger_folder(export_dir: Path, tmp_path: Path) -> None:
    result = import_sensor_logger(export_dir, tmp_path / "walk.mcap")
    assert result.samples == {"imu": 200, "gps": 2, "light": 2, "sound_level": 2}
    assert result.skipped == ("Network",)
    _check_walk(result.path)


def test_sensor_logger_zip(export_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "walk.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in export_dir.iterdir():
            zf.write(p, f"{export_dir.name}/{p.name}")
    _check_walk(import_sensor_logger(archive, tmp_path / "walk.mcap").path)


def test_sensor_logger_json(tmp_path: Path) -> None:
    records = []
    for name, text in _sensor_logger_tables().items():
        if name == "metadata":
            continue
        lines = text.strip().split("\n")
        header = lines[0].split(",")
        records += [{"sensor": name, **dict(zip(header, ln.split(","), strict=True))}
                    for ln in lines[1:]]
    src = tmp_path / "walk.json"
    src.write_text(json.dumps(records))
    result = import_sensor_logger(src, tmp_path / "walk.mcap")
    assert result.samples["imu"] == 200 and result.samples["gps"] == 2


def test_unreadable_sources_name_file_and_expectation(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(LogFormatError, match=r"notes\.txt is not a Sensor Logger export"):
        import_sensor_logger(bad, tmp_path / "o.mcap")
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "Accelerometer.csv").write_text("seconds_elapsed,z,y,x\n0.1,1,2,3\n")
    with pytest.raises(LogFormatError, match=r"Accelerometer.*no 'time' column"):
        import_sensor_logger(folder, tmp_path / "o.mcap")
    js = tmp_path / "x.json"
    js.write_text('{"a": 1}')
    with pytest.raises(LogFormatError, match="array of objects with 'sensor'"):
        import_sensor_logger(js, tmp_path / "o.mcap")


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    path = tmp_path / "rec.mcap"
    with Recorder(path, clock=FakeClock()) as rec:
        for i in range(30):
            rec.write(imu_packet(i * 100 * MS, 100))
            if i % 10 == 0:
                rec.write(gps_packet(i * 100 * MS))
                rec.write(light_packet(i * 100 * MS, 100.0 + i))
    return path


def test_dataframe_and_parquet_round_trip(recorded: Path, tmp_path: Path) -> None:
    with sklog.open(recorded) as log:
        frame = to_dataframe(log, "imu")
        imu = log.read("imu")
        assert list(frame.columns[:5]) == ["t_ns", "wall_ns", "accel_mps2_x", "accel_mps2_y",
                                           "accel_mps2_z"]
        np.testing.assert_array_equal(frame["accel_mps2_z"].to_numpy(), imu["accel_mps2"][:, 2])
        assert (frame["wall_ns"] - frame["t_ns"] == log.wall_offset_ns).all()
        paths = to_parquet(log, tmp_path / "pq")
    assert sorted(p.name for p in paths) == ["gps.parquet", "imu.parquet", "light.parquet"]
    back = pd.read_parquet(tmp_path / "pq" / "imu.parquet")
    pd.testing.assert_frame_equal(back, frame)
    gps = pd.read_parquet(tmp_path / "pq" / "gps.parquet")
    assert gps["lat_deg"].tolist() == [52.52] * 3


def test_csv_export_reimports_with_a_column_map(recorded: Path, tmp_path: Path) -> None:
    with sklog.open(recorded) as log:
        to_csv(log, tmp_path / "csv")
        original = log.read("imu")
    result = import_csv(tmp_path / "csv" / "imu.csv", tmp_path / "back.mcap", stream="imu",
                        modality="imu", columns={
                            "t_ns": "t_ns", "accel_mps2": "accel_mps2_x,accel_mps2_y,accel_mps2_z",
                            "gyro_rads": ["gyro_rads_x", "gyro_rads_y", "gyro_rads_z"]})
    assert result.samples == {"imu": 3000}
    with sklog.open(result.path) as log:
        back = log.read("imu")
    np.testing.assert_array_equal(back.t_ns, original.t_ns)
    np.testing.assert_allclose(back["accel_mps2"], original["accel_mps2"], rtol=1e-6)
    assert back["accel_mps2"].dtype == np.float32


def test_plain_csv_in_seconds_and_bad_map(tmp_path: Path) -> None:
    src = tmp_path / "bench.csv"
    src.write_text("t,lux_reading\n0.0,10\n0.5,12.5\n1.0,15\n")
    result = import_csv(src, tmp_path / "l.mcap", columns={"t_ns": "t", "lux": "lux_reading"},
                        stream="light", modality="light", time_unit="s")
    with sklog.open(result.path) as log:
        light = log.read("light")
    assert light.t_ns.tolist() == [0, 500 * MS, 1000 * MS]
    assert light["lux"].tolist() == [10.0, 12.5, 15.0]
    with pytest.raises(LogFormatError, match=r"bench\.csv: no column 'lx'; it has t, lux_reading"):
        import_csv(src, tmp_path / "x.mcap", columns={"t_ns": "t", "lux": "lx"},
                   stream="light", modality="light", time_unit="s")


def test_foxglove_copy_has_one_message_per_sample(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "fox.mcap"
    with sklog.open(recorded) as log:
        written = to_foxglove_mcap(log, out)
        imu = log.read("imu")
        offset = log.wall_offset_ns
    assert written == 3000 + 3 + 3
    with open(out, "rb") as fh:
        msgs = [(c.topic, json.loads(m.data)) for _, c, m in make_reader(fh).iter_messages()]
    imu_msgs = [m for topic, m in msgs if topic == "imu"]
    assert len(imu_msgs) == 3000
    first = imu_msgs[0]
    assert first["accel_mps2"]["z"] == pytest.approx(float(imu["accel_mps2"][0, 2]))
    wall = int(imu.t_ns[0]) + offset
    assert first["timestamp"] == {"sec": wall // 10**9, "nsec": wall % 10**9}
    gps_msgs = [m for topic, m in msgs if topic == "gps"]
    assert gps_msgs[0]["latitude"] == 52.52
