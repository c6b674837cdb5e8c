"""What a configuration costs, from the power models: the budget policy's price list.

Each network modality is priced at the mode its device runs in while that modality is on
(:data:`~sensekit.controller.evaluate.DEFAULT_DEVICES`). The accelerometer and the gyroscope
share an MPU-6050: the accelerometer is priced at ``accel_only`` and the gyroscope at what
``accel_gyro`` adds to it. The camera's value is its DNN resolution: pixels = value squared.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..fusion.inputs import Configuration
from ..power.model import load_power_model

__all__ = ["CAMERA_FPS", "configuration_power_w", "modality_power_w", "utility"]

#: Frame rate assumed for the camera when pricing a resolution (the simulator's rate).
CAMERA_FPS = 1.0


def _watts(modality: str, value: float, devices: Mapping[str, tuple[str, str]]) -> float:
    if modality in ("accel", "gyro"):
        table = load_power_model(devices["imu"][0])
        accel = table.mode("accel_only").watts(value)
        if modality == "accel":
            return accel
        return table.mode("accel_gyro").watts(value) - accel
    if modality not in devices:
        return 0.0
    model, mode = devices[modality]
    row = load_power_model(model).mode(mode)
    if modality == "camera":
        return row.watts(CAMERA_FPS, int(value) ** 2)
    return row.watts(value)


def configuration_power_w(config: Configuration, devices: Mapping[str, tuple[str, str]]
                          ) -> float:
    """Sensor power of ``config`` in watts (inference is charged separately, per window)."""
    return sum(_watts(m, v, devices) for m, v in config.rates.items())


def modality_power_w(devices: Mapping[str, tuple[str, str]]) -> dict[str, float]:
    """Power of each modality at a nominal setting: the order in which to turn them down."""
    nominal = {"accel": 100.0, "gyro": 100.0, "audio": 50.0, "camera": 32.0, "gps": 1.0,
               "light": 1.0}
    return {m: _watts(m, v, devices) for m, v in nominal.items()}


def utility(config: Configuration) -> float:
    """A prior for how informative a configuration is, used by the budget policy.

    One point per modality, weighted by how much of its native rate it keeps. It is a prior,
    not a measurement: the evaluation report measures the real accuracy of each choice.
    """
    native = {"accel": 100.0, "gyro": 100.0, "audio": 50.0, "camera": 32.0, "gps": 1.0,
              "light": 1.0}
    return sum(min(v / native.get(m, v), 1.0) for m, v in config.rates.items())
