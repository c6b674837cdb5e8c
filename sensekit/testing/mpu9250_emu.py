"""An emulated MPU-9250 (or MPU-9255): the InvenSense emulator with the chip's own map, and its
AK8963 magnetometer, reached through the host's I2C bypass or read by the host's auxiliary I2C
master into EXT_SENS_DATA and the FIFO with its own timing.

Feeding it: ``Mpu9250Emulator(motion=..., field=lambda t: ...)`` where ``field`` gives the
magnetic flux density in uT in the accel/gyro body frame, (N, 3) for N times in seconds since
attach (default: a constant 20 uT north, 44 uT down, roughly central Europe; or
:func:`tumbling_field`, ``emu://?field=tumble&tumble_s=1&iron=20,-10,5``, a device turned through
every orientation with hard and soft iron). Adding the emulator to an
:class:`~sensekit.buses.emulated.EmulatedBus` adds the magnetometer too.

AK8963 (Asahi Kasei "AK8963 3-axis Electronic Compass", MS1356-E-02): WIA 0x48 (sec. 8.3.1);
ST1 DRDY bit 0, DOR bit 1 (8.3.3); HXL..HZH little-endian (8.3.4), 0.15 uT/LSB in 16-bit output
(0.6 in 14-bit); ST2 HOFL bit 3, BITM bit 4, reading it ends a read and clears DRDY (8.3.5);
CNTL1 BIT bit 4 and MODE bits 3:0: power-down 0000, continuous 1 0010 (8 Hz), continuous 2
0110 (100 Hz), self-test 1000, fuse ROM 1111 (8.3.6); CNTL2 SRST (8.3.7); ASTC SELF bit 6
(8.3.8); ASAX..Z in fuse-ROM mode (8.3.11), ``Hadj = H x ((ASA - 128) x 0.5 / 128 + 1)``; in
self-test mode a field is generated inside the part (sec. 6.4.6; 16-bit limits X, Y -200..200,
Z -3200..-800 LSB after adjustment). Axes (PS-MPU-9250A-01 Rev 1.0 sec. 9.1): magnetometer x is
the accelerometer's y, y its x, z its -z.

The auxiliary master (RM-MPU-9250A-00 Rev 1.6 pp. 19-27): with USER_CTRL.I2C_MST_EN, at each
sample (every 1 + I2C_MST_DLY samples when I2C_SLV0_DLY_EN) it reads I2C_SLV0_LENG bytes from
the part at I2C_SLV0_ADDR from register I2C_SLV0_REG into EXT_SENS_DATA_00.., which the FIFO then
carries when FIFO_EN.SLV_0 is set; a part that does not acknowledge leaves the data as it was
and sets I2C_MST_STATUS.I2C_SLV0_NACK. The bypass (INT_PIN_CFG.BYPASS_EN) puts the AK8963 on
the host's bus only while the master is off.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from .i2c_devices import ByteRegisterDevice
from .mpu6050_emu import (
    BYPASS_EN,
    I2C_MST_STATUS,
    MST_DLY,
    MST_EN,
    SLV0_DLY_EN,
    SLV0_EN,
    SLV0_ID,
    SLV0_LEN,
    SLV0_NACK,
    SLV0_RNW,
    Mpu6050Emulator,
)
from .regs import Bits

__all__ = ["Ak8963Emulator", "Mpu9250Emulator", "earth_field", "tumbling_field"]

FieldFn = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]
I2C_SLV0_REG = 0x26

AK_ADDRESS = 0x0C
WIA, INFO, ST1, HXL, ST2, CNTL1, CNTL2, ASTC, ASAX = 0x00, 0x01, 0x02, 0x03, 0x09, 0x0A, 0x0B, \
    0x0C, 0x10
DRDY, DOR = Bits(ST1, 0), Bits(ST1, 1)
HOFL, BITM = Bits(ST2, 3), Bits(ST2, 4)
OUTPUT_BIT, MODE = Bits(CNTL1, 4), Bits(CNTL1, 3, 0)
SRST, SELF = Bits(CNTL2, 0), Bits(ASTC, 6)
POWER_DOWN, CONTINUOUS_1, CONTINUOUS_2, SELF_TEST, FUSE_ROM = 0b0000, 0b0010, 0b0110, \
    0b1000, 0b1111
RATES_HZ = {CONTINUOUS_1: 8.0, CONTINUOUS_2: 100.0}
UT_PER_LSB = {1: 0.15, 0: 0.6}            # 16-bit, 14-bit output
LIMIT = {1: 32760, 0: 8190}               # measurement range in LSB
#: The field the part makes for its self-test, raw LSB at 16 bits (within the limits).
SELF_TEST_FIELD = (-30.0, 45.0, -1600.0)


def earth_field(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A constant field: 20 uT along x, 44 uT down (-z), as a level device facing north."""
    return np.tile([20.0, 0.0, -44.0], (len(t), 1))


def tumbling_field(period_s: float = 2.0, hard_iron: tuple[float, float, float] = (0, 0, 0),
                   soft_iron: npt.ArrayLike | None = None) -> FieldFn:
    """The Earth's field seen by a device tumbling through every orientation once per
    ``period_s`` (a spiral over the sphere and back), bent by fixed hard and soft iron: what a
    magnetometer calibration turns into a sphere."""
    soft = np.eye(3) if soft_iron is None else np.asarray(soft_iron, np.float64)
    offset = np.asarray(hard_iron, np.float64)

    def field(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        phase = np.mod(np.asarray(t, np.float64) / period_s, 1.0)
        z = np.cos(np.pi * np.abs(2 * phase - 1))           # pole to pole and back
        angle = 2 * np.pi * 9 * phase                         # nine turns on the way
        r = np.sqrt(np.clip(1 - z * z, 0, 1))
        true = 48.0 * np.stack([r * np.cos(angle), r * np.sin(angle), z], axis=1)
        out: npt.NDArray[np.float64] = true @ soft.T + offset
        return out

    return field


class Ak8963Emulator(ByteRegisterDevice):
    """The AK8963 inside an MPU-9250."""

    default_address = AK_ADDRESS
    size = 0x13
    resets: ClassVar[dict[int, int]] = {WIA: 0x48, INFO: 0x9A}

    def __init__(self, host: Mpu9250Emulator, field: FieldFn | None = None,
                 asa: tuple[int, int, int] = (176, 177, 165)) -> None:
        self.host = host
        self.field: FieldFn = field or earth_field
        self.asa = asa
        self._start_ns = 0.0
        self._read_j = 0          # the measurement the last read ended
        self.nacks_left = 0
        self.master_reads = 0
        super().__init__()

    def power_on_reset(self) -> None:
        super().power_on_reset()
        self._read_j = 0

    # -- measurements ----------------------------------------------------------------------
    def _rate(self) -> float | None:
        return RATES_HZ.get(MODE.of(self.regs[CNTL1]))

    def measured(self, t_ns: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """The number of measurements completed by each time (0 before the first)."""
        rate = self._rate()
        if rate is None:
            return np.zeros(len(t_ns), np.int64)
        return np.maximum(0, ((t_ns - self._start_ns) * rate // 1e9)).astype(np.int64)

    def output(self, j: npt.NDArray[np.int64]) -> npt.NDArray[np.int16]:
        """The data registers after measurement ``j`` (raw, in the part's axes)."""
        rate = self._rate() or 1.0
        t_s = self.seconds(self._start_ns + j * 1e9 / rate)
        body = np.asarray(self.field(np.asarray(t_s, np.float64)), np.float64).reshape(-1, 3)
        ak = np.stack([body[:, 1], body[:, 0], -body[:, 2]], axis=1)
        adjust = (np.asarray(self.asa, np.float64) - 128) * 0.5 / 128 + 1
        bits16 = OUTPUT_BIT.of(self.regs[CNTL1])
        raw = np.round(ak / UT_PER_LSB[bits16] / adjust)
        return np.clip(raw, -LIMIT[bits16], LIMIT[bits16]).astype(np.int16)

    def _block(self, j: int, drdy: bool) -> bytes:
        """ST1, the six data bytes and ST2 after measurement ``j``."""
        bits16 = OUTPUT_BIT.of(self.regs[CNTL1])
        data = self.output(np.array([j]))[0] if j else np.zeros(3, np.int16)
        st1 = DRDY.into(0, int(drdy))
        st2 = BITM.into(0, bits16)
        return bytes([st1]) + data.astype("<i2").tobytes() + bytes([st2])

    def update(self) -> None:
        mode = MODE.of(self.regs[CNTL1])
        if mode == SELF_TEST:
            raw = np.round(np.asarray(SELF_TEST_FIELD) / self._adjust()).astype("<i2")
            self.regs[HXL:HXL + 6] = raw.tobytes()
            self.regs[ST1] = DRDY.into(0, 1)
            self.regs[CNTL1] = MODE.into(self.regs[CNTL1], POWER_DOWN)  # one shot
            return
        if self.clock is None or self._rate() is None:
            return
        j = int(self.measured(np.array([float(self.now_ns())]))[0])
        if j > self._read_j:
            block = self._block(j, True)
            if DRDY.of(self.regs[ST1]) and j > self._read_j + 1:
                block = bytes([DOR.into(block[0], 1)]) + block[1:]
            self.regs[ST1:ST2 + 1] = block

    def _adjust(self) -> npt.NDArray[np.float64]:
        return np.asarray((np.asarray(self.asa, np.float64) - 128) * 0.5 / 128 + 1)

    # -- the master's reads ------------------------------------------------------------------
    def master_read(self, reg: int, length: int, t_ns: float) -> bytes | None:
        """What the host's master reads at ``t_ns`` (None: no acknowledge)."""
        self.master_reads += 1
        if self.nacks_left > 0:
            self.nacks_left -= 1
            return None
        if reg != ST1 or self._rate() is None:
            return bytes(self.regs[reg:reg + length]).ljust(length, b"\0")
        j = int(self.measured(np.array([t_ns]))[0])
        block = self._block(j, j > self._read_j)
        self._read_j = j  # reading through ST2 ends the read
        return block[:length]

    # -- register behaviour ----------------------------------------------------------------
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
        if ASAX <= reg <= ASAX + 2:
            fuse = MODE.of(self.regs[CNTL1]) == FUSE_ROM
            return self.asa[reg - ASAX] if fuse else 0
        if reg == ST2:
            self.regs[ST1] = 0  # reading ST2 ends the read
            self._read_j = int(self.measured(np.array([float(self.now_ns())]))[0])
        return self.regs[reg]

    def write_register(self, reg: int, value: int) -> None:
        if reg == CNTL1:
            self.regs[reg] = value
            self._start_ns, self._read_j = float(self.now_ns()), 0
        elif reg == CNTL2 and SRST.of(value):
            self.power_on_reset()
        elif reg == ASTC:
            self.regs[reg] = value


class Mpu9250Emulator(Mpu6050Emulator):
    """The MPU-9250 behind an emulated bus, with its magnetometer as a companion part.

    Args:
        field: Magnetic flux density (uT, body frame) as a function of seconds.
        asa: The magnetometer's fuse-ROM sensitivity adjustment values.
        **kwargs: See :class:`~sensekit.testing.mpu6050_emu.Mpu6050Emulator` (``chip``
            ``mpu9250`` by default, or ``mpu9255``, ``mpu6500``: the last has no magnetometer).
    """

    default_chip = "mpu9250"

    def __init__(self, *, field: FieldFn | None = None,
                 asa: tuple[int, int, int] = (176, 177, 165), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.magnetometer = Ak8963Emulator(self, field, asa)
        has_mag = self.chip.who_am_i != 0x70
        self.companions = (self.magnetometer,) if has_mag else ()
        self._last_ext = bytes(8)
        self._reads_done = 0

    @classmethod
    def _kwargs_from_options(cls, options: dict[str, str]) -> dict[str, Any]:
        kwargs = super()._kwargs_from_options(options)
        if options.pop("field", None) == "tumble":  # emu://?field=tumble&tumble_s=1&iron=5,-3,2
            period = float(options.pop("tumble_s", "2.0"))
            iron = tuple(float(v) for v in options.pop("iron", "0,0,0").split(","))
            kwargs["field"] = tumbling_field(period, (iron[0], iron[1], iron[2]),
                                             np.diag([1.15, 0.9, 1.0]))
        return kwargs

    @property
    def bypass(self) -> bool:
        """INT_PIN_CFG.BYPASS_EN on and the I2C master off (RM-MPU-9250A-00 p. 29)."""
        return bool(self._get(BYPASS_EN)) and not self._get(MST_EN)

    def power_on_reset(self) -> None:
        super().power_on_reset()
        if hasattr(self, "magnetometer"):
            self.magnetometer.power_on_reset()

    def _aux_rows(self, t_ns: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8] | None:
        if not (self._get(SLV0_EN) and self._get(SLV0_RNW)):
            return None
        length = self._get(SLV0_LEN)
        every = 1 + self._get(MST_DLY) if self._get(SLV0_DLY_EN) else 1
        target = self.magnetometer if (self.companions and self._get(SLV0_ID) ==
                                       self.magnetometer.address) else None
        rows = np.empty((len(t_ns), length), np.uint8)
        for i, t in enumerate(t_ns):
            if self._reads_done % every == 0:
                got = None if target is None else target.master_read(
                    self.regs[I2C_SLV0_REG], length, float(t))
                if got is None:
                    self.regs[I2C_MST_STATUS] = SLV0_NACK.into(self.regs[I2C_MST_STATUS], 1)
                else:
                    self._last_ext = got
            self._reads_done += 1
            rows[i] = np.frombuffer(self._last_ext.ljust(length, b"\0")[:length], np.uint8)
        return rows
