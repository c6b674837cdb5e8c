"""The estimate meter: board power modelled from CPU utilisation and frequency.

For machines with no power meter. It is an ESTIMATE and says so everywhere: the packets carry
``meta["estimate"] = True``, the rail is called ``"estimate"``, and reports and plots are
labelled "estimate".

Model (stated, and tested against itself)::

    P = P_idle + (P_busy - P_idle) * mean over CPUs of (u_i * f_i / f_max_i)

``u_i`` is CPU ``i``'s busy fraction since the previous reading (``/proc/stat``: everything
but idle and iowait), ``f_i`` its current frequency and ``f_max_i`` its top frequency (sysfs
``cpufreq/scaling_cur_freq`` and ``cpuinfo_max_freq``; a CPU without cpufreq counts at full
frequency). ``P_idle`` and ``P_busy`` are the platform table's ``idle`` and ``cpu_busy`` modes
(``sensekit/power/tables/<platform>.toml``). The linear dependence on utilisation is the model
of X. Fan, W.-D. Weber, L. A. Barroso, "Power Provisioning for a Warehouse-sized Computer",
ISCA 2007, sec. 4.1 (P_idle + (P_busy - P_idle) u); scaling by f/f_max is a first-order
approximation of CMOS dynamic power (proportional to f at a fixed voltage) and ignores voltage
scaling, GPU, memory and peripherals.

URL: ``estimate`` or ``estimate@ROOT?platform=pi5`` where ROOT (default ``/``) holds ``proc/``
and ``sys/`` (tests point it at a fake tree). The platform comes from the device-tree model
(``proc/device-tree/model``) when not given.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ...errors import DeviceNotFound
from ..model import PowerModel, load_power_model
from .base import Meter, RailReading

__all__ = ["EstimateMeter", "detect_platform"]

log = logging.getLogger(__name__)

#: Substrings of the device-tree model string -> platform table.
PLATFORMS = (
    ("Raspberry Pi 5", "pi5"),
    ("Raspberry Pi 4", "pi4"),
    ("Orin Nano", "jetson_orin_nano"),
    ("Jetson Nano", "jetson_nano"),
    ("NVIDIA Jetson Nano", "jetson_nano"),
)
FALLBACK_PLATFORM = "pi4"

MODEL_TEXT = ("P = P_idle + (P_busy - P_idle) * mean_i(u_i * f_i/f_max_i); linear utilisation "
              "model of Fan, Weber, Barroso, ISCA 2007, sec. 4.1, frequency scaling first-order")


def detect_platform(root: Path) -> str | None:
    """Platform table name from the device-tree model under ``root``, or None."""
    for rel in ("proc/device-tree/model", "sys/firmware/devicetree/base/model"):
        path = root / rel
        if path.is_file():
            model = path.read_text(errors="replace").replace("\x00", "")
            for key, name in PLATFORMS:
                if key in model:
                    return name
    return None


def read_cpu_times(root: Path) -> dict[str, tuple[int, int]]:
    """``{"cpu0": (busy_ticks, total_ticks), ...}`` from ``proc/stat`` under ``root``."""
    out: dict[str, tuple[int, int]] = {}
    for line in (root / "proc/stat").read_text().splitlines():
        parts = line.split()
        if not parts or not parts[0].startswith("cpu") or parts[0] == "cpu":
            continue
        ticks = [int(v) for v in parts[1:]]
        # user nice system idle iowait irq softirq steal (guest time is already in user).
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
        total = sum(ticks[:8])
        out[parts[0]] = (total - idle, total)
    return out


class EstimateMeter(Meter):
    """Board power estimated from CPU utilisation and frequency (see the module docstring)."""

    name: ClassVar[str] = "estimate"
    schemes: ClassVar[frozenset[str]] = frozenset({"path"})
    estimate: ClassVar[bool] = True
    max_rate_hz: ClassVar[float] = 100.0

    def __init__(self, url: str = "/", **options: Any) -> None:
        super().__init__(url, **options)
        self.root = Path(self.url.location or "/")
        self.platform = ""
        self.model: PowerModel | None = None
        self._prev: dict[str, tuple[int, int]] = {}
        self._prev_ns = 0
        self._last_load = 0.0

    def _discover(self) -> None:
        if not (self.root / "proc/stat").is_file():
            raise DeviceNotFound(f"{self.describe()}: no {self.root / 'proc/stat'}. Hint: the "
                                 "estimate meter needs Linux /proc")
        given = self.url.option("platform", str, "")
        found = given or detect_platform(self.root)
        self.platform = found or FALLBACK_PLATFORM
        self.model = load_power_model(self.platform)
        idle, busy = self.model.mode("idle"), self.model.mode("cpu_busy")
        self.rails = ("estimate",)
        self.total_rail = "estimate"
        unknown = "" if found else f" (platform not recognised; {self.platform} figures used)"
        self.note = (f"ESTIMATE, not a measurement: {MODEL_TEXT}; P_idle {idle.power_w:.2f} W, "
                     f"P_busy {busy.power_w:.2f} W from the {self.platform} table{unknown}")
        # Until a clock tick has passed, the load since boot is the best prior.
        self._prev = {cpu: (0, 0) for cpu in read_cpu_times(self.root)}
        self._last_load = self.load()
        self._prev_ns = self.clock.now_ns()

    @property
    def supply_v(self) -> float:
        return float(self.model.supply_v or 5.0) if self.model else 5.0

    def _frequency_ratio(self, cpu: str) -> float:
        base = self.root / "sys/devices/system/cpu" / cpu / "cpufreq"
        try:
            cur = float((base / "scaling_cur_freq").read_text())
            top = float((base / "cpuinfo_max_freq").read_text())
        except (OSError, ValueError):
            return 1.0
        return min(cur / top, 1.0) if top > 0 else 1.0

    def load(self) -> float:
        """Utilisation times frequency ratio, averaged over CPUs, since the previous call."""
        now = read_cpu_times(self.root)
        loads = []
        for cpu, (busy, total) in now.items():
            busy0, total0 = self._prev.get(cpu, (busy, total))
            if total > total0:
                util = min(max((busy - busy0) / (total - total0), 0.0), 1.0)
                loads.append(util * self._frequency_ratio(cpu))
        if not loads:  # no clock tick since the previous reading: nothing new to say
            return self._last_load
        self._prev = now
        self._last_load = float(np.mean(loads))
        return self._last_load

    def _sample(self) -> RailReading:
        assert self.model is not None
        idle = self.model.mode("idle").power_w
        busy = self.model.mode("cpu_busy").power_w
        watts = idle + (busy - idle) * self.load()
        volts = self.supply_v
        return RailReading((volts,), (watts / volts,), (watts,))

    def _stamp(self, start_ns: int, end_ns: int) -> int:
        # The load is an average since the previous reading, so it is stamped at the middle
        # of that interval, where an average best represents the power.
        before, self._prev_ns = self._prev_ns, end_ns
        return (before + end_ns) // 2
