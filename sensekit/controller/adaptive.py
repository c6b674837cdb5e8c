"""The adaptive sampling policy: sensor and compute energy only on informative windows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import ConfigError
from ..fusion.inputs import Configuration
from ..modalities import Modality, declarations
from .operating import OperatingPoint
from .policies import Observation, Plan, Policy, PolicyContext, RegisteredPolicy, motion_modality

__all__ = ["Adaptive"]


@dataclass
class Adaptive(RegisteredPolicy):
    """Spend sensor and compute energy only on informative windows.

    The ``base`` modalities always run (by default those declared ``keep_on``: the IMU, the
    light sensor and the GPS: the accelerometer sees change first, the light sensor draws well
    under a milliwatt, and the shipped network needs the GPS's speed most, which power-save
    mode keeps at a third of the current); every other modality is optional. The ``anchor`` is
    the modality whose score is the motion score (the accelerometer). Rules, evaluated once per
    window:

    1. **Idle.** Once the motion score has stayed below ``still_score`` for ``still_windows``
       windows and the network was sure, the network is skipped (the last prediction is
       carried forward) and the sensors go to standby: each into its declared standby mode
       (the IMU's wake-on-motion, the GPS's power-save; ``standby``), the rest to sleep. The
       IMU's motion interrupt (or any motion score at or above ``still_score``) ends it.
    2. **Back on.** When the motion score jumps by ``change_delta`` or more between windows (a
       change point: someone started running, got into a car) every optional modality comes
       back at once; when the network is unsure (confidence below ``unsure``) too, or, with
       ``escalate_all`` off, the cheapest missing one each window until it is sure again.
       Only the modalities in ``optional`` (default: every one outside the base) are ever
       brought back: a profile of tuning recordings names those that added a point there.
    3. **Turn down.** While the network is sure (confidence at or above ``sure``), one optional
       modality is turned off every ``sure_windows`` windows: the costliest of those whose
       removal would not change the prediction (``Observation.redundant``, from the network),
       or the costliest of all when the network does not say.
    4. **Changing scenes stay watched.** A modality in ``keep_changing`` (by default those
       whose score is declared a ``change`` score) whose own score is at or above
       ``keep_score`` (a light change, camera frame difference) is not turned down while the
       scene keeps changing. Level scores (audio activity, GPS speed) do not count: a street
       is loud all the time without that telling anything new.
    5. **Economy modes.** While calm and sure, sensors named in ``economy`` (by default those
       that declare one) that are on run in their low-power mode (the GPS in power-save: a fix
       a second on about a third of the current); on doubt or at a change point they return
       to full power.
    6. **IMU rate** follows motion when ``rate_follows_motion`` is set: the highest rate above
       ``fast_score``, the lowest below ``still_score``, the middle between. Off by default: an
       MPU-6050 draws the same current at any output rate outside its low-power cycle mode, so
       a lower rate would cost accuracy and save nothing.

    7. **Base point.** With ``base_point`` (the static point chosen on tuning recordings), the
       base modalities run at its rates and in its modes (the accelerometer in its low-power
       cycle mode at 5 Hz, say) while no other modality of their part is on.

    Args:
        full: The configuration with every sensor on at its highest rate.
        rates: Rates the network supports per modality, highest first.
        cost: Watts per modality (from the power models): which to turn down first.
        modalities: Declarations the defaults come from (default: those of ``full``).
    """

    full: Configuration
    rates: Mapping[str, Sequence[float]]
    cost: Mapping[str, float] = field(default_factory=dict)
    anchor: str = ""
    base: tuple[str, ...] | None = None
    still_score: float = 0.15
    fast_score: float = 0.6
    change_delta: float = 0.25
    keep_score: float = 0.8
    keep_changing: tuple[str, ...] | None = None
    still_windows: int = 6
    sure: float = 0.9
    unsure: float = 0.8
    sure_windows: int = 1
    standby: Mapping[str, str] | None = None
    economy: Mapping[str, str] | None = None
    rate_follows_motion: bool = False
    escalate_all: bool = True
    optional: tuple[str, ...] | None = None
    base_point: OperatingPoint | None = None
    name: str = "adaptive"
    modalities: Mapping[str, Modality] | None = None
    spec_help: ClassVar[str] = "adaptive[:key=value,...]"
    #: It reads which modalities the network did not need (``Observation.redundant``).
    asks_redundant: ClassVar[bool] = True
    _idle: bool = False
    _still_run: int = 0
    _sure_run: int = 0
    _last_motion: float | None = None
    _on: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        decl = dict(self.modalities if self.modalities is not None
                    else declarations(self.full.rates))
        self.modalities = decl
        self.anchor = self.anchor or motion_modality(decl)
        if self.base is None and self.base_point is not None:
            self.base = tuple(sorted(self.base_point.modalities))
        if self.base is None:
            self.base = tuple(m for m, d in decl.items() if d.turn_down.keep_on)
        if self.keep_changing is None:
            self.keep_changing = tuple(m for m, d in decl.items()
                                       if d.score is not None and d.score.role == "change")
        if self.standby is None:
            self.standby = {m: d.turn_down.standby for m, d in decl.items()
                            if d.turn_down.standby}
        if self.economy is None:
            self.economy = {m: d.turn_down.economy for m, d in decl.items()
                            if d.turn_down.economy}
        self._on = self._optional()

    @classmethod
    def from_params(cls, params: Mapping[str, Any], ctx: PolicyContext,
                    name: str = "") -> Policy:
        allowed = {k for k in cls.__dataclass_fields__ if not k.startswith("_")} - {
            "full", "rates", "cost", "modalities", "spec_help"}
        unknown = set(params) - allowed
        if unknown:
            raise ConfigError(f"[policy] params {sorted(unknown)} unknown for adaptive; "
                              f"known: {sorted(allowed)}")
        return cls(ctx.full, ctx.rates, **{"cost": ctx.cost, **params,
                                            **({"name": name} if name else {})})

    @classmethod
    def spec_params(cls, arg: str) -> dict[str, Any]:
        """``key=value`` pairs: numbers, ``a/b`` tuples, ``none`` for an empty tuple."""
        params: dict[str, Any] = {}
        for item in filter(None, arg.split(",")):
            key, _, value = item.partition("=")
            params[key] = float(value) if "." in value else int(value) if value.isdigit() \
                else () if value == "none" else tuple(value.split("/"))
        return params

    def _optional(self) -> set[str]:
        extra = self.full.modalities - {self.anchor} - set(self.base or ())
        return set(extra if self.optional is None else extra & set(self.optional))

    @property
    def uses(self) -> frozenset[str]:
        return frozenset(({self.anchor} | set(self.base or ()) | self._optional())
                         & self.full.modalities)

    def _score(self, scores: Mapping[str, float], modality: str) -> float | None:
        return scores.get(modality)

    def _device(self, modality: str) -> str:
        """The part a modality comes from (the accelerometer and gyroscope share an IMU)."""
        decl = (self.modalities or {}).get(modality)
        return decl.power.device if decl is not None and decl.power is not None else modality

    def plan(self, obs: Observation) -> Plan:
        motion = self._score(obs.scores, self.anchor)
        unsure = obs.confidence is None or obs.confidence < self.unsure
        woke = self._track_idle(motion, unsure)
        if self._idle:
            return Plan(Configuration({}), False, "idle: still and sure",
                        dict(self.standby or {}))
        changed = woke or (motion is not None and self._last_motion is not None
                           and abs(motion - self._last_motion) >= self.change_delta)
        if motion is not None:
            self._last_motion = motion
        reason = self._feedback(obs, unsure, changed)
        rates: dict[str, float] = {}
        if self.anchor in obs.available and self.anchor in self.full.rates:
            rates[self.anchor] = self._anchor_rate(motion) if self.rate_follows_motion \
                and not (unsure or changed) else self._base_rate(self.anchor)
        for m in sorted(((self._on | set(self.base or ())) - {self.anchor}) & obs.available
                        & set(self.full.rates)):
            same_device = self._device(m) == self._device(self.anchor)
            rates[m] = rates.get(self.anchor, self._base_rate(m)) if same_device \
                else self._base_rate(m)
        if not rates:
            rates = {m: r for m, r in self.full.rates.items() if m in obs.available}
        calm = not (unsure or changed)
        modes = dict(self.economy or {}) if calm else {}
        return Plan(Configuration(rates), True, reason, {**modes, **self._base_modes(rates)})

    def _base_rate(self, modality: str) -> float:
        if self.base_point is not None and modality in self.base_point.rates:
            return self.base_point.rates[modality]
        if modality == self.anchor:
            return max(self.rates[self.anchor])
        return self.full.rates[modality]

    def _base_modes(self, rates: Mapping[str, float]) -> dict[str, str]:
        """The base point's modes, for parts none of whose other modalities is on."""
        if self.base_point is None:
            return {}
        out = {}
        for m, mode in self.base_point.modes.items():
            mates = {x for x in rates if self._device(x) == self._device(m)}
            if m in rates and mates <= set(self.base_point.modalities):
                out[m] = mode
        return out

    def _track_idle(self, motion: float | None, unsure: bool) -> bool:
        """Update the idle state; True when motion has just ended it."""
        moved = motion is not None and motion >= self.still_score
        if self._idle:
            # no samples while in standby: only motion (the interrupt) ends it
            self._idle = not moved
            if moved:
                self._still_run, self._last_motion = 0, None
            return moved
        still = motion is not None and not moved
        self._still_run = self._still_run + 1 if still else 0
        self._idle = self._still_run >= self.still_windows and not unsure
        return False

    def _feedback(self, obs: Observation, unsure: bool, changed: bool) -> str:
        if changed or (unsure and self.escalate_all):
            self._on = self._optional()
            self._sure_run = 0
            return "unsure: all on" if unsure else "change point: all on"
        if unsure:
            self._sure_run = 0
            missing = self._optional() - self._on
            if not missing:
                return "unsure: all on"
            cheapest = min(missing, key=lambda m: (self.cost.get(m, 0.0), m))
            self._on.add(cheapest)
            return f"unsure: {cheapest} on"
        sure = obs.confidence is not None and obs.confidence >= self.sure
        self._sure_run = self._sure_run + 1 if sure else 0
        if self._sure_run < self.sure_windows:
            return "holding"
        self._sure_run = 0
        keep = {m for m in self._on & set(self.keep_changing or ())
                if (v := self._score(obs.scores, m)) is not None and v >= self.keep_score}
        pool = (self._on & obs.redundant if obs.redundant is not None else self._on) - keep
        if not pool:
            return "sure: nothing redundant"
        worst = max(pool, key=lambda m: (self.cost.get(m, 0.0), m))
        self._on.discard(worst)
        return f"sure: {worst} off"

    def _anchor_rate(self, motion: float | None) -> float:
        choices = sorted(self.rates[self.anchor], reverse=True)
        if motion is None or motion >= self.fast_score:
            return choices[0]
        if motion < self.still_score:
            return choices[-1]
        return choices[len(choices) // 2]
