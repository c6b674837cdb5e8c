"""The shipped default policy is the static point chosen on the tuning recordings, and a rig
that names no policy runs it, end to end on a replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sensekit.cli import main
from sensekit.config import parse_rig
from sensekit.controller.adaptive import Adaptive
from sensekit.controller.default_policy import SHIPPED, Default
from sensekit.controller.policies import (
    DEFAULT_POLICY,
    Observation,
    PolicyContext,
    Static,
    policy_from_config,
    policy_from_spec,
)
from sensekit.errors import ConfigError
from sensekit.fusion.inputs import Configuration
from sensekit.testing.scenario import SimConfig, simulate

FULL = Configuration({"accel": 100.0, "gyro": 100.0, "mag": 100.0, "audio": 50.0,
                      "camera": 32.0, "gps": 1.0})
RATES = {m: (r,) for m, r in FULL.rates.items()}

RIG = """
[devices.imu]
driver = "mpu6050"
url = "emu://"
"""


def test_a_rig_that_names_no_policy_runs_the_shipped_static_point() -> None:
    for text in (RIG, RIG + '[policy]\nname = "default"\n', RIG + "[policy]\n"):
        policy = policy_from_config(parse_rig(text, "rig.toml").policy, FULL, RATES)
        assert DEFAULT_POLICY == "default"
        assert isinstance(policy, Default) and isinstance(policy, Static)
        assert not isinstance(policy, Adaptive)
        assert policy.point == SHIPPED.operating_point()
        assert policy.point.name() == "accel@20:accel_low_power+mag@2"
    plan = policy.plan(Observation(0, available=FULL.modalities))
    # the camera, microphone, GPS and gyroscope stay asleep; the accelerometer runs in its
    # low-power cycle mode
    assert plan.configuration.rates == {"accel": 20.0, "mag": 2.0}
    assert plan.standby == {"accel": "accel_low_power"} and plan.run_network
    # the adaptive policy is still there by name
    named = policy_from_config({"name": "adaptive"}, FULL, RATES)
    assert isinstance(named, Adaptive)


def test_the_default_point_is_what_the_rig_has_of_it_and_takes_no_arguments() -> None:
    no_mag = Configuration({"accel": 100.0, "gps": 1.0})
    policy = policy_from_spec("default", PolicyContext(no_mag, RATES))
    plan = policy.plan(Observation(0, available=no_mag.modalities))
    assert plan.configuration.rates == {"accel": 20.0}
    with pytest.raises(ConfigError, match="this rig has \\['gps'\\]"):
        policy_from_spec("default", PolicyContext(Configuration({"gps": 1.0}), RATES))
    with pytest.raises(ConfigError, match="static:accel@50"):
        policy_from_spec("default:accel@50", PolicyContext(FULL, RATES))
    with pytest.raises(ConfigError, match="takes no params"):
        policy_from_config({"name": "default", "params": {"still_windows": 2}}, FULL, RATES)


def test_evaluate_policy_replays_the_default_beside_always_on_and_adaptive(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime")
    day = tmp_path / "day.mcap"
    simulate(day, SimConfig(duration_s=20, seed=5))
    assert main(["evaluate-policy", str(day), "--json"]) == 0
    rows = {r["policy"]: r for r in json.loads(capsys.readouterr().out)}
    assert list(rows) == ["always-on", "default", "adaptive"]
    default, always = rows["default"], rows["always-on"]
    assert default["windows_processed"] == 1.0
    # the camera, microphone, GPS, gyroscope and light sensor asleep: a fraction of the joules
    assert 0 < default["sensor_j"] < always["sensor_j"] / 5
