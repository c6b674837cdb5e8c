"""What the INA219, INA226 and INA3221 drivers share: options, polling, packets, sleep, resets.

Every INA driver yields ``power`` packets (:data:`sensekit.packets.SPECS`): one sample per read,
one column per rail, ``voltage_v`` (bus voltage, V), ``current_a`` (A, negative when current
flows backwards through the shunt) and ``power_w`` (W, ``voltage_v * current_a``, so signed
too). ``packet.meta["rails"]`` names the columns, ``meta["shunt_v"]`` holds the shunt
voltages and ``meta["over_range"]`` says per rail whether the shunt voltage sat at the part's
full scale: the current through it was then more than the part can measure, and that rail's
current and power are NaN rather than the clipped value.

Timestamps: a result covers the conversion (all averaged samples, shunt and bus) that ended
within one conversion time before the read; the reading is stamped at the middle of that
window as well as it can be known without an interrupt pin, one conversion time before the
read (the middle of where it can lie, so the stamp is off by at most half a conversion time
and on average by none).

Not verified on hardware: that a real part's conversion time is the datasheet's, which the
stamps rely on (``drivers/smoke.py --check ina219-timing`` times the CNVR flag on a board).

Power loss: a part that lost power comes back with its reset values (the INA219 and INA226 with
calibration 0, so current and power read 0). Each read checks the configuration (and the
calibration) against what was written; a mismatch configures the part again, is counted in
``stats.resets``, and that read returns nothing rather than the zeros.

Options may be keyword arguments or URL query options (the power meters pass the query on):
``shunt_ohm`` (one value, or one per channel ``0.1,0.1,0.05``), ``max_current_a``,
``current_lsb_a``, ``rails`` (``VIN,5V,3V3``).
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ...buses.i2c import transfer_bits
from ...driver import PollSchedule
from ...errors import ConfigError, DeviceNotFound
from ...options import check_number
from ...packets import Packet
from ..i2c_base import I2CDriver
from ..registers import Field, Register

__all__ = ["InaDriver", "Reading", "calibration_value"]

log = logging.getLogger(__name__)
Array = npt.NDArray[np.float64]


def calibration_value(scale: float, current_lsb_a: float, shunt_ohm: float) -> int:
    """``trunc(scale / (Current_LSB x R_shunt))``, the INA219/INA226 calibration equations,
    truncated as the datasheets say but without a float's last-digit error turning 20480 into
    20479."""
    exact = scale / (current_lsb_a * shunt_ohm)
    return math.floor(exact * (1 + 1e-12))


@dataclass(frozen=True)
class Reading:
    """One result of the part, per channel."""

    bus_v: Array
    shunt_v: Array
    current_a: Array
    over_range: tuple[bool, ...]


class InaDriver(I2CDriver):
    """Base of the TI INA current/power monitors.

    Args:
        url: ``i2c://BUS/ADDR`` or ``emu://``.
        shunt_ohm: Shunt resistance (per channel for the INA3221).
        max_current_a: Largest current expected (sets the gain and current LSB).
        current_lsb_a: Current LSB to program (overrides the one derived from max_current_a).
        rails: Names of the rails measured (default ``ch1``, ``ch2``...).
        **kwargs: Passed to :class:`~sensekit.drivers.i2c_base.I2CDriver`.
    """

    modality = "power"
    modes = ("continuous",)
    default_rate_hz = 10.0
    default_address: ClassVar[int] = 0x40
    channels: ClassVar[int] = 1
    default_shunt_ohm: ClassVar[float] = 0.1
    #: CONFIG's operating-mode field and its power-down and continuous codes (each part's map).
    mode_field: ClassVar[Field]
    mode_power_down: ClassVar[int]
    mode_continuous: ClassVar[int]
    #: Registers whose values a reset changes, read back on every read (each part's map).
    checked_registers: ClassVar[tuple[Register, ...]] = ()

    def __init__(self, url: str, *, shunt_ohm: float | str | list[float] | None = None,
                 max_current_a: float | None = None, current_lsb_a: float | None = None,
                 rails: str | list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        where = self.describe()
        shunts = shunt_ohm if shunt_ohm is not None else self.url.options.get("shunt_ohm")
        self.shunt_ohm = _per_channel(shunts, self.channels, self.default_shunt_ohm, where)
        max_current = max_current_a if max_current_a is not None else \
            self.url.option("max_current_a", float, None)
        self.max_current_a = None if max_current is None else check_number(
            where, "max_current_a", max_current, 0.0, lo_open=True, unit="A")
        lsb = current_lsb_a if current_lsb_a is not None else \
            self.url.option("current_lsb_a", float, None)
        self.current_lsb_a = None if lsb is None else check_number(
            where, "current_lsb_a", lsb, 0.0, lo_open=True, unit="A")
        names = rails if rails is not None else self.url.options.get("rails")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        self.rails = list(names) if names else [f"ch{i + 1}" for i in range(self.channels)]
        if len(self.rails) != self.channels:
            raise ConfigError(f"{self.describe()}: {len(self.rails)} rail names for "
                              f"{self.channels} channel(s)")
        self._schedule = PollSchedule()
        self._written: dict[Register, int] = {}
        self._over = (False,) * self.channels

    def _check_ids(self, maker: Register, die: Register, part: str, hint: str) -> None:
        """Refuse a part whose manufacturer and die IDs are not ``part``'s (their resets)."""
        got = self.regs.read(maker), self.regs.read(die)
        if got != (maker.reset, die.reset):
            raise DeviceNotFound(
                f"{self.describe()}: IDs read {got[0]:#06x}/{got[1]:#06x}, not the {part}'s "
                f"{maker.reset:#06x}/{die.reset:#06x}. Hint: {hint}")

    # -- what each part implements -------------------------------------------------------
    def conversion_time_s(self) -> float:
        """Time one full set of conversions takes with the current settings."""
        raise NotImplementedError

    def measure(self) -> Reading:
        """One result: bus voltage, shunt voltage, current and over-range per channel."""
        raise NotImplementedError

    def configure(self) -> None:
        """Write the part's configuration (and calibration) after a reset of it."""
        raise NotImplementedError

    # -- configuration, remembered for the reset check ------------------------------------
    def write_checked(self, register: Register, value: int) -> None:
        """Write ``register`` and remember the value, to find a reset of the part later."""
        self.regs.write(register, value)
        if register in self.checked_registers:
            self._written[register] = value

    def _reset_found(self) -> str | None:
        """What shows the part was reset since it was configured, or None."""
        with self.device.lock:
            for register, value in self._written.items():
                got = self.regs.read(register)
                if got != value:
                    return f"{register.name} reads {got:#06x}, {value:#06x} was written"
        return None

    # -- the template --------------------------------------------------------------------
    @property
    def max_rate_hz(self) -> float:
        return 1.0 / self.conversion_time_s()

    def _read_packet(self, timeout_s: float) -> Packet | None:
        if not self._schedule.wait(self.clock, self.rate_hz or self.default_rate_hz or 10.0,
                                   timeout_s):
            return None
        why = self._reset_found()
        if why is not None:
            self.report_reset(why)
            self.report_dropped(1, "the part was reset; its result was not a measurement")
            self.configure()
            return None
        reading = self.measure()
        t_ns = self.clock.now_ns() - round(self.conversion_time_s() * 1e9)
        self._note_over_range(reading.over_range)
        current = np.where(reading.over_range, np.nan, reading.current_a)
        one = (1, self.channels)
        fields = {"voltage_v": reading.bus_v.astype(np.float32).reshape(one),
                  "current_a": current.astype(np.float32).reshape(one),
                  "power_w": (reading.bus_v * current).astype(np.float32).reshape(one)}
        meta = {"rails": tuple(self.rails),
                "shunt_v": tuple(float(v) for v in reading.shunt_v),
                "over_range": reading.over_range}
        return Packet(self.stream, np.array([t_ns], np.int64), fields, "power", meta)

    def _note_over_range(self, over: tuple[bool, ...]) -> None:
        for rail, now, before in zip(self.rails, over, self._over, strict=True):
            if now and not before:
                log.warning("%s: rail %s is over range (the shunt voltage is at full scale): "
                            "current and power read NaN. Hint: raise max_current_a or fit a "
                            "smaller shunt", self.describe(), rail)
        self._over = over

    def bus_bits_per_s(self, rate_hz: float) -> float:
        reads = 3 * self.channels + len(self.checked_registers)
        return rate_hz * reads * transfer_bits(1, 2)

    def _set_rate(self, rate_hz: float) -> float:
        return min(rate_hz, self.max_rate_hz)

    def _power_down(self, down: bool) -> None:
        self.regs.set(self.mode_field, self.mode_power_down if down else self.mode_continuous)
        config = self.mode_field.register
        if config in self._written:
            self._written[config] = self.regs.read(config)

    def _close(self) -> None:
        with contextlib.suppress(OSError):  # the bus may be gone already
            self._power_down(True)
        super()._close()

    def _sleep(self) -> None:
        self._power_down(True)

    def _wake(self) -> None:
        self._power_down(False)
        self.clock.sleep(self.conversion_time_s())  # the first result needs a full conversion
        self._schedule.reset()


def _per_channel(value: float | str | list[float] | None, channels: int, default: float,
                 where: str) -> list[float]:
    if value is None:
        values: list[Any] = [default] * channels
    elif isinstance(value, str):
        try:
            values = [float(v) for v in value.split(",")]
        except ValueError:
            raise ConfigError(f"{where}: shunt_ohm={value!r} is not a number list") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        values = [value]
    else:
        values = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(values) == 1:
        values *= channels
    if len(values) != channels:
        raise ConfigError(f"{where}: shunt_ohm needs {channels} positive value(s), got {value!r}")
    return [check_number(where, "shunt_ohm", v, 0.0, lo_open=True, unit="ohm") for v in values]
