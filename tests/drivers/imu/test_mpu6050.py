"""The MPU-6050 driver and its emulated part: registers, ranges, rates, modes, errors."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

import sensekit
from sensekit.buses.emulated import EmulatedBus
from sensekit.buses.i2c import I2CDevice
from sensekit.clock import FakeClock
from sensekit.drivers.calibration import ImuCalibration
from sensekit.drivers.imu.mpu6050 import Mpu6050
from sensekit.errors import ConfigError, DeviceIOError, DeviceNotFound, SampleDropped
from sensekit.testing.mpu6050_emu import MotionTrace, Mpu6050Emulator

G = 9.80665


def bare(emu: Mpu6050Emulator, clock: FakeClock) -> I2CDevice:
    bus = EmulatedBus(clock, clock_hz=None)  # register behaviour, not bus time
    bus.add(emu)
    return I2CDevice(bus, -1, emu.address, name="mpu6050")


def open_imu(emu: Mpu6050Emulator, clock: FakeClock, **kw: Any) -> Mpu6050:
    imu = sensekit.open("mpu6050", "emu://", emulator=emu, clock=clock, **kw)
    assert isinstance(imu, Mpu6050)
    return imu


def test_emulated_registers_follow_the_register_map() -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator()
    dev = bare(emu, clock)
    assert dev.read_u8(0x75) == 0x68                 # WHO_AM_I
    assert dev.read_u8(0x6B) == 0x40                 # PWR_MGMT_1 resets asleep
    dev.write_u8(0x23, 0x78)                         # FIFO_EN: gyro xyz + accel
    dev.write_u8(0x6A, 0x40)                         # USER_CTRL.FIFO_EN
    clock.advance(0.1)
    assert dev.read_block(0x72, 2) == b"\x00\x00"    # asleep: nothing sampled
    dev.write_u8(0x6B, 0x00)                         # wake
    clock.advance(0.0105)                            # 8 kHz / (1 + 0) with the DLPF off
    assert int.from_bytes(dev.read_block(0x72, 2), "big") == 84 * 12
    dev.write_u8(0x1A, 1)                            # DLPF on: 1 kHz gyro output rate
    dev.write_u8(0x6A, 0x44)                         # FIFO_RESET
    clock.advance(0.0105)
    assert int.from_bytes(dev.read_block(0x72, 2), "big") == 10 * 12


def test_fifo_overflow_sets_the_flag_and_loses_the_oldest_bytes() -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator(motion=lambda t: (np.stack([t, 0 * t, 0 * t], 1),
                                            np.zeros((len(t), 3))), noise=False,
                          record_truth=True)
    dev = bare(emu, clock)
    for reg, value in ((0x6B, 0x00), (0x1A, 0x01), (0x23, 0x08), (0x6A, 0x40)):
        dev.write_u8(reg, value)                     # accel-only FIFO, 6 bytes per sample
    clock.advance(0.2005)                            # 200 samples = 1200 bytes > 1024
    assert dev.read_u8(0x3A) & 0x10                  # INT_STATUS.FIFO_OFLOW_INT
    assert dev.read_u8(0x3A) & 0x10 == 0             # cleared by the read
    assert int.from_bytes(dev.read_block(0x72, 2), "big") == 1024
    assert emu.fifo_bytes_lost == 1200 - 1024
    data = dev.read_block(0x74, 1024)
    # 176 bytes (29 samples and 2 bytes) were lost: the FIFO now starts mid-sample, and the
    # first whole sample in it is sample 30 (accel x ramps with time, so it tells which).
    first_whole = np.frombuffer(data[4:10], ">i2")
    t30 = float(emu.seconds(emu.truth_ns[30]))
    assert first_whole[0] == round(t30 / G * 16384)


@pytest.mark.parametrize(("range_g", "lsb_per_g"),
                         [(2, 16384), (4, 8192), (8, 4096), (16, 2048)])
def test_accel_lsb_per_g_matches_the_datasheet(range_g: int, lsb_per_g: int) -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator(noise=False)
    imu = open_imu(emu, clock, accel_range_g=range_g)
    clock.advance(0.05)
    p = imu.read()
    assert p is not None
    assert int.from_bytes(emu.regs[0x3F:0x41], "big", signed=True) == lsb_per_g  # ACCEL_ZOUT
    assert p["accel_mps2"][:, 2] == pytest.approx(G, abs=G / lsb_per_g)
    assert p["accel_mps2"].dtype == np.float32


@pytest.mark.parametrize(("range_dps", "lsb_per_dps"),
                         [(250, 131.0), (500, 65.5), (1000, 32.8), (2000, 16.4)])
def test_gyro_lsb_per_dps_matches_the_datasheet(range_dps: int, lsb_per_dps: float) -> None:
    clock = FakeClock()
    rate = np.deg2rad(100.0)
    emu = Mpu6050Emulator(noise=False, motion=lambda t: (
        np.tile([0, 0, G], (len(t), 1)), np.tile([rate, -rate, 0.0], (len(t), 1))))
    imu = open_imu(emu, clock, gyro_range_dps=range_dps)
    clock.advance(0.05)
    p = imu.read()
    assert p is not None
    assert int.from_bytes(emu.regs[0x43:0x45], "big", signed=True) == round(100 * lsb_per_dps)
    np.testing.assert_allclose(p["gyro_rads"][:, 0], rate, atol=np.deg2rad(1 / lsb_per_dps))
    np.testing.assert_allclose(p["gyro_rads"][:, 1], -rate, atol=np.deg2rad(1 / lsb_per_dps))


def test_values_beyond_the_range_saturate() -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator(noise=False, motion=lambda t: (np.tile([0, 0, 3 * G], (len(t), 1)),
                                                         np.zeros((len(t), 3))))
    imu = open_imu(emu, clock, accel_range_g=2)
    clock.advance(0.05)
    p = imu.read()
    assert p is not None and p["accel_mps2"][:, 2].max() == pytest.approx(32767 / 16384 * G)


def test_rates_round_to_the_divider_and_stay_within_4hz_to_1khz() -> None:
    clock = FakeClock()
    imu = open_imu(Mpu6050Emulator(), clock, rate_hz=1000)
    assert imu.set_rate(4.0) == 4.0 and imu.emulator.regs[0x19] == 249
    assert imu.set_rate(333.0) == pytest.approx(1000 / 3)
    with pytest.raises(ConfigError, match=r"rate_hz=2000\.0 is outside the valid range"):
        imu.set_rate(2000.0)
    with pytest.raises(ConfigError, match="outside 4 Hz to 1 kHz"):
        imu.set_rate(2.0)  # within the low-power modes' range, not accel_gyro's
    clock.advance(0.06)
    p = imu.read()
    assert p is not None and 19 <= len(p) <= 21  # 60 ms at 333 Hz
    dlpf_off = open_imu(Mpu6050Emulator(), clock, dlpf_hz=260, rate_hz=1000)
    assert dlpf_off.emulator.regs[0x19] == 7 and dlpf_off.rate_hz == 1000.0  # 8 kHz / 8


def test_sleep_stops_sampling_and_wake_resumes_with_honest_times() -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator()
    imu = open_imu(emu, clock, rate_hz=100)
    clock.advance(0.5)
    before = imu.read()
    assert before is not None
    imu.sleep()
    assert emu.regs[0x6B] & 0x40 and emu.sleeping
    made = emu.samples_made
    clock.advance(2.0)
    held = imu.read(timeout_s=0.0)  # what was measured before the sleep may still come
    before = held if held is not None else before
    assert imu.read(timeout_s=0.0) is None and emu.samples_made == made
    imu.wake()
    clock.advance(0.5)
    after = imu.read()
    assert after is not None
    assert after.t_ns[0] > before.t_ns[-1] + 2e9  # the sleep is a gap in time, not in count
    assert imu.stats.dropped == 0


def test_low_power_mode_runs_the_accelerometer_alone_at_the_wake_rate() -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator()
    imu = open_imu(emu, clock)
    imu.set_mode("accel_low_power")
    assert imu.set_rate(18.0) == 20.0
    assert emu.cycling and emu.regs[0x6C] & 0b111 == 0b111  # gyros in standby
    clock.advance(2.0)
    p = imu.read()
    assert p is not None and "gyro_rads" not in p.fields
    assert len(p) == pytest.approx(40, abs=1)
    imu.set_mode("accel_gyro")
    assert not emu.cycling and imu.rate_hz == 100.0


def test_wake_on_motion_calls_back_on_a_jolt_only() -> None:
    clock = FakeClock()

    def jolt(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        accel = np.tile([0.0, 0.0, G], (len(t), 1))
        accel[(t > 5.0) & (t < 5.3), 0] = 0.5 * G
        return accel, np.zeros((len(t), 3))

    imu = open_imu(Mpu6050Emulator(motion=jolt), clock, motion_threshold_g=0.1)
    events: list[int] = []
    imu.on_motion(events.append)
    imu.set_mode("wake_on_motion")
    assert imu.emulator.regs[0x1F] == 3                # 0.1 g / 32 mg per LSB
    for _ in range(16):
        clock.advance(0.25)
        imu.read(timeout_s=0.0)
    assert events == [], "motion reported while the part lay still"
    for _ in range(8):
        clock.advance(0.25)
        imu.read(timeout_s=0.0)
    assert events, "the jolt at 5 s was not reported"
    assert all(e > imu.emulator.t0_ns + 4.9e9 for e in events)


def test_a_reader_thread_drains_the_fifo_on_real_time() -> None:
    imu = sensekit.open("mpu6050", "emu://", rate_hz=200)  # 0.4 s of FIFO: room for a busy host
    assert isinstance(imu, Mpu6050)
    assert imu._thread is not None and imu._thread.is_alive()
    got = 0
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        p = imu.read(timeout_s=0.1)
        if p is not None:
            got += len(p)
    imu.close()
    assert 60 < got < 160 and not imu._thread.is_alive()
    assert imu.stats.dropped == 0


def test_open_errors_name_the_address_and_the_fix() -> None:
    bus = EmulatedBus(FakeClock())
    with pytest.raises(DeviceNotFound, match=r"no mpu6050 answered.*i2cdetect -y"):
        sensekit.open("mpu6050", "i2c://1/0x68", bus=bus, clock=FakeClock())
    bus.add(Mpu6050Emulator())
    bus.busy(0x68)
    with pytest.raises(DeviceNotFound, match="in use by a kernel driver"):
        sensekit.open("mpu6050", "i2c://1/0x68", bus=bus, clock=FakeClock())
    rtc = Mpu6050Emulator(address=0x69)
    rtc.regs[0x75] = 0x12
    with pytest.raises(DeviceNotFound, match=r"WHO_AM_I is 0x12.*known: 0x68 MPU-6050, 0x70 "
                                             r"MPU-6500.*0x98 ICM-20689.*DS3231"):
        sensekit.open("mpu6050", "emu://", emulator=rtc, clock=FakeClock())


@pytest.mark.parametrize(("chip", "who", "fifo"), [("mpu6500", 0x70, 512),
                                                     ("icm20689", 0x98, 4096)])
def test_boards_sold_as_mpu6050_are_taken_with_a_warning_naming_the_chip(
        chip: str, who: int, fifo: int, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator(chip=chip, record_truth=True)
    imu = open_imu(emu, clock, rate_hz=1000)
    name = {"mpu6500": "MPU-6500", "icm20689": "ICM-20689"}[chip]
    assert f"WHO_AM_I is {who:#04x}" in caplog.text and name in caplog.text
    assert imu.chip.chip == name and imu.fifo_size == fifo
    if chip == "icm20689":
        assert emu.regs[0x1D] >> 6 == 0b11   # ACCEL_CONFIG2.FIFO_SIZE: the whole 4 KB
    # The FIFO holds what the chip's map says: at 1 kHz and 12 bytes, 42 or 341 samples.
    clock.advance(fifo / 12 / 1000 * 0.9)
    p = imu.read(timeout_s=0.0)
    assert p is not None and imu.stats.dropped == 0
    assert p.meta["chip"] == name


def test_a_mpu6050_board_with_an_mpu6050_is_taken_silently(
        caplog: pytest.LogCaptureFixture) -> None:
    open_imu(Mpu6050Emulator(), FakeClock())
    assert "WHO_AM_I" not in caplog.text


def test_the_gyros_settle_before_the_first_sample_is_taken() -> None:
    # PS-MPU-6000A-00 Rev 3.4 sec. 6.1: the zero-rate output settles 50 ms after power-up; the
    # emulated gyros read up to 10 deg/s off until then.
    for chip in ("mpu6050", "mpu6500"):
        clock = FakeClock()
        emu = Mpu6050Emulator(chip=chip, noise=False)
        imu = open_imu(emu, clock, rate_hz=1000)
        clock.advance(0.02)
        p = imu.read()
        assert p is not None
        assert np.abs(np.degrees(p["gyro_rads"])).max() < 2 / 131, chip
        imu.sleep()
        clock.advance(1.0)
        imu.wake()
        clock.advance(0.02)
        q = imu.read()
        assert q is not None and np.abs(np.degrees(q["gyro_rads"])).max() < 2 / 131, chip


def test_a_fifo_read_that_fails_part_way_is_not_repeated_as_garbage() -> None:
    clock = FakeClock()
    bus = EmulatedBus(clock)
    emu = bus.add(Mpu6050Emulator(noise=False, record_truth=True))
    imu = sensekit.open("mpu6050", "i2c://1/0x68", bus=bus, clock=clock, rate_hz=1000,
                        retries=3)
    clock.advance(0.03)
    good = imu.read(timeout_s=0.0)
    assert good is not None
    delivered = len(good)
    clock.advance(0.03)
    bus.fail_after(5, 0x68, register=0x74)   # the FIFO read breaks after 5 bytes left it
    with pytest.warns(SampleDropped, match="failed part-way"):
        got = imu.read(timeout_s=0.0)
    assert got is None
    packets = []
    for _ in range(10):
        clock.advance(0.03)
        p = imu.read(timeout_s=0.0)
        if p is not None:
            packets.append(p)
            delivered += len(p)
    accel = np.concatenate([p["accel_mps2"] for p in packets])
    np.testing.assert_allclose(accel, np.tile([0, 0, G], (len(accel), 1)), atol=1e-3)
    unread = len(emu.fifo) // 12
    assert abs(imu.stats.dropped - (emu.fifo_pushed - delivered - unread)) <= 2


def test_a_part_that_lost_power_is_found_configured_again_and_counted() -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator(record_truth=True)
    imu = open_imu(emu, clock, rate_hz=200)
    clock.advance(0.1)
    assert imu.read(timeout_s=0.0) is not None
    emu.power_on_reset()                          # back asleep, FIFO off: nothing comes
    assert emu.sleeping
    got = []
    with pytest.warns(SampleDropped, match="lost power"):
        for _ in range(20):
            clock.advance(0.05)
            p = imu.read(timeout_s=0.0)
            if p is not None:
                got.append(p)
    assert imu.stats.resets == 1 and not emu.sleeping
    assert got and all(np.abs(p["accel_mps2"][:, 2] - G).max() < 0.5 for p in got)
    assert 5 <= imu.stats.dropped <= 60


def test_overflow_is_estimated_from_timing_and_labelled() -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator(record_truth=True)
    imu = open_imu(emu, clock, rate_hz=1000)
    for _ in range(20):
        clock.advance(0.05)
        imu.read(timeout_s=0.0)
    delivered = imu.stats.samples
    clock.advance(0.4)
    with pytest.warns(SampleDropped, match="estimated"):
        imu.read(timeout_s=0.0)
    exact = emu.fifo_pushed - delivered - len(emu.fifo) // 12
    assert imu.stats.dropped_estimated
    assert abs(imu.stats.dropped - exact) <= 2


def test_glitches_are_retried_and_a_vanished_part_is_an_io_error() -> None:
    clock = FakeClock()
    bus = EmulatedBus(clock, clock_hz=None)  # register behaviour, not bus time
    emu = bus.add(Mpu6050Emulator())
    imu = sensekit.open("mpu6050", "i2c://1/0x68", bus=bus, clock=clock, retries=2)
    clock.advance(0.1)
    bus.eio_burst(2)
    assert imu.read() is not None                      # two EIOs, retried
    bus.vanish(emu.address)
    clock.advance(0.1)
    with pytest.raises(DeviceIOError, match=r"mpu6050 at i2c://1/0x68.*Remote I/O"):
        imu.read()
    bus.stuck = True
    with pytest.raises(DeviceIOError, match="timed out"):
        imu.read()


def test_calibration_is_applied_on_read() -> None:
    clock = FakeClock()
    bias = np.array([0.02, -0.01, 0.005])
    emu = Mpu6050Emulator(noise=False, motion=lambda t: (np.tile([0, 0, G], (len(t), 1)),
                                                         np.tile(bias, (len(t), 1))))
    cal = ImuCalibration(gyro_bias_rads=bias)
    imu = open_imu(emu, clock, calibration=cal)
    clock.advance(0.05)
    p = imu.read()
    assert p is not None and np.abs(p["gyro_rads"]).max() < 2 * np.deg2rad(1 / 131)


def test_a_recorded_trajectory_comes_back_through_the_driver(corpus: Any) -> None:
    rows = np.loadtxt(corpus / "imu" / "xio_sensor_data.csv", delimiter=",", skiprows=1,
                      max_rows=2000)
    t, gyro, accel = rows[:, 0] - rows[0, 0], np.deg2rad(rows[:, 1:4]), rows[:, 4:7] * G
    clock = FakeClock()
    emu = Mpu6050Emulator(motion=MotionTrace(t, accel, gyro), noise=False)
    imu = open_imu(emu, clock, rate_hz=100, accel_range_g=4, gyro_range_dps=2000)
    packets = []
    for _ in range(50):
        clock.advance(0.2)
        p = imu.read(timeout_s=0.0)
        if p is not None:
            packets.append(p)
    stamps = np.concatenate([p.t_ns for p in packets])
    got = np.concatenate([p["accel_mps2"] for p in packets])
    want = MotionTrace(t, accel, gyro)(emu.seconds(stamps))[0]
    # Within 1 LSB plus what the recording changes within the timestamp error.
    assert np.median(np.abs(got - want)) < 0.05


def _knocks(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Still, a 20 ms knock at 5 s (one sample at 40 Hz), a 300 ms shove at 8 s."""
    accel = np.tile([0.0, 0.0, G], (len(t), 1))
    accel[(t > 5.0) & (t < 5.02), 0] = 0.5 * G
    accel[(t > 8.0) & (t < 8.3), 0] = 0.5 * G
    return accel, np.zeros((len(t), 3))


def test_wake_on_motion_programs_duration_and_detection_control_as_the_map_says() -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator(motion=_knocks, noise=False)
    imu = open_imu(emu, clock, motion_threshold_g=0.1, motion_duration_ms=3)
    events: list[int] = []
    imu.on_motion(events.append)
    imu.set_mode("wake_on_motion")
    imu.set_rate(40.0)
    regs = emu.regs
    assert regs[0x1F] == 3                      # MOT_THR: 0.1 g at 32 mg per LSB
    assert regs[0x20] == 3                      # MOT_DUR: 1 ms per LSB (RM 2.0 sec. 4.7)
    assert regs[0x69] & 0b11 == 0b01            # MOT_COUNT: count down by one when still
    assert regs[0x69] >> 4 & 0b11 == 0b11       # ACCEL_ON_DELAY: 3 ms
    assert regs[0x1C] & 0b111 == 0b111          # ACCEL_HPF: hold, after settling at 5 Hz
    assert regs[0x38] & 0x40 and regs[0x6B] & 0x20   # MOT_EN, CYCLE
    for _ in range(28):                         # to 7 s: the 20 ms knock is too short
        clock.advance(0.25)
        imu.read(timeout_s=0.0)
    assert events == [], "a knock shorter than MOT_DUR was reported"
    for _ in range(8):                          # to 9 s: the shove lasts
        clock.advance(0.25)
        imu.read(timeout_s=0.0)
    assert events and all(e > emu.t0_ns + 7.9e9 for e in events)


def test_wake_on_motion_on_the_6500_family_uses_its_own_registers() -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator(chip="mpu6500", motion=_knocks, noise=False)
    imu = open_imu(emu, clock, motion_threshold_g=0.1)
    events: list[int] = []
    imu.on_motion(events.append)
    imu.set_mode("wake_on_motion")
    assert imu.set_rate(30.0) == pytest.approx(31.25)   # LP_ACCEL_ODR code 7 (RM9 p. 17)
    regs = emu.regs
    assert regs[0x69] == 0xC0                   # ACCEL_INTEL_EN and ACCEL_INTEL_MODE
    assert regs[0x1F] == 25                     # WOM_THR: 0.1 g at 4 mg per LSB
    assert regs[0x1E] == 7 and regs[0x1D] == 0b1001   # LP_ACCEL_ODR; FCHOICE_B, A_DLPF_CFG 1
    assert regs[0x38] & 0x40 and regs[0x6B] & 0x20 and regs[0x6C] & 0b111 == 0b111
    for _ in range(36):
        clock.advance(0.25)
        imu.read(timeout_s=0.0)
    # No duration counter on this family: the knock fires too; each is seen at the next drain.
    seen = [(e - emu.t0_ns) / 1e9 for e in events]
    assert seen and all(5.0 < s < 5.3 or 8.0 < s < 8.6 for s in seen), seen
    assert any(s < 5.3 for s in seen) and any(s > 8.0 for s in seen)


def test_the_icm20689_has_no_cycle_mode_here_and_says_so() -> None:
    imu = open_imu(Mpu6050Emulator(chip="icm20689"), FakeClock())
    with pytest.raises(ConfigError, match="ICM-20689 has no accelerometer cycle mode"):
        imu.set_mode("wake_on_motion")
    assert imu.mode == "accel_gyro" and imu.read() is not None


def test_the_int_pin_wakes_the_reader_on_motion_without_polling() -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator(motion=_knocks, noise=False)
    imu = open_imu(emu, clock, motion_threshold_g=0.1, motion_duration_ms=2, int_pin=17)
    events: list[int] = []
    imu.on_motion(events.append)
    imu.set_mode("wake_on_motion")
    imu.set_rate(40.0)
    start = emu.t0_ns
    while clock.now_ns() - start < 9.5e9 and not events:
        imu.read(timeout_s=1.0)
    assert events and 8.0e9 < events[0] - start < 8.15e9   # within a few samples of the shove
    assert imu.stats.timeouts <= 12                         # it slept on the line, not polled


def test_data_ready_on_the_int_pin_brings_each_sample_at_low_rates() -> None:
    clock = FakeClock()
    emu = Mpu6050Emulator()
    imu = open_imu(emu, clock, rate_hz=50, int_pin="gpiochip0:17")
    assert emu.regs[0x38] & 0x01                # DATA_RDY_EN
    p = imu.read(timeout_s=1.0)
    assert p is not None and len(p) <= 2        # it woke as soon as a sample was there


@pytest.mark.parametrize("chip", ["mpu6050", "mpu6500", "icm20689"])
def test_self_test_passes_a_healthy_part_and_fails_a_damaged_one(chip: str) -> None:
    healthy = open_imu(Mpu6050Emulator(chip=chip), FakeClock())
    result = healthy.self_test()
    assert result.passed, str(result)
    assert healthy.read() is not None           # back to normal afterwards
    damaged = open_imu(Mpu6050Emulator(chip=chip, self_test_scale=0.4), FakeClock())
    bad = damaged.self_test()
    assert not bad.passed and "FAIL" in str(bad)
