"""Property-based fuzzing of the importers: whatever the input, sensekit's own error or a
readable log; memory and time bounded; nothing written but the output.

Each example runs in a forked child under RLIMIT_AS (256 MiB above the test process) and a
20 s alarm (see limits.py). MAX_EXAMPLES examples per input family.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tempfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from limits import MB, run_limited

import sensekit.log as sklog
from sensekit.log.importers import import_recording
from sensekit.log.importers.android_events import SENSORS

MAX_EXAMPLES = 30
FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_NUMBERS = st.one_of(st.integers(-10**20, 10**20).map(str),
                     st.floats(allow_nan=True, allow_infinity=True).map(repr),
                     st.sampled_from(["", "nan", "1e309", "-0", "0x10", "1_000", " 7 "]))
_CELLS = st.one_of(_NUMBERS, st.text(max_size=8),
                   st.sampled_from(["\"a,b\"", "\"", "\x00", "é", "2023-11-14T22:13:20Z"]))
_SENSOR_NAMES = st.one_of(st.sampled_from([*SENSORS, "activityrecognition", "", "com.x"]),
                          st.text(max_size=12))


@st.composite
def event_lines(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 40))):
        cells = [draw(_NUMBERS), draw(_SENSOR_NAMES)]
        cells += draw(st.lists(_CELLS, max_size=8))
        lines.append(",".join(cells))
    text = "\n".join(lines).encode("utf-8", "surrogatepass")
    return draw(st.sampled_from([text, gzip.compress(text), text[: len(text) // 2]]))


@st.composite
def csv_tables(draw: st.DrawFn) -> bytes:
    known = ["time", "t", "timestamp", "Time (s)", "ax", "ay", "az", "lux", "lat", "lon",
             "x", "y", "z", "seconds_elapsed", "pressure (Pa)", "Speed (km/h)"]
    header = draw(st.lists(st.one_of(st.sampled_from(known), st.text(max_size=6)),
                           min_size=1, max_size=7))
    rows = [",".join(draw(st.lists(_CELLS, min_size=0, max_size=len(header) + 1)))
            for _ in range(draw(st.integers(0, 25)))]
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    text = "\n".join([delimiter.join(header), *[r.replace(",", delimiter) for r in rows]])
    data = text.encode("utf-8", "surrogatepass")
    return draw(st.sampled_from([data, gzip.compress(data), b"\xff\xfe" + data]))


_LOGGER_FILES = ["Accelerometer", "TotalAcceleration", "Gravity", "Gyroscope", "Location",
                 "Light", "Microphone", "Metadata", "metadata", "Annotation", "Activity",
                 "Orientation", "Barometer", "Network", "GPS", "Pressure"]


@st.composite
def csv_folders(draw: st.DrawFn) -> dict[str, bytes]:
    names = draw(st.lists(st.one_of(st.sampled_from(_LOGGER_FILES), st.text(
        alphabet="abcXYZ_", min_size=1, max_size=8)), min_size=1, max_size=5, unique=True))
    return {f"{n}.csv": draw(csv_tables()) for n in names}


def _json_values() -> st.SearchStrategy[object]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**19, 10**19),
                        st.floats(allow_nan=False), st.text(max_size=6))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
        max_leaves=12)


@st.composite
def json_exports(draw: st.DrawFn) -> bytes:
    records = [{"sensor": draw(st.sampled_from(_LOGGER_FILES)), "time": draw(_NUMBERS),
                **draw(st.dictionaries(st.sampled_from(["x", "y", "z", "lux", "latitude",
                                                        "longitude", "dBFS", "seconds_elapsed"]),
                                       _json_values(), max_size=5))}
               for _ in range(draw(st.integers(0, 12)))]
    text = json.dumps(records)
    cut = draw(st.integers(0, len(text)))
    return draw(st.sampled_from([text.encode(), text[:cut].encode(),
                                 json.dumps(draw(_json_values())).encode()]))


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() else "dir" for p in sorted(folder.rglob("*"))}


def _check(files: dict[str, bytes], src_name: str, **options: object) -> None:
    """Import ``src_name`` among ``files``: sensekit's error or a readable log, within the
    limits, and afterwards the folder holds the inputs, unchanged, and the output alone."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inputs = root / "in"
        for name, data in files.items():
            path = inputs / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        before = _tree(root)
        out = root / "out.mcap"

        def work() -> None:
            import_recording(inputs / src_name if src_name else inputs, out, **options)
            with sklog.open(out) as log:
                for stream in log.streams:
                    log.read(stream)

        result = run_limited(work, extra_bytes=256 * MB, seconds=20)
        assert result == "ok" or result.startswith("sensekit: "), result
        after = _tree(root)
        expected = dict(before, **({"out.mcap": after.get("out.mcap", "")}
                                   if result == "ok" else {}))
        assert after == expected, sorted(set(after) ^ set(before))


@FUZZ
@given(event_lines(), st.sampled_from(["sensorfile_ann_Bus_1480485018989.csv",
                                       "events.csv"]))
def test_event_files(data: bytes, name: str) -> None:
    _check({name: data}, name)


@FUZZ
@given(csv_tables(), st.sampled_from([{}, {"time_unit": "s"}, {"header": False}]))
def test_csv_files(data: bytes, options: dict[str, object]) -> None:
    _check({"table.csv": data}, "table.csv", **options)


@FUZZ
@given(csv_folders())
def test_sensor_logger_and_csv_folders(files: dict[str, bytes]) -> None:
    _check(files, "")


@FUZZ
@given(csv_folders())
def test_zip_exports(files: dict[str, bytes]) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(f"export/{name}", data)
    _check({"export.zip": buf.getvalue()}, "export.zip", max_unzipped_bytes=64 * 1024)


@FUZZ
@given(json_exports())
def test_json_exports(data: bytes) -> None:
    _check({"export.json": data}, "export.json")


@FUZZ
@given(st.lists(st.lists(_CELLS, max_size=5), max_size=8), st.sampled_from(
    ["start,end,task,class", "start,end,task", ""]))
def test_label_span_files(rows: list[list[str]], header: str) -> None:
    events = b"10,android.sensor.light,3.0,0,0\n500000,android.sensor.light,4.0,0,0\n"
    spans = "\n".join([header, *(",".join(r) for r in rows)]).encode("utf-8", "surrogatepass")
    with tempfile.TemporaryDirectory() as tmp:
        spans_path = Path(tmp) / "spans.csv"
        spans_path.write_bytes(spans)
        _check({"sensorfile_ann_Bus_1480485018989.csv": events},
               "sensorfile_ann_Bus_1480485018989.csv", label_spans=spans_path)
