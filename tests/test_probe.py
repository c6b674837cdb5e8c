"""``sensekit probe`` against emulated buses: identification, and no writes to unknown parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensekit.buses.emulated import EmulatedBus
from sensekit.cli import main
from sensekit.clock import FakeClock
from sensekit.probe import nmea_seen, scan_bus, scan_serial
from sensekit.testing.emulators import make_emulator
from sensekit.testing.i2c_devices import I2CEmulator


class Recorder(I2CEmulator):
    """A part sensekit does not know: records every byte written to it."""

    def __init__(self, address: int, answer: bytes = b"\x12\x34") -> None:
        super().__init__(address=address)
        self.written: list[bytes] = []
        self.answer = answer

    def i2c_write(self, data: bytes) -> None:
        self.written.append(data)

    def i2c_read(self, length: int) -> bytes:
        return (self.answer * length)[:length]


def emulated_bus() -> EmulatedBus:
    clock = FakeClock()
    bus = EmulatedBus(clock, bus_number=1)
    for name, address in (("mpu6050", 0x68), ("bh1750", 0x23), ("veml7700", 0x10),
                          ("ina219", 0x40), ("ina226", 0x41), ("ina3221", 0x42)):
        bus.add(make_emulator(name, {"address": hex(address)}, clock))
    return bus


def test_known_parts_are_identified_with_their_confidence(tmp_path: Path) -> None:
    found = {f.address: f for f in scan_bus(emulated_bus(), 1, sysfs=tmp_path)}
    assert sorted(found) == [0x10, 0x23, 0x40, 0x41, 0x42, 0x68]
    assert (found[0x68].candidates, found[0x68].confidence) == (("mpu6050",), "high")
    assert (found[0x10].candidates, found[0x10].confidence) == (("veml7700",), "high")
    assert (found[0x23].candidates, found[0x23].confidence) == (("bh1750",), "medium")
    assert (found[0x40].candidates, found[0x40].confidence) == (("ina219",), "high")
    assert (found[0x41].candidates, found[0x41].confidence) == (("ina226",), "high")
    assert (found[0x42].candidates, found[0x42].confidence) == (("ina3221",), "high")


def test_unknown_parts_are_never_written(tmp_path: Path) -> None:
    bus = EmulatedBus(FakeClock(), bus_number=1)
    humidity = bus.add(Recorder(0x40))          # an HTU21D takes 0xFE as a soft reset
    light = bus.add(Recorder(0x23))             # a BH1750 takes any byte as an opcode
    rtc = bus.add(Recorder(0x68, b"\x00"))      # a DS3231: a lone byte only moves its pointer
    found = {f.address: f for f in scan_bus(bus, 1, sysfs=tmp_path)}
    assert isinstance(humidity, Recorder) and humidity.written == []
    assert isinstance(light, Recorder) and light.written == []
    assert isinstance(rtc, Recorder) and all(len(w) == 1 for w in rtc.written)
    assert found[0x40].confidence == "low" and "htu21d/si7021 humidity" in found[0x40].candidates
    assert found[0x68].confidence == "low" and "ds1307/ds3231 rtc" in found[0x68].candidates


def test_addresses_the_kernel_owns_are_skipped(tmp_path: Path) -> None:
    bus = emulated_bus()
    bus.busy(0x41)
    (tmp_path / "bus" / "i2c" / "devices" / "1-0068" / "driver").mkdir(parents=True)
    found = {f.address: f for f in scan_bus(bus, 1, sysfs=tmp_path)}
    assert found[0x41].confidence == "kernel" and found[0x41].candidates == ()
    assert found[0x68].confidence == "kernel"
    assert bus.traffic.transfers < 40  # nothing was read from the skipped addresses' IDs


def test_serial_ports_are_recognised_by_nmea_checksums() -> None:
    good = b"junk\r\n$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"
    assert nmea_seen(good) == 1 and nmea_seen(good.replace(b"*47", b"*48")) == 0
    heard = {("/dev/ttyS0", 9600): b"\x00\xff" * 50, ("/dev/ttyS0", 38400): good}
    assert scan_serial(["/dev/ttyS0"], lambda p, b: heard.get((p, b), b"")) == [
        ("/dev/ttyS0", 38400, 1)]


def test_cli_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--emu"]) == 0
    out = capsys.readouterr().out
    assert "0x68" in out and "mpu6050" in out and "ina3221" in out and "high" in out
    assert "mpu9250" in out


@pytest.mark.parametrize(("chip", "driver", "named"), [
    ("mpu6500", "mpu6050", "MPU-6500"), ("icm20689", "mpu6050", "ICM-20689"),
    ("mpu9250", "mpu9250", "MPU-9250"), ("mpu9255", "mpu9250", "MPU-9255")])
def test_chips_sold_as_an_mpu_name_the_driver_that_reads_them(
        tmp_path: Path, chip: str, driver: str, named: str) -> None:
    # 0x98 is an ICM-20689 (Linux inv_mpu_iio.h), not an MPU-6886 as this table once said; and
    # the candidate is a driver the smoke script can open, not the chip's name.
    clock = FakeClock()
    bus = EmulatedBus(clock, bus_number=1)
    bus.add(make_emulator("mpu9250" if "92" in chip else "mpu6050", {"chip": chip}, clock))
    (finding,) = scan_bus(bus, 1, sysfs=tmp_path)
    assert finding.candidates == (driver,) and named in finding.detail
