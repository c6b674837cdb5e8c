"""Orientation and navigation: an AHRS for 6- and 9-axis IMUs, and a GPS/IMU filter.

- :class:`Ahrs`: gyroscope, accelerometer and (optionally) magnetometer samples in, the
  rotation of the sensor frame into the earth frame out (quaternions ``[w, x, y, z]``, ENU or
  NED), per packet or for whole arrays, with gyroscope bias, acceleration and magnetic
  disturbance decisions per sample and an online hard-iron estimate.
- :mod:`.quaternion`: the quaternion arithmetic and conversions (Euler angles, NED).

``import sensekit.orientation`` imports numpy only; the ``vqf`` backend is imported when an
:class:`Ahrs` is built.
"""

from __future__ import annotations

from .ahrs import Ahrs, OrientationEstimate
from .hardiron import HardIronEstimator

__all__ = ["Ahrs", "HardIronEstimator", "OrientationEstimate"]
