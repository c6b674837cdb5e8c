#!/usr/bin/env python3
"""Read every sensor on the board once, on real hardware, and say what each gave.

    python drivers/smoke.py                      # probe all I2C buses, read what was found
    python drivers/smoke.py mpu6050@i2c://1/0x68 ina219@i2c://1/0x40?shunt_ohm=0.1
    python drivers/smoke.py --emu                # the same against the emulated parts

Exit status 0 when every device read, 1 otherwise. Needs `pip install 'sensekit[i2c]'`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import sensekit
from sensekit.errors import SensekitError
from sensekit.probe import Finding, scan_bus

READABLE = ("high", "medium")


def found_devices() -> list[tuple[str, str]]:
    """(driver, url) for every part the probe identified with some confidence."""
    from sensekit.buses.i2c import open_i2c_bus
    from sensekit.url import parse_url

    specs = []
    for dev in sorted(Path("/dev").glob("i2c-*")):
        number = int(dev.name[4:])
        raw, _, _ = open_i2c_bus(parse_url(f"i2c://{number}/0x03"))
        try:
            findings: list[Finding] = scan_bus(raw, number)
        finally:
            raw.close()
        specs += [(f.candidates[0], f"i2c://{number}/{f.address:#04x}") for f in findings
                  if f.confidence in READABLE and len(f.candidates) == 1]
    return specs


def read_once(driver: str, url: str) -> bool:
    try:
        with sensekit.open(driver, url) as device:
            packet = None
            for _ in range(3):
                packet = device.read(timeout_s=2.0)
                if packet is not None:
                    break
    except SensekitError as exc:
        print(f"FAIL {driver} at {url}: {exc}")
        return False
    if packet is None:
        print(f"FAIL {driver} at {url}: no data in 6 s")
        return False
    values = ", ".join(f"{name}={np.round(np.asarray(packet[name], float)[-1], 4).tolist()}"
                       for name in packet.fields)
    print(f"ok   {driver} at {url}: {len(packet)} samples; last {values}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("devices", nargs="*", help="DRIVER@URL (default: what the probe finds)")
    parser.add_argument("--emu", action="store_true", help="use the emulated parts")
    args = parser.parse_args(argv)
    if args.emu:
        specs = [(name, "emu://") for name in
                 ("mpu6050", "mpu9250", "bh1750", "veml7700", "ina219", "ina226", "ina3221")]
    elif args.devices:
        specs = [tuple(d.split("@", 1)) for d in args.devices]  # type: ignore[misc]
    else:
        specs = found_devices()
    if not specs:
        print("no devices found; run 'sensekit probe' and 'sensekit doctor'")
        return 1
    results = [read_once(driver, url) for driver, url in specs]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
