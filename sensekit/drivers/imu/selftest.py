"""The InvenSense self-test: each sensor's response to its built-in actuation, against the
factory's figure.

The part moves its own proof masses when the self-test bits are set (ACCEL_CONFIG XA/YA/ZA_ST,
GYRO_CONFIG XG/YG/ZG_ST); the self-test response is the output with them set minus the output
without, and the factory stored what it measured for that part in the SELF_TEST registers.

MPU-6050 (RM-MPU-6000A-00 Rev 4.2, sec. 4.1, pp. 9-10; PS-MPU-6000A-00 Rev 3.4, self-test
response within +-14 % of the factory trim, Tables 6.1 and 6.2): gyros at +-250 deg/s, factory
trim ``FT = 25 x 131 x 1.046^(XG_TEST - 1)`` (negated for Y); accelerometers at +-8 g,
``FT = 4096 x 0.34 x (0.92 / 0.34)^((XA_TEST - 1) / (2^5 - 2))``; a code of 0 means no trim.

MPU-6500 family (InvenSense AN-MPU-9250A-03 "MPU-9250 Accelerometer, Gyroscope and Compass
Self-Test Implementation" v1.0): gyros at +-250 deg/s and accelerometers at +-2 g with the
low-pass filters at 92/99 Hz; ``ST_OTP = 2620 x 1.01^(ST_code - 1)``; a gyro passes with a
response above half its ST_OTP, an accelerometer between half and one and a half.

Not verified on hardware: a real part's responses (``drivers/smoke.py --check mpu-self-test``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..registers import compose
from . import mpu6050_map as m

if TYPE_CHECKING:
    from .mpu6050 import Mpu6050

__all__ = ["AxisResult", "SelfTestResult", "run_self_test"]

AXES = ("accel_x", "accel_y", "accel_z", "gyro_x", "gyro_y", "gyro_z")
SAMPLES = 100
#: Wait after the self-test bits change before the output is used (AN-MPU-9250A-03: 20 ms).
SETTLE_S = 0.020
MPU6050_LIMIT = 0.14


@dataclass(frozen=True)
class AxisResult:
    """One axis: its response (LSB), the factory figure (LSB) and the verdict."""

    response: float
    factory: float
    ratio: float
    passed: bool


@dataclass(frozen=True)
class SelfTestResult:
    """The self-test of one part."""

    chip: str
    axes: dict[str, AxisResult]

    @property
    def passed(self) -> bool:
        return all(a.passed for a in self.axes.values())

    def __str__(self) -> str:
        rows = [f"{name}: response {a.response:.0f} LSB, factory {a.factory:.0f} LSB, ratio "
                f"{a.ratio:.2f} {'ok' if a.passed else 'FAIL'}" for name, a in self.axes.items()]
        return f"{self.chip} self-test {'passed' if self.passed else 'FAILED'}\n" + \
            "\n".join(rows)


def _average(imu: Mpu6050) -> np.ndarray:
    """The mean of ``SAMPLES`` reads of the data registers (accel xyz, gyro xyz), LSB."""
    rows = []
    period = 1.0 / (imu.rate_hz or 1000.0)
    for _ in range(SAMPLES):
        raw = imu.device.read_block(m.ACCEL_XOUT_H.address, 14)
        values = np.frombuffer(raw, ">i2").astype(np.float64)
        rows.append(np.concatenate([values[0:3], values[4:7]]))
        imu.clock.sleep(period)
    return np.asarray(np.mean(rows, axis=0))


def _responses(imu: Mpu6050, accel_code: int, gyro_code: int) -> np.ndarray:
    regs = imu.regs
    regs.write(m.GYRO_CONFIG, compose({m.FS_SEL: gyro_code}))
    regs.write(m.ACCEL_CONFIG, compose({m.AFS_SEL: accel_code}))
    imu.clock.sleep(SETTLE_S)
    normal = _average(imu)
    regs.write(m.GYRO_CONFIG, compose({m.FS_SEL: gyro_code, m.GYRO_ST: m.ALL_AXES}))
    regs.write(m.ACCEL_CONFIG, compose({m.AFS_SEL: accel_code, m.ACCEL_ST: m.ALL_AXES}))
    imu.clock.sleep(SETTLE_S)
    response: np.ndarray = _average(imu) - normal
    return response


def _mpu6050_factory(imu: Mpu6050) -> np.ndarray:
    raw = imu.device.read_block(m.SELF_TEST_X.address, 4)   # SELF_TEST_X, _Y, _Z, _A
    out = []
    for axis in range(3):
        # XA_TEST[4:2] from SELF_TEST_X/Y/Z, XA_TEST[1:0] from SELF_TEST_A: a 5-bit code.
        code = m.XA_TEST_HIGH.get(raw[axis]) * 4 + m.A_TEST_LOW[axis].get(raw[3])
        out.append(0.0 if code == 0 else 4096 * 0.34 * (0.92 / 0.34) ** ((code - 1) / 30))
    for axis in range(3):
        code = m.XG_TEST.get(raw[axis])
        trim = 0.0 if code == 0 else 25 * 131 * 1.046 ** (code - 1)
        out.append(-trim if axis == 1 else trim)
    return np.asarray(out)


def _mpu6500_factory(imu: Mpu6050) -> np.ndarray:
    accel = imu.device.read_block(m.SELF_TEST_X_ACCEL.address, 3)
    gyro = imu.device.read_block(m.SELF_TEST_X_GYRO.address, 3)
    codes = (*accel, *gyro)
    return np.array([0.0 if c == 0 else 2620 * 1.01 ** (c - 1) for c in codes], np.float64)


def run_self_test(imu: Mpu6050) -> SelfTestResult:
    """Run the self-test of an open MPU; the caller configures it again afterwards."""
    chip = imu.chip
    regs = imu.regs
    regs.write(m.USER_CTRL, 0)                      # FIFO off: read the data registers
    regs.write(m.PWR_MGMT_1, compose({m.CLKSEL: m.CLKSEL_PLL_X}))
    regs.write(m.PWR_MGMT_2, 0)
    regs.write(m.SMPLRT_DIV, 0)
    imu.clock.sleep(chip.gyro_startup_s)
    results: dict[str, AxisResult] = {}
    if chip.family == "6050":
        regs.write(m.CONFIG, compose({m.DLPF_CFG: 1}))
        factory = _mpu6050_factory(imu)
        response = _responses(imu, accel_code=2, gyro_code=0)   # +-8 g, +-250 deg/s
        for name, r, f in zip(AXES, response, factory, strict=True):
            change = (r - f) / f if f else float("inf")
            results[name] = AxisResult(float(r), float(f), 1 + change,
                                       abs(change) <= MPU6050_LIMIT)
    else:
        regs.write(m.CONFIG, compose({m.DLPF_CFG: 2}))
        regs.write(m.ACCEL_CONFIG2, compose({m.A_DLPF_CFG: 2}))
        factory = _mpu6500_factory(imu)
        response = _responses(imu, accel_code=0, gyro_code=0)   # +-2 g, +-250 deg/s
        for i, (name, r, f) in enumerate(zip(AXES, response, factory, strict=True)):
            ratio = abs(r) / f if f else 0.0
            ok = ratio > 0.5 if i >= 3 else 0.5 < ratio < 1.5
            results[name] = AxisResult(float(r), float(f), ratio, ok)
    regs.write(m.GYRO_CONFIG, 0)
    regs.write(m.ACCEL_CONFIG, 0)
    return SelfTestResult(chip.chip, results)
