"""The shipped ``default`` network (``real_transport``, trained on the transport-mode recordings
by ``fusion/real_recipe.py``) on real recordings, through the ONNX Runtime path.

The ``phone/`` walks are blind (no recipe step trained or tuned on them); the us_tmd car ride
is one the shipped network was trained on (it learnt from all six people), so that test guards
the path from an imported recording to a prediction, not the by-person figure (the recipe's
leave-one-person-out folds measure that: fusion/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sensekit.fusion.context import context_logits
from sensekit.fusion.recordings import accel_csv_recording, recording_windows
from sensekit.fusion.runtime import OnnxFusion
from sensekit.fusion.shipped import shipped_name
from sensekit.fusion.weights import load_model, read_metadata

pytest.importorskip("onnxruntime")

CAR = "sensorfile_Claudio_Car_1474820020900.csv.gz"  # GPS speed in every minute of the drive
S = 1_000_000_000


@pytest.fixture(scope="module")
def rt() -> OnnxFusion:
    return OnnxFusion.shipped("default")


def _predict(rt: OnnxFusion, ws, keep=None):  # type: ignore[no-untyped-def]
    names = [m for m in rt.modalities if keep is None or m in keep]
    x = {m: ws.inputs[m] for m in names}
    return rt.predict_sequence(x, ws.index, ws.groups, {m: ws.present[m] for m in names})


def test_default_is_the_network_trained_on_real_recordings() -> None:
    meta = read_metadata("default")
    assert shipped_name("default") == "real_transport" and meta["name"] == "context_small"
    assert meta["parameters"] < 250_000
    assert set(meta["tasks"]) == {"transport", "activity"}
    assert meta["training"]["recipe"] == "fusion/real_recipe.py"
    assert "rate" in meta["training"]["input_normalisation"]
    assert meta["kwargs"]["rules"][0]["modality"] == "gps_speed"
    assert read_metadata("sim_har")["name"] == "fusion_small"  # still loadable by name


def test_real_walks_from_any_placement_are_walking(rt: OnnxFusion, corpus) -> None:  # type: ignore[no-untyped-def]
    files = sorted((corpus / "phone").glob("user1_*.csv"))
    assert len(files) == 6
    hits, shares = [], {}
    for g, path in enumerate(files):
        ws = recording_windows(accel_csv_recording(path, {"transport": "walking"}),
                               rt.modalities, window_s=rt.window_s, hop_s=rt.window_s,
                               group=g, tasks=["transport"])
        walking = _predict(rt, ws)["activity"].argmax(1) == rt.tasks["activity"].index("walking")
        hits.append(walking)
        shares[path.name.split("_")[1]] = round(float(walking.mean()), 3)
    assert float(np.concatenate(hits).mean()) >= 0.8, shares
    assert min(shares.values()) >= 0.65, shares


@pytest.fixture(scope="module")
def car(corpus):  # type: ignore[no-untyped-def]
    from sensekit.log.importers.android_events import read_us_tmd

    rec = read_us_tmd(corpus / "us_tmd" / CAR)
    rt = OnnxFusion.shipped("default")
    ws = recording_windows(rec, rt.modalities, window_s=rt.window_s, hop_s=rt.window_s,
                           tasks=["transport", "activity"], origin_ns=0)
    speed = rec.streams["speed"]
    centre = (ws.index * rt.window_s + rt.window_s / 2) * S
    near = np.abs(speed.t_ns[None, :] - centre[:, None])
    fast = (near.min(1) <= 20 * S) & (speed["speed_mps"][near.argmin(1)] > 3.0)
    return ws, fast


def test_a_real_car_ride_faster_than_3_mps_is_a_vehicle(rt: OnnxFusion, car) -> None:  # type: ignore[no-untyped-def]
    ws, fast = car
    assert fast.sum() >= 30
    vehicle = rt.tasks["activity"].index("vehicle")
    for keep in (["accel"], ["accel", "gps_speed"]):
        pred = _predict(rt, ws, keep)["activity"].argmax(1)
        assert (pred[fast] == vehicle).mean() >= 0.8, keep


def test_onnx_runtime_agrees_with_pytorch(rt: OnnxFusion, car) -> None:  # type: ignore[no-untyped-def]
    ws, _ = car
    net = load_model("default")
    ref = {t: torch.softmax(torch.from_numpy(z), -1).numpy()
           for t, z in context_logits(net, ws).items()}
    got = _predict(rt, ws)
    for t in ref:
        np.testing.assert_allclose(got[t], ref[t], atol=1e-4)


def test_evaluate_json_scores_an_imported_us_tmd_recording(corpus, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from sensekit.cli import main

    src = corpus / "us_tmd" / "sensorfile_andreacasalena_Still_1494702992016.csv.gz"
    out = tmp_path / "still.mcap"
    assert main(["import", "--format", "us-tmd", str(src), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "default", str(out), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert set(got["tasks"]) == {"transport", "activity"}
    task = got["tasks"]["transport"]
    (rec,) = task["recordings"]
    assert rec["path"] == str(out) and rec["truth"] == "still"
    assert rec["windows"] == task["windows"] > 50
    assert set(rec["shares"]) == {"still", "walking", "car", "bus", "train"}
    assert abs(sum(rec["shares"].values()) - 1) < 1e-3
    assert task["accuracy"] == pytest.approx(rec["shares"]["still"], abs=1e-3)
    assert got["tasks"]["activity"]["recordings"][0]["truth"] == "still"


def test_bench_reports_the_by_person_figures_of_the_recipes_run() -> None:
    from sensekit.bench import fusion_real

    meta = read_metadata("default")
    scores = meta["training"]["by_person"]
    run = json.loads((Path(__file__).resolve().parents[2] / scores["results"]).read_text())
    cases = {c.name: c for c in fusion_real._by_person(meta)}
    lopo = cases["by-person macro-F1 (still/walking/car/train)"]
    assert lopo.value == run["network"]["LOPO (nested, blind per fold)"]["macro_f1"]
    assert lopo.baseline == run["baselines"]["all sensors"]["lopo"]["macro_f1"]
    dcl = cases["by-person macro-F1 vs DeepConvLSTM"]
    assert dcl.baseline == run["DeepConvLSTM"]["lopo"]["macro_f1"]
    assert cases["andrea's later days macro-F1 (5 classes)"].value == \
        run["network"]["andrea later days (five classes)"]["macro_f1"]
    assert run["shipped"]["parameters"] == meta["parameters"]


def test_the_default_loads_in_a_fresh_process() -> None:
    """``sensekit bench fusion`` loads the default before anything imports the context module."""
    import subprocess
    import sys

    code = "from sensekit.fusion.weights import load_model; print(type(load_model('default')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ContextFusion" in out.stdout


def test_the_runtime_choice_times_the_default_on_a_window_of_its_shape() -> None:
    from sensekit.fusion.shipped import SHIPPED

    net = OnnxFusion.fastest(SHIPPED / f"{shipped_name('default')}.onnx.json", repeat=2,
                             providers=["CPUExecutionProvider"])
    assert "CPU float" in net.timings and net.providers[0] == "CPUExecutionProvider"
    assert set(net.predict(net.sample_inputs())) == {"transport", "activity"}
