"""The accelerometer-only low-power modes and wake-on-motion, as each register map says.

MPU-6050 (RM-MPU-6000A-00 Rev 4.2 and, for the motion registers Rev 4.2 no longer documents,
Rev 2.0 as reproduced in i2cdevlib): cycle mode is PWR_MGMT_1 CYCLE with the gyros in standby
and LP_WAKE_CTRL choosing 1.25/5/20/40 Hz (p. 42). Motion detection compares the accelerometer,
after its digital high-pass filter (ACCEL_HPF), with MOT_THR (32 mg per LSB, PS-MPU-6000A-00
Rev 3.4 p. 13); each sample above it counts up a duration counter, each below counts it down by
MOT_COUNT's step (MOT_DETECT_CTRL [1:0]: reset, 1, 2 or 4), and the interrupt fires when the
counter reaches MOT_DUR (1 LSB = 1 ms). ACCEL_ON_DELAY (MOT_DETECT_CTRL [5:4]) adds up to 3 ms
before a woken accelerometer is used. The filter is set to 5 Hz first, so it settles on the
resting pose, then to "hold", which measures each sample against the pose held at that moment.

MPU-6500 family (RM-MPU-9250A-00 Rev 1.6 and the wake-on-motion steps of PS-MPU-9250A-01 Rev
1.0, "Wake-on-Motion Interrupt"; the registers the Linux driver's wake-on-motion uses too):
gyros disabled in PWR_MGMT_2, ACCEL_CONFIG2 with
ACCEL_FCHOICE_B 1 and A_DLPF_CFG 1, WOM_EN in INT_ENABLE, ACCEL_INTEL_CTRL with ACCEL_INTEL_EN
and ACCEL_INTEL_MODE (compare with the previous sample), WOM_THR (4 mg per LSB), LP_ACCEL_ODR for
the wake rate, then PWR_MGMT_1 CYCLE. This family has no duration counter.

Not verified on hardware: the thresholds and durations at which real parts fire (RM 4.2 dropped
the MPU-6050 motion registers from its documentation); ``drivers/smoke.py --check
mpu-wake-on-motion`` asks for a tap on a board and reports what fired.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ...errors import ConfigError
from ..registers import compose
from . import mpu6050_map as m
from .variants import ImuVariant

if TYPE_CHECKING:
    from .mpu6050 import Mpu6050

__all__ = ["LOW_POWER_MODES", "configure_low_power"]

LOW_POWER_MODES = ("accel_low_power", "wake_on_motion")
#: ACCEL_ON_DELAY code: the longest extra power-on delay (3 ms) before a woken accelerometer's
#: samples are compared, so a sample taken while it starts does not look like motion.
ACCEL_ON_DELAY_MAX = 0b11
#: MOT_COUNT code 1: the counter falls by one per still sample (code 0 would reset it at once,
#: so motion that flickers around the threshold could never add up to MOT_DUR).
MOT_COUNT_DECREMENT_1 = 0b01
#: Time the 5 Hz high-pass filter is given to settle before it is switched to "hold".
HPF_SETTLE_S = 0.2
#: ACCEL_CONFIG2 for wake-on-motion on the 6500 family: FCHOICE_B 1, A_DLPF_CFG 1 (PS steps).
WOM_A_DLPF_CFG = 1


def configure_low_power(imu: Mpu6050, chip: ImuVariant) -> float:
    """Put ``imu`` in its accelerometer-only cycle mode (with motion detection in
    ``wake_on_motion``); return the wake rate it runs at."""
    rates = chip.low_power_hz
    if rates is None:
        raise ConfigError(f"{imu.describe()}: the {chip.chip} has no accelerometer cycle mode "
                          f"this driver drives; modes for it: accel_gyro, accel_only")
    code = min(rates, key=lambda c: abs(rates[c] - (imu.rate_hz or 5.0)))
    wom = imu.mode == "wake_on_motion"
    if chip.family == "6050":
        _mpu6050(imu, code, wom)
    else:
        _mpu6500(imu, code, wom)
    imu._sample_bytes = imu._fifo_layout(False)
    return rates[code]


def _mpu6050(imu: Mpu6050, code: int, wom: bool) -> None:
    imu._write(m.PWR_MGMT_1, compose({m.CLKSEL: m.CLKSEL_INTERNAL, m.TEMP_DIS: 1}))
    imu._write(m.PWR_MGMT_2, compose({m.LP_WAKE_CTRL: code, m.STBY_GYRO: m.ALL_AXES}))
    imu._write(m.ACCEL_CONFIG, compose({m.AFS_SEL: imu._afs,
                                        m.ACCEL_HPF: m.ACCEL_HPF_5HZ if wom else 0}))
    imu._write(m.INT_PIN_CFG, compose({m.LATCH_INT_EN: 1}))
    if wom:
        threshold = round(imu.motion_threshold_g / m.MOT_THR_G_PER_LSB)
        imu._write(m.MOT_THR, min(255, max(1, threshold)))
        imu._write(m.MOT_DUR, min(255, max(1, math.ceil(imu.motion_duration_ms))))
        imu._write(m.MOT_DETECT_CTRL, compose({m.ACCEL_ON_DELAY: ACCEL_ON_DELAY_MAX,
                                               m.MOT_COUNT: MOT_COUNT_DECREMENT_1}))
    imu._write(m.INT_ENABLE, compose({m.MOT_EN: int(wom), m.FIFO_OFLOW_EN: 1}))
    imu._write(m.PWR_MGMT_1, compose({m.CLKSEL: m.CLKSEL_INTERNAL, m.TEMP_DIS: 1, m.CYCLE: 1}))
    if wom:
        imu.clock.sleep(HPF_SETTLE_S)  # the 5 Hz filter settles on the resting pose ...
        imu._write(m.ACCEL_CONFIG, compose({m.AFS_SEL: imu._afs,
                                            m.ACCEL_HPF: m.ACCEL_HPF_HOLD}))  # ... then holds it


def _mpu6500(imu: Mpu6050, code: int, wom: bool) -> None:
    imu._write(m.PWR_MGMT_1, compose({m.CLKSEL: m.CLKSEL_PLL_X}))
    imu._write(m.PWR_MGMT_2, compose({m.STBY_GYRO: m.ALL_AXES}))
    imu._write(m.ACCEL_CONFIG, compose({m.AFS_SEL: imu._afs}))
    imu._write(m.ACCEL_CONFIG2, compose({m.ACCEL_FCHOICE_B: 1, m.A_DLPF_CFG: WOM_A_DLPF_CFG}))
    imu._write(m.INT_PIN_CFG, compose({m.LATCH_INT_EN: 1}))
    imu._write(m.INT_ENABLE, compose({m.MOT_EN: int(wom), m.FIFO_OFLOW_EN: 1}))
    if wom:
        imu._write(m.MOT_DETECT_CTRL, compose({m.ACCEL_INTEL_EN: 1, m.ACCEL_INTEL_MODE: 1}))
        threshold = round(imu.motion_threshold_g / m.WOM_THR_G_PER_LSB)
        imu._write(m.MOT_THR, min(255, max(1, threshold)))
    else:
        imu._write(m.MOT_DETECT_CTRL, 0)
    imu._write(m.LP_ACCEL_ODR, compose({m.LPOSC_CLKSEL: code}))
    imu._write(m.PWR_MGMT_1, compose({m.CLKSEL: m.CLKSEL_PLL_X, m.CYCLE: 1}))
