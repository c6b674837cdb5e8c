from __future__ import annotations

import numpy as np
import pytest

from sensekit.align import StreamSpec, align
from sensekit.controller.adaptive import Adaptive
from sensekit.controller.policies import (
    Budgeted,
    DutyCycle,
    Observation,
    Static,
    policy_from_config,
)
from sensekit.controller.scores import score, score_window
from sensekit.errors import ConfigError
from sensekit.fusion.inputs import Configuration, configurations, sensor_modalities

MODS = sensor_modalities()
RATES = {m: spec.rates_hz for m, spec in MODS.items()}
FULL = Configuration({m: spec.native for m, spec in MODS.items()})
ALL = frozenset(MODS)


def obs(t_s: float, confidence: float | None = 0.95, **scores: float) -> Observation:
    return Observation(int(t_s * 1e9), scores, confidence, "walking", ALL)


def test_static_and_always_on_keep_their_configuration_and_skip_failed_sensors() -> None:
    p = Static(FULL, name="always-on")
    assert p.plan(obs(0)).configuration == FULL
    broken = Observation(0, {}, None, None, ALL - {"gps"})
    assert p.plan(broken).configuration.modalities == ALL - {"gps"}


def test_duty_cycle_switches_at_the_stated_phase() -> None:
    p = DutyCycle(FULL, period_s=10, on_s=2)
    assert p.plan(obs(20.5)).configuration == FULL
    off = p.plan(obs(23.0))
    assert off.configuration.rates == {} and not off.run_network
    with pytest.raises(ConfigError, match="on_s"):
        DutyCycle(FULL, period_s=1, on_s=2)


def test_adaptive_idles_on_the_imu_when_still_and_sure_and_wakes_on_motion() -> None:
    p = Adaptive(FULL, RATES, still_windows=3)
    plans = [p.plan(obs(t, accel=0.05)) for t in range(4)]
    # idle from the plan made after three still windows
    assert [pl.run_network for pl in plans] == [True, True, False, False]
    assert plans[-1].configuration.rates == {}
    # each declared standby mode, by modality (the controller finds their streams)
    assert plans[-1].standby == {"accel": "wake_on_motion", "gyro": "wake_on_motion",
                                 "gps": "power_save"}
    # in standby the IMU delivers no samples: no score keeps it idle
    assert not p.plan(Observation(int(4e9), {}, 0.95, "still", ALL)).run_network
    moving = p.plan(obs(4, accel=0.8))
    assert moving.run_network and moving.configuration.rates["accel"] == max(RATES["accel"])
    assert moving.configuration.rates["gyro"] == max(RATES["gyro"])  # motion changed: gyro on


COST = {"audio": 0.2, "gps": 0.096, "camera": 0.06, "gyro": 0.011, "light": 0.0005}


def test_adaptive_brings_everything_back_when_unsure() -> None:
    p = Adaptive(FULL, RATES, cost=COST)
    for t in range(3):
        p.plan(obs(t, accel=0.5))  # sure: turns modalities down one by one
    assert p.plan(obs(3, accel=0.5)).configuration != FULL
    plan = p.plan(obs(4, confidence=0.3, accel=0.5))
    assert plan.configuration == FULL and "unsure" in plan.reason


def test_adaptive_turns_down_the_costliest_redundant_modality_first() -> None:
    p = Adaptive(FULL, RATES, cost=COST)
    on = []
    for t in range(6):
        plan = p.plan(Observation(int(t * 2e9), {"accel": 0.5}, 0.95, "walking", ALL,
                                  redundant=frozenset({"audio", "camera", "light"})))
        on.append(plan.configuration.modalities)
    # audio (0.2 W) goes first, then the camera; light is redundant too but part of the base
    # set, and GPS mattered
    assert [sorted(ALL - m) for m in on[:3]] == [["audio"], ["audio", "camera"],
                                                 ["audio", "camera"]]
    assert on[-1] == {"gps", "gyro", "accel", "light"}


def test_adaptive_keeps_watching_a_changing_scene() -> None:
    p = Adaptive(FULL, RATES, cost=COST)
    for t in range(5):
        plan = p.plan(obs(t, accel=0.5, camera=0.95, audio=0.95))
    # the camera sees change; audio is merely loud
    assert "camera" in plan.configuration.modalities
    assert "audio" not in plan.configuration.modalities


def test_a_change_point_brings_every_sensor_back_at_full_rate() -> None:
    p = Adaptive(FULL, RATES, cost=COST, rate_follows_motion=True)
    for t in range(4):
        p.plan(obs(t, accel=0.3))
    calm = p.plan(obs(4, accel=0.3))
    assert calm.configuration != FULL and calm.configuration.rates["accel"] == 50.0
    assert calm.standby == {"gps": "power_save"}  # calm: the GPS in its economy mode
    jump = p.plan(obs(5, accel=0.9))
    assert jump.configuration == FULL and "change point" in jump.reason
    assert jump.standby == {}


def test_doubt_can_bring_sensors_back_cheapest_first() -> None:
    p = Adaptive(FULL, RATES, cost=COST, escalate_all=False)
    for t in range(4):
        p.plan(obs(t, accel=0.5))  # sure: audio, then the camera, turned down
    unsure = [p.plan(obs(t, confidence=0.5, accel=0.5)).reason for t in range(4, 7)]
    assert unsure == ["unsure: camera on", "unsure: audio on", "unsure: all on"]


def test_doubt_brings_back_only_the_optional_modalities() -> None:
    p = Adaptive(FULL, RATES, cost=COST, optional=("camera",))
    plans = [p.plan(obs(t, accel=0.5)) for t in range(3)]
    assert all("audio" not in pl.configuration.modalities for pl in plans)
    unsure = p.plan(obs(3, confidence=0.3, accel=0.5))
    assert unsure.configuration.modalities == FULL.modalities - {"audio"}
    jump = p.plan(obs(4, accel=1.0))
    assert "audio" not in jump.configuration.modalities and "change point" in jump.reason
    nothing = Adaptive(FULL, RATES, cost=COST, optional=())
    assert nothing.plan(obs(0, confidence=0.3, accel=0.5)).configuration.modalities == {
        "accel", "gyro", "light", "gps"}
    assert nothing.uses == {"accel", "gyro", "light", "gps"}


def test_budget_picks_the_best_that_fits_and_replans() -> None:
    cands = configurations(MODS, every_rate=False)
    watts = {"accel": 0.0017, "gyro": 0.012, "audio": 0.1, "camera": 0.6, "gps": 0.09,
             "light": 0.0005}

    def power(c: Configuration) -> float:
        return sum(watts[m] * (r / MODS[m].native) for m, r in c.rates.items())

    def utility(c: Configuration) -> float:
        return len(c.modalities) + 0.1 * sum(r / MODS[m].native for m, r in c.rates.items())

    p = Budgeted(0.2, cands, power, utility)
    small = p.plan(obs(0)).configuration
    assert power(small) <= 0.2 and "camera" not in small.modalities
    p.set_budget(1.0)
    assert p.plan(obs(1)).configuration == FULL
    p.set_budget(0.001)
    assert p.plan(obs(2)).configuration.rates == {"light": 1.0}
    p.set_budget(0.0001)
    tiny = p.plan(obs(3))
    assert "cheapest" in tiny.reason and tiny.configuration.rates == {"light": 1.0}


def test_policy_from_config_names_unknown_things() -> None:
    assert policy_from_config({"name": "always-on"}, FULL, RATES).plan(obs(0)).configuration \
        == FULL
    with pytest.raises(ConfigError, match="unknown policy 'smart'"):
        policy_from_config({"name": "smart"}, FULL, RATES)
    with pytest.raises(ConfigError, match="still_scor"):
        policy_from_config({"name": "adaptive", "params": {"still_scor": 1}}, FULL, RATES)
    adaptive = policy_from_config({"name": "adaptive", "params": {"still_windows": 1}}, FULL,
                                  RATES)
    assert isinstance(adaptive, Adaptive) and adaptive.still_windows == 1


def _window(accel: np.ndarray, lux: np.ndarray) -> object:
    n = len(accel)
    t = np.arange(n, dtype=np.int64) * 10_000_000
    tl = np.arange(len(lux), dtype=np.int64) * 1_000_000_000
    windows = align({"imu": (t, {"accel_mps2": accel.astype(np.float32)}),
                     "light": (tl, {"lux": lux.astype(np.float32)})},
                    {"imu": StreamSpec(100.0), "light": StreamSpec(1.0)}, window_s=2.0, hop_s=2.0)
    return windows[0]


def test_scores_tell_rest_from_walking_and_a_light_change() -> None:
    rng = np.random.default_rng(0)
    g = np.array([0.0, 0.0, 9.81])
    rest = g + rng.normal(0, 0.02, (200, 3))
    t = np.arange(200) / 100
    walk = g + np.outer(np.sin(2 * np.pi * 2 * t), [0.0, 0.0, 3.0]) + rng.normal(0, 0.05, (200, 3))
    w_rest = _window(rest, np.array([300.0, 300.0]))
    w_walk = _window(walk, np.array([300.0, 20000.0]))
    assert score(w_rest, "accel") < 0.15 < 0.6 < score(w_walk, "accel")  # type: ignore[operator,arg-type]
    assert score(w_rest, "light") == 0.0  # type: ignore[arg-type]
    assert score(w_walk, "light") > 0.7  # type: ignore[arg-type,operator]
    # scores are per declared modality: the gyroscope declares none, light and motion do
    assert set(score_window(w_walk)) == {"accel", "light"}  # type: ignore[arg-type]


def test_budget_cap_composes_with_any_policy() -> None:
    from sensekit.controller.energy import configuration_power_w
    from sensekit.controller.policies import BudgetCap

    def power(c: Configuration) -> float:
        return configuration_power_w(c)

    capped = BudgetCap(Static(FULL, name="always-on"), 0.1, power, RATES)
    plan = capped.plan(obs(0))
    assert power(plan.configuration) <= 0.1 < power(FULL)
    assert "accel" in plan.configuration.modalities and "over 100 mW" in plan.reason
    generous = BudgetCap(Static(FULL), 10.0, power, RATES).plan(obs(0))
    assert generous.configuration == FULL
    table = {"name": "adaptive", "budget_mw": 50}
    composed = policy_from_config(table, FULL, RATES, power_w=power)
    assert isinstance(composed, BudgetCap) and isinstance(composed.inner, Adaptive)
    assert power(composed.plan(obs(0, confidence=0.2)).configuration) <= 0.05


def test_policies_come_from_the_rig_config_file(tmp_path: object) -> None:
    from sensekit.config import parse_rig
    from sensekit.controller.energy import configuration_power_w
    from sensekit.controller.policies import BudgetCap

    rig = parse_rig("""
[devices.imu]
driver = "mpu6050"
url = "emu://"

[policy]
name = "adaptive"
budget_mw = 80
params = { still_windows = 2, unsure = 0.75 }
""", "rig.toml")
    policy = policy_from_config(rig.policy, FULL, RATES,
                                power_w=lambda c: configuration_power_w(c))
    assert isinstance(policy, BudgetCap) and isinstance(policy.inner, Adaptive)
    assert policy.inner.still_windows == 2 and policy.inner.unsure == 0.75
    assert policy.budget_w == pytest.approx(0.08)


def test_policies_are_built_by_registered_name_from_a_command_line_spec() -> None:
    from sensekit.controller.policies import PolicyContext, policy_from_spec, policy_names

    assert {"always-on", "static", "duty-cycle", "adaptive", "budget"} <= set(policy_names())
    ctx = PolicyContext(FULL, RATES)
    duty = policy_from_spec("duty-cycle:10/60", ctx)
    assert isinstance(duty, DutyCycle) and (duty.on_s, duty.period_s) == (10.0, 60.0)
    assert duty.name == "duty-cycle:10/60"
    static = policy_from_spec("static:accel@50+gps@1", ctx)
    assert static.plan(obs(0)).configuration.rates == {"accel": 50.0, "gps": 1.0}
    adaptive = policy_from_spec("adaptive:still_windows=2,base=accel/gps", ctx)
    assert isinstance(adaptive, Adaptive) and adaptive.base == ("accel", "gps")
    with pytest.raises(ConfigError, match="unknown policy 'adaptiv'; did you mean adaptive"):
        policy_from_spec("adaptiv", ctx)
    with pytest.raises(ConfigError, match="duty-cycle:ON/PERIOD"):
        policy_from_spec("duty-cycle:often", ctx)
    with pytest.raises(ConfigError, match="always-on takes no argument"):
        policy_from_spec("always-on:fast", ctx)


def test_adaptive_defaults_come_from_the_declarations() -> None:
    p = Adaptive(FULL, RATES)
    assert p.anchor == "accel"  # the modality whose score is the motion score
    assert set(p.base or ()) == {"accel", "gyro", "gps", "light"}  # declared keep_on
    assert set(p.keep_changing or ()) == {"light", "camera"}  # change scores
    assert p.economy == {"gps": "power_save"}
