"""NmeaGps against the emulated receiver, in process on a fake clock."""

from __future__ import annotations

import itertools

import pytest

import sensekit
from sensekit.clock import FakeClock
from sensekit.drivers.gps.nmea_gps import NmeaGps
from sensekit.errors import ConfigError, DeviceNotFound, DeviceTimeout
from sensekit.power.model import load_power_model
from sensekit.testing.gps_receiver import GpsReceiverEmulator


def walking(t_s: float) -> tuple[float, float, float, float, float, bool]:
    # 1.4 m/s due north: 1e-5 degrees of latitude is 1.11 m.
    return 52.0 + t_s * 1.4 / 111_195.0, 13.0, 40.0, 1.4, 0.0, True


def test_fixes_follow_the_trajectory_stamped_at_the_epoch(clock: FakeClock) -> None:
    emu = GpsReceiverEmulator(walking, clock=clock)
    gps = emu.open_driver()
    packets = [gps.read(2.0) for _ in range(4)]
    fixes = [(int(t), float(lat), float(speed))
             for p in packets if p is not None
             for t, lat, speed in zip(p.t_ns, p["lat_deg"], p["speed_mps"], strict=True)]
    assert len(fixes) >= 4
    for t_ns, lat, speed in fixes:
        t_s = (t_ns - 1_000_000_000) / 1e9                # emulator started at the clock's 1 s
        assert t_s == pytest.approx(round(t_s))            # stamped at the burst, not later
        assert lat == pytest.approx(walking(t_s)[0], abs=2e-6)  # 4-decimal minutes
        assert speed == pytest.approx(1.4, abs=0.001)
    packets[-1].validate()                                 # type: ignore[union-attr]


def test_faster_rate_raises_the_baud_rate_first(clock: FakeClock) -> None:
    emu = GpsReceiverEmulator(clock=clock, protocol="ubx")
    gps = emu.open_driver()
    gps.read(2.0)
    assert gps.set_rate(5.0) == 5.0
    assert emu.commands[-2:] == ["CFG-PRT 38400", "CFG-RATE 200"]
    assert (emu.baud, emu.rate_hz, gps.baud) == (38400, 5.0, 38400)
    stamps = [int(t) for p in (gps.read(1.0) for _ in range(10)) if p is not None
              for t in p.t_ns]
    assert len(stamps) >= 10 and emu.cut_sentences == 0
    assert {b - a for a, b in itertools.pairwise(stamps[1:])} == {200_000_000}


def test_rate_refused_without_auto_baud_and_beyond_the_receiver(clock: FakeClock) -> None:
    gps = GpsReceiverEmulator(clock=clock).open_driver(auto_baud=False)
    gps.read(2.0)
    with pytest.raises(ConfigError, match=r"5 Hz needs about .* more than 9600 baud"):
        gps.set_rate(5.0)
    with pytest.raises(ConfigError, match="faster than this receiver's 10 Hz"):
        gps.set_rate(20.0)
    assert gps.rate_hz == 1.0 and [c.setting for c in gps.changes] == []


def test_power_save_only_at_one_hertz_or_slower(clock: FakeClock) -> None:
    emu = GpsReceiverEmulator(clock=clock, baud=115200)
    gps = emu.open_driver()
    gps.set_rate(4.0)
    with pytest.raises(ConfigError, match="power save works only at 1 Hz or slower"):
        gps.set_mode("power_save")
    gps.set_rate(1.0)
    gps.set_mode("power_save", reason="battery low")
    assert emu.power_save and emu.commands[-2:] == ["CFG-PM2", "CFG-RXM 1"]
    with pytest.raises(ConfigError, match="power save works only at 1 Hz"):
        gps.set_rate(2.0)
    assert gps.changes[-1].new == "power_save" and gps.changes[-1].reason == "battery low"


def test_m10_is_configured_with_valset_keys(clock: FakeClock) -> None:
    emu = GpsReceiverEmulator(clock=clock, protocol="ubx9", baud=115200)
    gps = emu.open_driver()
    gps.set_rate(2.0)
    gps.set_rate(1.0)
    gps.set_mode("power_save")
    assert emu.commands == ["VALSET 0x30210001=500 0x30210002=1",
                            "VALSET 0x30210001=1000 0x30210002=1", "VALSET 0x20d00001=2"]
    assert gps.power_model == "ublox_m10"
    assert load_power_model(gps.power_model).mode("power_save").power_w > 0


def test_wrong_protocol_is_named(clock: FakeClock) -> None:
    legacy_on_m10 = GpsReceiverEmulator(clock=clock, protocol="ubx9", baud=115200).open_driver(
        protocol="ubx", baud=115200)
    with pytest.raises(ConfigError, match=r"refused UBX-CFG-RATE 500 ms \(UBX-ACK-NAK"):
        legacy_on_m10.set_rate(2.0)
    at_9600 = GpsReceiverEmulator(clock=clock, protocol="ubx9").open_driver(protocol="ubx")
    with pytest.raises(ConfigError, match=r"refused the switch to 19200 baud \(UBX-ACK-NAK.*"
                                          r"still talks at 9600.*protocol=ubx"):
        at_9600.set_rate(2.0)                        # 2 Hz needs a faster line first
    assert at_9600.baud == 9600 and at_9600.read(2.0) is not None
    valset_on_m8 = GpsReceiverEmulator(clock=clock, protocol="ubx").open_driver(protocol="ubx9")
    with pytest.raises(ConfigError, match=r"did not follow the switch to 19200 baud.*"
                                          r"protocol=ubx9"):
        valset_on_m8.set_rate(2.0)                   # the M8 ignores VALSET: no new baud
    fast_m8 = GpsReceiverEmulator(clock=clock, protocol="ubx", baud=115200)
    with pytest.raises(DeviceTimeout, match="no answer to UBX-CFG-VALSET"):
        fast_m8.open_driver(protocol="ubx9", baud=115200).set_rate(2.0)
    nmea_only = GpsReceiverEmulator(clock=clock, protocol="nmea").open_driver()
    with pytest.raises(ConfigError, match="protocol=nmea sends no commands"):
        nmea_only.set_rate(2.0)


def test_sleep_and_wake(clock: FakeClock) -> None:
    emu = GpsReceiverEmulator(clock=clock)
    gps = emu.open_driver()
    gps.read(2.0)
    gps.sleep(reason="idle")
    asleep_at = clock.now_ns()
    assert emu.asleep and gps.read(3.0) is None
    gps.wake()
    woke_at = clock.now_ns()
    packet = gps.read(3.0)
    assert packet is not None and not emu.asleep
    assert packet.t_ns[0] - woke_at >= 0 and woke_at - asleep_at >= 3_000_000_000
    assert [(c.old, c.new) for c in gps.changes] == [("awake", "asleep"), ("asleep", "awake")]


def test_mtk_commands_and_acknowledgements(clock: FakeClock) -> None:
    gps = sensekit.open("nmea", "emu://?protocol=mtk&baud=115200", clock=clock)
    assert isinstance(gps, NmeaGps) and gps.power_model == "mtk3339"
    gps.set_rate(10.0)
    with pytest.raises(ConfigError, match="power save works only at 1 Hz"):
        gps.set_mode("power_save")
    gps.set_rate(1.0)
    gps.set_mode("power_save")
    gps.sleep()
    gps.wake()
    emu = gps._port.emulator  # type: ignore[union-attr]
    assert emu.commands == ["PMTK220,100", "PMTK220,1000", "PMTK225,8", "PMTK161,0", "wake"]


def test_satellites_in_view_and_vendor_sentences(clock: FakeClock) -> None:
    emu = GpsReceiverEmulator(clock=clock, protocol="mtk")
    gps = emu.open_driver()
    seen: list[bytes] = []
    gps.on_sentence(lambda s: seen.append(s.raw))
    gps.read(2.0)
    sky = gps.read_sky()
    assert sky is not None and sky.stream == "gps.sky"
    assert len(sky) == 10 and int(sky["used"].sum()) == 8
    gps.set_rate(1.0)
    assert seen[-1] == b"$PMTK001,220,3*30"


def test_mtk_refusal_is_reported_with_its_flag(clock: FakeClock) -> None:
    # The receiver runs at 5 Hz though the driver was not told: it refuses AlwaysLocate.
    emu = GpsReceiverEmulator(clock=clock, protocol="mtk", rate_hz=5.0, baud=115200)
    gps = emu.open_driver()
    with pytest.raises(ConfigError, match=r"refused PMTK225 mode 8 \(PMTK001 flag 2: valid but"):
        gps.set_mode("power_save")
    assert gps.mode == "continuous" and not emu.power_save


def test_a_baud_switch_the_receiver_does_not_follow_is_rolled_back(clock: FakeClock) -> None:
    emu = GpsReceiverEmulator(clock=clock, protocol="ubx", follows_baud=False)
    gps = emu.open_driver()
    gps.read(2.0)
    with pytest.raises(ConfigError, match=r"did not follow the switch to 38400 baud and still "
                                          r"talks at 9600; rolled back to 9600"):
        gps.set_rate(5.0)
    assert gps.baud == 9600 and gps.port.baud == 9600 and gps.rate_hz == 1.0
    assert emu.commands == ["CFG-PRT 38400"]          # the rate was never sent at a dead line
    assert gps.read(2.0) is not None                  # and the line still works


@pytest.mark.parametrize("power_lost", [True, False])
def test_after_a_reconnect_the_receivers_baud_is_found_by_itself(
        clock: FakeClock, power_lost: bool) -> None:
    emu = GpsReceiverEmulator(clock=clock, protocol="ubx")
    gps = emu.open_driver()
    gps.set_rate(5.0)
    assert (emu.baud, gps.baud) == (38400, 38400)
    if power_lost:
        emu.power_cycle()                             # back at 9600 and 1 Hz
    gps.port.reconnected(3.0)                         # type: ignore[attr-defined]
    fixes = [p for p in (gps.read(1.0) for _ in range(25)) if p is not None]
    assert fixes and gps.stats.reconnects == 1
    assert (emu.baud, gps.baud, emu.rate_hz) == (38400, 38400, 5.0)   # settings re-applied
    assert fixes[-1].t_ns[-1] > clock.now_ns() - 1_000_000_000


def test_a_receiver_at_another_baud_is_found_when_opened(
        clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    emu = GpsReceiverEmulator(clock=clock, protocol="ubx", baud=38400)
    gps = emu.open_driver(baud=9600)
    assert gps.baud == 38400 and "talks at 38400 baud, not the" in caplog.text
    assert gps.read(2.0) is not None
    with pytest.raises(DeviceNotFound, match=r"bytes arrived but no NMEA: wrong baud"):
        GpsReceiverEmulator(clock=clock, baud=38400).open_driver(baud=9600, auto_baud=False)
