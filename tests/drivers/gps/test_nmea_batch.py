"""The columnar decoder gives the streaming decoder's fixes and counts, on real logs and on
fuzzed streams, however either is fed; its number readers agree with Python's own."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nmea_helpers import LOGS, batch, date_of, fix_key, split, stream, whole

from sensekit.drivers.gps.capture import decode_capture
from sensekit.drivers.gps.decimals import NO_TIME, floats, ints, times_of_day
from sensekit.drivers.gps.fields import tod_ns
from sensekit.drivers.gps.nmea import checksum, sentence

needs_corpus = pytest.mark.skipif(not LOGS, reason="gpsd corpus logs not found")


@needs_corpus
@pytest.mark.parametrize("block", [1 << 22, 40_093])
def test_every_corpus_log_decodes_the_same_in_blocks_as_streamed(block: int) -> None:
    for log in LOGS:
        data = whole(log.read_bytes())
        ref, ref_reader, ref_epochs = stream(split(data, [65536]), date_of(data))
        got, reader, epochs = batch(split(data, [block]), date_of(data))
        assert [fix_key(f) for f in got] == [fix_key(f) for f in ref], log.name
        assert (reader, epochs) == (ref_reader, ref_epochs), log.name


@needs_corpus
def test_decode_capture_is_the_batch_decoder() -> None:
    data = whole(LOGS[0].read_bytes())
    decoded = decode_capture(data)
    ref, reader, epochs = stream([data], date_of(data))
    assert [fix_key(f) for f in decoded.fixes] == [fix_key(f) for f in ref]
    assert (decoded.reader, decoded.epochs) == (reader, epochs)


def _corpus_lines() -> list[bytes]:
    lines: list[bytes] = []
    for log in LOGS[:8]:
        lines += [ln + b"\r\n" for ln in log.read_bytes().splitlines()[:300]
                  if ln.startswith((b"$", b"!"))]
    return lines or [sentence("GPGGA,202640.000,4404.1306,N,12118.8515,W,2,10,0.98,1127.7,M,"
                              "-19.6,M,0000,0000")]


LINES = _corpus_lines()
#: Replacements that reach the decoder's corners: odd numbers, impossible times, NULs...
ODD = [b"inf", b"nan", b"1e5", b" 7", b"+3", b"-0", b"9" * 25, b"996161.00", b"235960",
       b"\x00", b"", b"A", b"V", b"N", b"T", b"S", b"1_0", b"99999", b"0000.0000", b"36000.0"]


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[int], list[int]]:
    """A slice of real sentences, some fields replaced (checksums fixed or not), and two
    random ways to cut it into reads."""
    start = draw(st.integers(0, max(0, len(LINES) - 1)))
    picked = LINES[start:start + draw(st.integers(1, 40))]
    out = []
    for line in picked:
        body = line.strip()[1:-3]
        if draw(st.booleans()) and b"," in body:
            fields = body.split(b",")
            k = draw(st.integers(1, len(fields) - 1)) if len(fields) > 1 else 0
            fields[k] = draw(st.sampled_from(ODD))
            body = b",".join(fields)
            good = draw(st.integers(0, 9)) > 0  # mostly a good checksum: the decoder must cope
            line = b"$%s*%02X\r\n" % (body, checksum(body) if good else checksum(body) ^ 1)
        out.append(line)
    reads = st.lists(st.integers(1, 400), min_size=1, max_size=8)       # a serial port's
    blocks = st.lists(st.integers(64, 4000), min_size=1, max_size=4)    # a file's
    return b"".join(out), draw(reads), draw(blocks)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_fuzzed_streams_decode_the_same_both_ways(case: tuple[bytes, list[int], list[int]]
                                                  ) -> None:
    data, sizes_a, sizes_b = case
    ref, ref_reader, ref_epochs = stream(split(data, sizes_a))
    got, reader, epochs = batch(split(data, sizes_b))
    assert [fix_key(f) for f in got] == [fix_key(f) for f in ref]
    assert (reader.accepted, epochs) == (ref_reader.accepted, ref_epochs)


TEXT = st.binary(max_size=22) | st.text(alphabet="0123456789.-+ eE_inf", max_size=22).map(
    str.encode)


def _fields(texts: list[bytes]) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray]:
    buf = b",".join(texts)
    starts = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]]).astype(np.int64)
    stops = starts + np.array([len(t) for t in texts], np.int64)
    return buf, np.frombuffer(buf, np.uint8), starts, stops


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=30))
def test_number_readers_agree_with_python(texts: list[bytes]) -> None:
    buf, arr, starts, stops = _fields(texts)
    values, bad = floats(buf, arr, starts, stops)
    whole_numbers, bad_ints = ints(buf, arr, starts, stops)
    for i, text in enumerate(texts):
        try:
            expected = float(text) if text else math.nan
            assert not bad[i] and (values[i] == expected or (math.isnan(expected)
                                                             and math.isnan(values[i])))
            assert math.copysign(1, values[i]) == math.copysign(1, expected)
        except ValueError:
            assert bad[i]
        if text:
            try:
                number = int(text)
                assert bad_ints[i] or whole_numbers[i] == number
                assert bad_ints[i] == (not -2**63 <= number < 2**63)
            except ValueError:
                assert bad_ints[i]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.", max_size=20).map(str.encode), min_size=1,
                max_size=30))
def test_time_reader_agrees_with_tod_ns(texts: list[bytes]) -> None:
    buf, arr, starts, stops = _fields(texts)
    got = times_of_day(buf, arr, starts, stops)
    for text, value in zip(texts, got.tolist(), strict=True):
        expected = tod_ns(text) if text else None
        assert value == (NO_TIME if expected is None else expected), text


def test_a_file_decodes_in_blocks_with_the_same_fixes(tmp_path: Path) -> None:
    from sensekit.drivers.gps import capture

    data = b"".join(LINES)
    path = tmp_path / "cap.nmea"
    path.write_bytes(data[:-2])                       # no newline after the last sentence
    ref, _, _ = stream([data])
    decoded = capture.read_capture(path)
    assert [fix_key(f) for f in decoded.fixes] == [fix_key(f) for f in ref]


def _gga(hhmmss: str) -> bytes:
    return sentence(f"GPGGA,{hhmmss},4807.038,N,01131.000,E,1,08,0.9,545.4,M,,M,,")


@pytest.mark.parametrize("dated", [True, False])
def test_midnight_and_dates_agree_across_blocks(dated: bool) -> None:
    seconds = [86_390 + i for i in range(30)] * 2          # past midnight, twice
    times = [f"{s // 3600 % 24:02d}{s // 60 % 60:02d}{s % 60:02d}" for s in seconds]
    parts = [sentence("GPRMC,235000,A,4807.038,N,01131.000,E,0.0,0.0,311223,,")] if dated \
        else []
    parts += [_gga(t) for t in times]
    data = b"".join(parts)
    date = None if dated else dt.date(2023, 12, 31)
    ref, _, _ = stream([data], date)
    for block in (len(data), 300, 97):
        got, _, _ = batch(split(data, [block]), date)
        assert [fix_key(f) for f in got] == [fix_key(f) for f in ref]
    assert ref[-1].time_iso == "2024-01-02T00:00:19.000Z"
