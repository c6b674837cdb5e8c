"""What the energy ledger answers: charges, per-phase energy and the summary of a window.

See :class:`sensekit.power.ledger.EnergyLedger`, which makes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from .integrate import Integral

__all__ = ["Charge", "LedgerSummary", "PhaseEnergy"]


@dataclass(frozen=True)
class Charge:
    """Energy charged to one sensor over ``[start_ns, end_ns)``: ``watts`` for the span plus a
    ``lump_j`` at its start (``kind`` is ``"mode"``, ``"transition"`` or ``"inference"``)."""

    sensor: str
    mode: str
    start_ns: int
    end_ns: int
    watts: float
    kind: str = "mode"
    lump_j: float = 0.0
    estimate: bool = False

    def energy_j(self, a: int, b: int) -> float:
        """Joules of this charge inside ``[a, b)``."""
        span = max(0, min(self.end_ns, b) - max(self.start_ns, a)) / 1e9
        lump = self.lump_j if a <= self.start_ns < b else 0.0
        return self.watts * span + lump


@dataclass(frozen=True)
class PhaseEnergy:
    """Energy of one phase: measured (when a meter ran) and modelled."""

    name: str
    start_ns: int
    end_ns: int
    measured: Integral | None
    sensors_j: float
    inference_j: float
    floor_j: float

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def modelled_j(self) -> float:
        return self.floor_j + self.sensors_j + self.inference_j


@dataclass(frozen=True)
class LedgerSummary:
    """The ledger's answers over one window (see :meth:`EnergyLedger.summary`)."""

    start_ns: int
    end_ns: int
    by_sensor: dict[str, float]
    by_mode: dict[tuple[str, str], float]
    inference_j: dict[str, float]
    inference_count: int
    floor_j: float
    floor_w: float
    platform: str
    measured: Integral | None
    phases: list[PhaseEnergy] = field(default_factory=list)
    estimates: tuple[str, ...] = ()
    #: The "measured" power came from the estimate meter (a model, not a measurement).
    measured_is_estimate: bool = False

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def sensors_j(self) -> float:
        return sum(self.by_sensor.values())

    @property
    def modelled_j(self) -> float:
        """Floor + sensors + inferences, from the power models."""
        return self.floor_j + self.sensors_j + sum(self.inference_j.values())

    @property
    def average_w(self) -> float:
        """Measured mean power when a meter covered the window, else the modelled mean."""
        if self.measured is not None and self.measured.covered_s > 0:
            return self.measured.average_w
        return self.modelled_j / self.duration_s if self.duration_s > 0 else float("nan")

    @property
    def unattributed_j(self) -> float | None:
        """Measured energy the models do not account for (None without a meter).

        Compared over the measured (covered) time only.
        """
        if self.measured is None or self.measured.covered_s <= 0:
            return None
        share = self.measured.coverage
        return self.measured.energy_j - self.modelled_j * share

    def format(self) -> str:
        """A plain-text account: floor, sensors by mode, inferences, measured, unattributed."""
        lines = [f"{self.duration_s:.1f} s, mean {self.average_w:.3f} W"]
        if self.platform:
            lines.append(f"  platform floor ({self.platform} idle {self.floor_w:.2f} W): "
                         f"{self.floor_j:.3f} J")
        for (sensor, mode), joules in sorted(self.by_mode.items()):
            lines.append(f"  {sensor} {mode}: {joules:.4f} J")
        for label, joules in sorted(self.inference_j.items()):
            lines.append(f"  inference {label}: {joules:.4f} J")
        lines.append(f"  modelled total: {self.modelled_j:.3f} J")
        if self.measured is not None:
            m = self.measured
            what = "measured (ESTIMATE, from a CPU model)" if self.measured_is_estimate \
                else "measured"
            lines.append(f"  {what}: {m.energy_j:.3f} J over {m.covered_s:.1f} s "
                         f"({m.coverage:.1%} covered, {len(m.gaps)} gaps); unattributed "
                         f"{self.unattributed_j or 0.0:.3f} J")
        if self.estimates:
            lines.append(f"  estimated figures: {', '.join(self.estimates)}")
        return "\n".join(lines)

    def battery_life_h(self, capacity_wh: float, *, usable: float = 1.0) -> float:
        """Hours a battery of ``capacity_wh`` (times the ``usable`` fraction) lasts at
        :attr:`average_w`."""
        if capacity_wh <= 0 or not 0 < usable <= 1:
            raise ConfigError(f"battery capacity must be > 0 Wh and usable in (0, 1], got "
                              f"{capacity_wh} Wh, {usable}")
        return capacity_wh * usable / self.average_w
