"""What real phone recordings carry, with their real timing: windows of a transport-mode-like log.

The streams are those ``sensekit import --format us-tmd`` writes (``accel``, ``gyro``, ``mag``,
``pressure``, ``sound``, ``speed``, ``light``, ``labels``), at the irregular rates and with
the gaps of the corpus: an accelerometer at about 5 Hz, a sound level every 10 s, a GPS speed
every 35 s, pressure every 40 s, light only when it changes.
"""

from __future__ import annotations

import numpy as np
import pytest

from sensekit.clock import FakeClock
from sensekit.fusion.inputs import sensor_modalities
from sensekit.fusion.recordings import recording_windows
from sensekit.log.recorder import Recorder
from sensekit.packets import Packet

S = 1_000_000_000
T0 = 1_480_000_000 * S  # epoch times, as imported logs keep them
DURATION_S = 120
PHONE = ("accel", "gyro", "mag", "pressure", "sound_level", "gps_speed", "light")


def _events(rng: np.random.Generator, every_s: float, jitter: float) -> np.ndarray:
    t = np.arange(0.1, DURATION_S, every_s)
    t = np.clip(t + rng.uniform(-jitter, jitter, len(t)), 0.05, None)  # the labels start first
    return np.sort(T0 + (t * S).astype(np.int64))


def _packet(stream: str, t: np.ndarray, **fields: np.ndarray) -> Packet:
    return Packet(stream, t, {k: np.asarray(v) for k, v in fields.items()})


@pytest.fixture(scope="module")
def bus_ride(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    path = tmp_path_factory.mktemp("phone") / "sensorfile_andrea_Bus_1480000000000.mcap"
    ta = _events(rng, 0.2, 0.05)
    tm = _events(rng, 0.5, 0.1)
    ts, tv, tp = _events(rng, 10.0, 1.0), _events(rng, 35.0, 2.0), _events(rng, 40.0, 2.0)
    tl = T0 + (np.array([0.5, 3.0, 61.0]) * S).astype(np.int64)  # on change only
    tlab = T0 + np.arange(0, DURATION_S * S, S // 10, dtype=np.int64)
    g = np.array([0.0, 0.0, 9.81], np.float32)
    packets = [
        _packet("accel", ta, accel_mps2=g + rng.normal(0, 0.3, (len(ta), 3)).astype(np.float32)),
        _packet("gyro", ta, gyro_rads=rng.normal(0, 0.05, (len(ta), 3)).astype(np.float32)),
        _packet("mag", tm, mag_ut=(np.array([20.0, 0.0, -40.0]) + rng.normal(0, 1, (len(tm), 3))
                                   ).astype(np.float32)),
        _packet("sound", ts, sound_db=np.linspace(60.0, 70.0, len(ts))),
        _packet("speed", tv, speed_mps=np.full(len(tv), 8.5, np.float32),
                accuracy_m=np.full(len(tv), 5.0, np.float32)),
        _packet("pressure", tp, pressure_hpa=1013.0 + 0.01 * np.arange(len(tp), dtype=np.float32)),
        _packet("light", tl, lux=np.array([40.0, 900.0, 5.0], np.float32)),
        _packet("labels", tlab, transport=np.full(len(tlab), 3, np.int8)),
    ]
    packets[0] = Packet("accel", ta, dict(packets[0].fields), "imu")
    with Recorder(path, clock=FakeClock(T0), wall_offset_ns=0, clock_synced=True) as rec:
        rec.add_device("labels", {"transport": ["still", "walking", "car", "bus", "train"],
                                  "rate_hz": 10.0, "kind": "labels"})
        for p in sorted(packets, key=lambda p: int(p.t_ns[0])):
            rec.write(p)
    return path, {"sound": ts, "speed": tv, "pressure": tp, "light": tl}


def test_phone_streams_become_the_declared_modalities(bus_ride) -> None:  # type: ignore[no-untyped-def]
    path, _ = bus_ride
    mods = sensor_modalities(names=PHONE)
    ws = recording_windows(path, mods, tasks=["transport", "activity", "locomotion"])
    assert len(ws) == DURATION_S // 2
    # the file labels transport only; activity and locomotion follow from it
    assert set(ws.labels["transport"]) == {3}
    assert set(ws.labels["activity"]) == {ws.classes["activity"].index("vehicle")}
    assert set(ws.labels["locomotion"]) == {ws.classes["locomotion"].index("motor")}
    assert ws.present["accel"].all() and ws.present["mag"].all()
    assert ws.inputs["mag"].shape == (len(ws), 3, 20)  # 10 Hz input, irregular source


def _held_until(events: np.ndarray, hold_s: float, starts: np.ndarray) -> np.ndarray:
    """Windows (starting at ``starts`` s) in which a step signal has a value."""
    ev = (events - T0) / S
    return np.array([bool(np.any((ev < s + 2.0) & (ev >= s - hold_s))) for s in starts])


def test_step_signals_hold_as_declared_and_vanish_after(bus_ride) -> None:  # type: ignore[no-untyped-def]
    path, times = bus_ride
    mods = sensor_modalities(names=PHONE)
    ws = recording_windows(path, mods, tasks=["transport"])
    starts = np.arange(len(ws)) * 2.0  # windows from the first label sample at T0
    # light: reported at 0.5, 3 and 61 s, held up to 120 s: present in every window
    assert ws.present["light"].all()
    lux = ws.inputs["light"][:, 0, 0]
    assert lux[0] == pytest.approx(np.log10(41.0), abs=1e-5)
    assert lux[40] == pytest.approx(np.log10(6.0), abs=1e-5)  # 80 s: the 61 s report
    # the sound level is held 30 s, the GPS speed 60 s: gaps longer than that are gaps
    for name, key, hold in (("sound_level", "sound", 30.0), ("gps_speed", "speed", 60.0)):
        want = _held_until(times[key], hold, starts)
        np.testing.assert_array_equal(ws.present[name], want, err_msg=name)
    speed = ws.inputs["gps_speed"][ws.present["gps_speed"]]
    assert np.allclose(speed, 8.5)
    # pressure: the change within the window, about zero for one held value
    assert np.allclose(ws.inputs["pressure"][ws.present["pressure"]], 0.0, atol=1e-3)


def test_evaluate_default_scores_a_labelled_phone_recording(bus_ride, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from sensekit.cli import main

    path, _ = bus_ride
    assert main(["evaluate", "default", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # the shipped network has no transport head; its activity head is scored through the
    # activity a bus ride is (vehicle), over every labelled window
    assert set(out["tasks"]) == {"activity", "locomotion"}
    act = out["tasks"]["activity"]
    (rec,) = act["recordings"]
    assert rec["truth"] == "vehicle" and rec["windows"] == act["windows"] == DURATION_S // 2
    assert set(rec["shares"]) == {"still", "walking", "running", "cycling", "vehicle"}
    assert abs(sum(rec["shares"].values()) - 1.0) < 1e-3
    assert act["accuracy"] == pytest.approx(rec["shares"]["vehicle"], abs=1e-3)
