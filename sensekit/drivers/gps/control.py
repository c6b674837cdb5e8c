"""What to send a receiver to change its rate, power mode, power state and baud rate.

One :class:`ReceiverControl` per protocol family, chosen with the driver's ``protocol`` option:

- ``ubx``: u-blox M8 and older, legacy UBX-CFG-RATE / -RXM / -PM2 / -PRT messages;
- ``ubx9``: u-blox M9, M10, F9, UBX-CFG-VALSET keys (the legacy messages are gone on M10);
- ``mtk``: MediaTek MT3339 and kin (Adafruit Ultimate GPS, Quectel L70/L80), PMTK sentences
  (GlobalTop PMTK command packet manual A11: 220 rate, 225 power mode, 161 standby, 251 baud);
- ``nmea``: output only; every control action is refused with a hint.

The receiver constraints checked here, before anything is sent, raise :class:`ConfigError` with
the reason: the receiver's fastest rate, power save only at 1 Hz or slower (u-blox M8 receiver
description sec. 13.4; M9 integration manual sec. 3.11.6), and the serial bandwidth a rate needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from . import ubx
from .nmea import sentence

__all__ = ["BAUD_RATES", "Command", "ReceiverControl", "control_for", "pmtk_key", "ubx_key"]

#: Standard UART rates a receiver can be switched to, slowest first.
BAUD_RATES = (4800, 9600, 19200, 38400, 57600, 115200, 230400)
#: Share of the line the NMEA output may fill before a faster baud rate is needed.
LINE_BUDGET = 0.8


@dataclass(frozen=True)
class Command:
    """Bytes to write and the answer to wait for.

    Attributes:
        data: What to send.
        what: For messages (``"UBX-CFG-RATE 200 ms"``).
        ack: The answer to wait for (:func:`ubx_key` / :func:`pmtk_key`), None to send blind.
    """

    data: bytes
    what: str
    ack: str | None = None


def ubx_key(cls: int, msg_id: int) -> str:
    """How the answer (ACK-ACK or ACK-NAK) to UBX message ``cls``/``msg_id`` is keyed."""
    return f"UBX {cls:02X} {msg_id:02X}"


def pmtk_key(command: str) -> str:
    """How the answer (``$PMTK001,<command>,<flag>``) to a PMTK command is keyed."""
    return f"PMTK {command}"


class ReceiverControl:
    """Commands of a receiver family; the base is the output-only NMEA receiver."""

    protocol = "nmea"
    max_rate_hz = 1.0
    min_period_ms = 1000

    def __init__(self, who: str) -> None:
        self.who = who

    def _refuse(self, action: str) -> ConfigError:
        return ConfigError(
            f"{self.who}: cannot {action}: protocol={self.protocol} sends no commands. Hint: "
            "open it with protocol=ubx (u-blox M8), ubx9 (M9/M10) or mtk (MT3339)")

    def check(self, action: str) -> None:
        """Raise :class:`ConfigError` if this receiver cannot be told to do ``action``."""
        if self.protocol == "nmea":
            raise self._refuse(action)

    def period_ms(self, rate_hz: float) -> int:
        """The measurement period for ``rate_hz``, checked against the receiver's limits."""
        if rate_hz > self.max_rate_hz + 1e-9:
            raise ConfigError(f"{self.who}: {rate_hz:g} Hz is faster than this receiver's "
                              f"{self.max_rate_hz:g} Hz. Hint: choose {self.max_rate_hz:g} Hz "
                              "or less")
        period = round(1000.0 / rate_hz)
        if period > 65_535 and self.protocol.startswith("ubx"):
            raise ConfigError(f"{self.who}: {rate_hz:g} Hz is slower than the 65.535 s UBX "
                              "measurement period allows")
        return max(period, self.min_period_ms)

    def rate(self, period_ms: int) -> list[Command]:
        raise self._refuse("change the navigation rate")

    def mode(self, mode: str, period_ms: int) -> list[Command]:
        raise self._refuse(f"switch to {mode}")

    def sleep(self) -> list[Command]:
        raise self._refuse("sleep")

    def baud(self, baud: int) -> list[Command]:
        raise self._refuse(f"switch to {baud} baud")

    #: Sent to wake the receiver; it answers after :attr:`wake_s`.
    wake_bytes = b"\xff" * 8
    wake_s = 0.5


class UbxLegacy(ReceiverControl):
    """u-blox M8 and older (UBX protocol versions up to 23)."""

    protocol = "ubx"
    max_rate_hz = 10.0       # NEO-M8N data sheet UBX-15031086 R09, Table 1: 10 Hz (GPS+GLO)
    min_period_ms = 100

    def rate(self, period_ms: int) -> list[Command]:
        return [Command(ubx.cfg_rate(period_ms), f"UBX-CFG-RATE {period_ms} ms",
                        ubx_key(ubx.CLS_CFG, ubx.CFG_RATE))]

    def mode(self, mode: str, period_ms: int) -> list[Command]:
        save = mode == "power_save"
        out = []
        if save:
            out.append(Command(ubx.cfg_pm2(period_ms), f"UBX-CFG-PM2 cyclic {period_ms} ms",
                               ubx_key(ubx.CLS_CFG, ubx.CFG_PM2)))
        what = "power save" if save else "continuous"
        out.append(Command(ubx.cfg_rxm(save), f"UBX-CFG-RXM {what}",
                           ubx_key(ubx.CLS_CFG, ubx.CFG_RXM)))
        return out

    def sleep(self) -> list[Command]:
        return [Command(ubx.rxm_pmreq(), "UBX-RXM-PMREQ backup until woken")]

    def baud(self, baud: int) -> list[Command]:
        # The receiver switches at once; its ACK comes at the new rate, so it is not waited for.
        return [Command(ubx.cfg_prt_uart1(baud), f"UBX-CFG-PRT UART1 {baud} baud")]


class UbxValset(UbxLegacy):
    """u-blox M9 / M10 / F9: configuration through CFG-VALSET keys."""

    protocol = "ubx9"
    max_rate_hz = 10.0       # MAX-M10S data sheet UBX-20035208 R05, Table 2: 10 Hz max nav rate

    def _valset(self, items: list[tuple[int, int]], what: str) -> Command:
        return Command(ubx.cfg_valset(items), f"UBX-CFG-VALSET {what}",
                       ubx_key(ubx.CLS_CFG, ubx.CFG_VALSET))

    def rate(self, period_ms: int) -> list[Command]:
        return [self._valset([(ubx.CFG_RATE_MEAS, period_ms), (ubx.CFG_RATE_NAV, 1)],
                             f"CFG-RATE-MEAS {period_ms} ms")]

    def mode(self, mode: str, period_ms: int) -> list[Command]:
        value = 2 if mode == "power_save" else 0          # PSMCT (cyclic tracking) / full
        return [self._valset([(ubx.CFG_PM_OPERATEMODE, value)], f"CFG-PM-OPERATEMODE {value}")]

    def baud(self, baud: int) -> list[Command]:
        return [Command(ubx.cfg_valset([(ubx.CFG_UART1_BAUDRATE, baud)]),
                        f"UBX-CFG-VALSET CFG-UART1-BAUDRATE {baud}")]


class Mtk(ReceiverControl):
    """MediaTek MT3339 family: PMTK commands answered by ``$PMTK001,<cmd>,<flag>``."""

    protocol = "mtk"
    max_rate_hz = 10.0       # PA6H (MT3339) data sheet v0A, Features: update rate 1-10 Hz
    min_period_ms = 100

    @staticmethod
    def _pmtk(body: str, what: str, wait: bool = True) -> Command:
        return Command(sentence(f"PMTK{body}"), what,
                       pmtk_key(body.split(",")[0]) if wait else None)

    def rate(self, period_ms: int) -> list[Command]:
        return [self._pmtk(f"220,{period_ms}", f"PMTK220 fix interval {period_ms} ms")]

    def mode(self, mode: str, period_ms: int) -> list[Command]:
        # PMTK225,8: AlwaysLocate (the receiver cycles between full power and standby);
        # PMTK225,0: back to full power.
        value = 8 if mode == "power_save" else 0
        return [self._pmtk(f"225,{value}", f"PMTK225 mode {value}")]

    def sleep(self) -> list[Command]:
        return [self._pmtk("161,0", "PMTK161 standby")]

    def baud(self, baud: int) -> list[Command]:
        return [self._pmtk(f"251,{baud}", f"PMTK251 {baud} baud", wait=False)]

    wake_bytes = b"\r\n"


_FAMILIES: dict[str, type[ReceiverControl]] = {
    "nmea": ReceiverControl, "ubx": UbxLegacy, "ubx9": UbxValset, "mtk": Mtk}


def control_for(protocol: str, who: str) -> ReceiverControl:
    """The control of ``protocol`` (``ubx``, ``ubx9``, ``mtk``, ``nmea``)."""
    try:
        return _FAMILIES[protocol](who)
    except KeyError:
        raise ConfigError(f"{who}: unknown protocol {protocol!r}; use one of "
                          f"{', '.join(_FAMILIES)}") from None


def baud_needed(bytes_per_epoch: float, rate_hz: float) -> float:
    """Bit/s the output needs at ``rate_hz`` (10 bits per byte: start, 8 data, stop)."""
    return bytes_per_epoch * rate_hz * 10.0


def baud_for(bytes_per_epoch: float, rate_hz: float, current: int) -> int | None:
    """The slowest standard baud rate that carries the output, ``current`` if it does already,
    None if none does."""
    need = baud_needed(bytes_per_epoch, rate_hz)
    if need <= current * LINE_BUDGET:
        return current
    for baud in BAUD_RATES:
        if need <= baud * LINE_BUDGET:
            return baud
    return None
