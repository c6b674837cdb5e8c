"""The meter interface: a driver whose packets are per-rail volts, amps and watts.

Every meter is a :class:`sensekit.driver.Driver` with modality ``"power"``, so it runs in a
:class:`~sensekit.driver.ReaderThread`, feeds the hub and the recorder like any sensor, and
yields :class:`~sensekit.packets.Packet` objects following ``SPECS["power"]``: ``voltage_v``,
``current_a`` and ``power_w`` arrays of shape (N, rails).

Where the rails are named: ``packet.meta`` carries

- ``"rails"``: the rail names, one per column;
- ``"total"``: the name of the rail that is the whole board's input (Jetson ``VDD_IN`` /
  ``POM_5V_IN``, an INA219 in the supply line), or ``""`` when the board total is the sum of
  the rails (then :func:`total_power_w` adds the rails that have a power figure);
- ``"meter"``: the meter's name (``"jetson"``, ``"pi5"``, ``"ina219"``, ``"estimate"``);
- ``"estimate"``: ``True`` when the figures come from a model, not from a measurement;
- ``"note"``: what the meter does not see (USB loads on a Pi 5, ...), shown in every report.

A rail without a current reading (a voltage-only PMIC channel) has NaN current and power.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ...driver import Driver
from ...errors import ConfigError
from ...packets import Packet

__all__ = ["Meter", "RailReading", "total_power_w"]


@dataclass(frozen=True)
class RailReading:
    """One reading of every rail: volts, amps (NaN where not measured) and watts."""

    voltage_v: Sequence[float]
    current_a: Sequence[float]
    power_w: Sequence[float]


class Meter(Driver):
    """Base class of power meters.

    A meter implements :meth:`_discover` (find its rails when opened) and :meth:`_sample`
    (read every rail once). The base paces reads to ``rate_hz`` on the driver's clock and stamps
    each reading at the midpoint of the read, so a slow read (``vcgencmd`` takes about 23 ms)
    is placed where it measured.

    Class attributes a meter sets, besides those of :class:`Driver`:
        estimate: The figures come from a model (labelled as an estimate everywhere).
        max_rate_hz: The fastest rate the meter can be read at; faster requests are clamped.
    """

    modality: ClassVar[str] = "power"
    estimate: ClassVar[bool] = False
    max_rate_hz: ClassVar[float] = 1000.0
    default_rate_hz: ClassVar[float | None] = 10.0

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self.rails: tuple[str, ...] = ()
        self.total_rail: str = ""
        self.note: str = ""
        self._next_ns: int | None = None
        if self.rate_hz is not None:
            self.rate_hz = self._clamp_rate(self.rate_hz)

    # -- what a meter implements --------------------------------------------------------
    @abc.abstractmethod
    def _discover(self) -> None:
        """Find the rails; set ``rails``, ``total_rail`` and ``note``. Raise DeviceNotFound."""

    @abc.abstractmethod
    def _sample(self) -> RailReading:
        """Read every rail once, in the order of ``rails``."""

    # -- the driver template ------------------------------------------------------------
    def _open(self) -> None:
        self._discover()
        if not self.rails:
            raise ConfigError(f"{self.describe()}: no rails found")

    def _close(self) -> None:
        """Nothing to release by default (sysfs files are opened per read)."""

    def _set_rate(self, rate_hz: float) -> float:
        self._next_ns = None
        return self._clamp_rate(rate_hz)

    def _clamp_rate(self, rate_hz: float) -> float:
        return min(float(rate_hz), self.max_rate_hz)

    @property
    def meta(self) -> Mapping[str, Any]:
        """What each packet's ``meta`` says about the rails and the meter."""
        return {"rails": self.rails, "total": self.total_rail, "meter": self.name,
                "estimate": self.estimate, "note": self.note, "url": self.url.raw}

    def _read_packet(self, timeout_s: float) -> Packet | None:
        period_ns = round(1e9 / (self.rate_hz or self.max_rate_hz))
        now = self.clock.now_ns()
        if self._next_ns is not None and now < self._next_ns:
            wait_s = (self._next_ns - now) / 1e9
            if wait_s > timeout_s:
                self.clock.sleep(timeout_s)
                return None
            self.clock.sleep(wait_s)
        start = self.clock.now_ns()
        reading = self._sample()
        end = self.clock.now_ns()
        # Keep the schedule on its grid, but never try to catch up a backlog of missed reads.
        due = start if self._next_ns is None else self._next_ns
        self._next_ns = max(due + period_ns, end)
        return self._packet(self._stamp(start, end), reading)

    def _stamp(self, start_ns: int, end_ns: int) -> int:
        """When a reading taken between ``start_ns`` and ``end_ns`` applies: the midpoint."""
        return (start_ns + end_ns) // 2

    def _packet(self, t_ns: int, reading: RailReading) -> Packet:
        fields = {
            "voltage_v": np.asarray([reading.voltage_v], np.float32),
            "current_a": np.asarray([reading.current_a], np.float32),
            "power_w": np.asarray([reading.power_w], np.float32),
        }
        return Packet(self.stream, np.asarray([t_ns], np.int64), fields, "power", self.meta)


def total_power_w(packet: Packet) -> npt.NDArray[np.float64]:
    """Board power of each sample of a power packet, in watts.

    The rail named in ``meta["total"]`` when there is one (the rails inside it are never added
    to it); otherwise the sum of the rails that have a power figure (NaN where none has).
    """
    power = np.asarray(packet["power_w"], np.float64)
    if power.ndim == 1:
        return power
    rails = list(packet.meta.get("rails", ()))
    total = packet.meta.get("total", "")
    if total:
        if total not in rails:
            raise ConfigError(f"stream {packet.stream!r}: total rail {total!r} is not among "
                              f"its rails {rails}")
        return power[:, rails.index(total)]
    have = ~np.isnan(power)
    summed = np.where(have, power, 0.0).sum(axis=1)
    return np.where(have.any(axis=1), summed, np.nan)
