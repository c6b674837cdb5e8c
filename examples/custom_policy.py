"""Write a sampling policy and weigh it against always-on: accuracy against energy.

    python examples/custom_policy.py [--seconds 60]

The policy keeps the IMU on and turns every other sensor on only while the last window moved
(the accelerometer's informativeness score above a threshold). It is replayed on a simulated
labelled day, with the shipped network under ONNX Runtime, through the same controller that
drives real parts; energy comes from the parts' datasheet power tables.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sensekit.controller.evaluate import Recording, evaluate_policy
from sensekit.controller.policies import Observation, Plan, Static
from sensekit.controller.predictor import load_predictor
from sensekit.fusion.inputs import Configuration, configurations, default_configuration
from sensekit.testing.scenario import SimConfig, simulate


@dataclass
class MotionGated:
    """IMU always; the other sensors only after a window with motion."""

    full: Configuration
    threshold: float = 0.2
    name: str = "motion-gated"

    def plan(self, obs: Observation) -> Plan:
        moving = obs.scores.get("accel", 1.0) > self.threshold
        keep = {m: r for m, r in self.full.rates.items()
                if (moving or m in ("accel", "gyro")) and m in obs.available}
        return Plan(Configuration(keep), run_network=True,
                    reason="moving: all sensors" if moving else "still: IMU only")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="simulated day length")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.mcap"
        simulate(path, SimConfig(duration_s=args.seconds, seed=3))
        recording = Recording.load(str(path))
    net = load_predictor("default", "pi4", "activity", recording.classes)
    full = default_configuration(net.modalities)
    supported = configurations(net.modalities, every_rate=False)
    for make in (lambda: Static(full, name="always-on"), lambda: MotionGated(full)):
        r = evaluate_policy(recording, make, net, supported=supported, platform="pi4")
        print(f"{r.policy:13} accuracy {r.accuracy:5.1%}  sensors {r.sensor_j:7.3f} J  "
              f"compute {r.compute_j:6.3f} J  decisions {r.decisions}")


if __name__ == "__main__":
    main()
