"""INA219 / INA226 / INA3221 shunt monitors as meters, through sensekit's own I2C drivers.

``ina219@i2c://1/0x40?shunt_ohm=0.01&max_current_a=5`` opens the ``ina219`` driver at that URL
(query options go to the driver: ``shunt_ohm``, ``max_current_a``, ``current_lsb_a``,
``rails``) and passes its packets on with the meter's ``meta``: the driver's timestamps (the
middle of each conversion) and its rate limit (the conversion time) are kept.

Which rail is the board total: a single-channel part (INA219, INA226) sits in the supply line,
so its one rail is the total. For the three-channel INA3221, name the channel that is the
board input with ``total=RAIL`` (a URL option or keyword); without it, the channels are summed
and the note says so (right when they are separate supplies, wrong when one feeds another).
``emu://`` opens the emulated part (``emulator=`` passes a programmed one), as for the driver.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ...driver import Driver
from ...drivers import driver_class
from ...errors import ConfigError
from ...packets import Packet
from .base import Meter, RailReading

__all__ = ["Ina219Meter", "Ina226Meter", "Ina3221Meter", "InaMeter"]

#: Options the meter itself (the Driver base) takes; the rest go to the INA driver.
_METER_OPTIONS = {"stream", "clock", "timeout_s", "retries", "rate_hz", "mode"}


class InaMeter(Meter):
    """A meter reading one TI INA part through its driver (``part`` names the driver)."""

    part: ClassVar[str] = ""
    schemes: ClassVar[frozenset[str]] = frozenset({"i2c", "emu"})
    modes: ClassVar[tuple[str, ...]] = ("continuous",)

    def __init__(self, url: str | None = None, *, total: str | None = None,
                 **options: Any) -> None:
        if not url:
            raise ConfigError(f"meter {self.part!r} needs to know where the part is, e.g. "
                              f"--meter '{self.part}@i2c://1/0x40?shunt_ohm=0.01'")
        own = {k: v for k, v in options.items() if k in _METER_OPTIONS}
        super().__init__(url, **own)
        self.name_total = total if total is not None else self.url.options.get("total", "")
        self._driver_options = {k: v for k, v in options.items() if k not in _METER_OPTIONS}
        self.driver: Driver | None = None

    def _discover(self) -> None:
        driver = driver_class(self.part)(self.url.raw, clock=self.clock, rate_hz=self.rate_hz,
                                         timeout_s=self.timeout_s, retries=self.retries,
                                         **self._driver_options)
        driver.open()
        self.driver = driver
        self.rate_hz = driver.rate_hz
        self.rails = tuple(getattr(driver, "rails", ()))
        if len(self.rails) == 1:
            self.total_rail = self.rails[0]
            self.note = f"{self.part} in the supply line: its one rail is the board total"
        elif self.name_total:
            if self.name_total not in self.rails:
                raise ConfigError(f"{self.describe()}: total={self.name_total!r} is not one of "
                                  f"its rails {list(self.rails)}")
            self.total_rail = self.name_total
            self.note = f"board total is channel {self.total_rail}; the others are not added"
        else:
            self.note = ("channels summed for the total (right for separate supplies; name "
                         "the input channel with total=RAIL when one feeds the others)")

    def _set_rate(self, rate_hz: float) -> float:
        if self.driver is None:
            return rate_hz
        return self.driver.set_rate(rate_hz)

    def _close(self) -> None:
        if self.driver is not None:
            self.driver.close()

    def _read_packet(self, timeout_s: float) -> Packet | None:
        assert self.driver is not None
        packet = self.driver.read(timeout_s)
        if packet is None:
            return None
        fields = {k: packet.fields[k] for k in ("voltage_v", "current_a", "power_w")
                  if k in packet.fields}
        return Packet(self.stream, packet.t_ns, fields, "power", {**packet.meta, **self.meta})

    def _sample(self) -> RailReading:
        packet = self._read_packet(self.timeout_s)
        if packet is None:
            raise ConfigError(f"{self.describe()}: no reading within {self.timeout_s} s")
        return RailReading(*(packet[k][-1].tolist() for k in ("voltage_v", "current_a",
                                                                "power_w")))


class Ina219Meter(InaMeter):
    """An INA219 (26 V, 12-bit, 10 uV shunt LSB) as a meter."""

    name: ClassVar[str] = "ina219"
    part: ClassVar[str] = "ina219"


class Ina226Meter(InaMeter):
    """An INA226 (36 V, 16-bit, 2.5 uV shunt LSB) as a meter."""

    name: ClassVar[str] = "ina226"
    part: ClassVar[str] = "ina226"


class Ina3221Meter(InaMeter):
    """An INA3221 (three channels, 26 V) as a meter; ``total=RAIL`` names the input channel."""

    name: ClassVar[str] = "ina3221"
    part: ClassVar[str] = "ina3221"
