"""Raspberry Pi 5 PMIC rails through ``vcgencmd pmic_read_adc``.

The Pi 5's PMIC (Renesas DA9091 "Gilmour") measures its own output rails; the firmware prints
one line per ADC channel::

         VDD_CORE_A current(7)=0.78079000A
         VDD_CORE_V volt(15)=0.72055400V
            EXT5V_V volt(24)=5.15494000V

Current and voltage channels of one rail have different indices, so they are paired by rail
name (the text before ``_A`` / ``_V``), never by index. Rails with a voltage only (``EXT5V``,
``BATT``) are kept, with NaN current and power. The total is the sum of the rails that have both
(``meta["total"] == ""``). What the PMIC does not see: anything drawn from the 5 V input
directly (USB ports, HATs on the 5 V pins, the fan) and the PMIC's own conversion losses, so
this reads low against a meter in the supply line; every report says so.

Each read costs about 23 ms of VideoCore firmware time, which bounds the rate (``max_rate_hz``
40) and is why the reading is stamped at the middle of the call.

URL: ``pi5`` or ``pi5@/path/to/vcgencmd``.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections.abc import Callable
from typing import Any, ClassVar

from ...errors import DeviceIOError, DeviceNotFound
from .base import Meter, RailReading

__all__ = ["Pi5PmicMeter", "parse_pmic_read_adc"]

LINE = re.compile(r"^\s*(?P<rail>\S+)_(?P<kind>[AV])\s+(?:current|volt)\(\d+\)="
                  r"(?P<value>[-+0-9.eE]+)[AV]\s*$")

NOTE = ("PMIC rails only: loads on the 5 V input (USB ports, HATs, fan) and PMIC conversion "
        "losses are not seen, so the total reads low; each read costs about 23 ms of firmware "
        "time")


def parse_pmic_read_adc(text: str) -> dict[str, tuple[float, float]]:
    """``{rail: (volts, amps)}`` from ``vcgencmd pmic_read_adc`` output, in order of first
    appearance; NaN where the rail has no such channel."""
    volts: dict[str, float] = {}
    amps: dict[str, float] = {}
    order: dict[str, None] = {}
    for line in text.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        rail = match["rail"]
        order.setdefault(rail, None)
        (amps if match["kind"] == "A" else volts)[rail] = float(match["value"])
    return {r: (volts.get(r, math.nan), amps.get(r, math.nan)) for r in order}


class Pi5PmicMeter(Meter):
    """Power of the Pi 5's PMIC rails.

    Args:
        url: ``vcgencmd`` or the path of it.
        runner: Returns the output of ``vcgencmd pmic_read_adc`` (tests pass recorded outputs);
            by default the command is run.
    """

    name: ClassVar[str] = "pi5"
    schemes: ClassVar[frozenset[str]] = frozenset({"path"})
    max_rate_hz: ClassVar[float] = 40.0

    def __init__(self, url: str = "vcgencmd", *, runner: Callable[[], str] | None = None,
                 **options: Any) -> None:
        super().__init__(url, **options)
        self.command = self.url.location or "vcgencmd"
        self._runner = runner or self._run_vcgencmd

    def _run_vcgencmd(self) -> str:
        try:
            done = subprocess.run([self.command, "pmic_read_adc"], capture_output=True,
                                  text=True, timeout=2.0, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeviceIOError(f"{self.describe()}: {self.command} pmic_read_adc failed: "
                                f"{exc}") from exc
        if done.returncode != 0:
            raise DeviceIOError(f"{self.describe()}: {self.command} pmic_read_adc exited "
                                f"{done.returncode}: {done.stderr.strip()}. Hint: the user "
                                "needs the 'video' group")
        return done.stdout

    def _discover(self) -> None:
        if self._runner == self._run_vcgencmd and shutil.which(self.command) is None:
            raise DeviceNotFound(f"{self.describe()}: {self.command!r} not found. Hint: "
                                 "this meter needs a Raspberry Pi 5 with its firmware tools")
        rails = parse_pmic_read_adc(self._runner())
        if not rails:
            raise DeviceNotFound(f"{self.describe()}: '{self.command} pmic_read_adc' printed "
                                 "no rails. Hint: only the Pi 5 (and CM5) have this PMIC ADC")
        self.rails = tuple(rails)
        self.total_rail = ""
        self.note = NOTE

    def _sample(self) -> RailReading:
        found = parse_pmic_read_adc(self._runner())
        volts, amps, watts = [], [], []
        for rail in self.rails:
            v, a = found.get(rail, (math.nan, math.nan))
            volts.append(v)
            amps.append(a)
            watts.append(v * a)
        return RailReading(volts, amps, watts)
