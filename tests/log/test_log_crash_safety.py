"""Cut, zero-filled, killed, damaged and disk-full recordings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest
from log_helpers import MS, imu_packet
from mcap.reader import make_reader

import sensekit.log as sklog
from sensekit.clock import FakeClock
from sensekit.errors import LogFormatError, SampleDropped
from sensekit.log.recorder import Recorder


def small_recording(path: Path, clock: FakeClock, packets: int = 12) -> list[int]:
    """A file with one chunk per packet; returns the file size after each flush."""
    sizes = []
    with Recorder(path, clock=clock, flush_s=1e9) as rec:
        for i in range(packets):
            rec.write(imu_packet(i * 20 * MS, 20))
            rec.flush()
            assert rec.writing == path.with_name(path.name + ".part")
            sizes.append(rec.writing.stat().st_size)
    return sizes


def samples(path: Path, **kw: bool) -> int:
    with sklog.open(path, **kw) as log:
        return sum(len(p) for p in log.packets())


def test_cut_at_every_byte_reads_up_to_last_complete_chunk(tmp_path: Path,
                                                           clock: FakeClock) -> None:
    src = tmp_path / "full.mcap"
    flushed = small_recording(src, clock)
    data = src.read_bytes()
    cut = tmp_path / "cut.mcap"
    for size in range(8, len(data), 7):
        cut.write_bytes(data[:size])
        complete = sum(1 for s in flushed if s <= size)
        got = samples(cut)
        # Every chunk that was flushed before the cut is readable, nothing more is invented.
        assert got >= 20 * (complete - 1), size
        assert got <= 20 * len(flushed)


def test_zero_filled_tail_is_read_up_to_the_zeros(tmp_path: Path, clock: FakeClock) -> None:
    src = tmp_path / "z.mcap"
    flushed = small_recording(src, clock)
    data = src.read_bytes()[:flushed[7] + 50]
    src.write_bytes(data + bytes(64 * 1024))
    with sklog.open(src) as log:
        assert log.truncated_at == flushed[7] and not log.indexed
        assert sum(len(p) for p in log.packets()) == 8 * 20
    with pytest.raises(Exception), open(src, "rb") as fh:  # noqa: B017
        list(make_reader(fh).iter_messages())  # the mcap package gives up on such files


def test_repair_rewrites_a_valid_indexed_file(tmp_path: Path, clock: FakeClock) -> None:
    from sensekit.log.repair import repair

    src = tmp_path / "cutoff.mcap"
    flushed = small_recording(src, clock)
    src.write_bytes(src.read_bytes()[:flushed[5] + 100] + bytes(4096))
    out = repair(src)
    assert out.path == tmp_path / "cutoff.repaired.mcap" and out.messages == 6
    with open(out.path, "rb") as fh:
        reader = make_reader(fh)
        assert reader.get_summary() is not None
        assert sum(1 for _ in reader.iter_messages()) == 6
    with sklog.open(out.path) as log:
        assert log.indexed and len(log.read("imu")) == 120


def test_corrupt_chunk_names_file_and_offset_or_is_skipped(tmp_path: Path,
                                                           clock: FakeClock) -> None:
    src = tmp_path / "bad.mcap"
    small_recording(src, clock)
    with sklog.open(src) as log:
        victim = log.layout.chunks[4]
    data = bytearray(src.read_bytes())
    mid = victim.data_offset + victim.data_len // 2
    data[mid:mid + 16] = b"\xff" * 16
    src.write_bytes(bytes(data))
    with pytest.raises(LogFormatError, match=rf"bad\.mcap.*byte {victim.offset}"):
        samples(src)
    with pytest.warns(SampleDropped, match="1 messages lost"), sklog.open(
            src, skip_corrupt=True) as log:
        assert sum(len(p) for p in log.packets()) == 11 * 20
        assert log.lost_messages == 1 and log.corrupt_chunks == [victim.offset]


def test_damaged_record_header_is_resynced(tmp_path: Path, clock: FakeClock) -> None:
    src = tmp_path / "hdr.mcap"
    small_recording(src, clock)
    with sklog.open(src) as log:
        victim = log.layout.chunks[3]
    data = bytearray(src.read_bytes())
    data[victim.offset + 1:victim.offset + 9] = (2**40).to_bytes(8, "little")
    src.write_bytes(bytes(data[:-200]))  # also drop the footer, forcing a sequential scan
    with pytest.raises(LogFormatError, match=f"byte {victim.offset}"):
        sklog.open(src)
    with pytest.warns(SampleDropped), sklog.open(src, skip_corrupt=True) as log:
        got = sum(len(p) for p in log.packets())
    assert 10 * 20 <= got <= 11 * 20


def test_not_an_mcap_file(tmp_path: Path) -> None:
    path = tmp_path / "Accelerometer.csv"
    path.write_text("time,seconds_elapsed,z,y,x\n")
    with pytest.raises(LogFormatError, match=r"Accelerometer\.csv is not an MCAP file.*byte 0"):
        sklog.open(path)


def test_memory_stays_bounded(tmp_path: Path, clock: FakeClock) -> None:
    def peak(seconds: int) -> int:
        rec = Recorder(tmp_path / f"m{seconds}.mcap", clock=clock, flush_s=1.0, fsync=False)
        packet = imu_packet(0, 1000)
        tracemalloc.start()
        for i in range(seconds):
            rec.write(packet.__class__(packet.stream, packet.t_ns + i * 1000 * MS,
                                       packet.fields, "imu"))
            clock.advance(1.0)
        rec.close()
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    short, long = peak(60), peak(600)
    # Ten times the duration and the chunks (one a second), and no more memory: the indexes
    # are rebuilt from the file at close instead of being kept.
    assert long < short * 1.05 + 8192, (short, long)
    assert short < 4 << 20


KILL_SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    from sensekit.log.recorder import Recorder
    from sensekit.packets import Packet
    rec = Recorder(sys.argv[1], flush_s=0.02)
    i = 0
    while True:
        t = i * 100_000_000 + np.arange(100, dtype=np.int64) * 1_000_000
        rec.write(Packet("imu", t, {"accel_mps2": np.ones((100, 3), np.float32)}, "imu"))
        i += 1
        if i % 5 == 0:
            rec.flush()
            print(rec.samples, flush=True)
""")


def test_sigkill_mid_write_keeps_everything_flushed(tmp_path: Path) -> None:
    path = tmp_path / "killed.mcap"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    flushed = 0
    for line in proc.stdout:
        flushed = int(line)
        if flushed >= 20_000:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not path.exists()  # never renamed: the name says it did not close
    with sklog.open(tmp_path / "killed.mcap.part") as log:
        assert not log.indexed
        got = len(log.read("imu"))
    assert got >= flushed


def test_sigterm_closes_the_file_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "term.mcap"
    script = KILL_SCRIPT.replace(
        "rec = Recorder(sys.argv[1], flush_s=0.02)",
        "rec = Recorder(sys.argv[1], flush_s=0.02)\n"
        "from sensekit.log.record import stop_on_signals\n"
        "stop = stop_on_signals()").replace("while True:", "while not stop.is_set():") + (
        "rec.close()\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if int(line) >= 5000:
            break
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert proc.returncode == 0
    with sklog.open(path) as log:
        assert log.indexed and len(log.read("imu")) >= 5000


def test_mixed_recording_cut_anywhere_never_fails(tmp_path: Path, clock: FakeClock) -> None:
    """JSON (GPS, camera, audio) and packet channels, cut at random bytes, zero-filled or not."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from log_helpers import audio_packet, camera_packet, gps_packet

    src = tmp_path / "mixed.mcap"
    with Recorder(src, clock=clock, flush_s=0.3) as rec:
        for i in range(20):
            rec.write(imu_packet(i * 100 * MS, 100))
            rec.write(audio_packet(i * 100 * MS))
            if i % 5 == 0:
                rec.write(gps_packet(i * 100 * MS))
                rec.write(camera_packet(i * 100 * MS))
            clock.advance(0.1)
    data = src.read_bytes()
    with sklog.open(src) as log:
        total = {s: i.samples for s, i in log.streams.items()}
    cut = tmp_path / "cut.mcap"

    @settings(max_examples=40, deadline=None)
    @given(size=st.integers(8, len(data) - 1), zeros=st.booleans())
    def check(size: int, zeros: bool) -> None:
        cut.write_bytes(data[:size] + (bytes(8192) if zeros else b""))
        with sklog.open(cut) as log:
            for stream, info in log.streams.items():
                assert info.samples <= total[stream]
                assert len(log.read(stream)) == info.samples

    check()


def test_flipped_bytes_give_log_format_errors_or_are_skipped(tmp_path: Path,
                                                            clock: FakeClock) -> None:
    """Whatever a damaged file holds, the reader raises LogFormatError or skips and counts."""
    import warnings

    from hypothesis import given, settings
    from hypothesis import strategies as st
    from log_helpers import audio_packet, camera_packet, gps_packet

    src = tmp_path / "src.mcap"
    with Recorder(src, clock=clock, flush_s=0.3) as rec:
        for i in range(12):
            rec.write(imu_packet(i * 100 * MS, 100))
            rec.write(audio_packet(i * 100 * MS))
            if i % 4 == 0:
                rec.write(gps_packet(i * 100 * MS))
                rec.write(camera_packet(i * 100 * MS))
            clock.advance(0.1)
    data = src.read_bytes()
    bad = tmp_path / "bad.mcap"

    @settings(max_examples=60, deadline=None)
    @given(flips=st.lists(st.tuples(st.integers(8, len(data) - 1), st.integers(0, 255)),
                          min_size=1, max_size=3),
           keep=st.integers(8, len(data)), skip=st.booleans())
    def check(flips: list[tuple[int, int]], keep: int, skip: bool) -> None:
        damaged = bytearray(data)
        for pos, value in flips:
            damaged[pos] = value
        bad.write_bytes(bytes(damaged[:keep]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SampleDropped)
            try:
                with sklog.open(bad, skip_corrupt=skip) as log:
                    for stream in log.stream_names():
                        log.read(stream)
                    assert all(s.samples >= 0 for s in log.streams.values())
            except LogFormatError as exc:
                assert "bad.mcap" in str(exc)

    check()
