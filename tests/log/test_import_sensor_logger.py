"""Sensor Logger exports as the app writes them, each quirk reproduced in a small export."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from mcap.reader import make_reader

import sensekit.log as sklog
from sensekit.cli import main
from sensekit.errors import LogFormatError
from sensekit.log.importers import (
    detect_format,
    import_recording,
    import_sensor_logger,
    read_recording,
)

MS = 1_000_000
T0 = 1_698_501_144_401_773_000  # UTC epoch ns, as the app's 'time' column holds it
IOS_META = ("version,device name,recording epoch time,recording time,recording timezone,"
            "platform,appVersion,device id,sensors,sampleRateMs,standardisation,"
            "platform version\n"
            "3,iPhone 13,1698501144401,2023-10-28_13-52-24,Europe/London,ios,1.31.2,A1B2,"
            "Accelerometer|Gravity|Gyroscope|Location|Microphone,10|10|10|1000|,false,17.0\n")
ANDROID_META = ("version,device name,recording time,platform\n"
                "2,Pixel 7,2023-10-28_13-52-24,android\n")


def _xyz(name_time_offset_ms: int, rows: int, fn: object) -> str:
    lines = ["time,seconds_elapsed,z,y,x"]
    for i in range(rows):
        x, y, z = fn(i)  # type: ignore[operator]
        lines.append(f"{T0 + (i * 10 + name_time_offset_ms) * MS},{i * 0.01:.2f},{z},{y},{x}")
    return "\n".join(lines) + "\n"


def android_export() -> dict[str, str]:
    """Android, an older app version: both acceleration files, lower-case metadata.csv,
    empty Microphone and Annotation files, a Network file, a GPS file without accuracy."""
    return {
        "TotalAcceleration": _xyz(0, 100, lambda i: (0.1, 0.2, 9.8 + 0.01 * i)),
        "Accelerometer": _xyz(0, 100, lambda i: (0.1, 0.2, 0.01 * i)),
        "Gravity": _xyz(0, 100, lambda i: (0.0, 0.0, 9.8)),
        "Gyroscope": _xyz(2, 100, lambda i: (0.002, -0.01, 0.05 * i)),
        "Location": ("time,seconds_elapsed,speed,bearing,altitude,longitude,latitude\n"
                     f"{T0},0.0,1.2,-1,214.2,-0.1276,51.5072\n"
                     f"{T0 + 1000 * MS},1.0,-1,90.5,214.9,-0.12759,51.50721\n"),
        "Light": f"time,seconds_elapsed,lux\n{T0},0.1,312.5\n{T0 + 500 * MS},0.6,298.0\n",
        "Microphone": "",
        "Annotation": "time,seconds_elapsed,text,millisecond_press_duration\n",
        "Network": f"time,seconds_elapsed,type\n{T0},0.1,wifi\n",
        "Activity": (f"time,seconds_elapsed,activity,confidence\n{T0},0.0,walking,high\n"
                     f"{T0 + 900 * MS},0.9,stationary,low\n"),
        "metadata": ANDROID_META,
    }


def ios_export(standardised: bool = False) -> dict[str, str]:
    """iOS, a newer app version: Metadata.csv (capital M), no TotalAcceleration, iOS axes."""
    meta = IOS_META.replace(",false,", ",true,") if standardised else IOS_META
    return {
        "Accelerometer": _xyz(0, 50, lambda i: (0.1, -0.2, 0.3)),
        "Gravity": _xyz(0, 50, lambda i: (0.0, 0.0, -9.80665)),  # iOS: -z when lying flat
        "Gyroscope": _xyz(0, 50, lambda i: (0.01, 0.02, 0.03)),
        "Location": ("time,seconds_elapsed,bearingAccuracy,speedAccuracy,verticalAccuracy,"
                     "horizontalAccuracy,speed,bearing,altitude,altitudeAboveMeanSeaLevel,"
                     "longitude,latitude\n"
                     f"{T0},0.2,-1,0.5,3.1,4.7,1.5,270,61.0,15.2,-0.1276,51.5072\n"),
        "Microphone": "time,seconds_elapsed,dBFS\n",
        "Metadata": meta,
    }


def write_export(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text)
    return folder


def test_android_folder_streams_and_quirks(tmp_path: Path) -> None:
    src = write_export(tmp_path / "Walk-2023-10-28_13-52-24", android_export())
    rec = read_recording(src)
    assert rec.format == "sensor-logger"
    assert set(rec.streams) == {"accel", "user_accel", "gravity", "gyro", "gps", "light",
                                "predicted_activity"}
    # Both acceleration files, as recorded: gravity neither added nor removed.
    np.testing.assert_allclose(rec.streams["accel"]["accel_mps2"][10], [0.1, 0.2, 9.9],
                               rtol=1e-6)
    np.testing.assert_allclose(rec.streams["user_accel"]["user_accel_mps2"][10],
                               [0.1, 0.2, 0.1], rtol=1e-6)
    assert rec.streams["accel"].modality == "imu" and rec.streams["accel"].t_ns[0] == T0
    assert rec.streams["gyro"].t_ns[0] == T0 + 2 * MS  # each sensor at its own times
    # Empty files and sensors without a stream: skipped, one line each.
    assert sorted(rec.skipped) == ["skipped Annotation.csv: empty",
                                   "skipped Microphone.csv: empty",
                                   "skipped Network.csv: no stream for this sensor"]
    assert rec.metadata["device name"] == "Pixel 7"
    # GPS without accuracy or satellites: missing, not zero; negative bearing/speed invalid.
    gps = rec.streams["gps"]
    assert np.isnan(gps["hdop"]).all() and (gps["sats_used"] == -1).all()
    assert np.isnan(gps["track_deg"][0]) and gps["track_deg"][1] == pytest.approx(90.5)
    assert gps["speed_mps"][0] == pytest.approx(1.2) and np.isnan(gps["speed_mps"][1])
    assert "h_accuracy_m" not in gps.fields
    assert np.isnan(gps["alt_msl_m"]).all() and gps["alt_hae_m"][0] == pytest.approx(214.2)
    guess = rec.streams["predicted_activity"]
    classes = rec.devices["predicted_activity"]["activity"]
    assert [classes[c] for c in guess["activity"]] == ["walking", "stationary"]
    assert rec.devices["predicted_activity"]["kind"] == "prediction"


def test_ios_axes_are_negated_unless_standardised(tmp_path: Path) -> None:
    rec = read_recording(write_export(tmp_path / "ios", ios_export()))
    assert "accel" not in rec.streams  # iOS writes no TotalAcceleration; nothing derived
    assert any(n.startswith("no TotalAcceleration") for n in rec.notes)
    assert rec.streams["gravity"]["gravity_mps2"][0].tolist() == pytest.approx([0, 0, 9.80665])
    assert rec.streams["user_accel"]["user_accel_mps2"][0].tolist() == pytest.approx(
        [-0.1, 0.2, -0.3])
    assert rec.streams["gyro"]["gyro_rads"][0].tolist() == pytest.approx([0.01, 0.02, 0.03])
    assert any("Gravity.csv: iOS axes negated" in n for n in rec.notes)
    assert rec.metadata["appVersion"] == "1.31.2" and rec.metadata["platform"] == "ios"
    gps = rec.streams["gps"]
    assert gps["alt_msl_m"][0] == pytest.approx(15.2) and gps["alt_hae_m"][0] == pytest.approx(61)
    assert gps["h_accuracy_m"][0] == pytest.approx(4.7)
    assert np.isnan(gps["track_accuracy_deg"][0])  # -1: invalid
    std = read_recording(write_export(tmp_path / "ios-std", ios_export(standardised=True)))
    assert std.streams["gravity"]["gravity_mps2"][0].tolist() == pytest.approx([0, 0, -9.80665])
    assert not any("negated" in n for n in std.notes)


def test_zip_with_a_top_folder_and_the_mcap_metadata(tmp_path: Path) -> None:
    folder = write_export(tmp_path / "Walk", android_export())
    archive = tmp_path / "walk.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in folder.iterdir():
            zf.write(p, f"Walk-2023/{p.name}")
        zf.writestr("Walk-2023/Camera/1698501144401.jpg", b"\xff\xd8 not read")
    result = import_sensor_logger(archive, tmp_path / "walk.mcap")
    assert result.samples["accel"] == 100 and result.samples["gps"] == 2
    with sklog.open(result.path) as log:
        meta = log.metadata("sensekit.log")[0]
        assert meta["source.device name"] == "Pixel 7" and meta["source.platform"] == "android"
        assert set(log.streams) >= {"accel", "user_accel", "gps"}
        np.testing.assert_array_equal(log.read("light")["lux"], [312.5, 298.0])
    with open(result.path, "rb") as fh:  # Foxglove sees the phone's altitude (ellipsoid)
        fixes = [json.loads(m.data) for _, c, m in make_reader(fh).iter_messages()
                 if c.topic == "gps"]
    assert [f["altitude"] for f in fixes] == pytest.approx([214.2, 214.9])
    assert fixes[0]["timestamp"] == {"sec": T0 // 10**9, "nsec": T0 % 10**9}


def test_json_export_with_its_metadata_record(tmp_path: Path) -> None:
    records = [{"sensor": "Metadata", "device name": "iPhone 13", "platform": "ios",
                "standardisation": "false", "appVersion": "1.40"}]
    for name, text in ios_export().items():
        lines = text.strip().split("\n")
        if name == "Metadata" or len(lines) < 2:
            continue
        header = lines[0].split(",")
        records += [{"sensor": name, **dict(zip(header, ln.split(","), strict=True))}
                    for ln in lines[1:]]
    src = tmp_path / "walk.json"
    src.write_text(json.dumps(records, indent=1))
    assert detect_format(src)[0] == "sensor-logger"
    rec = read_recording(src)
    assert len(rec.streams["user_accel"]) == 50 and rec.metadata["device name"] == "iPhone 13"
    assert rec.streams["gravity"]["gravity_mps2"][0].tolist() == pytest.approx([0, 0, 9.80665])
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(records[:3])[:-40])
    with pytest.raises(LogFormatError, match=r"broken\.json:\d+: "):
        read_recording(broken)
    not_array = tmp_path / "x.json"
    not_array.write_text('{"a": 1}')
    with pytest.raises(LogFormatError, match="array of objects with 'sensor'"):
        read_recording(not_array)


def test_zip_bomb_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Accelerometer.csv", "time,seconds_elapsed,z,y,x\n" + "0" * 3_000_000)
    assert archive.stat().st_size < 20_000
    out = tmp_path / "bomb.mcap"
    with pytest.raises(LogFormatError, match=r"expand.*zip bomb"):
        import_recording(archive, out, max_unzipped_bytes=1_000_000)
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_a_file_without_time_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "Accelerometer.csv").write_text("seconds_elapsed,z,y,x\n0.1,1,2,3\n")
    (folder / "Gyroscope.csv").write_text("time,seconds_elapsed,z,y,x\n1,0.1,1,2,3\n")
    with pytest.raises(LogFormatError, match=r"Accelerometer\.csv: no 'time' column"):
        read_recording(folder, format="sensor-logger")


def test_command_names_each_skipped_file(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    src = write_export(tmp_path / "Walk", android_export())
    assert main(["import", str(src), "-o", str(tmp_path / "w.mcap")]) == 0
    out = capsys.readouterr().out
    assert "skipped Microphone.csv: empty" in out
    assert "skipped Network.csv: no stream for this sensor" in out
    assert "format sensor-logger detected" in out


def test_round_trip_to_pandas_keeps_every_sample_and_time(tmp_path: Path) -> None:
    files = android_export()
    src = write_export(tmp_path / "Walk", files)
    result = import_recording(src, tmp_path / "walk.mcap")
    with sklog.open(result.path) as log:
        for name, stream, cols in [("TotalAcceleration", "accel", "accel_mps2"),
                                   ("Gyroscope", "gyro", "gyro_rads")]:
            rows = [line.split(",") for line in files[name].strip().split("\n")[1:]]
            frame = sklog.to_dataframe(log, stream)
            assert frame["t_ns"].tolist() == [int(r[0]) for r in rows]
            assert (frame["wall_ns"] == frame["t_ns"]).all()  # Sensor Logger's time is UTC
            for k, axis in enumerate("zyx"):  # the app writes z, y, x
                expected = np.array([float(r[2 + k]) for r in rows], np.float32)
                np.testing.assert_array_equal(frame[f"{cols}_{axis}"].to_numpy(), expected)
