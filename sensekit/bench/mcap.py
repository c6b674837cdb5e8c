"""``sensekit bench mcap``: recording and reading IMU, packets per message vs one sample each.

sensekit stores a packet (here 200 IMU samples: accel, gyro, temperature) per MCAP message;
the peer is what people write without sensekit: the ``mcap`` package with one message per
sample (a packed struct of the same values), read back with its indexed reader. Both use lz4
chunks of 1 MiB, write to the same temporary folder in the same run, and do not fsync (one
more case measures sensekit as it records, with an fsync per flush). Figures are IMU samples
per second; ``bytes/sample`` compares file sizes.
"""

from __future__ import annotations

import struct
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..clock import FakeClock
from ..packets import Packet
from . import Case, case

PACKET_SAMPLES = 200
_SAMPLE = struct.Struct("<q7f")


def _packets(total: int) -> list[Packet]:
    rng = np.random.default_rng(0)
    out = []
    for start in range(0, total, PACKET_SAMPLES):
        n = min(PACKET_SAMPLES, total - start)
        t = (start + np.arange(n, dtype=np.int64)) * 1_000_000
        out.append(Packet("imu", t, {
            "accel_mps2": rng.normal(0, 1, (n, 3)).astype(np.float32),
            "gyro_rads": rng.normal(0, 0.1, (n, 3)).astype(np.float32),
            "temp_c": np.full(n, 31.5, np.float32)}, "imu"))
    return out


def _sensekit(folder: Path, packets: list[Packet], fsync: bool = False
              ) -> tuple[float, float, int]:
    from ..log.reader import LogReader
    from ..log.recorder import Recorder

    path = folder / "packets.mcap"
    clock = FakeClock()
    t0 = time.perf_counter()
    # No fsync for the comparison: the peer has none. A real recording syncs once per flush
    # interval (10 s of IMU here), which the "with fsync" case measures on this disk.
    with Recorder(path, clock=clock, flush_s=10.0, fsync=fsync, force=True) as rec:
        for packet in packets:
            rec.write(packet)
            clock.advance(PACKET_SAMPLES / 1000)
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with LogReader(path) as log:
        n = sum(len(p) for p in log.packets(["imu"]))
    read_s = time.perf_counter() - t0
    assert n == sum(len(p) for p in packets)
    return write_s, read_s, path.stat().st_size


def _per_sample(folder: Path, packets: list[Packet]) -> tuple[float, float, int]:
    from mcap.reader import make_reader
    from mcap.writer import CompressionType, Writer

    path = folder / "samples.mcap"
    t0 = time.perf_counter()
    with open(path, "wb") as fh:
        writer: Any = Writer(fh, compression=CompressionType.LZ4)
        writer.start()
        sid = writer.register_schema("imu_sample", "", b"")
        cid = writer.register_channel("imu", "struct<q7f", sid)
        pack = _SAMPLE.pack
        for packet in packets:
            a, g, temp = packet["accel_mps2"], packet["gyro_rads"], packet["temp_c"]
            for i, t in enumerate(packet.t_ns.tolist()):
                writer.add_message(cid, t, pack(t, *a[i], *g[i], temp[i]), t)
        writer.finish()
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = 0
    with open(path, "rb") as fh:
        for _, _, message in make_reader(fh).iter_messages():
            _SAMPLE.unpack(message.data)
            n += 1
    read_s = time.perf_counter() - t0
    return write_s, read_s, path.stat().st_size


def run(quick: bool) -> list[Case]:
    """Write and read back IMU with sensekit packets and with one message per sample."""
    ours_n = 1_000_000 if quick else 5_000_000
    peer_n = 100_000 if quick else 300_000
    ours_packets, peer_packets = _packets(ours_n), _packets(peer_n)
    with tempfile.TemporaryDirectory(prefix="sensekit-bench-") as tmp:
        folder = Path(tmp)
        w, r, size = _sensekit(folder, ours_packets)
        ws, _, _ = _sensekit(folder, ours_packets, fsync=True)
        pw, pr, psize = _per_sample(folder, peer_packets)
    note = (f"sensekit: {ours_n:,} samples in {PACKET_SAMPLES}-sample packets; peer: mcap "
            f"package, one message per sample, {peer_n:,} samples")
    return [
        case("write IMU", ours_n / w, "samples/s", peer_n / pw, note=note),
        case("read IMU", ours_n / r, "samples/s", peer_n / pr,
             note="sensekit reader (decoded packets) vs mcap indexed reader + struct unpack"),
        case("file size", size / ours_n, "bytes/sample", psize / peer_n, higher_is_better=False,
             note="lz4 chunks in both"),
        case("write IMU, fsync per flush", ours_n / ws, "samples/s",
             note="sensekit as it records: a chunk closed and fsynced every 10 s of 1 kHz IMU"),
    ]
