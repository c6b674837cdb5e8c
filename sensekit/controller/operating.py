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
from typing import Any

from ..errors import ConfigError
from ..fusion.inputs import Configuration, ModalityInput
from ..modalities import Modality, delivering_mode
from ..modalities.decimate import RATE_TOLERANCE

__all__ = ["OperatingPoint", "Option", "as_recorded", "modality_options", "part_options",
           "recording_rates", "serving", "static_points"]


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
    """Rates a recording can honestly give: those at or below what it holds; in the
    delivering mode also the lowest rate above it (the recording as it is: always-on)."""
    served = [r for r in rates if serves(decl.name, r)]
    out = [r for r in served if _fits(r, native)]
    above = [r for r in served if not _fits(r, native)]
    if delivering and above:
        out.append(min(above))
    return sorted(out, reverse=True)


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


def serving(network: Mapping[str, ModalityInput] | None) -> Callable[[str, float], bool]:
    """Whether the network takes a modality at a rate: a ``series`` input only at the rates
    it was trained for (its steps are fixed); other layouts, and modalities it does not
    take, at any rate."""
    def serves(name: str, rate: float) -> bool:
        spec = (network or {}).get(name)
        return spec is None or spec.kind != "series" or rate in spec.rates_hz
    return serves


def static_points(decls: Mapping[str, Modality], table_modes: Mapping[str, Sequence[str]],
                  native_hz: Mapping[str, float | None],
                  network: Mapping[str, ModalityInput] | None = None) -> Iterator[OperatingPoint]:
    """Every static operating point over the modalities in ``decls`` (those a recording
    carries), part by part: the product of each part's options (or off), minus all off.

    Args:
        decls: Declarations of the modalities available, priced by their parts.
        table_modes: Part (``PowerEntry.device``) -> modes its power table has.
        native_hz: Modality -> the rate the recording holds it at (None: unknown, no cap).
        network: The network's inputs (:func:`serving`).
    """
    serves = serving(network)
    choices = [[None, *part_options(ds, table_modes.get(part, ()), native_hz, serves)]
               for part, ds in sorted(_by_part(decls).items())]
    for combo in itertools.product(*choices):
        picked = [o for o in combo if o is not None]
        if picked:
            yield _point(picked)


def _by_part(decls: Mapping[str, Modality]) -> dict[str, list[Modality]]:
    out: dict[str, list[Modality]] = {}
    for d in decls.values():
        if d.power is not None:
            out.setdefault(d.power.device, []).append(d)
    return out


def as_recorded(decls: Mapping[str, Modality], table_modes: Mapping[str, Sequence[str]],
                native_hz: Mapping[str, float | None],
                network: Mapping[str, ModalityInput] | None = None) -> OperatingPoint:
    """Always-on for a recording: every modality in ``decls`` on, each part in the mode that
    delivers all of them, at the lowest rate it offers at or above what the recording holds
    (its highest when none is): the cheapest setting that hands over all the recording has."""
    serves = serving(network)
    rates: dict[str, float] = {}
    for part, ds in _by_part(decls).items():
        mode = delivering_mode(ds, table_modes.get(part, ()))
        for d in ds:
            offered = [r for r in modality_options(d, table_modes.get(part, ())).get(
                mode or "", d.rates_hz) if serves(d.name, r)] or list(d.rates_hz)
            native = native_hz.get(d.name)
            above = [r for r in offered if native is None or not r < native * (
                1 - RATE_TOLERANCE)]
            rates[d.name] = min(above) if above and native is not None else max(offered)
    return OperatingPoint(Configuration(rates))


def recording_rates(streams: Mapping[str, Any], decls: Mapping[str, Modality]
                    ) -> dict[str, float | None]:
    """Modality -> the rate a recording holds it at (its stream's median rate), for every
    declared modality whose stream the recording has; None for an image (its value is a
    size, not a rate)."""
    from ..modalities.decimate import native_rate_hz

    out: dict[str, float | None] = {}
    for name, d in decls.items():
        stream = d.stream_in(streams)
        if stream is not None:
            out[name] = None if d.input.kind == "image" else native_rate_hz(
                streams[stream].t_ns)
    return out


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
