"""The static front evaluated cheaply equals the same points replayed window by window."""

from __future__ import annotations

import numpy as np
import pytest
from stand_in_net import MotionThreshold

from sensekit.align import Window
from sensekit.controller.evaluate import Prediction, Recording, evaluate_policy
from sensekit.controller.front import front_flags, static_results
from sensekit.controller.operating import OperatingPoint
from sensekit.controller.policies import Static
from sensekit.fusion.inputs import Configuration
from sensekit.modalities import registered
from sensekit.testing.scenario import SimConfig, simulate

POINTS = ["accel@100", "accel@25", "accel@5:accel_low_power", "accel@100+gyro@100",
          "accel@100+gps@1:power_save", "accel@100+gps@1~10/60", "accel@50+camera@16",
          "accel@100+camera@32:photo", "light@0.2:one_time_low+accel@100"]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    path = tmp_path_factory.mktemp("sim") / "day.mcap"
    simulate(path, SimConfig(duration_s=90, seed=5))
    return Recording.load(str(path))


def test_cheap_static_points_equal_their_window_by_window_replay(recording: Recording) -> None:
    points = [OperatingPoint.parse(p) for p in POINTS]
    cheap = static_results(recording, points, MotionThreshold(), decls=registered(),
                           window_s=2.0)
    for point, fast in zip(points, cheap, strict=True):
        slow = evaluate_policy(recording, lambda p=point: Static.of(p), MotionThreshold(),
                               window_s=2.0)
        assert fast.policy == slow.policy == f"static:{point.name()}"
        assert fast.macro_f1 == pytest.approx(slow.macro_f1), point.name()
        assert fast.confusion == slow.confusion, point.name()
        assert fast.sensor_j == pytest.approx(slow.sensor_j, rel=1e-9), point.name()
        assert fast.sensor_j_by_part == pytest.approx(slow.sensor_j_by_part, rel=1e-9)
        assert fast.compute_j == pytest.approx(slow.compute_j), point.name()
        assert fast.windows_processed == pytest.approx(slow.windows_processed)


class ReadsSpeed(MotionThreshold):
    """The stand-in network, plus: vehicle when the GPS (if on) says faster than 3 m/s."""

    def __init__(self) -> None:
        super().__init__()
        self.modalities = {m: registered()[m].input for m in ("accel", "gps")}

    def predict(self, window: Window, config: Configuration, *,
                explain: bool = False) -> Prediction:
        if "gps" in config.modalities and "gps" in window.mask:
            speed = np.asarray(window.data["gps"]["speed_mps"])[window.valid("gps")]
            if speed.size and np.nanmax(speed) > 3.0:
                return Prediction(self.classes.index("vehicle"), 0.95)
        return super().predict(window, config, explain=explain)


def test_a_static_power_save_point_is_on_the_front_when_it_should_be(
        recording: Recording) -> None:
    """The GPS's speed adds the vehicle windows; in power-save it delivers the same fixes on a
    third of the current: accelerometer alone and accelerometer + GPS in power-save are the
    front, the same with the GPS at full power is not."""
    names = ("accel@100", "accel@100+gps@1", "accel@100+gps@1:power_save")
    rows = static_results(recording, [OperatingPoint.parse(p) for p in names], ReadsSpeed(),
                          decls=registered(), window_s=2.0)
    alone, continuous, power_save = rows
    assert continuous.macro_f1 == power_save.macro_f1 > alone.macro_f1
    assert power_save.sensor_j < continuous.sensor_j / 2
    assert front_flags(rows) == {alone.policy, power_save.policy}


def test_per_modality_inputs_give_the_networks_window_by_window_predictions(
        recording: Recording) -> None:
    """With the shipped network, the front gathers each key's inputs from per-modality caches;
    its predictions equal the window-by-window replay's (a duty-cycled input's too: its
    inputs come from a replay of it alone, each window in or out as its schedule has it)."""
    pytest.importorskip("onnxruntime")
    from sensekit.controller.predictor import load_predictor
    from sensekit.testing.scenario import ACTIVITIES

    net = load_predictor("sim_har", classes=list(ACTIVITIES))
    names = ["accel@100+gyro@100+light@1", "accel@25+camera@16+gps@1:power_save",
             "accel@50+audio@50", "camera@32:photo+light@0.2:one_time_low",
             "accel@25+gps@1~10/60", "gps@1:power_save~10/30"]
    points = [OperatingPoint.parse(p) for p in names]
    fast = static_results(recording, points, net, decls=registered(), window_s=2.0)
    for point, row in zip(points, fast, strict=True):
        slow = evaluate_policy(recording, lambda p=point: Static.of(p), net, window_s=2.0)
        assert row.confusion == slow.confusion, point.name()
        assert row.sensor_j == pytest.approx(slow.sensor_j, rel=1e-9)
        assert row.windows_processed == pytest.approx(slow.windows_processed)
        assert row.compute_j > 0 and slow.compute_j > 0
