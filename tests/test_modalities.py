"""The open sensor set: every declaration is complete, and a new modality is one declaration."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

import sensekit.modalities as modalities
from sensekit.align import StreamSpec, align
from sensekit.controller.energy import configuration_power_w, modality_power_w
from sensekit.controller.scores import SCORERS, score_window
from sensekit.errors import ConfigError
from sensekit.fusion.features import Feature, feature, register_feature, window_inputs
from sensekit.fusion.inputs import Configuration, ModalityInput, Source
from sensekit.modalities import Modality, PowerEntry, Score, TurnDown, register
from sensekit.packets import Packet
from sensekit.power.model import load_power_model

S = 1_000_000_000


@pytest.fixture
def declared() -> Iterator[None]:
    """Declarations added by a test are gone after it."""
    table = modalities._DECLARED.table()
    before = dict(table)
    yield
    table.clear()
    table.update(before)


@pytest.mark.parametrize("name", modalities.names())
def test_every_built_in_declaration_is_complete(name: str) -> None:
    decl = modalities.get(name)
    for src in decl.input.sources:
        assert isinstance(feature(src.features), Feature)
    assert decl.score is None or decl.score.scorer in SCORERS
    assert decl.power is not None
    table = load_power_model(decl.power.model)
    td = decl.turn_down
    for mode in (td.standby, td.economy, td.size_mode, td.photo_mode):
        if mode:
            table.mode(mode)  # raises when the table lacks it
    # the part delivers it in one of its modes (a part may lack a cheaper alternative)
    assert not td.modes or modalities.delivering_mode([decl], table.modes) is not None
    # modalities of one part name the same table
    mates = [d for d in modalities.registered().values()
             if d.power is not None and d.power.device == decl.power.device]
    assert {d.power.model for d in mates if d.power is not None} == {decl.power.model}


def test_unknown_names_are_refused_with_suggestions() -> None:
    with pytest.raises(ConfigError, match="did you mean accel"):
        modalities.get("acel")
    with pytest.raises(ConfigError, match=r"unknown feature extractor 'logmell'.*logmel"):
        feature("logmell")
    with pytest.raises(ConfigError, match="already declared"):
        register(replace(modalities.get("light"), doc="another light"))


@register_feature("thermal_frame")
class ThermalFrame(Feature):
    """The newest 8 x 8 thermal frame, degrees Celsius about 20."""

    def __call__(self, win: Any, source: Source, spec: ModalityInput,
                 rate: float) -> np.ndarray | None:
        mask = win.mask.get(source.stream)
        if mask is None or not mask.any():
            return None
        frame = np.asarray(win.data[source.stream][source.fields[0]])[np.flatnonzero(mask)[-1]]
        return (frame[None] - 20.0).astype(np.float32)


THERMAL = Modality(
    "thermal",
    ModalityInput("image", 1, (8.0,), sources=(Source("thermal", ("temp_c",), "thermal_frame"),)),
    TurnDown("switch", modes=("continuous_high",)),
    PowerEntry("bh1750", device="thermal"),
    Score("range", "change", {"half": 2.0}),
    "an 8 x 8 thermal array (its power priced with a light sensor's table for the test)")


def _window() -> Any:
    t = np.arange(0, 2 * S, S // 100, dtype=np.int64)
    imu = Packet("imu", t, {"accel_mps2": np.tile([0.0, 0.0, 9.81], (200, 1)).astype(np.float32)})
    frames = np.full((2, 8, 8), 21.0, np.float32)
    frames[1, :4] = 30.0  # someone walks into view
    thermal = Packet("thermal", np.array([0, S], np.int64), {"temp_c": frames})
    (win,) = align({"imu": imu, "thermal": thermal},
                   {"imu": StreamSpec(100.0), "thermal": StreamSpec(1.0)}, 2.0)
    return win


def test_a_new_modality_is_one_declaration_read_by_every_layer(declared: None) -> None:
    torch = pytest.importorskip("torch")
    import sensekit.fusion as fusion
    from sensekit.controller.controller import Controller
    from sensekit.controller.policies import Static

    register(THERMAL)
    win = _window()
    mods = fusion.sensor_modalities(names=["accel", "thermal"])
    x = window_inputs(win, mods)
    assert x["thermal"].shape == (1, 8, 8) and x["thermal"].max() == pytest.approx(10.0)
    net = fusion.create_model("fusion_tiny", modalities=mods, tasks={"occupied": ["no", "yes"]})
    out = net.eval()({m: torch.from_numpy(v[None]) for m, v in x.items()})
    assert out["occupied"].shape == (1, 2)
    # the controller switches it, the ledger's price list has it, its score is read
    assert score_window(win)["thermal"] == pytest.approx(9.0 / 11.0)
    assert configuration_power_w(Configuration({"thermal": 8.0})) == pytest.approx(
        load_power_model("bh1750").mode("continuous_high").watts(8.0))
    assert set(modality_power_w(Configuration({"accel": 100.0, "thermal": 8.0}))) == {
        "accel", "thermal"}
    drivers = _rig("imu", "thermal")
    ctl = Controller(drivers, Static(Configuration({"accel": 100.0})))
    ctl.step(0)
    assert drivers["thermal"].asleep and not drivers["imu"].asleep
    assert "thermal" in ctl.available


def _rig(*streams: str) -> dict[str, Any]:
    from sensekit.clock import FakeClock
    from sensekit.driver import Driver

    class Part(Driver):
        name = "part"
        schemes = frozenset({"emu"})
        modes = ("continuous_high", "accel_only", "accel_gyro")

        def _open(self) -> None: ...
        def _close(self) -> None: ...
        def _read_packet(self, timeout_s: float) -> Packet | None:
            return None
        def _sleep(self) -> None: ...
        def _wake(self) -> None: ...
        def _set_rate(self, rate_hz: float) -> float:
            return rate_hz
        def _set_mode(self, mode: str, **options: Any) -> None: ...

    clock = FakeClock()
    return {s: Part("emu://", stream=s, clock=clock).open() for s in streams}


def test_an_imu_runs_the_first_mode_that_delivers_every_modality_that_is_on() -> None:
    accel, gyro = modalities.get("accel"), modalities.get("gyro")
    assert modalities.delivering_mode([accel]) == "accel_only"
    assert modalities.delivering_mode([accel, gyro]) == "accel_gyro"
    assert modalities.delivering_mode([modalities.get("light")]) == "continuous_high"
    # priced as one part: the gyroscope adds what accel_gyro costs over accel_only
    table = load_power_model("mpu6050")
    both = Configuration({"accel": 100.0, "gyro": 100.0})
    assert configuration_power_w(both) == pytest.approx(table.mode("accel_gyro").power_w)
    cost = modality_power_w(both)
    assert cost["accel"] == pytest.approx(table.mode("accel_only").power_w)
    assert cost["accel"] + cost["gyro"] == pytest.approx(table.mode("accel_gyro").power_w)


def test_a_phone_export_streams_are_found_for_the_same_modalities() -> None:
    """A phone delivers accelerometer and gyroscope on streams of their own (``accel``,
    ``gyro``); the controller finds them from the declarations' sources."""
    from sensekit.controller.controller import Controller
    from sensekit.controller.policies import Static

    drivers = _rig("accel", "gyro", "light")
    ctl = Controller(drivers, Static(Configuration({"accel": 50.0})))
    assert ctl.stream_of("accel") == "accel" and ctl.stream_of("gyro") == "gyro"
    assert ctl.available == {"accel", "gyro", "light"}
    ctl.step(0)
    assert drivers["accel"].rate_hz == 50.0 and drivers["accel"].mode == "accel_only"
    assert drivers["gyro"].asleep and drivers["light"].asleep
