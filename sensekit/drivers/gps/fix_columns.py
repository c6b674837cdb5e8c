"""Fixes from the columns of a block's epochs: the streaming assembler's conversion
(``EpochAssembler._values`` and ``_mode``), one column at a time.

An epoch whose values do not all read cleanly goes through the streaming conversion itself,
so the counting of unreadable fields is the same.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .block import Block, SkyTable
from .decimals import floats, ints
from .epoch import UTC_UNKNOWN, EpochAssembler, Fix, _used_count
from .epoch_columns import EpochColumns
from .fields import KNOT_MPS
from .sentences import EpochFields

__all__ = ["fixes_of"]

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


def _angles(block: Block, value: tuple[I64, I64], hemisphere: tuple[I64, I64], limit: int
            ) -> tuple[npt.NDArray[np.float64], Bools]:
    """:func:`~.fields.angle` of each field, vectorized; the second array marks errors."""
    number, bad = floats(block.buf, block.arr, *value)
    given = value[1] > value[0]
    with np.errstate(invalid="ignore"):
        degrees = np.trunc(number / 100.0)
        minutes = number - degrees * 100.0
        result = degrees + minutes / 60.0
        ok = (np.isfinite(number) & (minutes >= 0.0) & (minutes < 60.0) & (degrees <= limit)
              & (result <= limit))
    south = block.is_char(hemisphere, "S") | block.is_char(hemisphere, "W")
    north = block.is_char(hemisphere, "N") | block.is_char(hemisphere, "E")
    bad |= given & ~(ok & (south | north))
    return np.where(given, np.where(south, -result, result), math.nan), bad


def _dops(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    with np.errstate(invalid="ignore"):
        return np.where((values >= 99.99) | (values <= 0.0), math.nan, values)


def fixes_of(cols: EpochColumns, asm: EpochAssembler, epochs: range,
             tods: list[int]) -> list[Fix]:
    """Fixes of ``epochs``: the streaming ``_values`` and ``_mode``, a column at a time."""
    v, block = cols.values, cols.block
    position = v["position"]
    lat, ns, lon, ew = (position.spans(epochs, i) for i in range(4))
    has_lat = lat[1] > lat[0]
    lat_deg, bad = _angles(block, lat, ns, 90)
    lon_deg, bad_lon = _angles(block, lon, ew, 180)
    lon_deg = np.where(has_lat, lon_deg, math.nan)
    bad |= bad_lon & has_lat
    numbers = {}
    for name in ("alt", "speed", "track", "hdop", "pdop", "vdop"):
        numbers[name], wrong = floats(block.buf, block.arr, *v[name].spans(epochs))
        bad |= wrong
    has_gst = v["gst"].given(epochs)
    errors = []
    for part in range(3):
        values, wrong = floats(block.buf, block.arr, *v["gst"].spans(epochs, part))
        errors.append(values)
        bad |= wrong
    sats, bad_sats = _sats(block, v["sats"].spans(epochs), cols.sky, epochs)
    bad |= bad_sats
    fix_ok = v["fix_ok"].numbers(epochs, 0, -1).astype(np.int64)
    gsa_mode = v["gsa_mode"].numbers(epochs, 0, 0).astype(np.int64)
    speed = numbers["speed"] * v["speed"].numbers(epochs, 2, KNOT_MPS)
    mode = _modes(fix_ok, gsa_mode, lat_deg, numbers["alt"]).tolist()
    errors = [np.where(has_gst, x, math.nan) for x in errors]
    columns = [lat_deg, lon_deg, numbers["alt"], speed, numbers["track"],
               *(_dops(numbers[k]) for k in ("hdop", "pdop", "vdop")), *errors]
    fixes = _fixes(epochs, tods, cols, [c.tolist() for c in columns], sats, mode)
    for i in np.flatnonzero(bad).tolist():       # unreadable values: the streaming way
        fixes[i] = _slow_fix(cols, asm, epochs.start + i, tods[i])
    asm.stats.epochs += len(fixes)
    asm.stats.fixes += sum(1 for f in fixes if f.mode >= 2)
    return fixes


def _fixes(epochs: range, tods: list[int], cols: EpochColumns, columns: list[list[float]],
           sats: list[int], mode: list[int]) -> list[Fix]:
    """One :class:`Fix` per epoch from its values (the hot loop: no call per fix)."""
    new, sky, kinds = Fix.__new__, cols.sky, cols.kinds.tolist()
    fixes = []
    for e, tod, lat, lon, alt, speed, track, hdop, pdop, vdop, lat_e, lon_e, alt_e, n, m in zip(
            epochs, tods, *columns, sats, mode, strict=True):
        fix = new(Fix)
        fix.t_ns, fix.tod_ns, fix.utc_ns, fix.mode, fix.sats_used = 0, tod, UTC_UNKNOWN, m, n
        fix.lat_deg, fix.lon_deg, fix.alt_msl_m, fix.speed_mps = lat, lon, alt, speed
        fix.track_deg, fix.hdop, fix.pdop, fix.vdop = track, hdop, pdop, vdop
        fix.lat_err_m, fix.lon_err_m, fix.alt_err_m = lat_e, lon_e, alt_e
        fix._kinds, fix._gsv, fix._gsa, fix._sats, fix._sky = kinds[e], (), (), None, (sky, e)
        fixes.append(fix)
    return fixes


def _sats(block: Block, span: tuple[I64, I64], sky: SkyTable, epochs: range
          ) -> tuple[list[int], Bools]:
    """``int`` of the satellites field, or the count of GSA's used satellites without one."""
    values, bad = ints(block.buf, block.arr, *span)
    out = values.tolist()
    for i in np.flatnonzero(span[1] == span[0]).tolist():
        out[i] = _used_count(sky.gsa_bodies(epochs.start + i))
    return out, bad


def _modes(fix_ok: I64, gsa_mode: I64, lat: npt.NDArray[np.float64],
           alt: npt.NDArray[np.float64]) -> I64:
    """:meth:`EpochAssembler._mode` of each epoch."""
    unknown = np.where(gsa_mode == 1, 1, 0)
    no_fix = (fix_ok == 0) | np.isnan(lat)
    fixed = np.where(gsa_mode >= 2, gsa_mode, np.where(np.isnan(alt), 2, 3))
    return np.where(fix_ok < 0, unknown, np.where(no_fix, 1, fixed))


def _slow_fix(cols: EpochColumns, asm: EpochAssembler, e: int, tod: int) -> Fix:
    """An epoch with an unreadable value: the streaming conversion, which counts them."""
    ep = EpochFields(0, tod)
    cols.apply(ep, e)
    return asm._convert(ep)
