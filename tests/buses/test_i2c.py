"""The I2C transport: errors judged by phase, retries, long reads, the smbus2 adapter."""

from __future__ import annotations

import errno
from typing import Any

import pytest
import smbus2

from sensekit.buses.emulated import EmulatedBus
from sensekit.buses.i2c import I2CDevice, Smbus2Bus, open_i2c_bus
from sensekit.clock import FakeClock
from sensekit.drivers.registers import Field, Register, RegisterBank, to_signed
from sensekit.errors import DeviceIOError, DeviceNotFound
from sensekit.testing.mpu6050_emu import Mpu6050Emulator
from sensekit.url import parse_url


def device_on(bus: EmulatedBus, address: int = 0x68, retries: int = 3) -> I2CDevice:
    return I2CDevice(bus, 1, address, name="mpu6050", retries=retries, clock=bus.clock)


def test_no_answer_when_opening_is_not_found_with_the_i2cdetect_hint() -> None:
    bus = EmulatedBus(FakeClock())
    with pytest.raises(DeviceNotFound, match=r"no mpu6050 answered at i2c://1/0x68.*"
                                             r"i2cdetect -y 1"):
        device_on(bus).check_present(0x75)


def test_ebusy_says_a_kernel_driver_owns_the_address_in_either_phase() -> None:
    bus = EmulatedBus(FakeClock())
    bus.add(Mpu6050Emulator())
    bus.busy(0x68)
    dev = device_on(bus)
    with pytest.raises(DeviceNotFound, match="in use by a kernel driver"):
        dev.check_present(0x75)
    with pytest.raises(DeviceIOError, match="in use by a kernel driver"):
        dev.read_u8(0x75)


def test_mid_stream_glitches_are_retried_a_bounded_number_of_times() -> None:
    bus = EmulatedBus(FakeClock())
    bus.add(Mpu6050Emulator())
    dev = device_on(bus, retries=3)
    bus.eio_burst(3)
    assert dev.read_u8(0x75) == 0x68 and dev.retried == 3
    bus.eio_burst(4)
    with pytest.raises(DeviceIOError, match=r"read of register 0x75 failed.*after 4 attempts"):
        dev.read_u8(0x75)
    bus.nack(0x68)
    with pytest.raises(DeviceIOError, match="Remote I/O error"):
        dev.read_u8(0x75)
    bus.nack(0x68, on=False)
    bus.stuck = True
    with pytest.raises(DeviceIOError, match="timed out"):
        dev.read_u8(0x75)


def test_reads_past_32_bytes_use_one_long_transfer_or_fall_back_to_blocks() -> None:
    clock = FakeClock()
    bus = EmulatedBus(clock, clock_hz=None)  # register behaviour, not bus time
    emu = bus.add(Mpu6050Emulator())
    dev = device_on(bus)
    for reg, value in ((0x6B, 0), (0x1A, 1), (0x23, 0x78), (0x6A, 0x40)):
        dev.write_u8(reg, value)
    clock.advance(0.0205)
    emu.update()  # the part makes samples when looked at
    assert len(emu.fifo) == 240
    first = dev.read_block(0x74, 120)
    assert len(first) == 120 and bus.traffic.long_reads == 1
    bus.rdwr_ok = False
    second = dev.read_block(0x74, 120)
    assert len(second) == 120 and bus.traffic.long_reads == 1  # 4 SMBus blocks instead
    assert len(emu.fifo) == 0


class FakeSMBus:
    """Stands in for smbus2.SMBus: records i2c_rdwr, can refuse it like an SMBus-only adapter."""

    rdwr_errno: int | None = None

    def __init__(self, bus: int) -> None:
        if bus == 9:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        if bus == 8:
            raise PermissionError(errno.EACCES, "Permission denied")
        self.calls: list[str] = []

    def i2c_rdwr(self, *msgs: Any) -> None:
        self.calls.append("rdwr")
        if self.rdwr_errno is not None:
            raise OSError(self.rdwr_errno, "not supported")
        for msg in msgs:
            if msg.flags:  # a read message: fill it
                for i in range(msg.len):
                    msg.buf[i] = bytes([i % 256])

    def read_i2c_block_data(self, addr: int, reg: int, length: int) -> list[int]:
        self.calls.append("block")
        return [reg] * length

    def close(self) -> None:
        pass


def test_smbus2_adapter_long_reads_and_open_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smbus2, "SMBus", FakeSMBus)
    raw, bus_number, address = open_i2c_bus(parse_url("i2c://1/0x68"))
    assert isinstance(raw, Smbus2Bus) and (bus_number, address) == (1, 0x68)
    assert raw.read_long(0x68, 0x74, 40) == bytes(range(40))
    FakeSMBus.rdwr_errno = errno.EOPNOTSUPP
    try:
        assert raw.read_long(0x68, 0x74, 40) == bytes([0x74] * 40)
        assert not raw.rdwr_ok and raw._bus.calls.count("block") == 2
    finally:
        FakeSMBus.rdwr_errno = None
    with pytest.raises(DeviceNotFound, match=r"/dev/i2c-9 is missing.*dtparam=i2c_arm=on"):
        open_i2c_bus(parse_url("i2c://9/0x68"))
    with pytest.raises(DeviceNotFound, match="i2c group"):
        open_i2c_bus(parse_url("i2c://8/0x68"))


def test_register_fields_read_modify_write_like_the_datasheet() -> None:
    bus = EmulatedBus(FakeClock())
    bus.add(Mpu6050Emulator())
    regs = RegisterBank(device_on(bus))
    pwr = Register("PWR_MGMT_1", 0x6B, reset=0x40)
    sleep, clksel = Field(pwr, 6), Field(pwr, 0, 3)
    assert regs.read(pwr) == pwr.reset and regs.get(sleep) == 1
    regs.update({sleep: 0, clksel: 1})
    assert regs.read(pwr) == 0x01
    with pytest.raises(ValueError, match="holds 3 bits"):
        regs.set(clksel, 8)
    word = Register("W", 0x00, width=2, signed=True, byteorder="little")
    assert word.decode(b"\xfe\xff") == -2 and word.encode(-2) == b"\xfe\xff"
    assert to_signed(0x8000, 16) == -32768 and to_signed(0x7FFF, 16) == 32767


def test_signed_fields_read_left_aligned_results_and_opcodes_carry_fields() -> None:
    from sensekit.drivers.light import bh1750
    from sensekit.drivers.power.ina3221 import RESULT

    # INA3221 SBOS576 8.6.2.2: bits 15:3, sign in bit 15; 0xFFF8 is -1 LSB, 0x7FF8 is +4095.
    assert (RESULT.get(0xFFF8), RESULT.get(0x7FF8), RESULT.get(0x0008)) == (-1, 4095, 1)
    assert RESULT.get_array([0xFFF8, 0x7FF8]).tolist() == [-1, 4095]
    # BH1750FVI Rev.D p. 11: MTreg 69 = 0b010_00101 goes as 01000_010 then 011_00101.
    high = bh1750.MT_HIGH_OPCODE.put(bh1750.CHANGE_MT_HIGH, bh1750.MT_HIGH.get(69))
    low = bh1750.MT_LOW_OPCODE.put(bh1750.CHANGE_MT_LOW, bh1750.MT_LOW.get(69))
    assert (high, low) == (0b01000_010, 0b011_00101)
