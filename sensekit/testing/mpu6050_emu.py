"""An emulated MPU-6050 that answers register reads and writes as the datasheet says.

What it models (register map RM-MPU-6000A-00 Rev 4.2 unless noted; figures live in
:mod:`sensekit.drivers.imu.mpu6050_map`): WHO_AM_I 0x68; PWR_MGMT_1 reset value 0x40
(asleep), DEVICE_RESET, SLEEP, CYCLE; SMPLRT_DIV with the gyro output rate of 8 kHz with the
DLPF off and 1 kHz otherwise; the accel and gyro full-scale ranges; the 1024-byte FIFO with
FIFO_EN, FIFO_COUNT (0x72/0x73), FIFO_R_W (0x74, a burst read drains it), FIFO_RESET, and on
overflow the loss of the oldest bytes and INT_STATUS bit 4; the accelerometer-only low-power
cycle mode (LP_WAKE_CTRL 1.25/5/20/40 Hz, gyros in standby read 0); the motion interrupt
(MOT_THR, 32 mg per LSB, INT_STATUS bit 6); white noise at the datasheet's spectral densities
over the DLPF bandwidth.

Time: the part's sample clock runs ``clock_ppm`` fast (positive) or slow relative to the bus's
clock. Samples that exist at ``clock.now_ns()`` are made, vectorised, whenever the part is
accessed; nothing ticks in between.

Feeding it::

    def walk(t):                                # t: (N,) seconds since the part was attached
        accel = np.zeros((len(t), 3)); accel[:, 2] = 9.80665 + 0.5 * np.sin(2 * np.pi * t)
        return accel, np.zeros((len(t), 3))     # m/s^2 and rad/s in the body frame
    emu = Mpu6050Emulator(motion=walk, clock_ppm=8000)
    emu = Mpu6050Emulator(motion=MotionTrace(t_s, accel_mps2, gyro_rads))   # a recording
    imu = sensekit.open("mpu6050", "emu://", emulator=emu)

URL options for ``emu://``: ``clock_ppm``, ``seed``, ``noise`` (0 turns noise off), ``address``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ..drivers.imu import mpu6050_map as m
from .i2c_devices import ByteRegisterDevice, _float_option

__all__ = ["MotionTrace", "Mpu6050Emulator", "still"]

FloatArray = npt.NDArray[np.float64]
Motion = Callable[[FloatArray], tuple[FloatArray, FloatArray]]


def still(t: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Lying flat and still: +1 g on z, no rotation."""
    accel = np.zeros((len(t), 3))
    accel[:, 2] = m.G0
    return accel, np.zeros((len(t), 3))


@dataclass(frozen=True)
class MotionTrace:
    """A recorded or simulated trajectory, linearly interpolated (held at the ends, or looped).

    Attributes:
        t_s: (N,) increasing times in seconds from the start of the trace.
        accel_mps2: (N, 3) specific force in the body frame.
        gyro_rads: (N, 3) angular rate in the body frame.
        loop: Repeat the trace instead of holding its last value.
    """

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


class Mpu6050Emulator(ByteRegisterDevice):
    """The MPU-6050 behind an emulated bus.

    Args:
        motion: Body-frame motion as a function of seconds since the part was attached, or a
            :class:`MotionTrace`; default :func:`still`.
        clock_ppm: How fast the part's sample clock runs (+8000 = 0.8 % fast; PS 3.4 sec. 6.6
            gives the internal oscillator's tolerance as +-1 % over temperature... we allow any).
        noise: Add white noise at the datasheet's densities.
        seed: Noise generator seed.
        temp_c: Die temperature the part reports.
        record_truth: Keep the true time of every sample pushed into the FIFO in
            :attr:`truth_ns` (for timing tests).
        address: 0x68 (AD0 low) or 0x69 (AD0 high).
    """

    default_address = 0x68
    resets: ClassVar[Mapping[int, int]] = {m.PWR_MGMT_1.address: 0x40,
                                           m.WHO_AM_I.address: m.WHO_AM_I_VALUE}
    no_increment = frozenset({m.FIFO_R_W.address})
    fifo_size: ClassVar[int] = m.FIFO_SIZE

    def __init__(self, *, motion: Motion | None = None, clock_ppm: float = 0.0,
                 noise: bool = True, seed: int | None = 0, temp_c: float = 25.0,
                 record_truth: bool = False, address: int | None = None) -> None:
        self.motion: Motion = motion or still
        self.clock_ppm = clock_ppm
        self.noise = noise
        self.rng = np.random.default_rng(seed)
        self.temp_c = temp_c
        self.record_truth = record_truth
        self.truth: list[npt.NDArray[np.int64]] = []
        self.fifo = bytearray()
        self.fifo_pushed = 0            # samples ever pushed into the FIFO whole
        self.fifo_pushed_at_reset = 0   # fifo_pushed when the FIFO was last reset
        self.fifo_bytes_lost = 0        # bytes dropped from the head on overflow
        self.samples_made = 0
        self._last_fifo_byte = 0
        self._fifo_count_latch = 0
        self._epoch_ns: int | None = None
        self._k_done = 0
        self._prev_accel_g: FloatArray | None = None
        super().__init__(address=address)

    @classmethod
    def _kwargs_from_options(cls, options: dict[str, str]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"clock_ppm": _float_option(options, "clock_ppm", 0.0)}
        if "seed" in options:
            kwargs["seed"] = int(options.pop("seed"))
        if "noise" in options:
            kwargs["noise"] = options.pop("noise") not in ("0", "false", "no", "off")
        return kwargs

    # -- configuration as the registers say ----------------------------------------------
    def _bit(self, field: Any) -> int:
        return int(field.get(self.regs[field.register.address]))

    @property
    def sleeping(self) -> bool:
        return bool(self._bit(m.SLEEP))

    @property
    def cycling(self) -> bool:
        return bool(self._bit(m.CYCLE)) and not self.sleeping

    @property
    def rate_hz(self) -> float:
        """The rate samples are made at now (sample rate, or the cycle-mode wake rate)."""
        if self.cycling:
            return m.LP_WAKE_HZ[self._bit(m.LP_WAKE_CTRL)]
        dlpf = self._bit(m.DLPF_CFG)
        base = m.GYRO_RATE_DLPF_OFF_HZ if dlpf in (0, 7) else m.GYRO_RATE_DLPF_ON_HZ
        return base / (1 + self.regs[m.SMPLRT_DIV.address])

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
        self._prev_accel_g = None

    # -- making samples ------------------------------------------------------------------
    def update(self) -> None:
        if self._epoch_ns is None or self.clock is None:
            return
        k_now = int((self.now_ns() - self._epoch_ns) // self.period_ns)
        new = k_now - self._k_done
        if new <= 0:
            return
        per_sample = max(self._fifo_sample_bytes(), 1)
        keep = min(new, self.fifo_size // per_sample + 2)  # older ones could only be overwritten
        skipped = new - keep
        if skipped:
            self._account_unseen(skipped, per_sample)
        k = np.arange(k_now - keep, k_now, dtype=np.int64)
        self._make(k)
        self._k_done = k_now

    def _account_unseen(self, count: int, per_sample: int) -> None:
        """Samples made while nobody looked, older than what the FIFO can still hold."""
        self.samples_made += count
        if self._fifo_on():
            if self.record_truth:
                k = np.arange(self._k_done, self._k_done + count, dtype=np.int64)
                self.truth.append(np.round(self.sample_time_ns(k)).astype(np.int64))
            self.fifo_pushed += count
            self.fifo_bytes_lost += count * per_sample
            self.regs[m.INT_STATUS.address] |= 1 << m.FIFO_OFLOW_INT.lsb
            self.fifo.clear()

    def _make(self, k: npt.NDArray[np.int64]) -> None:
        t_ns = self.sample_time_ns(k)
        accel, gyro = self.motion(self.seconds(t_ns))
        raw = self._to_raw(np.asarray(accel, np.float64), np.asarray(gyro, np.float64))
        self.samples_made += len(k)
        self.regs[m.ACCEL_XOUT_H.address:m.ACCEL_XOUT_H.address + 14] = raw[-1].astype(
            ">i2").tobytes()
        status = 1 << m.DATA_RDY_INT.lsb
        if self._bit(m.MOT_EN) and self._motion_seen(accel):
            status |= 1 << m.MOT_INT.lsb
        self.regs[m.INT_STATUS.address] |= status
        if self._fifo_on():
            self._push(raw, t_ns)

    def _to_raw(self, accel: FloatArray, gyro: FloatArray) -> npt.NDArray[np.int16]:
        n = len(accel)
        a_lsb = m.ACCEL_RANGES[self._bit(m.AFS_SEL)][1]
        g_lsb = m.GYRO_RANGES[self._bit(m.FS_SEL)][1]
        accel_counts = accel / m.G0 * a_lsb
        gyro_counts = gyro / m.DEG * g_lsb
        if self.noise:
            bw_a, bw_g = m.DLPF_BANDWIDTH_HZ.get(self._bit(m.DLPF_CFG), (260, 256))
            # White noise over the filter's equivalent noise bandwidth (about pi/2 x -3 dB).
            accel_counts = accel_counts + self.rng.normal(
                0, m.ACCEL_NOISE_G_RTHZ * np.sqrt(1.57 * bw_a) * a_lsb, (n, 3))
            gyro_counts = gyro_counts + self.rng.normal(
                0, m.GYRO_NOISE_DPS_RTHZ * np.sqrt(1.57 * bw_g) * g_lsb, (n, 3))
        if self._bit(m.STBY_GYRO) == 0b111:
            gyro_counts = np.zeros((n, 3))
        temp = np.full((n, 1), (self.temp_c - m.TEMP_OFFSET_C) * m.TEMP_LSB_PER_C)
        out = np.concatenate([accel_counts, temp, gyro_counts], axis=1)
        return np.clip(np.round(out), -32768, 32767).astype(np.int16)

    def _motion_seen(self, accel: FloatArray) -> bool:
        """Any axis changed by more than MOT_THR between consecutive samples."""
        accel_g = accel / m.G0
        prev = self._prev_accel_g if self._prev_accel_g is not None else accel_g[:1]
        self._prev_accel_g = accel_g[-1:]
        steps = np.abs(np.diff(np.concatenate([prev, accel_g]), axis=0))
        threshold = self.regs[m.MOT_THR.address] * m.MOT_THR_G_PER_LSB
        return bool(steps.size and steps.max() > threshold)

    # -- the FIFO ------------------------------------------------------------------------
    def _fifo_on(self) -> bool:
        return bool(self._bit(m.FIFO_ENABLE))

    def _fifo_columns(self) -> list[int]:
        """Columns of [ax ay az temp gx gy gz] the FIFO takes, in register order (RM p. 16)."""
        cols: list[int] = []
        if self._bit(m.ACCEL_FIFO_EN):
            cols += [0, 1, 2]
        if self._bit(m.TEMP_FIFO_EN):
            cols += [3]
        for field, col in ((m.XG_FIFO_EN, 4), (m.YG_FIFO_EN, 5), (m.ZG_FIFO_EN, 6)):
            if self._bit(field):
                cols.append(col)
        return cols

    def _fifo_sample_bytes(self) -> int:
        return 2 * len(self._fifo_columns())

    def _push(self, raw: npt.NDArray[np.int16], t_ns: FloatArray) -> None:
        cols = self._fifo_columns()
        if not cols:
            return
        self.fifo += np.ascontiguousarray(raw[:, cols]).astype(">i2").tobytes()
        self.fifo_pushed += len(raw)
        if self.record_truth:
            self.truth.append(np.round(t_ns).astype(np.int64))
        excess = len(self.fifo) - self.fifo_size
        if excess > 0:
            del self.fifo[:excess]  # the oldest bytes are lost (RM 4.2 p. 28, FIFO_OFLOW_INT)
            self.fifo_bytes_lost += excess
            self.regs[m.INT_STATUS.address] |= 1 << m.FIFO_OFLOW_INT.lsb

    @property
    def truth_ns(self) -> npt.NDArray[np.int64]:
        """True times of every sample pushed into the FIFO (``record_truth=True``)."""
        return np.concatenate(self.truth) if self.truth else np.empty(0, np.int64)

    # -- register behaviour --------------------------------------------------------------
    def i2c_read(self, length: int) -> bytes:
        if self.pointer != m.FIFO_R_W.address:
            return super().i2c_read(length)
        self.update()  # a burst from FIFO_R_W drains the FIFO without moving the pointer
        out = bytes(self.fifo[:length])
        del self.fifo[:length]
        if out:
            self._last_fifo_byte = out[-1]
        return out + bytes([self._last_fifo_byte]) * (length - len(out))

    def read_register(self, reg: int) -> int:
        if reg == m.INT_STATUS.address:
            value = self.regs[reg]
            self.regs[reg] = 0  # cleared on read (INT_RD_CLEAR = 0), RM 4.2 p. 28
            return value
        if reg == m.FIFO_COUNT_H.address:
            self._fifo_count_latch = len(self.fifo)
            return self._fifo_count_latch >> 8
        if reg == m.FIFO_COUNT_H.address + 1:
            return self._fifo_count_latch & 0xFF
        if reg == m.FIFO_R_W.address:
            if self.fifo:
                self._last_fifo_byte = self.fifo.pop(0)
            return self._last_fifo_byte  # an empty FIFO repeats the last byte (RM p. 44)
        return self.regs[reg]

    def write_register(self, reg: int, value: int) -> None:
        if reg in (m.WHO_AM_I.address, m.INT_STATUS.address, m.FIFO_COUNT_H.address,
                   m.FIFO_COUNT_H.address + 1) or m.ACCEL_XOUT_H.address <= reg <= 0x48:
            return  # read-only
        if reg == m.PWR_MGMT_1.address and value & (1 << m.DEVICE_RESET.lsb):
            self.reset_registers()
            self.fifo.clear()
            self._restart_sampling()
            return
        if reg == m.FIFO_R_W.address:
            self.fifo.append(value)
            return
        old = self.regs[reg]
        self.regs[reg] = value
        if reg == m.USER_CTRL.address:
            if value & (1 << m.FIFO_RESET.lsb):
                self.fifo.clear()
                self.fifo_pushed_at_reset = self.fifo_pushed
            self.regs[reg] &= ~((1 << m.FIFO_RESET.lsb) | (1 << m.SIG_COND_RESET.lsb)) & 0xFF
        elif reg in (m.PWR_MGMT_1.address, m.PWR_MGMT_2.address, m.SMPLRT_DIV.address,
                     m.CONFIG.address) and value != old:
            self._restart_sampling()
