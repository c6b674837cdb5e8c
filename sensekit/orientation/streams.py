"""The ``orientation`` and ``nav`` streams: what the AHRS and the GPS/IMU filter publish.

Their fields are declared once in :data:`sensekit.packets.SPECS`; these helpers build the
packets, so a hub, a recorder, the aligner and the controller take them like any other stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..packets import Packet

if TYPE_CHECKING:
    from .ahrs import OrientationEstimate

__all__ = ["orientation_packet"]


def orientation_packet(est: OrientationEstimate, t_ns: npt.NDArray[np.int64], *,
                       stream: str = "orientation", convention: str = "enu",
                       backend: str = "") -> Packet:
    """An ``orientation`` packet of ``est`` at the IMU timestamps ``t_ns``."""
    f32 = np.float32
    return Packet(stream, np.asarray(t_ns, np.int64), {
        "quat_wxyz": est.quat.astype(f32),
        "linear_accel_mps2": est.linear_accel_mps2.astype(f32),
        "gyro_bias_rads": est.gyro_bias_rads.astype(f32),
        "hard_iron_ut": est.hard_iron_ut.astype(f32),
        "rest": est.rest.astype(bool),
        "accel_disturbed": est.accel_disturbed.astype(bool),
        "mag_disturbed": est.mag_disturbed.astype(bool),
    }, "orientation", {"convention": convention, "backend": backend})
