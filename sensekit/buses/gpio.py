"""Interrupt lines: waiting on a GPIO a part pulls when it has something to say.

An MPU's INT pin wired to a GPIO lets the driver sleep until data is ready or motion is seen,
instead of polling the bus. Lines are named ``"gpiochip0:17"`` (chip and line offset) or by the
offset alone (``17``, on ``gpiochip0``; the 40-pin header's GPIOs on a Raspberry Pi 5 with an
older kernel are on ``gpiochip4``). They are opened through libgpiod's Python bindings: version
2 (``pip install gpiod``) or version 1 (Raspberry Pi OS's ``python3-libgpiod``), whichever is
installed.

:func:`open_interrupt_line` waits for a rising edge of an active-high, push-pull output (the
MPU's default, INT_PIN_CFG 0x00 with LATCH_INT_EN: held until its status is read). A line that
is already active counts at once, so a latched interrupt that fired before the wait is not
missed.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path
from typing import Any, Protocol

from .._optional import require
from ..errors import ConfigError, DeviceNotFound

__all__ = ["InterruptLine", "open_interrupt_line", "parse_line"]


class InterruptLine(Protocol):
    """A line to wait on."""

    def wait(self, timeout_s: float) -> bool:
        """True when the line is (or becomes, within ``timeout_s``) active."""
        ...

    def close(self) -> None:
        """Release the line."""
        ...


def parse_line(spec: str | int, where: str) -> tuple[str, int]:
    """``("/dev/gpiochip0", 17)`` from ``"gpiochip0:17"``, ``"17"`` or ``17``; a chip named by
    its label (``"tegra234-gpio:112"``, as ``gpioinfo`` and Jetson.GPIO's pin tables name
    Jetson chips, whose numbers vary) is kept as the label and found when the line is opened."""
    text = str(spec)
    chip, sep, offset = text.rpartition(":")
    if not sep:
        chip = "gpiochip0"
    try:
        number = int(offset, 0)
    except ValueError:
        raise ConfigError(f"{where}: int_pin={spec!r} is not a GPIO line; write 17 or "
                          "gpiochip0:17") from None
    if number < 0:
        raise ConfigError(f"{where}: int_pin={spec!r} is not a GPIO line offset")
    if chip.startswith("/"):
        return chip, number
    return (f"/dev/{chip}" if re.fullmatch(r"gpiochip\d+", chip) else chip), number


def _chip_by_label(gpiod: Any, label: str, dev: Path = Path("/dev")) -> str:
    """The ``/dev/gpiochipN`` whose label is ``label`` (libgpiod 2 or 1)."""
    for path in sorted(dev.glob("gpiochip*")):
        try:
            chip = gpiod.Chip(str(path))
            try:
                name = chip.get_info().label if hasattr(chip, "get_info") else chip.label()
            finally:
                chip.close()
        except (OSError, ValueError):
            continue
        if name == label:
            return str(path)
    raise OSError(f"no GPIO chip labelled {label!r}")


class _GpiodV2:
    def __init__(self, gpiod: Any, chip: str, offset: int, consumer: str) -> None:
        line = gpiod.line
        settings = gpiod.LineSettings(edge_detection=line.Edge.RISING,
                                      direction=line.Direction.INPUT)
        self._request = gpiod.request_lines(chip, consumer=consumer,
                                            config={offset: settings})
        self._offset = offset
        self._active = line.Value.ACTIVE

    def wait(self, timeout_s: float) -> bool:
        if self._request.get_value(self._offset) == self._active:
            return True
        if self._request.wait_edge_events(_dt.timedelta(seconds=max(timeout_s, 0.0))):
            self._request.read_edge_events()
            return True
        return False

    def close(self) -> None:
        self._request.release()


class _GpiodV1:
    def __init__(self, gpiod: Any, chip: str, offset: int, consumer: str) -> None:
        self._chip = gpiod.Chip(chip)
        self._line = self._chip.get_line(offset)
        self._line.request(consumer=consumer, type=gpiod.LINE_REQ_EV_RISING_EDGE)

    def wait(self, timeout_s: float) -> bool:
        if self._line.get_value():
            return True
        seconds = max(timeout_s, 0.0)
        if self._line.event_wait(sec=int(seconds), nsec=int(seconds % 1 * 1e9)):
            self._line.event_read()
            return True
        return False

    def close(self) -> None:
        self._line.release()
        self._chip.close()


def open_interrupt_line(spec: str | int, *, where: str,
                        consumer: str = "sensekit") -> InterruptLine:
    """The GPIO line ``spec`` requested for rising edges.

    Raises:
        DriverUnavailable: libgpiod's Python bindings are not installed.
        DeviceNotFound: the chip or line does not exist or is in use, with the fix.
    """
    chip, offset = parse_line(spec, where)
    gpiod = require("gpiod", extra="gpio", what=f"{where} interrupt line (or: sudo apt install "
                    "python3-libgpiod)")
    try:
        if not chip.startswith("/"):
            chip = _chip_by_label(gpiod, chip)
        if hasattr(gpiod, "request_lines"):
            return _GpiodV2(gpiod, chip, offset, consumer)
        return _GpiodV1(gpiod, chip, offset, consumer)
    except (OSError, ValueError) as exc:
        raise DeviceNotFound(
            f"{where}: cannot request GPIO line {offset} on {chip} ({exc}). Hint: 'gpioinfo' "
            "lists chips and lines and who holds them; on a Pi the header GPIO17 is line 17 of "
            "gpiochip0 (gpiochip4 on a Pi 5 with kernels before 6.6.45); the line of header "
            "pin 11 on each Jetson is in drivers/wiring.md") from None
