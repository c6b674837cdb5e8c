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
    net = load_predictor("sim_har", classes=list(ACTIVITIES))  # takes the raw series
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


class ContextNet:
    """A stand-in context network: remembers what it was asked, answers still/walking by the
    accelerometer's spread and counts the windows of context it was given."""

    window_s = 2.0

    def __init__(self) -> None:
        from sensekit.modalities import get

        self.modalities = {"accel": get("accel").input}
        self.tasks = {"activity": ["still", "walking", "running", "cycling", "vehicle"]}
        self.at: list[tuple[int, bool]] = []
        self.sequences: list[list[int]] = []
        self.resets = 0

    def _probs(self, x: object) -> object:
        import numpy as np

        spread = np.asarray(x).std(axis=-1).mean(axis=-1)
        walking = (spread > 0.3).astype(float)
        return np.stack([1 - walking, walking, *[np.zeros_like(walking)] * 3], axis=1) * 0.9 \
            + 0.02

    def predict(self, inputs: dict, present: object = None) -> dict:  # type: ignore[type-arg]
        return {"activity": self._probs(inputs["accel"])}

    def predict_at(self, inputs: dict, t_ns: int, present: object = None, *,  # type: ignore[type-arg]
                   commit: bool = True) -> dict:  # type: ignore[type-arg]
        self.at.append((t_ns, commit))
        return self.predict(inputs)

    def predict_sequence(self, inputs: dict, index: object, groups: object = None,  # type: ignore[type-arg]
                         present: object = None) -> dict:  # type: ignore[type-arg]
        self.sequences.append(list(index))  # type: ignore[call-overload]
        return self.predict(inputs)

    def reset(self) -> None:
        self.resets += 1


def test_a_context_network_is_fed_window_by_window_and_a_static_recording_as_a_sequence(
        tmp_path: object) -> None:
    from pathlib import Path

    from sensekit.controller.adaptive import Adaptive
    from sensekit.controller.evaluate import Recording, evaluate_policy
    from sensekit.controller.front import static_results
    from sensekit.controller.operating import OperatingPoint
    from sensekit.controller.policies import Static
    from sensekit.controller.predictor import FusionPredictor
    from sensekit.fusion.inputs import Configuration
    from sensekit.modalities import registered
    from sensekit.testing.scenario import ACTIVITIES, SimConfig, simulate

    path = Path(str(tmp_path)) / "day.mcap"
    simulate(path, SimConfig(duration_s=30, seed=3))
    rec = Recording.load(str(path))
    net = ContextNet()
    predictor = FusionPredictor(net, "activity", classes=list(ACTIVITIES))
    assert predictor.window_s == 2.0
    evaluate_policy(rec, lambda: Static.of(OperatingPoint.parse("accel@100")), predictor)
    committed = [t for t, commit in net.at if commit]
    assert net.resets == 1 and len(committed) == 14  # one per window, in order
    assert committed == sorted(committed) and len(set(committed)) == len(committed)
    assert all(not c for _, c in net.at[:5])  # the latency was measured without remembering
    net.at.clear()
    full = Configuration({"accel": 100.0, "gyro": 100.0})
    evaluate_policy(rec, lambda: Adaptive(full, {"accel": (100.0,), "gyro": (100.0,)},
                                          modalities={m: registered()[m] for m in full.rates}),
                    predictor)
    again = [t for t, commit in net.at if commit]
    assert net.resets == 2 and again == sorted(again) and len(set(again)) == len(again)
    rows = static_results(rec, [OperatingPoint.parse("accel@100")], predictor,
                          decls=registered(), window_s=2.0)
    assert net.sequences and net.sequences[-1] == list(range(14))
    assert rows[0].windows_processed == 1.0

