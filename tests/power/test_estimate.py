"""The estimate meter against its own stated model, on a fake /proc and /sys tree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sensekit.clock import FakeClock
from sensekit.packets import concat
from sensekit.power.integrate import trapezoid
from sensekit.power.meters import open_meter, total_power_w
from sensekit.power.meters.estimate import EstimateMeter
from sensekit.power.model import load_power_model

USER_HZ = 100  # /proc/stat ticks per second
N_CPU = 4


class CpuWorld(FakeClock):
    """A fake clock that keeps a fake /proc/stat and cpufreq in step with time.

    ``util(t)`` is every CPU's busy fraction and ``freq(t)`` its frequency ratio at time ``t``
    seconds; ticks are integrated finely and floored, as the kernel counts them.
    """

    def __init__(self, root: Path, util: Callable[[float], float],
                 freq: Callable[[float], float]) -> None:
        super().__init__(0)
        self.root, self.util, self.freq = root, util, freq
        self.busy_s = 0.0
        (root / "proc").mkdir(parents=True)
        (root / "proc/device-tree").mkdir()
        (root / "proc/device-tree/model").write_text("Raspberry Pi 5 Model B Rev 1.0\x00")
        for i in range(N_CPU):
            d = root / f"sys/devices/system/cpu/cpu{i}/cpufreq"
            d.mkdir(parents=True)
            (d / "cpuinfo_max_freq").write_text("2400000\n")
        self._write()

    def advance(self, seconds: float) -> int:
        steps = max(1, round(seconds / 1e-3))
        for _ in range(steps):
            t = self.now_ns() / 1e9
            # util * freq is what the model charges; integrate it with the midpoint rule.
            self.busy_s += self.util(t + seconds / steps / 2) * seconds / steps
            super().advance(seconds / steps)
        self._write()
        return self.now_ns()

    def _write(self) -> None:
        t = self.now_ns() / 1e9
        total = int(t * USER_HZ)
        busy = int(self.busy_s * USER_HZ)
        line = f"{busy} 0 0 {total - busy} 0 0 0 0 0 0"
        cpus = "\n".join(f"cpu{i} {line}" for i in range(N_CPU))
        (self.root / "proc/stat").write_text(f"cpu  {line}\n{cpus}\nintr 0\n")
        for i in range(N_CPU):
            (self.root / f"sys/devices/system/cpu/cpu{i}/cpufreq/scaling_cur_freq").write_text(
                f"{round(2400000 * self.freq(t))}\n")


def _util(t: float) -> float:
    """Steps and a ramp: idle, full load, a ramp down, half load."""
    if t < 4:
        return 0.0
    if t < 9:
        return 1.0
    if t < 14:
        return 1.0 - (t - 9) / 5
    return 0.5


def _freq(t: float) -> float:
    return 1.0 if t < 12 else 0.6


def test_estimate_energy_matches_its_model_within_one_percent(tmp_path: Path) -> None:
    world = CpuWorld(tmp_path, _util, lambda t: 1.0)
    meter = EstimateMeter(str(tmp_path), clock=world, rate_hz=10)
    packets = []
    with meter:
        assert meter.platform == "pi5"
        while world.now_ns() < 20e9:
            packet = meter.read()
            if packet is not None:
                packets.append(packet)
    joined = concat(packets)
    t, w = joined.t_ns, total_power_w(joined)
    table = load_power_model("pi5")
    idle, busy = table.mode("idle").power_w, table.mode("cpu_busy").power_w
    grid = np.linspace(t[0] / 1e9, t[-1] / 1e9, 200_001)
    model_w = idle + (busy - idle) * np.vectorize(_util)(grid)
    analytic = float(np.sum((model_w[1:] + model_w[:-1]) / 2 * np.diff(grid)))
    measured = trapezoid(t, w).energy_j
    print(f"estimate meter: {measured:.4f} J vs model {analytic:.4f} J "
          f"({measured / analytic - 1:+.3%})")
    assert measured == pytest.approx(analytic, rel=0.01)
    assert len(packets) == pytest.approx(200, abs=2)


def test_estimate_scales_with_frequency(tmp_path: Path) -> None:
    world = CpuWorld(tmp_path, lambda t: 1.0, _freq)
    with EstimateMeter(str(tmp_path), clock=world, rate_hz=5) as meter:
        readings = [meter.read() for _ in range(80)]
    table = load_power_model("pi5")
    idle, busy = table.mode("idle").power_w, table.mode("cpu_busy").power_w
    late = [p for p in readings if p is not None and p.t_ns[0] > 13e9]
    assert late and all(total_power_w(p)[0] == pytest.approx(idle + (busy - idle) * 0.6,
                                                              rel=0.02) for p in late)


def test_estimate_is_labelled_everywhere(tmp_path: Path, clock: FakeClock) -> None:
    CpuWorld(tmp_path / "root", lambda t: 0.0, lambda t: 1.0)
    meter = open_meter(f"estimate@{tmp_path / 'root'}?platform=jetson_orin_nano", clock=clock)
    packet = meter.read()
    meter.close()
    assert packet is not None
    assert packet.meta["estimate"] is True
    assert packet.meta["rails"] == ("estimate",)
    assert packet.meta["note"].startswith("ESTIMATE")
    assert "jetson_orin_nano" in packet.meta["note"] and "ISCA 2007" in packet.meta["note"]
    assert total_power_w(packet)[0] == pytest.approx(3.5)  # idle: the Orin Nano table
