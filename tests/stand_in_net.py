"""A stand-in for the fusion network in policy tests: still below a motion score, walking
above; its energy per inference grows with the sensors on."""

from __future__ import annotations

from sensekit.align import Window
from sensekit.controller.evaluate import Prediction
from sensekit.controller.scores import score
from sensekit.fusion.inputs import Configuration
from sensekit.testing.scenario import ACTIVITIES


class MotionThreshold:
    """A stand-in network: still below a motion score, walking above; costs by sensor count."""

    def __init__(self) -> None:
        self.classes = list(ACTIVITIES)
        self.seen: list[Configuration] = []

    def predict(self, window: Window, config: Configuration, *,
                explain: bool = False) -> Prediction:
        self.seen.append(config)
        motion = score(window, "accel")
        if motion is None:
            return Prediction(0, 0.3)
        label = "still" if motion < 0.15 else "walking"
        return Prediction(self.classes.index(label), 0.95)

    def joules(self, config: Configuration, *, explain: bool = False) -> float:
        return 0.001 * len(config.modalities)
