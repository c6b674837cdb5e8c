"""InvenSense MPU-9250 nine-axis IMU: the MPU-6500-family FIFO driver plus the AK8963
magnetometer, read by the chip's own auxiliary I2C master into the FIFO.

Usage::

    imu = sensekit.open("mpu9250", "i2c://1/0x68", rate_hz=200)   # mode "nine_axis"
    p = imu.read(); p["accel_mps2"], p["gyro_rads"], p["mag_ut"]  # mag in the accel/gyro frame
    sensekit.open("mpu9250", "i2c://1/0x68", mag_calibration="i2c://1/0x68")   # stored fit

Chips: an MPU-9250 (WHO_AM_I 0x71) silently; an MPU-9255 (0x73) or an MPU-6500 (0x70, no
magnetometer, so no ``nine_axis``) with a warning naming the chip (see :mod:`.variants`). The
accelerometer's low-pass filter is ACCEL_CONFIG2 (RM-MPU-9250A-00 Rev 1.6 p. 15), set with the
gyro's from ``dlpf_hz``.

The magnetometer: the AK8963 sits at 0x0C inside the package. At configuration the driver
reaches it through the I2C bypass (INT_PIN_CFG.BYPASS_EN) to read its sensitivity adjustment
(fuse ROM, AK8963 MS1356-E-02 sec. 8.3.11) and start continuous 16-bit measurement at 8 or
100 Hz; then it turns the bypass off and has the MPU's auxiliary master (I2C_SLV0, RM 1.6
pp. 19-27) read ST1 through ST2 at each sample into EXT_SENS_DATA, which the FIFO carries with
the sample. So every IMU sample has the magnetometer data the part held at that sample's time
(new when ST1.DRDY says so, held in between), never one reading copied across a packet. A
reading that overflowed (ST2.HOFL) is NaN for that sample alone; when the master reports that
the magnetometer did not answer (I2C_MST_STATUS.I2C_SLV0_NACK, read after each drain), the
magnetometer values of that drain are NaN, counted in ``mag_lost``, and the accelerometer and
gyro samples are kept. The FIFO starts after the first measurement, so packets carry no empty
magnetometer values at the start.

``mag_calibration``: a :class:`~sensekit.drivers.calibration.MagCalibration` (hard and soft
iron, from :func:`~sensekit.drivers.calibration.fit_magnetometer` or ``sensekit calibrate``)
applied to every ``mag_ut`` sample, or the key it is stored under.

Sources: InvenSense "MPU-9250 Product Specification" PS-MPU-9250A-01 Rev 1.0 ("PS"): axes sec.
9.1; "MPU-9250 Register Map and Descriptions" RM-MPU-9250A-00 Rev 1.6 ("RM"); Asahi Kasei
"AK8963 3-axis Electronic Compass" MS1356-E-02 ("AK"): registers sec. 8.3, 0.15 uT/LSB in
16-bit output, ``Hadj = H * ((ASA - 128) * 0.5 / 128 + 1)``; self-test sec. 6.4.6.

Not verified on hardware: the master's timing against the AK8963's (``drivers/smoke.py --check
mpu9250-mag`` counts fresh samples on a board), and the self-test limits (``--check
mpu-self-test``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ...buses.i2c import I2CDevice
from ...errors import ConfigError, DeviceNotFound
from ...options import check_choice
from ..registers import Field, Register, compose
from . import mpu6050_map as m
from .mpu6050 import Mpu6050

if TYPE_CHECKING:
    from ..calibration import MagCalibration

__all__ = ["Mpu9250"]

AK8963_ADDRESS = 0x0C
_AK = "AK8963 MS1356-E-02"
WIA = Register("WIA", 0x00, reset=0x48, read_only=True, source=f"{_AK}, 8.3.1")
ST1 = Register("ST1", 0x02, read_only=True, source=f"{_AK}, 8.3.3: DRDY bit 0, DOR bit 1")
DRDY = Field(ST1, 0)
HXL = Register("HXL", 0x03, read_only=True, source=f"{_AK}, 8.3.4: X, Y, Z little-endian")
ST2 = Register("ST2", 0x09, read_only=True, source=f"{_AK}, 8.3.5: HOFL bit 3; read ends a read")
HOFL = Field(ST2, 3)
CNTL1 = Register("CNTL1", 0x0A, reset=0x00, source=f"{_AK}, 8.3.6: BIT bit 4, MODE bits 3:0")
OUTPUT_16_BIT = Field(CNTL1, 4)
MODE = Field(CNTL1, 0, 4)
ASTC = Register("ASTC", 0x0C, reset=0x00, source=f"{_AK}, 8.3.8: SELF bit 6")
SELF = Field(ASTC, 6)
ASAX = Register("ASAX", 0x10, read_only=True, source=f"{_AK}, 8.3.11 (fuse ROM access mode)")
WIA_VALUE = 0x48
MODE_POWER_DOWN, MODE_SELF_TEST, MODE_FUSE_ROM = 0b0000, 0b1000, 0b1111
#: Continuous measurement modes: rate (Hz) -> MODE, AK 8.3.6.
MODE_CONTINUOUS = {8.0: 0b0010, 100.0: 0b0110}
UT_PER_LSB_16 = 0.15       # AK sec. 8.3.4, 16-bit output
#: Bytes the master reads per sample: ST1, HXL..HZH, ST2.
EXT_BYTES = 8
#: AK 8.3.6: 100 us in power-down between modes.
_MODE_CHANGE_S = 0.0001
#: AK self-test limits at 16 bits (sec. 6.4.6), per axis, after the sensitivity adjustment.
SELF_TEST_LIMITS = ((-200, 200), (-200, 200), (-3200, -800))


class Mpu9250(Mpu6050):
    """The MPU-9250.

    Args:
        url: ``i2c://BUS/0x68`` (0x69 with AD0 high) or ``emu://``.
        mag_rate_hz: Magnetometer rate, 8 or 100.
        mag_calibration: Hard- and soft-iron calibration (or its stored key).
        **kwargs: See :class:`~sensekit.drivers.imu.mpu6050.Mpu6050`.
    """

    name = "mpu9250"
    modes: ClassVar[tuple[str, ...]] = ("nine_axis", "accel_gyro", "accel_only")
    power_model = "mpu9250"
    expected_ids: ClassVar[tuple[int, ...]] = (0x71,)
    accepted_ids: ClassVar[tuple[int, ...]] = (0x71, 0x73, 0x70)
    gyro_modes: ClassVar[tuple[str, ...]] = ("nine_axis", "accel_gyro")

    def __init__(self, url: str, *, mag_rate_hz: float = 8.0,
                 mag_calibration: MagCalibration | str | None = None, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.mag_rate_hz = check_choice(self.describe(), "mag_rate_hz", mag_rate_hz,
                                        sorted(MODE_CONTINUOUS))
        if isinstance(mag_calibration, str):
            from ..calibration import CalibrationStore

            mag_calibration = CalibrationStore().load_mag(mag_calibration)
        self.mag_calibration = mag_calibration
        self._mag_adjust = np.ones(3)
        self._mag_seen = False
        #: Magnetometer samples lost to a magnetometer that did not answer (accel/gyro kept).
        self.mag_lost = 0

    @property
    def nine_axis(self) -> bool:
        return self.mode == "nine_axis"

    def _configure_aux(self) -> None:
        if not self.nine_axis:
            self._write(m.INT_PIN_CFG, compose({m.LATCH_INT_EN: 1}))
            return
        if not self.chip.magnetometer:
            raise ConfigError(f"{self.describe()}: the {self.chip.chip} has no magnetometer, so "
                              "no nine_axis mode; use accel_gyro")
        magnetometer = self._bypass_device()
        self._start_magnetometer(magnetometer)
        self._write(m.INT_PIN_CFG, compose({m.LATCH_INT_EN: 1}))  # bypass off: the master reads
        self._write(m.I2C_MST_CTRL, compose({m.I2C_MST_CLK: m.I2C_MST_CLK_400KHZ}))
        self._write(m.I2C_SLV0_ADDR, compose({m.I2C_SLV0_RNW: 1,
                                              m.I2C_SLV0_ID: AK8963_ADDRESS}))
        self._write(m.I2C_SLV0_REG, ST1.address)
        self._write(m.I2C_SLV0_CTRL, compose({m.I2C_SLV0_EN: 1, m.I2C_SLV0_LENG: EXT_BYTES}))
        skip = max(0, int((self.rate_hz or 100.0) // (2 * self.mag_rate_hz)) - 1)
        self._write(m.I2C_SLV4_CTRL, compose({m.I2C_MST_DLY: min(skip, 31)}))
        self._write(m.I2C_MST_DELAY_CTRL, compose({m.I2C_SLV0_DLY_EN: int(skip > 0)}))
        self._mag_seen = False

    def _bypass_device(self) -> I2CDevice:
        """The AK8963 on the host bus, through the bypass (the master off)."""
        self.regs.write_fields({m.FIFO_ENABLE: 0, m.I2C_MST_EN: 0})
        self.regs.write(m.INT_PIN_CFG, compose({m.I2C_BYPASS_EN: 1}))
        dev = self.device
        mag = I2CDevice(dev.bus, dev.bus_number, AK8963_ADDRESS, name="ak8963",
                        retries=dev.retries, clock=self.clock, route=dev.route,
                        where=f"{self.url.raw} (its magnetometer at 0x0c)")
        if mag.check_present(WIA.address) != WIA_VALUE:
            raise DeviceNotFound(f"{self.describe()}: no AK8963 magnetometer behind the I2C "
                                 "bypass (WIA is not 0x48). Hint: some 'MPU-9250' boards carry "
                                 "an MPU-6500, which has none")
        return mag

    def _start_magnetometer(self, mag: I2CDevice) -> None:
        mag.write_u8(CNTL1.address, MODE_FUSE_ROM)
        asa = np.frombuffer(mag.read_block(ASAX.address, 3), np.uint8).astype(np.float64)
        self._mag_adjust = (asa - 128) * 0.5 / 128 + 1  # AK 8.3.11
        mag.write_u8(CNTL1.address, MODE_POWER_DOWN)
        self.clock.sleep(_MODE_CHANGE_S)
        mag.write_u8(CNTL1.address, compose({OUTPUT_16_BIT: 1,
                                             MODE: MODE_CONTINUOUS[self.mag_rate_hz]}))
        self.clock.sleep(1.0 / self.mag_rate_hz)  # the first measurement, before the FIFO starts

    def _power_down_magnetometer(self) -> None:
        if self.chip.magnetometer:
            self._bypass_device().write_u8(CNTL1.address, MODE_POWER_DOWN)

    def _aux_user_bits(self) -> dict[Any, int]:
        return {m.I2C_MST_EN: 1} if self.nine_axis else {}

    def _fifo_layout(self, gyros: bool) -> int:
        if not self.nine_axis:
            return super()._fifo_layout(gyros)
        self._write(m.FIFO_EN, compose({m.ACCEL_FIFO_EN: 1, m.GYRO_FIFO_EN: m.ALL_AXES,
                                        m.SLV0_FIFO_EN: 1}))
        return 12 + EXT_BYTES

    def _configure(self) -> None:
        if not self.nine_axis and self.chip.magnetometer and self.is_open:
            self._power_down_magnetometer()
        super()._configure()

    def _after_drain(self) -> dict[str, Any]:
        if not self.nine_axis:
            return {}
        status = self.device.read_u8(m.I2C_MST_STATUS.address, repeatable=False)
        return {"mag_nack": bool(m.I2C_SLV0_NACK.get(status))}

    def _more_fields(self, rows: Any, extra: dict[str, Any]) -> dict[str, Any]:
        if not self.nine_axis:
            return {}
        ext = rows[:, 12:12 + EXT_BYTES]
        raw = ext[:, 1:7].copy().view("<i2").astype(np.float64)
        ak = raw * self._mag_adjust * UT_PER_LSB_16
        mag = np.stack([ak[:, 1], ak[:, 0], -ak[:, 2]], axis=1)   # PS sec. 9.1 axes
        fresh = DRDY.get_array(ext[:, 0])
        seen = np.maximum.accumulate(fresh | self._mag_seen)
        self._mag_seen = bool(seen[-1]) if len(seen) else self._mag_seen
        bad = (HOFL.get_array(ext[:, 7]) == 1) | (seen == 0)
        if extra.get("mag_nack"):
            self.mag_lost += len(rows)
            bad[:] = True
        mag[bad] = np.nan
        if self.mag_calibration is not None:
            mag = self.mag_calibration.apply(mag)
        return {"mag_ut": mag.astype(np.float32)}

    # -- self-test of the magnetometer ------------------------------------------------------
    def magnetometer_self_test(self) -> tuple[bool, tuple[float, float, float]]:
        """The AK8963's self-test (AK sec. 6.4.6): its generated field, adjusted, in LSB, and
        whether each axis is within the datasheet's limits."""
        self._check_open()
        with self.device.lock:
            self._flush()
            try:
                mag = self._bypass_device()
                mag.write_u8(CNTL1.address, MODE_POWER_DOWN)
                mag.write_u8(ASTC.address, SELF.value(1))
                mag.write_u8(CNTL1.address, compose({OUTPUT_16_BIT: 1, MODE: MODE_SELF_TEST}))
                self.clock.sleep(0.01)
                while not DRDY.get(mag.read_u8(ST1.address)):
                    self.clock.sleep(0.001)
                data = mag.read_block(HXL.address, 7)
                mag.write_u8(ASTC.address, 0)
                raw = np.frombuffer(data[:6], "<i2").astype(np.float64) * self._mag_adjust
                ok = all(lo <= v <= hi for v, (lo, hi) in zip(raw, SELF_TEST_LIMITS,
                                                               strict=True))
                return ok, (float(raw[0]), float(raw[1]), float(raw[2]))
            finally:
                self._configure()
