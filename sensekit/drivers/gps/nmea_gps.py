"""``NmeaGps``: a GPS receiver on a serial port (or an emulated one), one fix per epoch.

Open it with ``sensekit.open("nmea", URL, ...)``:

- ``/dev/serial0?baud=9600``, ``/dev/serial/by-id/usb-u-blox_...``: a UART or USB receiver;
- ``socket://host:port``, ``loop://``, ``spy://...``, ``rfc2217://...``: pyserial's URLs;
- ``gpsd://host:port`` (``gpsd://`` for localhost:2947): the raw NMEA a running gpsd passes on
  (:mod:`.gpsd`), decoded here as from a port; the receiver cannot be configured that way;
- ``emu://`` (or ``emu://?protocol=mtk``): an emulated receiver in this process
  (:class:`~sensekit.testing.gps_receiver.GpsReceiverEmulator`; pass ``emulator=`` to use one
  you built, or call its ``open_driver()``); with ``SENSEKIT_BACKEND=emu`` device paths open
  one too.

Baud rate: a faster navigation rate that needs a faster line switches the receiver and then
checks that it follows, rolling back when it does not (:mod:`.baud`); with ``auto_baud`` (the
default) a receiver that does not talk at ``baud`` when opened, or after a reconnect (a USB
receiver that lost power is back at its power-on rate), is looked for at every standard rate.

Options (keyword or URL query): ``baud`` (default 9600), ``protocol`` = ``ubx`` (u-blox M8),
``ubx9`` (M9/M10), ``mtk`` (MT3339) or ``nmea`` (output only, the default), ``auto_baud``
(raise the line rate when a faster navigation rate needs it; default true).

Each :meth:`read` returns a ``gps`` packet of the fixes completed since the last read (stamped
with the host time of the first byte of each epoch's burst); satellites in view go to the
``<stream>.sky`` stream, read with :meth:`NmeaGps.read_sky` or :meth:`NmeaGps.on_sky`. Vendor
sentences are handed raw to :meth:`NmeaGps.on_sentence` callbacks.

Control (the sampling controller's actions): ``set_rate`` (UBX-CFG-RATE / CFG-RATE-MEAS /
PMTK220), ``set_mode("power_save" | "continuous")`` (CFG-RXM + CFG-PM2 / CFG-PM-OPERATEMODE /
PMTK225), ``sleep`` (UBX-RXM-PMREQ / PMTK161) and ``wake`` (a wake byte, then 0.5 s). Each is
acknowledged by the receiver (ACK-ACK / PMTK001 flag 3) or raises naming what was refused.
When the port vanishes the driver reconnects with backoff, re-applies rate and mode, counts
the reconnect and reports the epochs lost in the gap as dropped (estimated).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from ...buses.serial import SerialPort
from ...driver import Driver
from ...errors import ConfigError, DeviceClosed, DeviceNotFound, DeviceTimeout, SensekitError
from ...options import check_choice, check_number
from ...packets import Packet
from ...url import SERIAL_SCHEMES, DeviceURL
from . import ubx
from .baud import find_baud, heard_nmea, switch_baud
from .control import BAUD_RATES, Command, baud_for, control_for, pmtk_key, ubx_key
from .epoch import EpochAssembler, Fix
from .nmea import NmeaReader, Sentence
from .streams import fixes_to_packet, sky_to_packet

__all__ = ["NmeaGps"]

log = logging.getLogger(__name__)

_OWN_OPTIONS = frozenset({"baud", "protocol", "auto_baud"})
_POWER_MODELS = {"ubx": "ublox_m8", "ubx9": "ublox_m10", "mtk": "mtk3339"}
#: Bytes per epoch assumed before any were measured (GGA+GSA+3 GSV+RMC is about 450).
_DEFAULT_EPOCH_BYTES = 500.0
#: PMTK001 flags other than 3 (success), GlobalTop PMTK command packet manual, PMTK001.
_PMTK_FLAGS = {0: "invalid command", 1: "unsupported command", 2: "valid but failed"}


class ByteLink(Protocol):
    """What the driver needs from a port (:class:`SerialPort` or an emulator link)."""

    baud: int
    reconnects: int

    @property
    def byte_ns(self) -> int: ...

    def open(self) -> None: ...

    def read(self, timeout_s: float) -> bytes: ...

    def write(self, data: bytes) -> bool: ...

    def set_baud(self, baud: int) -> None: ...

    def reset_input(self) -> None: ...

    def take_gap(self) -> int | None: ...

    def close(self) -> None: ...


def _flag(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


class NmeaGps(Driver):
    """A GPS receiver speaking NMEA 0183, controlled through UBX or PMTK. See the module doc.

    Args:
        url: Device path, pyserial URL or ``emu://``.
        protocol: ``ubx``, ``ubx9``, ``mtk`` or ``nmea``.
        baud: Line rate the receiver talks at now.
        auto_baud: Raise the baud rate when a rate needs it (else refuse the rate).
        emulator: An emulator to open ``emu://`` on (default: a new one on this clock).
        ack_timeout_s: How long to wait for a command's answer.
        open_timeout_s: How long :meth:`open` waits for the first sentence.
        **options: :class:`~sensekit.driver.Driver` options (``clock``, ``rate_hz``, ``mode``...).
            With ``protocol="nmea"`` nothing is sent: ``rate_hz`` then states the rate the
            receiver was set to elsewhere (it scales the loss estimate of a reconnect).
    """

    name: ClassVar[str] = "nmea"
    modality: ClassVar[str] = "gps"
    schemes: ClassVar[frozenset[str]] = frozenset({"path", "emu", "gpsd", *SERIAL_SCHEMES})
    emulable: ClassVar[frozenset[str]] = frozenset({"path"})
    modes: ClassVar[tuple[str, ...]] = ("continuous", "power_save")
    default_rate_hz: ClassVar[float | None] = 1.0
    #: The slowest navigation rate UBX can set (a 65.535 s measurement period, u-blox M8
    #: receiver description UBX-13003221 R24, UBX-CFG-RATE measRate) to the fastest any
    #: supported family reaches (25 Hz, u-blox M9 data sheet UBX-19014285); each protocol
    #: then checks its own limit.
    rate_range_hz: ClassVar[tuple[float, float]] = (1 / 65.535, 25.0)

    def __init__(self, url: str | DeviceURL, *, protocol: str | None = None,
                 baud: int | None = None, auto_baud: bool | None = None,
                 emulator: Any = None, ack_timeout_s: float = 1.0, open_timeout_s: float = 3.0,
                 **options: Any) -> None:
        super().__init__(url, **options)
        where = self.describe()
        self.protocol = protocol or self.url.option("protocol", str, "nmea")
        if self.url.scheme == "gpsd" and self.protocol != "nmea":
            raise ConfigError(f"{where}: through gpsd the receiver can only be read; open it "
                              "with protocol=nmea, or stop gpsd to configure it directly")
        self.baud = int(check_choice(where, "baud", baud or self.url.option("baud", int, 9600),
                                     (1200, 2400, *BAUD_RATES, 460800, 921600)))
        self.auto_baud = auto_baud if auto_baud is not None else self.url.option(
            "auto_baud", _flag, True)
        check_number(where, "ack_timeout_s", ack_timeout_s, 0.0, 60.0, lo_open=True, unit="s")
        check_number(where, "open_timeout_s", open_timeout_s, 0.0, 600.0, lo_open=True, unit="s")
        self.control = control_for(self.protocol, self.describe())
        # The table follows the receiver family, so it is set per instance.
        setattr(self, "power_model", _POWER_MODELS.get(self.protocol))  # noqa: B010
        self.ack_timeout_s = ack_timeout_s
        self.open_timeout_s = open_timeout_s
        self._emulator = emulator
        self._requested_rate = options.get("rate_hz")
        self._requested_mode = options.get("mode")
        self._port: ByteLink | None = None
        self._reader = NmeaReader()
        self._splitter = ubx.UbxSplitter() if self.protocol.startswith("ubx") else None
        # A receiver that never sends a date (GGA only) is dated by the host's wall clock,
        # used for the day only: the time of day is always the receiver's.
        self._assembler = EpochAssembler(eager=True, hold_undated=3, utc_hint=time.time_ns,
                                         on_vendor=self._on_vendor)
        self._ready: list[Fix] = []
        self._answers: dict[str, str] = {}    # answer key -> "" (done) or why refused
        self._sentence_callbacks: list[Callable[[Sentence], None]] = []
        self._sky_callbacks: list[Callable[[Packet], None]] = []
        self.sky: deque[Packet] = deque(maxlen=256)
        self.gaps: list[tuple[int, int]] = []
        self.bytes_per_epoch = _DEFAULT_EPOCH_BYTES
        self._epoch_bytes = 0
        self._last_byte_ns = 0
        self._opened_baud = self.baud
        self._reapply_due: int | None = None

    # -- opening ----------------------------------------------------------------------------
    @property
    def port(self) -> ByteLink:
        """The link to the receiver (a serial port, gpsd, or an emulator's link)."""
        if self._port is None:
            raise DeviceClosed(f"{self.describe()} is not open")
        return self._port

    def _open(self) -> None:
        if self.uses_emulator:
            emu = self._emulator or self._new_emulator()
            self._port = emu.link()
            self._port.set_baud(self.baud)   # the host's side starts at the rate asked for
        elif self.url.scheme == "gpsd":
            from .gpsd import GpsdLink

            self._port = GpsdLink(self.url, who=self.describe(), clock=self.clock)
        else:
            self._port = SerialPort(self.url, baud=self.baud, who=self.describe(),
                                    clock=self.clock, own_options=_OWN_OPTIONS)
        self._port.open()
        self._expect_nmea(self.open_timeout_s)
        if self._requested_rate is not None and self.protocol != "nmea":
            self.rate_hz = self._set_rate(float(self._requested_rate))
        if self._requested_mode not in (None, "continuous"):
            self._set_mode(str(self._requested_mode))

    def _new_emulator(self) -> Any:
        from ...testing.gps_receiver import GpsReceiverEmulator

        return GpsReceiverEmulator(protocol=self.url.option("protocol", str, self.protocol),
                                   clock=self.clock, baud=self.baud,
                                   rate_hz=self.rate_hz or 1.0)

    def _expect_nmea(self, within_s: float) -> None:
        """Wait for one good sentence, so a wrong port or baud rate fails at open (with
        ``auto_baud``, a receiver at another standard rate is found and its rate kept)."""
        if heard_nmea(self, within_s):
            return
        junk = self._reader.stats.garbage_bytes
        searchable = self.auto_baud and self.url.scheme in ("path", "emu")
        if junk and searchable and find_baud(self) is not None:
            log.warning("%s: the receiver talks at %d baud, not the %s it was opened at",
                        self.describe(), self.baud, self.url.options.get("baud", "9600"))
            self._opened_baud = self.baud
            return
        self._close()
        raise DeviceNotFound(f"{self.describe()}: no NMEA sentence within {within_s:g} s at "
                             f"{self.baud} baud. Hint: {self._silence_hint(junk)}")

    def _silence_hint(self, junk: int) -> str:
        if junk:
            return (f"{junk} bytes arrived but no NMEA: wrong baud rate? (try ?baud=9600, "
                    "38400 or 115200)")
        if self.url.scheme == "path":
            from .gpsd import gpsd_holders

            holders = gpsd_holders(self.url.location)
            if holders:
                return (f"{holders[0]}, and it holds this port: read it through gpsd with "
                        "gpsd://localhost:2947, or stop it (sudo systemctl stop gpsd.socket "
                        "gpsd)")
        return ("nothing arrived: is the receiver powered and wired TX to RX? On a Pi 3/4 use "
                "/dev/serial0, not the Bluetooth UART ttyAMA0")

    def _close(self) -> None:
        if self._port is not None:
            self._port.close()

    # -- reading ----------------------------------------------------------------------------
    def _read_packet(self, timeout_s: float) -> Packet | None:
        deadline = self.clock.now_ns() + round(timeout_s * 1e9)
        pumped = False  # a zero timeout still takes what already came
        while not self._ready:
            left = (deadline - self.clock.now_ns()) / 1e9
            if left <= 0 and pumped:
                return None
            self._pump(max(left, 0.0))
            pumped = True
        fixes, self._ready = self._ready, []
        sky = sky_to_packet(fixes, stream=f"{self.stream}.sky")
        if sky is not None:
            self.sky.append(sky)
            for callback in self._sky_callbacks:
                callback(sky)
        return fixes_to_packet(fixes, stream=self.stream)

    def _pump(self, timeout_s: float) -> None:
        """One read from the port: decode what came, note reconnects, flush a quiet epoch."""
        assert self._port is not None
        data = self._port.read(min(timeout_s, 0.25))
        gap = self._port.take_gap()
        if gap is not None:
            self._after_reconnect(gap)
        now = self.clock.now_ns()
        if self._reapply_due is not None and now >= self._reapply_due:
            self._reapply()
        if data:
            self._ingest(data, now)
            self._last_byte_ns = now
        elif self._last_byte_ns and now - self._last_byte_ns > 200_000_000:
            # A burst ended and nothing follows (end of a cycle not learned yet): close it.
            self._take(self._assembler.flush())
            self._last_byte_ns = 0

    def _ingest(self, data: bytes, t_ns: int) -> None:
        assert self._port is not None
        if self._splitter is not None:
            data, frames = self._splitter.feed(data)
            for frame in frames:
                if frame.cls == ubx.CLS_ACK and len(frame.payload) >= 2:
                    key = ubx_key(frame.payload[0], frame.payload[1])
                    self._answers[key] = "" if frame.id == ubx.ACK_ACK else "UBX-ACK-NAK"
        self._epoch_bytes += len(data)
        bodies, times = self._reader.feed_bodies(data, t_ns, self._port.byte_ns)
        self._take(self._assembler.push_bodies(bodies, times))

    def _take(self, fixes: list[Fix]) -> None:
        if not fixes:
            return
        # Measured output per epoch, for the baud-rate check of faster rates.
        per_epoch = self._epoch_bytes / len(fixes)
        self.bytes_per_epoch = 0.7 * self.bytes_per_epoch + 0.3 * per_epoch
        self._epoch_bytes = 0
        self._ready.extend(fixes)

    def _on_vendor(self, s: Sentence) -> None:
        body = s.body
        if body.startswith(b"PMTK001,"):
            parts = body.split(b",")
            if len(parts) >= 3 and parts[2].isdigit():
                flag = int(parts[2])
                self._answers[pmtk_key(parts[1].decode("ascii", "replace"))] = (
                    "" if flag == 3 else f"PMTK001 flag {flag}: {_PMTK_FLAGS.get(flag, '?')}")
        for callback in self._sentence_callbacks:
            callback(s)

    def on_sentence(self, callback: Callable[[Sentence], None]) -> None:
        """Call ``callback`` with every vendor or unknown sentence (raw, checksum good)."""
        self._sentence_callbacks.append(callback)

    def on_sky(self, callback: Callable[[Packet], None]) -> None:
        """Call ``callback`` with every satellite-view packet (``<stream>.sky``)."""
        self._sky_callbacks.append(callback)

    def read_sky(self) -> Packet | None:
        """The oldest satellite-view packet not yet taken, or None."""
        return self.sky.popleft() if self.sky else None

    # -- reconnecting -----------------------------------------------------------------------
    def _after_reconnect(self, gap_ns: int) -> None:
        assert self._port is not None
        self.stats.reconnects += 1
        self.gaps.append((self.clock.now_ns(), gap_ns))
        self._reader.reset()
        self._take(self._assembler.flush())
        lost = round(gap_ns / 1e9 * (self.rate_hz or 1.0))
        self.report_dropped(lost, f"port gone for {gap_ns / 1e9:.1f} s (unplugged?), "
                                  "reconnected", estimated=True)
        if self.protocol != "nmea":
            self._reapply_due = self.clock.now_ns()

    def _reapply(self) -> None:
        """Settings again after a reconnect: a USB receiver that was unplugged lost them with
        its power, baud rate included, so its rate is looked for before anything is sent."""
        assert self._port is not None
        self._reapply_due = None
        try:
            if self.auto_baud and self.url.scheme in ("path", "emu"):
                found = find_baud(self, first=self._opened_baud)
                if found is None:
                    raise DeviceTimeout(f"{self.describe()}: the receiver is back but talks at "
                                        "no standard baud rate")
                log.info("%s: after the reconnect the receiver talks at %d baud",
                         self.describe(), found)
            log.info("%s: re-applying %s Hz, %s after reconnect", self.describe(),
                     self.rate_hz, self.mode)
            self.rate_hz = self._set_rate(self.rate_hz or 1.0)
            self._set_mode(self.mode)
            if self.asleep:
                self._sleep()
        except SensekitError as exc:
            log.warning("%s: could not re-apply settings after reconnect (%s); retrying in "
                        "1 s", self.describe(), exc)
            self._reapply_due = self.clock.now_ns() + 1_000_000_000

    # -- control ----------------------------------------------------------------------------
    def _set_rate(self, rate_hz: float) -> float:
        self.control.check("change the navigation rate")
        period = self.control.period_ms(rate_hz)
        actual = 1000.0 / period
        if self.mode == "power_save" and actual > 1.0:
            raise ConfigError(f"{self.describe()}: power save works only at 1 Hz or slower; "
                              f"asked for {rate_hz:g} Hz. Hint: set_mode('continuous') first")
        self._fit_baud(actual)
        self._send_all(self.control.rate(period))
        return actual

    def _fit_baud(self, rate_hz: float) -> None:
        assert self._port is not None
        current = self._port.baud
        need = baud_for(self.bytes_per_epoch, rate_hz, current)
        if need == current:
            return
        bits = self.bytes_per_epoch * rate_hz * 10
        if need is None or not self.auto_baud:
            raise ConfigError(
                f"{self.describe()}: {rate_hz:g} Hz needs about {bits:,.0f} bit/s for "
                f"{self.bytes_per_epoch:.0f} bytes per epoch, more than {current} baud "
                "carries. Hint: " + ("turn off sentences you do not need" if need is None
                                     else f"open with auto_baud=true or baud={need}"))
        log.info("%s: %g Hz needs %d baud", self.describe(), rate_hz, need)
        switch_baud(self, need)

    def _set_mode(self, mode: str, **options: Any) -> None:
        self.control.check(f"switch to {mode}")
        rate = self.rate_hz or 1.0
        if mode == "power_save" and rate > 1.0:
            raise ConfigError(f"{self.describe()}: power save works only at 1 Hz or slower; the "
                              f"receiver runs at {rate:g} Hz. Hint: set_rate(1.0) first")
        self._send_all(self.control.mode(mode, self.control.period_ms(rate)))

    def _sleep(self) -> None:
        self._send_all(self.control.sleep())
        self._take(self._assembler.flush())

    def _wake(self) -> None:
        assert self._port is not None
        self._port.write(self.control.wake_bytes)
        self.clock.sleep(self.control.wake_s)       # the receiver ignores input meanwhile
        self._reader.reset()

    def _send_all(self, commands: list[Command]) -> None:
        for command in commands:
            self._send(command)

    def _send(self, command: Command) -> None:
        assert self._port is not None
        self._answers.clear()
        if not self._port.write(command.data):
            raise DeviceTimeout(f"{self.describe()}: could not send {command.what}: the port "
                                "is gone (reconnecting). Hint: retry once it is back")
        if command.ack is None:
            return
        deadline = self.clock.now_ns() + round(self.ack_timeout_s * 1e9)
        while self.clock.now_ns() < deadline:
            self._pump((deadline - self.clock.now_ns()) / 1e9)
            verdict = self._answers.get(command.ack)
            if verdict is not None:
                if verdict:
                    raise ConfigError(f"{self.describe()}: the receiver refused {command.what} "
                                      f"({verdict}). Hint: check protocol={self.protocol} "
                                      "matches the receiver and the value is in its range")
                return
        raise DeviceTimeout(f"{self.describe()}: no answer to {command.what} within "
                            f"{self.ack_timeout_s:g} s. Hint: is protocol={self.protocol} "
                            "right for this receiver (ubx: M8 and older, ubx9: M9/M10)?")
