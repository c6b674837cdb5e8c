"""From aligned windows of a recording to network inputs and labels."""

from __future__ import annotations

import numpy as np
import pytest

from sensekit.align import StreamSpec, align
from sensekit.fusion.features import resize_image, window_inputs
from sensekit.fusion.inputs import sensor_modalities
from sensekit.fusion.stats_baseline import StatsLogReg, window_statistics
from sensekit.packets import Packet


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    scenario = pytest.importorskip("sensekit.testing.scenario")
    path = tmp_path_factory.mktemp("day") / "day.mcap"
    scenario.simulate(path, scenario.SimConfig(duration_s=60.0, seed=5))
    return path, scenario.Scenario(60.0, 5)


def test_resize_image_averages_blocks():
    img = np.zeros((4, 6, 3), np.uint8)
    img[:2, :3] = 255  # top-left quarter white
    out = resize_image(img, 2)
    assert out.shape == (3, 2, 2)
    np.testing.assert_allclose(out[0], [[1.0, 0.0], [0.0, 0.0]])


def test_window_inputs_shapes_units_and_missing_slots():
    mods = sensor_modalities()
    t = np.arange(0, 2_000_000_000, 10_000_000, dtype=np.int64)  # 100 Hz for 2 s
    accel = np.tile(np.array([[0.0, 0.0, 9.81]], np.float32), (len(t), 1))
    accel[::2, 0] = 1.0
    keep = np.ones(len(t), bool)
    keep[50:60] = False  # ten samples lost
    imu = Packet("imu", t[keep], {"accel_mps2": accel[keep]}, "imu")
    light = Packet("light", np.array([0, 1_000_000_000], np.int64),
                   {"lux": np.array([99.0, 9999.0], np.float32)}, "light")
    (win,) = align({"imu": imu, "light": light},
                   {"imu": StreamSpec(100.0), "light": StreamSpec(1.0)}, 2.0)
    x = window_inputs(win, mods)
    assert set(x) == {"accel", "light"}  # no gyro field, no other streams: left out
    assert x["accel"].shape == (3, 200)
    assert x["accel"][2].min() == pytest.approx(9.81)
    # a lost sample is held from the last real one, not zeroed
    np.testing.assert_array_equal(x["accel"][0, 50:60], np.full(10, x["accel"][0, 49]))
    np.testing.assert_allclose(x["light"], [[2.0, 4.0]], atol=1e-4)


def test_recording_windows_carry_majority_labels(day):
    from sensekit.fusion.recordings import recording_windows
    from sensekit.fusion.tasks import classes_of

    path, truth = day
    ws = recording_windows(path, sensor_modalities())
    assert len(ws) == 30
    assert ws.inputs["audio"].shape == (30, 32, 100)
    assert ws.inputs["camera"].shape == (30, 3, 32, 32)
    assert all(ws.present[m].mean() > 0.9 for m in ("accel", "gyro", "audio", "light"))
    mid = np.arange(30) * 2.0 + 1.0  # window centres, s since the start of the day
    want = truth.labels(mid)["activity"]
    agree = (ws.labels["activity"] == want).mean()
    assert agree >= 0.9  # windows straddling a segment boundary may differ
    tasks = classes_of()
    walking = ws.labels["activity"] == tasks["activity"].index("walking")
    # locomotion follows from the activity; the simulator labels no transport mode
    assert (ws.labels["locomotion"][walking] == tasks["locomotion"].index("foot")).all()
    assert (ws.labels["transport"] == -1).all() and ws.classes["transport"][2] == "car"


def test_statistics_baseline_features_and_fit(windows, held_out):
    x = window_statistics(windows)
    # series: 4 stats per channel, image: 2 per channel, plus a presence flag per modality
    assert x.shape == (len(windows), 6 * 4 + 8 * 4 + 3 * 2 + 1 * 4 + 4)
    scores = StatsLogReg().fit(windows).evaluate(held_out)
    assert scores["place"]["accuracy"] > 0.9
