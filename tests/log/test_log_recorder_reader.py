"""Recorder -> reader round trips, metadata, chunking, splitting and time-range reads."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from log_helpers import MS, audio_packet, camera_packet, gps_packet, imu_packet, light_packet
from mcap.reader import make_reader

import sensekit.log as sklog
from sensekit.clock import FakeClock
from sensekit.errors import LogFormatError
from sensekit.log.exporters import to_foxglove_mcap
from sensekit.log.recorder import Recorder
from sensekit.packets import Packet


def record_mixed(path: Path, clock: FakeClock, seconds: int = 6, **kw: object) -> None:
    with Recorder(path, clock=clock, rig_config='[rig]\nname = "t"\n', clock_synced=False,
                  **kw) as rec:  # type: ignore[arg-type]
        rec.add_device("imu", {"driver": "mpu6050", "url": "emu://", "accel_range_g": 4})
        for i in range(seconds * 10):
            t0 = i * 100 * MS
            rec.write(imu_packet(t0, 100))
            rec.write(audio_packet(t0))
            if i % 10 == 0:
                rec.write(gps_packet(t0, fix=i != 20))
                rec.write(light_packet(t0, 250.0 + i))
                rec.write(camera_packet(t0))
            clock.advance(0.1)


def test_every_stream_round_trips(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "mixed.mcap"
    record_mixed(path, clock)
    with sklog.open(path) as log:
        assert log.indexed and log.truncated_at is None
        streams = log.streams
        assert set(streams) == {"imu", "audio", "gps", "light", "camera"}
        imu = log.read("imu")
        assert len(imu) == 6000 and streams["imu"].rate_hz == pytest.approx(1000.0)
        expected = imu_packet(2500 * MS, 100)
        part = log.read("imu", 2500 * MS, 2600 * MS)
        np.testing.assert_array_equal(part.t_ns, expected.t_ns)
        np.testing.assert_array_equal(part["accel_mps2"], expected["accel_mps2"])
        audio = log.read("audio")
        assert len(audio) == 60 * 1600 and audio["pcm"].dtype == np.int16
        np.testing.assert_array_equal(audio["pcm"][:1600], audio_packet(0)["pcm"])
        np.testing.assert_array_equal(audio.t_ns[:1600], audio_packet(0).t_ns)
        gps = log.read("gps")
        assert gps["lat_deg"][0] == 52.52 and np.isnan(gps["lat_deg"][2])
        assert gps["mode"].tolist() == [3, 3, 1, 3, 3, 3]
        cam = log.read("camera")
        assert cam["image"].shape == (6, 48, 64, 3)
        assert next(log.packets(["camera"])).meta == {"mode": "dnn", "size": [64, 48]}
        diff = np.abs(cam["image"][0].astype(int) - camera_packet(0)["image"][0])
        assert diff.mean() < 3  # JPEG at quality 85
        light = log.read("light")
        assert light["lux"].tolist() == [250.0, 260.0, 270.0, 280.0, 290.0, 300.0]


def test_frames_of_several_sizes_are_read_packet_by_packet(tmp_path: Path,
                                                          clock: FakeClock) -> None:
    with Recorder(tmp_path / "c.mcap", clock=clock) as rec:
        rec.write(camera_packet(0))
        rec.write(camera_packet(100 * MS, h=96, w=128))  # a photo between preview frames
    with sklog.open(tmp_path / "c.mcap") as log:
        with pytest.raises(ValueError, match=r"changes shape.*iterate packets"):
            log.read("camera")
        sizes = [p["image"].shape[1:3] for p in log.packets(["camera"])]
    assert sizes == [(48, 64), (96, 128)]


def test_power_rails_round_trip_with_units_in_the_schema(tmp_path: Path,
                                                         clock: FakeClock) -> None:
    t = np.arange(10, dtype=np.int64) * 100 * MS
    volts = np.tile(np.array([5.1, 3.3, 1.8], np.float32), (10, 1))
    watts = (volts * np.linspace(0.1, 0.5, 10, dtype=np.float32)[:, None]).astype(np.float32)
    packet = Packet("power", t, {"voltage_v": volts, "power_w": watts}, "power",
                    {"rails": ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]})
    with Recorder(tmp_path / "p.mcap", clock=clock) as rec:
        rec.write(packet)
    with sklog.open(tmp_path / "p.mcap") as log:
        back = next(log.packets(["power"]))
        schema = json.loads(next(c.schema_data for c in log.layout.channels.values()
                                 if c.topic == "power"))
    np.testing.assert_array_equal(back["power_w"], watts)
    assert back.meta == {"rails": ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]}
    assert [(f["name"], f["unit"], f["shape"]) for f in schema["fields"]] == [
        ("voltage_v", "V", [3]), ("power_w", "W", [3])]


def test_text_fields_round_trip(tmp_path: Path, clock: FakeClock) -> None:
    """Custom streams may carry fixed-width text, as the controller's decision log does."""
    packet = Packet("controller", np.array([5, 9], np.int64), {
        "stream": np.array(["imu", "camera"], "<U16"),
        "reason": np.array(["still for 30 s", "energy budget"], "<U120"),
        "new": np.array([25.0, 0.0], np.float32)})
    with Recorder(tmp_path / "d.mcap", clock=clock) as rec:
        rec.write(packet)
    with sklog.open(tmp_path / "d.mcap") as log:
        back = log.read("controller")
    for name in packet.fields:
        np.testing.assert_array_equal(back[name], packet[name])
    with sklog.open(tmp_path / "d.mcap") as log:
        assert to_foxglove_mcap(log, tmp_path / "fox.mcap") == 2
    with open(tmp_path / "fox.mcap", "rb") as fh:
        first = json.loads(next(iter(make_reader(fh).iter_messages()))[2].data)
    assert first["reason"] == "still for 30 s" and first["new"] == 25.0


def test_float_audio_keeps_full_precision(tmp_path: Path, clock: FakeClock) -> None:
    pcm = (np.sin(np.arange(1600) / 7.0) * 0.3).astype(np.float32)[:, None]
    packet = audio_packet(0)
    with Recorder(tmp_path / "f.mcap", clock=clock) as rec:
        rec.write(packet.__class__("audio", packet.t_ns, {"pcm": pcm}, "audio"))
    with sklog.open(tmp_path / "f.mcap") as log:
        back = log.read("audio")
        assert log.streams["audio"].schema == "sensekit.Packet.audio"  # RawAudio is pcm-s16
    np.testing.assert_array_equal(back["pcm"], pcm)


def test_closing_summary_agrees_with_a_full_scan(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.mcap"
    with Recorder(path, clock=clock) as rec:
        for i in range(30):
            if i != 12:  # a 100 ms gap in the IMU stream
                rec.write(imu_packet(i * 100 * MS, 100))
            if i % 10 == 0:
                rec.write(light_packet(i * 100 * MS, 5.0))
    with sklog.open(path) as log:
        fast, scanned = log.streams, log.scan_streams()
    assert fast == scanned
    assert fast["imu"].samples == 2900 and fast["imu"].gaps == 1
    assert fast["imu"].gap_s == pytest.approx(0.1, abs=0.002)


def test_file_states_schemas_metadata_and_rig(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "m.mcap"
    record_mixed(path, clock, seconds=2)
    with open(path, "rb") as fh:
        reader = make_reader(fh)
        summary = reader.get_summary()
        assert summary is not None
        schemas = {s.name for s in summary.schemas.values()}
        assert {"foxglove.LocationFix", "foxglove.CompressedImage", "foxglove.RawAudio",
                "sensekit.Packet.imu", "sensekit.Packet.light"} <= schemas
        imu_schema = next(s for s in summary.schemas.values() if s.name == "sensekit.Packet.imu")
        fields = json.loads(imu_schema.data)["fields"]
        assert [(f["name"], f["unit"]) for f in fields] == [("accel_mps2", "m/s^2"),
                                                             ("gyro_rads", "rad/s")]
        assert all(c.compression == "lz4" for c in summary.chunk_indexes)
    with sklog.open(path) as log:
        assert log.clock_synchronized == "false"
        assert abs(log.wall_offset_ns) > 0
        assert log.devices()["imu"]["driver"] == "mpu6050"
        assert log.attachment("rig.toml").startswith(b"[rig]")


def test_summary_rebuilt_at_close_is_valid_mcap(tmp_path: Path, clock: FakeClock) -> None:
    import struct
    import zlib

    from mcap.stream_reader import StreamReader

    path = tmp_path / "sum.mcap"
    record_mixed(path, clock, seconds=3, flush_s=0.25)
    with open(path, "rb") as fh:
        reader = make_reader(fh)
        summary = reader.get_summary()
        assert summary is not None
        messages = list(reader.iter_messages())
        stats = summary.statistics
        assert stats is not None and stats.message_count == len(messages)
        assert stats.chunk_count == len(summary.chunk_indexes) >= 10
        per_topic: dict[str, int] = {}
        for _, channel, _ in messages:
            per_topic[channel.topic] = per_topic.get(channel.topic, 0) + 1
        assert {summary.channels[c].topic: n for c, n in stats.channel_message_counts.items()
                } == per_topic
        assert [a.name for a in reader.iter_attachments()] == ["rig.toml"]
        assert "sensekit.summary" in [m.name for m in reader.iter_metadata()]
        # log_time is UTC: host time plus the offset the recorder measured at the start.
        offset = int(next(m for m in reader.iter_metadata()
                          if m.name == "sensekit.log").metadata["wall_offset_ns"])
        with warnings.catch_warnings():  # newer mcap renames these; older lacks the new names
            warnings.simplefilter("ignore", DeprecationWarning)
            imu_range = list(reader.iter_messages(topics=["imu"], start_time=1000 * MS + offset,
                                                  end_time=2000 * MS + offset))
        assert len(imu_range) == 10
        assert min(m.log_time for _, _, m in messages) > 1_600_000_000 * 10**9  # not 1970
    data = path.read_bytes()
    _, _, start, _, crc = struct.unpack_from("<BQQQI", data, len(data) - 8 - 29)
    assert zlib.crc32(data[start:len(data) - 12]) == crc
    with open(path, "rb") as fh:  # every chunk and the data section pass their CRC checks
        assert sum(1 for _ in StreamReader(fh, validate_crcs=True).records) > len(messages)


def test_flush_interval_closes_chunks_by_time(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "f.mcap"
    with Recorder(path, clock=clock, flush_s=0.5) as rec:
        for i in range(40):  # 4 s of IMU in 100 ms packets, far below 1 MiB
            rec.write(imu_packet(i * 100 * MS, 100))
            clock.advance(0.1)
    with sklog.open(path) as log:
        assert 7 <= len(log.layout.chunks) <= 9
        assert all(c.end_ns - c.start_ns <= 600 * MS for c in log.layout.chunks)


def test_split_by_time_writes_readable_parts(tmp_path: Path, clock: FakeClock) -> None:
    rec = Recorder(tmp_path / "long.mcap", clock=clock, split_s=2.0)
    for i in range(50):
        rec.write(imu_packet(i * 100 * MS, 100))
        clock.advance(0.1)
    rec.close()
    assert [p.name for p in rec.paths] == [f"long-{k:04d}.mcap" for k in range(3)]
    counts = []
    for p in rec.paths:
        with sklog.open(p) as log:
            counts.append(len(log.read("imu")))
    assert sum(counts) == 5000 and counts[0] == 2000


@pytest.mark.parametrize("cut", [False, True])
def test_time_range_reads_only_overlapping_chunks(tmp_path: Path, clock: FakeClock,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  cut: bool) -> None:
    path = tmp_path / "r.mcap"
    with Recorder(path, clock=clock, flush_s=1.0) as rec:
        for i in range(300):
            rec.write(imu_packet(i * 100 * MS, 100))
            clock.advance(0.1)
    if cut:  # no index: the sequential scan reads record headers, not chunk contents
        path.write_bytes(path.read_bytes()[:-3000])
    import sensekit.log.reader as reader_mod

    loaded: list[int] = []
    real = reader_mod.split_chunk

    def spy(*args: object) -> object:
        loaded.append(args[2].offset)  # type: ignore[attr-defined]
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(reader_mod, "split_chunk", spy)
    with sklog.open(path) as log:
        assert log.indexed is not cut
        part = log.read("imu", 20_000 * MS, 21_000 * MS)
        assert len(part) == 1000 and part.t_ns[0] == 20_000 * MS
        assert len(loaded) < len(log.layout.chunks) // 3


def test_unchunked_files_are_refused_with_a_hint(tmp_path: Path) -> None:
    from mcap.writer import Writer

    path = tmp_path / "flat.mcap"
    with open(path, "wb") as fh:
        w = Writer(fh, use_chunking=False)
        w.start()
        sid = w.register_schema("x", "jsonschema", b"{}")
        cid = w.register_channel("/x", "json", sid)
        for i in range(3):
            w.add_message(cid, i, b"{}", i)
        w.finish()
    with pytest.raises(LogFormatError, match=r"flat\.mcap: 3 messages are stored outside chunks"):
        sklog.open(path)


def test_long_packets_are_split_so_time_ranges_find_them(tmp_path: Path,
                                                         clock: FakeClock) -> None:
    """A 100 s packet (an imported table, a user's batch) still reads back by time range."""
    t = np.arange(1000, dtype=np.int64) * 100 * MS
    packet = Packet("light", t, {"lux": np.arange(1000, dtype=np.float32)}, "light")
    with Recorder(tmp_path / "long.mcap", clock=clock) as rec:
        rec.write(packet)
    with sklog.open(tmp_path / "long.mcap") as log:
        part = log.read("light", 80_000 * MS, 80_500 * MS)
        assert log.streams["light"].messages == 100
    assert part["lux"].tolist() == [800.0, 801.0, 802.0, 803.0, 804.0]


def test_reader_reads_other_tools_files(tmp_path: Path) -> None:
    """A plain mcap-package file with a chunk index and json messages still lists its chunks."""
    from mcap.writer import Writer

    path = tmp_path / "other.mcap"
    with open(path, "wb") as fh:
        w = Writer(fh)
        w.start()
        sid = w.register_schema("x", "jsonschema", b"{}")
        cid = w.register_channel("/x", "json", sid)
        for i in range(10):
            w.add_message(cid, i, b"{}", i)
        w.finish()
    with sklog.open(path) as log:
        assert log.indexed and len(log.layout.chunks) == 1
