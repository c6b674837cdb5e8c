"""Importers and exporters, each with a round trip through the reader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from log_helpers import MS, gps_packet, imu_packet, light_packet
from mcap.reader import make_reader

import sensekit.log as sklog
from sensekit.clock import FakeClock
from sensekit.errors import ConfigError
from sensekit.log.exporters import to_csv, to_dataframe, to_foxglove_mcap, to_parquet
from sensekit.log.importers import import_csv
from sensekit.log.recorder import Recorder


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
    pd.testing.assert_frame_equal(back, frame.reset_index(drop=True))  # files: plain rows
    gps = pd.read_parquet(tmp_path / "pq" / "gps.parquet")
    assert gps["lat_deg"].tolist() == [52.52] * 3


def test_dataframe_is_indexed_by_utc_time(recorded: Path) -> None:
    with sklog.open(recorded) as log:
        frame = to_dataframe(log, "imu")
        offset = log.wall_offset_ns
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "time"
    assert str(frame.index.tz) == "UTC" and frame.index.is_monotonic_increasing
    np.testing.assert_array_equal(frame.index.asi8, frame["t_ns"].to_numpy() + offset)
    assert frame["t_ns"].dtype == np.int64  # the monotonic time stays a column
    per_second = frame["accel_mps2_z"].resample("1s").count()  # time-series tools just work
    assert per_second.sum() == len(frame) and len(per_second) >= 3


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
    with pytest.raises(ConfigError, match=r"bench\.csv: no column 'lx'; it has t, lux_reading"):
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
