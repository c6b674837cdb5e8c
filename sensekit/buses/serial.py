"""Serial transport: a UART by device path, or any pyserial URL, that comes back after an unplug.

Locations (DESIGN.md "Opening a device"): a device path (``/dev/serial0``, ``/dev/ttyUSB0``,
``/dev/serial/by-id/usb-u-blox_...``) or one of pyserial's own URLs (``socket://host:port``,
``loop://``, ``spy://...``, ``rfc2217://``), passed to ``serial.serial_for_url`` unchanged except
for sensekit's own options (``baud``, ``protocol``...), which are removed.

When the port vanishes (a USB receiver unplugged, a socket closed) :meth:`SerialPort.read`
returns nothing and tries to reopen it with a doubling backoff. A symlink (``/dev/serial0``, a
``/dev/serial/by-id/`` name) is followed again at each attempt, and a plain tty that has a by-id
name is remembered by that name, so a receiver that returns as ``ttyACM1`` instead of ``ttyACM0``
is found again. :meth:`SerialPort.take_gap` then tells the caller how long it was gone, so the
driver can re-apply its settings and report the gap.

On a Raspberry Pi 3 or 4, ``/dev/ttyAMA0`` is the Bluetooth UART unless ``dtoverlay=disable-bt``
is set; the GPIO header's UART is ``/dev/serial0``. Opening ``ttyAMA0`` there logs that.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

from .._optional import require
from ..clock import Clock, default_clock
from ..errors import ConfigError, DeviceNotFound
from ..url import SERIAL_SCHEMES, DeviceURL

__all__ = ["BY_ID_DIR", "SerialPort"]

log = logging.getLogger(__name__)

#: Where udev puts stable names of USB serial devices.
BY_ID_DIR = Path("/dev/serial/by-id")


def _pi_model() -> str:
    try:
        return Path("/proc/device-tree/model").read_text(errors="replace").strip("\0\n ")
    except OSError:
        return ""


class SerialPort:
    """One serial port, reopened after it vanishes.

    Args:
        url: Device path or pyserial URL.
        baud: Line rate (ignored by sockets and pseudo-terminals).
        who: How errors name the device (``"nmea at /dev/serial0"``).
        clock: For backoff waits and gap lengths.
        own_options: Query options that are sensekit's, not pyserial's, stripped from URLs.
        max_backoff_s: Longest wait between reopen attempts.
        by_id_dir: Where stable names are looked up (tests point it elsewhere).
    """

    def __init__(self, url: DeviceURL, *, baud: int = 9600, who: str = "", clock: Clock | None
                 = None, own_options: frozenset[str] = frozenset(), max_backoff_s: float = 5.0,
                 by_id_dir: Path = BY_ID_DIR) -> None:
        if url.scheme != "path" and url.scheme not in SERIAL_SCHEMES:
            raise ConfigError(f"{url.raw!r} is neither a device path nor a pyserial URL "
                              f"({', '.join(sorted(SERIAL_SCHEMES))})")
        self.url = url
        self.baud = baud
        self.who = who or url.raw
        self.clock = clock or default_clock()
        self.max_backoff_s = max_backoff_s
        self.by_id_dir = by_id_dir
        self.reconnects = 0
        self._own = own_options
        self._port: Any = None
        self._stable: str | None = None
        self._lost_ns: int | None = None
        self._next_try_ns = 0
        self._backoff_s = 0.1
        self._gap_ns: int | None = None

    # -- opening ----------------------------------------------------------------------------
    @property
    def target(self) -> str:
        """What pyserial opens: the URL without sensekit's options, or the stable path."""
        if self.url.scheme == "path":
            return self._stable or self.url.location
        base, _, query = self.url.raw.partition("?")
        keep = [p for p in query.split("&") if p and p.split("=")[0] not in self._own]
        return base + ("?" + "&".join(keep) if keep else "")

    @property
    def byte_ns(self) -> int:
        """Wire time of one byte (10 bits), 0 where bytes do not cross a real UART."""
        if self.url.scheme != "path" or os.path.realpath(self.target).startswith("/dev/pts/"):
            return 0
        return round(10e9 / self.baud)

    def open(self) -> None:
        """Open the port; :class:`DeviceNotFound` with a hint when it cannot be."""
        serial = require("serial", extra="gps", what=self.who)
        if self.url.scheme == "path" and self._stable is None:
            # Found once, while the device is there; reopening follows this name.
            self._stable = self._stable_name(self.url.location)
            self._warn_bluetooth_uart()
        try:
            self._port = serial.serial_for_url(self.target, baudrate=self.baud, timeout=0)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceNotFound(self._open_error(exc)) from exc

    def _stable_name(self, path: str) -> str:
        if os.path.islink(path):
            return path
        real = os.path.realpath(path)
        try:
            for link in sorted(self.by_id_dir.iterdir()):
                if os.path.realpath(link) == real:
                    return str(link)
        except OSError:
            pass
        return path

    def _warn_bluetooth_uart(self) -> None:
        if os.path.realpath(self.url.location) == "/dev/ttyAMA0":
            model = _pi_model()
            if "Raspberry Pi 3" in model or "Raspberry Pi 4" in model:
                log.warning("%s: on a %s /dev/ttyAMA0 is the Bluetooth UART unless "
                            "dtoverlay=disable-bt is set; the GPIO UART is /dev/serial0",
                            self.who, model)

    def _open_error(self, exc: BaseException) -> str:
        text = f"{self.who}: cannot open {self.target}: {exc}"
        if isinstance(exc, PermissionError) or "ermission" in str(exc):
            return text + (". Hint: add yourself to the dialout group "
                           "(sudo usermod -aG dialout $USER)")
        if self.url.scheme == "path":
            return (text + ". Hint: check the cable and `ls -l /dev/serial/by-id/ /dev/serial0`; "
                    "on a Pi enable the UART (raspi-config, Interface Options, Serial Port)")
        return text + ". Hint: is anything listening there?"

    # -- I/O --------------------------------------------------------------------------------
    def read(self, timeout_s: float) -> bytes:
        """Bytes available within ``timeout_s`` (empty on timeout or while the port is gone)."""
        if self._port is None:
            self._try_reopen(timeout_s)
            return b""
        try:
            self._port.timeout = max(timeout_s, 0.0)
            data = bytes(self._port.read(1))
            waiting = self._port.in_waiting if data else 0
            return data + bytes(self._port.read(waiting)) if waiting else data
        except Exception as exc:  # pyserial raises SerialException or OSError
            self._lost(exc)
            return b""

    def write(self, data: bytes) -> bool:
        """Write ``data``; False when the port is gone (it is being reopened)."""
        if self._port is None:
            return False
        try:
            self._port.write(data)
            self._port.flush()
            return True
        except Exception as exc:
            self._lost(exc)
            return False

    def set_baud(self, baud: int) -> None:
        """Change the host side's line rate (after the receiver was told to)."""
        self.baud = baud
        if self._port is not None and self.url.scheme == "path":
            self._port.baudrate = baud

    def reset_input(self) -> None:
        """Drop what the port has buffered (after a wake-up or a baud change)."""
        if self._port is not None:
            with contextlib.suppress(Exception):      # some URL handlers cannot
                self._port.reset_input_buffer()

    def take_gap(self) -> int | None:
        """Nanoseconds the port was gone, once, after it came back; None otherwise."""
        gap, self._gap_ns = self._gap_ns, None
        return gap

    @property
    def connected(self) -> bool:
        return self._port is not None

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    # -- reconnecting -----------------------------------------------------------------------
    def _lost(self, exc: BaseException) -> None:
        log.warning("%s: port lost (%s); reconnecting", self.who, exc)
        self.close()
        now = self.clock.now_ns()
        self._lost_ns = now
        self._backoff_s = 0.1
        self._next_try_ns = now

    def _try_reopen(self, timeout_s: float) -> None:
        now = self.clock.now_ns()
        if now < self._next_try_ns:
            self.clock.sleep(min(timeout_s, (self._next_try_ns - now) / 1e9))
            return
        try:
            self.open()
        except DeviceNotFound as exc:
            log.debug("%s", exc)
            self._next_try_ns = self.clock.now_ns() + round(self._backoff_s * 1e9)
            self._backoff_s = min(self._backoff_s * 2, self.max_backoff_s)
            return
        self.reconnects += 1
        lost = self._lost_ns if self._lost_ns is not None else now
        self._gap_ns = self.clock.now_ns() - lost
        self._lost_ns = None
        log.warning("%s: reconnected at %s after %.1f s", self.who, self.target,
                    self._gap_ns / 1e9)
