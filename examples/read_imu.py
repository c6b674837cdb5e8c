"""Read an MPU-6050: the emulated part by default, a real one with --url i2c://1/0x68.

    python examples/read_imu.py                      # no hardware: the emulated part
    python examples/read_imu.py --url i2c://1/0x68   # on a Pi, the part wired to I2C bus 1
"""

from __future__ import annotations

import argparse

import numpy as np

import sensekit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="emu://", help="where the part is (default: emu://)")
    parser.add_argument("--rate", type=float, default=200.0, help="sample rate, Hz")
    parser.add_argument("--packets", type=int, default=10, help="packets to read")
    args = parser.parse_args()

    with sensekit.open("mpu6050", args.url, rate_hz=args.rate) as imu:
        samples, packets = 0, 0
        while packets < args.packets:
            packet = imu.read()          # N samples at once, stamped on the host's clock
            if packet is None:           # nothing within the driver's timeout
                continue
            packets += 1
            samples += len(packet)
            accel = packet["accel_mps2"]  # (N, 3), m/s^2, body frame
        span_s = (packet.t_ns[-1] - packet.t_ns[0]) / 1e9 if len(packet) > 1 else 0.0
        print(f"{imu.describe()}: {samples} samples in {args.packets} packets")
        print(f"last packet: {len(packet)} samples over {span_s:.3f} s, "
              f"mean |a| = {np.linalg.norm(accel, axis=1).mean():.2f} m/s^2")


if __name__ == "__main__":
    main()
