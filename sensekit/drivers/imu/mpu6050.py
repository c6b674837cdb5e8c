"""InvenSense MPU-6050 six-axis IMU over I2C, drained from its FIFO by its own reader thread.

Usage::

    imu = sensekit.open("mpu6050", "i2c://1/0x68", rate_hz=1000, accel_range_g=4)
    for packet in imu:                     # packets of N samples, fitted timestamps
        packet["accel_mps2"], packet["gyro_rads"], packet.t_ns

    sensekit.open("mpu6050", "emu://?clock_ppm=8000")    # the emulated part

How it reads: the part writes each sample (accel then gyro, RM-MPU-6000A-00 Rev 4.2 p. 16) into
its 1024-byte FIFO; a reader thread of this driver (never one that shares work with inference)
wakes every ``poll_s``, reads INT_STATUS and FIFO_COUNT, and drains whole samples in one long
read. Timestamps come from :class:`~sensekit.clock.RateFitter` (sample count against host
time), so the part's clock error (up to about 1 %) does not pile up.

Overflow: when INT_STATUS says the FIFO overflowed (or it is too full to trust), the oldest
bytes are gone and the rest is misaligned, so the FIFO is reset and the stream resumes. The
loss is counted exactly against the emulator (which counts what it pushed) and estimated from
the time since the last sample on hardware, reported as an estimate.

Modes (rows of ``power/tables/mpu6050.toml``): ``accel_gyro``; ``accel_only`` (gyros in
standby); ``accel_low_power`` (accelerometer-only cycle mode at 1.25, 5, 20 or 40 Hz);
``wake_on_motion`` (that cycle mode plus the motion interrupt: :meth:`Mpu6050.on_motion`
callbacks fire when any axis moves by more than ``motion_threshold_g``). ``sleep()`` puts the
part in its 5 uA sleep state.
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ...clock import FakeClock, RateFitter
from ...errors import ConfigError, DeviceError, DeviceNotFound
from ...packets import Packet
from ..i2c_base import I2CDriver
from . import mpu6050_map as m

if TYPE_CHECKING:
    from ..calibration import ImuCalibration

__all__ = ["Mpu6050"]

#: DLPF bandwidth (accel, Hz) a user asks for -> DLPF_CFG; None turns the filter off.
_DLPF_BY_HZ = {bw[0]: cfg for cfg, bw in m.DLPF_BANDWIDTH_HZ.items()}
_LOW_POWER = ("accel_low_power", "wake_on_motion")
#: Gyroscope start-up (ZRO settling) time, PS-MPU-6000A-00 Rev 3.4, sec. 6.1, p. 12.
_GYRO_STARTUP_S = 0.030
#: Wait after DEVICE_RESET before the registers can be written (RM 4.2 p. 41 recommends 100 ms).
_RESET_WAIT_S = 0.100


class Mpu6050(I2CDriver):
    """The MPU-6050.

    Args:
        url: ``i2c://BUS/0x68`` (or 0x69 with AD0 high), or ``emu://``.
        rate_hz: Sample rate, 4 Hz to 1 kHz (rounded to the part's divider; see ``rate_hz``
            after opening). In the low-power modes, the nearest of 1.25, 5, 20, 40 Hz.
        accel_range_g: 2, 4, 8 or 16.
        gyro_range_dps: 250, 500, 1000 or 2000.
        dlpf_hz: Accelerometer low-pass bandwidth: 260 (filter off, 8 kHz gyro clock), 184, 94,
            44, 21, 10 or 5.
        motion_threshold_g: Wake-on-motion threshold (32 mg steps).
        poll_s: How often the reader drains the FIFO (default: a quarter of the time the FIFO
            takes to fill, at most 0.2 s).
        thread: Drain from a reader thread (default: yes, except on a ``FakeClock``, where
            ``read()`` drains in the caller's thread so simulated time stays deterministic).
        calibration: An :class:`~sensekit.drivers.calibration.ImuCalibration` applied to
            every sample, or the key it is stored under in the default
            :class:`~sensekit.drivers.calibration.CalibrationStore` (``"i2c://1/0x68"``).
        max_queue: Packets kept for a slow consumer before the oldest are dropped (counted).
    """

    name = "mpu6050"
    modality = "imu"
    modes: ClassVar[tuple[str, ...]] = ("accel_gyro", "accel_only", "accel_low_power",
                                        "wake_on_motion")
    power_model = "mpu6050"
    default_rate_hz = 100.0
    #: 1.25 Hz (the slowest low-power wake rate, RM 4.2 p. 42) to 1 kHz (the accelerometer's
    #: output rate, RM 4.2 p. 11); the normal modes start at 4 Hz (1 kHz / 256).
    rate_range_hz: ClassVar[tuple[float, float]] = (1.25, 1000.0)
    default_address: ClassVar[int] = 0x68
    #: What WHO_AM_I reads on this part, and its FIFO size (subclasses for relatives).
    who_am_i: ClassVar[int] = m.WHO_AM_I_VALUE
    fifo_size: ClassVar[int] = m.FIFO_SIZE
    #: Modes in which the gyros run.
    gyro_modes: ClassVar[tuple[str, ...]] = ("accel_gyro",)

    def __init__(self, url: str, *, accel_range_g: int = 2, gyro_range_dps: int = 250,
                 dlpf_hz: int = 184, motion_threshold_g: float = 0.064,
                 poll_s: float | None = None, thread: bool | None = None,
                 calibration: ImuCalibration | str | None = None, max_queue: int = 256,
                 **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._afs = _pick(m.ACCEL_RANGES, accel_range_g, "accel_range_g", self.describe())
        self._fs = _pick(m.GYRO_RANGES, gyro_range_dps, "gyro_range_dps", self.describe())
        if dlpf_hz not in _DLPF_BY_HZ:
            raise ConfigError(f"{self.describe()}: dlpf_hz must be one of "
                              f"{sorted(_DLPF_BY_HZ)}, got {dlpf_hz}")
        self._dlpf = _DLPF_BY_HZ[dlpf_hz]
        self.motion_threshold_g = motion_threshold_g
        self._poll_s = poll_s
        self._threaded = (not isinstance(self.clock, FakeClock)) if thread is None else thread
        if isinstance(calibration, str):
            from ..calibration import CalibrationStore

            calibration = CalibrationStore().load(calibration)
        self.calibration = calibration
        self._queue: collections.deque[Packet] = collections.deque()
        self._max_queue = max_queue
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._fitter = RateFitter(self.rate_hz or 100.0)
        self._delivered = 0        # samples decoded since the FIFO count base below
        self._pushed_base = 0      # emulator's fifo_pushed at our last FIFO reset
        self._last_stamp_ns: int | None = None
        self._motion_callbacks: list[Callable[[int], None]] = []
        self.motion_events = 0
        self.overflows = 0
        self._sample_bytes = 12
        self._lp_code = 0

    # -- opening -------------------------------------------------------------------------
    def _open(self) -> None:
        device = self.connect()
        who = device.check_present(m.WHO_AM_I.address)
        if who != self.who_am_i:
            raise DeviceNotFound(
                f"{self.describe()}: WHO_AM_I is {who:#04x}, not the {self.name} value "
                f"{self.who_am_i:#04x}. Hint: 0x68 is an MPU-6050, "
                "0x70 an MPU-6500, 0x71 an MPU-9250, 0x98 an MPU-6886; a DS1307/DS3231 RTC "
                "also answers at 0x68: check the address with 'sensekit probe'")
        self.regs.write(m.PWR_MGMT_1, 1 << m.DEVICE_RESET.lsb)
        self.clock.sleep(_RESET_WAIT_S)
        self._configure()
        if self._threaded:
            self._thread = threading.Thread(target=self._reader, daemon=True,
                                            name=f"mpu6050:{self.url.raw}")
            self._thread.start()

    def _configure(self) -> None:
        """Apply mode, ranges, filter and rate, then start the FIFO."""
        regs = self.regs
        with self.device.lock:
            low_power = self.mode in _LOW_POWER
            gyro_off = self.mode not in self.gyro_modes
            # PLL with the X gyro as clock where the gyros run (RM 4.2 p. 40), else 8 MHz osc.
            regs.write(m.PWR_MGMT_1, (1 << m.CYCLE.lsb | 1 << m.TEMP_DIS.lsb) if low_power
                       else (0 if gyro_off else 1))
            regs.write(m.CONFIG, self._dlpf)
            regs.write(m.GYRO_CONFIG, self._fs << m.FS_SEL.lsb)
            hpf = 0b111 if self.mode == "wake_on_motion" else 0  # "hold" for motion detection
            regs.write(m.ACCEL_CONFIG, self._afs << m.AFS_SEL.lsb | hpf)
            rate = self._apply_rate(self.rate_hz or self.default_rate_hz or 100.0)
            self.rate_hz = rate
            regs.write(m.PWR_MGMT_2, (0b111 if gyro_off else 0) | (
                self._lp_code << m.LP_WAKE_CTRL.lsb if low_power else 0))
            wom = self.mode == "wake_on_motion"
            regs.write(m.MOT_THR, min(255, max(1, round(self.motion_threshold_g
                                                         / m.MOT_THR_G_PER_LSB))))
            regs.write(m.INT_ENABLE, (1 << m.MOT_EN.lsb if wom else 0) | 1 << m.FIFO_OFLOW_EN.lsb)
            regs.write(m.FIFO_EN, 1 << m.ACCEL_FIFO_EN.lsb if gyro_off else 0x78)
            self._sample_bytes = 6 if gyro_off else 12
            self._start_fifo(rate)

    def _apply_rate(self, rate_hz: float) -> float:
        if self.mode in _LOW_POWER:
            self._lp_code = min(m.LP_WAKE_HZ, key=lambda c: abs(m.LP_WAKE_HZ[c] - rate_hz))
            return m.LP_WAKE_HZ[self._lp_code]
        base = m.GYRO_RATE_DLPF_OFF_HZ if self._dlpf == 0 else m.GYRO_RATE_DLPF_ON_HZ
        if not 3.9 <= rate_hz <= 1000.0:
            raise ConfigError(f"{self.describe()}: rate {rate_hz:g} Hz is outside 4 Hz to 1 kHz")
        divider = min(255, max(0, round(base / rate_hz) - 1))
        if base / (1 + divider) > 1000.0:
            divider = math.ceil(base / 1000.0) - 1
        self.regs.write(m.SMPLRT_DIV, divider)
        self._lp_code = 0
        return base / (1 + divider)

    def _start_fifo(self, rate_hz: float) -> None:
        """Reset and enable the FIFO and start a fresh timestamp fit at ``rate_hz``."""
        self.regs.write(m.USER_CTRL, 1 << m.FIFO_RESET.lsb)
        self.regs.write(m.USER_CTRL, 1 << m.FIFO_ENABLE.lsb)
        self._fitter = RateFitter(rate_hz, exhaustive=True)
        self._fitter.anchor(self.clock.now_ns())
        self._delivered = 0
        self._pushed_base = int(getattr(self.emulator, "fifo_pushed_at_reset", 0))
        self._last_stamp_ns = None

    # -- reading -------------------------------------------------------------------------
    @property
    def poll_s(self) -> float:
        """How often the reader drains the FIFO."""
        if self._poll_s is not None:
            return self._poll_s
        fill_s = (self.fifo_size // self._sample_bytes) / (self.rate_hz or 100.0)
        return min(max(fill_s / 4, 0.002), 0.2)

    def drain(self) -> Packet | None:
        """Read every whole sample now in the FIFO (the reader thread calls this)."""
        device = self.device
        with device.lock:
            status = self.regs.read(m.INT_STATUS)
            floor_ns = self.clock.now_ns()  # the sample after the count did not exist yet
            count = self.regs.read(m.FIFO_COUNT_H)
            read_ns = self.clock.now_ns()   # every counted sample existed by now
            if status & (1 << m.MOT_INT.lsb):
                self._motion(read_ns)
            full = count > self.fifo_size - 2 * self._sample_bytes
            if status & (1 << m.FIFO_OFLOW_INT.lsb) or full:
                self.overflows += 1
                self._recover("FIFO overflow: the reader fell behind")
                return None
            n = count // self._sample_bytes
            if n == 0:
                return None
            data = device.read_block(m.FIFO_R_W.address, n * self._sample_bytes)
        return self._packet(data, n, read_ns, floor_ns)

    def _packet(self, data: bytes, n: int, read_ns: int, floor_ns: int) -> Packet:
        raw = np.frombuffer(data, ">i2").reshape(n, self._sample_bytes // 2)
        accel = raw[:, 0:3].astype(np.float32) * np.float32(
            m.G0 / m.ACCEL_RANGES[self._afs][1])
        fields: dict[str, Any] = {"accel_mps2": accel}
        if self._sample_bytes == 12:
            fields["gyro_rads"] = raw[:, 3:6].astype(np.float32) * np.float32(
                m.DEG / m.GYRO_RANGES[self._fs][1])
        fields.update(self._more_fields(n))
        if self.calibration is not None:
            fields = self.calibration.apply(fields)
        stamps = self._fitter.stamp(n, read_ns, floor_ns)
        self._delivered += n
        self._last_stamp_ns = int(stamps[-1])
        return Packet(self.stream, stamps, fields, "imu", {"mode": self.mode})

    def _more_fields(self, n: int) -> dict[str, Any]:
        """Fields other sensors in the package add to a packet of ``n`` samples."""
        return {}

    def _recover(self, why: str) -> None:
        """Reset the FIFO after an overflow and count what was lost."""
        now = self.clock.now_ns()
        period = self._fitter.period_ns
        self.regs.write(m.USER_CTRL, 1 << m.FIFO_RESET.lsb | 1 << m.FIFO_ENABLE.lsb)
        pushed = getattr(self.emulator, "fifo_pushed_at_reset", None)
        if pushed is not None:
            lost = int(pushed) - self._pushed_base - self._delivered
            self._pushed_base, self._delivered = int(pushed), 0
            self._fitter.skip(lost)
            self._fitter.anchor(now)
            self.report_dropped(lost, why)
            return
        since = self._last_stamp_ns if self._last_stamp_ns is not None else now
        lost = max(1, round((now - since) / period))
        self._fitter = RateFitter(1e9 / period, exhaustive=True)
        self._fitter.anchor(now)
        self._last_stamp_ns = None
        self.report_dropped(lost, f"{why}; counted from the time since the last sample",
                            estimated=True)

    def _read_asleep(self, timeout_s: float) -> Packet | None:
        """While asleep: what was drained before the sleep, then nothing."""
        if self._queue:
            return self._from_queue(0.0) if self._threaded else self._queue.popleft()
        return super()._read_asleep(timeout_s)

    def _read_packet(self, timeout_s: float) -> Packet | None:
        if self._threaded:
            return self._from_queue(timeout_s)
        if self._queue:
            return self._queue.popleft()
        waited = 0.0
        while True:
            packet = None if self.asleep else self.drain()
            if packet is not None or waited >= timeout_s:
                return packet
            step = min(self.poll_s, timeout_s - waited)
            self.clock.sleep(step)
            waited += step

    def _from_queue(self, timeout_s: float) -> Packet | None:
        with self._cond:
            self._cond.wait_for(lambda: bool(self._queue) or self._error is not None,
                                timeout_s)
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            return self._queue.popleft() if self._queue else None

    def _reader(self) -> None:
        while not self._stop.is_set():
            try:
                packet = None if self.asleep else self.drain()
            except (DeviceError, OSError) as exc:
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                self._stop.wait(min(1.0, 10 * self.poll_s))
                continue
            if packet is not None:
                self._enqueue(packet)
            self._stop.wait(self.poll_s)

    def _enqueue(self, packet: Packet) -> None:
        with self._cond:
            self._queue.append(packet)
            if len(self._queue) > self._max_queue:
                old = self._queue.popleft()
                self.report_dropped(len(old), "the consumer is not reading; oldest packet "
                                    "dropped from the driver's queue")
            self._cond.notify_all()

    def _close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        try:
            if self._device is not None:
                self.regs.write(m.PWR_MGMT_1, 1 << m.SLEEP.lsb)  # leave it drawing 5 uA
        except (DeviceError, OSError):
            pass  # closing must not fail because the part is gone
        super()._close()

    # -- control -------------------------------------------------------------------------
    def _set_rate(self, rate_hz: float) -> float:
        with self.device.lock:
            self._flush()
            self.rate_hz = self._apply_rate(rate_hz)
            if self.mode in _LOW_POWER:
                self.regs.set(m.LP_WAKE_CTRL, self._lp_code)
            self._start_fifo(self.rate_hz)
            return self.rate_hz

    def _set_mode(self, mode: str, **options: Any) -> None:
        if "motion_threshold_g" in options:
            self.motion_threshold_g = float(options.pop("motion_threshold_g"))
        if options:
            raise ConfigError(f"{self.describe()}: unknown mode options {sorted(options)}")
        with self.device.lock:
            self._flush()
            old, self.mode = self.mode, mode
            old_rate = self.rate_hz
            if (mode in _LOW_POWER) != (old in _LOW_POWER):
                self.rate_hz = 5.0 if mode in _LOW_POWER else self.default_rate_hz
            self._configure()
            if self.rate_hz != old_rate:
                self._record("rate", old_rate, self.rate_hz, f"mode {mode} runs at this rate")

    def _sleep(self) -> None:
        with self.device.lock:
            self._flush()
            self.regs.set(m.SLEEP, 1)

    def _wake(self) -> None:
        with self.device.lock:
            self.regs.set(m.SLEEP, 0)
            if self.mode in self.gyro_modes:
                self.clock.sleep(_GYRO_STARTUP_S)
            self._start_fifo(self.rate_hz or 100.0)

    def _flush(self) -> None:
        """Deliver what the FIFO holds before a change resets it."""
        packet = self.drain()
        if packet is not None:
            self._enqueue(packet) if self._threaded else self._pending(packet)

    def _pending(self, packet: Packet) -> None:
        self._queue.append(packet)

    # -- wake on motion ------------------------------------------------------------------
    def on_motion(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(t_ns)`` whenever the motion interrupt fires (any mode with it on)."""
        self._motion_callbacks.append(callback)

    def _motion(self, t_ns: int) -> None:
        self.motion_events += 1
        for callback in self._motion_callbacks:
            callback(t_ns)


def _pick(table: dict[int, tuple[int, float]], value: int, name: str, where: str) -> int:
    for code, (rng, _) in table.items():
        if rng == value:
            return code
    raise ConfigError(f"{where}: {name} must be one of {[r for r, _ in table.values()]}, "
                      f"got {value}")
