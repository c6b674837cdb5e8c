"""NMEA decoding that a stream cannot fool: however it is chunked, whatever bytes it holds,
in bounded memory and time (fuzzed in a child process under RLIMIT_AS)."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nmea_helpers import LOGS, batch, fix_key, split, stream, whole

from sensekit.cli import main
from sensekit.drivers.gps.capture import CaptureStream, read_capture
from sensekit.drivers.gps.epoch import EpochAssembler
from sensekit.drivers.gps.nmea import NmeaReader, Sentence, checksum, sentence
from sensekit.drivers.gps.ubx import UbxSplitter, frame, parse_valset, ubx_checksum
from sensekit.errors import LogFormatError, SensekitError
from sensekit.testing.limits import run_bounded

GGA = sentence("GPGGA,202640.000,4404.1306,N,12118.8515,W,2,10,0.98,1127.7,M,-19.6,M,0000,0000")
RMC = sentence("GPRMC,202640.000,A,4404.1306,N,12118.8515,W,0.03,225.97,130415,,,D")
needs_corpus = pytest.mark.skipif(not LOGS, reason="gpsd corpus logs not found")
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


# -- the same fixes however the stream is chunked --------------------------------------------

def _window(index: int, start: int) -> bytes:
    """Up to 30 KB of corpus log ``index`` from the line at or after ``start``."""
    data = LOGS[index % len(LOGS)].read_bytes()
    at = data.find(b"\n", start % max(1, len(data))) + 1
    end = data.find(b"\n", at + 30_000)
    return whole(data[at:] if end < 0 else data[at:end + 1])


@needs_corpus
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 100), st.integers(0, 10**6),
       st.lists(st.integers(1, 5000), min_size=1, max_size=12))
def test_random_chunkings_of_corpus_logs_give_identical_fixes(log: int, start: int,
                                                              sizes: list[int]) -> None:
    data = _window(log, start)
    ref, _, _ = stream([data])
    got, _, _ = stream(split(data, sizes))
    assert [fix_key(f) for f in got] == [fix_key(f) for f in ref]


def test_a_long_comment_line_holding_a_sentence_is_skipped_however_split() -> None:
    comment = b"# example: " + b"x" * 150 + GGA.strip() + b"\n"
    data = comment + RMC
    for cut in (5, 100, 160, 200, len(comment) - 3):
        fixes, reader, _ = stream([data[:cut], data[cut:]])
        assert [f.sentences for f in fixes] == [{"RMC"}], cut  # the GGA in the comment: no
        assert reader.accepted == 1 and reader.rejected == {}, cut


# -- bytes a sentence cannot hold, times no clock shows ---------------------------------------

@pytest.mark.parametrize("where", ["alone", "after junk", "in a batch"])
def test_a_nul_inside_a_sentence_makes_it_invalid(where: str) -> None:
    body = GGA.strip()[1:-3]
    nul = b"$%s\x00*%02X\r\n" % (body, checksum(body))   # a NUL leaves the XOR unchanged
    data = nul if where != "after junk" else b"junk" + nul
    if where == "in a batch":
        fixes, reader, _ = batch([data + RMC])
    else:
        fixes, reader, _ = stream([data + RMC])
    assert reader.rejected.get("bad_character") == 1 and reader.accepted == 1
    assert [f.sentences for f in fixes] == [{"RMC"}]


@pytest.mark.parametrize("decode", [stream, batch])
def test_an_impossible_time_is_rejected_not_attached_to_the_epoch(decode: object) -> None:
    moved = sentence("GPGGA,996161.00,0101.0000,S,00101.0000,E,1,04,1.5,10.0,M,,M,,")
    fixes, _, epochs = decode([GGA + moved + RMC])  # type: ignore[operator]
    [fix] = fixes
    assert fix.lat_deg == pytest.approx(44 + 4.1306 / 60)  # not moved to 1 deg S
    assert fix.alt_msl_m == pytest.approx(1127.7) and epochs.bad_times == 1


def test_crafted_sentences_that_crashed_the_decoder_are_handled() -> None:
    cases = [
        sentence("GPVTG,1,T,3,4"),                                 # T form cut short
        sentence("GPZDA,101010.00,01,01,10000000000,00,00"),       # a year beyond any date
        sentence("GPGGA,101010.00,inf,N,01131.000,E,1,08,0.9,545.4,M,,M,,"),
        sentence("GPGGA,101010.00,4807.038,N,01131.000,E,1,inf,0.9,545.4,M,,M,,"),
        b"!GGGA,101010.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,,M,,*00\r\n",
    ]
    cases[-1] = b"!%s*%02X\r\n" % (cases[-1][1:-5], checksum(cases[-1][1:-5]))
    for data in cases:                      # each raised before; now both ways agree
        ours, _, streamed = batch([data]), None, stream([data])
        assert [fix_key(f) for f in ours[0]] == [fix_key(f) for f in streamed[0]], data
        assert ours[2] == streamed[2]
    # An encapsulated ("!") sentence is passed on, never decoded, whatever its address says.
    fixes, _, epochs = stream([cases[-1]])
    assert fixes == [] and epochs.unknown == 1


# -- bounded memory --------------------------------------------------------------------------

def _zeros(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    block = bytes(size)
    for _ in range(total // size):
        yield block


@needs_fork
def test_an_endless_stream_of_zeros_decodes_in_bounded_memory() -> None:
    def decode_zeros() -> tuple[int, int, int]:
        reader = NmeaReader()
        assembler = EpochAssembler()
        for chunk in _zeros(256 << 20, 1 << 16):
            assembler.push_bodies(*reader.feed_bodies(chunk))
        fixes = list(CaptureStream(_zeros(256 << 20)))
        return len(fixes), reader.stats.accepted, reader.stats.garbage_bytes

    fixes, accepted, junk = run_bounded(decode_zeros, memory_mib=96, timeout_s=120)
    assert (fixes, accepted) == (0, 0) and junk > 200 << 20  # counted as junk as it went


@needs_fork
def test_gps_decode_of_dev_zero_gives_up_with_a_clear_error() -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")

    def decode() -> str:
        try:
            read_capture("/dev/zero")
        except LogFormatError as exc:
            return str(exc)
        return "decoded"

    message = run_bounded(decode, memory_mib=96, timeout_s=120)
    assert message.startswith("/dev/zero: no NMEA sentence with a good checksum in the first")
    assert run_bounded(lambda: main(["gps", "decode", "/dev/zero"]), memory_mib=96,
                       timeout_s=120) != 0


# -- fuzzing under RLIMIT_AS ------------------------------------------------------------------

def _lines() -> list[bytes]:
    real = []
    for log in LOGS[:10]:
        real += [ln + b"\r\n" for ln in log.read_bytes().splitlines()[:100]
                 if ln.startswith(b"$")]
    return real or [GGA, RMC]


REAL = _lines()


@st.composite
def nmea_streams(draw: st.DrawFn) -> list[bytes]:
    """Real sentences mutated (bytes flipped, inserted, deleted), junk between, in reads."""
    parts = []
    for _ in range(draw(st.integers(1, 12))):
        line = bytearray(draw(st.sampled_from(REAL)))
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(line)))
            op = draw(st.sampled_from(["flip", "insert", "delete"]))
            byte = draw(st.integers(0, 255))
            if op == "insert" or at == len(line):
                line[at:at] = bytes([byte])
            elif op == "flip":
                line[at] = byte
            else:
                del line[at]
        parts.append(bytes(line))
        if draw(st.booleans()):
            parts.append(draw(st.binary(max_size=40)))
    data = b"".join(parts)
    sizes = draw(st.lists(st.integers(1, 300), min_size=1, max_size=6))
    return split(data, sizes) if data else [b""]


def _checked(data: bytes, body: bytes) -> bool:
    """Whether ``body`` came from a sentence in ``data`` whose checksum matches it."""
    raw = Sentence(body, 0).raw
    return raw in data or raw[:-2] + raw[-2:].lower() in data


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(nmea_streams())
def _fuzz_nmea(chunks: list[bytes]) -> None:
    data = b"".join(chunks)
    reader = NmeaReader()
    assembler = EpochAssembler()
    try:
        for chunk in chunks:
            bodies, times = reader.feed_bodies(chunk)
            for body in bodies:           # no bad checksum is ever accepted
                assert _checked(data, body), (body, data)
            assembler.push_bodies(bodies, times)
        assembler.flush()
        batch([data])
    except SensekitError:
        pass                              # sensekit's own errors are allowed; nothing else
    assert reader.stats.accepted <= reader.stats.read


@needs_fork
def test_fuzzed_nmea_streams_in_bounded_memory_and_time() -> None:
    """300 fuzzed streams (max_examples=300), the child limited to +256 MiB and 10 minutes."""
    run_bounded(_fuzz_nmea, memory_mib=256, timeout_s=600)


@st.composite
def ubx_streams(draw: st.DrawFn) -> tuple[list[bytes], list[bytes]]:
    """Good UBX frames, some corrupted, between NMEA text and junk, in reads."""
    parts, good = [], []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["frame", "bad", "text", "junk", "sync"]))
        if kind in ("frame", "bad"):
            payload = draw(st.binary(max_size=300))
            raw = frame(draw(st.integers(0, 255)), draw(st.integers(0, 255)), payload)
            if kind == "bad":
                raw = raw[:-1] + bytes([raw[-1] ^ 0xFF])
            else:
                good.append(raw)
            parts.append(raw)
        elif kind == "text":
            parts.append(draw(st.sampled_from(REAL)))
        elif kind == "sync":
            parts.append(b"\xb5\x62" + draw(st.binary(max_size=8)))
        else:
            parts.append(draw(st.binary(max_size=60)))
    sizes = draw(st.lists(st.integers(1, 200), min_size=1, max_size=6))
    data = b"".join(parts)
    return (split(data, sizes) if data else [b""]), good


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(ubx_streams())
def _fuzz_ubx(case: tuple[list[bytes], list[bytes]]) -> None:
    chunks, _ = case
    data = b"".join(chunks)
    splitter = UbxSplitter()
    text = bytearray()
    frames = []
    for chunk in chunks:
        out, got = splitter.feed(chunk)
        text += out
        frames += got
    for f in frames:                       # every frame handed out has a good checksum
        body = bytes([f.cls, f.id]) + len(f.payload).to_bytes(2, "little") + f.payload
        raw = b"\xb5\x62" + body + ubx_checksum(body)
        assert raw in data
    # Nothing is lost: text and frames account for every byte but a held partial frame.
    assert len(text) + sum(8 + len(f.payload) for f in frames) <= len(data)
    assert len(data) - len(text) - sum(8 + len(f.payload) for f in frames) <= 8 + 4096
    for f in frames:                      # a payload that is not a VALSET: its own error only
        with contextlib.suppress(ValueError):
            parse_valset(f.payload)


@needs_fork
def test_fuzzed_ubx_streams_in_bounded_memory_and_time() -> None:
    """300 fuzzed streams (max_examples=300), the child limited to +256 MiB and 10 minutes."""
    run_bounded(_fuzz_ubx, memory_mib=256, timeout_s=600)


def test_good_frames_among_false_starts_all_come_out() -> None:
    frames = [frame(1, 7, bytes(range(i % 200))) for i in range(50)]
    noise = b"\xb5\x62\xff\xff"  # a frame start whose length is impossible
    data = b"".join(noise + f for f in frames)
    splitter = UbxSplitter()
    got = list(itertools.chain.from_iterable(
        splitter.feed(c)[1] for c in split(data, [7, 100, 3])))
    assert [len(f.payload) for f in got] == [i % 200 for i in range(50)]
