"""Device URLs: where a device is.

Forms (DESIGN.md "Opening a device"):

- ``i2c://1/0x68``: I2C bus 1, address 0x68.
- ``i2c://1/0x70:3/0x68``: address 0x68 behind channel 3 of the TCA9548A multiplexer at 0x70
  on bus 1 (hops may be chained: ``i2c://1/0x70:3/0x71:0/0x68``).
- ``/dev/serial0?baud=9600``, ``/dev/serial/by-id/usb-...``: a device path, with options.
- ``socket://host:port``, ``loop://``, ``spy://...``, ``rfc2217://``: pyserial URLs, passed on as
  they are.
- ``emu://`` or ``emu://?clock_ppm=8000``: the emulated part of the driver being opened.
- ``replay://path/to/log.mcap#imu``: a recorded stream.
- ``file://path`` or a path with an extension: a file source (audio, video).

Query options are kept as strings; drivers convert them with :meth:`DeviceURL.option`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import parse_qsl, unquote

from .errors import ConfigError

__all__ = ["DeviceURL", "parse_url"]

T = TypeVar("T")

#: pyserial's own URL handlers; the GPS driver passes these through unchanged.
SERIAL_SCHEMES = frozenset({"socket", "loop", "spy", "rfc2217", "hwgrep", "alt", "cp2110"})


@dataclass(frozen=True)
class DeviceURL:
    """A parsed device URL.

    Attributes:
        raw: The text as given.
        scheme: ``"i2c"``, ``"emu"``, ``"replay"``, ``"socket"``..., or ``"path"`` for a device
            or file path.
        location: What follows ``scheme://`` up to ``?`` or ``#`` (the whole path for paths).
        options: Query options as strings.
        fragment: Text after ``#`` (the stream of a ``replay://`` URL).
    """

    raw: str
    scheme: str
    location: str
    options: Mapping[str, str] = field(default_factory=dict)
    fragment: str = ""

    def option(self, name: str, convert: Callable[[str], T], default: T) -> T:
        """Option ``name`` converted with ``convert`` (``int``, ``float``...), or ``default``."""
        if name not in self.options:
            return default
        text = self.options[name]
        try:
            return convert(text)
        except ValueError:
            raise ConfigError(
                f"option {name}={text!r} in {self.raw!r} is not a valid {convert.__name__}"
            ) from None

    def i2c_address(self) -> tuple[int, int]:
        """``(bus, address)`` of an ``i2c://BUS/ADDR`` URL (the part's own address, behind any
        multiplexers)."""
        bus, _, addr = self.i2c_route()
        return bus, addr

    def i2c_route(self) -> tuple[int, tuple[tuple[int, int], ...], int]:
        """``(bus, hops, address)``: ``hops`` are ``(multiplexer address, channel)`` pairs in
        the order they are passed (``i2c://1/0x70:3/0x68`` -> ``(1, ((0x70, 3),), 0x68)``)."""
        if self.scheme != "i2c":
            raise ConfigError(f"{self.raw!r} is not an i2c://BUS/ADDR URL")
        parts = self.location.split("/")
        if len(parts) < 2:
            raise ConfigError(f"cannot read bus and address from {self.raw!r}; write "
                              "i2c://BUS/ADDR or i2c://BUS/MUX:CHANNEL/ADDR")
        try:
            bus = int(parts[0], 0)
            hops = tuple(self._hop(p) for p in parts[1:-1])
            addr = int(parts[-1], 0)
        except ValueError:
            raise ConfigError(f"cannot read bus and address from {self.raw!r}; write "
                              "i2c://BUS/ADDR or i2c://BUS/MUX:CHANNEL/ADDR") from None
        for where in (addr, *(h[0] for h in hops)):
            if not 0x03 <= where <= 0x77:
                raise ConfigError(f"I2C address {where:#04x} in {self.raw!r} is outside "
                                  "0x03-0x77 (7-bit addresses; 0x00-0x02 and 0x78-0x7f are "
                                  "reserved)")
        return bus, hops, addr

    def _hop(self, text: str) -> tuple[int, int]:
        mux, sep, channel = text.partition(":")
        if not sep:
            raise ConfigError(f"{self.raw!r}: multiplexer hop {text!r} needs a channel, e.g. "
                              "0x70:3")
        number = int(channel, 0)
        if not 0 <= number <= 7:
            raise ConfigError(f"{self.raw!r}: a TCA9548A has channels 0 to 7, not {number} "
                              "(TI SCPS207F, Table 2)")
        return int(mux, 0), number

    def __str__(self) -> str:
        return self.raw


def parse_url(text: str) -> DeviceURL:
    """Parse a device URL; raise :class:`ConfigError` naming the text when it is malformed."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"a device URL must be a non-empty string, got {text!r}")
    text = text.strip()
    rest, _, fragment = text.partition("#")
    scheme, sep, after = rest.partition("://")
    if not sep:
        path, _, query = rest.partition("?")
        return DeviceURL(text, "path", unquote(path), _query(query, text), unquote(fragment))
    if not scheme.isidentifier() and not scheme.replace("+", "").isalnum():
        raise ConfigError(f"bad URL scheme {scheme!r} in {text!r}")
    location, _, query = after.partition("?")
    options = _query(query, text)
    return DeviceURL(text, scheme.lower(), unquote(location), options, unquote(fragment))


def _query(query: str, text: str) -> dict[str, str]:
    try:
        return dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError:
        raise ConfigError(f"malformed options {query!r} in {text!r}; write key=value&key=value"
                          ) from None
