from __future__ import annotations

import pytest

from sensekit import errors
from sensekit.errors import ConfigError, describe
from sensekit.url import parse_url


@pytest.mark.parametrize(("leaf", "builtin"), [
    (errors.DeviceNotFound, OSError), (errors.DeviceIOError, OSError),
    (errors.DeviceTimeout, TimeoutError), (errors.DriverUnavailable, ImportError),
    (errors.ConfigError, ValueError), (errors.LogFormatError, ValueError),
])
def test_leaves_subclass_root_and_builtin(leaf: type, builtin: type) -> None:
    assert issubclass(leaf, errors.SensekitError) and issubclass(leaf, builtin)


def test_describe_puts_where_and_hint() -> None:
    msg = describe("no answer", where="i2c bus 1, address 0x68", hint="run i2cdetect -y 1")
    assert msg == "no answer (i2c bus 1, address 0x68). Hint: run i2cdetect -y 1"


def test_urls_of_design_md() -> None:
    u = parse_url("i2c://1/0x68")
    assert (u.scheme, u.i2c_address()) == ("i2c", (1, 0x68))
    s = parse_url("/dev/serial0?baud=9600")
    assert (s.scheme, s.location, s.option("baud", int, 4800)) == ("path", "/dev/serial0", 9600)
    r = parse_url("replay://logs/walk.mcap#imu")
    assert (r.scheme, r.location, r.fragment) == ("replay", "logs/walk.mcap", "imu")
    assert parse_url("socket://localhost:7777").scheme == "socket"
    assert parse_url("emu://?clock_ppm=8000").option("clock_ppm", float, 0.0) == 8000.0


@pytest.mark.parametrize("bad", ["", "i2c://x/0x68", "i2c://1/0x80", "emu://?a"])
def test_bad_urls_are_named(bad: str) -> None:
    with pytest.raises(ConfigError):
        u = parse_url(bad)
        u.i2c_address()


def test_bad_option_value_names_option_and_url() -> None:
    with pytest.raises(ConfigError, match=r"baud='fast'.*/dev/ttyS0"):
        parse_url("/dev/ttyS0?baud=fast").option("baud", int, 9600)
