"""InvenSense MPU-6050 (and the MPU-6500-family chips sold as one) over I2C, drained from its FIFO.

Usage::

    imu = sensekit.open("mpu6050", "i2c://1/0x68", rate_hz=1000, accel_range_g=4)
    for packet in imu:                     # packets of N samples, fitted timestamps
        packet["accel_mps2"], packet["gyro_rads"], packet.t_ns

    sensekit.open("mpu6050", "i2c://1/0x68", int_pin=17)   # INT wired to GPIO17
    sensekit.open("mpu6050", "emu://?clock_ppm=8000")      # the emulated part

Chips: WHO_AM_I picks the chip's own map (:mod:`.variants`): an MPU-6050 (0x68) silently; an
MPU-6500 (0x70) or ICM-20689 (0x98) on a board sold as an MPU-6050, or an MPU-9250/9255 used for
six axes, with a warning naming the chip. Each has its FIFO size, low-pass tables (the 6500
family's accelerometer filter is ACCEL_CONFIG2), low-power rates and temperature scale.

How it reads: the part writes each sample into its FIFO; a reader thread of this driver wakes
every ``poll_s`` (or when the INT line goes active, with ``int_pin``), reads INT_STATUS and
FIFO_COUNT and drains whole samples in one long read. Timestamps come from
:class:`~sensekit.clock.RateFitter` (sample count against host time), so the part's clock error
(up to about 1 %) does not pile up.

What goes wrong, and what the driver does:

- Overflow (INT_STATUS, or a count too full or not whole samples): the oldest bytes are gone
  and the rest is misaligned, so the FIFO is reset, the samples lost are counted from the time
  since the last one delivered (labelled an estimate) and the stream resumes.
- A transfer that fails part-way (the FIFO read, or the clear-on-read INT_STATUS): the bytes
  that left the FIFO are gone, so the read is not repeated (it would return the bytes after
  them as samples); the FIFO is resynchronised and the loss counted as above.
- Power loss: the part comes back asleep with its reset values and the FIFO stops. A FIFO that
  stays empty past a few periods makes the driver read PWR_MGMT_1, USER_CTRL and FIFO_EN back;
  if they are not what it wrote it configures the part again (``stats.resets``), counts the
  samples of the gap and never returns zeros for them.
- The gyros need time to settle after they are powered (60 ms for the MPU-6050, 70 ms for the
  6500 family, see :mod:`.variants`): the FIFO starts only after that, at open, wake and after
  a reset.

Modes (rows of ``power/tables/mpu6050.toml``): ``accel_gyro``; ``accel_only`` (gyros in
standby); ``accel_low_power`` (accelerometer-only cycle mode at the chip's wake rates);
``wake_on_motion`` (that cycle mode plus motion detection, programmed as each register map says,
see :mod:`.motion`): :meth:`Mpu6050.on_motion` callbacks fire when the part flags motion.
``sleep()`` puts the part in its sleep state. :meth:`Mpu6050.self_test` runs the part's
self-test (:mod:`.selftest`).

Not verified on hardware: that the gyros have settled by the time the driver waits
(``drivers/smoke.py --check mpu-gyro-startup``), and a real power loss being found and
recovered as the emulated one is (``--check power-loss``).
"""

from __future__ import annotations

import collections
import logging
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ...buses.i2c import TransferLost, transfer_bits
from ...clock import FakeClock, RateFitter
from ...errors import ConfigError, DeviceError, DeviceNotFound
from ...options import check_number
from ...packets import Packet
from ..i2c_base import I2CDriver
from ..registers import compose
from . import mpu6050_map as m
from .motion import LOW_POWER_MODES, configure_low_power
from .variants import ImuVariant, variant_for

if TYPE_CHECKING:
    from ...buses.gpio import InterruptLine
    from ..calibration import ImuCalibration
    from .selftest import SelfTestResult

__all__ = ["Mpu6050"]

log = logging.getLogger(__name__)

#: Above this rate data-ready interrupts would wake the host for every sample: the INT line
#: then only brings overflow and motion, and the reader drains on its timer.
_DATA_READY_MAX_HZ = 100.0
#: Periods an empty FIFO may stay empty before the part is checked for a reset.
_EMPTY_PERIODS = 4


class Mpu6050(I2CDriver):
    """The MPU-6050 and the chips sold as one.

    Args:
        url: ``i2c://BUS/0x68`` (or 0x69 with AD0 high), or ``emu://``.
        rate_hz: Sample rate, 4 Hz to 1 kHz (rounded to the part's divider; see ``rate_hz``
            after opening). In the low-power modes, the nearest of the chip's wake rates.
        accel_range_g: 2, 4, 8 or 16.
        gyro_range_dps: 250, 500, 1000 or 2000.
        dlpf_hz: Low-pass bandwidth; the chip's nearest accelerometer setting is used (the
            MPU-6050: 260 (filter off, 8 kHz gyro clock), 184, 94, 44, 21, 10, 5).
        motion_threshold_g: Wake-on-motion threshold.
        motion_duration_ms: How long motion must last before it is reported (MPU-6050).
        int_pin: The GPIO the INT pin is wired to (``17`` or ``"gpiochip0:17"``), if any.
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
    #: 0.24 Hz (the slowest 6500-family wake rate, RM9 1.6 p. 17) to 1 kHz (the accelerometer's
    #: output rate, RM 4.2 p. 11); the normal modes start at 4 Hz (1 kHz / 256).
    rate_range_hz: ClassVar[tuple[float, float]] = (0.24, 1000.0)
    default_address: ClassVar[int] = 0x68
    #: WHO_AM_I values this driver takes silently, and those it takes with a warning.
    expected_ids: ClassVar[tuple[int, ...]] = (0x68,)
    accepted_ids: ClassVar[tuple[int, ...]] = (0x68, 0x70, 0x98, 0x71, 0x73)
    #: Modes in which the gyros run.
    gyro_modes: ClassVar[tuple[str, ...]] = ("accel_gyro",)

    def __init__(self, url: str, *, accel_range_g: int = 2, gyro_range_dps: int = 250,
                 dlpf_hz: float = 184, motion_threshold_g: float = 0.064,
                 motion_duration_ms: float = 1.0, int_pin: str | int | None = None,
                 poll_s: float | None = None, thread: bool | None = None,
                 calibration: ImuCalibration | str | None = None, max_queue: int = 256,
                 **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        where = self.describe()
        self._afs = _pick(m.ACCEL_RANGES, accel_range_g, "accel_range_g", where)
        self._fs = _pick(m.GYRO_RANGES, gyro_range_dps, "gyro_range_dps", where)
        self.dlpf_hz = check_number(where, "dlpf_hz", dlpf_hz, 5.0, 420.0, unit="Hz")
        self.motion_threshold_g = check_number(where, "motion_threshold_g", motion_threshold_g,
                                               0.004, 8.16, unit="g")
        self.motion_duration_ms = check_number(where, "motion_duration_ms", motion_duration_ms,
                                               1, 255, unit="ms")
        self.int_pin = int_pin
        self._poll_s = None if poll_s is None else check_number(where, "poll_s", poll_s, 0.0,
                                                                10.0, lo_open=True, unit="s")
        self._threaded = (not isinstance(self.clock, FakeClock)) if thread is None else thread
        if isinstance(calibration, str):
            from ..calibration import CalibrationStore

            calibration = CalibrationStore().load(calibration)
        self.calibration = calibration
        self._queue: collections.deque[Packet] = collections.deque()
        self._max_queue = int(check_number(where, "max_queue", max_queue, 1, 1 << 20,
                                           integer=True))
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._line: InterruptLine | None = None
        self._fitter = RateFitter(self.rate_hz or 100.0)
        self._last_stamp_ns: int | None = None
        self._fifo_start_ns = 0
        self._expected: dict[Any, int] = {}
        self._motion_callbacks: list[Callable[[int], None]] = []
        self.variant: ImuVariant | None = None
        self.motion_events = 0
        self.overflows = 0
        self._sample_bytes = 12
        self._lp_code = 0
        self._dlpf_code = 1

    # -- opening -------------------------------------------------------------------------
    def _open(self) -> None:
        device = self.connect()
        self.variant = self._accept(device.check_present(m.WHO_AM_I.address))
        if self.int_pin is not None:
            self._line = self._open_line()
        self._reset_and_configure()
        if self._threaded:
            self._thread = threading.Thread(target=self._reader, daemon=True,
                                            name=f"{self.name}:{self.url.raw}")
            self._thread.start()

    def _accept(self, who: int) -> ImuVariant:
        """The chip WHO_AM_I names, if this driver drives it (warning when unexpected)."""
        variant = variant_for(who, self.describe())
        if who not in self.accepted_ids:
            raise DeviceNotFound(f"{self.describe()}: WHO_AM_I is {who:#04x}, an "
                                 f"{variant.chip}; the {self.name} driver drives "
                                 + ", ".join(f"{i:#04x}" for i in self.accepted_ids)
                                 + ". Hint: open it with the driver for that chip")
        if who not in self.expected_ids:
            log.warning("%s: WHO_AM_I is %#04x: this board carries an %s, not the part it was "
                        "sold as; using the %s's register map (FIFO %d bytes)",
                        self.describe(), who, variant.chip, variant.chip, variant.fifo_size)
        return variant

    def _open_line(self) -> InterruptLine:
        if self.emulator is not None:
            line: InterruptLine = self.emulator.interrupt_line()
            return line
        from ...buses.gpio import open_interrupt_line

        assert self.int_pin is not None
        return open_interrupt_line(self.int_pin, where=self.describe())

    @property
    def chip(self) -> ImuVariant:
        if self.variant is None:
            raise ConfigError(f"{self.describe()} is not open")
        return self.variant

    @property
    def fifo_size(self) -> int:
        return self.chip.fifo_size

    def _reset_and_configure(self) -> None:
        self.regs.write_fields({m.DEVICE_RESET: 1})
        self.clock.sleep(m.RESET_WAIT_S)
        self._configure()

    def _write(self, register: Any, value: int) -> None:
        """Write and remember, so a part that lost its settings is noticed."""
        self.regs.write(register, value)
        self._expected[register] = value

    def _configure(self) -> None:
        """Apply mode, ranges, filter and rate, wait for the gyros, then start the FIFO."""
        chip = self.chip
        with self.device.lock:
            self._expected.clear()
            if self.mode in LOW_POWER_MODES:
                rate = configure_low_power(self, chip)
            else:
                rate = self._configure_normal(chip)
            self.rate_hz = rate
            self._start_fifo(rate)

    def _configure_normal(self, chip: ImuVariant) -> float:
        gyros = self.mode in self.gyro_modes
        self._write(m.PWR_MGMT_1, compose({m.CLKSEL: m.CLKSEL_PLL_X if gyros
                                           else m.CLKSEL_INTERNAL}))
        self._write(m.PWR_MGMT_2, compose({m.STBY_GYRO: 0 if gyros else m.ALL_AXES}))
        self._dlpf_code = _nearest(chip.accel_bandwidth_hz, self.dlpf_hz)
        self._write(m.CONFIG, compose({m.DLPF_CFG: self._dlpf_code}))
        self._write(m.GYRO_CONFIG, compose({m.FS_SEL: self._fs}))
        self._write(m.ACCEL_CONFIG, compose({m.AFS_SEL: self._afs}))
        if chip.family == "6500":
            self._write(m.ACCEL_CONFIG2, compose({m.A_DLPF_CFG: self._dlpf_code,
                                                  m.FIFO_SIZE: chip.fifo_size_code or 0}))
        rate = self._apply_divider(self.rate_hz or self.default_rate_hz or 100.0)
        self._write(m.INT_PIN_CFG, compose({m.LATCH_INT_EN: 1, **self._pin_bits()}))
        data_ready = self._line is not None and rate <= _DATA_READY_MAX_HZ
        self._write(m.INT_ENABLE, compose({m.FIFO_OFLOW_EN: 1, m.DATA_RDY_EN: int(data_ready)}))
        self._configure_aux()
        if gyros:
            self.clock.sleep(chip.gyro_startup_s)  # the gyros settle before the FIFO starts
        self._sample_bytes = self._fifo_layout(gyros)
        return rate

    def _pin_bits(self) -> dict[Any, int]:
        """INT_PIN_CFG bits other than the latch (the MPU-9250 adds nothing here)."""
        return {}

    def _configure_aux(self) -> None:
        """Parts in the package behind the auxiliary bus (the MPU-9250's magnetometer)."""

    def _fifo_layout(self, gyros: bool) -> int:
        """Program FIFO_EN; return the bytes of one FIFO sample."""
        self._write(m.FIFO_EN, compose({m.ACCEL_FIFO_EN: 1,
                                        m.GYRO_FIFO_EN: m.ALL_AXES if gyros else 0}))
        return 12 if gyros else 6

    def _apply_divider(self, rate_hz: float) -> float:
        base = m.GYRO_RATE_DLPF_OFF_HZ if self._dlpf_code in (0, 7) else m.GYRO_RATE_DLPF_ON_HZ
        if not 3.9 <= rate_hz <= 1000.0:
            raise ConfigError(f"{self.describe()}: rate {rate_hz:g} Hz is outside 4 Hz to 1 kHz")
        divider = min(255, max(0, round(base / rate_hz) - 1))
        if base / (1 + divider) > 1000.0:
            divider = math.ceil(base / 1000.0) - 1
        self._write(m.SMPLRT_DIV, divider)
        return base / (1 + divider)

    def _start_fifo(self, rate_hz: float) -> None:
        """Reset and enable the FIFO and start a fresh timestamp fit at ``rate_hz``."""
        aux = self._aux_user_bits()
        self.regs.write_fields({m.FIFO_RESET: 1, **aux})
        self._write(m.USER_CTRL, compose({m.FIFO_ENABLE: 1, **aux}))
        self._fitter = RateFitter(rate_hz, exhaustive=True)
        self._fifo_start_ns = self.clock.now_ns()
        self._fitter.anchor(self._fifo_start_ns)
        self._last_stamp_ns = None

    def _aux_user_bits(self) -> dict[Any, int]:
        """USER_CTRL bits the auxiliary bus needs kept (the MPU-9250's I2C master)."""
        return {}

    # -- reading -------------------------------------------------------------------------
    @property
    def poll_s(self) -> float:
        """How often the reader drains the FIFO."""
        if self._poll_s is not None:
            return self._poll_s
        size = self.variant.fifo_size if self.variant else 1024
        fill_s = (size // self._sample_bytes) / (self.rate_hz or 100.0)
        return min(max(fill_s / 4, 0.002), 0.2)

    def drain(self) -> Packet | None:
        """Read every whole sample now in the FIFO (the reader thread calls this)."""
        device, chip = self.device, self.chip
        with device.lock:
            try:
                status: int | None = device.read_u8(m.INT_STATUS.address, repeatable=False)
            except TransferLost:
                status = None  # an overflow flag may have been cleared: the count decides
            floor_ns = self.clock.now_ns()  # the sample after the count did not exist yet
            count = self.regs.read(m.FIFO_COUNT_H) & chip.fifo_count_mask
            read_ns = self.clock.now_ns()   # every counted sample existed by now
            if status is not None and m.MOT_INT.get(status):
                self._motion(read_ns)
            if count == 0:
                self._check_for_reset(read_ns)
                return None
            flagged = status is not None and m.FIFO_OFLOW_INT.get(status)
            if flagged or count > chip.fifo_size - 2 * self._sample_bytes \
                    or count % self._sample_bytes:
                self.overflows += 1
                self._recover("FIFO overflow: the reader fell behind")
                return None
            n = count // self._sample_bytes
            try:
                data = device.read_block(m.FIFO_R_W.address, n * self._sample_bytes,
                                         repeatable=False)
            except TransferLost as exc:
                self._recover(f"the FIFO read failed part-way ({exc.__cause__ or exc}); its "
                              "samples were not repeated as garbage")
                return None
            extra = self._after_drain()
        return self._packet(data, n, read_ns, floor_ns, extra)

    def _after_drain(self) -> dict[str, Any]:
        """Status the auxiliary bus reports for this drain (the MPU-9250 reads its NACKs)."""
        return {}

    def _packet(self, data: bytes, n: int, read_ns: int, floor_ns: int,
                extra: dict[str, Any]) -> Packet:
        rows = np.frombuffer(data, np.uint8).reshape(n, self._sample_bytes)
        raw = rows[:, :12 if self._sample_bytes >= 12 else 6].copy().view(">i2")
        accel = raw[:, 0:3].astype(np.float32) * np.float32(m.G0 / m.ACCEL_RANGES[self._afs][1])
        fields: dict[str, Any] = {"accel_mps2": accel}
        if raw.shape[1] == 6:
            fields["gyro_rads"] = raw[:, 3:6].astype(np.float32) * np.float32(
                m.DEG / m.GYRO_RANGES[self._fs][1])
        fields.update(self._more_fields(rows, extra))
        if self.calibration is not None:
            fields = self.calibration.apply(fields)
        stamps = self._fitter.stamp(n, read_ns, floor_ns)
        self._last_stamp_ns = int(stamps[-1])
        return Packet(self.stream, stamps, fields, "imu", {"mode": self.mode,
                                                          "chip": self.chip.chip})

    def _more_fields(self, rows: Any, extra: dict[str, Any]) -> dict[str, Any]:
        """Fields other sensors in the package add (the MPU-9250's magnetometer)."""
        return {}

    def _recover(self, why: str) -> None:
        """Reset the FIFO and count what was lost from the time since the last sample."""
        now = self.clock.now_ns()
        period = self._fitter.period_ns
        self.regs.write_fields({m.FIFO_RESET: 1, m.FIFO_ENABLE: 1, **self._aux_user_bits()})
        since = self._last_stamp_ns if self._last_stamp_ns is not None else self._fifo_start_ns
        lost = max(1, round((now - since) / period))
        self._fitter = RateFitter(1e9 / period, exhaustive=True)
        self._fitter.anchor(now)
        self._fifo_start_ns = now
        self._last_stamp_ns = None
        self.report_dropped(lost, f"{why}; counted from the time since the last sample",
                            estimated=True)

    def _check_for_reset(self, now_ns: int) -> None:
        """An empty FIFO for several periods: see whether the part lost its settings."""
        since = self._last_stamp_ns if self._last_stamp_ns is not None else self._fifo_start_ns
        period = self._fitter.period_ns
        if now_ns - since < max(_EMPTY_PERIODS * period, 20e6) + self.poll_s * 1e9:
            return
        for register in (m.PWR_MGMT_1, m.USER_CTRL, m.FIFO_EN):
            want = self._expected.get(register)
            got = self.regs.read(register)
            if want is not None and got != want:
                self._after_reset(f"{register.name} reads {got:#04x}, {want:#04x} was written",
                                  since, period)
                return

    def _after_reset(self, why: str, since_ns: int, period_ns: float) -> None:
        self.report_reset(why)
        lost = max(1, round((self.clock.now_ns() - since_ns) / period_ns))
        self._reset_and_configure()
        self.report_dropped(lost, "the part lost power; nothing was sampled until it was "
                            "configured again", estimated=True)

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
            packet = self.drain()
            if packet is not None or waited >= timeout_s:
                return packet
            step = min(self.poll_s, timeout_s - waited)
            self._wait_for_data(step)
            waited += step

    def _wait_for_data(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when the INT line goes active."""
        if self._line is not None:
            self._line.wait(seconds)
        elif self._threaded:
            self._stop.wait(seconds)
        else:
            self.clock.sleep(seconds)

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
            self._wait_for_data(self.poll_s)

    def _enqueue(self, packet: Packet) -> None:
        with self._cond:
            self._queue.append(packet)
            if len(self._queue) > self._max_queue:
                old = self._queue.popleft()
                self.report_dropped(len(old), "the consumer is not reading; oldest packet "
                                    "dropped from the driver's queue")
            self._cond.notify_all()

    def bus_bits_per_s(self, rate_hz: float) -> float:
        per_drain = transfer_bits(1, 1) + transfer_bits(1, 2) + transfer_bits(1, 0)
        drains = 1.0 / self.poll_s if self.is_open else rate_hz / 4
        return rate_hz * self._sample_bytes * 9 + drains * per_drain

    def _close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        try:
            if self._device is not None:
                self.regs.write_fields({m.SLEEP: 1})  # leave it drawing microamps
        except (DeviceError, OSError):
            pass  # closing must not fail because the part is gone
        if self._line is not None:
            self._line.close()
        super()._close()

    # -- control -------------------------------------------------------------------------
    def _set_rate(self, rate_hz: float) -> float:
        with self.device.lock:
            self._flush()
            self.rate_hz = rate_hz
            self._configure()
            return self.rate_hz

    def _set_mode(self, mode: str, **options: Any) -> None:
        where = self.describe()
        if "motion_threshold_g" in options:
            self.motion_threshold_g = check_number(where, "motion_threshold_g",
                                                   options.pop("motion_threshold_g"), 0.004,
                                                   8.16, unit="g")
        if "motion_duration_ms" in options:
            self.motion_duration_ms = check_number(where, "motion_duration_ms",
                                                   options.pop("motion_duration_ms"), 1, 255,
                                                   unit="ms")
        if options:
            raise ConfigError(f"{where}: unknown mode options {sorted(options)}")
        with self.device.lock:
            self._flush()
            old, self.mode = self.mode, mode
            old_rate = self.rate_hz
            if (mode in LOW_POWER_MODES) != (old in LOW_POWER_MODES):
                self.rate_hz = 5.0 if mode in LOW_POWER_MODES else self.default_rate_hz
            try:
                self._configure()
            except ConfigError:
                self.mode, self.rate_hz = old, old_rate
                self._configure()
                raise
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
                self.clock.sleep(self.chip.gyro_startup_s)
            self._start_fifo(self.rate_hz or 100.0)

    def _flush(self) -> None:
        """Deliver what the FIFO holds before a change resets it."""
        packet = self.drain()
        if packet is not None:
            self._enqueue(packet) if self._threaded else self._queue.append(packet)

    # -- wake on motion and self-test -------------------------------------------------------
    def on_motion(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(t_ns)`` whenever the motion interrupt fires (any mode with it on)."""
        self._motion_callbacks.append(callback)

    def _motion(self, t_ns: int) -> None:
        self.motion_events += 1
        for callback in self._motion_callbacks:
            callback(t_ns)

    def self_test(self) -> SelfTestResult:
        """Run the part's self-test (see :mod:`sensekit.drivers.imu.selftest`), then carry on
        as before."""
        from .selftest import run_self_test

        self._check_open()
        with self.device.lock:
            self._flush()
            try:
                return run_self_test(self)
            finally:
                self._configure()


def _pick(table: dict[int, tuple[int, float]], value: int, name: str, where: str) -> int:
    for code, (rng, _) in table.items():
        if not isinstance(value, bool) and rng == value:
            return code
    raise ConfigError(f"{where}: {name} must be one of {[r for r, _ in table.values()]}, "
                      f"got {value!r}")


def _nearest(table: Any, hz: float) -> int:
    """The code whose bandwidth is nearest ``hz``; of two equal ones (the 6500 family's 0 and 1
    at 218.1 Hz) the higher, whose gyro runs at 1 kHz rather than 8 kHz."""
    return int(min(table, key=lambda code: (abs(table[code] - hz), -code)))
