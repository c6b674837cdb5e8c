"""The NMEA reader and epoch assembler: what a user of the fixes would notice."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from sensekit.drivers.gps.epoch import UTC_UNKNOWN, EpochAssembler, Fix
from sensekit.drivers.gps.nmea import NmeaReader, Sentence, checksum, sentence
from sensekit.drivers.gps.streams import SKY_SPEC, fixes_to_packet, sky_to_packet

GGA = sentence("GPGGA,202640.000,4404.1306,N,12118.8515,W,2,10,0.98,1127.7,M,-19.6,M,0000,0000")
RMC = sentence("GPRMC,202640.000,A,4404.1306,N,12118.8515,W,0.03,225.97,130415,,,D")
GSA = sentence("GPGSA,A,3,20,16,09,03,07,10,23,19,27,30,,,1.64,0.98,1.31")
GSV = sentence("GPGSV,1,1,03,09,88,089,31,07,60,281,44,47,,,")


def decode(data: bytes, **options: object) -> list[Fix]:
    reader = NmeaReader()
    assembler = EpochAssembler(**options)  # type: ignore[arg-type]
    return assembler.push_all(reader.feed(data)) + assembler.flush()


def test_checksum_matches_a_real_receiver_sentence() -> None:
    # Adafruit Ultimate GPS HAT capture (gpsd corpus mt3339.log), checksum *6C.
    assert GGA.endswith(b"*6C\r\n")
    assert checksum(b"GPGGA,202640.000,4404.1306,N,12118.8515,W,2,10,0.98,1127.7,M,-19.6,M,"
                    b"0000,0000") == 0x6C


def test_fix_values_and_units() -> None:
    (fix,) = decode(GGA + GSA + GSV + RMC)
    assert fix.time_iso == "2015-04-13T20:26:40.000Z"
    assert fix.lat_deg == pytest.approx(44 + 4.1306 / 60, abs=1e-9)
    assert fix.lon_deg == pytest.approx(-(121 + 18.8515 / 60), abs=1e-9)
    assert fix.alt_msl_m == pytest.approx(1127.7)
    assert fix.speed_mps == pytest.approx(0.03 * 1852 / 3600)
    assert fix.track_deg == pytest.approx(225.97)
    assert (fix.mode, fix.sats_used, fix.hdop) == (3, 10, pytest.approx(0.98))
    sats = {s.svid: s for s in fix.satellites}
    assert sats[9].used and sats[9].elevation_deg == 88 and sats[9].snr_dbhz == 31
    assert not sats[47].used and math.isnan(sats[47].azimuth_deg)


def test_split_reads_give_the_same_fixes_and_first_byte_times() -> None:
    data = GGA + GSA + RMC
    reader = NmeaReader()
    got: list[Sentence] = []
    for i, byte in enumerate(data):          # one byte per read, 1 ms apart
        got += reader.feed(bytes([byte]), t_ns=1_000_000 * i)
    assert [s.body[:5] for s in got] == [b"GPGGA", b"GPGSA", b"GPRMC"]
    assert [s.t_ns for s in got] == [0, 1_000_000 * len(GGA), 1_000_000 * len(GGA + GSA)]


def test_byte_time_dates_each_sentence_from_its_first_byte() -> None:
    # One read of two sentences at 9600 baud (about 1.04 ms per byte): the first sentence
    # started len(GGA + RMC) - 1 byte times before the read returned.
    byte_ns = 1_041_667
    (gga, rmc) = NmeaReader().feed(GGA + RMC, t_ns=10**9, byte_ns=byte_ns)
    assert gga.t_ns == 10**9 - (len(GGA + RMC) - 1) * byte_ns
    assert rmc.t_ns == 10**9 - (len(RMC) - 1) * byte_ns


def test_bad_and_missing_checksums_junk_and_long_lines_are_counted() -> None:
    bad = GGA.replace(b"4404.1306", b"4404.1307")
    no_ck = b"$GPGGA,202640.000,4404.1306,N,12118.8515,W,2,10,0.98,1127.7,M,-19.6,M,,\r\n"
    long = sentence("GPTXT," + "x" * 140)
    junk = bytes(range(256)).translate(None, b"\n$!") + b"\r\n"
    reader = NmeaReader()
    got = reader.feed(bad + no_ck + long + junk + b"\xb5\x62garbage" + RMC)
    assert [s.body[:5] for s in got] == [b"GPRMC"]        # recovered after junk on its line
    assert reader.stats.rejected == {"bad_checksum": 1, "no_checksum": 1, "too_long": 1,
                                     "garbage": 2}
    assert reader.stats.garbage_bytes == len(junk) - 2 + len(b"\xb5\x62garbage")
    assert decode(bad) == []


def test_lowercase_checksum_is_accepted() -> None:
    assert len(NmeaReader().feed(GGA.replace(b"*6C", b"*6c"))) == 1


def test_empty_fields_are_missing_values() -> None:
    (fix,) = decode(sentence("GPGGA,120000.00,4807.038,N,01131.000,E,1,,,,M,,M,,"))
    assert fix.mode == 2 and math.isnan(fix.alt_msl_m) and math.isnan(fix.hdop)
    assert fix.sats_used == -1 and math.isnan(fix.speed_mps)
    assert fix.utc_ns == UTC_UNKNOWN                     # no date anywhere


@pytest.mark.parametrize("talker", ["GP", "GN", "GL", "GA", "GB", "BD", "GQ", "QZ"])
def test_any_talker(talker: str) -> None:
    (fix,) = decode(sentence(f"{talker}RMC,010203,A,4807.038,N,01131.000,E,1.0,90.0,010124,,"))
    assert fix.time_iso == "2024-01-01T01:02:03.000Z" and fix.has_fix


def test_gll_gns_vtg_zda_gst() -> None:
    data = (sentence("GNGNS,101010.00,4807.038,N,01131.000,E,AN,12,0.9,545.4,47.0,,,V")
            + sentence("GNGLL,4807.040,N,01131.000,E,101010.00,A,A")
            + sentence("GNVTG,54.7,T,,M,,N,36.0,K,A")
            + sentence("GNZDA,101010.00,31,12,2023,00,00")
            + sentence("GNGST,101010.00,1.1,0.9,0.5,10.0,0.8,0.6,1.5"))
    (fix,) = decode(data)
    assert fix.time_iso == "2023-12-31T10:10:10.000Z"
    assert fix.lat_deg == pytest.approx(48 + 7.040 / 60)            # GLL came last
    assert fix.alt_msl_m == pytest.approx(545.4)
    assert fix.speed_mps == pytest.approx(10.0) and fix.track_deg == pytest.approx(54.7)
    assert (fix.lat_err_m, fix.lon_err_m, fix.alt_err_m) == pytest.approx((0.8, 0.6, 1.5))


def test_no_fix_sentences_and_impossible_positions() -> None:
    fixes = decode(sentence("GPGGA,000452.981,0000.0000,N,00000.0000,E,0,00,50.0,0.0,M,0.0,M,,")
                   + sentence("GPRMC,000452.981,V,36000.0000,N,72000.0000,E,0.0,,190120,,"))
    assert [f.mode for f in fixes] == [1] and not fixes[0].has_fix


def test_date_rolls_over_at_midnight_and_early_epochs_take_the_first_date() -> None:
    data = (sentence("GPGGA,235958,4807.038,N,01131.000,E,1,08,0.9,545.4,M,,M,,")
            + sentence("GPRMC,235959,A,4807.038,N,01131.000,E,0.0,0.0,311223,,")
            + sentence("GPGGA,000000,4807.038,N,01131.000,E,1,08,0.9,545.4,M,,M,,")
            + sentence("GPGGA,000001.5,4807.038,N,01131.000,E,1,08,0.9,545.4,M,,M,,"))
    assert [f.time_iso for f in decode(data)] == [
        "2023-12-31T23:59:58.000Z", "2023-12-31T23:59:59.000Z",
        "2024-01-01T00:00:00.000Z", "2024-01-01T00:00:01.500Z"]
    # Held before the first dated sentence, across midnight: the day before.
    data = (sentence("GPGGA,235959,4807.038,N,01131.000,E,1,08,0.9,545.4,M,,M,,")
            + sentence("GPRMC,000000,A,4807.038,N,01131.000,E,0.0,0.0,010124,,"))
    assert [f.time_iso for f in decode(data)] == ["2023-12-31T23:59:59.000Z",
                                                  "2024-01-01T00:00:00.000Z"]


def test_header_date_and_odd_times() -> None:
    data = (sentence("GPGGA,235960,4807.038,N,01131.000,E,1,08,0.9,545.4,M,,M,,")   # leap s
            + sentence("GPGGA,250000,4807.038,N,01131.000,E,1,08,0.9,545.4,M,,M,,"))  # bad
    fixes = decode(data, date=dt.date(2016, 12, 31))
    assert fixes[0].time_iso == "2017-01-01T00:00:00.000Z"     # 23:59:60 shown as next second
    assert len(fixes) == 1        # the impossible time joined the epoch, it made none


def test_vendor_sentences_are_passed_through_raw() -> None:
    seen: list[bytes] = []
    reader = NmeaReader()
    assembler = EpochAssembler(on_vendor=lambda s: seen.append(s.raw))
    assembler.push_all(reader.feed(b"$PMTK001,220,3*30\r\n" + GGA))
    assert seen == [b"$PMTK001,220,3*30"]
    assert assembler.stats.vendor == 1


def test_eager_mode_gives_the_fix_at_the_end_of_its_burst() -> None:
    assembler = EpochAssembler(eager=True)
    reader = NmeaReader()
    given: list[tuple[int, Fix]] = []
    for second in range(4):
        t0 = 10**9 * (second + 1)
        tod = f"2026{40 + second:02d}.000"
        burst = [sentence(f"GPGGA,{tod},4404.1306,N,12118.8515,W,1,10,0.9,1127.7,M,,M,,"),
                 GSA, sentence(f"GPRMC,{tod},A,4404.1306,N,12118.8515,W,0.0,0.0,130415,,")]
        for i, s in enumerate(burst):
            for fix in assembler.push_all(reader.feed(s, t_ns=t0 + i * 10**8)):
                given.append((t0 + i * 10**8, fix))
    # Seconds 0 and 1 close when the next burst starts; once RMC is learned as the last
    # sentence, the fix comes with the RMC of its own burst, stamped at its GGA.
    assert [(t, f.t_ns) for t, f in given] == [
        (2 * 10**9, 1 * 10**9), (3 * 10**9, 2 * 10**9), (3 * 10**9 + 2 * 10**8, 3 * 10**9),
        (4 * 10**9 + 2 * 10**8, 4 * 10**9)]


def test_packets_follow_the_specs() -> None:
    fixes = decode(GGA + GSA + GSV + RMC)
    packet = fixes_to_packet(fixes).validate()
    assert packet["lat_deg"][0] == pytest.approx(44.068843333)
    assert packet["utc_ns"][0] == np.datetime64("2015-04-13T20:26:40", "ns").astype(np.int64)
    sky = sky_to_packet(fixes)
    assert sky is not None and len(sky) == 3
    SKY_SPEC.validate(sky)
    assert sky["used"].tolist() == [True, True, False]


def test_encapsulated_sentences_pass_through_and_never_make_fixes() -> None:
    body = b"GPGGA,101010.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,,M,,"
    line = b"!%s*%02X\r\n" % (body, checksum(body))      # a "!" sentence, checksum good
    seen: list[bytes] = []
    reader = NmeaReader()
    assembler = EpochAssembler(on_vendor=lambda s: seen.append(s.raw))
    fixes = assembler.push_all(reader.feed(line)) + assembler.flush()
    assert fixes == [] and seen == [line.rstrip()] and assembler.stats.unknown == 1


def test_receiver_without_dates_is_dated_by_the_hint_without_delay() -> None:
    # GGA only: no date ever. The host says it is 2024-01-02 00:00:01 UTC.
    now = int(np.datetime64("2024-01-02T00:00:01", "ns").astype(np.int64))
    assembler = EpochAssembler(eager=True, hold_undated=2, utc_hint=lambda: now)
    reader = NmeaReader()
    times = ["235958", "235959", "000000", "000001"]
    given = []
    for i, tod in enumerate(times):
        s = sentence(f"GPGGA,{tod},4807.038,N,01131.000,E,1,08,0.9,545.4,M,,M,,")
        given.append([f.time_iso for f in assembler.push_all(reader.feed(s, t_ns=i))])
    given.append([f.time_iso for f in assembler.flush()])
    # Held two (GGA is learned as the cycle's last sentence meanwhile), then, no date in
    # sight, the receiver is taken for a dateless one: the rest go out with their own GGA.
    assert given == [[], [], ["2024-01-01T23:59:58.000Z", "2024-01-01T23:59:59.000Z",
                              "2024-01-02T00:00:00.000Z"], ["2024-01-02T00:00:01.000Z"], []]
