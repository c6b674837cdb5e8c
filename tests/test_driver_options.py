"""Options are refused where they are given: every driver checks ``rate_hz`` against the range
it declares, once, in the driver base (a bad rate once became 100 Hz or hung allocating)."""

from __future__ import annotations

import math
from typing import Any

import pytest

import sensekit
from sensekit.clock import FakeClock
from sensekit.drivers import BUILTIN_DRIVERS, driver_class
from sensekit.errors import ConfigError
from sensekit.options import check_choice, check_number

DRIVERS = sorted(n for n in BUILTIN_DRIVERS if n != "replay")
BAD_RATES: list[Any] = [0, 0.0, -1, -100.0, math.nan, math.inf, "100", True, None]


@pytest.mark.parametrize("name", DRIVERS)
@pytest.mark.parametrize("rate", BAD_RATES[:-1], ids=repr)
def test_a_bad_rate_is_refused_naming_the_option_and_range(name: str, rate: Any) -> None:
    cls = driver_class(name)
    lo, hi = cls.rate_range_hz
    with pytest.raises(ConfigError, match=r"rate_hz") as info:
        cls("emu://", rate_hz=rate, clock=FakeClock())
    assert f"{lo:g}" in str(info.value) and f"{hi:g}" in str(info.value)
    assert name in str(info.value)


@pytest.mark.parametrize("name", DRIVERS)
def test_a_rate_beyond_the_part_is_refused(name: str) -> None:
    cls = driver_class(name)
    with pytest.raises(ConfigError, match="outside the valid range"):
        cls("emu://", rate_hz=cls.rate_range_hz[1] * 1.5, clock=FakeClock())


def test_audio_at_a_gigahertz_is_refused_before_anything_is_allocated() -> None:
    with pytest.raises(ConfigError, match=r"rate_hz=1000000000.0 .*1000 to 384000 Hz"):
        sensekit.open("audio", "emu://", rate_hz=1e9, clock=FakeClock())
    with pytest.raises(ConfigError, match=r"rate=.*384000"):
        sensekit.open("audio", "emu://?rate=1e9", clock=FakeClock())


@pytest.mark.parametrize("rate", [0, -1, math.nan, "5"], ids=repr)
def test_set_rate_checks_the_same_range(rate: Any) -> None:
    light = sensekit.open("veml7700", "emu://", clock=FakeClock())
    with pytest.raises(ConfigError, match=r"veml7700 .*rate_hz.*40 Hz"):
        light.set_rate(rate)
    light.close()


def test_timeout_and_retries_are_checked_too() -> None:
    with pytest.raises(ConfigError, match="timeout_s"):
        sensekit.open("bh1750", "emu://", timeout_s=math.nan, clock=FakeClock())
    with pytest.raises(ConfigError, match="retries"):
        sensekit.open("bh1750", "emu://", retries=1.5, clock=FakeClock())


def test_check_number_and_choice() -> None:
    assert check_number("dev", "x", 3, 0, 5) == 3.0
    assert check_number("dev", "n", 4.0, 1, 8, integer=True) == 4
    for bad in (math.nan, "3", True, 6, -1):
        with pytest.raises(ConfigError, match="dev: x"):
            check_number("dev", "x", bad, 0, 5)
    with pytest.raises(ConfigError, match="above 0"):
        check_number("dev", "x", 0, 0, lo_open=True)
    assert check_choice("dev", "gain", 0.25, (0.125, 0.25, 1.0)) == 0.25
    for bad in (math.nan, -1, "1", True):
        with pytest.raises(ConfigError, match=r"gain must be one of 0\.125, 0\.25, 1"):
            check_choice("dev", "gain", bad, (0.125, 0.25, 1.0))
