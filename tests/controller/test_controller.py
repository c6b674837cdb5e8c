from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sensekit.clock import FakeClock
from sensekit.controller.adaptive import Adaptive
from sensekit.controller.controller import Controller, snap
from sensekit.controller.policies import Observation, Plan, Static
from sensekit.driver import Driver
from sensekit.errors import DeviceIOError
from sensekit.fusion.inputs import Configuration, configurations, sensor_modalities
from sensekit.packets import Packet

MODS = sensor_modalities()
RATES = {m: spec.rates_hz for m, spec in MODS.items()}
FULL = Configuration({m: spec.native for m, spec in MODS.items()})


class Sensor(Driver):
    """A controllable toy device; ``fail_on`` makes a named action raise."""

    name = "toy"
    modality = "light"
    schemes = frozenset({"emu"})
    modes = ("continuous", "accel_gyro", "accel_only", "wake_on_motion", "power_save", "dnn",
             "photo")
    default_rate_hz = 100.0

    def __init__(self, url: str, fail_on: str = "", **kw: Any) -> None:
        super().__init__(url, **kw)
        self.fail_on = fail_on
        self.size = (64, 64)
        self.motion_callbacks: list[Any] = []

    def on_motion(self, callback: Any) -> None:
        self.motion_callbacks.append(callback)

    def _open(self) -> None: ...
    def _close(self) -> None: ...

    def _read_packet(self, timeout_s: float) -> Packet | None:
        if self.asleep:
            return None
        return Packet(self.stream, np.zeros(1, np.int64), {"lux": np.zeros(1, np.float32)})

    def _act(self, what: str) -> None:
        if self.fail_on == what:
            raise DeviceIOError(f"{self.describe()}: {what} failed")

    def _set_rate(self, rate_hz: float) -> float:
        self._act("rate")
        return rate_hz

    def _set_mode(self, mode: str, **options: Any) -> None:
        self._act("mode")
        self.size = tuple(options.get("size", self.size))  # type: ignore[assignment]

    def _sleep(self) -> None:
        self._act("sleep")

    def _wake(self) -> None:
        self._act("wake")


STREAMS = ("imu", "audio", "camera", "gps", "light")


def rig(**fail: str) -> dict[str, Driver]:
    clock = FakeClock()
    return {s: Sensor("emu://", stream=s, clock=clock, fail_on=fail.get(s, "")).open()
            for s in STREAMS}


class Scripted:
    name = "scripted"

    def __init__(self, plans: list[Configuration]) -> None:
        self.plans = plans
        self.seen: list[Observation] = []

    def plan(self, obs: Observation) -> Plan:
        self.seen.append(obs)
        return Plan(self.plans[min(len(self.seen) - 1, len(self.plans) - 1)], True, "script")


def test_controller_applies_plans_through_the_driver_interface_and_logs_them() -> None:
    drivers = rig()
    idle = Configuration({"accel": 25.0})
    ctl = Controller(drivers, Scripted([FULL, idle, FULL]), supported=configurations(MODS))
    ctl.step(0)
    assert drivers["imu"].rate_hz == 100.0 and drivers["imu"].mode == "accel_gyro"
    assert drivers["camera"].mode == "dnn" and drivers["camera"].size == (32, 32)
    ctl.step(2_000_000_000)
    assert drivers["imu"].rate_hz == 25.0 and drivers["imu"].mode == "accel_only"
    assert all(drivers[s].asleep for s in STREAMS if s != "imu")
    ctl.step(4_000_000_000)
    assert not any(d.asleep for d in drivers.values())
    sleeps = [d for d in ctl.decisions if d.setting == "power" and d.new == "asleep"]
    assert {d.stream for d in sleeps} == set(STREAMS) - {"imu"}
    assert all(d.t_ns == 2_000_000_000 and d.reason == "script" for d in sleeps)
    # the drivers saw the same changes (the ledger reads these)
    assert [c.new for c in drivers["gps"].changes] == ["asleep", "awake"]


def test_plans_are_snapped_to_supported_configurations() -> None:
    supported = configurations(MODS)
    odd = Configuration({"accel": 70.0, "camera": 40.0})
    got = snap(odd, supported)
    assert got in supported and got.modalities == odd.modalities
    assert got.rates == {"accel": 50.0, "camera": 32.0}
    only = [Configuration({"accel": 100.0, "light": 1.0})]
    assert snap(Configuration({"accel": 25.0}), only) == only[0]


def test_no_sensor_stays_off_longer_than_its_maximum() -> None:
    drivers = rig()
    ctl = Controller(drivers, Scripted([Configuration({"accel": 100.0})]), max_off_s=10.0,
                     supported=configurations(MODS))
    on_windows: dict[str, list[int]] = {s: [] for s in STREAMS}
    for k in range(30):  # 2 s windows, 60 s
        ctl.step(k * 2_000_000_000)
        for s in STREAMS:
            if not drivers[s].asleep:
                on_windows[s].append(k)
    for s in STREAMS:
        if s == "imu":
            continue
        gaps = np.diff([-1, *on_windows[s]])
        assert len(on_windows[s]) >= 5
        assert gaps.max() * 2 <= 10 + 2, (s, on_windows[s])
    assert ctl.forced_on > 0


def test_a_camera_woken_for_its_maximum_time_off_comes_on_at_an_image_side() -> None:
    # without the network's configurations to look the probe up in, a camera still comes on
    # at a side in pixels the network takes, never at the driver's frame rate
    ctl = Controller(rig(), Scripted([Configuration({"accel": 100.0})]), max_off_s=10.0)
    sides = set()
    for k in range(30):  # 60 s of 2 s windows
        plan = ctl.step(k * 2_000_000_000)
        if "camera" in plan.configuration.modalities:
            sides.add(plan.configuration.rates["camera"])
    assert sides == {min(MODS["camera"].rates_hz)}


def test_the_maximum_time_off_holds_only_for_sensors_the_policy_uses() -> None:
    drivers = rig()
    no_audio = Configuration({"accel": 100.0, "gyro": 100.0, "gps": 1.0})
    ctl = Controller(drivers, Static(no_audio), max_off_s=10.0, supported=configurations(MODS))
    woke: set[str] = set()
    for k in range(30):  # 60 s of 2 s windows, six times the limit
        ctl.step(k * 2_000_000_000)
        woke |= {s for s in STREAMS if not drivers[s].asleep}
    assert woke == {"imu", "gps"}
    assert ctl.forced_on == 0
    # an adaptive policy that may only bring back the camera never wakes the microphone
    drivers = rig()
    adaptive = Adaptive(FULL, RATES, base=("accel", "gyro", "gps"), optional=("camera",))
    assert adaptive.uses == {"accel", "gyro", "gps", "camera"}
    ctl = Controller(drivers, adaptive, max_off_s=10.0, supported=configurations(MODS))
    for k in range(30):
        ctl.step(k * 2_000_000_000, {"accel": 0.5}, confidence=0.95)
        assert drivers["audio"].asleep and drivers["light"].asleep


def test_a_failing_sensor_is_routed_around_and_the_rest_carry_on() -> None:
    drivers = rig(gps="sleep")
    policy = Scripted([FULL, Configuration({"accel": 50.0})])
    ctl = Controller(drivers, policy)
    ctl.step(0)
    ctl.step(2_000_000_000)
    assert "gps" in ctl.failed and "sleep failed" in ctl.failed["gps"]
    assert drivers["imu"].rate_hz == 50.0 and drivers["camera"].asleep
    ctl.step(4_000_000_000)
    assert "gps" not in policy.seen[-1].available and "accel" in policy.seen[-1].available
    health = [d for d in ctl.decisions if d.setting == "health"]
    assert [(d.stream, d.new) for d in health] == [("gps", "failed")]
    ctl.mark_recovered("gps")
    assert "gps" in ctl.available


def test_adaptive_policy_end_to_end_on_scripted_scores() -> None:
    drivers = rig()
    ctl = Controller(drivers, Adaptive(FULL, RATES, still_windows=3),
                     supported=configurations(MODS),
                     max_off_s=30.0)
    ran = []
    for k in range(3):
        plan = ctl.step(k * 2_000_000_000, {"accel": 0.02}, confidence=0.97, prediction="still")
        ran.append(plan.run_network)
    for k in range(3, 10):  # standby: the IMU delivers nothing, so there is no score
        plan = ctl.step(k * 2_000_000_000, {}, confidence=0.97, prediction="still")
        ran.append(plan.run_network)
    assert ran[:2] == [True] * 2 and not any(ran[2:])
    imu = drivers["imu"]
    assert imu.mode == "wake_on_motion" and not imu.asleep
    assert drivers["gps"].mode == "power_save" and drivers["camera"].asleep
    # the part's motion interrupt wakes everything at the next window
    imu.motion_callbacks[0](19_500_000_000)  # type: ignore[attr-defined]
    plan = ctl.step(20_000_000_000, {}, confidence=0.97)
    assert plan.run_network and imu.rate_hz == 100.0 and imu.mode == "accel_gyro"
    assert drivers["gps"].mode == "continuous"
    assert [d.setting for d in ctl.decisions if d.setting == "interrupt"] == ["interrupt"]


@pytest.mark.parametrize("policy", [Static(FULL)])
def test_summary_counts(policy: Static) -> None:
    ctl = Controller(rig(), policy)
    ctl.step(0)
    assert ctl.summary()["forced_on"] == 0


def test_decisions_are_recorded_in_the_mcap_log(tmp_path: Any) -> None:
    from sensekit.controller.controller import decisions_packet
    from sensekit.log.reader import open as open_log
    from sensekit.log.recorder import Recorder

    drivers = rig()
    ctl = Controller(drivers, Scripted([FULL, Configuration({"accel": 25.0})]))
    ctl.step(1_000_000_000)
    ctl.step(3_000_000_000)
    path = tmp_path / "decisions.mcap"
    with Recorder(path) as rec:
        rec.write(decisions_packet(ctl.decisions))
    with open_log(path) as log:
        back = log.read("controller")
    assert len(back) == len(ctl.decisions) > 4
    assert list(back.t_ns) == [d.t_ns for d in ctl.decisions]
    rows = list(zip(back["stream"], back["setting"], back["new"], strict=True))
    assert ("gps", "power", "asleep") in rows and ("imu", "rate", "25.0") in rows


def test_dual_mode_camera_switches_to_photo_with_hysteresis() -> None:
    from sensekit.controller.dual_mode import Hysteresis

    drivers = rig()
    trigger = Hysteresis(high=0.7, low=0.3, min_dwell_s=4.0)
    ctl = Controller(drivers, Static(FULL), photo_trigger=trigger)
    cam = drivers["camera"]
    modes = []
    for k, score in enumerate([0.1, 0.9, 0.9, 0.2, 0.2, 0.9, 0.9, 0.5]):
        ctl.step(k * 2_000_000_000, {"camera": score})
        modes.append(cam.mode)
    # every change waits for the 4 s dwell; a score between low and high changes nothing
    assert modes == ["dnn", "dnn", "photo", "photo", "dnn", "dnn", "photo", "photo"]
    assert trigger.refused == 3
    switches = [d.new for d in ctl.decisions if d.stream == "camera" and d.setting == "mode"]
    assert switches == ["dnn 32x32", "photo", "dnn 32x32", "photo"]


def test_a_photo_on_request_does_not_leave_dnn_mode() -> None:
    drivers = rig()
    cam = drivers["camera"]
    shots: list[int] = []
    cam.capture_photo = lambda: shots.append(1) or cam.read()  # type: ignore[attr-defined]
    ctl = Controller(drivers, Static(FULL))
    ctl.step(0)
    assert ctl.request_photo(1) is not None and shots == [1]
    assert cam.mode == "dnn"
    cam.sleep()
    assert ctl.request_photo(2) is None
