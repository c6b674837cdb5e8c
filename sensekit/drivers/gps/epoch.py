"""Epoch assembly: sentences of one navigation cycle merged into one fix.

A receiver sends a burst of sentences per cycle (GGA, GSA, GSV, RMC...). :class:`EpochAssembler`
groups them by their UTC time of day (sentences without a time join the epoch being built; a
sentence whose time cannot be, such as ``996161.00``, is rejected and counted in
:attr:`EpochStats.bad_times`: attached to the epoch being built it would move its fix),
lets the last sentence that gives a value win, and converts values once per epoch (fields are
kept as raw bytes until the epoch closes: lazy conversion, most are overwritten anyway).

Dates come from RMC or ZDA, are carried forward and rolled over at midnight; epochs seen before
the first dated sentence wait for it (or take ``date=``). A fix's ``t_ns`` is the host time of
the first byte of its epoch's burst.

An epoch closes when a sentence with another time arrives, on :meth:`EpochAssembler.flush`, or
(``eager=True``) as soon as the sentence that ended the last cycles arrives again, so a live
receiver's fix is out at the end of its burst rather than a cycle later.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .fields import (
    DAY_NS,
    UNIX_EPOCH_ORDINAL,
    angle,
    float_or_nan,
    tod_ns,
)
from .nmea import Sentence
from .sentences import HANDLERS, KIND_BITS, EpochFields
from .sky import SatView, satellites

__all__ = ["UTC_UNKNOWN", "EpochAssembler", "EpochStats", "Fix", "SatView"]

#: ``utc_ns`` of a fix whose date (or time) is not known.
UTC_UNKNOWN = -(2**63)
#: GSV (and GSA) sentences kept per epoch: a real cycle has a few dozen at most; a stream that
#: never gives a time would otherwise grow one epoch without bound.
MAX_SKY = 64
#: First bytes of bodies that are passed on, never decoded: "P" vendor, "!" encapsulated.
_PASSED = (80, 33)


class Fix:
    """One epoch's fix. NaN (or -1 for counts) where the receiver gave no value.

    Attributes:
        t_ns: Host monotonic time of the first byte of the epoch's burst.
        utc_ns: Receiver UTC since the Unix epoch, :data:`UTC_UNKNOWN` when not known.
        tod_ns: UTC time of day in ns (None when the epoch had no time).
        mode: 1 no fix, 2 2D, 3 3D (0 unknown).
        satellites: Satellites in view reported in this epoch (GSV), may be empty.
        sentences: Sentence types that made this fix (``{"GGA", "RMC"}``).
    """

    __slots__ = ("_gsa", "_gsv", "_kinds", "_sats", "_sky", "alt_err_m", "alt_msl_m", "hdop",
                 "lat_deg", "lat_err_m", "lon_deg", "lon_err_m", "mode", "pdop", "sats_used",
                 "speed_mps", "t_ns", "tod_ns", "track_deg", "utc_ns", "vdop")

    def __init__(self, t_ns: int, tod: int | None) -> None:
        nan = math.nan
        self.t_ns = t_ns
        self.tod_ns = tod
        self.utc_ns = UTC_UNKNOWN
        self.lat_deg = self.lon_deg = self.alt_msl_m = nan
        self.speed_mps = self.track_deg = self.hdop = self.pdop = self.vdop = nan
        self.lat_err_m = self.lon_err_m = self.alt_err_m = nan
        self.mode = 0
        self.sats_used = -1
        self._kinds = 0
        self._gsv: Sequence[bytes] = []
        self._gsa: Sequence[bytes] = []
        self._sats: list[SatView] | None = None
        # (table, epoch) where a block decoder keeps this epoch's GSV and GSA bodies
        self._sky: tuple[Any, int] | None = None

    @property
    def sentences(self) -> frozenset[str]:
        """Sentence types that made this fix (``{"GGA", "RMC"}``)."""
        return frozenset(name for bit, name in KIND_BITS if self._kinds & bit)

    @property
    def satellites(self) -> list[SatView]:
        """Satellites in view reported in this epoch (decoded on first use)."""
        if self._sats is None:
            gsv, gsa = self.sky_sentences()
            self._sats = satellites(gsv, gsa) if gsv else []
        return self._sats

    def sky_sentences(self) -> tuple[Sequence[bytes], Sequence[bytes]]:
        """Bodies of the epoch's GSV and GSA sentences, in the order they came."""
        if self._sky is not None:
            table, epoch = self._sky
            self._gsv, self._gsa = table.bodies(epoch)
            self._sky = None
        return self._gsv, self._gsa

    @property
    def has_fix(self) -> bool:
        """Whether the receiver reported a 2D or 3D fix with a position."""
        return self.mode >= 2 and not math.isnan(self.lat_deg)

    @property
    def time_iso(self) -> str | None:
        """UTC as ISO 8601 to the millisecond (``2015-04-13T20:26:40.000Z``), None if unknown."""
        if self.utc_ns == UTC_UNKNOWN:
            return None
        sec, ns = divmod(self.utc_ns, 1_000_000_000)
        stamp = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=sec)
        return f"{stamp:%Y-%m-%dT%H:%M:%S}.{ns // 1_000_000:03d}Z"

    def __repr__(self) -> str:
        return (f"Fix({self.time_iso or self.tod_ns}, mode={self.mode}, lat={self.lat_deg:.7f}, "
                f"lon={self.lon_deg:.7f}, alt={self.alt_msl_m})")


@dataclass
class EpochStats:
    """Counts of what the assembler did."""

    epochs: int = 0
    fixes: int = 0
    bad_fields: int = 0
    bad_times: int = 0
    short_sentences: int = 0
    vendor: int = 0
    unknown: int = 0


class EpochAssembler:
    """Turns sentences into one :class:`Fix` per epoch.

    Args:
        date: Date of epochs seen before any RMC/ZDA date (gpsd logs' ``# Date:`` header).
        eager: Close an epoch on the sentence that ended the previous cycles (live receivers).
        hold_undated: How many timed epochs may wait for a date before they are given out
            (None: wait until :meth:`flush`); after that, undated epochs go out at once.
        utc_hint: Rough UTC now in ns (the host's wall clock), to date epochs of a receiver
            that sends no date; without it they have ``utc_ns = UTC_UNKNOWN``.
        on_vendor: Called with each vendor (``$P...``) or unknown sentence.
    """

    def __init__(self, *, date: _dt.date | None = None, eager: bool = False,
                 hold_undated: int | None = None, utc_hint: Callable[[], int] | None = None,
                 on_vendor: Callable[[Sentence], None] | None = None) -> None:
        self.stats = EpochStats()
        self.eager = eager
        self.hold_undated = hold_undated
        self.utc_hint = utc_hint
        self.on_vendor = on_vendor
        self._day: int | None = None if date is None else date.toordinal() - UNIX_EPOCH_ORDINAL
        self._last_tod: int | None = None
        self._ep: EpochFields | None = None
        self._closed: EpochFields | None = None
        self._held: list[tuple[int, Fix]] = []
        self._last_key: bytes | None = None
        self._prev_key: bytes | None = None
        self._ender: bytes | None = None

    def push(self, sentence: Sentence) -> list[Fix]:
        """Fixes completed by ``sentence`` (usually none or one)."""
        return self.push_bodies([sentence.body], [sentence.t_ns])

    def push_all(self, sentences: Iterable[Sentence]) -> list[Fix]:
        """Fixes completed by ``sentences``, in order."""
        items = list(sentences)
        return self.push_bodies([s.body for s in items], [s.t_ns for s in items])

    def push_bodies(self, bodies: list[bytes], times: list[int]) -> list[Fix]:
        """Fixes completed by sentences given as bodies and times (see ``feed_bodies``)."""
        out: list[Fix] = []
        handlers, passed, max_sky = HANDLERS, _PASSED, MAX_SKY  # locals: the decoder's hot path
        eager = self.eager
        current = self._ep
        for body, t in zip(bodies, times, strict=True):
            entry = handlers.get(body[2:6])
            if entry is None or body[0] in passed:        # vendor and encapsulated sentences
                self._vendor(body, t)
                continue
            where, need, handler, bit = entry
            if handler is None:                           # GSV: kept whole until asked for
                if current is None:
                    current = self._new_epoch(t)
                current.kinds |= bit
                if len(current.gsv) < max_sky:
                    current.gsv.append(body)
                if eager:
                    self._after(self._gsv_key(body), out)
                    current = self._ep
                continue
            f = body.split(b",")
            if len(f) < need:
                self.stats.short_sentences += 1
                continue
            if current is None or (where and f[where] != current.tfield):
                epoch = self._epoch_for(f[where] if where else b"", t, out)
                if epoch is None:                         # a time no clock shows
                    self.stats.bad_times += 1
                    continue
                current = epoch
            current.kinds |= bit
            try:
                handler(current, f, body)
            except ValueError:
                self.stats.bad_fields += 1
            if eager:
                self._after(body[:5], out)
                current = self._ep
        return out

    @staticmethod
    def _gsv_key(body: bytes) -> bytes:
        parts = body.split(b",", 3)
        return body[:5] + parts[1] if len(parts) > 2 and parts[1] == parts[2] else body[:5]

    def _after(self, key: bytes, out: list[Fix]) -> None:
        """Remember the last sentence of a cycle; close the epoch on the learned one."""
        self._last_key = key
        if key == self._ender:
            self._close(out)

    def flush(self) -> list[Fix]:
        """Close the epoch being built and give out every held fix."""
        out: list[Fix] = []
        if self._ep is not None:
            self._close(out)
        out.extend(fix for _, fix in self._held)
        self._held.clear()
        return out

    def _vendor(self, body: bytes, t_ns: int) -> None:
        if body[:1] == b"P":
            self.stats.vendor += 1
        else:
            self.stats.unknown += 1
        if self.on_vendor is not None:
            self.on_vendor(Sentence(body, t_ns))

    def _epoch_for(self, time_field: bytes, t_ns: int, out: list[Fix]) -> EpochFields | None:
        """The epoch a sentence with this time belongs to (None: the time is impossible)."""
        ep = self._ep
        tod = tod_ns(time_field) if time_field else None
        if tod is None and time_field:
            return None
        if ep is None:
            if tod is not None and self._closed is not None and self._closed.tod == tod:
                self._ender = None          # the cycle was longer than learned: reopen it
                ep = self._ep = self._closed
                return ep
            ep = self._ep = EpochFields(t_ns, tod, time_field)
            return ep
        if tod is None or tod == ep.tod:
            return ep
        if ep.tod is None:
            ep.tod, ep.tfield = tod, time_field
            return ep
        self._learn_ender()
        self._close(out)
        ep = self._ep = EpochFields(t_ns, tod, time_field)
        return ep

    def _new_epoch(self, t_ns: int) -> EpochFields:
        """An epoch for an untimed sentence when none is being built."""
        epoch = self._epoch_for(b"", t_ns, [])
        assert epoch is not None
        return epoch

    def _learn_ender(self) -> None:
        if self._last_key is not None and self._last_key == self._prev_key:
            self._ender = self._last_key
        self._prev_key = self._last_key

    def _close(self, out: list[Fix]) -> None:
        ep = self._ep
        assert ep is not None
        self._ep = None
        self._closed = ep
        self.stats.epochs += 1
        fix = self._convert(ep)
        if fix.mode >= 2:
            self.stats.fixes += 1
        if ep.tod is None:
            out.append(fix)
            return
        self._date(ep.tod, ep.date, fix, out)

    def _date(self, tod: int, date: int | None, fix: Fix, out: list[Fix]) -> None:
        """Date ``fix`` (of an epoch at ``tod``, with the epoch's own day number ``date``)."""
        if date is not None:
            self._day = date
        elif self._day is not None and self._last_tod is not None and tod < self._last_tod \
                - DAY_NS // 2:
            self._day += 1                       # midnight passed without a dated sentence
        self._last_tod = tod
        if self._day is None:
            self._hold(tod, fix, out)
            return
        for held_tod, held in self._held:
            day = self._day - 1 if held_tod > tod else self._day
            held.utc_ns = day * DAY_NS + held_tod
            out.append(held)
        self._held.clear()
        fix.utc_ns = self._day * DAY_NS + tod
        out.append(fix)

    def _hold(self, tod: int, fix: Fix, out: list[Fix]) -> None:
        """Keep an undated epoch for the first date; past ``hold_undated`` this receiver sends
        no dates at all (GGA only), so its fixes go out at once, dated by ``utc_hint``."""
        self._held.append((tod, fix))
        if self.hold_undated is None or len(self._held) <= self.hold_undated:
            return
        for held_tod, held in self._held:
            if self.utc_hint is not None:
                # The day that puts the time of day nearest the hint (right across midnight).
                day = round((self.utc_hint() - held_tod) / DAY_NS)
                held.utc_ns = day * DAY_NS + held_tod
            out.append(held)
        self._held.clear()
        self.hold_undated = 0

    def _convert(self, ep: EpochFields) -> Fix:
        fix = Fix(ep.t_ns, ep.tod)
        fix._kinds = ep.kinds
        fix._gsv, fix._gsa = ep.gsv, ep.gsa
        try:
            self._values(ep, fix)
        except ValueError:             # a field with a good checksum but nonsense in it
            self._values_one_by_one(ep, fix)
        fix.mode = self._mode(ep, fix)
        return fix

    @staticmethod
    def _values(ep: EpochFields, fix: Fix) -> None:
        """Every value at once (the common case: all fields readable)."""
        nan = math.nan
        if ep.lat:
            fix.lat_deg = angle(ep.lat, ep.ns, 90)
            fix.lon_deg = angle(ep.lon, ep.ew, 180)
        fix.alt_msl_m = float(ep.alt) if ep.alt else nan
        fix.speed_mps = float(ep.speed) * ep.speed_scale if ep.speed else nan
        fix.track_deg = float(ep.track) if ep.track else nan
        fix.hdop = _dop(float(ep.hdop)) if ep.hdop else nan
        fix.pdop = _dop(float(ep.pdop)) if ep.pdop else nan
        fix.vdop = _dop(float(ep.vdop)) if ep.vdop else nan
        fix.sats_used = int(ep.sats) if ep.sats else _used_count(ep.gsa)
        if ep.gst is not None:
            gst = ep.gst
            fix.lat_err_m, fix.lon_err_m, fix.alt_err_m = (
                float(x) if x else nan for x in gst[6:9])

    def _values_one_by_one(self, ep: EpochFields, fix: Fix) -> None:
        """Each value on its own, counting the unreadable ones as bad fields (NaN)."""
        def number(text: bytes) -> float:
            try:
                return float_or_nan(text)
            except ValueError:
                self.stats.bad_fields += 1
                return math.nan

        try:
            fix.lat_deg = angle(ep.lat, ep.ns, 90) if ep.lat else math.nan
            fix.lon_deg = angle(ep.lon, ep.ew, 180) if ep.lat else math.nan
        except ValueError:
            self.stats.bad_fields += 1
            fix.lat_deg = fix.lon_deg = math.nan
        fix.alt_msl_m = number(ep.alt)
        fix.speed_mps = number(ep.speed) * ep.speed_scale
        fix.track_deg = number(ep.track)
        fix.hdop, fix.pdop, fix.vdop = (_dop(number(x)) for x in (ep.hdop, ep.pdop, ep.vdop))
        sats = number(ep.sats)
        if math.isinf(sats):                       # "inf" reads as a float, not as a count
            self.stats.bad_fields += 1
            sats = math.nan
        fix.sats_used = _used_count(ep.gsa) if math.isnan(sats) else int(sats)
        if ep.gst is not None:
            fix.lat_err_m, fix.lon_err_m, fix.alt_err_m = (number(x) for x in ep.gst[6:9])

    @staticmethod
    def _mode(ep: EpochFields, fix: Fix) -> int:
        if ep.fix_ok is None:
            return ep.gsa_mode if ep.gsa_mode == 1 else 0
        if not ep.fix_ok or math.isnan(fix.lat_deg):
            return 1
        if ep.gsa_mode >= 2:
            return ep.gsa_mode
        return 2 if math.isnan(fix.alt_msl_m) else 3


def _dop(value: float) -> float:
    """NaN for receivers' "no DOP" values (99.99, 0)."""
    return math.nan if value >= 99.99 or value <= 0.0 else value


def _used_count(gsa: Sequence[bytes]) -> int:
    """Satellites listed as used in the epoch's GSA sentences, -1 when none."""
    return sum(1 for body in gsa for prn in body.split(b",")[3:15] if prn) or -1
