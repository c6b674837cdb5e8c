"""``sensekit probe``: find the sensors on the I2C buses (and serial ports) without harm.

Read-only by design. Presence is tested with an SMBus "receive byte" (a read; ``i2cdetect``'s
default "quick write" is a write, and some parts act on it). Unknown parts are never written:
0x40 may be an HTU21D or Si7021 humidity sensor that takes the byte 0xFE as a soft reset, 0x23
a BH1750 that takes any byte as an opcode, 0x68 a DS1307/DS3231 real-time clock. So:

- where every part known at an address only takes a lone byte as a register pointer (0x10,
  0x68, 0x69), the ID register is read (a pointer write, then a read), which changes nothing;
- at 0x40-0x4F and 0x23/0x5C only plain reads are made: an INA2xx answers a plain read with its
  configuration register, whose reset value names the part (INA219 0x399F, INA226 0x4127,
  INA3221 0x7127); only then are its ID registers read to confirm;
- an address a kernel driver owns (EBUSY, or a driver bound in sysfs) is reported and skipped.

Each finding has a confidence: ``high`` (an ID register or a reset value matched), ``medium``
(the address and behaviour fit one known part), ``low`` (several parts fit), ``kernel``.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .buses.i2c import RawBus
from .cli import add_stdout_output
from .drivers.imu.variants import VARIANTS

__all__ = ["Finding", "add_arguments", "identify", "run", "scan_bus", "scan_serial"]

#: Parts that may answer at an address but that sensekit does not drive (for the table only).
OTHERS: dict[int, list[str]] = {
    0x40: ["htu21d/si7021 humidity", "pca9685 pwm"], 0x44: ["sht3x humidity"],
    0x45: ["sht3x humidity"], 0x48: ["ads1115 adc", "tmp102"], 0x76: ["bme280"],
    0x77: ["bme280/bmp180"], 0x68: ["ds1307/ds3231 rtc"], 0x57: ["at24 eeprom (rtc module)"],
    0x3C: ["ssd1306 oled"], 0x29: ["vl53l0x", "tsl2591"], 0x39: ["tsl2561/apds9960"],
}
#: WHO_AM_I (register 0x75) values of InvenSense chips sensekit does not drive (Linux
#: drivers/iio/imu/inv_mpu6050/inv_mpu_iio.h INV_*_WHOAMI_VALUE; the MPU-6886's 0x19 from its
#: datasheet; the ICM-42688-P's 0x47 from TDK DS-000347). The chips it drives are
#: :data:`sensekit.drivers.imu.variants.VARIANTS`.
INVENSENSE_OTHERS = {0x19: "MPU-6886", 0x11: "ICM-20600", 0x12: "ICM-20602", 0x20: "ICM-20690",
                     0x74: "MPU-6515", 0x78: "MPU-6880", 0xA6: "ICM-20609", 0xAE: "ICM-20608-D",
                     0xAF: "ICM-20608", 0x47: "ICM-42688-P"}
INA_CONFIG_RESET = {0x399F: "ina219", 0x4127: "ina226", 0x7127: "ina3221"}
INA_IDS = {"ina226": 0x2260, "ina3221": 0x3220}


@dataclass(frozen=True)
class Finding:
    """One address that answered (or that a kernel driver owns)."""

    bus: int
    address: int
    candidates: tuple[str, ...]
    confidence: str
    detail: str = ""


def _word(raw: RawBus, addr: int, reg: int | None, byteorder: str = "big") -> int:
    data = raw.read_raw(addr, 2) if reg is None else bytes(raw.read_i2c_block_data(addr, reg, 2))
    return int.from_bytes(data, "big" if byteorder == "big" else "little")


def identify(raw: RawBus, addr: int) -> tuple[tuple[str, ...], str, str]:
    """Candidates, confidence and detail for a part that answered at ``addr``."""
    try:
        if addr in (0x68, 0x69):
            who = raw.read_byte_data(addr, 0x75)
            variant = VARIANTS.get(who)
            if variant is not None:  # the driver of each chip sold as an MPU-6050 or 9250
                driver = "mpu9250" if variant.magnetometer else "mpu6050"
                return (driver,), "high", f"WHO_AM_I={who:#04x} ({variant.chip})"
            if who in INVENSENSE_OTHERS:
                return (), "low", (f"WHO_AM_I={who:#04x}: an {INVENSENSE_OTHERS[who]}, which "
                                   "sensekit does not drive")
            return tuple(OTHERS.get(0x68, [])), "low", f"WHO_AM_I={who:#04x} is not InvenSense"
        if addr == 0x10:
            ident = _word(raw, addr, 0x07, "little")
            if ident & 0xFF == 0x81:
                return ("veml7700",), "high", f"ID={ident:#06x}"
        if addr in (0x23, 0x5C):
            raw.read_raw(addr, 2)  # a BH1750 answers a plain two-byte read with its result
            return ("bh1750",), "medium", "no ID register; address and a 2-byte result fit"
        if 0x40 <= addr <= 0x4F:
            return _identify_ina(raw, addr)
    except OSError as exc:
        return tuple(OTHERS.get(addr, [])), "low", f"answered presence, not the ID read ({exc})"
    others = tuple(OTHERS.get(addr, []))
    return others, "low" if others else "none", "not a part sensekit knows"


def _identify_ina(raw: RawBus, addr: int) -> tuple[tuple[str, ...], str, str]:
    config = _word(raw, addr, None)   # a plain read: the register the pointer is at
    part = INA_CONFIG_RESET.get(config)
    if part is None:
        fits = ("ina219", "ina226") + (("ina3221",) if addr <= 0x43 else ())
        return fits + tuple(OTHERS.get(addr, [])), "low", (
            f"plain read {config:#06x} is no INA reset value; not written to, to stay safe")
    if part in INA_IDS:  # now known to be an INA, its ID registers may be pointed at
        maker, die = _word(raw, addr, 0xFE), _word(raw, addr, 0xFF)
        raw.write_byte(addr, 0x00)  # pointer back to the configuration register
        if (maker, die) != (0x5449, INA_IDS[part]):
            return (part,), "medium", f"config {config:#06x} but IDs {maker:#06x}/{die:#06x}"
        return (part,), "high", f"config {config:#06x}, IDs 0x5449/{die:#06x}"
    return (part,), "high", f"config register at its reset value {config:#06x}"


def kernel_owned(bus: int, addr: int, sysfs: Path = Path("/sys")) -> bool:
    """Whether a kernel driver is bound to ``bus``/``addr`` (``/sys/bus/i2c/devices/B-00AA``)."""
    return (sysfs / "bus" / "i2c" / "devices" / f"{bus}-{addr:04x}" / "driver").exists()


def scan_bus(raw: RawBus, bus: int, *, sysfs: Path = Path("/sys"),
             addresses: Iterable[int] = range(0x03, 0x78)) -> list[Finding]:
    """Every address on ``raw`` that answers or that the kernel owns, identified read-only."""
    found = []
    for addr in addresses:
        if kernel_owned(bus, addr, sysfs):
            found.append(Finding(bus, addr, (), "kernel", "a kernel driver owns it; skipped"))
            continue
        try:
            raw.read_byte(addr)
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                found.append(Finding(bus, addr, (), "kernel", "in use by a kernel driver"))
            continue
        candidates, confidence, detail = identify(raw, addr)
        found.append(Finding(bus, addr, candidates, confidence, detail))
    return found


_NMEA = re.compile(rb"\$([A-Z]{2}[A-Z]{3}),[^*\r\n]*\*([0-9A-F]{2})")


def nmea_seen(data: bytes) -> int:
    """How many NMEA sentences with a correct checksum ``data`` holds."""
    count = 0
    for match in _NMEA.finditer(data):
        body = match.group(0)[1:-3]
        checksum = 0
        for byte in body:
            checksum ^= byte
        count += checksum == int(match.group(2), 16)
    return count


def scan_serial(ports: Iterable[str], opener: Callable[[str, int], bytes],
                bauds: Iterable[int] = (9600, 38400, 115200)) -> list[tuple[str, int, int]]:
    """(port, baud, sentences) for every port where NMEA with good checksums arrives.

    ``opener(port, baud)`` returns what the port delivered in about a second (read only).
    """
    found = []
    for port in ports:
        for baud in bauds:
            try:
                seen = nmea_seen(opener(port, baud))
            except OSError:
                break
            if seen:
                found.append((port, baud, seen))
                break
    return found


def _listen(port: str, baud: int) -> bytes:
    import serial

    with serial.Serial(port, baud, timeout=1.2) as s:
        return bytes(s.read(4096))


def _serial_ports() -> list[str]:
    names = ["serial0", "serial1", "ttyAMA0", "ttyS0", "ttyTHS1", "ttyTHS2"]
    found = [f"/dev/{n}" for n in names if Path(f"/dev/{n}").exists()]
    return found + sorted(str(p) for p in Path("/dev").glob("tty[UA][SC][BM]*"))


def format_table(findings: list[Finding]) -> str:
    """The findings as a text table."""
    lines = [f"{'bus':>3}  {'addr':<5} {'candidates':<28} {'confidence':<10} detail"]
    for f in findings:
        names = ", ".join(f.candidates) or "-"
        lines.append(f"{f.bus:>3}  {f.address:#04x}  {names:<28} {f.confidence:<10} {f.detail}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bus", type=int, action="append",
                        help="I2C bus number to scan (repeatable; default: every /dev/i2c-N)")
    parser.add_argument("--emu", action="store_true",
                        help="scan an emulated bus holding every emulated part (a demo)")
    parser.add_argument("--serial", action="store_true",
                        help="also listen on serial ports for NMEA (read only, ~1 s per baud)")
    parser.add_argument("--json", action="store_true",
                        help="print {i2c: [{bus, address, candidates, confidence, detail}], "
                             "serial: [{port, baud, sentences}]} as JSON")
    add_stdout_output(parser)


def _emulated() -> RawBus:
    from .buses.emulated import EmulatedBus
    from .clock import default_clock
    from .testing.emulators import make_emulator

    bus = EmulatedBus(bus_number=0)
    for name, address in (("mpu6050", 0x68), ("mpu9250", 0x69), ("bh1750", 0x23),
                          ("veml7700", 0x10), ("ina219", 0x40), ("ina226", 0x41),
                          ("ina3221", 0x42)):
        bus.add(make_emulator(name, {"address": hex(address)}, default_clock()))
    return bus


def run(args: argparse.Namespace) -> int:
    from .buses.i2c import open_i2c_bus
    from .url import parse_url

    findings: list[Finding] = []
    if args.emu:
        findings += scan_bus(_emulated(), 0, sysfs=Path("/nonexistent"))
    else:
        buses = args.bus or sorted(int(p.name[4:]) for p in Path("/dev").glob("i2c-*")
                                   if p.name[4:].isdigit())
        if not buses:
            print("no I2C buses (/dev/i2c-*). Run 'sensekit doctor' to see how to enable I2C.",
                  file=sys.stderr if args.json else sys.stdout)
        for number in buses:
            raw, _, _ = open_i2c_bus(parse_url(f"i2c://{number}/0x03"))
            try:
                findings += scan_bus(raw, number)
            finally:
                raw.close()
    ports = scan_serial(_serial_ports(), _listen) if args.serial else []
    if args.json:
        print(json.dumps({"i2c": [{**dataclasses.asdict(f), "address": f"{f.address:#04x}"}
                                  for f in findings],
                          "serial": [{"port": port, "baud": baud, "sentences": seen}
                                     for port, baud, seen in ports]}, indent=2))
        return 0
    print(format_table(findings))
    for port, baud, seen in ports:
        print(f"serial {port} at {baud} baud: {seen} NMEA sentences (a GPS: "
              f"sensekit.open('nmea', '{port}?baud={baud}'))")
    return 0
