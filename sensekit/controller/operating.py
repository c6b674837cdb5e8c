"""Operating points: which sensors are on, at what rate, in which mode, on what schedule.

An :class:`OperatingPoint` is a :class:`~sensekit.fusion.inputs.Configuration` (modalities and
rates, an image's side in pixels) plus the part mode each modality runs in where it is not the
one that simply delivers it (an accelerometer in its low-power cycle mode, a GPS in
power-save) and a duty cycle where the part is woken on a schedule (a GPS on for 10 s of every
minute). Written ``accel@5:accel_low_power+gps@1:power_save+light@1`` or
``gps@1~10/60`` for a duty cycle.

:func:`static_points` enumerates the static front's candidates for a recording: every subset of
the modalities it carries, crossed with every rate and mode each part offers (the modality
declarations' ``TurnDown.settings``; accelerometer and gyroscope at separate rates only where
the part allows it) and every duty cycle, minus what cannot run: a rate above what the
recording holds (never upsampled; the highest rate stays, as the recording's own), a rate the
network cannot take, a mode the part's power table lacks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..fusion.inputs import Configuration, ModalityInput
from ..modalities import Modality, delivering_mode
from ..modalities.decimate import RATE_TOLERANCE

__all__ = ["OperatingPoint", "Option", "modality_options", "part_options", "static_points"]


@dataclass(frozen=True)
class OperatingPoint:
    """A static operating point of the sensors.

    Attributes:
        configuration: Modalities on and their rates (image side in pixels).
        modes: Modality -> part mode, where it is not the delivering one.
        duty: Modality -> ``(on_s, period_s)``: its part is on for ``on_s`` of every
            ``period_s`` seconds and asleep between.
    """

    configuration: Configuration
    modes: Mapping[str, str] = field(default_factory=dict)
    duty: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.configuration, tuple(sorted(self.modes.items())),
                     tuple(sorted(self.duty.items()))))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, OperatingPoint) and self.configuration == other.configuration
                and dict(self.modes) == dict(other.modes) and dict(self.duty) == dict(other.duty))

    @property
    def rates(self) -> Mapping[str, float]:
        return self.configuration.rates

    @property
    def modalities(self) -> frozenset[str]:
        return self.configuration.modalities

    def name(self) -> str:
        """``accel@5:accel_low_power+gps@1~10/60`` (modalities sorted)."""
        parts = []
        for m in sorted(self.rates):
            text = f"{m}@{self.rates[m]:g}"
            if m in self.modes:
                text += f":{self.modes[m]}"
            if m in self.duty:
                on, period = self.duty[m]
                text += f"~{on:g}/{period:g}"
            parts.append(text)
        return "+".join(parts)

    @classmethod
    def parse(cls, text: str) -> OperatingPoint:
        """The inverse of :meth:`name`."""
        rates, modes, duty = {}, {}, {}
        for part in filter(None, text.split("+")):
            head, _, schedule = part.partition("~")
            head, _, mode = head.partition(":")
            name, sep, rate = head.partition("@")
            try:
                rates[name] = float(rate)
                if schedule:
                    on, _, period = schedule.partition("/")
                    duty[name] = (float(on), float(period))
            except ValueError:
                sep = ""
            if not sep or not name:
                raise ConfigError(f"operating point part {part!r} of {text!r}: write "
                                  "MODALITY@RATE[:MODE][~ON/PERIOD], parts joined by '+'")
            if mode:
                modes[name] = mode
        if not rates:
            raise ConfigError(f"operating point {text!r} switches nothing on")
        return cls(Configuration(rates), modes, duty)

    def restricted(self, keep: frozenset[str] | set[str]) -> OperatingPoint:
        """The point with only the modalities in ``keep``."""
        return OperatingPoint(Configuration({m: r for m, r in self.rates.items() if m in keep}),
                              {m: v for m, v in self.modes.items() if m in keep},
                              {m: v for m, v in self.duty.items() if m in keep})


@dataclass(frozen=True)
class Option:
    """One way to run one part: its modalities' rates, the mode, the duty cycle."""

    rates: Mapping[str, float]
    mode: str
    delivering: bool
    duty: tuple[float, float] | None = None


def modality_options(decl: Modality, table_modes: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """Mode -> rates of ``decl`` among the modes its part's table has."""
    return {m: r for m, r in decl.settings().items() if not m or m in table_modes}


def _fits(rate: float, native: float | None) -> bool:
    return native is None or rate <= native * (1 + RATE_TOLERANCE)


def part_options(decls: Sequence[Modality], table_modes: Sequence[str],
                 native_hz: Mapping[str, float | None],
                 serves: Callable[[str, float], bool]) -> list[Option]:
    """Every way to run one part for the modalities of it a recording carries.

    Each non-empty subset of ``decls``, in each mode that delivers all of the subset
    (``settings`` keys they share) and no modality of the part left out, at each rate the mode
    offers them (one shared rate unless the part declares ``separate_rates``), then each duty
    cycle the part declares. Rates above a modality's ``native_hz`` are left out, except the
    delivering mode's highest, which stands for the recording's own rate (always-on: delivered
    as recorded, never upsampled); rates ``serves`` refuses (the network cannot take them) are
    left out.
    """
    out: list[Option] = []
    separate = any(d.power is not None and d.power.separate_rates for d in decls)
    for k in range(1, len(decls) + 1):
        for subset in itertools.combinations(decls, k):
            others = [d for d in decls if d not in subset]
            out += _subset_options(subset, others, table_modes, native_hz, serves, separate)
    duties = sorted({dc for d in decls for dc in d.turn_down.duty_cycles})
    return out + [Option(o.rates, o.mode, o.delivering, dc)
                  for o in out if o.delivering for dc in duties]


def _rates_for(decl: Modality, rates: Sequence[float], native: float | None,
               serves: Callable[[str, float], bool], delivering: bool) -> list[float]:
    """Rates a recording can honestly give: at or below what it holds; the delivering mode's
    highest rate stays (always-on: the recording at its own rate)."""
    top = max(rates) if delivering else None
    return [r for r in rates if (_fits(r, native) or r == top) and serves(decl.name, r)]


def _subset_options(subset: Sequence[Modality], others: Sequence[Modality],
                    table_modes: Sequence[str], native_hz: Mapping[str, float | None],
                    serves: Callable[[str, float], bool], separate: bool) -> list[Option]:
    per = [modality_options(d, table_modes) for d in subset]
    delivering = delivering_mode(list(subset), table_modes)
    # a mode that also delivers a modality left off (the gyroscope's) is that subset's
    shared_modes = [m for m in per[0] if all(m in p for p in per[1:]) and (
        m == delivering or not any(m in d.turn_down.modes for d in others))]
    out = []
    for mode in shared_modes:
        lists = [_rates_for(d, p[mode], native_hz.get(d.name), serves,
                            mode == delivering or not mode)
                 for d, p in zip(subset, per, strict=True)]
        if separate:
            combos = list(itertools.product(*lists))
        else:
            common = sorted(set(lists[0]).intersection(*lists[1:]), reverse=True)
            combos = [tuple(r for _ in subset) for r in common]
        out += [Option({d.name: r for d, r in zip(subset, combo, strict=True)}, mode,
                       mode == delivering or not mode) for combo in combos]
    return out


def static_points(decls: Mapping[str, Modality], table_modes: Mapping[str, Sequence[str]],
                  native_hz: Mapping[str, float | None],
                  network: Mapping[str, ModalityInput] | None = None) -> Iterator[OperatingPoint]:
    """Every static operating point over the modalities in ``decls`` (those a recording
    carries), part by part: the product of each part's options (or off), minus all off.

    Args:
        decls: Declarations of the modalities available, priced by their parts.
        table_modes: Part (``PowerEntry.device``) -> modes its power table has.
        native_hz: Modality -> the rate the recording holds it at (None: unknown, no cap).
        network: The network's inputs: a ``series`` input is served only at the rates it
            was trained for (its steps are fixed); other layouts at any rate.
    """
    by_part: dict[str, list[Modality]] = {}
    for d in decls.values():
        if d.power is not None:
            by_part.setdefault(d.power.device, []).append(d)

    def serves(name: str, rate: float) -> bool:
        spec = (network or {}).get(name)
        return spec is None or spec.kind != "series" or rate in spec.rates_hz

    choices = [[None, *part_options(ds, table_modes.get(part, ()), native_hz, serves)]
               for part, ds in sorted(by_part.items())]
    for combo in itertools.product(*choices):
        picked = [o for o in combo if o is not None]
        if picked:
            yield _point(picked)


def _point(options: Sequence[Option]) -> OperatingPoint:
    rates: dict[str, float] = {}
    modes: dict[str, str] = {}
    duty: dict[str, tuple[float, float]] = {}
    for o in options:
        rates.update(o.rates)
        for m in o.rates:
            if not o.delivering:
                modes[m] = o.mode
            if o.duty is not None:
                duty[m] = o.duty
    return OperatingPoint(Configuration(rates), modes, duty)
