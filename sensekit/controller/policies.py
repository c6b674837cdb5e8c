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
- :class:`~sensekit.controller.adaptive.Adaptive`: informativeness scores decide which sensors
  run and at what rate, and whether the network runs at all; confidence feedback turns down
  modalities while the network is sure and brings them back when it is not.
- :class:`Budgeted`: the most useful configuration whose modelled power fits a budget.
- :class:`BudgetCap`: any policy, held under a power budget.
- :class:`~sensekit.controller.default_policy.Default` (``default``, what a rig runs when it
  names no policy): the static point chosen on the real tuning recordings, which dominates the
  adaptive policy there.

Policies are registered by name (:data:`POLICIES`, plus the ``sensekit.policies`` entry-point
group): a rig config's ``[policy]`` table and ``sensekit evaluate-policy --policy NAME:ARGS``
build them through :func:`policy_from_config` and :func:`policy_from_spec`. What a policy
needs to know about the sensors (which one sees motion first, which are cheap enough to keep
on, which can wait in a standby mode) comes from the modality declarations
(:mod:`sensekit.modalities`), never from their names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from .._registry import names as registry_names
from .._registry import resolve
from ..errors import ConfigError
from ..fusion.inputs import Configuration
from ..modalities import Modality, declarations
from .operating import OperatingPoint

__all__ = ["DEFAULT_POLICY", "POLICIES", "AlwaysOn", "BudgetCap", "Budgeted", "DutyCycle",
           "Observation", "Plan", "Policy", "PolicyContext", "RegisteredPolicy", "Static",
           "motion_modality", "policy_class", "policy_from_config", "policy_from_spec",
           "policy_names", "policy_reads_scores", "policy_uses"]


@dataclass(frozen=True)
class Observation:
    """What a policy knows when it plans the next window.

    Attributes:
        t_ns: Host time of the decision.
        scores: Informativeness per modality in [0, 1] for the window just closed (only the
            modalities whose sensors delivered samples).
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
        standby: Modality (or stream) -> low-power mode to hold its sensor in instead of
            sleeping it, where the part can watch for change by itself (``{"accel":
            "wake_on_motion"}``: the IMU's motion interrupt wakes the controller; ``{"gps":
            "power_save"}``: the receiver keeps its fix for a hot start). For a sensor that is
            on, the mode it delivers in (an economy mode).
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


def policy_reads_scores(policy: Policy) -> bool:
    """Whether ``policy`` reads the informativeness scores (a policy that does not say: yes)."""
    inner = getattr(policy, "inner", None)
    return policy_reads_scores(inner) if inner is not None else bool(
        getattr(policy, "reads_scores", True))


def _restrict(config: Configuration, available: frozenset[str]) -> Configuration:
    return Configuration({m: r for m, r in config.rates.items() if m in available})


def motion_modality(decls: Mapping[str, Modality]) -> str:
    """The modality whose score is the motion score (where a change of what the wearer does
    shows first); empty if none is declared so."""
    return next((m for m, d in decls.items() if d.score is not None
                 and d.score.role == "motion"), "")


@dataclass(frozen=True)
class PolicyContext:
    """What building a policy may need beyond its own parameters.

    Attributes:
        full: Every sensor on at its native rate.
        rates: Rates the network supports per modality, highest first.
        candidates: Configurations the network supports.
        power_w: Modelled sensor power of a configuration.
        utility: How good a configuration is (a prior, or measured on tuning recordings).
        cost: Watts per modality (the order in which to turn them down).
    """

    full: Configuration
    rates: Mapping[str, Sequence[float]]
    candidates: Sequence[Configuration] = ()
    power_w: Callable[[Configuration], float] | None = None
    utility: Callable[[Configuration], float] | None = None
    cost: Mapping[str, float] = field(default_factory=dict)


class RegisteredPolicy:
    """Base of the policies built by name (:data:`POLICIES`)."""

    #: What ``sensekit evaluate-policy --policy NAME:ARG`` takes after the colon.
    spec_help: ClassVar[str] = ""
    #: Whether it reads the informativeness scores (their compute is charged when it does).
    reads_scores: ClassVar[bool] = True

    @classmethod
    def from_params(cls, params: Mapping[str, Any], ctx: PolicyContext,
                    name: str = "") -> Policy:
        """The policy from a rig config's ``[policy] params`` table."""
        raise NotImplementedError

    @classmethod
    def spec_params(cls, arg: str) -> dict[str, Any]:
        """The parameters a command-line spec's argument (after ``NAME:``) stands for."""
        if arg:
            raise ConfigError(f"{cls.__name__} takes no argument after ':' (got {arg!r})")
        return {}


@dataclass
class Static(RegisteredPolicy):
    """One operating point for every window; ``Static(full)`` is always-on.

    Args:
        configuration: Modalities on and their rates.
        modes: Modality -> the part mode it runs in where not the delivering one (an
            accelerometer in its low-power cycle mode, a GPS in power-save).
        duty: Modality -> ``(on_s, period_s)``: on for ``on_s`` of every ``period_s``, asleep
            between (its wake-ups are the schedule's, not held to the controller's maximum
            time off).
    """

    configuration: Configuration
    name: str = ""
    modes: Mapping[str, str] = field(default_factory=dict)
    duty: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    spec_help: ClassVar[str] = "static:MOD@RATE[:MODE][~ON/PERIOD]+..."
    #: Static points never read the informativeness scores (nothing to charge for them).
    reads_scores: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self.name = self.name or f"static:{self.point.name()}"

    @property
    def point(self) -> OperatingPoint:
        """The operating point it holds."""
        return OperatingPoint(self.configuration, self.modes, self.duty)

    @classmethod
    def of(cls, point: OperatingPoint, name: str = "") -> Static:
        """The static policy holding ``point``."""
        return cls(point.configuration, name, dict(point.modes), dict(point.duty))

    @classmethod
    def from_params(cls, params: Mapping[str, Any], ctx: PolicyContext,
                    name: str = "") -> Policy:
        given = params.get("configuration", ctx.full.rates)
        if isinstance(given, str):
            return cls.of(OperatingPoint.parse(given), name)
        return cls(Configuration({k: float(v) for k, v in given.items()}), name,
                   {str(k): str(v) for k, v in params.get("modes", {}).items()})

    @classmethod
    def spec_params(cls, arg: str) -> dict[str, Any]:
        return {"configuration": arg}

    @property
    def uses(self) -> frozenset[str]:
        return self.configuration.modalities - set(self.duty)

    def plan(self, obs: Observation) -> Plan:
        rates = {m: r for m, r in self.configuration.rates.items()
                 if m in obs.available and self.scheduled(m, obs.t_ns)}
        return Plan(Configuration(rates), True, "static",
                    {m: mode for m, mode in self.modes.items() if m in rates})

    def scheduled(self, modality: str, t_ns: int) -> bool:
        """Whether ``modality``'s duty cycle (if it has one) has it on at ``t_ns``."""
        if modality not in self.duty:
            return True
        on_s, period_s = self.duty[modality]
        return (t_ns / 1e9) % period_s < on_s


@dataclass
class AlwaysOn(Static):
    """Every sensor on at its highest rate: the full configuration, always."""

    spec_help: ClassVar[str] = "always-on"

    @classmethod
    def from_params(cls, params: Mapping[str, Any], ctx: PolicyContext,
                    name: str = "") -> Policy:
        return cls(ctx.full, name=name or "always-on")

    @classmethod
    def spec_params(cls, arg: str) -> dict[str, Any]:
        if arg:
            raise ConfigError(f"always-on takes no argument after ':' (got {arg!r})")
        return {}


@dataclass
class DutyCycle(RegisteredPolicy):
    """``configuration`` for ``on_s`` seconds of every ``period_s``; everything off between."""

    configuration: Configuration
    period_s: float
    on_s: float
    name: str = ""
    spec_help: ClassVar[str] = "duty-cycle:ON/PERIOD (seconds)"
    reads_scores: ClassVar[bool] = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any], ctx: PolicyContext,
                    name: str = "") -> Policy:
        return cls(ctx.full, float(params.get("period_s", 60.0)), float(params.get("on_s", 10.0)),
                   name=name)

    @classmethod
    def spec_params(cls, arg: str) -> dict[str, Any]:
        on, _, period = arg.partition("/")
        try:
            return {"on_s": float(on), "period_s": float(period)}
        except ValueError:
            raise ConfigError(f"duty-cycle:{arg}: write duty-cycle:ON/PERIOD in seconds, "
                              "e.g. duty-cycle:10/60") from None

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
class Budgeted(RegisteredPolicy):
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
    spec_help: ClassVar[str] = "budget:MW"
    reads_scores: ClassVar[bool] = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any], ctx: PolicyContext,
                    name: str = "") -> Policy:
        if ctx.power_w is None or ctx.utility is None or not ctx.candidates:
            raise ConfigError("the budget policy needs the network's configurations, their "
                              "utility and a power model")
        if "budget_mw" not in params:
            raise ConfigError("[policy] name = \"budget\" needs budget_mw")
        return cls(float(params["budget_mw"]) / 1e3, ctx.candidates, ctx.power_w, ctx.utility,
                   name=name or "budget")

    @classmethod
    def spec_params(cls, arg: str) -> dict[str, Any]:
        try:
            return {"budget_mw": float(arg)}
        except ValueError:
            raise ConfigError(f"budget:{arg}: write budget:MW, e.g. budget:100") from None

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
    the most expensive modality (other than ``keep``, by default the one whose score is the
    motion score) is dropped, then lowered rates are tried before dropping more. Re-plans
    every window, so a new budget applies at once.
    """

    inner: Policy
    budget_w: float
    power_w: Callable[[Configuration], float]
    rates: Mapping[str, Sequence[float]] = field(default_factory=dict)
    keep: str = ""
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
                keep = self.keep or motion_modality(declarations(rates))
                victims = [m for m in rates if m != keep] or list(rates)
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


#: Policies by name: name -> (module, class); plugins in the ``sensekit.policies`` group.
POLICIES: dict[str, tuple[str, str]] = {
    "always-on": (__name__, "AlwaysOn"),
    "static": (__name__, "Static"),
    "duty-cycle": (__name__, "DutyCycle"),
    "adaptive": ("sensekit.controller.adaptive", "Adaptive"),
    "budget": (__name__, "Budgeted"),
    "default": ("sensekit.controller.default_policy", "Default"),
    "nav-gps": ("sensekit.controller.nav_gate", "NavGps"),
}
#: The policy a rig runs when its config names none: a static point chosen on tuning
#: recordings (:mod:`sensekit.controller.default_policy`), because on real recordings it
#: dominates the adaptive policy.
DEFAULT_POLICY = "default"
ENTRY_POINTS = "sensekit.policies"


def policy_names() -> list[str]:
    """Every registered policy name."""
    return registry_names(POLICIES, ENTRY_POINTS)


def policy_class(name: str) -> type[RegisteredPolicy]:
    """The class registered as ``name``."""
    cls: type[RegisteredPolicy] = resolve("policy", name, POLICIES, ENTRY_POINTS,
                                          RegisteredPolicy)
    return cls


def _capped(policy: Policy, budget_mw: Any, ctx: PolicyContext) -> Policy:
    if ctx.power_w is None:
        raise ConfigError("[policy] budget_mw needs a power model for the configurations")
    return BudgetCap(policy, float(budget_mw) / 1e3, ctx.power_w, ctx.rates)


def policy_from_config(table: Mapping[str, Any], full: Configuration,
                       rates: Mapping[str, Sequence[float]], *,
                       candidates: Sequence[Configuration] = (),
                       power_w: Callable[[Configuration], float] | None = None,
                       utility: Callable[[Configuration], float] | None = None) -> Policy:
    """Build a policy from a rig config's ``[policy]`` table.

    ``name`` is a registered policy (:func:`policy_names`: ``always-on``, ``static``,
    ``duty-cycle``, ``adaptive``, ``budget``, ``default``); without a name, or without a
    ``[policy]`` table at all, it is :data:`DEFAULT_POLICY` (the shipped static point);
    ``params`` holds the policy's own settings
    (``configuration`` for static as ``{accel = 50.0, ...}``, ``period_s``/``on_s`` for
    duty-cycle, thresholds for adaptive); ``budget_mw`` sets the budget: for ``budget`` it is
    the policy, for any other policy it caps it (:class:`BudgetCap`); ``gps_sigma_m`` (with
    ``gps_max_sleep_s``, default 300) keeps the GPS asleep while the navigation filter's
    position sigma stays under it (:class:`~sensekit.controller.nav_gate.NavGps`).
    """
    ctx = PolicyContext(full, rates, candidates, power_w, utility)
    name = str(table.get("name", DEFAULT_POLICY))
    cls = policy_class(name)
    params = dict(table.get("params", {}))
    if cls is Budgeted and "budget_mw" in table:
        params["budget_mw"] = table["budget_mw"]
    policy = cls.from_params(params, ctx)
    if "gps_sigma_m" in table:  # the GPS sleeps while the navigation filter knows enough
        from .nav_gate import NavGps

        policy = NavGps(policy, float(table["gps_sigma_m"]),
                        float(table.get("gps_max_sleep_s", 300.0)))
    if "budget_mw" in table and not isinstance(policy, Budgeted):
        return _capped(policy, table["budget_mw"], ctx)
    return policy


def policy_from_spec(spec: str, ctx: PolicyContext,
                     params: Mapping[str, Any] | None = None) -> Policy:
    """Build a policy from a command-line spec ``NAME[:ARG]`` (``duty-cycle:10/60``,
    ``adaptive:still_windows=2``, ``static:accel@50+gps@1``, ``budget:100``); ``params`` add
    to or override what the argument says."""
    name, _, arg = spec.partition(":")
    cls = policy_class(name)
    return cls.from_params({**cls.spec_params(arg), **(params or {})}, ctx, name=spec)
