"""``sensekit calibrate mag``: fit a magnetometer's hard and soft iron, from a live device or a
recording, saying as it goes how many orientations are covered and when that is enough.

    sensekit calibrate mag --url i2c://1/0x68                  # turn the device every which way
    sensekit calibrate mag --url emu://?field=tumble --seconds 5
    sensekit calibrate mag --from ../shared/corpus/imu/xio_sensor_data.csv --key xio
    sensekit calibrate mag --from trial.hdf5 --json            # BROAD-style HDF5 (imu_mag)

Live: packets are read from the ``mpu9250`` driver (``--driver``) at ``--url``; every second a
line says the share of directions covered (see
:func:`sensekit.drivers.mag_calibration.coverage`) and, once it reaches the share an ellipsoid
needs, that it is enough; it stops then or after ``--seconds``. From a file: x-io style CSV
(``Magnetometer X (uT)`` columns, or ``mag_x``...), or HDF5 with an ``imu_mag`` (N, 3)
dataset. The fit (:func:`~sensekit.drivers.mag_calibration.fit_magnetometer`) is stored under
``--key`` (default: the URL) in the calibration store (``--store``, default
``$SENSEKIT_CALIBRATION`` or ``~/.config/sensekit/imu_calibration.json``); an existing
magnetometer calibration under that key is replaced only with ``--force``. ``--no-save`` only
prints. ``--json`` prints the calibration as JSON on stdout. Exit status 0 on a fit, 1 when
none could be made, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..cli import add_stdout_output
from ..clock import Clock, default_clock
from ..errors import ConfigError, SensekitError
from .calibration import CalibrationStore, MagCalibration
from .mag_calibration import BINS, ENOUGH, coverage, fit_magnetometer

__all__ = ["add_arguments", "collect", "load_samples", "run"]

Array = npt.NDArray[np.float64]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="what", metavar="WHAT")
    mag = sub.add_parser("mag", help="magnetometer hard and soft iron (ellipsoid fit)")
    source = mag.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="the device, e.g. i2c://1/0x68 or emu://?field=tumble")
    source.add_argument("--from", dest="source", type=Path, metavar="FILE",
                        help="magnetometer samples from a CSV or HDF5 file instead")
    mag.add_argument("--driver", default="mpu9250", help="driver of --url (default mpu9250)")
    mag.add_argument("--seconds", type=float, default=60.0,
                     help="longest time to collect from --url (default 60)")
    mag.add_argument("--model", choices=("auto", "ellipsoid", "sphere"), default="auto",
                     help="what to fit (auto: the ellipsoid when enough directions are covered)")
    mag.add_argument("--key", help="store it under this key (default: the URL or file name)")
    mag.add_argument("--store", type=Path, help="calibration store file")
    mag.add_argument("--force", action="store_true",
                     help="replace a magnetometer calibration stored under the key")
    mag.add_argument("--no-save", action="store_true", help="print only, store nothing")
    mag.add_argument("--json", action="store_true", help="the calibration as JSON on stdout")
    add_stdout_output(mag, inputs=("source",))


# -- samples -------------------------------------------------------------------------------
def load_samples(path: Path) -> Array:
    """(N, 3) magnetometer samples (uT) from a CSV or HDF5 file.

    Raises:
        ConfigError: the file cannot be read or holds no magnetometer columns.
    """
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    if path.suffix.lower() in (".h5", ".hdf5"):
        return _from_hdf5(path)
    return _from_csv(path)


def _from_hdf5(path: Path) -> Array:
    from .._optional import require

    h5py = require("h5py", extra="test", what=f"reading {path}")
    try:
        with h5py.File(path, "r") as f:
            if "imu_mag" not in f:
                raise ConfigError(f"{path}: no imu_mag dataset (the BROAD layout)")
            return np.asarray(f["imu_mag"][:], np.float64).reshape(-1, 3)
    except OSError as exc:
        raise ConfigError(f"{path}: not a readable HDF5 file ({exc})") from None


def _from_csv(path: Path) -> Array:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it as CSV ({exc})") from None
    if not rows:
        raise ConfigError(f"{path}: empty file")
    header = [h.strip().lower() for h in rows[0]]
    columns = [_column(header, axis, path) for axis in "xyz"]
    try:
        data = np.array([[float(row[c]) for c in columns] for row in rows[1:] if row],
                        np.float64)
    except (ValueError, IndexError) as exc:
        raise ConfigError(f"{path}: a magnetometer value is not a number ({exc})") from None
    return data.reshape(-1, 3)


def _column(header: list[str], axis: str, path: Path) -> int:
    for i, name in enumerate(header):
        if name in (f"mag_{axis}", f"mag_{axis}_ut") or name.startswith(f"magnetometer {axis}"):
            return i
    raise ConfigError(f"{path}: no magnetometer {axis} column (want 'Magnetometer {axis.upper()}"
                      f" (uT)' or 'mag_{axis}')")


def collect(device: Any, seconds: float, clock: Clock, say: Any = print) -> Array:
    """Magnetometer samples from an open driver for up to ``seconds``, reporting coverage each
    second and stopping early once it is enough for an ellipsoid."""
    chunks: list[Array] = []
    start = clock.now_ns()
    next_report = start + 1_000_000_000
    while clock.now_ns() - start < seconds * 1e9:
        packet = device.read(timeout_s=0.5)
        if packet is not None and "mag_ut" in packet.fields:
            chunks.append(np.asarray(packet["mag_ut"], np.float64))
        if clock.now_ns() >= next_report and chunks:
            next_report += 1_000_000_000
            share = coverage(np.concatenate(chunks))
            if share >= ENOUGH:
                say(f"covered {round(share * BINS)}/{BINS} directions ({share:.0%}): enough")
                break
            say(f"covered {round(share * BINS)}/{BINS} directions ({share:.0%}); keep turning "
                "the device through every orientation")
    return np.concatenate(chunks) if chunks else np.empty((0, 3))


# -- the command ---------------------------------------------------------------------------
def _samples(args: argparse.Namespace) -> tuple[Array, str]:
    if args.source is not None:
        return load_samples(args.source), args.source.name
    import sensekit

    clock = default_clock()
    fastest = {"mag_rate_hz": 100.0} if args.driver == "mpu9250" else {}
    device = sensekit.open(args.driver, args.url, clock=clock, **fastest)
    try:
        print(f"turn the {args.driver} at {args.url} slowly through every orientation "
              f"(up to {args.seconds:g} s)", file=sys.stderr)
        return collect(device, args.seconds, clock,
                       lambda line: print(line, file=sys.stderr)), args.url
    finally:
        device.close()


def _summary(samples: Array, cal: MagCalibration) -> str:
    raw = np.linalg.norm(samples[np.isfinite(samples).all(axis=1)], axis=1)
    spread = raw.std() / raw.mean() if len(raw) else math.nan
    kind = ("hard and soft iron (ellipsoid)" if cal.model == "ellipsoid"
            else "hard iron only (sphere): the samples covered too few orientations for the "
                 "soft iron; turn the device through more and calibrate again")
    return (f"{cal.samples} samples, {cal.coverage:.0%} of directions covered; {kind}\n"
            f"hard iron {np.round(cal.hard_iron_ut, 2).tolist()} uT, field {cal.field_ut:.2f} uT"
            f"\nmagnitude spread {spread:.2%} before, {cal.residual:.2%} after")


def run(args: argparse.Namespace) -> int:
    if args.what != "mag":
        raise ConfigError("sensekit calibrate needs what to calibrate. Hint: sensekit "
                          "calibrate mag --url i2c://1/0x68")
    if not math.isfinite(args.seconds) or args.seconds <= 0:
        raise ConfigError(f"--seconds must be a positive number, got {args.seconds}")
    samples, source = _samples(args)
    try:
        cal = fit_magnetometer(samples, model=args.model)
    except SensekitError as exc:
        print(f"sensekit calibrate: {source}: no calibration: {exc}", file=sys.stderr)
        return 1
    print(_summary(samples, cal), file=sys.stderr)
    if args.json or args.output not in (None, "-"):  # -o FILE: the calibration is the result
        print(json.dumps(cal.to_dict()))
    if not args.no_save:
        _save(args, cal, args.key or source)
    return 0


def _save(args: argparse.Namespace, cal: MagCalibration, key: str) -> None:
    store = CalibrationStore(args.store)
    if not args.force:
        try:
            store.load_mag(key)
        except ConfigError:
            pass
        else:
            raise ConfigError(f"{store.path} already holds a magnetometer calibration for "
                              f"{key!r}. Hint: --force replaces it, --key stores it elsewhere")
    store.save_mag(key, cal)
    print(f"stored under {key!r} in {store.path}", file=sys.stderr)
