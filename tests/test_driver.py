from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
import pytest

import sensekit
from sensekit.clock import FakeClock
from sensekit.driver import Driver, ModeChange, ReaderThread
from sensekit.drivers import BUILTIN_DRIVERS, driver_class
from sensekit.errors import (
    ConfigError,
    DeviceClosed,
    DeviceIOError,
    DriverUnavailable,
    SampleDropped,
)
from sensekit.packets import Packet


class Counter(Driver):
    """A driver over a scripted device: yields light packets, can fail on command."""

    name = "counter"
    modality = "light"
    schemes = frozenset({"emu"})
    modes = ("continuous", "one_shot")
    default_rate_hz = 10.0

    def __init__(self, url: str, *, failures: int = 0, **kw: Any) -> None:
        super().__init__(url, **kw)
        self.failures = failures
        self.closed_calls = 0
        self.n = 0

    def _open(self) -> None:
        pass

    def _read_packet(self, timeout_s: float) -> Packet | None:
        if self.asleep:
            return None
        if self.failures:
            self.failures -= 1
            raise OSError(121, "Remote I/O error")
        self.n += 1
        return Packet(self.stream, np.array([self.n], np.int64),
                      {"lux": np.array([float(self.n)], np.float32)}, "light")

    def _close(self) -> None:
        self.closed_calls += 1

    def _set_rate(self, rate_hz: float) -> float:
        return round(rate_hz)

    def _set_mode(self, mode: str, **options: Any) -> None:
        pass

    def _sleep(self) -> None:
        pass

    def _wake(self) -> None:
        pass


def test_read_counts_and_closes_once() -> None:
    with Counter("emu://", clock=FakeClock()) as dev:
        p = dev.read()
        assert p is not None and p["lux"][0] == 1.0
    assert dev.stats.packets == 1 and dev.closed_calls == 1
    dev.close()
    assert dev.closed_calls == 1
    with pytest.raises(DeviceClosed, match="counter at emu://"):
        dev.read()


def test_transient_errors_are_retried_then_reported_with_the_device() -> None:
    dev = Counter("emu://", failures=2, retries=3, clock=FakeClock()).open()
    assert dev.read() is not None
    assert dev.stats.retries == 2
    dev = Counter("emu://", failures=10, retries=2, clock=FakeClock()).open()
    with pytest.raises(DeviceIOError, match=r"counter at emu://.*Remote I/O.*3 attempts"):
        dev.read()


def test_wrong_scheme_and_mode_are_clear() -> None:
    with pytest.raises(ConfigError, match="cannot use 'i2c://1/0x23'; it takes emu://"):
        Counter("i2c://1/0x23")
    with pytest.raises(ConfigError, match="unknown mode 'turbo'"):
        Counter("emu://", mode="turbo")


def test_changes_are_recorded_and_sleep_yields_nothing() -> None:
    clock = FakeClock(0)
    dev = Counter("emu://", clock=clock).open()
    seen: list[ModeChange] = []
    dev.on_change(seen.append)
    assert dev.set_rate(4.6, reason="test") == 5
    dev.set_mode("one_shot")
    clock.advance(1)
    dev.sleep(reason="idle")
    assert dev.read() is None and dev.stats.timeouts == 1
    dev.wake()
    assert [(c.setting, c.old, c.new) for c in seen] == [
        ("rate", 10.0, 5), ("mode", "continuous", "one_shot"), ("power", "awake", "asleep"),
        ("power", "asleep", "awake")]
    assert seen[2].t_ns == 1_000_000_000 and seen[2].reason == "idle"


def test_dropped_samples_warn_and_count() -> None:
    dev = Counter("emu://").open()
    with pytest.warns(SampleDropped, match="7 samples dropped from counter at emu://"):
        dev.report_dropped(7, "FIFO overflow")
    assert dev.stats.dropped == 7


def test_reader_thread_survives_a_failing_device() -> None:
    got: list[Packet] = []
    dev = Counter("emu://", failures=5, retries=0)
    reader = ReaderThread(dev, got.append, max_backoff_s=0.01).start()
    import time

    deadline = time.monotonic() + 10
    while len(got) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    reader.stop()
    assert len(got) >= 3 and len(reader.errors) == 5


def test_open_front_door_errors() -> None:
    with pytest.raises(ConfigError, match="did you mean mpu6050"):
        sensekit.open("mpu6500", "emu://")
    with pytest.raises(ConfigError, match="needs a URL"):
        sensekit.open("mpu6050")


def test_missing_optional_dependency_is_reported_at_open(monkeypatch: pytest.MonkeyPatch) -> None:
    from sensekit._optional import require

    monkeypatch.setitem(sys.modules, "smbus2", None)
    with pytest.raises(DriverUnavailable, match=r"sensekit\[i2c\]"):
        require("smbus2", extra="i2c", what="mpu6050 at i2c://1/0x68")


def test_every_builtin_driver_resolves_to_a_driver_class() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in BUILTIN_DRIVERS:
            cls = driver_class(name)
            assert issubclass(cls, Driver) and cls.name == name


class Unpluggable(Counter):
    """Yields packets until unplugged, then every read fails as a vanished device does."""

    def __init__(self, url: str, **kw: Any) -> None:
        super().__init__(url, **kw)
        self.plugged = 3

    def _read_packet(self, timeout_s: float) -> Packet | None:
        if self.plugged == 0:
            raise self.device_gone(DeviceIOError(f"{self.describe()}: device disappeared"))
        self.plugged -= 1
        return super()._read_packet(timeout_s)


def test_a_device_that_goes_away_ends_its_stream_cleanly(caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    dev = Unpluggable("emu://", clock=FakeClock()).open()
    other = Counter("emu://", clock=FakeClock()).open()
    assert len(list(dev)) == 3  # the iteration stops, it does not raise
    assert dev.ended and not dev.is_open and "disappeared" in str(dev.error)
    assert dev.stats.io_errors == 1 and dev.stats.retries == 0  # gone is not retried
    assert "stream ended" in caplog.text
    with pytest.raises(DeviceClosed):
        dev.read()
    assert other.read() is not None


def test_reading_a_vanished_device_raises_once() -> None:
    dev = Unpluggable("emu://", clock=FakeClock()).open()
    for _ in range(3):
        dev.read()
    with pytest.raises(DeviceIOError, match="disappeared"):
        dev.read()
    with pytest.raises(DeviceClosed):
        dev.read()
