from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from stand_in_net import MotionThreshold

from sensekit.align import Window
from sensekit.controller.adaptive import Adaptive
from sensekit.controller.evaluate import (
    Prediction,
    Recording,
    detection_delays,
    evaluate_policy,
)
from sensekit.controller.policies import DutyCycle, Static
from sensekit.fusion.inputs import Configuration
from sensekit.packets import Packet
from sensekit.testing.scenario import ACTIVITIES, SimConfig, simulate

FULL = Configuration({"accel": 100.0, "gyro": 100.0, "audio": 50.0, "camera": 32.0, "gps": 1.0,
                      "light": 1.0})
RATES = {"accel": (100.0, 50.0, 25.0), "gyro": (100.0, 50.0, 25.0), "audio": (50.0,),
         "camera": (32.0, 16.0), "gps": (1.0,), "light": (1.0,)}


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    path = tmp_path_factory.mktemp("sim") / "day.mcap"
    simulate(path, SimConfig(duration_s=120, seed=11))
    return Recording.load(str(path))


def test_always_on_processes_every_window_and_charges_every_sensor(recording: Recording) -> None:
    result = evaluate_policy(recording, lambda: Static(FULL, name="always-on"), MotionThreshold())
    assert result.windows_processed == 1.0
    assert set(result.sensor_j_by_part) >= {"imu", "gps", "camera", "microphone", "light"}
    assert result.total_j == pytest.approx(result.sensor_j + result.compute_j + result.platform_j)
    # the platform floor of a Pi 4 dwarfs the sensors and is reported beside them
    assert result.platform_j > result.sensor_j > 0
    assert 0.0 <= result.macro_f1 <= 1.0 and result.duration_s > 100


def test_adaptive_spends_less_than_always_on(recording: Recording) -> None:
    always = evaluate_policy(recording, lambda: Static(FULL, name="always-on"), MotionThreshold())
    net = MotionThreshold()
    adaptive = evaluate_policy(recording, lambda: Adaptive(FULL, RATES), net)
    assert adaptive.sensor_j < always.sensor_j
    assert adaptive.compute_j < always.compute_j
    assert adaptive.decisions > 0
    assert any(c != FULL for c in net.seen)


def test_duty_cycle_hides_what_the_sleeping_sensors_recorded(recording: Recording) -> None:
    net = MotionThreshold()
    result = evaluate_policy(recording, lambda: DutyCycle(FULL, period_s=20, on_s=4), net)
    assert 0.1 < result.windows_processed < 0.4
    assert result.sensor_j_by_part["camera"] < evaluate_policy(
        recording, lambda: Static(FULL), MotionThreshold()).sensor_j_by_part["camera"]


def test_detection_delay_counts_windows_until_the_new_class_shows() -> None:
    truth = [0, 0, 1, 1, 1, 2, 2]
    pred = [0, 0, 0, 1, 1, 1, 2]
    assert detection_delays(truth, pred, 2.0) == [2.0, 2.0]
    assert np.isnan(np.mean(detection_delays([0, 0], [0, 0], 2.0) or [np.nan]))


def test_recording_labels_follow_the_log(recording: Recording, tmp_path: Path) -> None:
    assert len(recording.labels) >= 100
    assert set(np.unique(recording.labels)) <= set(range(len(ACTIVITIES)))


def _gps(t_s: np.ndarray, north_m: np.ndarray, speed: float) -> Packet:

    n = len(t_s)
    lat = 51.0 + np.degrees(north_m / 6_371_008.8)
    return Packet("gps", (t_s * 1e9).astype(np.int64), {
        "lat_deg": lat, "lon_deg": np.full(n, -1.0), "speed_mps": np.full(n, speed, np.float32),
        "track_deg": np.zeros(n, np.float32), "mode": np.full(n, 3, np.int8)}, "gps")


def test_location_error_dead_reckons_between_fixes() -> None:
    from sensekit.controller.evaluate import location_error_m

    t = np.arange(0, 60, 1.0)
    truth = _gps(t, 1.5 * t, 1.5)  # walking north at 1.5 m/s
    every_20s = [truth.select(np.isin(t, [0, 20, 40]))]
    windows = list((np.arange(0, 60, 2.0) * 1e9).astype(np.int64))
    held = location_error_m(truth, every_20s, windows, [False] * 30, 2.0)
    reckoned = location_error_m(truth, every_20s, windows, [True] * 30, 2.0)
    assert held == pytest.approx(np.mean(1.5 * (t % 20)), rel=1e-3)  # 14.25 m
    assert reckoned < 0.01
    assert location_error_m(truth, [truth], windows, [False] * 30, 2.0) < 1e-6


def test_an_unlabelled_recording_still_gets_its_energy_measured(corpus: Path,
                                                                tmp_path: Path) -> None:
    from sensekit.log.importers import import_csv

    out = tmp_path / "phone.mcap"
    import_csv(corpus / "phone" / "user1_hand_1506421989895.csv", out,
               columns={"t_ns": "0", "accel_mps2": "1,2,3"}, stream="imu", modality="imu",
               header=False)
    rec = Recording.load(str(out))
    assert not rec.labelled
    result = evaluate_policy(rec, lambda: Static(Configuration({"accel": 100.0})),
                             MotionThreshold())
    assert np.isnan(result.macro_f1) and np.isnan(result.accuracy)
    assert result.sensor_j > 0 and result.duration_s > 150


def test_policies_replay_a_phone_recording_labelled_by_transport_mode(tmp_path: Path) -> None:
    """A transport-mode recording (streams of its own per sensor, at phone rates) replays
    under the controller; its ``transport=bus`` label scores the activity task as vehicle."""
    from phone_log import write_bus_ride

    path = tmp_path / "bus.mcap"
    write_bus_ride(path)
    rec = Recording.load(str(path), task="activity")
    assert rec.classes[-1] == "vehicle" and set(rec.labels.tolist()) == {4}
    net = MotionThreshold()
    full = Configuration({"accel": 100.0, "gyro": 100.0, "light": 1.0})
    result = evaluate_policy(rec, lambda: Static(full, name="always-on"), net)
    # every phone stream a declaration names is charged as the part a rig would use, once
    # per part: the accelerometer and gyroscope streams are one IMU
    assert set(result.sensor_j_by_part) == {"imu", "light", "magnetometer", "barometer",
                                            "microphone", "gps"}
    assert result.windows_processed > 0.9 and result.accuracy == 0.0  # still/walking only
    assert all(set(c.modalities) <= {"accel", "gyro", "light"} for c in net.seen)


def test_a_step_signal_holds_across_windows_while_its_sensor_stays_on(tmp_path: Path) -> None:
    """Light reported at 0.5, 3 and 61 s (only on change): the replay shows it in every window
    while the light sensor is on, and forgets it once the sensor sleeps."""
    from phone_log import T0, write_bus_ride

    path = tmp_path / "bus.mcap"
    write_bus_ride(path)
    rec = Recording.load(str(path), task="activity")

    class SeesLight(MotionThreshold):
        def __init__(self) -> None:
            super().__init__()
            self.light: dict[int, bool] = {}  # window start (s) -> light in it

        def predict(self, window: Window, config: Configuration, *,
                    explain: bool = False) -> Prediction:
            seen = "light" in window.mask and bool(window.valid("light").any())
            self.light[round((window.t_start_ns - T0) / 1e9)] = seen
            return super().predict(window, config)

    on = SeesLight()
    evaluate_policy(rec, lambda: Static(Configuration({"accel": 100.0, "light": 1.0})), on)
    assert len(on.light) >= 59 and all(on.light.values())
    off = SeesLight()
    evaluate_policy(rec, lambda: DutyCycle(Configuration({"accel": 100.0, "light": 1.0}),
                                           period_s=20.0, on_s=10.0), off, max_off_s=None)
    # on from 0 s: the 0.5 and 3 s reports hold; woken at 20 and 40 s, nothing reported since
    assert all(off.light[t] for t in (0, 2, 4, 6, 8))
    assert not any(off.light[t] for t in (20, 22, 40, 42))
    assert off.light[60]  # the 61 s report


def test_a_wake_up_is_charged_for_every_part_that_has_a_table_entry(tmp_path: Path) -> None:
    """Every part of a phone recording starts asleep; the first plan wakes each one it needs,
    charged from its table's wake-up row; a GPS on a duty cycle is charged one hot start a
    period, and its samples wait out each one."""
    from phone_log import write_bus_ride

    from sensekit.controller.evaluate import replay_policy
    from sensekit.controller.operating import OperatingPoint
    from sensekit.modalities import registered
    from sensekit.power.model import load_power_model

    path = tmp_path / "bus.mcap"
    write_bus_ride(path)
    rec = Recording.load(str(path), task="activity")
    point = OperatingPoint.parse("accel@100+gyro@100+mag@8+sound_level@10+light@1"
                                 "+pressure@1+gps_speed@1~10/60")
    _, replay = replay_policy(rec, Static.of(point), MotionThreshold(), window_s=2.0,
                              max_off_s=None)
    wakes: dict[str, list[float]] = {}
    for c in replay.ledger.charges:
        if c.kind == "transition" and c.mode.startswith("sleep->"):
            wakes.setdefault(c.sensor, []).append(c.energy_j(c.start_ns, c.end_ns + 1))
    parts = {d.power.device: d.power.model for d in registered().values() if d.power}
    assert set(wakes) == {"imu", "magnetometer", "microphone", "light", "barometer", "gps"}
    for part, joules in wakes.items():
        modes = {replay.parts.state[part].mode}
        step = load_power_model(parts[part]).transition("sleep", modes.pop())
        assert step is not None and joules[0] == pytest.approx(step.energy_j, rel=1e-6), part
    assert len(wakes["gps"]) == 2  # 120 s: woken at 0 and 60 s, one hot start each
    assert all(len(w) == 1 for p, w in wakes.items() if p != "gps")
    gps = replay.devices["speed"]
    assert gps.hidden > 0  # what the phone logged while the GPS slept or was starting


def test_a_part_whose_table_has_no_wake_up_is_refused_at_load(tmp_path: Path) -> None:
    from sensekit.errors import ConfigError
    from sensekit.power.model import parse_power_model

    with pytest.raises(ConfigError, match="no wake-up from 'sleep' to on"):
        parse_power_model({"device": "mic", "supply_v": 5.0, "modes": {
            "on": {"current_a": 0.04, "source": "test"},
            "sleep": {"current_a": 0.0025, "source": "test"}}}, "mic table")


def test_a_modality_counts_as_carried_only_where_its_stream_has_its_fields() -> None:
    from sensekit.controller.evaluate import Recording, carried
    from sensekit.modalities import registered

    t = np.arange(3, dtype=np.int64) * 10_000_000
    imu = Packet("imu", t, {"accel_mps2": np.zeros((3, 3), np.float32)})
    mag = Packet("mag", t, {"mag_ut": np.zeros((3, 3), np.float32)})
    mods = {m: registered()[m].input for m in ("accel", "mag")}
    rig = Recording.from_streams("rig", {"imu": imu}, ["still"])
    phone = Recording.from_streams("phone", {"imu": imu, "mag": mag}, ["still"])
    assert sorted(carried(mods, [rig])) == ["accel"]  # the IMU stream has no mag_ut field
    assert sorted(carried(mods, [phone])) == ["accel", "mag"]
    assert sorted(carried(mods, [rig, phone])) == ["accel"]  # every recording must carry it
