"""Repair and loss counts on damaged recordings, judged against the mcap package's own reading
of the undamaged file (an independent witness of which messages each chunk held)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest
from log_helpers import MS, imu_packet
from mcap.reader import make_reader
from mcap.records import Message
from mcap.stream_reader import StreamReader, breakup_chunk

import sensekit.log as sklog
from sensekit.cli import main
from sensekit.clock import FakeClock
from sensekit.errors import SampleDropped
from sensekit.log.recorder import Recorder
from sensekit.log.repair import repair

ZEROED = 64 * 1024
DEMO = Path(__file__).resolve().parents[2] / "data" / "demo.mcap"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4,200 messages of 10 IMU samples, 20 messages to a chunk (210 chunks, ~1.5 MB)."""
    path = tmp_path_factory.mktemp("rec") / "long.mcap"
    clock = FakeClock()
    with Recorder(path, clock=clock, flush_s=1.95, fsync=False) as rec:
        for i in range(4200):
            rec.write(imu_packet(i * 10 * MS, 10, seed=i))
            clock.advance(0.1)
    return path


def witness(path: Path, start: int, stop: int) -> tuple[int, int]:
    """(all messages, messages in the chunks overlapping bytes [start, stop)), counted by the
    mcap package from the undamaged file: each hit chunk is decompressed and its records
    listed."""
    raw = path.read_bytes()
    with open(path, "rb") as fh:
        reader = make_reader(fh)
        summary = reader.get_summary()
        assert summary is not None
        total = sum(1 for _ in reader.iter_messages())
    hit = [c for c in summary.chunk_indexes
           if c.chunk_start_offset < stop and c.chunk_start_offset + c.chunk_length > start]
    assert hit, "the damage must hit at least one chunk"
    lost = 0
    for c in hit:
        record = raw[c.chunk_start_offset:c.chunk_start_offset + c.chunk_length]
        chunk = next(iter(StreamReader(io.BytesIO(record), skip_magic=True,
                                       emit_chunks=True).records))
        lost += sum(isinstance(r, Message) for r in breakup_chunk(chunk))
    return total, lost


def damaged_copy(src: Path, dst: Path, start: int, length: int = ZEROED,
                 keep_summary: bool = True) -> Path:
    data = bytearray(src.read_bytes())
    data[start:start + length] = bytes(length)
    if not keep_summary:
        with sklog.open(src) as log:
            assert log.indexed
        # Cut the summary section off (as a damaged index would leave it): keep the data
        # section, including the recorder's own closing tally.
        data_end = bytes(data).rindex(b"\x0f\x04\x00\x00\x00\x00\x00\x00\x00")
        data = data[:data_end]
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("keep_summary", [True, False], ids=["indexed", "index-lost"])
def test_repair_keeps_everything_outside_64k_of_zeros(recording: Path, tmp_path: Path,
                                                      keep_summary: bool) -> None:
    start = recording.stat().st_size // 2
    total, lost = witness(recording, start, start + ZEROED)
    src = damaged_copy(recording, tmp_path / "zeroed.mcap", start, keep_summary=keep_summary)
    result = repair(src)
    assert result.messages == total - lost  # every message outside the damaged chunks
    assert result.lost_messages == lost  # and exactly what was lost, no more, no less
    with sklog.open(result.path) as log:
        assert log.indexed
        assert len(log.read("imu")) == 10 * (total - lost)


def test_the_demo_recording_with_64k_zeroed_keeps_every_recoverable_message(
        tmp_path: Path) -> None:
    """The case as it was found: repair stopped at the damage and kept 2,090 of the 4,221
    recoverable messages (of 4,317) of data/demo.mcap; all 4,221 are kept now, 96 lost."""
    demo = DEMO
    start = demo.stat().st_size // 2
    total, lost = witness(demo, start, start + ZEROED)
    src = damaged_copy(demo, tmp_path / "demo-zeroed.mcap", start)
    result = repair(src)
    assert result.messages == total - lost and result.lost_messages == lost > 0


def test_info_skip_corrupt_counts_what_was_lost(recording: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    start = recording.stat().st_size // 3
    total, lost = witness(recording, start, start + ZEROED)
    src = damaged_copy(recording, tmp_path / "zeroed.mcap", start)
    assert main(["info", str(src), "--skip-corrupt", "--json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["streams"]["imu"]["messages"] == total - lost
    assert doc["file"]["lost messages"] == lost


def test_crashed_file_with_zeros_in_the_middle_is_read_past_them(recording: Path,
                                                                tmp_path: Path) -> None:
    """No index and no closing tally (a crash), 64 KiB of zeros in the middle: every chunk after
    the zeros is still found; the loss is reported as unknown, never as a made-up number."""
    start = recording.stat().st_size // 2
    total, lost = witness(recording, start, start + ZEROED)
    data = recording.read_bytes()
    tally = data.index(b"sensekit.summary") - 13  # the metadata record holding the tally
    src = damaged_copy(recording, tmp_path / "crash.mcap", start)
    src.write_bytes(src.read_bytes()[:tally])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDropped)
        result = repair(src)
    assert result.messages == total - lost
    assert result.lost_messages is None and result.lost_at_least <= lost


def _chunk_and_index(path: Path, k: int) -> tuple[int, int, int, int]:
    """(chunk data offset, data length, message index offset, messages) of chunk ``k``."""
    with open(path, "rb") as fh:
        reader = make_reader(fh)
        summary = reader.get_summary()
        assert summary is not None
        index = summary.chunk_indexes[k]
        messages = sum(1 for _, _, m in reader.iter_messages()
                       if index.message_start_time <= m.log_time <= index.message_end_time)
    head = 9 + 8 * 3 + 4 + 4 + len(index.compression) + 8  # up to the chunk's data
    (mi_offset,) = index.message_index_offsets.values()
    return index.chunk_start_offset + head, index.compressed_size, mi_offset, messages


@pytest.mark.parametrize("index_damage", ["huge count", "zeroed"])
def test_loss_count_is_exact_when_the_message_index_is_damaged(
        recording: Path, tmp_path: Path, index_damage: str) -> None:
    """A damaged chunk whose message index is damaged too: its count used to be read from the
    damaged index (a million messages, or none); it is now what the file's statistics say."""
    data_at, data_len, index_at, messages = _chunk_and_index(recording, 100)
    data = bytearray(recording.read_bytes())
    data[data_at + data_len // 2:data_at + data_len // 2 + 32] = b"\xa5" * 32
    if index_damage == "zeroed":
        data[index_at:index_at + 40] = bytes(40)
    else:  # the u32 byte length of the (time, offset) pairs, after opcode, length, channel
        data[index_at + 11:index_at + 15] = (0x00FF0000).to_bytes(4, "little")
    src = tmp_path / "bad-index.mcap"
    src.write_bytes(bytes(data))
    result = repair(src)
    assert result.lost_messages == messages
    assert result.messages == 4200 - messages
    with pytest.warns(SampleDropped), sklog.open(src, skip_corrupt=True) as log:
        assert sum(i.messages for i in log.scan_streams().values()) == 4200 - messages
        assert log.loss().messages == messages
