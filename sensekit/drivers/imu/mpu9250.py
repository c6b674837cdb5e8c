"""InvenSense MPU-9250 nine-axis IMU: the MPU-6050's FIFO driver plus the AK8963 magnetometer.

Usage::

    imu = sensekit.open("mpu9250", "i2c://1/0x68", rate_hz=200)   # mode "nine_axis"
    p = imu.read(); p["accel_mps2"], p["gyro_rads"], p["mag_ut"]  # mag in the accel/gyro frame

The accelerometer, gyroscope and FIFO are register-compatible with the MPU-6050 (see
:mod:`sensekit.drivers.imu.mpu6050`), with WHO_AM_I 0x71 and a 512-byte FIFO. The AK8963
magnetometer is a separate I2C part at 0x0C inside the package, reached by turning on the
MPU-9250's I2C bypass. It measures on its own clock (8 or 100 Hz) and has no FIFO, so each
IMU sample of a packet carries the latest magnetometer reading at the time of the drain
(NaN before the first one): held, not interpolated.

Sources: InvenSense "MPU-9250 Product Specification" PS-MPU-9250A-01 Rev 1.0 ("PS"): WHO_AM_I
and FIFO size sec. 4.17, magnetometer axes sec. 9.1; "MPU-9250 Register Map and Descriptions"
RM-MPU-9250A-00 Rev 1.6 ("RM"): INT_PIN_CFG.BYPASS_EN p. 29; Asahi Kasei "AK8963 3-axis
Electronic Compass" MS1356-E-02 ("AK"): registers sec. 8.3, sensitivity adjustment
``Hadj = H * ((ASA - 128) * 0.5 / 128 + 1)`` sec. 8.3.11, 0.15 uT/LSB in 16-bit output.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ...buses.i2c import I2CDevice
from ...errors import ConfigError, DeviceNotFound
from ..registers import Field, Register
from .mpu6050 import Mpu6050

__all__ = ["Mpu9250"]

INT_PIN_CFG = Register("INT_PIN_CFG", 0x37, reset=0x00, source="RM-MPU-9250A-00 1.6, p. 29")
BYPASS_EN = Field(INT_PIN_CFG, 1)
WHO_AM_I_VALUE = 0x71      # RM 1.6 p. 45
FIFO_SIZE = 512            # PS 1.0 sec. 4.17

AK8963_ADDRESS = 0x0C
WIA = Register("WIA", 0x00, reset=0x48, read_only=True, source="AK8963 MS1356-E-02, 8.3.1")
ST1 = Register("ST1", 0x02, read_only=True, source="AK8963, 8.3.3: DRDY bit 0, DOR bit 1")
DRDY = Field(ST1, 0)
HXL = Register("HXL", 0x03, read_only=True, source="AK8963, 8.3.4: X, Y, Z little-endian")
ST2 = Register("ST2", 0x09, read_only=True, source="AK8963, 8.3.5: HOFL bit 3; read ends a read")
HOFL = Field(ST2, 3)
CNTL1 = Register("CNTL1", 0x0A, reset=0x00, source="AK8963, 8.3.6: BIT bit 4, MODE bits 3:0")
ASAX = Register("ASAX", 0x10, read_only=True, source="AK8963, 8.3.11 (fuse ROM access mode)")
WIA_VALUE = 0x48
MODE_POWER_DOWN, MODE_FUSE_ROM = 0x0, 0xF
#: Continuous measurement modes: rate (Hz) -> MODE, AK 8.3.6.
MODE_CONTINUOUS = {8.0: 0x2, 100.0: 0x6}
BIT_16 = 1 << 4
UT_PER_LSB_16 = 0.15       # AK sec. 8.3.4, 16-bit output


class Mpu9250(Mpu6050):
    """The MPU-9250.

    Args:
        url: ``i2c://BUS/0x68`` (0x69 with AD0 high) or ``emu://``.
        mag_rate_hz: Magnetometer rate, 8 or 100.
        **kwargs: See :class:`~sensekit.drivers.imu.mpu6050.Mpu6050`.
    """

    name = "mpu9250"
    modes: ClassVar[tuple[str, ...]] = ("nine_axis", "accel_gyro", "accel_only")
    power_model = "mpu9250"
    who_am_i: ClassVar[int] = WHO_AM_I_VALUE
    fifo_size: ClassVar[int] = FIFO_SIZE
    gyro_modes: ClassVar[tuple[str, ...]] = ("nine_axis", "accel_gyro")

    def __init__(self, url: str, *, mag_rate_hz: float = 8.0, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        if mag_rate_hz not in MODE_CONTINUOUS:
            raise ConfigError(f"{self.describe()}: mag_rate_hz must be 8 or 100")
        self.mag_rate_hz = mag_rate_hz
        self._mag: I2CDevice | None = None
        self._mag_adjust = np.ones(3)
        self._mag_ut = np.full(3, np.nan)

    def _configure(self) -> None:
        super()._configure()
        with self.device.lock:
            self.regs.set(BYPASS_EN, 1)  # the AK8963 appears on the host bus at 0x0C
            mag = self._magnetometer()
            on = self.mode == "nine_axis"
            mode = BIT_16 | MODE_CONTINUOUS[self.mag_rate_hz] if on else MODE_POWER_DOWN
            mag.write_u8(CNTL1.address, MODE_POWER_DOWN)
            self.clock.sleep(0.0001)  # AK 8.3.6: 100 us in power-down between modes
            if on:
                mag.write_u8(CNTL1.address, mode)
        self._mag_ut = np.full(3, np.nan)

    def _magnetometer(self) -> I2CDevice:
        if self._mag is not None:
            return self._mag
        dev = self.device
        mag = I2CDevice(dev.bus, dev.bus_number, AK8963_ADDRESS, name="ak8963",
                        retries=dev.retries, clock=self.clock,
                        where=f"{self.url.raw} (its magnetometer at 0x0c)")
        mag.lock = dev.lock  # one bus handle: never address two parts at once
        if mag.check_present(WIA.address) != WIA_VALUE:
            raise DeviceNotFound(f"{self.describe()}: no AK8963 magnetometer behind the I2C "
                                 "bypass (WIA is not 0x48). Hint: an MPU-6500 reports 0x70, "
                                 "and some 'MPU-9250' boards carry one")
        mag.write_u8(CNTL1.address, MODE_FUSE_ROM)
        asa = np.frombuffer(mag.read_block(ASAX.address, 3), np.uint8).astype(np.float64)
        mag.write_u8(CNTL1.address, MODE_POWER_DOWN)
        self._mag_adjust = (asa - 128) * 0.5 / 128 + 1  # AK 8.3.11
        self._mag = mag
        return mag

    def _more_fields(self, n: int) -> dict[str, Any]:
        if self.mode != "nine_axis":
            return {}
        mag = self._magnetometer()
        with self.device.lock:
            if DRDY.get(mag.read_u8(ST1.address)):
                data = mag.read_block(HXL.address, 7)  # X, Y, Z and ST2, which ends the read
                if not HOFL.get(data[6]):
                    raw = np.frombuffer(data[:6], "<i2").astype(np.float64)
                    ak = raw * self._mag_adjust * UT_PER_LSB_16
                    # PS sec. 9.1: magnetometer x = accel y, y = accel x, z = -accel z.
                    self._mag_ut = np.array([ak[1], ak[0], -ak[2]])
        return {"mag_ut": np.tile(self._mag_ut.astype(np.float32), (n, 1))}
