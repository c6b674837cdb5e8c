"""Satellites in view, decoded from an epoch's GSV and GSA sentences when first asked for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from .fields import float_or_nan

__all__ = ["SatView", "satellites"]

#: u-blox gnssId numbering: 0 GPS, 1 SBAS, 2 Galileo, 3 BeiDou, 5 QZSS, 6 GLONASS.
TALKER_GNSS = {b"GP": 0, b"GL": 6, b"GA": 2, b"GB": 3, b"BD": 3, b"GQ": 5, b"QZ": 5}
#: NMEA 4.10 GSA system id -> gnssId.
SYSTEM_GNSS = {b"1": 0, b"2": 6, b"3": 2, b"4": 3, b"5": 5}


class SatView(NamedTuple):
    """One satellite in view. ``gnss`` uses u-blox gnssId numbers; NaN where not given."""

    gnss: int
    svid: int
    elevation_deg: float
    azimuth_deg: float
    snr_dbhz: float
    used: bool


def _gnss(talker: int, prn: int) -> int:
    # NMEA 2.x puts SBAS (33-64) and GLONASS (65-96) under the GP talker.
    if talker == 0 and 33 <= prn <= 64:
        return 1
    if talker == 0 and 65 <= prn <= 96:
        return 6
    return talker


def used_set(gsa: Sequence[bytes]) -> set[tuple[int, int]]:
    """``(gnss, prn)`` of satellites used in the fix; gnss -1 when GSA does not say."""
    used = set()
    for body in gsa:
        f = body.split(b",")
        gnss = SYSTEM_GNSS.get(f[18], -1) if len(f) > 18 else TALKER_GNSS.get(f[0][:2], -1)
        for prn in f[3:15]:
            if prn.isdigit():
                used.add((gnss, int(prn)))
    return used


def satellites(gsv: Sequence[bytes], gsa: Sequence[bytes]) -> list[SatView]:
    """Satellites of the GSV bodies ``gsv``, marked used from the GSA bodies ``gsa``.

    Unreadable groups are skipped (their sentence's checksum was good, the content was not).
    """
    used = used_set(gsa)
    views: dict[tuple[int, int], SatView] = {}
    for body in gsv:
        f = body.split(b",")
        talker = TALKER_GNSS.get(f[0][:2], 0)
        end = len(f) - 1 if len(f) % 4 == 1 else len(f)     # NMEA 4.10 appends a signal id
        for i in range(4, end - 3, 4):
            try:
                prn = int(f[i])
                gnss = _gnss(talker, prn)
                views[(gnss, prn)] = SatView(
                    gnss, prn, float_or_nan(f[i + 1]), float_or_nan(f[i + 2]),
                    float_or_nan(f[i + 3]), (gnss, prn) in used or (-1, prn) in used)
            except ValueError:
                continue
    return list(views.values())
