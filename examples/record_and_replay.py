"""Record an emulated IMU and light sensor into MCAP, then replay the file like a device.

    python examples/record_and_replay.py [-o ride.mcap] [--seconds 2]

The file opens in Foxglove and in ``sensekit info``; ``replay://FILE#STREAM`` gives the same
packets back through the same driver interface a live part has.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import sensekit
from sensekit.log import Recorder
from sensekit.log import open as open_log


def record(path: Path, seconds: float) -> None:
    imu = sensekit.open("mpu6050", "emu://", rate_hz=100)
    light = sensekit.open("bh1750", "emu://", rate_hz=5)
    with imu, light, Recorder(path) as rec:
        rec.add_driver(imu)
        rec.add_driver(light)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if (packet := imu.read()) is not None:   # None: nothing within the timeout
                rec.write(packet)
            if (packet := light.read(timeout_s=0)) is not None:
                rec.write(packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("ride.mcap"))
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    if args.output.exists():
        parser.error(f"{args.output} exists: name another file")

    record(args.output, args.seconds)
    with open_log(args.output) as log:
        for name, info in log.streams.items():
            print(f"{name}: {info.samples} samples over {info.duration_s:.1f} s")

    replay = sensekit.open(f"replay://{args.output}#imu")
    with replay:
        packet = replay.read()
        assert packet is not None, "the recording has IMU packets"
        print(f"replayed the first packet: {len(packet)} samples, "
              f"fields {', '.join(packet.fields)}")


if __name__ == "__main__":
    main()
