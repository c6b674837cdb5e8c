"""The energy ledger: what each sensor, mode, inference and phase cost, in joules.

Two accounts are kept side by side:

- **modelled**: each sensor is charged, from its power-model table, for the time it spent in
  each mode at each rate (from the :class:`~sensekit.driver.ModeChange` events its driver
  reports), plus the listed transition cost of every wake-up and mode switch; a camera whose
  table lists its readout modes is charged for the pixels of the readout it uses for the
  frame size asked for (a binned readout for a DNN-size frame, full resolution for a photo),
  not for the frames it hands over; each inference
  is charged what it was given or what its model costs; the platform's own floor (the table's
  ``idle`` mode, a Pi draws 2-3 W doing nothing) is charged for the whole time, beside the
  sensors, never hidden in them;
- **measured**: power packets from a meter, integrated by the trapezoid over their real
  timestamps, gaps reported and not bridged (:mod:`sensekit.power.integrate`).

Typical use::

    ledger = EnergyLedger(platform="pi5")
    ledger.attach(imu)                       # charges imu by its mode changes from now on
    ledger.charge_inference(t_ns, 0.012, label="fusion")
    ledger.add_power(packet)                 # from a meter, if there is one
    with ledger.phase("walk"):
        ...
    summary = ledger.summary()
    print(summary.by_sensor, summary.average_w, summary.battery_life_h(10.0))
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..clock import Clock, default_clock
from ..driver import Driver, ModeChange
from ..errors import ConfigError
from ..packets import Packet
from .account import Charge, LedgerSummary, PhaseEnergy
from .integrate import Integral, trapezoid
from .meters.base import total_power_w
from .model import PowerModel, load_power_model

__all__ = ["Charge", "EnergyLedger", "LedgerSummary", "PhaseEnergy"]

SLEEP_MODE = "sleep"
_PIXELS = re.compile(r"(\d+)x(\d+)")


def _frame_size(driver: Any) -> tuple[int, int] | None:
    """(width, height) of the frames a camera driver delivers now (its backend's, else its
    own)."""
    config = getattr(driver, "config", None)
    size = getattr(config, "size", None) or getattr(driver, "size", None)
    try:
        return (int(size[0]), int(size[1])) if size else None
    except (TypeError, ValueError, IndexError):
        return None


@dataclass
class _Sensor:
    model: PowerModel
    mode: str
    rate_hz: float
    pixels: int | None
    asleep: bool
    since_ns: int
    #: Reads the driver's current frame size (cameras); sampled after every change.
    size_from: Callable[[], tuple[int, int] | None] | None = None
    size: tuple[int, int] | None = None

    def frame_pixels(self) -> int:
        """Pixels charged per frame: the readout the mode uses for the frame size (when the
        table lists readouts), else the frame size, else a ``WxH`` in the mode's name."""
        readout = self.model.readout(self.mode, self.size)
        if readout is not None:
            return readout.pixels
        if self.pixels is not None:
            return self.pixels
        if self.size is not None:
            return self.size[0] * self.size[1]
        found = _PIXELS.search(self.mode)
        return int(found[1]) * int(found[2]) if found else 0


class EnergyLedger:
    """Charges sensors, modes, inferences and phases; integrates measured power.

    Args:
        platform: Power table of the board (``"pi5"``...) whose ``idle`` mode is the floor;
            None for no floor.
        clock: Host clock (phases and the default end of a summary).
        max_gap_s: Longest interval between meter samples that is bridged (default: three
            median sample intervals).
    """

    def __init__(self, platform: str | None = None, *, clock: Clock | None = None,
                 max_gap_s: float | None = None) -> None:
        self.clock = clock or default_clock()
        self.platform = platform or ""
        self.floor_w = load_power_model(platform).mode("idle").power_w if platform else 0.0
        self.max_gap_ns = None if max_gap_s is None else round(max_gap_s * 1e9)
        self.charges: list[Charge] = []
        self.phases: list[tuple[str, int, int]] = []
        self._sensors: dict[str, _Sensor] = {}
        self._costs: dict[str, float] = {}
        self._t: list[np.ndarray] = []
        self._power_estimated = False
        self._w: list[np.ndarray] = []
        self._start_ns: int | None = None
        self._lock = threading.Lock()

    # -- sensors -------------------------------------------------------------------------
    def attach(self, driver: Driver, model: PowerModel | None = None) -> None:
        """Charge ``driver`` from its current state on, following its mode changes.

        ``model`` overrides the driver's own power table (``driver.power_model``).
        """
        table = model or driver.power_model
        if not table:
            raise ConfigError(f"{driver.describe()} names no power model; the ledger cannot "
                              "charge it")
        self.add_sensor(driver.stream, table, mode=driver.mode,
                        rate_hz=driver.rate_hz or 0.0, asleep=driver.asleep)
        if hasattr(driver, "size"):
            sensor = self._sensors[driver.stream]
            sensor.size_from = lambda: _frame_size(driver)
            sensor.size = sensor.size_from()
        driver.on_change(self.record)

    def add_sensor(self, stream: str, power_model: str | PowerModel, *, mode: str,
                   rate_hz: float = 0.0, t_ns: int | None = None, asleep: bool = False,
                   pixels: int | None = None, size: tuple[int, int] | None = None,
                   size_from: Callable[[], tuple[int, int] | None] | None = None) -> None:
        """Start charging ``stream`` in ``mode`` at ``rate_hz`` from ``t_ns`` (default now).

        Camera modes scale with the pixels read per frame (``per_pixel_w``): those of the
        readout the table lists for the mode and the frame ``size`` (width, height) asked
        for; without readouts, ``pixels`` per frame, else the ``size``, else a
        ``WIDTHxHEIGHT`` in the mode name. ``size_from`` (an attached camera driver's frame
        size) is read after each change.
        """
        model = load_power_model(power_model) if isinstance(power_model, str) else power_model
        model.mode(mode)  # fail now, naming the table, if the mode is unknown
        t = self.clock.now_ns() if t_ns is None else t_ns
        with self._lock:
            self._sensors[stream] = _Sensor(model, mode, rate_hz, pixels, asleep, t,
                                            size_from, size_from() if size_from else size)
            self._touch(t)

    def record(self, change: ModeChange) -> None:
        """Take one :class:`ModeChange` (a driver's ``on_change`` callback)."""
        with self._lock:
            sensor = self._sensors.get(change.stream)
            if sensor is None:
                raise ConfigError(f"ledger: change for unknown stream {change.stream!r} "
                                  f"({change.device}); attach its driver first")
            self._close(change.stream, sensor, change.t_ns)
            if change.setting == "rate":
                sensor.rate_hz = float(change.new)
            elif change.setting == "mode":
                if not sensor.asleep:  # set while asleep, it takes effect at the wake-up
                    self._transition(change.stream, sensor, str(change.old), str(change.new),
                                     change.t_ns)
                sensor.mode = str(change.new)
            elif change.setting == "power":
                asleep = change.new == "asleep"
                src, dst = (sensor.mode, SLEEP_MODE) if asleep else (SLEEP_MODE, sensor.mode)
                self._transition(change.stream, sensor, src, dst, change.t_ns)
                sensor.asleep = asleep
            if sensor.size_from is not None:
                sensor.size = sensor.size_from()

    def _state(self, sensor: _Sensor) -> tuple[str, float, bool]:
        if sensor.asleep:
            if SLEEP_MODE in sensor.model.modes:
                m = sensor.model.modes[SLEEP_MODE]
                return SLEEP_MODE, m.watts(), m.estimate
            return SLEEP_MODE, 0.0, True
        m = sensor.model.mode(sensor.mode)
        return sensor.mode, m.watts(sensor.rate_hz, sensor.frame_pixels()), m.estimate

    def _close(self, stream: str, sensor: _Sensor, t_ns: int) -> None:
        mode, watts, estimate = self._state(sensor)
        if t_ns > sensor.since_ns:
            self.charges.append(Charge(stream, mode, sensor.since_ns, t_ns, watts,
                                       estimate=estimate))
        sensor.since_ns = max(sensor.since_ns, t_ns)
        self._touch(t_ns)

    def _transition(self, stream: str, sensor: _Sensor, src: str, dst: str, t_ns: int) -> None:
        step = sensor.model.transition(src, dst)
        if step is None:
            return
        end = t_ns + round(step.time_s * 1e9)
        watts = step.energy_j / step.time_s if step.time_s > 0 else 0.0
        lump = 0.0 if step.time_s > 0 else step.energy_j
        self.charges.append(Charge(stream, f"{src}->{dst}", t_ns, end, watts, "transition",
                                   lump, step.estimate))
        # The new mode is charged once the transition is over.
        sensor.since_ns = max(sensor.since_ns, end)

    def charge_transition(self, stream: str, src: str, dst: str, t_ns: int) -> float:
        """Charge a transition the table lists but no driver change names, e.g. a GPS
        ``cold_start`` -> ``continuous`` time to first fix; the sensor's mode power resumes
        when it is over. Returns the joules charged (0 when the table has no such row)."""
        with self._lock:
            sensor = self._sensors.get(stream)
            if sensor is None:
                raise ConfigError(f"ledger: unknown stream {stream!r}; add or attach it first")
            if sensor.model.transition(src, dst) is None:
                return 0.0
            self._close(stream, sensor, t_ns)
            self._transition(stream, sensor, src, dst, t_ns)
            return self.charges[-1].energy_j(t_ns, 2**62)

    # -- inferences ----------------------------------------------------------------------
    def set_inference_cost(self, model: str, joules: float) -> None:
        """Joules one inference of ``model`` costs (measured once, charged each time)."""
        self._costs[model] = float(joules)

    def charge_inference(self, t_ns: int, joules: float | None = None, *,
                         model: str | None = None, label: str | None = None) -> float:
        """Charge one inference at ``t_ns``: ``joules``, or the cost set for ``model``.

        Returns the joules charged.
        """
        if joules is None:
            if model is None or model not in self._costs:
                raise ConfigError(f"ledger: inference of {model!r} has no cost; pass joules "
                                  "or call set_inference_cost first")
            joules = self._costs[model]
        name = label or model or "inference"
        with self._lock:
            self.charges.append(Charge(name, "inference", t_ns, t_ns, 0.0, "inference",
                                       float(joules)))
            self._touch(t_ns)
        return float(joules)

    # -- measured power and phases -------------------------------------------------------
    def add_power(self, packet: Packet) -> None:
        """Add a meter's power packet (its board total is integrated)."""
        with self._lock:
            self._t.append(np.asarray(packet.t_ns, np.int64))
            self._w.append(total_power_w(packet))
            self._power_estimated |= bool(packet.meta.get("estimate", False))
            if len(self._t) >= 1024:  # meters send one-sample packets: keep the list short
                self._t, self._w = [np.concatenate(self._t)], [np.concatenate(self._w)]
            if len(packet):
                self._touch(int(packet.t_ns[0]))

    def add_phase(self, name: str, start_ns: int, end_ns: int) -> None:
        """Record that phase ``name`` ran over ``[start_ns, end_ns]``."""
        if end_ns < start_ns:
            raise ConfigError(f"phase {name!r} ends before it starts")
        self.phases.append((name, start_ns, end_ns))

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Record the ``with`` block as phase ``name`` on the ledger's clock."""
        start = self.clock.now_ns()
        try:
            yield
        finally:
            self.add_phase(name, start, self.clock.now_ns())

    def _touch(self, t_ns: int) -> None:
        if self._start_ns is None or t_ns < self._start_ns:
            self._start_ns = t_ns

    # -- answers -------------------------------------------------------------------------
    def _all_charges(self, end_ns: int) -> list[Charge]:
        """Recorded charges plus each sensor's open span up to ``end_ns``."""
        out = list(self.charges)
        for stream, sensor in self._sensors.items():
            if end_ns > sensor.since_ns:
                mode, watts, estimate = self._state(sensor)
                out.append(Charge(stream, mode, sensor.since_ns, end_ns, watts,
                                  estimate=estimate))
        return out

    def measured(self, start_ns: int, end_ns: int) -> Integral | None:
        """Integral of the measured board power over the window, None without a meter."""
        with self._lock:
            if not self._t:
                return None
            self._t, self._w = [np.concatenate(self._t)], [np.concatenate(self._w)]
            t, w = self._t[0], self._w[0]
        return trapezoid(t, w, start_ns, end_ns, self.max_gap_ns)

    def summary(self, start_ns: int | None = None, end_ns: int | None = None) -> LedgerSummary:
        """Energy per sensor, mode, inference and phase over ``[start_ns, end_ns]``.

        Defaults: from the first thing recorded to now.
        """
        with self._lock:
            end = self.clock.now_ns() if end_ns is None else end_ns
            start = (self._start_ns if self._start_ns is not None else end) \
                if start_ns is None else start_ns
            charges = self._all_charges(end)
        by_sensor: dict[str, float] = defaultdict(float)
        by_mode: dict[tuple[str, str], float] = defaultdict(float)
        inference: dict[str, float] = defaultdict(float)
        count = 0
        estimates = set()
        for c in charges:
            if c.kind == "inference":
                if start <= c.start_ns <= end:
                    inference[c.sensor] += c.lump_j
                    count += 1
                continue
            joules = c.energy_j(start, end)
            by_sensor[c.sensor] += joules
            by_mode[(c.sensor, c.mode)] += joules
            if c.estimate and joules > 0:
                estimates.add(f"{c.sensor}:{c.mode}")
        phases = [self._phase(name, a, b, charges) for name, a, b in self.phases
                  if b > start and a < end]
        return LedgerSummary(start, end, dict(by_sensor), dict(by_mode), dict(inference),
                             count, self.floor_w * (end - start) / 1e9, self.floor_w,
                             self.platform, self.measured(start, end), phases,
                             tuple(sorted(estimates)), self._power_estimated)

    def _phase(self, name: str, a: int, b: int, charges: list[Charge]) -> PhaseEnergy:
        sensors = sum(c.energy_j(a, b) for c in charges if c.kind != "inference")
        inference = sum(c.lump_j for c in charges if c.kind == "inference" and a <= c.start_ns <= b)
        return PhaseEnergy(name, a, b, self.measured(a, b), sensors, inference,
                           self.floor_w * (b - a) / 1e9)
