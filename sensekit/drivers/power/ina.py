"""What the INA219, INA226 and INA3221 drivers share: options, polling, packets, sleep.

Every INA driver yields ``power`` packets (:data:`sensekit.packets.SPECS`): one sample per read,
one column per rail, ``voltage_v`` (bus voltage, V), ``current_a`` (A, negative when current
flows backwards through the shunt) and ``power_w`` (W, ``voltage_v * current_a``, so signed
too). ``packet.meta["rails"]`` names the columns, ``meta["shunt_v"]`` holds the shunt
voltages. A sample's timestamp is the middle of the conversion it came from.

Options may be keyword arguments or URL query options (the power meters pass the query on):
``shunt_ohm`` (one value, or one per channel ``0.1,0.1,0.05``), ``max_current_a``,
``current_lsb_a``, ``rails`` (``VIN,5V,3V3``).
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import numpy as np

from ...errors import ConfigError, DeviceNotFound
from ...packets import Packet
from ..i2c_base import I2CDriver
from ..registers import Field, Register

__all__ = ["InaDriver"]


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

    def __init__(self, url: str, *, shunt_ohm: float | str | list[float] | None = None,
                 max_current_a: float | None = None, current_lsb_a: float | None = None,
                 rails: str | list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        shunts = shunt_ohm if shunt_ohm is not None else self.url.options.get("shunt_ohm")
        self.shunt_ohm = _per_channel(shunts, self.channels, self.default_shunt_ohm,
                                      self.describe())
        self.max_current_a = max_current_a if max_current_a is not None else \
            self.url.option("max_current_a", float, None)
        self.current_lsb_a = current_lsb_a if current_lsb_a is not None else \
            self.url.option("current_lsb_a", float, None)
        names = rails if rails is not None else self.url.options.get("rails")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        self.rails = list(names) if names else [f"ch{i + 1}" for i in range(self.channels)]
        if len(self.rails) != self.channels:
            raise ConfigError(f"{self.describe()}: {len(self.rails)} rail names for "
                              f"{self.channels} channel(s)")
        self._due_ns: int | None = None

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

    def measure(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Bus voltage (V), shunt voltage (V) and current (A), one value per channel."""
        raise NotImplementedError

    # -- the template --------------------------------------------------------------------
    @property
    def max_rate_hz(self) -> float:
        return 1.0 / self.conversion_time_s()

    def _read_packet(self, timeout_s: float) -> Packet | None:
        now = self.clock.now_ns()
        period_ns = round(1e9 / (self.rate_hz or self.default_rate_hz or 10.0))
        if self._due_ns is None or now - self._due_ns > period_ns:
            self._due_ns = now  # late reader: take a sample now rather than catch up
        wait_s = (self._due_ns - now) / 1e9
        if self.asleep or wait_s > timeout_s:
            self.clock.sleep(timeout_s)
            return None
        self.clock.sleep(max(wait_s, 0.0))
        bus_v, shunt_v, current = self.measure()
        t_ns = self.clock.now_ns() - round(self.conversion_time_s() / 2 * 1e9)
        self._due_ns += period_ns
        one = (1, self.channels)
        fields = {"voltage_v": bus_v.astype(np.float32).reshape(one),
                  "current_a": current.astype(np.float32).reshape(one),
                  "power_w": (bus_v * current).astype(np.float32).reshape(one)}
        meta = {"rails": tuple(self.rails), "shunt_v": tuple(float(v) for v in shunt_v)}
        return Packet(self.stream, np.array([t_ns], np.int64), fields, "power", meta)

    def _set_rate(self, rate_hz: float) -> float:
        return min(rate_hz, self.max_rate_hz)

    def _power_down(self, down: bool) -> None:
        self.regs.set(self.mode_field, self.mode_power_down if down else self.mode_continuous)

    def _close(self) -> None:
        with contextlib.suppress(OSError):  # the bus may be gone already
            self._power_down(True)
        super()._close()

    def _sleep(self) -> None:
        self._power_down(True)

    def _wake(self) -> None:
        self._power_down(False)
        self.clock.sleep(self.conversion_time_s())  # the first result needs a full conversion
        self._due_ns = None


def _per_channel(value: float | str | list[float] | None, channels: int, default: float,
                 where: str) -> list[float]:
    if value is None:
        values = [default] * channels
    elif isinstance(value, str):
        try:
            values = [float(v) for v in value.split(",")]
        except ValueError:
            raise ConfigError(f"{where}: shunt_ohm={value!r} is not a number list") from None
    elif isinstance(value, (int, float)):
        values = [float(value)]
    else:
        values = [float(v) for v in value]
    if len(values) == 1:
        values *= channels
    if len(values) != channels or any(v <= 0 for v in values):
        raise ConfigError(f"{where}: shunt_ohm needs {channels} positive value(s), got {value!r}")
    return values
