"""The driver base class: one device, yielding packets, never deciding policy.

A driver implements ``_open``, ``_read_packet`` and ``_close``, and where the device allows,
``_set_rate``, ``_set_mode``, ``_sleep`` and ``_wake``. The base class (a template, as
python-can's ``BusABC.recv`` is) does the rest: URL and option checks (``rate_hz`` against the
driver's declared range), closed checks, the asleep check (a read while asleep returns nothing,
or what a driver held back, :meth:`Driver._read_asleep`), timeouts, bounded retries of
transient I/O errors, translation of raw ``OSError`` into :class:`DeviceIOError` naming the
device, loss and reset counters, and the record of every rate, mode and power-state change
that the energy ledger and the sampling controller read. Drivers that poll a part on a schedule
share :class:`PollSchedule`.

Emulated parts: every driver opens its emulator the same way, with ``emu://`` or, for the
schemes it lists in ``emulable``, with ``SENSEKIT_BACKEND=emu`` in the environment
(:meth:`Driver.uses_emulator`, :meth:`Driver.emulated_part`); ``sensekit.testing`` is imported
only then.

:class:`ReaderThread` runs a driver in its own thread and hands packets to a sink (the hub);
a failing device is reported, retried with backoff, and never stops anything else.
"""

from __future__ import annotations

import abc
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar

from .clock import Clock, default_clock
from .errors import (
    ConfigError,
    DeviceClosed,
    DeviceError,
    DeviceIOError,
    SensekitError,
    warn_dropped,
)
from .options import check_number
from .packets import Packet
from .url import DeviceURL, parse_url

__all__ = ["Driver", "DriverStats", "ModeChange", "PollSchedule", "ReaderThread"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModeChange:
    """One change of rate, mode or power state, as the driver applied it.

    ``setting`` is ``"rate"`` (values in Hz), ``"mode"`` (mode names) or ``"power"``
    (``"awake"``/``"asleep"``). ``t_ns`` is host monotonic time when the change took effect.
    """

    t_ns: int
    device: str
    stream: str
    setting: str
    old: Any
    new: Any
    reason: str = ""


@dataclass
class DriverStats:
    """Counters a user can check: nothing is lost without being counted here."""

    packets: int = 0
    samples: int = 0
    dropped: int = 0
    dropped_estimated: bool = False
    retries: int = 0
    io_errors: int = 0
    timeouts: int = 0
    reconnects: int = 0
    #: Times the part was found reset (power lost and back) and configured again.
    resets: int = 0


class PollSchedule:
    """When a polled part is next due: one read per period, a late reader reads at once rather
    than catching up with a burst (the drivers of parts without a FIFO share it)."""

    def __init__(self) -> None:
        self.due_ns: int | None = None

    def reset(self) -> None:
        """Start afresh (after a wake or a reconfiguration)."""
        self.due_ns = None

    def wait(self, clock: Clock, rate_hz: float, timeout_s: float, lead_s: float = 0.0) -> bool:
        """Sleep until the next read is due and return True, or sleep ``timeout_s`` and return
        False when it is not due within it (``lead_s``: time the read itself takes first)."""
        now = clock.now_ns()
        period_ns = round(1e9 / rate_hz)
        if self.due_ns is None or now - self.due_ns > period_ns:
            self.due_ns = now
        wait_s = (self.due_ns - now) / 1e9
        if wait_s + lead_s > timeout_s:
            clock.sleep(timeout_s)
            return False
        clock.sleep(max(wait_s, 0.0))
        self.due_ns += period_ns
        return True


class Driver(abc.ABC):
    """Base class of every device driver.

    Class attributes a driver sets:
        name: Registry name (``"mpu6050"``), used by :func:`sensekit.open`.
        modality: Which :data:`sensekit.packets.SPECS` entry its packets follow.
        schemes: URL schemes it accepts (``{"i2c", "emu"}``).
        modes: Modes it can be put in; the first is the default. Each has a row in the power
            model table named by ``power_model``.
        power_model: Name of the device's power-model table (package data).
        rate_range_hz: Lowest and highest sampling rate the part supports; ``rate_hz`` outside
            it (or zero, negative, NaN, a string) is a :class:`ConfigError` naming the range,
            at construction and in :meth:`set_rate`.
        emulable: URL schemes that ``SENSEKIT_BACKEND=emu`` replaces with the emulated part
            (hardware locations such as ``i2c``; files and recordings stay what they are).

    Args:
        url: Where the device is (see :mod:`sensekit.url`).
        stream: Stream name of its packets (defaults to the modality).
        clock: Host clock for timestamps and waits.
        timeout_s: Default time :meth:`read` waits for data.
        retries: Transient I/O errors retried per read before :class:`DeviceIOError` is raised.
        rate_hz: Initial sampling rate (``None``: the driver's default).
        mode: Initial mode (``None``: the first of ``modes``).
        emulator: An emulated part to open instead of a fresh one (with ``emu://``).
    """

    name: ClassVar[str] = ""
    modality: ClassVar[str] = ""
    schemes: ClassVar[frozenset[str]] = frozenset()
    modes: ClassVar[tuple[str, ...]] = ("on",)
    power_model: ClassVar[str | None] = None
    default_rate_hz: ClassVar[float | None] = None
    rate_range_hz: ClassVar[tuple[float, float]] = (1e-6, 1e6)
    emulable: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, url: str | DeviceURL, *, stream: str | None = None,
                 clock: Clock | None = None, timeout_s: float = 1.0, retries: int = 3,
                 rate_hz: float | None = None, mode: str | None = None,
                 emulator: Any = None) -> None:
        self.url = url if isinstance(url, DeviceURL) else parse_url(url)
        if self.schemes and self.url.scheme not in self.schemes:
            takes = ", ".join(f"{s}://" if s != "path" else "a device path"
                              for s in sorted(self.schemes))
            raise ConfigError(f"driver {self.name!r} cannot use {self.url.raw!r}; it takes {takes}")
        if emulator is not None and self.url.scheme != "emu":
            raise ConfigError(f"{self.describe()}: emulator= needs an emu:// URL")
        self._given_emulator = emulator
        self.stream = stream or self.modality or self.name
        self.clock: Clock = clock or default_clock()
        self.timeout_s = check_number(self.describe(), "timeout_s", timeout_s, 0.0,
                                      lo_open=True, unit="s")
        self.retries = int(check_number(self.describe(), "retries", retries, 0, 100,
                                        integer=True))
        self.stats = DriverStats()
        self.changes: list[ModeChange] = []
        self._listeners: list[Callable[[ModeChange], None]] = []
        self._opened = False
        self._closed = False
        self.rate_hz: float | None = (self.check_rate(rate_hz) if rate_hz is not None
                                      else self.default_rate_hz)
        if mode is not None and mode not in self.modes:
            raise ConfigError(f"{self.describe()}: unknown mode {mode!r}; modes: {self.modes}")
        self.mode: str = mode or self.modes[0]
        self.asleep = False
        #: No more data will come: the end of a file, or the device went away (see ``error``).
        self.ended = False
        #: Why the stream ended, when a failure ended it.
        self.error: DeviceError | None = None
        self._gone: DeviceIOError | None = None

    # -- what a driver implements -------------------------------------------------------
    @abc.abstractmethod
    def _open(self) -> None:
        """Find and configure the device; raise DeviceNotFound if nothing answers."""

    @abc.abstractmethod
    def _read_packet(self, timeout_s: float) -> Packet | None:
        """Return the next packet, or None if none arrived within ``timeout_s``."""

    @abc.abstractmethod
    def _close(self) -> None:
        """Release the device. Called once."""

    def _set_rate(self, rate_hz: float) -> float:
        """Apply a rate; return the rate actually set (devices round to their dividers)."""
        raise ConfigError(f"{self.describe()} has no adjustable rate")

    def _set_mode(self, mode: str, **options: Any) -> None:
        """Apply a mode from ``modes``."""
        raise ConfigError(f"{self.describe()} has no modes to switch")

    def _read_asleep(self, timeout_s: float) -> Packet | None:
        """What a read returns while asleep: nothing, after ``timeout_s`` (a driver that held
        back data measured before the sleep returns that first)."""
        self.clock.sleep(timeout_s)
        return None

    def _sleep(self) -> None:
        raise ConfigError(f"{self.describe()} cannot sleep")

    def _wake(self) -> None:
        raise ConfigError(f"{self.describe()} cannot sleep or wake")

    # -- the public template ------------------------------------------------------------
    def describe(self) -> str:
        """``"mpu6050 at i2c://1/0x68"``: how errors and logs name this device."""
        return f"{self.name or type(self).__name__} at {self.url.raw}"

    def check_rate(self, rate_hz: Any, option: str = "rate_hz") -> float:
        """``rate_hz`` as a float if it lies in :attr:`rate_range_hz`, else :class:`ConfigError`
        naming ``option`` and the range (the one check every driver's rates go through)."""
        lo, hi = self.rate_range_hz
        return check_number(self.describe(), option, rate_hz, lo, hi, unit="Hz")

    @property
    def is_open(self) -> bool:
        return self._opened and not self._closed

    @property
    def uses_emulator(self) -> bool:
        """Whether this driver opens an emulated part: an ``emu://`` URL, or
        ``SENSEKIT_BACKEND=emu`` and a hardware scheme the driver lists in ``emulable``."""
        if self.url.scheme == "emu":
            return True
        return os.environ.get("SENSEKIT_BACKEND") == "emu" and self.names_hardware()

    def names_hardware(self) -> bool:
        """Whether the URL names a real part that ``SENSEKIT_BACKEND=emu`` replaces (a scheme in
        ``emulable``; a driver whose plain paths may be devices or files narrows it)."""
        return self.url.scheme in self.emulable

    def emulated_part(self, **defaults: str) -> Any:
        """The emulator given as ``emulator=``, or a fresh one built from the URL's options
        (``defaults`` fill in options the URL does not give) on this driver's clock (see
        :mod:`sensekit.testing.emulators`)."""
        if self._given_emulator is not None:
            return self._given_emulator
        from .testing.emulators import make_emulator

        return make_emulator(self.name, {**defaults, **self.url.options}, self.clock)

    def open(self) -> Driver:
        """Open the device (idempotent); return ``self``."""
        self._check_not_closed()
        if not self._opened:
            self._open()
            self._opened = True
        return self

    def read(self, timeout_s: float | None = None) -> Packet | None:
        """Next packet, or None when nothing arrived within ``timeout_s`` (or while asleep).

        Transient I/O errors are retried up to ``retries`` times; then :class:`DeviceIOError`
        (naming the device) is raised. A device that went away (:meth:`device_gone`) raises
        its error once; the stream then ends (``ended``, ``error``) and the driver closes
        itself. Reading a stream that has ended raises :class:`DeviceClosed`.
        """
        if self.ended and self.is_open:
            self.close()
        self._check_open()
        timeout = self.timeout_s if timeout_s is None else timeout_s
        attempt = 0
        while True:
            try:
                packet = (self._read_asleep(timeout) if self.asleep
                          else self._read_packet(timeout))
            except DeviceIOError as exc:
                if self._gone is not None:
                    self.stats.io_errors += 1
                    self._end(self._gone)
                    raise
                attempt = self._retry_or_raise(attempt, exc)
                continue
            except SensekitError:
                raise
            except OSError as exc:
                attempt = self._retry_or_raise(attempt, DeviceIOError(
                    f"{self.describe()}: {exc.strerror or exc}"))
                continue
            break
        if packet is None:
            self.stats.timeouts += 1
            return None
        self.stats.packets += 1
        self.stats.samples += len(packet)
        return packet

    def __iter__(self) -> Iterator[Packet]:
        """Packets until the stream ends or the driver is closed (timeouts are skipped).

        A device that goes away ends the iteration cleanly (its error is in ``error``, and was
        logged); other errors propagate.
        """
        while self.is_open and not self.ended:
            try:
                packet = self.read()
            except DeviceIOError:
                if self.error is not None:
                    return
                raise
            if packet is not None:
                yield packet

    def close(self) -> None:
        """Close the device; later calls are ignored, reads raise :class:`DeviceClosed`."""
        if self._closed:
            return
        self._closed = True
        if self._opened:
            self._close()

    def __enter__(self) -> Driver:
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- control, used only by the sampling controller -----------------------------------
    def set_rate(self, rate_hz: float, *, reason: str = "") -> float:
        """Set the sampling rate; return the rate the device actually runs at."""
        self._check_open()
        rate = self.check_rate(rate_hz)
        old = self.rate_hz
        actual = self._set_rate(rate)
        self.rate_hz = actual
        self._record("rate", old, actual, reason)
        return actual

    def set_mode(self, mode: str, *, reason: str = "", **options: Any) -> None:
        """Switch to ``mode`` (one of :attr:`modes`)."""
        self._check_open()
        if mode not in self.modes:
            raise ConfigError(f"{self.describe()}: unknown mode {mode!r}; modes: {self.modes}")
        old = self.mode
        self._set_mode(mode, **options)
        self.mode = mode
        self._record("mode", old, mode, reason)

    def sleep(self, *, reason: str = "") -> None:
        """Put the device in its lowest-power state; reads then return nothing."""
        self._check_open()
        if not self.asleep:
            self._sleep()
            self.asleep = True
            self._record("power", "awake", "asleep", reason)

    def wake(self, *, reason: str = "") -> None:
        """Bring the device back from :meth:`sleep` with its settings."""
        self._check_open()
        if self.asleep:
            self._wake()
            self.asleep = False
            self._record("power", "asleep", "awake", reason)

    def on_change(self, callback: Callable[[ModeChange], None]) -> None:
        """Call ``callback`` with every :class:`ModeChange` from now on."""
        self._listeners.append(callback)

    # -- helpers for drivers ------------------------------------------------------------
    def device_gone(self, exc: DeviceIOError) -> DeviceIOError:
        """Record that the device went away (unplugged, vanished); return ``exc`` to raise.

        The error is raised to the reader once, then the stream ends cleanly: nothing else
        in the pipeline stops.
        """
        self._gone = exc
        return exc

    def _end(self, exc: DeviceError) -> None:
        self.error, self.ended = exc, True
        log.error("%s: stream ended: %s", self.describe(), exc)
        self.close()

    def report_reset(self, why: str) -> None:
        """Count a part found reset (it lost power and came back) and log it."""
        self.stats.resets += 1
        log.warning("%s: the part was reset (%s); configured again (reset %d)",
                    self.describe(), why, self.stats.resets)

    def report_dropped(self, count: int, why: str, *, estimated: bool = False) -> None:
        """Count ``count`` lost samples and warn; ``estimated`` marks a count not known exactly."""
        if count <= 0:
            return
        self.stats.dropped += count
        self.stats.dropped_estimated |= estimated
        label = f"about {count}" if estimated else str(count)
        warn_dropped(count, where=self.describe(), why=f"{why} ({label}, estimated)"
                     if estimated else why, stacklevel=3)
        log.warning("%s: %s samples dropped: %s", self.describe(), label, why)

    def _record(self, setting: str, old: Any, new: Any, reason: str) -> None:
        change = ModeChange(self.clock.now_ns(), self.describe(), self.stream, setting, old, new,
                            reason)
        self.changes.append(change)
        for callback in self._listeners:
            callback(change)

    def _retry_or_raise(self, attempt: int, exc: DeviceIOError) -> int:
        self.stats.io_errors += 1
        if attempt >= self.retries:
            raise DeviceIOError(f"{exc} (gave up after {attempt + 1} attempts)") from exc
        self.stats.retries += 1
        self.clock.sleep(min(0.001 * 2 ** attempt, 0.1))
        return attempt + 1

    def _check_not_closed(self) -> None:
        if self._closed:
            raise DeviceClosed(f"{self.describe()} is closed; open a new one")

    def _check_open(self) -> None:
        self._check_not_closed()
        if not self._opened:
            raise DeviceClosed(f"{self.describe()} is not open; call open() or use 'with'")

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed" if self._closed else "new"
        return f"<{type(self).__name__} {self.url.raw} {state}>"


@dataclass
class ReaderThread:
    """Reads a driver in its own thread and passes each packet to ``sink``.

    A device error is logged, counted in ``errors`` and retried after a backoff (doubling up
    to ``max_backoff_s``); it never propagates into other threads. ``stop()`` ends the loop and
    closes the driver.
    """

    driver: Driver
    sink: Callable[[Packet], None]
    max_backoff_s: float = 5.0
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ReaderThread:
        self._thread = threading.Thread(target=self._run, name=f"reader:{self.driver.stream}",
                                        daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                self.driver.open()
                packet = self.driver.read()
            except DeviceClosed:
                return
            except DeviceError as exc:
                self.errors.append(str(exc))
                log.error("%s (retrying in %.2f s)", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            backoff = 0.05
            if packet is not None:
                self.sink(packet)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.driver.close()
