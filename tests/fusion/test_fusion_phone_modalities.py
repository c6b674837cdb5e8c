"""What real phone recordings carry, with their real timing: windows of a transport-mode-like log.

The recording (``phone_log.write_bus_ride``) has the streams ``sensekit import --format
us-tmd`` writes, at the irregular rates and with the gaps of the corpus.
"""

from __future__ import annotations

import numpy as np
import pytest
from phone_log import DURATION_S, T0, S, write_bus_ride

from sensekit.fusion.inputs import sensor_modalities
from sensekit.fusion.recordings import recording_windows

PHONE = ("accel", "gyro", "mag", "pressure", "sound_level", "gps_speed", "light")


@pytest.fixture(scope="module")
def bus_ride(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("phone") / "sensorfile_andrea_Bus_1480000000000.mcap"
    return path, write_bus_ride(path)


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
    # the shipped network's transport head is scored on the recording's own label, its
    # activity head through the activity a bus ride is (vehicle), over every labelled 5 s
    # window (the windows the network was trained on)
    assert set(out["tasks"]) == {"transport", "activity"}
    for task, truth in (("transport", "bus"), ("activity", "vehicle")):
        score = out["tasks"][task]
        (rec,) = score["recordings"]
        assert rec["truth"] == truth and rec["windows"] == score["windows"] == DURATION_S // 5
        assert abs(sum(rec["shares"].values()) - 1.0) < 1e-3
        assert score["accuracy"] == pytest.approx(rec["shares"][truth], abs=1e-3)
    assert set(out["tasks"]["activity"]["recordings"][0]["shares"]) == {
        "still", "walking", "running", "cycling", "vehicle"}


def test_a_stream_with_a_single_report_is_held_like_any_other(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # one pressure report in the whole recording: its stream has no rate to slot it by
    path = tmp_path / "one.mcap"
    times = write_bus_ride(path, pressure_every_s=1000.0)
    assert len(times["pressure"]) == 1
    ws = recording_windows(path, sensor_modalities(names=PHONE), tasks=["transport"])
    report_s = (times["pressure"][0] - T0) / S
    starts = np.arange(len(ws)) * 2.0
    want = (report_s < starts + 2.0) & (starts - report_s <= 120.0)
    np.testing.assert_array_equal(ws.present["pressure"], want)
