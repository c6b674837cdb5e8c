"""Sampling policies: which sensors run, at what rate, and whether a window reaches the network.

A policy sees an :class:`Observation` once per window (the informativeness scores of the
window just closed, the network's last prediction and its confidence, which sensors work) and
returns a :class:`Plan`: a :class:`~sensekit.fusion.inputs.Configuration` (sensors on and their
rates; the camera's "rate" is its DNN-mode resolution) and whether to run the network. The
:class:`~sensekit.controller.controller.Controller` snaps the plan to a configuration the
network supports, enforces the maximum time a sensor may stay off, and applies it through the
driver interface, so the same policy runs on hardware, emulators and replays.

Policies here:

- :class:`Static`: one configuration, always (always-on is the full configuration); every
  static configuration of the network is one of these.
- :class:`DutyCycle`: a configuration on for ``on_s`` out of every ``period_s``, all off between.
- :class:`Adaptive`: informativeness scores decide which sensors run and at what rate, and
  whether the network runs at all; confidence feedback turns down modalities while the network
  is sure and brings them back when it is not.
- :class:`Budgeted`: the most useful configuration whose modelled power fits a budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import ConfigError
from ..fusion.inputs import Configuration

__all__ = ["Adaptive", "BudgetCap", "Budgeted", "DutyCycle", "Observation", "Plan", "Policy",
           "Static", "policy_from_config", "policy_uses"]


@dataclass(frozen=True)
class Observation:
    """What a policy knows when it plans the next window.

    Attributes:
        t_ns: Host time of the decision.
        scores: Informativeness per stream in [0, 1] for the window just closed (only the
            streams that delivered samples).
        confidence: Top-class probability of the network's last prediction (None: no run yet).
        prediction: The last predicted class of the policy's primary task.
        available: Modalities whose sensor works (a failed sensor is routed around).
        redundant: Modalities whose removal would not have changed the last prediction (the
            network's own answer; None when it was not asked).
    """

    t_ns: int
    scores: Mapping[str, float] = field(default_factory=dict)
    confidence: float | None = None
    prediction: str | None = None
    available: frozenset[str] = frozenset()
    redundant: frozenset[str] | None = None


@dataclass(frozen=True)
class Plan:
    """A policy's choice for the next window.

    Attributes:
        configuration: Modalities on (their data reaches the network) and their rates.
        run_network: Whether the window goes to the network (else the last prediction stands).
        reason: Why, for the decision log.
        standby: Stream -> low-power mode to hold a sensor in instead of sleeping it, where the
            part can watch for change by itself (``{"imu": "wake_on_motion"}``: the IMU's
            motion interrupt wakes the controller; ``{"gps": "power_save"}``: the receiver keeps
            its fix for a hot start).
    """

    configuration: Configuration
    run_network: bool = True
    reason: str = ""
    standby: Mapping[str, str] = field(default_factory=dict)


class Policy(Protocol):
    """Anything with a name that turns observations into plans.

    A policy may also have ``uses``: the modalities it can ever turn on (a static
    configuration without audio never needs the microphone). The controller holds only those
    to its maximum time off; a policy without the attribute is taken to use every sensor.
    """

    name: str

    def plan(self, obs: Observation) -> Plan: ...


def policy_uses(policy: Policy) -> frozenset[str] | None:
    """The modalities ``policy`` can turn on (None: any)."""
    uses = getattr(policy, "uses", None)
    return None if uses is None else frozenset(uses)


def _restrict(config: Configuration, available: frozenset[str]) -> Configuration:
    return Configuration({m: r for m, r in config.rates.items() if m in available})


@dataclass
class Static:
    """One configuration for every window; ``Static(full)`` is always-on."""

    configuration: Configuration
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"static:{self.configuration.name()}"

    @property
    def uses(self) -> frozenset[str]:
        return self.configuration.modalities

    def plan(self, obs: Observation) -> Plan:
        return Plan(_restrict(self.configuration, obs.available), True, "static")


@dataclass
class DutyCycle:
    """``configuration`` for ``on_s`` seconds of every ``period_s``; everything off between."""

    configuration: Configuration
    period_s: float
    on_s: float
    name: str = ""

    def __post_init__(self) -> None:
        if not 0 < self.on_s <= self.period_s:
            raise ConfigError(f"duty cycle needs 0 < on_s <= period_s, got on_s={self.on_s}, "
                              f"period_s={self.period_s}")
        self.name = self.name or f"duty:{self.on_s:g}/{self.period_s:g}s"

    @property
    def uses(self) -> frozenset[str]:
        return self.configuration.modalities

    def plan(self, obs: Observation) -> Plan:
        phase = (obs.t_ns / 1e9) % self.period_s
        if phase < self.on_s:
            return Plan(_restrict(self.configuration, obs.available), True, "duty on")
        return Plan(Configuration({}), False, "duty off")


@dataclass
class Adaptive:
    """Spend sensor and compute energy only on informative windows.

    The ``base`` modalities always run (by default the IMU, the light sensor and the GPS: the
    accelerometer sees change first, the light sensor draws well under a milliwatt, and the
    shipped network needs the GPS's speed most, which power-save mode keeps at a third of the
    current); every other modality is optional. Rules, evaluated once per window:

    1. **Idle.** Once the motion score has stayed below ``still_score`` for ``still_windows``
       windows and the network was sure, the network is skipped (the last prediction is
       carried forward) and the sensors go to standby: the IMU into its wake-on-motion mode,
       the GPS into power-save (``standby``), the rest to sleep. The IMU's motion interrupt
       (or any motion score at or above ``still_score``) ends it.
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
    4. **Changing scenes stay watched.** A modality in ``keep_changing`` whose own change score
       is at or above ``keep_score`` (a light change, camera frame difference) is not turned
       down while the scene keeps changing. Level scores (audio activity, GPS speed) do not
       count: a street is loud all the time without that telling anything new.
    5. **Economy modes.** While calm and sure, sensors named in ``economy`` that are on run in
       their low-power mode (the GPS in power-save: a fix a second on about a third of the
       current); on doubt or at a change point they return to full power.
    6. **IMU rate** follows motion when ``rate_follows_motion`` is set: the highest rate above
       ``fast_score``, the lowest below ``still_score``, the middle between. Off by default: an
       MPU-6050 draws the same current at any output rate outside its low-power cycle mode, so
       a lower rate would cost accuracy and save nothing.

    Args:
        full: The configuration with every sensor on at its highest rate.
        rates: Rates the network supports per modality, highest first.
        cost: Watts per modality (from the power models): which to turn down first.
    """

    full: Configuration
    rates: Mapping[str, Sequence[float]]
    cost: Mapping[str, float] = field(default_factory=dict)
    anchor: str = "accel"
    base: tuple[str, ...] = ("accel", "gyro", "light", "gps")
    streams: Mapping[str, str] = field(default_factory=lambda: {"accel": "imu", "gyro": "imu"})
    still_score: float = 0.15
    fast_score: float = 0.6
    change_delta: float = 0.25
    keep_score: float = 0.8
    keep_changing: tuple[str, ...] = ("light", "camera")
    still_windows: int = 6
    sure: float = 0.9
    unsure: float = 0.8
    sure_windows: int = 1
    standby: Mapping[str, str] = field(default_factory=lambda: {"imu": "wake_on_motion",
                                                                 "gps": "power_save"})
    economy: Mapping[str, str] = field(default_factory=lambda: {"gps": "power_save"})
    rate_follows_motion: bool = False
    escalate_all: bool = True
    optional: tuple[str, ...] | None = None
    name: str = "adaptive"
    _idle: bool = False
    _still_run: int = 0
    _sure_run: int = 0
    _last_motion: float | None = None
    _on: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._on = self._optional()

    def _optional(self) -> set[str]:
        extra = self.full.modalities - {self.anchor} - set(self.base)
        return set(extra if self.optional is None else extra & set(self.optional))

    @property
    def uses(self) -> frozenset[str]:
        return frozenset(({self.anchor} | set(self.base) | self._optional())
                         & self.full.modalities)

    def _score(self, scores: Mapping[str, float], modality: str) -> float | None:
        return scores.get(self.streams.get(modality, modality))

    def plan(self, obs: Observation) -> Plan:
        motion = self._score(obs.scores, self.anchor)
        unsure = obs.confidence is None or obs.confidence < self.unsure
        woke = self._track_idle(motion, unsure)
        if self._idle:
            return Plan(Configuration({}), False, "idle: still and sure", dict(self.standby))
        changed = woke or (motion is not None and self._last_motion is not None
                           and abs(motion - self._last_motion) >= self.change_delta)
        if motion is not None:
            self._last_motion = motion
        reason = self._feedback(obs, unsure, changed)
        rates: dict[str, float] = {}
        if self.anchor in obs.available:
            rates[self.anchor] = self._anchor_rate(motion) if self.rate_follows_motion \
                and not (unsure or changed) else max(self.rates[self.anchor])
        for m in sorted(((self._on | set(self.base)) - {self.anchor}) & obs.available):
            same_device = self.streams.get(m) == self.streams.get(self.anchor)
            rates[m] = rates.get(self.anchor, self.full.rates[m]) if same_device \
                else self.full.rates[m]
        if not rates:
            rates = {m: r for m, r in self.full.rates.items() if m in obs.available}
        calm = not (unsure or changed)
        return Plan(Configuration(rates), True, reason, dict(self.economy) if calm else {})

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
        keep = {m for m in self._on & set(self.keep_changing)
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


@dataclass
class Budgeted:
    """The most useful supported configuration whose modelled power fits the budget.

    Args:
        budget_w: Power budget for sensors plus inference, in watts.
        candidates: Configurations the network supports.
        power_w: Modelled power of a configuration (sensors plus inference).
        utility: How good a configuration is (e.g. validation macro-F1 per configuration from
            the network's evaluation); ties go to the cheaper one.
    """

    budget_w: float
    candidates: Sequence[Configuration]
    power_w: Callable[[Configuration], float]
    utility: Callable[[Configuration], float]
    name: str = "budget"

    def __post_init__(self) -> None:
        if self.budget_w <= 0:
            raise ConfigError(f"power budget must be positive, got {self.budget_w} W")

    def set_budget(self, budget_w: float) -> None:
        """Re-plan under a new budget from the next window on (battery ran low, say)."""
        if budget_w <= 0:
            raise ConfigError(f"power budget must be positive, got {budget_w} W")
        self.budget_w = budget_w

    @property
    def uses(self) -> frozenset[str]:
        return frozenset(m for c in self.candidates for m in c.modalities)

    def plan(self, obs: Observation) -> Plan:
        usable = [c for c in self.candidates if c.modalities <= obs.available]
        fits = [c for c in usable if self.power_w(c) <= self.budget_w]
        if not fits:
            if not usable:
                return Plan(Configuration({}), False, "no working sensor")
            cheapest = min(usable, key=self.power_w)
            return Plan(cheapest, True, f"nothing fits {self.budget_w * 1e3:.1f} mW: cheapest")
        best = max(fits, key=lambda c: (self.utility(c), -self.power_w(c)))
        return Plan(best, True, f"best under {self.budget_w * 1e3:.1f} mW "
                                f"({self.power_w(best) * 1e3:.1f} mW)")


@dataclass
class BudgetCap:
    """Any policy, held under a power budget: policies compose.

    The inner policy plans; while its configuration's modelled power exceeds ``budget_w``,
    the most expensive modality (other than ``keep``) is dropped, then lowered rates are tried
    before dropping more. Re-plans every window, so a new budget applies at once.
    """

    inner: Policy
    budget_w: float
    power_w: Callable[[Configuration], float]
    rates: Mapping[str, Sequence[float]] = field(default_factory=dict)
    keep: str = "accel"
    name: str = ""

    def __post_init__(self) -> None:
        if self.budget_w <= 0:
            raise ConfigError(f"power budget must be positive, got {self.budget_w} W")
        self.name = self.name or f"{self.inner.name}+cap:{self.budget_w * 1e3:g}mW"

    @property
    def uses(self) -> frozenset[str] | None:
        return policy_uses(self.inner)

    def plan(self, obs: Observation) -> Plan:
        plan = self.inner.plan(obs)
        rates = dict(plan.configuration.rates)
        dropped = []
        while rates and self.power_w(Configuration(rates)) > self.budget_w:
            lowered = self._lower_one(rates)
            if lowered is None:
                victims = [m for m in rates if m != self.keep] or list(rates)
                worst = max(victims, key=lambda m: (self.power_w(Configuration({m: rates[m]})),
                                                     m))
                del rates[worst]
                dropped.append(worst)
            else:
                rates = lowered
        if not dropped and rates == dict(plan.configuration.rates):
            return plan
        note = f"; over {self.budget_w * 1e3:g} mW" + (f": dropped {', '.join(dropped)}"
                                                      if dropped else ": rates lowered")
        return Plan(Configuration(rates), plan.run_network and bool(rates), plan.reason + note,
                    plan.standby)

    def _lower_one(self, rates: dict[str, float]) -> dict[str, float] | None:
        """The configuration with the costliest modality one rate step down, if any can go."""
        best: tuple[float, str, float] | None = None
        for m, r in rates.items():
            lower = sorted((x for x in self.rates.get(m, ()) if x < r), reverse=True)
            if lower:
                saving = self.power_w(Configuration({m: r})) - \
                    self.power_w(Configuration({m: lower[0]}))
                if saving > 0 and (best is None or saving > best[0]):
                    best = (saving, m, lower[0])
        if best is None:
            return None
        return {**rates, best[1]: best[2]}


def policy_from_config(table: Mapping[str, Any], full: Configuration,
                       rates: Mapping[str, Sequence[float]], *,
                       candidates: Sequence[Configuration] = (),
                       power_w: Callable[[Configuration], float] | None = None,
                       utility: Callable[[Configuration], float] | None = None) -> Policy:
    """Build a policy from a rig config's ``[policy]`` table.

    ``name`` is ``always-on``, ``static``, ``duty-cycle``, ``adaptive`` or ``budget``;
    ``params`` holds the policy's own settings (``configuration`` for static as
    ``{accel = 50.0, ...}``, ``period_s``/``on_s`` for duty-cycle, thresholds for adaptive);
    ``budget_mw`` sets the budget: for ``budget`` it is the policy, for any other policy it
    caps it (:class:`BudgetCap`).
    """
    policy = _base_policy(table, full, rates, candidates, power_w, utility)
    if "budget_mw" in table and not isinstance(policy, Budgeted):
        if power_w is None:
            raise ConfigError("[policy] budget_mw needs a power model for the configurations")
        return BudgetCap(policy, float(table["budget_mw"]) / 1e3, power_w, rates)
    return policy


def _base_policy(table: Mapping[str, Any], full: Configuration,
                 rates: Mapping[str, Sequence[float]], candidates: Sequence[Configuration],
                 power_w: Callable[[Configuration], float] | None,
                 utility: Callable[[Configuration], float] | None) -> Policy:
    name = str(table.get("name", ""))
    params = dict(table.get("params", {}))
    if name == "always-on":
        return Static(full, name="always-on")
    if name == "static":
        return Static(Configuration({k: float(v) for k, v in
                                     params.get("configuration", full.rates).items()}))
    if name == "duty-cycle":
        return DutyCycle(full, float(params.get("period_s", 60.0)), float(params.get("on_s", 10.0)))
    if name == "adaptive":
        allowed = {k for k in Adaptive.__dataclass_fields__ if not k.startswith("_")}
        unknown = set(params) - allowed
        if unknown:
            raise ConfigError(f"[policy] params {sorted(unknown)} unknown for adaptive; "
                              f"known: {sorted(allowed - {'full', 'rates', 'cost'})}")
        return Adaptive(full, rates, **params)
    if name == "budget":
        if power_w is None or utility is None or not candidates:
            raise ConfigError("the budget policy needs the network's configurations, their "
                              "utility and a power model")
        if "budget_mw" not in table:
            raise ConfigError("[policy] name = \"budget\" needs budget_mw")
        return Budgeted(float(table["budget_mw"]) / 1e3, candidates, power_w, utility)
    raise ConfigError(f"unknown policy {name!r}; policies: always-on, static, duty-cycle, "
                      "adaptive, budget")
