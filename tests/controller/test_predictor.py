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
    with pytest.raises(ConfigError, match="has no task 'transport'"):
        rig_predictor(parse_rig(RIG + '\n[fusion]\ntask = "transport"\n', "rig.toml"))


def test_a_reduced_rate_changes_what_the_network_sees(tmp_path: object) -> None:
    """Replayed at 25 Hz the accelerometer reaches the network as 25 Hz steps through the
    DLPF (not every fourth 100 Hz sample), and in the low-power cycle mode at 5 Hz as single
    measurements (point samples of the recording, no filter)."""
    from pathlib import Path

    import numpy as np

    from sensekit.controller.evaluate import Recording, evaluate_policy
    from sensekit.controller.operating import OperatingPoint
    from sensekit.controller.policies import Static
    from sensekit.controller.predictor import load_predictor
    from sensekit.testing.scenario import ACTIVITIES, SimConfig, simulate

    path = Path(str(tmp_path)) / "day.mcap"
    simulate(path, SimConfig(duration_s=20, seed=2))
    rec = Recording.load(str(path))
    net = load_predictor("default", classes=list(ACTIVITIES))
    fed: dict[str, list[np.ndarray]] = {}
    got: dict[str, list[np.ndarray]] = {}
    inner = net.predict

    for name in ("accel@100", "accel@25", "accel@5:accel_low_power"):
        def predict(window, config, n=name, **kw):  # type: ignore[no-untyped-def]
            fed.setdefault(n, []).append(net.inputs(window, config)["accel"][0])
            got.setdefault(n, []).append(window.data["imu"]["accel_mps2"][window.valid("imu")])
            return inner(window, config, **kw)

        net.predict = predict  # type: ignore[method-assign]
        evaluate_policy(rec, lambda n=name: Static.of(OperatingPoint.parse(n)), net)
    full, quarter = fed["accel@100"][3], fed["accel@25"][3]
    assert full.shape == (3, 200) and quarter.shape == (3, 50)
    # not simply every fourth sample: the DLPF (10 Hz at 25 Hz) smoothed it first
    assert not np.allclose(quarter, full[:, ::4], atol=1e-3)
    assert np.abs(quarter - full[:, ::4]).max() < np.abs(full).max()
    # the cycle mode's 10 measurements a window are recorded samples, not filtered ones
    cycle = got["accel@5:accel_low_power"][3]
    assert len(cycle) == 10
    recorded = {tuple(row) for row in rec.streams["imu"]["accel_mps2"].tolist()}
    assert all(tuple(row) in recorded for row in cycle.tolist())
    assert not all(tuple(row) in recorded for row in got["accel@25"][3].tolist())
