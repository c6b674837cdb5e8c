"""The GPS/IMU filter: it follows the device's turns through gaps, its uncertainty grows
without fixes and shrinks with them, and its output is a valid ``nav`` stream."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sensekit.errors import ConfigError
from sensekit.orientation import quaternion as quat
from sensekit.orientation.nav import EARTH_RADIUS_M, GpsImuFilter
from sensekit.packets import Packet

RATE = 50.0
ORIGIN = (52.5, 13.4, 30.0)


def walk(seconds: float, speed: float = 1.4, turn_rads: float = 0.06, seed: int = 0
         ) -> dict[str, np.ndarray]:
    """A level device carried along a winding path: heading = course + a fixed offset."""
    t = np.arange(0.0, seconds, 1 / RATE)
    course = 0.3 + np.cumsum(turn_rads * np.sin(2 * np.pi * t / 25.0)) / RATE
    east = np.cumsum(speed * np.sin(course)) / RATE
    north = np.cumsum(speed * np.cos(course)) / RATE
    heading = course + 0.7  # the device faces 40 degrees off the direction of travel
    q = quat.from_axis_angle([0, 0, 1.0], np.pi / 2 - heading)  # x axis at that heading
    return {"t": t, "course": course, "east": east, "north": north, "q": q,
            "rng": np.random.default_rng(seed)}  # type: ignore[dict-item]


def orientation(path: dict[str, np.ndarray], lo: int, hi: int, rest: bool = False) -> Packet:
    t_ns = (path["t"][lo:hi] * 1e9).astype(np.int64)
    return Packet("orientation", t_ns, {"quat_wxyz": path["q"][lo:hi].astype(np.float32),
                                        "rest": np.full(hi - lo, rest)},
                  "", {"convention": "enu"})


def fix(path: dict[str, np.ndarray], i: int, noise_m: float = 2.0) -> Packet:
    rng = path["rng"]
    e = path["east"][i] + rng.normal(0, noise_m)  # type: ignore[attr-defined]
    n = path["north"][i] + rng.normal(0, noise_m)  # type: ignore[attr-defined]
    lat = ORIGIN[0] + math.degrees(n / EARTH_RADIUS_M)
    lon = ORIGIN[1] + math.degrees(e / (EARTH_RADIUS_M * math.cos(math.radians(ORIGIN[0]))))
    speed = 1.4 + rng.normal(0, 0.2)  # type: ignore[attr-defined]
    return Packet("gps", np.array([int(path["t"][i] * 1e9)], np.int64), {
        "lat_deg": np.array([lat]), "lon_deg": np.array([lon]),
        "alt_msl_m": np.array([ORIGIN[2]], np.float32),
        "speed_mps": np.array([speed], np.float32),
        "track_deg": np.array([math.degrees(path["course"][i]) % 360], np.float32),
        "mode": np.array([3], np.int8), "hdop": np.array([0.8], np.float32),
        "sats_used": np.array([9], np.int16), "utc_ns": np.array([0], np.int64)}, "gps")


def run(path: dict[str, np.ndarray], until: float, gap_from: float = math.inf
        ) -> tuple[GpsImuFilter, list[Packet]]:
    nav = GpsImuFilter(origin=ORIGIN)
    outs = []
    per_s = int(RATE)
    for second in range(int(until)):
        lo, hi = second * per_s, (second + 1) * per_s
        for a in range(lo, hi, 10):
            out = nav.update(orientation(path, a, a + 10))
            assert out is not None
            outs.append(out)
        if second + 1 < gap_from:
            nav.update(fix(path, hi - 1))
    return nav, outs


def position_error(nav: GpsImuFilter, path: dict[str, np.ndarray], i: int) -> float:
    e, n, _ = nav.position_enu_m
    return math.hypot(e - path["east"][i], n - path["north"][i])


def test_uncertainty_grows_without_fixes_and_shrinks_with_them() -> None:
    path = walk(120)
    nav, outs = run(path, 60, gap_from=40)
    sigma = np.array([math.sqrt(np.trace(o["pos_cov_enu_m2"][-1][:2, :2])) for o in outs])
    per_second = sigma[4::5]  # the end of each second
    assert np.all(np.diff(per_second[40:]) > 0)  # growing through the gap
    assert per_second[59] > 2 * per_second[39]
    # fixes again: it shrinks back
    more = GpsImuFilter(origin=ORIGIN)
    more.restore(nav.state())
    before = math.sqrt(np.trace(more.position_cov_m2[:2, :2]))
    for second in range(60, 70):
        hi = (second + 1) * int(RATE)
        for a in range(second * int(RATE), hi, 10):
            more.update(orientation(path, a, a + 10))
        more.update(fix(path, hi - 1))
    after = math.sqrt(np.trace(more.position_cov_m2[:2, :2]))
    assert after < 0.5 * before


def test_turns_are_followed_through_a_gap() -> None:
    """A 30 s gap on a winding path: the filter, turning with the device, ends within 5 m
    where a straight line from the last fix ends more than 10 m off, and the truth lies within
    its 2-sigma ellipse."""
    path = walk(120, turn_rads=0.12)
    nav, _ = run(path, 90, gap_from=60)
    i = 90 * int(RATE) - 1
    assert position_error(nav, path, i) < 5.0
    j = 60 * int(RATE) - 1
    straight = np.array([path["east"][j], path["north"][j]]) + 30 * 1.4 * np.array(
        [math.sin(path["course"][j]), math.cos(path["course"][j])])
    assert math.hypot(*(straight - [path["east"][i], path["north"][i]])) > 10.0
    e = nav.position_enu_m[:2] - [path["east"][i], path["north"][i]]
    assert e @ np.linalg.solve(nav.position_cov_m2[:2, :2], e) < 6.18  # 95% in 2-D


def test_standing_still_keeps_the_position() -> None:
    """At rest (the AHRS says so) the position holds through a 30 s gap, within 1 m."""
    path = walk(60, speed=0.0)
    nav = GpsImuFilter(origin=ORIGIN)
    for second in range(60):
        hi = (second + 1) * int(RATE)
        for a in range(second * int(RATE), hi, 10):
            nav.update(orientation(path, a, a + 10, rest=True))
        if second < 30:
            packet = fix(path, hi - 1)
            packet.fields["speed_mps"][:] = 0.0  # type: ignore[index]
            packet.fields["track_deg"][:] = np.nan  # type: ignore[index]
            nav.update(packet)
    anchor = nav.position_enu_m[:2]
    assert math.hypot(*anchor) < 1.5  # the average of 30 fixes of 2 m noise
    assert abs(nav.velocity_enu_mps[:2]).max() < 0.05


def test_nav_packets_follow_the_spec() -> None:
    path = walk(20)
    _, outs = run(path, 20)
    out = outs[-1].validate()
    assert out.stream == "nav" and out.modality == "nav"
    assert np.all(np.isfinite(out["lat_deg"])) and np.all(out["fix_age_s"] <= 1.0)
    speed = np.linalg.norm(out["vel_enu_mps"][:, :2], axis=1)
    assert np.all(np.abs(speed - 1.4) < 0.3)


def test_before_the_first_fix_there_is_no_position() -> None:
    path = walk(5)
    nav = GpsImuFilter()
    out = nav.update(orientation(path, 0, 10))
    assert out is not None and np.all(np.isnan(out["lat_deg"]))
    assert np.all(np.isinf(out["fix_age_s"]))
    assert not nav.initialised


def test_speed_alone_sets_the_speed_not_the_position() -> None:
    """A phone reporting speed without position: the speed is fused, the position stays
    unknown (NaN) until a fix with one arrives."""
    path = walk(5)
    nav = GpsImuFilter(origin=ORIGIN)
    nav.update(orientation(path, 0, 10))
    packet = fix(path, 10)
    packet.fields["lat_deg"][:] = np.nan  # type: ignore[index]
    nav.update(packet)
    assert nav.initialised and np.all(np.isnan(nav.position_enu_m[:2]))
    out = nav.update(orientation(path, 10, 20))
    assert out is not None and np.all(np.isnan(out["lat_deg"]))
    assert abs(np.linalg.norm(out["vel_enu_mps"][-1, :2]) - 1.4) < 0.5
    nav.update(fix(path, 20))
    assert math.hypot(*(nav.position_enu_m[:2] - [path["east"][20], path["north"][20]])) < 8


def test_bad_packets_are_named() -> None:
    nav = GpsImuFilter(origin=ORIGIN)
    with pytest.raises(ConfigError, match="gps and orientation"):
        nav.update(Packet("light", np.array([0], np.int64), {"lux": np.ones(1, np.float32)}))
    ned = Packet("orientation", np.array([0], np.int64), {"quat_wxyz": np.ones((1, 4))}, "",
                 {"convention": "ned"})
    with pytest.raises(ConfigError, match="ENU"):
        nav.update(ned)


def test_state_round_trip() -> None:
    path = walk(30)
    nav, _ = run(path, 30)
    copy = GpsImuFilter()
    copy.restore(json.loads(json.dumps(nav.state())))
    np.testing.assert_allclose(copy.position_enu_m, nav.position_enu_m)
    np.testing.assert_allclose(copy.position_cov_m2, nav.position_cov_m2)


def test_how_long_the_gps_may_sleep() -> None:
    """The controller's question: seconds until the position is worse than 15 m (1 sigma);
    it shrinks as a gap goes on and jumps back after a fix."""
    path = walk(80)
    nav, _ = run(path, 40)
    fresh = nav.seconds_until(15.0)
    assert 5.0 < fresh < 600.0 and nav.horizontal_sigma_m < 3.0
    gapped, _ = run(path, 60, gap_from=40)
    assert gapped.seconds_until(15.0) < fresh - 10.0
    assert gapped.horizontal_sigma_m > nav.horizontal_sigma_m
    assert nav.seconds_until(0.1) == 0.0


def test_nav_and_orientation_streams_align_into_windows() -> None:
    """Both outputs are streams like any other: the aligner cuts them into windows."""
    from sensekit.align import StreamSpec, align

    path = walk(12)
    _, outs = run(path, 12)
    orient = [orientation(path, a, a + 10) for a in range(0, 12 * int(RATE), 10)]
    windows = align({"nav": outs, "orientation": orient},
                    {"nav": StreamSpec(RATE), "orientation": StreamSpec(RATE)}, window_s=2.0)
    full = [w for w in windows if w.mask["nav"].all() and w.mask["orientation"].all()]
    assert len(full) >= 4
    assert full[0].data["nav"]["vel_enu_mps"].shape == (int(2 * RATE), 3)


def test_orientation_and_nav_record_to_mcap_and_read_back(tmp_path, clock) -> None:  # type: ignore[no-untyped-def]
    from sensekit.log.reader import LogReader
    from sensekit.log.recorder import Recorder
    from sensekit.orientation import Ahrs
    from sensekit.testing.motion import make_trial

    tr = make_trial("combined", 1, rate_hz=RATE, rest_s=2.0, move_s=4.0)
    t_ns = (np.arange(len(tr.gyr)) * 1e9 / RATE).astype(np.int64)
    orient = Ahrs(RATE).update(Packet("imu", t_ns, {"gyro_rads": tr.gyr, "accel_mps2": tr.acc,
                                                    "mag_ut": tr.mag}, "imu"))
    path_ = walk(3)
    _, navs = run(path_, 3)
    out = tmp_path / "nav.mcap"
    with Recorder(out, clock=clock) as rec:
        rec.write(orient)
        for p in navs:
            rec.write(p)
    log = LogReader(out)
    back = log.read("orientation")
    np.testing.assert_array_equal(back["quat_wxyz"], orient["quat_wxyz"])
    np.testing.assert_array_equal(back["mag_disturbed"], orient["mag_disturbed"])
    assert back.modality == "orientation"
    nav_back = log.read("nav")
    np.testing.assert_array_equal(nav_back["pos_cov_enu_m2"],
                                  np.concatenate([p["pos_cov_enu_m2"] for p in navs]))
