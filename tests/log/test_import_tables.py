"""CSV tables and folders of per-sensor CSV files: recognised columns, time bases, bad input."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

import sensekit.log as sklog
from sensekit.cli import main
from sensekit.errors import ConfigError, LogFormatError
from sensekit.log.importers import import_recording, read_recording

EPOCH_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z


def test_a_real_imu_csv_imports_without_options(corpus: Path) -> None:
    """x-io's file: 'Time (s)', gyro in deg/s, accel in g, mag in uT, all recognised."""
    src = corpus / "imu" / "xio_sensor_data.csv"
    rec = read_recording(src)
    assert rec.format == "csv" and rec.relative
    assert "time column 'Time (s)': relative seconds (from the header)" in rec.notes
    imu = rec.streams["imu"]
    assert len(imu) == 13_514 and imu.modality == "imu"
    # The first row: 0.9970807 g on z, 0.1080897 deg/s about z, -41.06483 uT on z.
    assert imu["accel_mps2"][0, 2] == pytest.approx(0.9970807 * 9.80665, rel=1e-6)
    assert imu["gyro_rads"][0, 2] == pytest.approx(math.radians(0.1080897), rel=1e-6)
    assert imu["mag_ut"][0, 2] == pytest.approx(-41.06483, rel=1e-6)
    assert imu.t_ns[1] == 10_078_907  # 0.010078907 s, exactly


def _write(path: Path, text: str, gz: bool = False) -> Path:
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize(("header", "times", "unit", "epoch"), [
    ("timestamp", [EPOCH_MS, EPOCH_MS + 20, EPOCH_MS + 40], "ms", True),
    ("time", [1_700_000_000.5, 1_700_000_000.52, 1_700_000_000.54], "s", True),
    ("t", [100, 120, 140], "ms", False),
    ("Milliseconds", [0, 20, 40], "ms", False),
    ("seconds_elapsed", [0.0, 0.02, 0.04], "s", False),
    ("elapsed", [5_000_000_000, 5_020_000_000, 5_040_000_000], "ns", False),
])
def test_time_bases_are_detected_and_stated(tmp_path: Path, header: str, times: list[float],
                                            unit: str, epoch: bool) -> None:
    rows = "\n".join(f"{t},{i},0.5,9.8" for i, t in enumerate(times))
    src = _write(tmp_path / "walk.csv.gz", f"{header},ax,ay,az\n{rows}\n", gz=True)
    rec = read_recording(src)
    base = rec.notes[1]
    assert base.startswith(f"time column '{header}': {'epoch' if epoch else 'relative'}")
    assert rec.relative is not epoch
    accel = rec.streams["accel"]
    scale = {"s": 10**9, "ms": 10**6, "ns": 1}[unit]
    expected = [round(float(np.float64(t)) * scale) if unit == "s" else int(t) * scale
                for t in times]
    assert accel.t_ns.tolist() == pytest.approx(expected, abs=1)
    assert accel["accel_mps2"][1].tolist() == pytest.approx([1, 0.5, 9.8])


def test_iso_times_and_start_option(tmp_path: Path) -> None:
    src = _write(tmp_path / "light.csv", "date,lux\n2023-11-14T22:13:20Z,10\n"
                 "2023-11-14T22:13:21.5Z,12.5\n")
    rec = read_recording(src)
    assert rec.streams["light"].t_ns.tolist() == [EPOCH_MS * 10**6, (EPOCH_MS + 1500) * 10**6]
    assert not rec.relative
    rel = _write(tmp_path / "baro.csv", "t (s),pressure (Pa)\n0,101325\n1.5,101300\n")
    rec = read_recording(rel, start="2023-11-14T22:13:20Z")
    assert rec.clock.utc_ns(0) == EPOCH_MS * 10**6
    assert rec.streams["pressure"]["pressure_hpa"].tolist() == pytest.approx([1013.25, 1013.0])
    assert rec.notes[-1] == "start set to 2023-11-14T22:13:20+00:00 (the first sample) by --start"


def test_accel_without_a_unit_in_g_is_noticed(tmp_path: Path) -> None:
    src = _write(tmp_path / "a.csv", "time,acc_x,acc_y,acc_z\n0,0,0,1.0\n0.01,0,0,0.99\n")
    rec = read_recording(src)
    assert rec.streams["accel"]["accel_mps2"][0, 2] == pytest.approx(9.80665)
    assert any("has no unit; its median magnitude 0.99 reads as g" in n for n in rec.notes)


@pytest.mark.parametrize(("text", "options", "error", "message"), [
    ("t,lux\n0,1\n1.7e18,2\n", {"time_unit": "s"}, LogFormatError,
     r"x\.csv:3:1: time 1\.7e18 s is out of range"),
    ("t,ax,ay,az\n0,1,2,3\n1,1,2\n", {}, LogFormatError,
     r"x\.csv:3:4: the row has 3 fields, the header 4"),
    ("t,ax,ay,az\n0,1,2,3\n1,1,two,3\n", {}, LogFormatError, r"x\.csv:3:3: 'two' is not a number"),
    ("t,ax,ay,az\n0,1,2,3\n", {"columns": {"t_ns": "t", "accel_mps2": "ax,ay"},
                               "modality": "imu"}, ConfigError,
     r"x\.csv: accel_mps2 needs 3 columns \(m/s\^2\), the map gives 2: ax, ay"),
    ("t,ax,ay,az\n0,1,2,3\n", {"columns": {"t_ns": "t", "accel": "ax,ay,az"},
                               "modality": "imu"}, ConfigError,
     r"x\.csv: unknown field 'accel' for modality imu; it has accel_mps2"),
    ("t,ax,ay,az\n0,1,2,3\n", {"columns": {"t_ns": "t", "x": "ax"}, "modality": "imus"},
     ConfigError, r"unknown modality 'imus'"),
    ("a,b\nx,y\n", {}, LogFormatError, r"x\.csv: no time column found"),
])
def test_bad_input_names_file_line_and_column_and_writes_nothing(
        tmp_path: Path, text: str, options: dict[str, object], error: type[Exception],
        message: str) -> None:
    src = _write(tmp_path / "x.csv", text)
    out = tmp_path / "x.mcap"
    with pytest.raises(error, match=message):
        import_recording(src, out, **options)
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_non_utf8_text_is_named_with_its_line(tmp_path: Path) -> None:
    src = tmp_path / "latin.csv"
    src.write_bytes(b"t,lux\n0,1\n1,2\n2,caf\xe9\n")
    with pytest.raises(LogFormatError, match=r"latin\.csv:\d+: not UTF-8 text"):
        import_recording(src, tmp_path / "l.mcap")


def test_headerless_csv_needs_a_map(tmp_path: Path, corpus: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    src = next((corpus / "phone").glob("user1_hand_*.csv"))
    out = tmp_path / "hand.mcap"
    assert main(["import", str(src), "-o", str(out)]) == 1  # the file lacks a time column
    assert "no header row: give --map t_ns=0" in capsys.readouterr().err
    assert main(["import", str(src), "-o", str(out), "--no-header", "--modality", "imu",
                 "--map", "t_ns=0", "--map", "accel_mps2=1,2,3"]) == 0
    text = capsys.readouterr().out
    assert "relative nanoseconds (whole numbers, median step" in text
    with sklog.open(out) as log:
        assert log.streams["imu"].samples == sum(1 for _ in src.open())
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "starts (UTC):        unknown" in info
    assert "time base:           relative: times count from boot or start" in info


def test_a_folder_of_per_sensor_files_from_another_app(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    t = [EPOCH_MS + 20 * i for i in range(5)]
    (folder / "Light.csv").write_text("Timestamp,Illuminance\n" + "".join(
        f"{x},{100 + i}\n" for i, x in enumerate(t)))
    (folder / "GPS.csv").write_text("Milliseconds,Latitude,Longitude,Altitude,Speed (km/h)\n"
                                    f"{t[0]},51.5,-0.12,30.0,36\n{t[4]},51.5001,-0.1201,31.0,\n")
    (folder / "Gravity.csv").write_text("Timestamp,X,Y,Z\n" + "".join(
        f"{x},0,0,9.81\n" for x in t))
    (folder / "Pressure.csv").write_text("Timestamp,hPa\n" + f"{t[0]},1013.2\n")
    (folder / "Thermo.csv").write_text("ts,reading\n" + f"{t[0]},21.5\n")
    (folder / "Empty.csv").write_text("")
    rec = read_recording(folder, file_columns={"Thermo.csv": {"t_ns": "ts",
                                                              "temp_c": "reading"}})
    assert rec.format == "csv-folder"
    assert rec.notes[0] == "format csv-folder detected: a folder of CSV files"
    assert rec.skipped == ["skipped Empty.csv: empty"]
    assert "Light.csv: taken as light (lux); epoch milliseconds (by magnitude: " \
           "2023-11-14 22:13 UTC)" in rec.notes
    assert rec.streams["light"]["lux"].tolist() == [100, 101, 102, 103, 104]
    gps = rec.streams["gps"]
    assert gps["speed_mps"][0] == pytest.approx(10.0) and np.isnan(gps["speed_mps"][1])
    assert gps["alt_m"][1] == pytest.approx(31.0) and np.isnan(gps["hdop"]).all()
    assert rec.streams["gravity"]["gravity_mps2"][0].tolist() == pytest.approx([0, 0, 9.81])
    assert rec.streams["pressure"]["pressure_hpa"].tolist() == pytest.approx([1013.2])
    assert rec.streams["thermo"]["temp_c"].tolist() == [21.5]
    with pytest.raises(ConfigError, match=r"--map names Missing\.csv"):
        read_recording(folder, file_columns={"Missing.csv": {"t_ns": "a"}})


def test_round_trip_through_mcap_and_pandas_keeps_every_sample(tmp_path: Path) -> None:
    """Epoch ns with 19 digits and float64 values: exact in the log and in the table."""
    rng = np.random.default_rng(5)
    t = 1_700_000_000_123_456_789 + np.cumsum(rng.integers(1, 10**7, 500))
    lat = 51.5 + rng.normal(0, 1e-4, 500)
    src = _write(tmp_path / "fixes.csv", "time_ns,lat,lon\n" + "".join(
        f"{a},{b!r},{-0.12!r}\n" for a, b in zip(t.tolist(), lat.tolist(), strict=True)))
    result = import_recording(src, tmp_path / "fixes.mcap")
    with sklog.open(result.path) as log:
        frame = sklog.to_dataframe(log, "gps")
    assert frame["t_ns"].tolist() == t.tolist()
    assert frame["lat_deg"].tolist() == lat.tolist()
    assert (frame["wall_ns"] == frame["t_ns"]).all()


@pytest.mark.parametrize(("text", "ns"), [
    ("2023-11-14T22:13:20Z", EPOCH_MS * 10**6),
    ("2023-11-14T22:13:21.5Z", (EPOCH_MS + 1500) * 10**6),
    ("2023-11-14 23:13:20.000000001+01:00", EPOCH_MS * 10**6 + 1),
    ("2023-11-14T23:13+0100", EPOCH_MS * 10**6 - 20 * 10**9),
    ("2023-11-14T22:13:20", EPOCH_MS * 10**6),  # no zone: UTC
])
def test_iso_times_read_the_same_on_every_python(text: str, ns: int) -> None:
    from sensekit.log.importers.textsrc import iso_utc_ns

    parsed = iso_utc_ns(text)
    assert parsed is not None and parsed[0] == ns
