"""Fuzzing the NMEA reader and assembler with random bytes and mutated real sentences."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensekit.drivers.gps.epoch import EpochAssembler, Fix
from sensekit.drivers.gps.nmea import NmeaReader, checksum

ROOT = Path(__file__).resolve().parents[3]
LOG = ROOT.parent / "shared" / "corpus" / "gpsd" / "ublox-zed-f9p-nmea.log"
REAL = [ln + b"\r\n" for ln in LOG.read_bytes().splitlines()[:200]
        if ln.startswith(b"$")] if LOG.is_file() else [
    b"$GPGGA,202640.000,4404.1306,N,12118.8515,W,2,10,0.98,1127.7,M,-19.6,M,0000,0000*6C\r\n",
    b"$GPRMC,202640.000,A,4404.1306,N,12118.8515,W,0.03,225.97,130415,,,D*73\r\n"]


def run(chunks: list[bytes], eager: bool = False) -> tuple[NmeaReader, list[Fix]]:
    reader = NmeaReader()
    assembler = EpochAssembler(eager=eager)
    fixes: list[Fix] = []
    for chunk in chunks:
        fixes += assembler.push_all(reader.feed(chunk))
    return reader, fixes + assembler.flush()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=300), max_size=8), st.booleans())
def test_random_bytes_never_raise(chunks: list[bytes], eager: bool) -> None:
    reader, fixes = run(chunks, eager)
    stats = reader.stats
    assert stats.accepted <= stats.read
    assert all(f.mode in (0, 1, 2, 3) for f in fixes)


def _good(line: bytes) -> bool:
    body, star, given_ck = line.strip().partition(b"*")
    return bool(star) and body[:1] == b"$" and given_ck.upper() == b"%02X" % checksum(body[1:])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(REAL) - 1), st.integers(0, 200), st.integers(0, 255),
       st.integers(1, 40))
def test_mutated_sentences_with_bad_checksums_give_no_fix(index: int, where: int, value: int,
                                                          cut: int) -> None:
    line = bytearray(REAL[index])
    where %= len(line) - 2
    line[where] = value
    mutated = bytes(line)
    reader, fixes = run([mutated[:cut], mutated[cut:]])
    if not _good(mutated):
        # The one sentence failed its checksum: nothing may come of it. (A mutated "$" starts
        # a new sentence whose checksum may match by chance, and "!" marks an encapsulated
        # sentence with the same checksum: neither can be a fix.)
        assert not any(f.has_fix for f in fixes)
        assert reader.stats.accepted == 0 or b"$" in mutated[1:] or mutated[:1] == b"!"
    else:
        assert reader.stats.accepted == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=6))
def test_ubx_splitter_never_raises_and_loses_no_text(chunks: list[bytes]) -> None:
    from sensekit.drivers.gps.ubx import UbxSplitter

    splitter = UbxSplitter()
    text = b"".join(splitter.feed(chunk)[0] for chunk in chunks)
    data = b"".join(chunks)
    # Bytes outside good frames come out in order (a trailing partial frame may be held).
    assert len(text) <= len(data)
    if b"\xb5\x62" not in data:       # no frame start: all text, but a last 0xB5 may wait
        assert text == data or (text == data[:-1] and data.endswith(b"\xb5"))
