"""Changing a receiver's baud rate safely, and finding it when it is not known.

A receiver told to switch (UBX-CFG-PRT, CFG-VALSET CFG-UART1-BAUDRATE, PMTK251) answers at the
new rate or not at all, and some do not switch (a configuration locked in flash, a clone that
acknowledges and ignores it). So after the host follows, the driver listens for a sentence with
a good checksum; if none comes it goes back to the old rate and listens there: a receiver that
stayed is a :class:`~sensekit.errors.ConfigError` saying so, with the link rolled back to where
it works; one heard at neither is searched for (:func:`find_baud`).

:func:`find_baud` listens at each standard rate in turn (the last known first) for up to an
epoch and a half; it is used when a receiver is opened at a rate it does not talk at (with
``auto_baud``), and after every reconnect, since a USB receiver that lost power comes back at
its power-on rate, not at the one it was switched to.

Not verified on hardware: how long real receivers take to switch, and which rates each model
offers (``drivers/smoke.py --check gps-baud`` switches and rolls back on a board).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ...errors import ConfigError, DeviceTimeout
from .control import BAUD_RATES

if TYPE_CHECKING:
    from .nmea_gps import NmeaGps

__all__ = ["find_baud", "heard_nmea", "switch_baud"]

log = logging.getLogger(__name__)

#: The receiver empties its transmit buffer before it switches (u-blox: the message being sent
#: finishes first); the host waits this long before following.
SWITCH_S = 0.1


def listen_s(gps: NmeaGps) -> float:
    """How long to wait for a sentence: an epoch and a half, at least 1.2 s."""
    return max(1.5 / (gps.rate_hz or 1.0), 1.2)


def heard_nmea(gps: NmeaGps, within_s: float) -> bool:
    """Whether a sentence with a good checksum arrives within ``within_s``."""
    reader = gps._reader
    before = reader.stats.accepted
    deadline = gps.clock.now_ns() + round(within_s * 1e9)
    while gps.clock.now_ns() < deadline:
        gps._pump(min((deadline - gps.clock.now_ns()) / 1e9, 0.25))
        if reader.stats.accepted > before:
            return True
    return False


def _host_baud(gps: NmeaGps, baud: int) -> None:
    port = gps.port
    port.set_baud(baud)
    port.reset_input()
    gps._reader.reset()


def _listen_for(gps: NmeaGps, seconds: float) -> None:
    deadline = gps.clock.now_ns() + round(seconds * 1e9)
    while gps.clock.now_ns() < deadline:
        gps._pump(min((deadline - gps.clock.now_ns()) / 1e9, 0.25))


def _refused(gps: NmeaGps, new: int, old: int) -> None:
    """Raise if the receiver answered the baud command with a refusal (an ACK-NAK)."""
    refused = [why for why in gps._answers.values() if why]
    if refused:
        raise ConfigError(
            f"{gps.describe()}: the receiver refused the switch to {new} baud ({refused[0]}) "
            f"and still talks at {old}. Hint: check protocol={gps.protocol} matches the "
            "receiver (ubx: M8 and older, ubx9: M9/M10)")


def find_baud(gps: NmeaGps, first: int | None = None) -> int | None:
    """The standard rate the receiver talks at (``first`` tried first), or None; the link is
    left at the rate found (or where it started, when none is)."""
    start = gps.port.baud
    order = [b for b in dict.fromkeys([first or start, start, 9600, 38400, 115200, *BAUD_RATES])]
    for baud in order:
        _host_baud(gps, baud)
        if heard_nmea(gps, listen_s(gps)):
            gps.baud = baud
            return baud
    _host_baud(gps, start)
    return None


def switch_baud(gps: NmeaGps, new: int) -> None:
    """Tell the receiver to talk at ``new`` baud, follow, and verify it did.

    Raises:
        ConfigError: the receiver did not follow (the link is rolled back to its rate).
        DeviceTimeout: the receiver was heard at no standard rate afterwards.
    """
    old = gps.port.baud
    log.info("%s: switching %d -> %d baud", gps.describe(), old, new)
    gps._send_all(gps.control.baud(new))
    _listen_for(gps, SWITCH_S)      # a refusal comes back at the old rate
    _refused(gps, new, old)
    _host_baud(gps, new)
    if heard_nmea(gps, listen_s(gps)):
        gps.baud = new
        return
    _host_baud(gps, old)
    if heard_nmea(gps, listen_s(gps)):
        gps.baud = old
        _refused(gps, new, old)
        raise ConfigError(
            f"{gps.describe()}: the receiver did not follow the switch to {new} baud and still "
            f"talks at {old}; rolled back to {old}. Hint: check protocol={gps.protocol} "
            "matches the receiver; else its port settings may be locked (saved to flash): "
            "switch it once with its own tool, or use a slower navigation rate")
    found = find_baud(gps)
    if found is None:
        raise DeviceTimeout(f"{gps.describe()}: after the switch to {new} baud the receiver is "
                            "silent at every standard rate. Hint: power-cycle it")
    raise ConfigError(f"{gps.describe()}: after the switch to {new} baud the receiver talks at "
                      f"{found}; the link follows it there")
