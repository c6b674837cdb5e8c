"""Real byte transports: the driver on a pseudo-terminal and a socket, unplug and replug.

These run on real time against the emulator's serving thread; each takes well under a second.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensekit.buses.serial import SerialPort
from sensekit.drivers.gps.nmea_gps import NmeaGps
from sensekit.errors import DeviceNotFound, SampleDropped
from sensekit.testing.gps_receiver import GpsReceiverEmulator
from sensekit.url import parse_url


@pytest.fixture
def emu() -> Iterator[GpsReceiverEmulator]:
    receiver = GpsReceiverEmulator(rate_hz=10.0, baud=115200)
    yield receiver
    receiver.stop()


def read_fixes(gps: NmeaGps, n: int, timeout_s: float = 3.0) -> int:
    got = 0
    for _ in range(50):
        packet = gps.read(timeout_s / 10)
        got += 0 if packet is None else len(packet)
        if got >= n:
            break
    return got


def test_pty_round_trip_with_a_command(emu: GpsReceiverEmulator) -> None:
    path = emu.start_pty()
    with NmeaGps(f"{path}?baud=115200", protocol="ubx") as gps:
        assert read_fixes(gps, 3) >= 3
        assert gps.set_rate(5.0) == 5.0                 # UBX out, ACK back, over the pty
        assert emu.rate_hz == 5.0


def test_socket_round_trip(emu: GpsReceiverEmulator) -> None:
    url = emu.start_socket()
    with NmeaGps(url, protocol="ubx") as gps:
        assert read_fixes(gps, 2) >= 2
        gps.set_mode("continuous")
        assert emu.commands[-1] == "CFG-RXM 0"


def test_unplugged_receiver_is_found_again_by_its_stable_name(
        emu: GpsReceiverEmulator, tmp_path: Path) -> None:
    stable = tmp_path / "usb-u-blox_AG_GNSS_receiver-if00"
    emu.start_pty(stable_link=stable)
    first_tty = str(stable.resolve())
    gps = NmeaGps(f"{stable}?baud=115200", protocol="ubx", rate_hz=5.0)
    with gps, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert read_fixes(gps, 2) >= 2
        emu.unplug()
        for _ in range(5):
            gps.read(0.05)                              # port gone: reads return nothing
        emu.replug()                                    # back under another /dev/pts/N
        assert str(stable.resolve()) != first_tty
        assert read_fixes(gps, 2) >= 2
    assert gps.stats.reconnects == 1 and gps.gaps[0][1] > 0
    assert any(issubclass(w.category, SampleDropped) for w in caught)
    assert emu.commands.count("CFG-RATE 200") == 2      # the rate was applied again


def test_missing_port_names_the_path_and_a_hint() -> None:
    with pytest.raises(DeviceNotFound, match=r"/dev/ttyNOPE.*Hint: check the cable"):
        NmeaGps("/dev/ttyNOPE?baud=9600").open()


def test_silent_port_is_reported_at_open() -> None:
    port = SerialPort(parse_url("loop://"))
    port.open()
    assert port.read(0.01) == b"" and port.byte_ns == 0
    port.close()
    with pytest.raises(DeviceNotFound, match="no NMEA sentence within"):
        NmeaGps("loop://?baud=9600", open_timeout_s=0.2).open()


def test_plain_tty_is_remembered_by_its_by_id_name(emu: GpsReceiverEmulator,
                                                   tmp_path: Path) -> None:
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    emu.start_pty(stable_link=by_id / "usb-MediaTek_GPS-if00")
    tty = str((by_id / "usb-MediaTek_GPS-if00").resolve())   # what the user typed: /dev/pts/N
    port = SerialPort(parse_url(tty), baud=115200, by_id_dir=by_id)
    port.open()
    assert port.target == str(by_id / "usb-MediaTek_GPS-if00")
    try:
        assert any(port.read(0.2) for _ in range(10))
        emu.unplug()
        while port.connected:
            port.read(0.05)
        emu.replug()
        gap = None
        for _ in range(100):
            port.read(0.05)
            gap = gap or port.take_gap()
            if gap is not None:
                break
        assert gap is not None and port.reconnects == 1
        assert any(port.read(0.2) for _ in range(10))
    finally:
        port.close()
