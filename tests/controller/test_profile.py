from __future__ import annotations

import json
from pathlib import Path

import pytest

from sensekit.controller.policies import Observation
from sensekit.controller.profile import load_profile
from sensekit.errors import ConfigError
from sensekit.fusion.inputs import Configuration


def row(policy: str, f1: float | None, sensor_j: float) -> dict[str, object]:
    return {"policy": policy, "macro_f1": f1, "sensor_j": sensor_j, "compute_j": 0.1}


def test_the_base_set_is_the_cheapest_configuration_near_the_best(tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps([
        row("always-on", 0.99, 600.0),
        row("static:accel@100+audio@50+camera@32+gps@1+gyro@100+light@1", 0.99, 600.0),
        row("static:gps@1+gyro@100", 0.985, 150.0),
        row("static:gyro@100+light@1", 0.975, 50.0),
        row("static:accel@100", 0.4, 10.0),
    ]))
    profile = load_profile(path)
    assert profile.base(0.01).configuration == Configuration({"gps": 1.0, "gyro": 100.0})
    assert profile.base(0.02).configuration == Configuration({"gyro": 100.0, "light": 1.0})
    assert profile.utility(Configuration({"accel": 100.0})) == 0.4
    assert profile.utility(Configuration({"light": 1.0})) == 0.0  # not profiled
    # nothing measured added a point to that base, so doubt wakes nothing more
    assert profile.helpful(profile.base(0.01)) == ()


def test_doubt_wakes_only_sensors_that_added_a_point_to_the_base(tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps([
        row("static:accel@100+audio@50+gps@1", 0.95, 400.0),
        row("static:accel@100+camera@32+gps@1", 0.935, 200.0),
        row("static:accel@50+gps@1+light@1", 0.99, 100.0),  # another accelerometer rate
        row("static:accel@100+audio@50+camera@32+gps@1", 0.96, 500.0),  # two sensors more
        row("static:accel@100+gps@1", 0.93, 150.0),
    ]))
    profile = load_profile(path)
    base = Configuration({"accel": 100.0, "gps": 1.0})
    assert profile.helpful(base) == ("audio",)
    assert profile.helpful(base, gain=0.001) == ("audio", "camera")
    assert profile.helpful(Configuration({"light": 1.0})) == ()  # not profiled


def test_a_profile_without_static_results_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps([row("always-on", 0.99, 600.0)]))
    with pytest.raises(ConfigError, match=r"no static configurations.*--pareto"):
        load_profile(path)
    with pytest.raises(ConfigError, match="cannot read profile"):
        load_profile(tmp_path / "missing.json")


def test_the_adaptive_policy_takes_its_base_and_optional_sets_from_a_profile(
        tmp_path: Path) -> None:
    from argparse import Namespace

    from sensekit.controller.cli import prepare
    from sensekit.controller.evaluate import Recording
    from sensekit.testing.scenario import SimConfig, simulate

    day = tmp_path / "day.mcap"
    simulate(day, SimConfig(duration_s=10, seed=1))
    rec = Recording.load(str(day))
    path = tmp_path / "profile.json"
    path.write_text(json.dumps([
        row("static:accel@100+camera@32+gps@1+gyro@100", 0.96, 300.0),
        row("static:accel@100+audio@50+gps@1+gyro@100", 0.951, 500.0),
        row("static:accel@100+gps@1+gyro@100", 0.95, 150.0),
        row("static:accel@5:accel_low_power+gps@1", 0.952, 100.0),
        row("static:accel@100", 0.5, 10.0),
    ]))

    def setup(profile: str | None) -> object:
        args = Namespace(model="default", platform="pi4", task="activity", tables=None,
                         table=[], profile=profile, window_s=None, policy=[], pareto=False,
                         battery_wh=10.0, max_off_s=60.0)
        return prepare(args, [rec])

    profiled, plain = setup(str(path)), setup(None)
    policy = profiled.policy("adaptive", rec)  # type: ignore[attr-defined]
    assert policy.base == ("accel", "gps")  # the cheapest within a point: cycle mode
    assert policy.base_point.name() == "accel@5:accel_low_power+gps@1"
    assert policy.uses == {"accel", "gps"}  # nothing added a point to that base
    first = policy.plan(Observation(0, {}, 0.95, "still", frozenset(policy.full.modalities)))
    assert first.configuration.rates == {"accel": 5.0, "gps": 1.0}
    assert first.standby["accel"] == "accel_low_power"
    assert plain.policy("adaptive:optional=none", rec).uses == {  # type: ignore[attr-defined]
        "accel", "gyro", "light", "gps"}
    own = profiled.policy("adaptive:optional=audio/camera", rec)  # type: ignore[attr-defined]
    assert own.uses == {"accel", "gps", "audio", "camera"}
