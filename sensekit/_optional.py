"""Optional dependencies, imported where they are used.

``import sensekit`` never imports torch, cv2, smbus2, serial or sounddevice. A driver calls
:func:`require` when it is opened, so a missing package is reported then, with the extra that
installs it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import DriverUnavailable


def require(module: str, *, extra: str, what: str) -> ModuleType:
    """Import ``module`` or raise :class:`DriverUnavailable` naming ``what`` needs it.

    Args:
        module: Import name (``"smbus2"``).
        extra: The sensekit extra that installs it (``"i2c"``).
        what: Who needs it, for the message (``"mpu6050 at i2c://1/0x68"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DriverUnavailable(
            f"{what} needs the Python package {module!r}, which is not installed ({exc}). "
            f"Hint: pip install 'sensekit[{extra}]'") from exc
