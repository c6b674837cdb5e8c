"""Reading a GPS through a running gpsd, and telling when gpsd holds a serial port.

On a Pi with a GPS HAT gpsd usually owns the UART. ``sensekit.open("nmea", "gpsd://host:port")``
(``gpsd://`` alone means ``localhost:2947``; ``?device=/dev/ttyACM0`` picks one of several
receivers) asks gpsd for the receiver's own sentences, ``?WATCH={"enable":true,"nmea":true}``
(gpsd's protocol: https://gpsd.io/gpsd_json.html, "?WATCH", the ``nmea`` member), and decodes
them with sensekit's own NMEA decoder, so the packets are the same as from the serial port
(gpsd's TPV reports compute the fix mode and the speed in their own ways). gpsd's JSON lines
(VERSION, DEVICES, WATCH, ERROR) are read and kept apart from the sentences. The receiver cannot
be configured through gpsd by this driver: it is opened with ``protocol="nmea"``.

:func:`gpsd_holders` finds a gpsd that holds a given serial port: a running ``gpsd`` process
whose command line names it, or gpsd's configuration (``/etc/default/gpsd`` ``DEVICES=``) with
the service or its socket enabled. ``sensekit doctor --gps PORT`` reports it, and opening the
port directly says so when nothing readable arrives.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import socket
from pathlib import Path
from typing import Any

from ...clock import Clock, default_clock
from ...errors import ConfigError, DeviceNotFound
from ...url import DeviceURL

__all__ = ["DEFAULT_PORT", "GpsdLink", "gpsd_holders"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 2947            # gpsd's registered port (IANA)
_WATCH = {"enable": True, "nmea": True}


class GpsdLink:
    """A byte link (see :class:`~sensekit.drivers.gps.nmea_gps.ByteLink`) to gpsd's raw NMEA.

    Args:
        url: ``gpsd://[host][:port][?device=PATH]``.
        who: How errors name the device.
        clock: For reconnect backoff and gap lengths.
    """

    byte_ns = 0   # sentences reach us through gpsd, not at the receiver's line rate

    def __init__(self, url: DeviceURL, *, who: str, clock: Clock | None = None) -> None:
        host, _, port = url.location.partition(":")
        self.host = host or "localhost"
        try:
            self.port = int(port) if port else DEFAULT_PORT
        except ValueError:
            raise ConfigError(f"{who}: {url.raw!r}: the gpsd port {port!r} is not a number"
                              ) from None
        self.device = url.options.get("device")
        self.who = who
        self.clock = clock or default_clock()
        self.baud = 0
        self.reconnects = 0
        self.devices: list[str] = []
        self.version: dict[str, Any] = {}
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._lost_ns: int | None = None
        self._next_try_ns = 0
        self._backoff_s = 0.1
        self._gap_ns: int | None = None

    def open(self) -> None:
        """Connect and ask for raw NMEA; :class:`DeviceNotFound` with a hint if gpsd is not
        there."""
        try:
            sock = socket.create_connection((self.host, self.port), timeout=3.0)
        except OSError as exc:
            raise DeviceNotFound(
                f"{self.who}: no gpsd at {self.host}:{self.port} ({exc.strerror or exc}). Hint: "
                "'systemctl status gpsd gpsd.socket'; or read the receiver directly, "
                "e.g. /dev/serial0?baud=9600") from None
        watch = dict(_WATCH, **({"device": self.device} if self.device else {}))
        sock.sendall(f"?WATCH={json.dumps(watch, separators=(',', ':'))}\n".encode())
        sock.settimeout(0.0)
        self._sock = sock

    def _json(self, line: bytes) -> None:
        try:
            report = json.loads(line)
        except ValueError:
            log.debug("%s: unreadable gpsd line %r", self.who, line[:80])
            return
        kind = report.get("class") if isinstance(report, dict) else None
        if kind == "ERROR":
            raise DeviceNotFound(f"{self.who}: gpsd says: {report.get('message')}")
        if kind == "VERSION":
            self.version = report
        elif kind == "DEVICES":
            self.devices = [str(d.get("path")) for d in report.get("devices", [])]

    def read(self, timeout_s: float) -> bytes:
        """NMEA bytes available within ``timeout_s`` (gpsd's JSON lines taken out)."""
        if self._sock is None:
            self._try_reopen(timeout_s)
            return b""
        import select

        ready, _, _ = select.select([self._sock], [], [], max(timeout_s, 0.0))
        if not ready:
            return b""
        try:
            chunk = self._sock.recv(65536)
        except OSError as exc:
            self._lost(exc)
            return b""
        if not chunk:
            self._lost(ConnectionError("gpsd closed the connection"))
            return b""
        return self._sentences(chunk)

    def _sentences(self, chunk: bytes) -> bytes:
        lines = (self._buffer + chunk).split(b"\n")
        self._buffer = lines.pop()
        out = bytearray()
        for line in lines:
            if line.lstrip().startswith(b"{"):
                self._json(line)
            else:
                out += line + b"\n"
        return bytes(out)

    def write(self, data: bytes) -> bool:
        """Commands cannot reach the receiver through this link."""
        return False

    def set_baud(self, baud: int) -> None:
        """gpsd owns the line rate."""

    def reset_input(self) -> None:
        self._buffer = b""

    def take_gap(self) -> int | None:
        gap, self._gap_ns = self._gap_ns, None
        return gap

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _lost(self, exc: BaseException) -> None:
        log.warning("%s: lost gpsd (%s); reconnecting", self.who, exc)
        self.close()
        self._lost_ns = self._next_try_ns = self.clock.now_ns()
        self._backoff_s = 0.1

    def _try_reopen(self, timeout_s: float) -> None:
        now = self.clock.now_ns()
        if now < self._next_try_ns:
            self.clock.sleep(min(timeout_s, (self._next_try_ns - now) / 1e9))
            return
        try:
            self.open()
        except DeviceNotFound:
            self._next_try_ns = self.clock.now_ns() + round(self._backoff_s * 1e9)
            self._backoff_s = min(self._backoff_s * 2, 5.0)
            return
        self.reconnects += 1
        self._gap_ns = self.clock.now_ns() - (self._lost_ns or now)
        self._lost_ns = None


# -- who holds a port ----------------------------------------------------------------------
def _same(a: str, b: str, root: Path) -> bool:
    def real(p: str) -> str:
        return os.path.realpath(root / p.lstrip("/")) if p.startswith("/") else p

    return a == b or real(a) == real(b)


def _config_devices(root: Path) -> list[str]:
    try:
        text = (root / "etc/default/gpsd").read_text(errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        key, _, value = line.strip().partition("=")
        if key == "DEVICES":
            return shlex.split(value.strip().strip("\"'")) if value.strip() else []
    return []


def _enabled(root: Path) -> bool:
    wants = [root / "etc/systemd/system/sockets.target.wants/gpsd.socket",
             root / "etc/systemd/system/multi-user.target.wants/gpsd.service"]
    return any(p.exists() for p in wants)


def gpsd_holders(port: str, root: Path = Path("/")) -> list[str]:
    """How gpsd holds serial port ``port``: one line per running gpsd naming it, or its
    configuration when the service is enabled. Empty when gpsd does not hold it."""
    found = []
    for comm in sorted((root / "proc").glob("[0-9]*/comm")):
        try:
            if comm.read_text().strip() != "gpsd":
                continue
            args = (comm.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in args if a]
        if any(_same(w, port, root) for w in words[1:]):
            found.append(f"gpsd is running (pid {comm.parent.name}: {' '.join(words)})")
    configured = _config_devices(root)
    if not found and _enabled(root) and any(_same(d, port, root) for d in configured):
        found.append("gpsd is enabled with DEVICES=\"" + " ".join(configured)
                     + "\" in /etc/default/gpsd")
    return found
