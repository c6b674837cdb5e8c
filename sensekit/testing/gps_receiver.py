"""An emulated GPS receiver: NMEA out, UBX or PMTK commands in, fed by a trajectory.

It behaves as the receivers' documents say at the byte level, so the real :class:`NmeaGps`
driver code runs against it:

- one burst of NMEA sentences per navigation epoch (GGA, GSA, GSV, RMC by default, any talker),
  positions from ``trajectory(t_s) -> (lat_deg, lon_deg, alt_msl_m, speed_mps, track_deg,
  has_fix)``; a line rate (``baud``) that cuts a burst which does not fit in its epoch;
- ``protocol="ubx"`` (u-blox M8): UBX-CFG-RATE, -RXM, -PM2, -PRT answered with ACK/NAK, power
  save refused (NAK) faster than 1 Hz, UBX-RXM-PMREQ sleep; ``"ubx9"`` (M9/M10): CFG-VALSET keys
  instead, the legacy messages NAKed; ``"mtk"``: PMTK220/225/161/251 answered with PMTK001;
  ``"nmea"``: deaf;
- asleep it sends nothing; any byte wakes it and it talks again ``wake_s`` (0.5 s) later;
- a serial line whose rate must match: what the host reads at another baud rate is framing
  garbage, and what it writes then is not understood (only a sleeping receiver notices the
  activity and wakes); a receiver made with ``follows_baud=False`` acknowledges a baud-rate
  command and keeps its rate (a configuration locked in flash, or a clone); :meth:`power_cycle`
  (a USB receiver unplugged and plugged back) loses every setting, the baud rate included.

Its NMEA and UBX framing is its own (:mod:`sensekit.testing.gps_protocols`), not the driver's.

Three ways to reach it:

- in process (``link()``, what ``sensekit.open("nmea", "emu://")`` uses): no OS, driven by the
  clock, so tests run on a :class:`~sensekit.clock.FakeClock`;
- a real pseudo-terminal (``start_pty()``, a path such as ``/dev/pts/5``), with ``unplug()`` /
  ``replug()`` to make it vanish and come back under a new name behind a stable symlink;
- a TCP socket (``start_socket()``, a ``socket://127.0.0.1:PORT`` URL).

The scenario simulator feeds it a trajectory and reads :meth:`GpsReceiverEmulator.burst` or
opens the driver on it with :meth:`GpsReceiverEmulator.open_driver`.
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..clock import Clock, default_clock
from . import gps_protocols as proto
from .gps_protocols import UbxMessage, nmea, nmea_lines, parse_valset
from .gps_transport import EmulatorLink, EmulatorServer

__all__ = ["EmulatorLink", "GpsReceiverEmulator", "Trajectory", "still"]

#: ``t_s -> (lat_deg, lon_deg, alt_msl_m, speed_mps, track_deg, has_fix)``
Trajectory = Callable[[float], tuple[float, float, float, float, float, bool]]

#: Satellites the emulator shows: (PRN, elevation, azimuth, C/N0), the first 8 used.
_SKY = [(2, 62, 41, 44), (5, 48, 301, 41), (12, 35, 120, 39), (15, 71, 200, 46),
        (18, 22, 82, 35), (24, 14, 250, 31), (25, 55, 160, 43), (29, 30, 20, 37),
        (31, 8, 330, 22), (32, 3, 110, 0)]


def still(lat: float = 52.5163, lon: float = 13.3777, alt: float = 34.0) -> Trajectory:
    """A receiver standing at one place with a fix."""
    return lambda t_s: (lat, lon, alt, 0.0, 0.0, True)


def _angle(value: float, width: int) -> tuple[str, bool]:
    degrees = int(abs(value))
    minutes = (abs(value) - degrees) * 60.0
    return f"{degrees:0{width}d}{minutes:07.4f}", value < 0


class GpsReceiverEmulator:
    """An emulated receiver. See the module docstring.

    Args:
        trajectory: Where the receiver is at ``t_s`` seconds after start.
        protocol: ``ubx``, ``ubx9``, ``mtk`` or ``nmea``.
        rate_hz: Initial navigation rate.
        baud: Initial line rate; bursts longer than a period's worth of bytes are cut.
        clock: Host clock; epochs fall on whole periods after creation.
        start_utc: UTC at start.
        talker: Talker of the sentences (``GP``, ``GN``...).
        sentences: Sentence types in each burst, in order (``GGA GSA GSV RMC VTG GLL ZDA``).
        wake_s: Silence after a wake-up byte.
        follows_baud: Whether a baud-rate command changes its rate (False: it keeps it).
    """

    def __init__(self, trajectory: Trajectory | None = None, *, protocol: str = "ubx",
                 rate_hz: float = 1.0, baud: int = 9600, clock: Clock | None = None,
                 start_utc: _dt.datetime = _dt.datetime(2026, 1, 1, 12, 0, 0),
                 talker: str = "GP", sentences: tuple[str, ...] = ("GGA", "GSA", "GSV", "RMC"),
                 wake_s: float = 0.5, follows_baud: bool = True) -> None:
        self.trajectory = trajectory or still()
        self.protocol = protocol
        self.clock = clock or default_clock()
        self.start_utc = start_utc
        self.talker = talker
        self.sentences = sentences
        self.wake_s = wake_s
        self.period_ms = round(1000 / rate_hz)
        self.baud = baud
        self.power_on_baud, self.power_on_period_ms = baud, self.period_ms
        self.follows_baud = follows_baud
        self.power_cycles = 0
        self.power_save = False
        self.asleep = False
        self.commands: list[str] = []          # what it was told, for tests and logs
        self.cut_sentences = 0                 # sentences lost to the line rate
        self._t0 = self.clock.now_ns()
        self._next_epoch = self._t0
        self._quiet_until = 0
        self._out: list[tuple[int, bytes]] = []
        self._raw = bytearray()
        self._text = bytearray()
        self._lock = threading.RLock()
        self._server: EmulatorServer | None = None

    @classmethod
    def from_options(cls, options: dict[str, str], clock: Clock | None = None
                     ) -> GpsReceiverEmulator:
        """From ``emu://?protocol=mtk&baud=115200&rate=5`` options."""
        return cls(protocol=options.get("protocol", "ubx"), clock=clock,
                   baud=int(options.get("baud", "9600")),
                   rate_hz=float(options.get("rate", "1.0")))

    @property
    def rate_hz(self) -> float:
        return 1000.0 / self.period_ms

    def power_cycle(self) -> None:
        """Power lost and back: every setting to its power-on value, the baud rate included."""
        with self._lock:
            self.power_cycles += 1
            self.baud, self.period_ms = self.power_on_baud, self.power_on_period_ms
            self.power_save = self.asleep = False
            self._raw.clear()
            self._text.clear()

    # -- output -------------------------------------------------------------------------
    def burst(self, t_s: float) -> bytes:
        """The NMEA sentences of the epoch ``t_s`` seconds after start."""
        lat, lon, alt, speed, track, has_fix = self.trajectory(t_s)
        utc = self.start_utc + _dt.timedelta(seconds=t_s)
        hms = f"{utc:%H%M%S}.{utc.microsecond // 10_000:02d}"
        lat_t, south = _angle(lat, 2)
        lon_t, west = _angle(lon, 3)
        pos = f"{lat_t},{'S' if south else 'N'},{lon_t},{'W' if west else 'E'}" if has_fix \
            else ",,,"
        knots = speed / (1852 / 3600)
        t = self.talker
        make = {
            "GGA": lambda: f"{t}GGA,{hms},{pos},{1 if has_fix else 0},"
                           f"{8 if has_fix else 0:02d},0.9,"
                           + (f"{alt:.1f},M,47.0,M,," if has_fix else ",M,,M,,"),
            "GSA": lambda: f"{t}GSA,A,{3 if has_fix else 1},"
                           + ",".join(f"{p:02d}" if has_fix else "" for p, *_ in _SKY[:8])
                           + ",,,,,1.6,0.9,1.3",
            "RMC": lambda: f"{t}RMC,{hms},{'A' if has_fix else 'V'},{pos},{knots:.3f},"
                           f"{track:.2f},{utc:%d%m%y},,,{'A' if has_fix else 'N'}",
            "VTG": lambda: f"{t}VTG,{track:.2f},T,,M,{knots:.3f},N,{speed * 3.6:.3f},K,A",
            "GLL": lambda: f"{t}GLL,{pos},{hms},{'A' if has_fix else 'V'},A",
            "ZDA": lambda: f"{t}ZDA,{hms},{utc:%d,%m,%Y},00,00",
        }
        out = bytearray()
        for kind in self.sentences:
            if kind == "GSV":
                out += self._gsv()
            else:
                out += nmea(make[kind]())
        return bytes(out)

    def _gsv(self) -> bytes:
        groups = [_SKY[i:i + 4] for i in range(0, len(_SKY), 4)]
        out = b""
        for n, group in enumerate(groups, 1):
            sats = ",".join(f"{p:02d},{e:02d},{a:03d},{c:02d}" if c else f"{p:02d},{e:02d},{a:03d},"
                            for p, e, a, c in group)
            out += nmea(f"{self.talker}GSV,{len(groups)},{n},{len(_SKY):02d},{sats}")
        return out

    def take_due(self, now_ns: int) -> bytes:
        """Everything the receiver sent up to ``now_ns`` (epochs and answers), in order."""
        with self._lock:
            while self._next_epoch <= now_ns:
                t = self._next_epoch
                if not self.asleep and t >= self._quiet_until:
                    self._out.append((t, self._fit(self.burst((t - self._t0) / 1e9))))
                self._next_epoch += self.period_ms * 1_000_000
            due = [data for t, data in sorted(self._out, key=lambda x: x[0]) if t <= now_ns]
            self._out = [(t, d) for t, d in self._out if t > now_ns]
            return b"".join(due)

    def next_due_ns(self) -> int:
        """When the receiver next sends something."""
        with self._lock:
            pending = [t for t, _ in self._out]
            return min([self._next_epoch, *pending])

    def _fit(self, burst: bytes) -> bytes:
        budget = int(self.baud / 10 * self.period_ms / 1000)
        if len(burst) <= budget:
            return burst
        lines = burst.split(b"\n")
        kept = b""
        for line in lines:
            if line and len(kept) + len(line) + 1 > budget:
                self.cut_sentences += 1
            elif line:
                kept += line + b"\n"
        return kept

    # -- input --------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Bytes from the host: wake-ups, UBX frames, PMTK sentences."""
        now = self.clock.now_ns()
        with self._lock:
            if self.asleep:
                self.asleep = False
                self._quiet_until = now + round(self.wake_s * 1e9)
                self._next_epoch = max(self._next_epoch, self._quiet_until)
                self.commands.append("wake")
                return                     # the wake-up bytes themselves are lost
            if now < self._quiet_until:
                return                     # still starting up
            self._raw += data
            text, frames = proto.ubx_messages(self._raw)
            for frame in frames:
                self._on_ubx(frame, now)
            self._text += text
            for body in nmea_lines(self._text):
                if body.startswith("PMTK") and self.protocol == "mtk":
                    self._on_pmtk(body, now)

    def activity(self) -> None:
        """Bytes arrived at a baud rate it does not understand: only waking notices them."""
        with self._lock:
            if self.asleep:
                self.write(b"\xff")

    def _answer(self, data: bytes, now: int) -> None:
        self._out.append((now, data))

    def _ack(self, ok: bool, cls: int, msg_id: int) -> bytes:
        return proto.ubx(proto.CLS_ACK, proto.ACK_ACK if ok else proto.ACK_NAK,
                         bytes([cls, msg_id]))

    def _on_ubx(self, frame: UbxMessage, now: int) -> None:
        if self.protocol not in ("ubx", "ubx9"):
            return
        key = (frame.cls, frame.msg_id)
        if key == (proto.CLS_NAV_RXM, proto.RXM_PMREQ):
            self.commands.append("UBX-RXM-PMREQ")
            self.asleep = True                  # no answer: it is asleep
            return
        handler = {(proto.CLS_CFG, proto.CFG_VALSET): self._valset}.get(key) \
            if self.protocol == "ubx9" else {
            (proto.CLS_CFG, proto.CFG_RATE): self._cfg_rate,
            (proto.CLS_CFG, proto.CFG_RXM): self._cfg_rxm,
            (proto.CLS_CFG, proto.CFG_PM2): self._cfg_pm2,
            (proto.CLS_CFG, proto.CFG_PRT): self._cfg_prt,
        }.get(key)
        if handler is None:
            if self.protocol == "ubx9" and frame.cls == proto.CLS_CFG:
                self._answer(self._ack(False, *key), now)   # M10: legacy CFG is gone
            return                                          # M8 ignores what it does not know
        baud = self.baud
        ok = handler(frame.payload)
        self._answer(self._ack(ok, *key), now)
        if self.baud != baud and not self.follows_baud:
            self.baud = baud                    # acknowledged, and kept its rate

    def _set_period(self, period_ms: int) -> bool:
        if period_ms < 100 or (self.power_save and period_ms < 1000):
            return False
        self.period_ms = period_ms
        return True

    def _cfg_rate(self, payload: bytes) -> bool:
        period = int.from_bytes(payload[0:2], "little")
        self.commands.append(f"CFG-RATE {period}")
        return len(payload) == 6 and self._set_period(period)

    def _cfg_rxm(self, payload: bytes) -> bool:
        save = len(payload) == 2 and payload[1] == 1
        self.commands.append(f"CFG-RXM {int(save)}")
        if save and self.period_ms < 1000:
            return False
        self.power_save = save
        return len(payload) == 2

    def _cfg_pm2(self, payload: bytes) -> bool:
        self.commands.append("CFG-PM2")
        return len(payload) in (44, 48)

    def _cfg_prt(self, payload: bytes) -> bool:
        if len(payload) != 20:
            return False
        self.baud = int.from_bytes(payload[8:12], "little")
        self.commands.append(f"CFG-PRT {self.baud}")
        return True

    def _valset(self, payload: bytes) -> bool:
        try:
            items = parse_valset(payload)
        except ValueError:
            return False
        self.commands.append("VALSET " + " ".join(f"{k:#010x}={v}" for k, v in items.items()))
        mode = items.get(proto.KEY_PM_OPERATEMODE, 2 if self.power_save else 0)
        period = items.get(proto.KEY_RATE_MEAS, self.period_ms)
        if period < 100 or (mode and period < 1000):
            return False
        self.period_ms, self.power_save = period, bool(mode)
        self.baud = items.get(proto.KEY_UART1_BAUDRATE, self.baud)
        return True

    def _on_pmtk(self, body: str, now: int) -> None:
        fields = body.split(",")
        cmd = fields[0][4:]
        self.commands.append(body)
        flag = 3
        if cmd == "220" and len(fields) > 1 and fields[1].isdigit():
            flag = 3 if self._set_period(int(fields[1])) else 2
        elif cmd == "225" and len(fields) > 1:
            save = fields[1] != "0"
            flag = 2 if save and self.period_ms < 1000 else 3
            self.power_save = save if flag == 3 else self.power_save
        elif cmd == "161":
            self._answer(nmea("PMTK001,161,3"), now)
            self.asleep = True
            return
        elif cmd == "251" and len(fields) > 1 and fields[1].isdigit():
            if self.follows_baud:
                self.baud = int(fields[1])
            return                                   # switches without an answer
        else:
            flag = 1
        self._answer(nmea(f"PMTK001,{cmd},{flag}"), now)

    # -- ways to reach it ------------------------------------------------------------------
    def link(self) -> EmulatorLink:
        """An in-process byte link to this receiver (no OS involved)."""
        return EmulatorLink(self)

    def start_pty(self, stable_link: str | Path | None = None) -> str:
        """Serve on a new pseudo-terminal; return its path (or ``stable_link``, a symlink to it).

        The serving thread runs on real time: use it with the monotonic clock.
        """
        self._server = EmulatorServer(self, "pty", stable_link)
        return self._server.start()

    def start_socket(self) -> str:
        """Serve on a TCP socket on localhost; return its ``socket://`` URL."""
        self._server = EmulatorServer(self, "socket", None)
        return self._server.start()

    def unplug(self) -> None:
        """Make the pty or socket vanish, as an unplugged USB receiver does."""
        if self._server is not None:
            self._server.unplug()

    def replug(self) -> str:
        """Bring it back (a pty comes back under a new name; the stable link follows)."""
        assert self._server is not None, "start_pty() or start_socket() first"
        return self._server.replug()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def open_driver(self, **options: Any) -> Any:
        """An opened :class:`~sensekit.drivers.gps.nmea_gps.NmeaGps` on this receiver."""
        from ..drivers.gps.nmea_gps import NmeaGps

        options.setdefault("clock", self.clock)
        options.setdefault("protocol", self.protocol)
        options.setdefault("baud", self.baud)
        return NmeaGps("emu://", emulator=self, **options).open()
