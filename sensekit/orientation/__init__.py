"""Orientation and navigation: an AHRS for 6- and 9-axis IMUs, and a GPS/IMU filter.

- :class:`Ahrs`: gyroscope, accelerometer and (optionally) magnetometer samples in, the
  rotation of the sensor frame into the earth frame out (quaternions ``[w, x, y, z]``, ENU or
  NED), per packet or for whole arrays, with gyroscope bias, acceleration and magnetic
  disturbance decisions per sample and an online hard-iron estimate; ``offline=True`` for a
  whole recording (non-causal, :mod:`.offline`): one hard-iron offset fitted to all its turns.
- :class:`GpsImuFilter` (:mod:`.nav`): an error-state filter that fuses GPS fixes with the
  AHRS output into position and velocity at the IMU rate, and keeps a position with a growing
  uncertainty while the GPS sleeps.
- :mod:`.quaternion`: the quaternion arithmetic and conversions (Euler angles, NED);
  :mod:`.metrics`: errors as BROAD scores them.

``import sensekit.orientation`` imports numpy only; the ``vqf`` backend is imported when an
:class:`Ahrs` is built.
"""

from __future__ import annotations

from .ahrs import Ahrs, OrientationEstimate
from .hardiron import HardIronEstimator
from .nav import GpsImuFilter, NavParams

__all__ = ["Ahrs", "GpsImuFilter", "HardIronEstimator", "NavParams", "OrientationEstimate"]
