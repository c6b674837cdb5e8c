"""Per-sentence handlers: which raw fields of each NMEA sentence type go into an epoch.

Values stay bytes here; :class:`~sensekit.drivers.gps.epoch.EpochAssembler` converts them once
when the epoch closes. Field numbers follow NMEA 0183 v4.11 (``fields[0]`` is the address):

- GGA: 1 time, 2-5 position, 6 quality (0 = invalid), 7 satellites used, 8 HDOP, 9 altitude MSL;
- RMC: 1 time, 2 status (A/V), 3-6 position, 7 speed (knots), 8 track, 9 date ``ddmmyy``,
  12 mode (``N`` = not valid, NMEA 2.3+);
- GLL: 1-4 position, 5 time, 6 status, 7 mode; GNS: 1 time, 2-5 position, 6 mode per system,
  7 satellites, 8 HDOP, 9 altitude;
- GSA: 2 fix type (1/2/3), 3-14 satellites used, 15-17 PDOP/HDOP/VDOP, 18 system id (4.10);
- VTG: 1 track, 5 knots, 7 km/h, 9 mode (NMEA 2.x); older receivers send 1 track, 2 magnetic
  track, 3 knots, 4 km/h without unit letters;
- ZDA: 1 time, 2-4 day, month, year; GST: 1 time, 6-8 latitude/longitude/altitude sigma (m).
"""

from __future__ import annotations

from collections.abc import Callable

from .fields import KNOT_MPS, day_number, rmc_date

__all__ = ["HANDLERS", "KIND_BITS", "MAX_GSA", "EpochFields"]

#: GSA sentences kept per epoch (one per constellation in a real cycle).
MAX_GSA = 64


class EpochFields:
    """Raw field bytes of one navigation cycle; the last sentence to give a value wins."""

    __slots__ = ("alt", "date", "ew", "fix_ok", "gsa", "gsa_mode", "gst", "gsv", "hdop", "kinds",
                 "lat", "lon", "ns", "pdop", "sats", "speed", "speed_scale", "t_ns", "tfield",
                 "tod", "track", "vdop")

    def __init__(self, t_ns: int, tod: int | None, tfield: bytes = b"") -> None:
        self.t_ns = t_ns
        self.tod = tod
        self.tfield = tfield if tod is not None else b""
        self.lat = self.lon = self.ns = self.ew = self.alt = b""
        self.speed = self.track = self.hdop = self.pdop = self.vdop = self.sats = b""
        self.speed_scale = KNOT_MPS
        self.fix_ok: bool | None = None
        self.gsa_mode = 0
        self.date: int | None = None
        self.gst: list[bytes] | None = None
        self.gsa: list[bytes] = []
        self.gsv: list[bytes] = []
        self.kinds = 0          # bits of KIND_BITS: which sentence types came

    def position(self, f: list[bytes], i: int, valid: bool) -> None:
        """Take the position at fields ``i..i+3`` if the sentence says it is valid."""
        self.fix_ok = valid
        if valid and f[i]:
            self.lat, self.ns, self.lon, self.ew = f[i:i + 4]


# -- handlers: copy raw fields into the epoch --------------------------------------------------

def _gga(ep: EpochFields, f: list[bytes], body: bytes) -> None:
    valid = f[6] not in (b"0", b"")
    ep.position(f, 2, valid)
    if valid:
        if f[9]:
            ep.alt = f[9]
        if f[7]:
            ep.sats = f[7]
    if f[8]:
        ep.hdop = f[8]


def _rmc(ep: EpochFields, f: list[bytes], body: bytes) -> None:
    valid = f[2] == b"A" and (len(f) < 13 or f[12] != b"N")
    ep.position(f, 3, valid)
    if valid:
        if f[7]:
            ep.speed, ep.speed_scale = f[7], KNOT_MPS
        if f[8]:
            ep.track = f[8]
    if f[9]:
        ep.date = rmc_date(f[9])


def _gll(ep: EpochFields, f: list[bytes], body: bytes) -> None:
    ep.position(f, 1, f[6] == b"A" and (len(f) < 8 or f[7] != b"N"))


def _gns(ep: EpochFields, f: list[bytes], body: bytes) -> None:
    valid = bool(f[6].strip(b"N"))
    ep.position(f, 2, valid)
    if valid and f[9]:
        ep.alt = f[9]
    if f[8]:
        ep.hdop = f[8]


def _gsa(ep: EpochFields, f: list[bytes], body: bytes) -> None:
    mode = f[2]
    if mode == b"3" or mode == b"2" or mode == b"1":
        ep.gsa_mode = mode[0] - 48
    if len(ep.gsa) < MAX_GSA:
        ep.gsa.append(body)     # bytes, split again only if satellites are asked for
    if f[16]:
        ep.pdop, ep.hdop, ep.vdop = f[15:18]


def _vtg(ep: EpochFields, f: list[bytes], body: bytes) -> None:
    if f[2] == b"T":           # NMEA 2.x: value, unit letter pairs
        if len(f) > 9 and f[9] == b"N":
            return
        track = f[1]
        knots = f[5] if len(f) > 5 else b""
        kmh = f[7] if len(f) > 7 else b""
    else:                      # NMEA 1.x: track, magnetic track, knots, km/h
        track, knots, kmh = f[1], f[3], f[4]
    if track:
        ep.track = track
    if knots:
        ep.speed, ep.speed_scale = knots, KNOT_MPS
    elif kmh:
        ep.speed, ep.speed_scale = kmh, 1.0 / 3.6


def _zda(ep: EpochFields, f: list[bytes], body: bytes) -> None:
    if f[2] and f[3] and f[4]:
        ep.date = day_number(int(f[2]), int(f[3]), int(f[4]))


def _gst(ep: EpochFields, f: list[bytes], body: bytes) -> None:
    ep.gst = f


Handler = Callable[[EpochFields, list[bytes], bytes], None]
#: ``b"GGA,"`` -> (index of the UTC time field or 0, minimum field count, handler, bit in
#: ``EpochFields.kinds``); GSV is kept unsplit until its satellites are asked for.
HANDLERS: dict[bytes, tuple[int, int, Handler | None, int]] = {
    b"GGA,": (1, 10, _gga, 1), b"RMC,": (1, 10, _rmc, 2), b"GLL,": (5, 7, _gll, 4),
    b"GNS,": (1, 10, _gns, 8), b"GSA,": (0, 18, _gsa, 16), b"VTG,": (0, 5, _vtg, 32),
    b"ZDA,": (1, 5, _zda, 64), b"GST,": (1, 9, _gst, 128), b"GSV,": (0, 4, None, 256),
}
KIND_BITS = tuple((bit, key[:3].decode()) for key, (_, _, _, bit) in HANDLERS.items())
