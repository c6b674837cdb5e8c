"""``sensekit bench nmea``: NMEA decoding speed against pynmea2, same logs, same run.

Input: the gpsd receiver logs of the real-recordings corpus (``$SENSEKIT_CORPUS/gpsd`` or
``../shared/corpus/gpsd`` beside the project), repeated to a few hundred thousand sentences; on
a device without the corpus, sentences from the emulated receiver stand in.

sensekit's job: bytes in, checksums verified, one fix per epoch out (lat, lon, time and the
rest). pynmea2's job (the peer): ``pynmea2.parse`` of every line with its checksum checked,
then read latitude, longitude and time where the sentence has them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from . import Case, case

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

    start = time.perf_counter()
    decoded = decode_capture(data)
    seconds = time.perf_counter() - start
    return seconds, decoded.reader.accepted, sum(f.has_fix for f in decoded.fixes)


def _pynmea2(lines: list[str]) -> tuple[float, int, int]:
    import pynmea2

    start = time.perf_counter()
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
    return time.perf_counter() - start, parsed, positions


def run(quick: bool) -> list[Case]:
    """Decode the logs with sensekit and with pynmea2; sentences per second of each."""
    data, source = _inputs(quick)
    lines = [ln for ln in data.decode("ascii", "replace").splitlines()
             if ln and not ln.startswith("#")]
    repeats = 5 if quick else 7
    ours, peers = [], []
    for _ in range(repeats):                  # interleaved, so load changes hit both alike
        ours.append(_sensekit(data))
        peers.append(_pynmea2(lines))
    best_s, accepted, fixes = min(ours)
    peer_s, parsed, positions = min(peers)
    note = (f"{source}, {len(lines):,} lines; sensekit: {accepted:,} sentences, {fixes:,} fixes "
            f"(epochs assembled); pynmea2: {parsed:,} parsed, {positions:,} positions read")
    return [
        case("sentences/s", accepted / best_s, "sentences/s", parsed / peer_s, note=note),
        case("time for the logs", best_s, "s", peer_s, higher_is_better=False,
             note="same bytes, best of several runs"),
    ]
