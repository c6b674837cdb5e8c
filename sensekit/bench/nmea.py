"""``sensekit bench nmea``: NMEA decoding speed against pynmea2, same logs, same run.

Input: the gpsd receiver logs of the real-recordings corpus (``$SENSEKIT_CORPUS/gpsd`` or
``../shared/corpus/gpsd`` beside the project), repeated to a few hundred thousand sentences; on
a device without the corpus, sentences from the emulated receiver stand in.

sensekit's job: bytes in, checksums verified, one fix per epoch out (lat, lon, time and the
rest), with :func:`~sensekit.drivers.gps.capture.decode_capture` (the columnar decoder, a
block at a time) and, as a second case, with the streaming reader and assembler a driver uses
on a live port (64 KiB reads). pynmea2's job (the peer): ``pynmea2.parse`` of every line with
its checksum checked, then read latitude, longitude and time where the sentence has them.

Both sides run in this process, in turn, several times; each is timed in CPU seconds of this
thread (``time.thread_time``), which other processes on the machine disturb far less than the
wall clock. The ratio of each pair is kept; the case reports their median and spread.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import SensekitError
from . import Case, repeated

__all__ = ["run"]


def _corpus_logs() -> list[bytes]:
    here = Path(__file__).resolve().parents[2]
    roots = [os.environ.get("SENSEKIT_CORPUS", ""), str(here.parent / "shared" / "corpus"),
             "../shared/corpus"]
    for root in roots:
        folder = Path(root) / "gpsd" if root else None
        if folder is not None and folder.is_dir():
            return [p.read_bytes() for p in sorted(folder.glob("*.log"))]
    return []


def _emulated_log(seconds: int = 600) -> bytes:
    from ..testing.gps_receiver import GpsReceiverEmulator

    emu = GpsReceiverEmulator()
    return b"".join(emu.burst(float(t)) for t in range(seconds))


def _inputs(quick: bool) -> tuple[bytes, str]:
    logs = _corpus_logs()
    source = "gpsd corpus logs"
    if not logs:
        logs, source = [_emulated_log()], "emulated receiver (corpus not found)"
    one = b"".join(log if log.endswith(b"\n") else log + b"\n" for log in logs)
    target = 2_000_000 if quick else 12_000_000
    return one * max(1, target // len(one)), source


def _sensekit(data: bytes) -> tuple[float, int, int]:
    from ..drivers.gps.capture import decode_capture

    start = time.thread_time()
    decoded = decode_capture(data)
    seconds = time.thread_time() - start
    return seconds, decoded.reader.accepted, sum(f.has_fix for f in decoded.fixes)


def _streaming(data: bytes) -> tuple[float, int, int]:
    from ..drivers.gps.epoch import EpochAssembler
    from ..drivers.gps.nmea import NmeaReader

    start = time.thread_time()
    reader, assembler = NmeaReader(comments=True), EpochAssembler()
    fixes = []
    for at in range(0, len(data), 1 << 16):
        fixes += assembler.push_bodies(*reader.feed_bodies(data[at:at + (1 << 16)]))
    fixes += assembler.flush()
    seconds = time.thread_time() - start
    return seconds, reader.stats.accepted, sum(f.has_fix for f in fixes)


def _pynmea2(lines: list[str]) -> tuple[float, int, int]:
    import pynmea2

    start = time.thread_time()
    parsed = positions = 0
    for line in lines:
        try:
            msg = pynmea2.parse(line, check=True)
        except (pynmea2.ParseError, pynmea2.ChecksumError, AttributeError, ValueError):
            continue
        parsed += 1
        if hasattr(msg, "latitude"):
            try:
                lat, lon = msg.latitude, msg.longitude
                stamp = getattr(msg, "timestamp", None)
            except (ValueError, TypeError):
                continue
            positions += bool(lat or lon or stamp)
    return time.thread_time() - start, parsed, positions


def run(quick: bool) -> list[Case]:
    """Decode the logs with sensekit (batch and streaming) and pynmea2, in turn, repeated."""
    data, source = _inputs(quick)
    lines = [ln for ln in data.decode("ascii", "replace").splitlines()
             if ln and not ln.startswith("#")]
    repeats = 5 if quick else 7
    ours, streamed, peers = [], [], []
    for _ in range(repeats):                  # interleaved, so load changes hit all alike
        ours.append(_sensekit(data))
        streamed.append(_streaming(data))
        peers.append(_pynmea2(lines))
    _, accepted, fixes = ours[0]
    _, parsed, positions = peers[0]
    if streamed[0][1:] != ours[0][1:]:
        raise SensekitError(f"batch and streaming decoding disagree: {ours[0][1:]} sentences "
                            f"and fixes against {streamed[0][1:]}")
    note = (f"{source}, {len(lines):,} lines; sensekit: {accepted:,} sentences, {fixes:,} fixes "
            f"(epochs assembled); pynmea2: {parsed:,} parsed, {positions:,} positions read; "
            "CPU time of this thread")
    per_s = [accepted / o[0] for o in ours]
    return [
        repeated("sentences/s", per_s, "sentences/s", [p[1] / p[0] for p in peers],
                 note=note),
        repeated("sentences/s streaming", [accepted / o[0] for o in streamed], "sentences/s",
                 [p[1] / p[0] for p in peers],
                 note="the reader and assembler a live port uses, 64 KiB reads; same fixes"),
        repeated("time for the logs", [o[0] for o in ours], "s", [p[0] for p in peers],
                 higher_is_better=False, note="same bytes"),
    ]
