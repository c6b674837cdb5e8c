"""Keep the GPS asleep while the GPS/IMU filter still knows where the device is.

:class:`NavGps` (registered as ``nav-gps``) wraps any policy that duty-cycles or powers down
the GPS. It feeds what the IMU and the GPS deliver through an :class:`~sensekit.orientation.
Ahrs` and a :class:`~sensekit.orientation.GpsImuFilter` (:class:`NavTracker`) and, while the
GPS is off:

- defers the wake-ups the inner policy asks for while the filter's horizontal position sigma
  stays under ``gps_sigma_m`` for at least another window
  (:meth:`~sensekit.orientation.GpsImuFilter.seconds_until`);
- wakes the GPS itself when that time runs out, when a device that was at rest at the last
  fix has moved since (the filter learns speed from fixes only, so its sigma would not be
  honest), or after ``max_sleep_s`` off whatever the filter says, and keeps it on until one
  fix has been fused; then the inner policy decides again.

While the GPS is on it follows the inner policy: an always-on GPS stays on. Without a working
IMU (no gyroscope and accelerometer samples in the last ``stale_s``: the IMU is off, failed or
in an accelerometer-only mode) or before the first fix, the filter's uncertainty means
nothing, and the inner policy's plan passes unchanged: the policy behaves as it does alone.

The filter needs the window's samples: :meth:`NavGps.watch` takes what each stream delivered
(the replay calls it through :meth:`~sensekit.controller.controller.Controller.observe`; a live
loop does the same with the hub's packets). Which modalities are the GPS comes from the
declarations (their part is ``gps``), never from their names.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import ConfigError
from ..fusion.inputs import Configuration
from ..modalities import Modality, registered
from ..packets import Packet
from .policies import Observation, Plan, Policy, PolicyContext, RegisteredPolicy, policy_uses

if TYPE_CHECKING:
    from ..orientation import Ahrs, GpsImuFilter

__all__ = ["GPS_DEVICE", "NavGps", "NavTracker", "gps_modalities", "policy_track",
           "policy_watches", "watch_policy"]

#: Spacing of the position estimates a tracker keeps (for the location error).
TRACK_STEP_NS = 500_000_000
#: The part whose modalities the gate holds asleep (``PowerEntry.device``).
GPS_DEVICE = "gps"


def gps_modalities(decls: Mapping[str, Modality] | None = None) -> frozenset[str]:
    """The modalities the GPS part delivers, from their declarations."""
    table = registered() if decls is None else decls
    return frozenset(m for m, d in table.items()
                     if d.power is not None and d.power.device == GPS_DEVICE)


def _native_rate(modality: str) -> float:
    decl = registered().get(modality)
    return decl.rates_hz[0] if decl is not None else 1.0


def _chain(policy: Policy) -> list[Any]:
    out: list[Any] = []
    seen: Any = policy
    while seen is not None:
        out.append(seen)
        seen = getattr(seen, "inner", None)
    return out


def policy_track(policy: Policy) -> tuple[Any, Any, Any] | None:
    """The position estimates of the navigation filter a composition runs (None: none)."""
    tracker = next((p.tracker for p in _chain(policy)
                    if isinstance(getattr(p, "tracker", None), NavTracker)), None)
    return None if tracker is None else tracker.track()


def policy_watches(policy: Policy) -> bool:
    """Whether any policy in a composition reads the delivered data (``watch``)."""
    return any(callable(getattr(p, "watch", None)) for p in _chain(policy))


def watch_policy(policy: Policy, packets: Mapping[str, Packet]) -> None:
    """Hand a window's delivered packets to every policy in a composition that watches them
    (one with a ``watch`` method, here or under ``inner``)."""
    for p in _chain(policy):
        watch = getattr(p, "watch", None)
        if callable(watch):
            watch(packets)


class NavTracker:
    """An AHRS and a GPS/IMU filter fed window by window with what the sensors delivered.

    Args:
        stale_s: The IMU counts as working while its last sample is at most this old.
        dv_wake_mps: A horizontal speed change (gravity-free acceleration summed over
            ``dv_window_s``) above this since the last fix makes the motion unpredictable.
            2.5 m/s over 4 s was chosen on the simulator's tuning days (seeds 0-4): the only
            rule tried that kept the mean position error under a 25 m budget there
            (orientation/README.md).
        dv_window_s: Time over which that change is summed.
    """

    def __init__(self, stale_s: float = 5.0, dv_wake_mps: float = 2.5,
                 dv_window_s: float = 4.0) -> None:
        from ..orientation import GpsImuFilter

        self.stale_ns = int(stale_s * 1e9)
        self.dv_wake_mps = dv_wake_mps
        self.dv_window_ns = int(dv_window_s * 1e9)
        self._dv: deque[tuple[int, Any]] = deque()
        self.filter: GpsImuFilter = GpsImuFilter()
        self.ahrs: Ahrs | None = None
        self.imu_t_ns: int | None = None
        self.fix_t_ns: int | None = None
        self._last: dict[str, int] = {}
        self._track: list[tuple[Any, Any, Any]] = []
        self._rest = False  # the AHRS's rest decision at the last IMU sample
        self.rest_at_fix = False  # ... when the last fix was fused
        self.moved_since_fix = False  # a sample since that fix was not at rest

    def watch(self, packets: Mapping[str, Packet]) -> None:
        """Take one window's packets: IMU streams (gyroscope and accelerometer) first, then
        the GPS fixes (the filter carries a fix forward to its own time)."""
        imu = [p for p in packets.values() if {"gyro_rads", "accel_mps2"} <= set(p.fields)]
        gps = [p for p in packets.values() if "lat_deg" in p.fields and "mode" in p.fields]
        for packet in imu:
            fresh = self._fresh(packet)
            if fresh is not None:
                self._imu(fresh)
        for packet in gps:
            fresh = self._fresh(packet)
            if fresh is not None:
                self.filter.fuse_gps(fresh)
                if bool(np.any(np.isfinite(np.asarray(fresh["lat_deg"], np.float64)))):
                    self.fix_t_ns = int(fresh.t_ns[-1])
                    self.rest_at_fix, self.moved_since_fix = self._rest, False

    def _fresh(self, packet: Packet) -> Packet | None:
        """The samples after the last one taken from this stream (a replay re-delivers a
        stream's last sample at the start of the next window)."""
        last = self._last.get(packet.stream)
        keep = packet.t_ns > last if last is not None else np.ones(len(packet), bool)
        if not keep.any():
            return None
        self._last[packet.stream] = int(packet.t_ns[-1])
        return packet if keep.all() else packet.select(keep)

    def _imu(self, packet: Packet) -> None:
        from ..orientation import Ahrs

        if self.ahrs is None:
            if len(packet) < 2:
                return
            rate = 1e9 / float(np.median(np.diff(packet.t_ns)))
            self.ahrs = Ahrs(rate)
        orientation = self.ahrs.update(packet)
        nav = self.filter.update(orientation)
        self.imu_t_ns = int(packet.t_ns[-1])
        if nav is not None and len(nav):  # the estimates, about twice a second
            half = nav.t_ns // TRACK_STEP_NS
            keep = np.flatnonzero(np.diff(half, append=half[-1] + 1) != 0)
            self._track.append((nav.t_ns[keep], nav["lat_deg"][keep], nav["lon_deg"][keep]))
        rest = np.asarray(orientation["rest"], bool)
        if len(rest):
            self._rest = bool(rest[-1])
            self.moved_since_fix |= not bool(rest.all()) and self.rest_at_fix
            self.moved_since_fix |= self._speed_change(packet, orientation) > self.dv_wake_mps

    def _speed_change(self, packet: Packet, orientation: Packet) -> float:
        """Horizontal speed change (m/s) over the last ``dv_window_s``: the gravity-free
        acceleration summed. Too drifty to navigate by (a degree of tilt is 0.17 m/s^2), but a
        car moving off or braking shows plainly."""
        acc = np.asarray(orientation["linear_accel_mps2"], np.float64)[:, :2]
        dt = np.diff(packet.t_ns, prepend=packet.t_ns[0]) * 1e-9
        self._dv.append((int(packet.t_ns[-1]), (acc * dt[:, None]).sum(axis=0)))
        while self._dv and self._dv[0][0] < packet.t_ns[-1] - self.dv_window_ns:
            self._dv.popleft()
        return float(np.hypot(*sum((v for _, v in self._dv), np.zeros(2))))

    def track(self) -> tuple[Any, Any, Any]:
        """``(t_ns, lat_deg, lon_deg)`` of the filter's estimates so far (NaN before a fix),
        about twice a second: what the policy knew of the position."""
        if not self._track:
            return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
        return tuple(np.concatenate([part[k] for part in self._track]) for k in range(3))  # type: ignore[return-value]

    def ready(self, t_ns: int) -> bool:
        """The IMU works and a fix has placed the filter: its uncertainty means something."""
        return (self.imu_t_ns is not None and t_ns - self.imu_t_ns <= self.stale_ns
                and math.isfinite(self.filter.horizontal_sigma_m))

    @property
    def predictable(self) -> bool:
        """The motion since the last fix is what the filter assumes: not a device that was
        at rest at the fix and has moved since, nor one whose speed changed by more than
        ``dv_wake_mps`` (the filter learns speed from fixes only, so its sigma would no
        longer be honest)."""
        return not self.moved_since_fix

    def seconds_left(self, sigma_m: float, horizon_s: float) -> float:
        """Seconds until the position sigma passes ``sigma_m`` (see
        :meth:`~sensekit.orientation.GpsImuFilter.seconds_until`)."""
        return self.filter.seconds_until(sigma_m, horizon_s=horizon_s)


@dataclass
class NavGps(RegisteredPolicy):
    """Any policy, with the GPS kept asleep while the navigation filter's position stays
    within ``gps_sigma_m`` (see the module docstring).

    Args:
        inner: The policy that plans everything (and the GPS while it is on).
        gps_sigma_m: Position budget: the horizontal 1-sigma (m) the GPS may sleep under.
        max_sleep_s: Longest the gate keeps the GPS asleep, whatever the filter says.
        gps: The GPS modalities (default: from the declarations).
        tracker: The filter it reads (default: a new :class:`NavTracker`).
    """

    inner: Policy
    gps_sigma_m: float = 25.0
    max_sleep_s: float = 300.0
    name: str = ""
    gps: frozenset[str] = field(default_factory=gps_modalities)
    tracker: NavTracker = field(default_factory=NavTracker)
    spec_help: ClassVar[str] = "nav-gps:SIGMA_M[,max_sleep_s=S],inner=SPEC"

    def __post_init__(self) -> None:
        if not self.gps_sigma_m > 0 or not self.max_sleep_s > 0:
            raise ConfigError(f"nav-gps needs gps_sigma_m > 0 and max_sleep_s > 0, got "
                              f"{self.gps_sigma_m} and {self.max_sleep_s}")
        self.name = self.name or f"{self.inner.name}+nav-gps:{self.gps_sigma_m:g}m"
        self._on = False
        self._off_since: int | None = None
        self._woke: int | None = None
        self._gate_woke = False
        self._last_t: int | None = None
        self._rates: dict[str, float] = {}
        self._waking = False  # this plan's GPS wake-up is the gate's
        self.deferred = 0  # windows in which a wake-up the inner policy asked for was deferred
        self.woken = 0  # wake-ups the gate made that the inner policy did not ask for

    @classmethod
    def from_params(cls, params: Mapping[str, Any], ctx: PolicyContext,
                    name: str = "") -> Policy:
        from .policies import policy_from_config, policy_from_spec

        given = params.get("inner")
        if given is None:
            raise ConfigError("nav-gps needs the policy it wraps: inner = SPEC (or a table "
                              "with name and params)")
        inner = policy_from_spec(given, ctx) if isinstance(given, str) else \
            policy_from_config(given, ctx.full, ctx.rates, candidates=ctx.candidates,
                               power_w=ctx.power_w, utility=ctx.utility)
        return cls(inner, float(params.get("gps_sigma_m", 25.0)),
                   float(params.get("max_sleep_s", 300.0)), name=name)

    @classmethod
    def spec_params(cls, arg: str) -> dict[str, Any]:
        head, sep, inner = arg.partition("inner=")
        out: dict[str, Any] = {"inner": inner} if sep else {}
        for part in (p for p in head.split(",") if p):
            key, eq, value = part.partition("=")
            try:
                if eq and key not in ("gps_sigma_m", "max_sleep_s"):
                    raise ValueError(key)
                out[key if eq else "gps_sigma_m"] = float(value if eq else key)
            except ValueError:
                raise ConfigError(f"nav-gps:{arg}: write nav-gps:SIGMA_M[,max_sleep_s=S],"
                                  "inner=SPEC, e.g. nav-gps:25,inner=static:accel@50+gyro@50"
                                  "+gps@1~10/60") from None
        return out

    @property
    def uses(self) -> frozenset[str] | None:
        """The inner policy's modalities less the GPS: its sleep is bounded by
        ``max_sleep_s``, not by the controller's maximum time off."""
        uses = policy_uses(self.inner)
        return None if uses is None else uses - self.gps

    @property
    def asks_redundant(self) -> bool:
        return bool(getattr(self.inner, "asks_redundant", False))

    def watch(self, packets: Mapping[str, Packet]) -> None:
        """Feed one window's delivered packets to the filter."""
        self.tracker.watch(packets)

    def plan(self, obs: Observation) -> Plan:
        plan = self.inner.plan(obs)
        step_s = 0.0 if self._last_t is None else (obs.t_ns - self._last_t) / 1e9
        self._last_t = obs.t_ns
        wanted = {m: r for m, r in plan.configuration.rates.items() if m in self.gps}
        self._rates.update(wanted)
        if self.tracker.ready(obs.t_ns):
            plan = self._gate(plan, obs, wanted, step_s)
        return self._record(plan, obs.t_ns)

    def _gate(self, plan: Plan, obs: Observation, wanted: dict[str, float],
              step_s: float) -> Plan:
        if self._on:
            fix = self.tracker.fix_t_ns
            waiting = self._gate_woke and (fix is None or self._woke is None or fix <= self._woke)
            if not wanted and waiting:
                return self._with_gps(plan, obs, "nav: GPS on until a fix")
            return plan
        assert self._off_since is not None
        left = self.tracker.seconds_left(self.gps_sigma_m, self.max_sleep_s)
        off_s = (obs.t_ns - self._off_since) / 1e9
        moved = not self.tracker.predictable
        if moved or off_s + step_s > self.max_sleep_s or left <= step_s:
            self.woken += not wanted
            why = "motion changed since the last fix" if moved else "max sleep" if left > step_s \
                else f"position sigma reaches {self.gps_sigma_m:g} m"
            return self._with_gps(plan, obs, f"nav: GPS woken, {why}")
        if wanted:
            self.deferred += 1
            rates = {m: r for m, r in plan.configuration.rates.items() if m not in self.gps}
            return Plan(Configuration(rates), plan.run_network, plan.reason +
                        f"; nav: GPS wake deferred, sigma under {self.gps_sigma_m:g} m "
                        f"for {left:.0f} s", plan.standby)
        return plan

    def _with_gps(self, plan: Plan, obs: Observation, why: str) -> Plan:
        usable = sorted(m for m in self.gps if m in obs.available)
        # the rates the inner policy last ran it at, else the first one's native rate
        rates = {m: self._rates[m] for m in usable if m in self._rates} or \
            {m: _native_rate(m) for m in usable[:1]}
        self._waking = True
        return Plan(Configuration({**plan.configuration.rates, **rates}), plan.run_network,
                    f"{plan.reason}; {why}", plan.standby)

    def _record(self, plan: Plan, t_ns: int) -> Plan:
        on = any(m in self.gps for m in plan.configuration.rates)
        if on and not self._on:
            self._woke, self._gate_woke = t_ns, self._waking
        elif not on and (self._on or self._off_since is None):
            self._off_since = t_ns
        if not on:
            self._gate_woke = False
        self._on, self._waking = on, False
        return plan
