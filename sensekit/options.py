"""Checks for option values, so a bad value is refused where it is given, naming the option.

Every driver option that is a number or one of a set goes through :func:`check_number` or
:func:`check_choice`; the driver base checks ``rate_hz`` against the range each driver declares
(:attr:`sensekit.driver.Driver.rate_range_hz`). A value that is zero, negative, NaN, infinite, a
string or a bool where a number is wanted, or outside what the part supports, is a
:class:`~sensekit.errors.ConfigError` that names the device, the option and the valid range,
never a silent default (``rate_hz=0`` once became 100 Hz) or a hang (``rate_hz=1e9`` for audio
once allocated gigabytes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any, TypeVar

from .errors import ConfigError

__all__ = ["check_choice", "check_number", "describe_range"]

T = TypeVar("T")


def describe_range(lo: float, hi: float, *, lo_open: bool = False, unit: str = "") -> str:
    """``"4 to 1000 Hz"`` or ``"above 0"``: how messages state a valid range."""
    unit = f" {unit}" if unit else ""
    if math.isinf(hi):
        return f"{'above' if lo_open else 'at least'} {lo:g}{unit}"
    return f"{'above ' if lo_open else ''}{lo:g} to {hi:g}{unit}"


def check_number(where: str, name: str, value: Any, lo: float = -math.inf,
                 hi: float = math.inf, *, lo_open: bool = False, integer: bool = False,
                 unit: str = "") -> float:
    """``value`` as a float (or int) within ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``).

    Args:
        where: The device (``"veml7700 at i2c://1/0x10"``) or file the option belongs to.
        name: The option's name as the user wrote it (``"rate_hz"``).
        value: What was given.
        integer: Require a whole number.
        unit: For the message (``"Hz"``).

    Raises:
        ConfigError: ``value`` is not a real number (strings and bools are refused), is NaN or
            infinite, is not whole when ``integer``, or is out of range; the message names
            ``where``, ``name``, the value and the valid range.
    """
    valid = describe_range(lo, hi, lo_open=lo_open, unit=unit)
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigError(f"{where}: {name} must be {kind} ({valid}), got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ConfigError(f"{where}: {name} must be a finite number ({valid}), got {value!r}")
    if integer and not (isinstance(value, Integral) or number.is_integer()):
        raise ConfigError(f"{where}: {name} must be a whole number ({valid}), got {value!r}")
    below = number <= lo if lo_open else number < lo
    if below or number > hi:
        raise ConfigError(f"{where}: {name}={value!r} is outside the valid range: {valid}")
    return int(number) if integer else number


def check_choice(where: str, name: str, value: Any, choices: Iterable[T]) -> T:
    """``value`` if it is one of ``choices`` (compared by value; NaN never matches).

    Raises:
        ConfigError: naming ``where``, ``name``, the value and the choices.
    """
    options = list(choices)
    if not isinstance(value, bool):
        for choice in options:
            if isinstance(choice, bool):
                continue
            try:
                if value == choice:
                    return choice
            except TypeError:
                continue
    shown = ", ".join(f"{c:g}" if isinstance(c, float) else str(c) for c in options)
    raise ConfigError(f"{where}: {name} must be one of {shown}; got {value!r}")
