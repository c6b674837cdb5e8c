"""The GPS kept asleep by the navigation filter (``nav-gps``), replayed on synthetic days."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from stand_in_net import MotionThreshold

from sensekit.controller.evaluate import Recording, evaluate_policy, replay_policy
from sensekit.controller.nav_gate import NavGps
from sensekit.controller.operating import OperatingPoint
from sensekit.controller.policies import (
    Observation,
    Plan,
    PolicyContext,
    Static,
    policy_from_config,
    policy_from_spec,
)
from sensekit.errors import ConfigError
from sensekit.fusion.inputs import Configuration
from sensekit.packets import Packet

G = 9.80665
DUTY = "accel@50+gyro@50+gps@1~10/60"  # the GPS on 10 s of every minute, the IMU always
IMU_ONLY_ACCEL = "accel@50+gps@1~10/60"  # no gyroscope: no orientation, no filter
DAY_S = 600.0


def _imu(duration_s: float, rate: float = 50.0, accel_north: Callable[[Any], Any] | None = None,
         seed: int = 0) -> Packet:
    """A device lying flat (z up), with sensor noise; ``accel_north(t)`` adds a horizontal
    acceleration along its y axis."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, duration_s, 1.0 / rate)
    acc = np.zeros((len(t), 3))
    acc[:, 2] = G
    if accel_north is not None:
        acc[:, 1] = accel_north(t)
    acc += rng.normal(0, 0.02, acc.shape)
    gyr = rng.normal(0, 0.002, (len(t), 3))
    return Packet("imu", (t * 1e9).astype(np.int64), {
        "accel_mps2": acc.astype(np.float32), "gyro_rads": gyr.astype(np.float32)}, "imu")


def _gps(duration_s: float, north_m: Callable[[Any], Any], speed: Callable[[Any], Any],
         seed: int = 1) -> Packet:
    """A fix a second from the start, 2 m of noise, HDOP 1."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, duration_s, 1.0)
    n = len(t)
    north = north_m(t) + rng.normal(0, 2.0, n)
    east = rng.normal(0, 2.0, n)
    return Packet("gps", (t * 1e9).astype(np.int64), {
        "lat_deg": 51.0 + np.degrees(north / 6_371_008.8),
        "lon_deg": -1.0 + np.degrees(east / (6_371_008.8 * np.cos(np.radians(51.0)))),
        "speed_mps": np.asarray(speed(t), np.float32), "track_deg": np.zeros(n, np.float32),
        "hdop": np.ones(n, np.float32), "sats_used": np.full(n, 9, np.int16),
        "mode": np.full(n, 3, np.int8)}, "gps")


def _still_day(imu: bool = True) -> Recording:
    streams = {"gps": _gps(DAY_S, lambda t: 0 * t, lambda t: 0 * t)}
    if imu:
        streams["imu"] = _imu(DAY_S)
    return Recording.from_streams("still", streams, [])


def _moves_off_day() -> Recording:
    """Still for 100 s, then 2 m/s^2 northwards for 4 s and on at 8 m/s (a car moving off)."""
    def speed(t: Any) -> Any:
        return np.clip((t - 100.0) * 2.0, 0.0, 8.0)

    def north(t: Any) -> Any:
        return np.where(t < 104, np.clip(t - 100, 0, None) ** 2, 16 + 8 * (t - 104))

    imu = _imu(200.0, accel_north=lambda t: np.where((t >= 100) & (t < 104), 2.0, 0.0))
    return Recording.from_streams("moves-off", {"gps": _gps(200.0, north, speed), "imu": imu}, [])


def _gps_on_windows(rec: Recording, make: Callable[[], Any]) -> tuple[list[bool], Any]:
    policy = make()
    sigmas: list[float] = []
    plan = policy.plan

    def traced(obs: Observation) -> Plan:
        sigmas.append(policy.tracker.filter.horizontal_sigma_m
                      if isinstance(policy, NavGps) else float("nan"))
        return plan(obs)

    policy.plan = traced
    _, r = replay_policy(rec, policy, MotionThreshold(), window_s=2.0)
    on = [d for d in r.controller.decisions if d.stream == "gps" and d.setting == "power"]
    return [d.new == "awake" for d in on], (policy, sigmas, r)


def _static(spec: str) -> Static:
    return Static.of(OperatingPoint.parse(spec))


def test_a_still_device_keeps_its_gps_asleep_longer_and_under_the_budget() -> None:
    rec = _still_day()
    alone = evaluate_policy(rec, lambda: _static(DUTY), MotionThreshold())
    gated = evaluate_policy(rec, lambda: NavGps(_static(DUTY), 15.0, 300.0), MotionThreshold())
    # the duty cycle wakes the GPS ten times in 600 s; the filter, sure of a still device,
    # far fewer: less GPS energy for a position that stays within its budget
    assert gated.sensor_j_by_part["gps"] < 0.6 * alone.sensor_j_by_part["gps"]
    assert gated.location_error_m < 15.0
    wakes, (policy, sigmas, _) = _gps_on_windows(rec, lambda: NavGps(_static(DUTY), 15.0,
                                                                        300.0))
    assert policy.deferred > 0 and 1 < sum(wakes) < 10
    # every window planned with the GPS off had the position sigma under the budget
    assert max(s for s in sigmas if np.isfinite(s)) < 15.0


def test_a_tight_budget_wakes_the_gps_before_the_uncertainty_passes_it() -> None:
    rec = _still_day()
    _, (policy, sigmas, r) = _gps_on_windows(rec, lambda: NavGps(_static(DUTY), 4.0,
                                                                        300.0))
    reasons = [d.reason for d in r.controller.decisions if d.stream == "gps" and d.new == "awake"]
    assert any("position sigma reaches 4 m" in why for why in reasons)
    assert policy.woken > 0
    assert max(s for s in sigmas if np.isfinite(s)) < 4.0


def test_without_a_gyroscope_the_policy_behaves_as_it_does_alone() -> None:
    for rec, spec in ((_still_day(imu=False), DUTY), (_still_day(), IMU_ONLY_ACCEL)):
        alone = evaluate_policy(rec, lambda s=spec: _static(s), MotionThreshold())
        gated = evaluate_policy(rec, lambda s=spec: NavGps(_static(s), 15.0, 300.0),
                                MotionThreshold())
        assert gated.sensor_j_by_part == pytest.approx(alone.sensor_j_by_part)
        assert gated.decisions == alone.decisions
        assert gated.location_error_m == pytest.approx(alone.location_error_m)


def test_a_device_that_moves_off_wakes_its_gps() -> None:
    rec = _moves_off_day()
    _, (_, _, r) = _gps_on_windows(rec, lambda: NavGps(_static(DUTY), 50.0, 300.0))
    woken = [d for d in r.controller.decisions if d.stream == "gps" and d.new == "awake"
             and "motion changed" in d.reason]
    assert woken and 100e9 <= woken[0].t_ns <= 110e9


def test_an_always_on_gps_stays_on() -> None:
    rec = _still_day()
    point = "accel@50+gyro@50+gps@1"
    wakes, (policy, _, _) = _gps_on_windows(rec, lambda: NavGps(_static(point), 15.0, 300.0))
    assert wakes == [True] and policy.deferred == 0


def test_nav_gps_is_built_by_name_from_a_spec_and_from_a_rig_config() -> None:
    full = Configuration({"accel": 50.0, "gyro": 50.0, "gps": 1.0})
    ctx = PolicyContext(full, {"accel": (50.0,), "gyro": (50.0,), "gps": (1.0,)})
    policy = policy_from_spec(f"nav-gps:20,max_sleep_s=120,inner=static:{DUTY}", ctx)
    assert isinstance(policy, NavGps) and policy.gps_sigma_m == 20.0
    assert policy.max_sleep_s == 120.0 and isinstance(policy.inner, Static)
    assert policy.uses == {"accel", "gyro"}  # its GPS sleep is its own, not max-off's
    wrapped = policy_from_config({"name": "static", "params": {"configuration": DUTY},
                                  "gps_sigma_m": 30}, full, ctx.rates)
    assert isinstance(wrapped, NavGps) and wrapped.gps_sigma_m == 30.0
    with pytest.raises(ConfigError, match="inner"):
        policy_from_spec("nav-gps:20", ctx)
    for bad in ("nav-gps:lots,inner=always-on", "nav-gps:sigma=25,inner=always-on"):
        with pytest.raises(ConfigError, match="nav-gps"):
            policy_from_spec(bad, ctx)


def test_the_location_error_takes_the_filters_position_between_delivered_fixes() -> None:
    from sensekit.controller.location import location_error_m

    t = np.arange(0, 60, 1.0)
    truth = _gps(60.0, lambda s: 1.5 * s, lambda s: 1.5 + 0 * s)  # walking north, 2 m noise
    delivered = [truth.select(np.isin(t, [0, 30]))]
    windows = list((np.arange(0, 60, 2.0) * 1e9).astype(np.int64))
    held = location_error_m(truth, delivered, windows, [False] * 30, 2.0)
    # a filter that knew the recorded positions exactly, a few ms before each fix
    track = (truth.t_ns - 5_000_000, truth["lat_deg"], truth["lon_deg"])
    tracked = location_error_m(truth, delivered, windows, [False] * 30, 2.0, track)
    assert held > 10 and tracked < 1e-6
    # an estimate more than a second old is not used
    stale = (truth.t_ns[:1] - 2_000_000_000, truth["lat_deg"][:1] + 1.0, truth["lon_deg"][:1])
    assert location_error_m(truth, delivered, windows, [False] * 30, 2.0, stale) == \
        pytest.approx(held)
