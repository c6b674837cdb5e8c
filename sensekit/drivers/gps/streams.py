"""GPS fixes and satellite views as packets.

Fixes follow :data:`sensekit.packets.SPECS` ``["gps"]``. Satellite views are a second stream
(``"<stream>.sky"``, custom modality) with one row per satellite per epoch, all rows of an
epoch sharing the epoch's ``t_ns``; :data:`SKY_SPEC` states its fields and validates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from ...packets import FieldSpec, ModalitySpec, Packet
from .epoch import Fix

__all__ = ["SKY_SPEC", "fixes_to_packet", "sky_to_packet"]

#: Fields of the satellite-view stream.
SKY_SPEC = ModalitySpec("gps_sky", MappingProxyType({
    "gnss": FieldSpec("int8", (), "", "u-blox gnssId: 0 GPS, 1 SBAS, 2 Galileo, 3 BeiDou, "
                      "5 QZSS, 6 GLONASS"),
    "svid": FieldSpec("int16", (), "", "satellite number as the receiver reported it (PRN)"),
    "elevation_deg": FieldSpec("float32", (), "deg", "elevation above the horizon, NaN unknown"),
    "azimuth_deg": FieldSpec("float32", (), "deg", "azimuth from true north, NaN unknown"),
    "snr_dbhz": FieldSpec("float32", (), "dB-Hz", "carrier to noise density, NaN not tracked"),
    "used": FieldSpec("bool", (), "", "used in the epoch's fix (from GSA)"),
    "utc_ns": FieldSpec("int64", (), "ns", "receiver UTC of the epoch (see the gps stream)"),
}), 1.0, "Satellites in view, one row per satellite per epoch.")


def fixes_to_packet(fixes: Sequence[Fix], stream: str = "gps") -> Packet:
    """One ``gps`` packet holding ``fixes`` (one sample per fix)."""
    def col(name: str, dtype: str) -> npt.NDArray[Any]:
        return np.array([getattr(f, name) for f in fixes], dtype=dtype)

    return Packet(stream, np.array([f.t_ns for f in fixes], np.int64), {
        "lat_deg": col("lat_deg", "float64"),
        "lon_deg": col("lon_deg", "float64"),
        "alt_msl_m": col("alt_msl_m", "float32"),
        "speed_mps": col("speed_mps", "float32"),
        "track_deg": col("track_deg", "float32"),
        "mode": col("mode", "int8"),
        "hdop": col("hdop", "float32"),
        "sats_used": col("sats_used", "int16"),
        "utc_ns": col("utc_ns", "int64"),
    }, modality="gps")


def sky_to_packet(fixes: Sequence[Fix], stream: str = "gps.sky") -> Packet | None:
    """The satellites in view of ``fixes`` as one packet, None if none was reported."""
    rows = [(f.t_ns, f.utc_ns, v) for f in fixes for v in f.satellites]
    if not rows:
        return None
    views = [r[2] for r in rows]
    return Packet(stream, np.array([r[0] for r in rows], np.int64), {
        "gnss": np.array([v.gnss for v in views], np.int8),
        "svid": np.array([v.svid for v in views], np.int16),
        "elevation_deg": np.array([v.elevation_deg for v in views], np.float32),
        "azimuth_deg": np.array([v.azimuth_deg for v in views], np.float32),
        "snr_dbhz": np.array([v.snr_dbhz for v in views], np.float32),
        "used": np.array([v.used for v in views], bool),
        "utc_ns": np.array([r[1] for r in rows], np.int64),
    })
