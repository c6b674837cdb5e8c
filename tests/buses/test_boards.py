"""Board bring-up data: the header's I2C bus and interrupt line per board, the udev rules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from sensekit.buses import gpio
from sensekit.buses.boards import BOARDS, detect_board

DRIVERS = Path(__file__).resolve().parents[2] / "drivers"


def wiring_rows() -> dict[str, tuple[int, int, int, str]]:
    text = (DRIVERS / "wiring.md").read_text(encoding="utf-8")
    rows = {}
    for match in re.finditer(r"^\| ([^|]+) \| (\d+) \| (\d+) \| (\d+), `([^`]+)` \|$", text,
                             re.MULTILINE):
        name, b35, b2728, pin, line = match.groups()
        rows[name] = (int(b35), int(b2728), int(pin), line)
    return rows


def test_the_wiring_table_is_the_board_table() -> None:
    assert wiring_rows() == {b.name: (b.i2c_pins_3_5, b.i2c_pins_27_28, *b.int_pin)
                             for b in BOARDS}


# /proc/device-tree/compatible of each module, as NVIDIA's Jetson.GPIO lists them
# (gpio_pin_data.py compats_*), and the header bus Adafruit Blinka gives for it.
@pytest.mark.parametrize(("compatible", "bus"), [
    ("nvidia,p3450-0000", 1),                       # Jetson Nano (t210)
    ("nvidia,p3509-0000+p3668-0001", 8),            # Xavier NX (t194)
    ("nvidia,p2972-0000", 8),                       # AGX Xavier (t194)
    ("nvidia,p3768-0000+p3767-0005", 7),            # Orin Nano (t234)
    ("nvidia,p3768-0000+p3767-0000", 7),            # Orin NX (t234)
    ("nvidia,p3737-0000+p3701-0005", 7),            # AGX Orin (t234)
])
def test_each_jetson_module_is_found_with_its_header_bus(tmp_path: Path, compatible: str,
                                                         bus: int) -> None:
    tree = tmp_path / "proc/device-tree"
    tree.mkdir(parents=True)
    (tree / "compatible").write_bytes(compatible.encode() + b"\0nvidia,tegra\0")
    board = detect_board(tmp_path)
    assert board is not None and board.i2c_pins_3_5 == bus
    assert board.i2c_url(0x68) == f"i2c://{bus}/0x68"


def test_a_pi_and_an_unknown_board(tmp_path: Path) -> None:
    tree = tmp_path / "proc/device-tree"
    tree.mkdir(parents=True)
    (tree / "model").write_text("Raspberry Pi 5 Model B Rev 1.0\0")
    board = detect_board(tmp_path)
    assert board is not None and (board.i2c_pins_3_5, board.int_pin) == (1, (11, "17"))
    (tree / "model").write_text("Some other board\0")
    assert detect_board(tmp_path) is None
    assert detect_board(tmp_path / "nowhere") is None


def test_interrupt_lines_by_number_path_or_chip_label() -> None:
    assert gpio.parse_line(17, "x") == ("/dev/gpiochip0", 17)
    assert gpio.parse_line("gpiochip4:17", "x") == ("/dev/gpiochip4", 17)
    assert gpio.parse_line("tegra234-gpio:112", "x") == ("tegra234-gpio", 112)


def test_a_chip_label_is_found_among_the_chips(tmp_path: Path) -> None:
    labels = {"gpiochip0": "tegra234-gpio", "gpiochip1": "tegra234-gpio-aon"}
    for name in labels:
        (tmp_path / name).touch()

    class Chip:  # libgpiod 1's API: Chip(path).label()
        def __init__(self, path: str) -> None:
            self.name = Path(path).name

        def label(self) -> str:
            return labels[self.name]

        def close(self) -> None:
            pass

    fake: Any = type("gpiod", (), {"Chip": Chip})
    assert gpio._chip_by_label(fake, "tegra234-gpio-aon", tmp_path) == \
        str(tmp_path / "gpiochip1")
    with pytest.raises(OSError, match="no GPIO chip labelled"):
        gpio._chip_by_label(fake, "tegra194-gpio", tmp_path)


def test_the_gps_gets_one_stable_name_that_does_not_follow_the_kernel_number() -> None:
    rules = [line for line in (DRIVERS / "99-sensekit.rules").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    gps = [line for line in rules if 'SYMLINK+="gps' in line]
    assert gps and all('SYMLINK+="gps"' in line for line in gps)
    assert not any("%n" in line or "%k" in line for line in gps)
    assert all('ENV{ID_MM_DEVICE_IGNORE}="1"' in line for line in gps)
    assert any('ATTRS{idVendor}=="1546"' in line for line in gps)  # u-blox's USB vendor ID
    for line in rules:  # every rule is key op "value", comma separated
        for part in line.split(", "):
            assert re.fullmatch(r'[A-Z_]+(\{[A-Za-z_]+\})?(==|=|\+=)"[^"]*"', part), part
