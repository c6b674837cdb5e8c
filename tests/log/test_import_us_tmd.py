"""Android sensor-event files: the real US transportation-mode recordings and their quirks."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import sensekit.log as sklog
from sensekit.cli import main
from sensekit.errors import ConfigError, LogFormatError
from sensekit.log.exporters import to_dataframe
from sensekit.log.importers import (
    detect_format,
    import_recording,
    read_android_events,
    read_recording,
    read_us_tmd,
)

BUS = "sensorfile_andrea_Bus_1480485018989.csv.gz"
#: Speed, activity guesses, pressure, unnamed-sensor lines, a line out of order at line 2.
CLAUDIO = "sensorfile_Claudio_Car_1481824701328.csv.gz"
#: Its first line's time is 'r2'.
TRAIN_R2 = "sensorfile_andrea_Train_1480530298390.csv.gz"


def _raw_lines(path: Path) -> list[list[str]]:
    """The file's lines split on commas: an independent reading for comparison."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [line.rstrip("\n").split(",") for line in fh]


def test_real_bus_recording_streams_counts_and_start(corpus: Path) -> None:
    src = corpus / "us_tmd" / BUS
    rec = read_us_tmd(src)
    raw = _raw_lines(src)
    counts = Counter(row[1] for row in raw)
    assert len(rec.streams["accel"]) == counts["android.sensor.accelerometer"] == 1273
    assert len(rec.streams["gyro"]) == counts["android.sensor.gyroscope"]
    assert len(rec.streams["sound"]) == counts["sound"] == 26
    assert len(rec.streams["speed"]) == counts["speed"] == 9
    assert rec.skipped == ["skipped com.qti.sensor.amd: 4 events (no stream for this sensor type)",
                           "skipped com.qti.sensor.rmd: 3 events (no stream for this sensor type)"]
    # The start comes from the name: UTC = t_ns + 1480485018989 ms.
    assert rec.clock.utc_ns(0) == 1_480_485_018_989_000_000
    assert rec.metadata["person"] == "andrea" and rec.metadata["mode"] == "Bus"
    # Every stream sorted; each event keeps its values (Android floats, exactly).
    for packet in rec.streams.values():
        assert (np.diff(packet.t_ns) > 0).all()
    first_accel = next(r for r in raw if r[1] == "android.sensor.accelerometer")
    assert rec.streams["accel"].t_ns[0] == int(first_accel[0]) * 1_000_000
    np.testing.assert_array_equal(rec.streams["accel"]["accel_mps2"][0],
                                  np.array(first_accel[2:5], np.float64).astype(np.float32))
    assert rec.streams["accel"].modality == "imu"
    assert rec.devices["gyro"]["units"] == {"gyro_rads": "rad/s"}


def test_mirrored_sound_times_are_turned_back(corpus: Path) -> None:
    src = corpus / "us_tmd" / BUS
    rec = read_us_tmd(src)
    raw = _raw_lines(src)
    # The file writes each sound time negated: -t matches the line before it.
    sound_lines = [(i, int(r[0])) for i, r in enumerate(raw) if r[1] == "sound"]
    assert all(t < 0 for _, t in sound_lines)
    expected = sorted(-t for _, t in sound_lines)
    assert rec.streams["sound"].t_ns.tolist() == [t * 1_000_000 for t in expected]
    end = rec.span_ns()[1]
    assert rec.streams["sound"].t_ns[0] >= 0 and rec.streams["sound"].t_ns[-1] <= end
    assert any(n.startswith("sound: 26 negative times read as -t") for n in rec.notes)
    assert rec.streams["sound"]["sound_db"].dtype == np.float64
    assert rec.streams["sound"]["sound_db"][0] == float(
        next(r for i, r in enumerate(raw) if r[1] == "sound" and -int(r[0]) == expected[0])[2])


def test_speed_activity_guess_and_unnamed_sensor_lines(corpus: Path) -> None:
    rec = read_us_tmd(corpus / "us_tmd" / CLAUDIO)
    raw = _raw_lines(corpus / "us_tmd" / CLAUDIO)
    speed = [r for r in raw if r[1] == "speed"]
    assert len(rec.streams["speed"]) == len(speed) == 11
    by_t = {int(r[0]) * 1_000_000: float(r[2]) for r in speed}
    got = dict(zip(rec.streams["speed"].t_ns.tolist(),
                   rec.streams["speed"]["speed_mps"].tolist(), strict=True))
    assert got == pytest.approx(by_t)
    guess = rec.streams["predicted_activity"]
    assert "predicted_activity" != "labels" and len(guess) == 1
    device = rec.devices["predicted_activity"]
    assert device["kind"] == "prediction"
    line = next(r for r in raw if r[1] == "activityrecognition")
    assert device["activity"][int(guess["activity"][0])] == line[2]
    assert guess["confidence_pct"][0] == float(line[3])
    # Lines with an empty sensor name are counted, with the first one's place.
    unnamed = [i + 1 for i, r in enumerate(raw) if r[1] == ""]
    assert f"skipped {len(unnamed)} events without a sensor name (first at {CLAUDIO}:" \
           f"{unnamed[0]}:2)" in rec.notes
    # Only the transport label comes from the name; the phone's guess is not a label.
    assert set(rec.streams["labels"].fields) == {"transport"}


def test_non_numeric_time_of_a_real_file_is_counted(corpus: Path) -> None:
    rec = read_us_tmd(corpus / "us_tmd" / TRAIN_R2)
    assert f"skipped 1 non-numeric times (first at {TRAIN_R2}:1:1)" in rec.notes
    raw = _raw_lines(corpus / "us_tmd" / TRAIN_R2)
    accel = sum(r[1] == "android.sensor.accelerometer" for r in raw)
    assert len(rec.streams["accel"]) == accel - 1


def test_constant_transport_label_from_the_name(corpus: Path) -> None:
    rec = read_us_tmd(corpus / "us_tmd" / BUS)
    labels = rec.streams["labels"]
    classes = rec.devices["labels"]["transport"]
    assert classes[:5] == ["still", "walking", "car", "bus", "train"]
    assert set(labels["transport"].tolist()) == {classes.index("bus")}
    first, last = rec.span_ns()
    assert labels.t_ns[0] == first and last - labels.t_ns[-1] < 100_000_000
    assert np.all(np.diff(labels.t_ns) == 100_000_000)  # 10 Hz


def _events(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_quirks_are_counted_and_skipped_never_kept(tmp_path: Path) -> None:
    src = _events(tmp_path, "sensorfile_ann_Walking_1480000000000.csv", [
        "",                                                   # empty first line
        "10,android.sensor.accelerometer,0.1,9.8,0.2",
        "x7,android.sensor.accelerometer,0.1,9.8,0.2",         # non-numeric time
        "30,android.sensor.accelerometer,0.3,9.7,0.1",
        "20,android.sensor.accelerometer,0.2,9.8,0.2",         # out of order
        "30,android.sensor.accelerometer,0.3,9.7,0.1",         # duplicate, same values
        "30,android.sensor.accelerometer,0.9,9.7,0.1",         # duplicate, other values
        "40,android.sensor.accelerometer,0.4,nan?,0.1",        # non-numeric value
        "50,android.sensor.gyroscope,0.1,0.2",                 # too few values
        "-5,android.sensor.light,12.0,0,0",                    # negative, nothing to mirror
        "60,android.sensor.pressure,1013.25,0,0",
    ])
    rec = read_us_tmd(src)
    accel = rec.streams["accel"]
    assert accel.t_ns.tolist() == [10_000_000, 20_000_000, 30_000_000]
    np.testing.assert_allclose(accel["accel_mps2"][:, 0], [0.1, 0.2, 0.3], rtol=1e-6)
    assert rec.streams["light"].t_ns.tolist() == [-5_000_000]
    assert rec.streams["pressure"]["pressure_hpa"].tolist() == pytest.approx([1013.25])
    assert "gyro" not in rec.streams
    name = src.name
    assert f"skipped 1 blank lines (first at {name}:1)" in rec.notes
    assert f"skipped 1 non-numeric times (first at {name}:3:1)" in rec.notes
    assert f"skipped 1 events with a non-numeric value (first at {name}:8:4)" in rec.notes
    assert (f"skipped 1 android.sensor.gyroscope events with fewer than 3 values "
            f"(first at {name}:9:5)") in rec.notes
    assert ("accel: 2 duplicate events (same time) skipped, 1 of them with different values; "
            "the first was kept") in " ".join(rec.notes).replace("android.sensor.accelerometer",
                                                               "accel")
    assert "android.sensor.light: 1 negative times kept (events before the start)" in rec.notes


def test_format_detection_and_forced_format(tmp_path: Path, corpus: Path) -> None:
    assert detect_format(corpus / "us_tmd" / BUS)[0] == "us-tmd"
    plain = _events(tmp_path, "phone.csv", ["5,android.sensor.light,3.0,0,0",
                                            "9,sound,55.5"])
    assert detect_format(plain)[0] == "android-events"
    rec = read_recording(plain)
    assert rec.format == "android-events" and rec.relative and "labels" not in rec.streams
    assert rec.notes[0] == "format android-events detected: lines of t,android.sensor.TYPE,values"
    with pytest.raises(ConfigError, match=r"sensorfile_PERSON_MODE_STARTMS"):
        read_recording(plain, format="us-tmd")
    with pytest.raises(ConfigError, match="unknown format 'tmd'"):
        read_recording(plain, format="tmd")
    empty = _events(tmp_path, "nothing.csv", ["a,b", "c,d"])
    with pytest.raises(LogFormatError, match=r"nothing\.csv: no sensor events found in 2 lines"):
        read_android_events(empty)


def test_labels_option_and_spans_file(tmp_path: Path, corpus: Path) -> None:
    src = corpus / "us_tmd" / BUS
    rec = read_recording(src, labels={"transport": "train", "activity": "vehicle"})
    dev = rec.devices["labels"]
    assert dev["transport"][int(rec.streams["labels"]["transport"][0])] == "train"
    assert dev["activity"][int(rec.streams["labels"]["activity"][0])] == "vehicle"
    # Spans in UTC: 100 s to 200 s after the start; the rest is unlabelled (-1).
    start_s = 1480485018.989
    spans = tmp_path / "spans.csv"
    spans.write_text(f"start,end,task,class\n{start_s + 100},{start_s + 200},activity,still\n"
                     "2016-11-30T05:55:18.989Z,2016-11-30T05:56:18.989Z,activity,walking\n")
    rec = read_recording(src, label_spans=spans)
    labels = rec.streams["labels"]
    act = labels["activity"]
    classes = rec.devices["labels"]["activity"]
    assert set(labels.fields) == {"activity", "transport"}  # the name's label stays
    still = labels.t_ns[act == classes.index("still")]
    walking = labels.t_ns[act == classes.index("walking")]
    step = 100_000_000  # 10 Hz, on a grid from the first sample
    assert 0 <= still[0] - 100 * 10**9 < step and 0 < 200 * 10**9 - still[-1] <= step
    assert 0 <= walking[0] - 300 * 10**9 < step and 0 < 360 * 10**9 - walking[-1] <= step
    assert len(still) == 1000 and len(walking) == 600
    assert (act == -1).sum() == len(labels) - len(still) - len(walking)
    assert labels.t_ns[0] == rec.span_ns()[0] and act[0] == -1  # the grid spans the recording
    # evaluate-policy reads the label at a time: a span's class inside it, none (-1) between.
    from sensekit.controller.evaluate import Recording as PolicyRecording

    policy = PolicyRecording.from_streams("bus", rec.streams, classes, label_field="activity")
    at = policy.label_at(np.array([150, 250, 330, 400], np.int64) * 10**9)
    assert [classes[c] if c >= 0 else None for c in at] == ["still", None, "walking", None]


def test_bad_label_inputs_name_the_place(tmp_path: Path, corpus: Path) -> None:
    src = corpus / "us_tmd" / BUS
    bad = tmp_path / "bad.csv"
    bad.write_text("start,end,task,class\n1480485100,1480485000,activity,still\n")
    with pytest.raises(LogFormatError, match=r"bad\.csv:2:2: the span ends before it starts"):
        read_recording(src, label_spans=bad)
    bad.write_text("start,end,task,class\n1480485100,tomorrow,activity,still\n")
    with pytest.raises(LogFormatError, match=r"bad\.csv:2:2: 'tomorrow' is neither"):
        read_recording(src, label_spans=bad)
    bad.write_text("start,end,task,class\n1480485100,1480485200,activity,still\n"
                   "1480485150,1480485300,activity,walking\n")
    with pytest.raises(LogFormatError, match=r"bad\.csv:3: span of activity=walking overlaps"):
        read_recording(src, label_spans=bad)
    bad.write_text("begin,end,task,class\n")
    with pytest.raises(LogFormatError, match=r"bad\.csv:1: the header must be"):
        read_recording(src, label_spans=bad)
    plain = _events(tmp_path, "rel.csv", ["5,android.sensor.light,3.0,0,0"])
    good = tmp_path / "good.csv"
    good.write_text("start,end,task,class\n1480485100,1480485200,activity,still\n")
    with pytest.raises(ConfigError, match="give --start"):
        read_recording(plain, label_spans=good)


def test_import_command_writes_every_stream_and_says_what_it_did(
        corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = corpus / "us_tmd" / CLAUDIO
    out = tmp_path / "car.mcap"
    assert main(["import", str(src), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "format us-tmd detected" in text
    assert "skipped com.qti.sensor.amd" in text or "events without a sensor name" in text
    rec = read_us_tmd(src)
    with sklog.open(out) as log:
        assert set(log.streams) == set(rec.streams)
        for name, packet in rec.streams.items():
            back = log.read(name)
            np.testing.assert_array_equal(back.t_ns, packet.t_ns)
            for field, values in packet.fields.items():
                np.testing.assert_array_equal(back[field], values)
        devices = log.devices()
        assert json.loads(devices["labels"]["transport"])[:3] == ["still", "walking", "car"]
        assert devices["predicted_activity"]["kind"] == "prediction"
        meta = log.metadata("sensekit.log")[0]
        assert meta["source.person"] == "Claudio" and meta["time_base"] == "utc"
    # The output exists now: replacing it needs --force.
    assert main(["import", str(src), "-o", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["import", str(src), "-o", str(out), "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "us-tmd"


def test_round_trip_to_pandas_keeps_every_sample_and_time(corpus: Path, tmp_path: Path) -> None:
    src = corpus / "us_tmd" / BUS
    result = import_recording(src, tmp_path / "bus.mcap")
    rec = read_us_tmd(src)
    with sklog.open(result.path) as log:
        for name, packet in rec.streams.items():
            frame = to_dataframe(log, name)
            assert frame["t_ns"].tolist() == packet.t_ns.tolist()
            assert (frame["wall_ns"] - frame["t_ns"] == 1_480_485_018_989_000_000).all()
            if name == "accel":
                np.testing.assert_array_equal(frame["accel_mps2_y"].to_numpy(),
                                              packet["accel_mps2"][:, 1])
            if name == "sound":
                np.testing.assert_array_equal(frame["sound_db"].to_numpy(), packet["sound_db"])


@pytest.mark.slow
def test_every_corpus_recording_imports(corpus: Path) -> None:
    files = sorted((corpus / "us_tmd").glob("sensorfile_*.csv.gz"))
    assert len(files) == 62
    for src in files:
        rec = read_us_tmd(src)
        assert "accel" in rec.streams and "labels" in rec.streams, src.name
        for packet in rec.streams.values():
            assert (np.diff(packet.t_ns) > 0).all(), (src.name, packet.stream)
            assert packet.t_ns[0] >= -1_000_000_000, (src.name, packet.stream)
