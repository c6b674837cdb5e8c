"""An emulated InvenSense MPU-6050 (or MPU-6500, MPU-9250, MPU-9255, ICM-20689), encoded from the
register maps, answering register reads and writes as the part does.

Nothing here comes from the drivers: the chip tables below are typed from the documents (the
"witness" tests compare them with the drivers' own). Sources: RM-MPU-6000A-00 Rev 4.2 and Rev
2.0 (motion detection), PS-MPU-6000A-00 Rev 3.4, RM-MPU-9250A-00 Rev 1.6, PS-MPU-9250A-01 Rev
1.0, TDK DS-000143 (ICM-20689).

What it models: WHO_AM_I per chip; power-on values (PWR_MGMT_1 0x40, asleep, on the MPU-6050
and ICM-20689; 0x01 on the MPU-6500/9250/9255) and DEVICE_RESET; SLEEP, CYCLE and the low-power
wake rates; SMPLRT_DIV over the 8 kHz (DLPF off) or 1 kHz gyro output rate; full-scale ranges;
white noise at the datasheet densities over the filter bandwidth (ACCEL_CONFIG2 sets the
accelerometer's on the 6500 family, CONFIG's DLPF_CFG on the MPU-6050); the gyros' start-up,
settling from 10 deg/s off to their zero-rate output over the datasheet's start-up time after
they are powered (PS 3.4 sec. 6.1: ZRO settling 50 ms; PS-MPU-9250 Table 1: 35 ms from sleep);
the FIFO of the chip's size with FIFO_EN columns in register order (accel, temp, gyro, then the
auxiliary master's data), FIFO_COUNT, a burst read of FIFO_R_W that drains it byte by byte (so
a transfer that breaks part-way has taken its bytes), FIFO_RESET, and on overflow the loss of
the oldest bytes (or, on the 6500 family with CONFIG.FIFO_MODE, of the newest) and INT_STATUS
bit 4; the motion engine (MPU-6050: ACCEL_HPF high-pass or hold, MOT_THR at 32 mg, a duration
counter up per moving sample and down by MOT_COUNT's step, the interrupt at MOT_DUR; 6500
family: each sample against the previous one at WOM_THR x 4 mg); the INT pin (INT_LEVEL,
LATCH_INT_EN); the self-test actuation (the factory's response per the RM formulas, from the
codes in the SELF_TEST registers); power loss (:meth:`power_on_reset`).

Time: the part's sample clock runs ``clock_ppm`` fast (positive) or slow relative to the bus's
clock. Samples that exist at ``clock.now_ns()`` are made, vectorised, whenever the part is
accessed; nothing ticks in between.

Feeding it::

    def walk(t):                                # t: (N,) seconds since the part was attached
        accel = np.zeros((len(t), 3)); accel[:, 2] = 9.80665 + 0.5 * np.sin(2 * np.pi * t)
        return accel, np.zeros((len(t), 3))     # m/s^2 and rad/s in the body frame
    emu = Mpu6050Emulator(motion=walk, clock_ppm=8000)
    emu = Mpu6050Emulator(chip="icm20689")      # a GY-521 board that carries an ICM-20689
    imu = sensekit.open("mpu6050", "emu://", emulator=emu)

URL options for ``emu://``: ``chip``, ``clock_ppm``, ``seed``, ``noise`` (0 turns it off),
``address``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ..clock import Clock
from .i2c_devices import ByteRegisterDevice, _float_option
from .regs import Bits

__all__ = ["CHIPS", "MotionTrace", "Mpu6050Emulator", "still"]

FloatArray = npt.NDArray[np.float64]
Motion = Callable[[FloatArray], tuple[FloatArray, FloatArray]]
STANDARD_G = 9.80665


def still(t: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Lying flat and still: +1 g on z, no rotation."""
    accel = np.zeros((len(t), 3))
    accel[:, 2] = STANDARD_G
    return accel, np.zeros((len(t), 3))


@dataclass(frozen=True)
class MotionTrace:
    """A recorded or simulated trajectory, linearly interpolated (held at the ends, or looped)."""

    t_s: FloatArray
    accel_mps2: FloatArray
    gyro_rads: FloatArray
    loop: bool = False

    def __call__(self, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        tt = np.asarray(t, np.float64)
        if self.loop:
            span = float(self.t_s[-1] - self.t_s[0])
            tt = self.t_s[0] + np.mod(tt - self.t_s[0], span)
        accel = np.stack([np.interp(tt, self.t_s, self.accel_mps2[:, i]) for i in range(3)], 1)
        gyro = np.stack([np.interp(tt, self.t_s, self.gyro_rads[:, i]) for i in range(3)], 1)
        return accel, gyro


@dataclass(frozen=True)
class Chip:
    """One chip as its documents describe it."""

    who_am_i: int
    family: str
    fifo_bytes: int
    pwr_mgmt_1_reset: int
    temp_lsb_per_c: float
    temp_c_at_zero: float
    gyro_settle_s: float
    #: Accelerometer -3 dB bandwidth per DLPF code (6050: CONFIG; 6500: ACCEL_CONFIG2).
    accel_bw: dict[int, float]
    gyro_bw: dict[int, float]
    #: Low-power wake rates per code (6050: LP_WAKE_CTRL; 6500: LP_ACCEL_ODR).
    wake_hz: dict[int, float] = field(default_factory=dict)


_BW_6050 = {0: 260.0, 1: 184.0, 2: 94.0, 3: 44.0, 4: 21.0, 5: 10.0, 6: 5.0, 7: 260.0}
_GYRO_6050 = {0: 256.0, 1: 188.0, 2: 98.0, 3: 42.0, 4: 20.0, 5: 10.0, 6: 5.0, 7: 256.0}
_ACC_6500 = {0: 218.1, 1: 218.1, 2: 99.0, 3: 44.8, 4: 21.2, 5: 10.2, 6: 5.05, 7: 420.0}
_GYRO_6500 = {0: 250.0, 1: 184.0, 2: 92.0, 3: 41.0, 4: 20.0, 5: 10.0, 6: 5.0, 7: 3600.0}
_WAKE_6500 = {0: 0.24, 1: 0.49, 2: 0.98, 3: 1.95, 4: 3.91, 5: 7.81, 6: 15.63, 7: 31.25,
              8: 62.5, 9: 125.0, 10: 250.0, 11: 500.0}
CHIPS: dict[str, Chip] = {
    "mpu6050": Chip(0x68, "6050", 1024, 0x40, 340.0, 36.53, 0.050, _BW_6050, _GYRO_6050,
                    {0: 1.25, 1: 5.0, 2: 20.0, 3: 40.0}),
    "mpu6500": Chip(0x70, "6500", 512, 0x01, 333.87, 21.0, 0.035, _ACC_6500, _GYRO_6500,
                    _WAKE_6500),
    "mpu9250": Chip(0x71, "6500", 512, 0x01, 333.87, 21.0, 0.035, _ACC_6500, _GYRO_6500,
                    _WAKE_6500),
    "mpu9255": Chip(0x73, "6500", 512, 0x01, 333.87, 21.0, 0.035, _ACC_6500, _GYRO_6500,
                    _WAKE_6500),
    "icm20689": Chip(0x98, "6500", 4096, 0x40, 326.8, 25.0, 0.035,
                     {**_ACC_6500, 6: 5.1},
                     {0: 250.0, 1: 176.0, 2: 92.0, 3: 41.0, 4: 20.0, 5: 10.0, 6: 5.0,
                      7: 3281.0}),
}

# -- registers, typed from the maps -----------------------------------------------------------
SMPLRT_DIV, CONFIG, GYRO_CONFIG, ACCEL_CONFIG, ACCEL_CONFIG2, LP_ACCEL_ODR = range(0x19, 0x1F)
MOT_THR, MOT_DUR, FIFO_EN, I2C_MST_CTRL = 0x1F, 0x20, 0x23, 0x24
I2C_SLV0_ADDR, I2C_SLV0_REG, I2C_SLV0_CTRL = 0x25, 0x26, 0x27
I2C_SLV4_CTRL, I2C_MST_STATUS, INT_PIN_CFG, INT_ENABLE, INT_STATUS = 0x34, 0x36, 0x37, 0x38, 0x3A
ACCEL_XOUT_H, EXT_SENS_DATA_00 = 0x3B, 0x49
I2C_MST_DELAY_CTRL, MOT_DETECT_CTRL, USER_CTRL, PWR_MGMT_1, PWR_MGMT_2 = 0x67, 0x69, 0x6A, \
    0x6B, 0x6C
FIFO_COUNTH, FIFO_COUNTL, FIFO_R_W, WHO_AM_I = 0x72, 0x73, 0x74, 0x75
DLPF_CFG, FIFO_MODE = Bits(CONFIG, 2, 0), Bits(CONFIG, 6)
GYRO_ST, FS_SEL = Bits(GYRO_CONFIG, 7, 5), Bits(GYRO_CONFIG, 4, 3)
ACCEL_ST, AFS_SEL, ACCEL_HPF = Bits(ACCEL_CONFIG, 7, 5), Bits(ACCEL_CONFIG, 4, 3), \
    Bits(ACCEL_CONFIG, 2, 0)
A_DLPF_CFG, LPOSC = Bits(ACCEL_CONFIG2, 2, 0), Bits(LP_ACCEL_ODR, 3, 0)
TEMP_OUT, XG_OUT, YG_OUT, ZG_OUT, ACCEL_OUT = (Bits(FIFO_EN, b) for b in (7, 6, 5, 4, 3))
SLV0_OUT = Bits(FIFO_EN, 0)
SLV0_RNW, SLV0_ID = Bits(I2C_SLV0_ADDR, 7), Bits(I2C_SLV0_ADDR, 6, 0)
SLV0_EN, SLV0_LEN = Bits(I2C_SLV0_CTRL, 7), Bits(I2C_SLV0_CTRL, 3, 0)
MST_DLY, SLV0_DLY_EN = Bits(I2C_SLV4_CTRL, 4, 0), Bits(I2C_MST_DELAY_CTRL, 0)
SLV0_NACK = Bits(I2C_MST_STATUS, 0)
INT_LEVEL, LATCH_INT_EN, BYPASS_EN = Bits(INT_PIN_CFG, 7), Bits(INT_PIN_CFG, 5), \
    Bits(INT_PIN_CFG, 1)
MOT_BIT, FIFO_OFLOW_BIT, DATA_RDY_BIT = Bits(INT_STATUS, 6), Bits(INT_STATUS, 4), \
    Bits(INT_STATUS, 0)
MST_INT_BIT = Bits(INT_STATUS, 3)
#: SELF_TEST_X/Y/Z [7:5] and SELF_TEST_A [5:4], [3:2], [1:0]: the MPU-6050's 5-bit accel codes;
#: SELF_TEST_X/Y/Z [4:0]: its gyro codes (RM 4.2 sec. 4.1, p. 9).
ST_ACCEL_HIGH = tuple(Bits(0x0D + i, 7, 5) for i in range(3))
ST_ACCEL_LOW = (Bits(0x10, 5, 4), Bits(0x10, 3, 2), Bits(0x10, 1, 0))
ST_GYRO = tuple(Bits(0x0D + i, 4, 0) for i in range(3))
#: XA/YA/ZA_ST and XG/YG/ZG_ST: bits 7, 6, 5 of ACCEL_CONFIG and GYRO_CONFIG.
ST_ACCEL_AXIS = tuple(Bits(ACCEL_CONFIG, 7 - i) for i in range(3))
ST_GYRO_AXIS = tuple(Bits(GYRO_CONFIG, 7 - i) for i in range(3))
MOT_COUNT, INTEL_EN, INTEL_MODE = Bits(MOT_DETECT_CTRL, 1, 0), Bits(MOT_DETECT_CTRL, 7), \
    Bits(MOT_DETECT_CTRL, 6)
FIFO_ON, MST_EN, FIFO_RST = Bits(USER_CTRL, 6), Bits(USER_CTRL, 5), Bits(USER_CTRL, 2)
SIG_RST = Bits(USER_CTRL, 0)
DEVICE_RESET, SLEEP, CYCLE = Bits(PWR_MGMT_1, 7), Bits(PWR_MGMT_1, 6), Bits(PWR_MGMT_1, 5)
LP_WAKE_CTRL, STBY_XYZ_G = Bits(PWR_MGMT_2, 7, 6), Bits(PWR_MGMT_2, 2, 0)
READ_ONLY = frozenset({INT_STATUS, I2C_MST_STATUS, FIFO_COUNTH, FIFO_COUNTL, WHO_AM_I,
                       *range(ACCEL_XOUT_H, EXT_SENS_DATA_00 + 24)})
#: LSB per g and per deg/s for AFS_SEL / FS_SEL 0..3 (PS 3.4 Tables 6.1-6.2; PS-MPU-9250 alike).
LSB_PER_G = (16384.0, 8192.0, 4096.0, 2048.0)
LSB_PER_DPS = (131.0, 65.5, 32.8, 16.4)
#: 32 mg (MPU-6050 MOT_THR, PS 3.4 p. 13) and 4 mg (6500-family WOM_THR, RM9 1.6 p. 17) per LSB.
MOT_G_PER_LSB, WOM_G_PER_LSB = 0.032, 0.004
#: ACCEL_HPF cut-off per code (RM 2.0 sec. 4.5); 7 holds, 0 resets the filter to 0.
HPF_HZ = {1: 5.0, 2: 2.5, 3: 1.25, 4: 0.63}
#: MOT_COUNT step down per still sample: 0 resets the counter (RM 2.0 sec. 4.27).
MOT_DECREMENT = {1: 1, 2: 2, 3: 4}
ACCEL_NOISE_G, GYRO_NOISE_DPS = 400e-6, 0.005    # per sqrt(Hz), PS 3.4 Tables 6.1-6.2
#: Factory self-test codes this emulated part was trimmed with (SELF_TEST registers).
SELF_TEST_6050 = (0b011_01110, 0b100_10001, 0b011_01011, 0b00_10_01_11)   # X, Y, Z, A
SELF_TEST_6500_GYRO = (172, 178, 190)
SELF_TEST_6500_ACCEL = (167, 170, 181)
GYRO_SETTLE_OFFSET_DPS = 10.0


class Mpu6050Emulator(ByteRegisterDevice):
    """An InvenSense IMU behind an emulated bus (see the module docstring).

    Args:
        chip: ``mpu6050``, ``mpu6500``, ``mpu9250``, ``mpu9255`` or ``icm20689``.
        motion: Body-frame motion as a function of seconds since the part was attached, or a
            :class:`MotionTrace`; default :func:`still`.
        clock_ppm: How fast the part's sample clock runs (+8000 = 0.8 % fast).
        noise: Add white noise at the datasheet's densities.
        seed: Noise generator seed.
        temp_c: Die temperature the part reports.
        record_truth: Keep the true time of every sample pushed into the FIFO (:attr:`truth_ns`).
        self_test_scale: How the part's self-test response compares with its factory figure
            (1.0 a healthy part; 0.5 a damaged one).
        address: 0x68 (AD0 low) or 0x69 (AD0 high).
    """

    default_address = 0x68
    default_chip: ClassVar[str] = "mpu6050"

    def __init__(self, *, chip: str | None = None, motion: Motion | None = None,
                 clock_ppm: float = 0.0, noise: bool = True, seed: int | None = 0,
                 temp_c: float = 25.0, record_truth: bool = False, self_test_scale: float = 1.0,
                 address: int | None = None) -> None:
        self.chip = CHIPS[chip or self.default_chip]
        self._power_on = {PWR_MGMT_1: self.chip.pwr_mgmt_1_reset, WHO_AM_I: self.chip.who_am_i,
                          **self._self_test_codes()}
        self.no_increment = frozenset({FIFO_R_W})
        self.motion: Motion = motion or still
        self.clock_ppm = clock_ppm
        self.noise = noise
        self.rng = np.random.default_rng(seed)
        self.temp_c = temp_c
        self.record_truth = record_truth
        self.self_test_scale = self_test_scale
        self.truth: list[npt.NDArray[np.int64]] = []
        self.fifo = bytearray()
        self.fifo_pushed = 0            # samples ever pushed into the FIFO whole
        self.fifo_bytes_lost = 0        # bytes dropped on overflow
        self.samples_made = 0
        self._last_fifo_byte = 0
        self._count_latch = 0
        self._epoch_ns: int | None = None
        self._k_done = 0
        self._gyro_on_ns = 0
        self._gyros_powered = False
        self._hpf_state: FloatArray | None = None
        self._held_g: FloatArray | None = None
        self._prev_g: FloatArray | None = None
        self._mot_counter = 0
        super().__init__(address=address)

    @classmethod
    def _kwargs_from_options(cls, options: dict[str, str]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"clock_ppm": _float_option(options, "clock_ppm", 0.0)}
        if "chip" in options:
            kwargs["chip"] = options.pop("chip")
        if "seed" in options:
            kwargs["seed"] = int(options.pop("seed"))
        if "noise" in options:
            kwargs["noise"] = options.pop("noise") not in ("0", "false", "no", "off")
        return kwargs

    def reset_registers(self) -> None:
        self.regs[:] = bytes(self.size)
        for reg, value in self._power_on.items():
            self.regs[reg] = value

    def _self_test_codes(self) -> dict[int, int]:
        if self.chip.family == "6050":
            return dict(zip(range(0x0D, 0x11), SELF_TEST_6050, strict=True))
        return {**dict(zip(range(0x00, 0x03), SELF_TEST_6500_GYRO, strict=True)),
                **dict(zip(range(0x0D, 0x10), SELF_TEST_6500_ACCEL, strict=True))}

    # -- state as the registers say ------------------------------------------------------
    def _get(self, bits: Bits) -> int:
        return bits.of(self.regs[bits.reg])

    @property
    def sleeping(self) -> bool:
        return bool(self._get(SLEEP))

    @property
    def cycling(self) -> bool:
        return bool(self._get(CYCLE)) and not self.sleeping

    @property
    def gyros_on(self) -> bool:
        return not self.sleeping and not self.cycling and self._get(STBY_XYZ_G) != 0b111

    @property
    def rate_hz(self) -> float:
        """The rate samples are made at now (sample rate, or the cycle-mode wake rate)."""
        if self.cycling:
            code = self._get(LP_WAKE_CTRL) if self.chip.family == "6050" else self._get(LPOSC)
            return self.chip.wake_hz.get(code, 1.0)
        base = 8000.0 if self._get(DLPF_CFG) in (0, 7) else 1000.0
        return base / (1 + self.regs[SMPLRT_DIV])

    @property
    def period_ns(self) -> float:
        """The true sample period, with the part's clock error."""
        return 1e9 / self.rate_hz / (1 + self.clock_ppm * 1e-6)

    def sample_time_ns(self, k: npt.NDArray[np.int64]) -> FloatArray:
        """True host times of samples ``k`` (counted from the last restart of sampling)."""
        assert self._epoch_ns is not None
        return self._epoch_ns + (np.asarray(k, np.float64) + 1) * self.period_ns

    def _restart_sampling(self) -> None:
        """Sampling (re)starts now, e.g. after a wake or a rate change."""
        self._epoch_ns = None if self.sleeping else self.now_ns()
        self._k_done = 0
        self._hpf_state = None
        if self.gyros_on and not self._gyros_powered:
            self._gyro_on_ns = self.now_ns()   # the gyros were just powered: they settle
        self._gyros_powered = self.gyros_on

    def power_on_reset(self) -> None:
        super().power_on_reset()
        self.fifo.clear()
        self._mot_counter = 0
        self._gyros_powered = False
        if self.clock is not None:
            self._restart_sampling()

    def attach(self, clock: Clock) -> None:
        super().attach(clock)
        self._restart_sampling()

    # -- making samples ------------------------------------------------------------------
    def update(self) -> None:
        if self._epoch_ns is None or self.clock is None:
            return
        k_now = int((self.now_ns() - self._epoch_ns) // self.period_ns)
        new = k_now - self._k_done
        if new <= 0:
            return
        per_sample = max(len(self._fifo_columns()), 1)
        keep = min(new, self.chip.fifo_bytes // per_sample + 2)  # older ones were overwritten
        if new > keep:
            self._account_unseen(new - keep, per_sample)
        self._make(np.arange(k_now - keep, k_now, dtype=np.int64))
        self._k_done = k_now

    def _account_unseen(self, count: int, per_sample: int) -> None:
        """Samples made while nobody looked, older than what the FIFO can still hold."""
        self.samples_made += count
        if self._get(FIFO_ON) and per_sample:
            if self.record_truth:
                k = np.arange(self._k_done, self._k_done + count, dtype=np.int64)
                self.truth.append(np.round(self.sample_time_ns(k)).astype(np.int64))
            self.fifo_pushed += count
            self.fifo_bytes_lost += count * per_sample + len(self.fifo)
            self.regs[INT_STATUS] |= FIFO_OFLOW_BIT.bit()
            self.fifo.clear()

    def _make(self, k: npt.NDArray[np.int64]) -> None:
        t_ns = self.sample_time_ns(k)
        accel, gyro = self.motion(self.seconds(t_ns))
        accel_g = np.asarray(accel, np.float64) / STANDARD_G
        gyro_dps = np.degrees(np.asarray(gyro, np.float64))
        raw = self._to_raw(accel_g, gyro_dps, t_ns)
        self.samples_made += len(k)
        self.regs[ACCEL_XOUT_H:ACCEL_XOUT_H + 14] = raw[-1].astype(">i2").tobytes()
        status = DATA_RDY_BIT.bit()
        if self._motion_detected(accel_g):
            status |= MOT_BIT.bit()
        self.regs[INT_STATUS] |= status
        ext = self._aux_rows(t_ns) if self._get(MST_EN) else None
        if ext is not None and len(ext):
            self.regs[EXT_SENS_DATA_00:EXT_SENS_DATA_00 + ext.shape[1]] = ext[-1].tobytes()
        if self._get(FIFO_ON):
            self._push(raw, ext, t_ns)

    def _to_raw(self, accel_g: FloatArray, gyro_dps: FloatArray,
                t_ns: FloatArray) -> npt.NDArray[np.int16]:
        n = len(accel_g)
        a_lsb, g_lsb = LSB_PER_G[self._get(AFS_SEL)], LSB_PER_DPS[self._get(FS_SEL)]
        if self.gyros_on:  # the zero-rate output settles in the start-up time after power-up
            left = np.clip(1 - (t_ns - self._gyro_on_ns) / 1e9 / self.chip.gyro_settle_s, 0, 1)
            gyro_dps = gyro_dps + (GYRO_SETTLE_OFFSET_DPS * left ** 2)[:, None]
        accel_counts = accel_g * a_lsb + self._self_test_accel()
        gyro_counts = gyro_dps * g_lsb + self._self_test_gyro()
        if self.noise:
            accel_counts = accel_counts + self.rng.normal(
                0, ACCEL_NOISE_G * np.sqrt(1.57 * self._accel_bw()) * a_lsb, (n, 3))
            gyro_counts = gyro_counts + self.rng.normal(
                0, GYRO_NOISE_DPS * np.sqrt(1.57 * self._gyro_bw()) * g_lsb, (n, 3))
        if not self.gyros_on:
            gyro_counts = np.zeros((n, 3))
        temp = np.full((n, 1), (self.temp_c - self.chip.temp_c_at_zero) * self.chip.temp_lsb_per_c)
        out = np.concatenate([accel_counts, temp, gyro_counts], axis=1)
        return np.clip(np.round(out), -32768, 32767).astype(np.int16)

    def _accel_bw(self) -> float:
        code = self._get(A_DLPF_CFG) if self.chip.family == "6500" else self._get(DLPF_CFG)
        return self.chip.accel_bw[code]

    def _gyro_bw(self) -> float:
        return self.chip.gyro_bw[self._get(DLPF_CFG)]

    # -- self-test actuation -----------------------------------------------------------------
    def _self_test_accel(self) -> FloatArray:
        if not self._get(ACCEL_ST):
            return np.zeros(3)
        if self.chip.family == "6050":   # RM 4.2 p. 10, at +-8 g
            codes = [self._get(hi) * 4 + self._get(lo)
                     for hi, lo in zip(ST_ACCEL_HIGH, ST_ACCEL_LOW, strict=True)]
            factory = [4096 * 0.34 * (0.92 / 0.34) ** ((c - 1) / 30) for c in codes]
            scale = 4096.0 / LSB_PER_G[self._get(AFS_SEL)]
        else:                            # AN-MPU-9250A-03, at +-2 g
            factory = [2620 * 1.01 ** (self.regs[0x0D + i] - 1) for i in range(3)]
            scale = 16384.0 / LSB_PER_G[self._get(AFS_SEL)]
        on = [self._get(bit) for bit in ST_ACCEL_AXIS]
        return np.array(factory) * on * self.self_test_scale / scale

    def _self_test_gyro(self) -> FloatArray:
        if not self._get(GYRO_ST):
            return np.zeros(3)
        if self.chip.family == "6050":   # RM 4.2 p. 10, at +-250 deg/s; Y's trim is negative
            factory = [sign * 25 * 131 * 1.046 ** (self._get(bits) - 1)
                       for bits, sign in zip(ST_GYRO, (1, -1, 1), strict=True)]
        else:
            factory = [2620 * 1.01 ** (self.regs[i] - 1) for i in range(3)]
        scale = 131.0 / LSB_PER_DPS[self._get(FS_SEL)]
        on = [self._get(bit) for bit in ST_GYRO_AXIS]
        return np.array(factory) * on * self.self_test_scale / scale

    # -- the motion engine -----------------------------------------------------------------
    def _motion_detected(self, accel_g: FloatArray) -> bool:
        if not MOT_BIT.of(self.regs[INT_ENABLE]):
            return False
        if self.chip.family == "6500":
            return self._wake_on_motion(accel_g)
        return self._mpu6050_motion(accel_g)

    def _wake_on_motion(self, accel_g: FloatArray) -> bool:
        if not (self._get(INTEL_EN) and self._get(INTEL_MODE)):
            return False
        prev = self._prev_g if self._prev_g is not None else accel_g[:1]
        self._prev_g = accel_g[-1:]
        steps = np.abs(np.diff(np.concatenate([prev, accel_g]), axis=0))
        return bool(steps.size and steps.max() > self.regs[MOT_THR] * WOM_G_PER_LSB)

    def _mpu6050_motion(self, accel_g: FloatArray) -> bool:
        hpf = self._get(ACCEL_HPF)
        threshold = self.regs[MOT_THR] * MOT_G_PER_LSB
        fired = False
        for sample in accel_g:
            out = self._high_pass(hpf, sample)
            if np.abs(out).max() > threshold:
                self._mot_counter += 1
            else:
                step = MOT_DECREMENT.get(self._get(MOT_COUNT))
                self._mot_counter = 0 if step is None else max(0, self._mot_counter - step)
            fired |= self._mot_counter >= max(1, self.regs[MOT_DUR])
        return fired

    def _high_pass(self, code: int, sample: FloatArray) -> FloatArray:
        if code == 7:        # hold: the difference from the sample held when hold was set
            if self._held_g is None:
                self._held_g = sample.copy()
            return sample - self._held_g
        self._held_g = None
        if code not in HPF_HZ:
            self._hpf_state = None
            return np.zeros(3)
        alpha = 1.0 / (1.0 + 2 * np.pi * HPF_HZ[code] / self.rate_hz)
        if self._hpf_state is None:
            self._hpf_state = np.concatenate([sample, np.zeros(3)])
        last_in, last_out = self._hpf_state[:3], self._hpf_state[3:]
        out = alpha * (last_out + sample - last_in)
        self._hpf_state = np.concatenate([sample, out])
        return out

    # -- the auxiliary I2C master (the MPU-9250 emulator's magnetometer) -------------------------
    def _aux_rows(self, t_ns: FloatArray) -> npt.NDArray[np.uint8] | None:
        """What the master read for each sample: (n, SLV0_LEN) bytes, or None without one."""
        return None

    # -- the FIFO ------------------------------------------------------------------------
    def _fifo_columns(self) -> list[int]:
        """Byte columns of [accel 0-5, temp 6-7, gyro 8-13, ext 14...] the FIFO takes."""
        cols: list[int] = []
        if self._get(ACCEL_OUT):
            cols += list(range(0, 6))
        if self._get(TEMP_OUT):
            cols += [6, 7]
        for i, bits in enumerate((XG_OUT, YG_OUT, ZG_OUT)):
            if self._get(bits):
                cols += [8 + 2 * i, 9 + 2 * i]
        if self._get(SLV0_OUT) and self._get(SLV0_EN):
            cols += list(range(14, 14 + self._get(SLV0_LEN)))
        return cols

    def _push(self, raw: npt.NDArray[np.int16], ext: Any, t_ns: FloatArray) -> None:
        cols = self._fifo_columns()
        if not cols:
            return
        rows = np.ascontiguousarray(raw).astype(">i2").view(np.uint8).reshape(len(raw), 14)
        if ext is not None:
            rows = np.concatenate([rows, ext], axis=1)
        elif max(cols) >= 14:
            rows = np.concatenate([rows, np.zeros((len(raw), max(cols) - 13), np.uint8)], 1)
        data = np.ascontiguousarray(rows[:, cols]).tobytes()
        self.fifo_pushed += len(raw)
        if self.record_truth:
            self.truth.append(np.round(t_ns).astype(np.int64))
        if self.chip.family == "6500" and self._get(FIFO_MODE):
            room = max(0, self.chip.fifo_bytes - len(self.fifo))
            if len(data) > room:
                self.regs[INT_STATUS] |= FIFO_OFLOW_BIT.bit()
                self.fifo_bytes_lost += len(data) - room
            self.fifo += data[:room]
            return
        self.fifo += data
        excess = len(self.fifo) - self.chip.fifo_bytes
        if excess > 0:
            del self.fifo[:excess]  # the oldest bytes are lost (RM 4.2 p. 28, FIFO_OFLOW_INT)
            self.fifo_bytes_lost += excess
            self.regs[INT_STATUS] |= FIFO_OFLOW_BIT.bit()

    @property
    def truth_ns(self) -> npt.NDArray[np.int64]:
        """True times of every sample pushed into the FIFO (``record_truth=True``)."""
        return np.concatenate(self.truth) if self.truth else np.empty(0, np.int64)

    # -- the INT pin -----------------------------------------------------------------------
    def int_active(self) -> bool:
        """Whether the INT pin is asserted (an enabled status bit is set; latched)."""
        self.update()
        flags = MOT_BIT.bit() | FIFO_OFLOW_BIT.bit() | MST_INT_BIT.bit() | DATA_RDY_BIT.bit()
        return bool(self.regs[INT_STATUS] & self.regs[INT_ENABLE] & flags)

    def interrupt_line(self) -> Any:
        """The GPIO line the INT pin drives, for a driver opened with ``int_pin``."""
        from .gpio_emu import EmulatedLine

        return EmulatedLine(self)

    # -- register behaviour --------------------------------------------------------------
    def i2c_read(self, length: int) -> bytes:
        if self.pointer != FIFO_R_W:
            return super().i2c_read(length)
        self.update()  # a burst from FIFO_R_W drains the FIFO without moving the pointer
        out = bytes(self.fifo[:length])
        del self.fifo[:length]
        if out:
            self._last_fifo_byte = out[-1]
        return out + bytes([self._last_fifo_byte]) * (length - len(out))

    def read_register(self, reg: int) -> int:
        if reg in (INT_STATUS, I2C_MST_STATUS):
            value = self.regs[reg]
            self.regs[reg] = 0  # cleared on read, RM 4.2 p. 25 and p. 28
            return value
        if reg == FIFO_COUNTH:
            self._count_latch = len(self.fifo)
            return self._count_latch.to_bytes(2, "big")[0]
        if reg == FIFO_COUNTL:
            return self._count_latch.to_bytes(2, "big")[1]
        return self.regs[reg]

    def write_register(self, reg: int, value: int) -> None:
        if reg in READ_ONLY:
            return
        if reg == PWR_MGMT_1 and DEVICE_RESET.of(value):
            self.power_on_reset()
            self.power_losses -= 1  # a reset by command, not a loss of power
            return
        if reg == FIFO_R_W:
            self.fifo.append(value)
            return
        old = self.regs[reg]
        self.regs[reg] = value
        if reg == USER_CTRL:
            if FIFO_RST.of(value):
                self.fifo.clear()
            self.regs[reg] = SIG_RST.into(FIFO_RST.into(value, 0), 0)
        elif reg == ACCEL_CONFIG and ACCEL_HPF.of(value) != ACCEL_HPF.of(old):
            self._held_g = None
        elif reg in (PWR_MGMT_1, PWR_MGMT_2, SMPLRT_DIV, CONFIG, LP_ACCEL_ODR) and value != old:
            self._restart_sampling()
