"""The network the controller runs: ``default`` unless the rig config names another."""

from __future__ import annotations

import pytest

from sensekit.config import parse_rig
from sensekit.errors import ConfigError

pytest.importorskip("onnxruntime")

RIG = """
[devices.imu]
driver = "mpu6050"
url = "emu://"
"""


def test_the_controller_runs_the_default_network_unless_the_rig_names_one() -> None:
    from sensekit.controller.predictor import rig_predictor
    from sensekit.fusion.shipped import ALIASES

    plain = parse_rig(RIG, "rig.toml")
    assert plain.weights == "default"
    net = rig_predictor(plain)
    assert net.net.path.name == f"{ALIASES['default']}.onnx.json" and net.task == "activity"
    named = parse_rig(RIG + '\n[fusion]\nweights = "sim_har"\ntask = "locomotion"\n', "rig.toml")
    net = rig_predictor(named)
    assert named.weights == "sim_har" and net.task == "locomotion"
    assert net.classes == ["none", "foot", "bicycle", "motor"]
    with pytest.raises(ConfigError, match=r"rig.toml:7: unknown key 'weigths' in \[fusion\]"):
        parse_rig(RIG + '\n[fusion]\nweigths = "x"\n', "rig.toml")
    with pytest.raises(ConfigError, match="has no task 'indoor_outdoor'"):
        rig_predictor(parse_rig(RIG + '\n[fusion]\ntask = "indoor_outdoor"\n', "rig.toml"))
