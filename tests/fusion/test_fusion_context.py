"""The context network: training on window statistics, the two ONNX graphs, rules, calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sensekit.fusion.by_person import (
    balanced_accuracy,
    bootstrap_people,
    macro_f1_over,
    nested_folds,
)
from sensekit.fusion.context import ContextOptions, context_index, context_logits, fit_context
from sensekit.fusion.data import WindowSet
from sensekit.fusion.inputs import stats_modalities
from sensekit.fusion.model import create_model
from sensekit.fusion.rules import REMOVED, SPEED_GATE, apply_rules
from sensekit.fusion.tasks import classes_of
from sensekit.fusion.temperature import apply_calibration, fit_calibration, fit_scalar

TASKS = classes_of(["transport", "activity"])
MODS = stats_modalities(["accel", "mag"])
RULE_INPUTS = {"gps_speed": stats_modalities(["gps_speed"])["gps_speed"].as_json()}


def _toy(n_rec: int = 8, length: int = 30, seed: int = 0) -> tuple[WindowSet, np.ndarray]:
    """Recordings of one class each: still (accel statistics low) or walking (high); the
    magnetometer is noise; half the recordings have no magnetometer."""
    rng = np.random.default_rng(seed)
    xs, ms, ys, gs, people = [], [], [], [], []
    for r in range(n_rec):
        walking = r % 2
        xs.append(rng.normal(1.5 * walking, 0.3, (length, 14, 1)))
        ms.append(rng.normal(0, 1, (length, 6, 1)))
        ys.append(np.full(length, walking))
        gs.append(np.full(length, r))
        people.append(np.full(length, r // 2))
    n = n_rec * length
    y = np.concatenate(ys).astype(np.int64)
    mag_on = np.concatenate([np.full(length, r % 4 < 2) for r in range(n_rec)])
    speed = np.zeros((n, 3, 1), np.float32)
    ws = WindowSet(
        {**MODS, "gps_speed": stats_modalities(["gps_speed"])["gps_speed"]},
        {"accel": np.concatenate(xs).astype(np.float32),
         "mag": np.concatenate(ms).astype(np.float32), "gps_speed": speed},
        {"accel": np.ones(n, bool), "mag": mag_on, "gps_speed": np.zeros(n, bool)},
        {"transport": y, "activity": y.copy()}, {t: list(c) for t, c in TASKS.items()},
        np.concatenate(gs).astype(np.int64), np.tile(np.arange(length), n_rec).astype(np.int64))
    return ws, np.concatenate(people)


@pytest.fixture(scope="module")
def trained() -> tuple[torch.nn.Module, WindowSet]:
    torch.manual_seed(0)
    ws, people = _toy()
    net = create_model("context_small", modalities=MODS, tasks=TASKS, dim=16, heads=2,
                       context=4, rules=[SPEED_GATE.as_json()], rule_inputs=RULE_INPUTS)
    fit_context(net, ws, ContextOptions(steps=60, batch_size=32, alone=["accel"], views=False),
                strata=people)
    return net, ws


def test_context_index_reads_the_windows_before_on_the_same_recording() -> None:
    groups = np.array([0, 0, 0, 1, 1])
    index = np.array([0, 1, 3, 5, 6])  # window 2 of recording 0 was not kept
    ctx = context_index(groups, index, 3)
    assert ctx.tolist() == [[-1, -1, 0], [-1, 0, 1], [1, -1, 2], [-1, -1, 3], [-1, 3, 4]]


def test_training_learns_from_the_statistics_and_masks_missing_labels(trained) -> None:  # type: ignore[no-untyped-def]
    net, _ = trained
    test, _ = _toy(seed=1)
    z = context_logits(net, test)
    assert (z["transport"].argmax(1) == test.labels["transport"]).mean() > 0.95
    # without the magnetometer (switched off), the accelerometer alone still tells them apart
    z = context_logits(net, test, keep=["accel"])
    assert (z["transport"].argmax(1) == test.labels["transport"]).mean() > 0.95
    assert sum(p.numel() for p in net.parameters()) < 250_000


def test_a_task_without_labels_is_not_trained() -> None:
    ws, people = _toy()
    ws.labels["activity"] = np.full(len(ws), -1, np.int64)
    net = create_model("context_small", modalities=MODS, tasks=TASKS, dim=8, heads=1,
                       context=2)
    head = net.heads["activity"].weight.detach().clone()
    fit_context(net, ws, ContextOptions(steps=3, batch_size=8, views=False), strata=people)
    assert torch.equal(net.heads["activity"].weight, head)


def test_onnx_graphs_agree_with_pytorch_window_by_window(trained, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sensekit.fusion.export import export_context_onnx
    from sensekit.fusion.runtime import OnnxFusion
    from sensekit.fusion.temperature import fit_calibration

    net, _ = trained
    test, _ = _toy(n_rec=2, seed=3)
    z = context_logits(net, test, post=False)
    net.set_calibration(fit_calibration("per_predicted_class", z, test.labels))
    rt = OnnxFusion(export_context_onnx(net, tmp_path, "toy"))
    assert rt.context == 4 and set(rt.modalities) == {"accel", "mag", "gps_speed"}
    ref = {t: torch.softmax(torch.from_numpy(v), -1).numpy()
           for t, v in context_logits(net, test).items()}
    seq = rt.predict_sequence({m: test.inputs[m] for m in ("accel", "mag")}, test.index,
                              test.groups, {"mag": test.present["mag"]})
    for t in TASKS:
        np.testing.assert_allclose(seq[t], ref[t], atol=1e-5)
    # window by window as the controller runs it: the same, and a second recording (a start
    # time that goes back) forgets the first one's windows
    step = int(5e9)
    for i in range(len(test)):
        x = {m: test.inputs[m][i:i + 1] for m in ("accel", "mag")}
        got = rt.predict_at(x, int(test.index[i]) * step, {"mag": test.present["mag"][i:i + 1]})
        np.testing.assert_allclose(got["transport"][0], ref["transport"][i], atol=1e-5)


def test_the_speed_rule_removes_still_and_walking_only() -> None:
    classes = {t: list(c) for t, c in TASKS.items()}
    logits = {t: np.zeros((3, 5), np.float32) for t in classes}
    speed = np.log1p(np.array([[8.0, 8.0, 8.0], [2.0, 2.0, 2.0], [8.0, 8.0, 8.0]],
                              np.float32))[..., None]
    out = apply_rules([SPEED_GATE], logits, classes, {"gps_speed": speed},
                      {"gps_speed": np.array([True, True, False])})
    t = classes["transport"]
    assert (out["transport"][0, [t.index("still"), t.index("walking")]] == REMOVED).all()
    assert (out["transport"][0, [t.index("car"), t.index("bus"), t.index("train")]] == 0).all()
    a = classes["activity"]
    assert out["activity"][0, a.index("cycling")] == 0  # a cyclist may ride faster
    assert (out["transport"][1:] == 0).all()  # slower than 5 m/s, or no recent fix
    assert math.isclose(SPEED_GATE.threshold, math.log1p(5.0))
    # the sensor off: no rule
    assert (apply_rules([SPEED_GATE], logits, classes, {})["transport"] == 0).all()


def test_runtime_applies_the_rule_from_the_gps_speed_input(trained, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sensekit.fusion.export import export_context_onnx
    from sensekit.fusion.runtime import OnnxFusion

    net, _ = trained
    rt = OnnxFusion(export_context_onnx(net, tmp_path, "toy"))
    x = {"accel": np.zeros((1, 14, 1), np.float32)}
    fast = {**x, "gps_speed": np.log1p(np.full((1, 3, 1), 9.0, np.float32))}
    p = rt.predict(fast)["transport"][0]
    assert p[0] == p[1] == 0.0 and abs(p.sum() - 1) < 1e-6
    assert rt.predict(x)["transport"][0][:2].sum() > 0


def test_calibration_keeps_the_top_class_and_fits_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    true = rng.normal(0, 1, (4000, 5))
    y = np.array([rng.choice(5, p=np.exp(r) / np.exp(r).sum()) for r in true])
    assert fit_scalar(true * 3.0, y) == pytest.approx(3.0, rel=0.1)
    z = {"transport": (true * 3.0).astype(np.float32)}
    cal = fit_calibration("per_predicted_class", z, {"transport": y})
    out = apply_calibration(cal, z)["transport"]
    np.testing.assert_array_equal(out.argmax(1), z["transport"].argmax(1))
    assert apply_calibration({"method": "none"}, z)["transport"] is not None


def test_by_person_scores() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 3, 2])
    # class 3 (a prediction outside the listed classes) counts as an error
    assert macro_f1_over(y, pred, [0, 1, 2]) == pytest.approx((2 / 3 + 0.8 + 2 / 3) / 3)
    assert balanced_accuracy(y, pred) == pytest.approx(2 / 3)
    people = np.array(["a", "a", "b", "b", "c", "c"])
    lo, hi = bootstrap_people(y, pred, people, lambda a, b: float((a == b).mean()), n=200)
    assert 0 <= lo <= 4 / 6 <= hi <= 1
    assert nested_folds(["a", "b", "c"], "b") == [("b", "a"), ("b", "c")]
