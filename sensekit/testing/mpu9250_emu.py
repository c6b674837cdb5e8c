"""An emulated MPU-9250: the MPU-6050 emulator with WHO_AM_I 0x71 and a 512-byte FIFO, and its
AK8963 magnetometer at 0x0C, which answers only while the host's I2C bypass is on.

Feeding it: ``Mpu9250Emulator(motion=..., field=lambda t: ...)`` where ``field`` gives the
magnetic flux density in uT in the accel/gyro body frame, (N, 3) for N times in seconds since
attach (default: a constant 20 uT north, 44 uT down, roughly central Europe). Adding the
emulator to an :class:`~sensekit.buses.emulated.EmulatedBus` adds the magnetometer too.

AK8963 behaviour (Asahi Kasei MS1356-E-02): WIA 0x48; continuous modes 2 (8 Hz) and 6 (100 Hz)
latch a new measurement each period and set ST1.DRDY; reading ST2 ends the read and clears
DRDY (a measurement that lands while DRDY is set also sets ST1.DOR); sensitivity adjustment
values ASAX/Y/Z read only in fuse-ROM mode; 16-bit output is 0.15 uT/LSB, before the
adjustment ``Hadj = H * ((ASA - 128) * 0.5 / 128 + 1)``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ..drivers.imu import mpu6050_map as m
from ..drivers.imu import mpu9250 as r
from .i2c_devices import ByteRegisterDevice
from .mpu6050_emu import Mpu6050Emulator

__all__ = ["Ak8963Emulator", "Mpu9250Emulator", "earth_field"]

Field = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]


def earth_field(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A constant field: 20 uT along x, 44 uT down (-z), as a level device facing north."""
    return np.tile([20.0, 0.0, -44.0], (len(t), 1))


class Ak8963Emulator(ByteRegisterDevice):
    """The AK8963 inside an MPU-9250 (reachable only through the host's bypass)."""

    default_address = r.AK8963_ADDRESS
    size = 0x13
    resets: ClassVar[dict[int, int]] = {0x00: r.WIA_VALUE, 0x01: 0x9A}

    def __init__(self, host: Mpu9250Emulator, field: Field | None = None,
                 asa: tuple[int, int, int] = (176, 177, 165)) -> None:
        self.host = host
        self.field: Field = field or earth_field
        self.asa = asa
        self._start_ns = 0
        self._done = 0
        super().__init__()

    def _rate(self) -> float | None:
        mode = self.regs[r.CNTL1.address] & 0x0F
        return {v: k for k, v in r.MODE_CONTINUOUS.items()}.get(mode)

    def update(self) -> None:
        rate = self._rate()
        if rate is None or self.clock is None:
            return
        done = int((self.now_ns() - self._start_ns) * rate // 1e9)
        if done <= self._done:
            return
        if self.regs[r.ST1.address] & 1:
            self.regs[r.ST1.address] |= 0b10  # DOR: a measurement was skipped unread
        self._done = done
        t_s = float(self.seconds(self._start_ns + done * 1e9 / rate))
        body = np.asarray(self.field(np.array([t_s])), np.float64)[0]
        ak = np.array([body[1], body[0], -body[2]])  # PS-MPU-9250A-01 sec. 9.1 axes
        adjust = (np.asarray(self.asa, np.float64) - 128) * 0.5 / 128 + 1
        raw = np.clip(np.round(ak / r.UT_PER_LSB_16 / adjust), -32760, 32760).astype("<i2")
        self.regs[r.HXL.address:r.HXL.address + 6] = raw.tobytes()
        self.regs[r.ST2.address] = r.BIT_16
        self.regs[r.ST1.address] |= 1

    def _check_bypass(self) -> None:
        if not self.host.bypass:
            raise OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO))

    def i2c_write(self, data: bytes) -> None:
        self._check_bypass()
        super().i2c_write(data)

    def i2c_read(self, length: int) -> bytes:
        self._check_bypass()
        return super().i2c_read(length)

    def read_register(self, reg: int) -> int:
        if r.ASAX.address <= reg <= r.ASAX.address + 2:
            fuse = self.regs[r.CNTL1.address] & 0x0F == r.MODE_FUSE_ROM
            return self.asa[reg - r.ASAX.address] if fuse else 0
        if reg == r.ST2.address:
            self.regs[r.ST1.address] &= ~0b11 & 0xFF  # reading ST2 ends the read
        return self.regs[reg]

    def write_register(self, reg: int, value: int) -> None:
        if reg == r.CNTL1.address:
            self.regs[reg] = value
            self._start_ns, self._done = self.now_ns(), 0
        elif reg == 0x0B and value & 1:  # CNTL2.SRST
            self.reset_registers()


class Mpu9250Emulator(Mpu6050Emulator):
    """The MPU-9250 behind an emulated bus, with its magnetometer as a companion part.

    Args:
        field: Magnetic flux density (uT, body frame) as a function of seconds.
        asa: The magnetometer's fuse-ROM sensitivity adjustment values.
        **kwargs: See :class:`~sensekit.testing.mpu6050_emu.Mpu6050Emulator`.
    """

    resets: ClassVar[dict[int, int]] = {m.PWR_MGMT_1.address: 0x40,
                                        m.WHO_AM_I.address: r.WHO_AM_I_VALUE}
    fifo_size: ClassVar[int] = r.FIFO_SIZE

    def __init__(self, *, field: Field | None = None,
                 asa: tuple[int, int, int] = (176, 177, 165), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.magnetometer = Ak8963Emulator(self, field, asa)
        self.companions = (self.magnetometer,)

    @property
    def bypass(self) -> bool:
        """INT_PIN_CFG.BYPASS_EN on and the I2C master off (RM-MPU-9250A-00 p. 29)."""
        return bool(self.regs[r.INT_PIN_CFG.address] & 0b10) and not (
            self.regs[m.USER_CTRL.address] & 0x20)

