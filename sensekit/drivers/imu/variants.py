"""The InvenSense chips that answer as "an MPU-6050" or "an MPU-9250", each with its own map.

Widely sold "MPU-6050" boards (GY-521) carry an MPU-6050 (WHO_AM_I 0x68), an MPU-6500 (0x70)
or an ICM-20689 (0x98); "MPU-9250" boards carry an MPU-9250 (0x71), an MPU-9255 (0x73) or an
MPU-6500 with no magnetometer (0x70). The drivers accept the chips of their family and warn,
naming the chip, when it is not the one asked for; each accepted ID has its own FIFO size,
low-pass tables, ACCEL_CONFIG2, low-power rates and temperature scale below. An ID not here is
refused with the list of these.

Sources:
    MPU-6050: RM-MPU-6000A-00 Rev 4.2 (DLPF table sec. 4.3 p. 13; LP_WAKE_CTRL p. 42; FIFO
        1024 bytes sec. 4.30; temperature sec. 4.18 p. 30).
    MPU-6500 / MPU-9250 / MPU-9255: RM-MPU-9250A-00 Rev 1.6 (gyro DLPF p. 13, ACCEL_CONFIG2
        table p. 15, LP_ACCEL_ODR p. 17, temperature p. 33: 333.87 LSB/degC, 21 degC at 0);
        FIFO 512 bytes (PS-MPU-9250A-01 Rev 1.0 sec. 4.17).
    ICM-20689: TDK InvenSense DS-000143 Rev 1.0 (DLPF tables, 4 KB FIFO with FIFO_SIZE in
        ACCEL_CONFIG2 [7:6], temperature 326.8 LSB/degC and 25 degC at 0).
    Cross-checked against the Linux driver drivers/iio/imu/inv_mpu6050 (inv_mpu_core.c
    ``hw_info``: WHO_AM_I, FIFO size, temperature offset and scale per chip, and the gyro
    start-up waits of inv_mpu_iio.h: 60 ms for the MPU-6050, 70 ms for the MPU-6500 family,
    which the driver waits before it trusts the gyros).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...errors import DeviceNotFound

__all__ = ["VARIANTS", "ImuVariant", "variant_for"]


@dataclass(frozen=True)
class ImuVariant:
    """One chip's figures.

    Attributes:
        chip: The chip's name (``"ICM-20689"``).
        who_am_i: Its WHO_AM_I value.
        family: ``"6050"`` (MPU-6000/6050: one DLPF for both sensors, MOT_THR/MOT_DUR motion
            detection) or ``"6500"`` (ACCEL_CONFIG2, wake-on-motion through ACCEL_INTEL_CTRL).
        fifo_size: FIFO bytes.
        fifo_size_code: ACCEL_CONFIG2 FIFO_SIZE value that gives ``fifo_size`` (None: fixed).
        gyro_bandwidth_hz: DLPF_CFG -> gyro -3 dB bandwidth.
        accel_bandwidth_hz: DLPF_CFG (6050) or A_DLPF_CFG (6500) -> accel -3 dB bandwidth.
        low_power_hz: Low-power accelerometer wake rates by register code (LP_WAKE_CTRL on the
            6050, LP_ACCEL_ODR on the 6500 family); None where the driver has no such mode.
        temp_lsb_per_c, temp_c_at_zero: degC = TEMP_OUT / lsb_per_c + c_at_zero.
        gyro_startup_s: How long the gyros take to settle after they are powered.
        magnetometer: Whether an AK8963 sits in the package.
    """

    chip: str
    who_am_i: int
    family: str
    fifo_size: int
    gyro_bandwidth_hz: Mapping[int, float]
    accel_bandwidth_hz: Mapping[int, float]
    low_power_hz: Mapping[int, float] | None
    temp_lsb_per_c: float
    temp_c_at_zero: float
    gyro_startup_s: float
    magnetometer: bool = False
    fifo_size_code: int | None = None

    @property
    def fifo_count_mask(self) -> int:
        """Bits of FIFO_COUNT that hold the count (13 for a 4 KB FIFO)."""
        return (1 << max(self.fifo_size.bit_length(), 11)) - 1


_6050_DLPF = {0: 260.0, 1: 184.0, 2: 94.0, 3: 44.0, 4: 21.0, 5: 10.0, 6: 5.0}
_6050_GYRO = {0: 256.0, 1: 188.0, 2: 98.0, 3: 42.0, 4: 20.0, 5: 10.0, 6: 5.0}
_6500_GYRO = {0: 250.0, 1: 184.0, 2: 92.0, 3: 41.0, 4: 20.0, 5: 10.0, 6: 5.0, 7: 3600.0}
_6500_ACCEL = {0: 218.1, 1: 218.1, 2: 99.0, 3: 44.8, 4: 21.2, 5: 10.2, 6: 5.05, 7: 420.0}
_6500_LP = {0: 0.24, 1: 0.49, 2: 0.98, 3: 1.95, 4: 3.91, 5: 7.81, 6: 15.63, 7: 31.25,
            8: 62.5, 9: 125.0, 10: 250.0, 11: 500.0}

VARIANTS: dict[int, ImuVariant] = {v.who_am_i: v for v in (
    ImuVariant("MPU-6050", 0x68, "6050", 1024, _6050_GYRO, _6050_DLPF,
               {0: 1.25, 1: 5.0, 2: 20.0, 3: 40.0}, 340.0, 36.53, 0.060),
    ImuVariant("MPU-6500", 0x70, "6500", 512, _6500_GYRO, _6500_ACCEL, _6500_LP, 333.87, 21.0,
               0.070),
    ImuVariant("MPU-9250", 0x71, "6500", 512, _6500_GYRO, _6500_ACCEL, _6500_LP, 333.87, 21.0,
               0.070, magnetometer=True),
    ImuVariant("MPU-9255", 0x73, "6500", 512, _6500_GYRO, _6500_ACCEL, _6500_LP, 333.87, 21.0,
               0.070, magnetometer=True),
    ImuVariant("ICM-20689", 0x98, "6500", 4096,
               {0: 250.0, 1: 176.0, 2: 92.0, 3: 41.0, 4: 20.0, 5: 10.0, 6: 5.0, 7: 3281.0},
               {0: 218.1, 1: 218.1, 2: 99.0, 3: 44.8, 4: 21.2, 5: 10.2, 6: 5.1, 7: 420.0},
               None, 326.8, 25.0, 0.070, fifo_size_code=0b11),
)}


def variant_for(who_am_i: int, where: str) -> ImuVariant:
    """The chip a WHO_AM_I value names.

    Raises:
        DeviceNotFound: an ID not in :data:`VARIANTS`, with the list of known ones and the parts
            that also answer at 0x68 (real-time clocks).
    """
    try:
        return VARIANTS[who_am_i]
    except KeyError:
        known = ", ".join(f"{v.who_am_i:#04x} {v.chip}" for v in VARIANTS.values())
        raise DeviceNotFound(
            f"{where}: WHO_AM_I is {who_am_i:#04x}, which no supported chip reports (known: "
            f"{known}). Hint: a DS1307/DS3231 real-time clock also answers at 0x68: check the "
            "address with 'sensekit probe'") from None
