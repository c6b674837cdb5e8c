"""Which I2C bus and GPIO line the 40-pin header's pins are, per board.

The bus a header pin pair is on differs by Jetson module (the SoC's controllers are numbered in
the device tree), so ``i2c://1/0x68`` on a Pi is ``i2c://7/0x68`` on an Orin Nano. The numbers
come from each module's pin data, not from guessing:

- I2C: Adafruit Blinka's board files (``src/adafruit_blinka/board/nvidia/*.py`` name the header
  pins 3/5 ``SDA``/``SCL`` and 27/28 ``SDA_1``/``SCL_1``) and the SoC pin files they point to
  (``src/adafruit_blinka/microcontroller/tegra/{t210,t194,t234}/pin.py``, whose ``i2cPorts``
  give the Linux bus of each pin pair); the Raspberry Pi documentation for the Pi's header
  (pins 3/5 are I2C1, 27/28 the ID EEPROM's I2C0).
- GPIO lines: NVIDIA's Jetson.GPIO pin tables (``lib/python/Jetson/GPIO/gpio_pin_data.py``,
  fields: line offset in its chip, chip label, board pin), used for the interrupt input a
  sensor's INT is wired to (``int_pin=`` of the MPU drivers).

``drivers/wiring.md`` prints the same table; a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["BOARDS", "Board", "detect_board"]


@dataclass(frozen=True)
class Board:
    """One board family's header.

    Attributes:
        name: As the wiring table names it.
        match: Substrings of ``/proc/device-tree/compatible`` entries (the module part number)
            or of ``/proc/device-tree/model`` that identify it.
        i2c_pins_3_5: Linux bus number of header pins 3 (SDA) and 5 (SCL).
        i2c_pins_27_28: Bus of pins 27 (SDA) and 28 (SCL).
        int_pin: ``(header pin, int_pin= value)`` suggested for a sensor's INT: the line as
            ``chip label:offset`` (or the offset on gpiochip0).
        source: Where the numbers come from.
    """

    name: str
    match: tuple[str, ...]
    i2c_pins_3_5: int
    i2c_pins_27_28: int
    int_pin: tuple[int, str]
    source: str

    def i2c_url(self, address: int) -> str:
        """The URL of a part at ``address`` wired to header pins 3/5."""
        return f"i2c://{self.i2c_pins_3_5}/{address:#04x}"


_BLINKA = "Adafruit Blinka board/nvidia/{board}.py + microcontroller/tegra/{soc}/pin.py i2cPorts"
_JETSON_GPIO = "; INT line: Jetson.GPIO gpio_pin_data.py {table}"

BOARDS: tuple[Board, ...] = (
    Board("Raspberry Pi", ("Raspberry Pi",), 1, 0, (11, "17"),
          "Raspberry Pi documentation, GPIO and the 40-pin header (GPIO2/3 = I2C1, GPIO0/1 = "
          "ID_SD/ID_SC); pin 11 is GPIO17, line 17 of gpiochip0 (gpiochip4 on a Pi 5 with kernels "
          "before 6.6.45)"),
    Board("Jetson Nano", ("p3450", "p3448", "jetson-nano", "Jetson Nano"), 1, 0,
          (11, "tegra-gpio:50"),
          _BLINKA.format(board="jetson_nano", soc="t210")
          + _JETSON_GPIO.format(table="JETSON_NANO_PIN_DEFS")),
    Board("Jetson Xavier NX", ("p3668", "Xavier NX"), 8, 1, (11, "tegra194-gpio:112"),
          _BLINKA.format(board="jetson_nx", soc="t194")
          + _JETSON_GPIO.format(table="JETSON_NX_PIN_DEFS")),
    Board("Jetson AGX Xavier", ("p2972", "jetson-xavier", "AGX Xavier"), 8, 1,
          (7, "tegra194-gpio:106"),
          _BLINKA.format(board="jetson_xavier", soc="t194")
          + _JETSON_GPIO.format(table="JETSON_XAVIER_PIN_DEFS")),
    Board("Jetson Orin Nano / Orin NX", ("p3767", "Orin Nano", "Orin NX"), 7, 1,
          (11, "tegra234-gpio:112"),
          _BLINKA.format(board="jetson_orin_nx", soc="t234")
          + _JETSON_GPIO.format(table="JETSON_ORIN_NX_PIN_DEFS")),
    # Pin 11 of the AGX Orin devkit is output-only (its base board); pin 7 takes an input.
    Board("Jetson AGX Orin", ("p3701", "AGX Orin"), 7, 1, (7, "tegra234-gpio:106"),
          _BLINKA.format(board="jetson_orin", soc="t234")
          + _JETSON_GPIO.format(table="JETSON_ORIN_PIN_DEFS")),
)


def detect_board(root: Path = Path("/")) -> Board | None:
    """The board this runs on, from the device tree (None when it is not one of :data:`BOARDS`)."""
    tree = root / "proc/device-tree"
    texts = []
    for name in ("compatible", "model"):
        try:
            texts += (tree / name).read_bytes().decode(errors="replace").split("\x00")
        except OSError:
            continue
    for board in BOARDS:
        if any(key in text for key in board.match for text in texts if text):
            return board
    return None
