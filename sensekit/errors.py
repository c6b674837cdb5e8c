"""The sensekit error tree.

Every error sensekit raises derives from :class:`SensekitError`. The leaves also subclass the
builtin a caller would catch without knowing sensekit (``OSError`` for device I/O,
``TimeoutError`` for timeouts, ``ValueError`` for bad configuration or files, ``ImportError``
for a missing optional dependency), so generic handlers keep working.

Messages name what failed (device, bus, address, file, line) and end with a hint a person can
act on. Build them with :func:`describe` so they read the same everywhere.

Each class says what the ``sensekit`` command exits with when it ends a command
(:attr:`SensekitError.exit_code`): 2 when the command or its configuration is wrong (an option
value, a rig or campaign file that fails its schema, an output that would replace a file), 1 when
the run itself failed (a device, a recording or model file that cannot be read, a full disk).
"""

from __future__ import annotations

import warnings


def describe(what: str, *, where: str | None = None, hint: str | None = None) -> str:
    """Format an error message: ``what (where). Hint: hint``."""
    text = what if where is None else f"{what} ({where})"
    if hint:
        text = f"{text}. Hint: {hint}"
    return text


class SensekitError(Exception):
    """Root of every error raised by sensekit."""

    #: Exit status of the ``sensekit`` command when this error ends it.
    exit_code = 1


class DeviceError(SensekitError):
    """A device could not be reached or misbehaved."""


class DeviceNotFound(DeviceError, OSError):
    """Nothing answered where the device was expected (when opening it)."""


class DeviceIOError(DeviceError, OSError):
    """An I/O operation failed after the device was opened (after the retries allowed)."""


class DeviceTimeout(DeviceError, TimeoutError):
    """The device did not deliver data in time."""


class DeviceClosed(DeviceError, RuntimeError):
    """An operation was attempted on a closed device."""


class DriverUnavailable(SensekitError, ImportError):
    """A driver's optional dependency is missing. Raised when the driver is opened."""


class ConfigError(SensekitError, ValueError):
    """A configuration value, URL or option is invalid."""

    exit_code = 2


class OutputRefused(ConfigError):
    """An output would replace an input, or an existing file without ``force``."""


class FileFormatError(SensekitError, ValueError):
    """A file sensekit reads (weights, a model manifest, a profile, a run folder) is not what
    it claims to be. The message names the file and what is wrong with it."""


class LogFormatError(FileFormatError):
    """A recording is not readable as what it claims to be."""


class SegmentRefused(SensekitError, PermissionError):
    """A shared-memory segment failed the checks made before trusting it (owner, mode, header)."""


class SampleDropped(UserWarning):
    """Samples were lost (overflow, slow reader); the message says how many and where."""


def warn_dropped(count: int, *, where: str, why: str, stacklevel: int = 2) -> None:
    """Emit a :class:`SampleDropped` warning naming how much was lost, where and why."""
    warnings.warn(f"{count} samples dropped from {where}: {why}", SampleDropped,
                  stacklevel=stacklevel + 1)
