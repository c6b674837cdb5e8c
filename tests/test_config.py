from __future__ import annotations

from pathlib import Path

import pytest

from sensekit.config import load_rig, parse_rig
from sensekit.errors import ConfigError

GOOD = """\
[rig]
name = "bike"

[devices.imu]
driver = "mpu6050"
url = "i2c://1/0x68"
rate_hz = 200
options = { accel_range_g = 4 }

[devices.gps]
driver = "nmea"
url = "/dev/serial0?baud=9600"

[policy]
name = "adaptive"
"""


def test_good_config_parses(tmp_path: Path) -> None:
    path = tmp_path / "rig.toml"
    path.write_text(GOOD)
    rig = load_rig(path)
    assert rig.name == "bike"
    assert rig.devices["imu"].rate_hz == 200
    assert rig.devices["imu"].options == {"accel_range_g": 4}
    assert rig.devices["gps"].stream == "gps"
    assert rig.policy["name"] == "adaptive"


@pytest.mark.parametrize(("edit", "message"), [
    (("rate_hz = 200", 'rate_hz = "fast"'),
     r"rig.toml:7: \[devices.imu\] rate_hz = 'fast' is not valid; expected a positive number"),
    (("rate_hz = 200", "rate = 200"), r"rig.toml:7: unknown key 'rate' in \[devices.imu\]"),
    (('url = "/dev/serial0?baud=9600"\n', ""),
     r"rig.toml:10: \[devices.gps\] lacks required key 'url'"),
    (('name = "adaptive"', 'nme = "adaptive"'), r"rig.toml:15: unknown key 'nme' in \[policy\]"),
    (("[rig]", "[rigg]"), r"rig.toml:1: unknown section \[rigg\]"),
])
def test_errors_name_file_line_key_and_expectation(tmp_path: Path, edit: tuple[str, str],
                                                   message: str) -> None:
    path = tmp_path / "rig.toml"
    path.write_text(GOOD.replace(*edit))
    with pytest.raises(ConfigError, match=message):
        load_rig(path)


def test_toml_syntax_error_names_file() -> None:
    with pytest.raises(ConfigError, match=r"my.toml: not valid TOML.*line 1"):
        parse_rig("[devices\n", "my.toml")


def test_no_devices_and_duplicate_streams() -> None:
    with pytest.raises(ConfigError, match="no devices"):
        parse_rig('[rig]\nname = "x"\n')
    with pytest.raises(ConfigError, match="repeated: a"):
        parse_rig('[devices.x]\ndriver="d"\nurl="emu://"\nstream="a"\n'
                  '[devices.y]\ndriver="d"\nurl="emu://"\nstream="a"\n')


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="cannot read rig config"):
        load_rig("/nonexistent/rig.toml")
