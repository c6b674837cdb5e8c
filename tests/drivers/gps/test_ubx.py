"""UBX framing against u-blox's published example frames, and the UBX/NMEA splitter."""

from __future__ import annotations

from sensekit.drivers.gps import ubx
from sensekit.drivers.gps.nmea import sentence


def test_frames_match_the_well_known_examples() -> None:
    # UBX-CFG-RATE 1000 ms, 1 cycle, GPS time; UBX-CFG-RXM power save / continuous: the byte
    # strings printed in u-blox application notes and used by countless scripts.
    assert ubx.cfg_rate(1000).hex(" ") == "b5 62 06 08 06 00 e8 03 01 00 01 00 01 39"
    assert ubx.cfg_rxm(True).hex(" ") == "b5 62 06 11 02 00 08 01 22 92"
    assert ubx.cfg_rxm(False).hex(" ") == "b5 62 06 11 02 00 08 00 21 91"


def test_pm2_prt_and_pmreq_have_their_documented_lengths() -> None:
    assert len(ubx.cfg_pm2(1000)) == 8 + 44
    assert len(ubx.cfg_prt_uart1(38400)) == 8 + 20
    assert len(ubx.rxm_pmreq()) == 8 + 16
    prt = ubx.cfg_prt_uart1(38400)
    assert int.from_bytes(prt[6 + 8:6 + 12], "little") == 38400


def test_valset_round_trip_with_key_sizes() -> None:
    frame = ubx.cfg_valset([(ubx.CFG_RATE_MEAS, 200), (ubx.CFG_PM_OPERATEMODE, 2),
                            (ubx.CFG_UART1_BAUDRATE, 115200)])
    (_, payload), = [(f.cls, f.payload) for f in ubx.UbxSplitter().feed(frame)[1]]
    assert len(payload) == 4 + (4 + 2) + (4 + 1) + (4 + 4)
    assert ubx.parse_valset(payload) == {ubx.CFG_RATE_MEAS: 200, ubx.CFG_PM_OPERATEMODE: 2,
                                         ubx.CFG_UART1_BAUDRATE: 115200}


def test_splitter_separates_frames_from_nmea_across_reads() -> None:
    gga = sentence("GPGGA,101010.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,,M,,")
    ack = ubx.ack(True, ubx.CLS_CFG, ubx.CFG_RATE)
    bad = bytearray(ubx.ack(False, ubx.CLS_CFG, ubx.CFG_RXM))
    bad[-1] ^= 0xFF
    stream = gga[:20] + ack + gga[20:] + bytes(bad) + gga
    splitter = ubx.UbxSplitter()
    text, frames = b"", []
    for i in range(0, len(stream), 7):          # 7-byte reads cut frames and sentences
        t, f = splitter.feed(stream[i:i + 7])
        text += t
        frames += f
    assert frames == [ubx.UbxFrame(ubx.CLS_ACK, ubx.ACK_ACK, bytes((0x06, 0x08)))]
    assert splitter.bad_frames == 1
    assert text.startswith(gga) and text.endswith(gga)
