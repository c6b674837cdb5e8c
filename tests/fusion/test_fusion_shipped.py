"""The shipped simulator-trained rig network ``sim_har`` (``default`` is the network trained
on real recordings now: test_fusion_real_default.py): metadata, both runtimes, and sim-to-real
on real phones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sensekit.errors import ConfigError
from sensekit.fusion.inputs import sensor_modalities
from sensekit.fusion.recordings import accel_csv_windows
from sensekit.fusion.runtime import OnnxFusion
from sensekit.fusion.tasks import classes_of
from sensekit.fusion.weights import load_model, read_metadata

TASKS = classes_of(["activity", "indoor_outdoor", "locomotion"])


def test_shipped_metadata_describes_inputs_and_training():
    meta = read_metadata("sim_har")
    assert meta["name"] == "fusion_small"
    assert meta["tasks"] == TASKS
    assert meta["format"] == "sensekit.fusion.weights/2"
    light = meta["modalities"]["light"]["sources"][0]
    assert (light["stream"], light["hold_s"]) == ("light", 120.0)
    assert meta["modalities"]["accel"]["rates_hz"] == [100.0, 50.0, 25.0]
    assert meta["window_s"] == 2.0
    assert meta["parameters"] < 250_000
    assert len(meta["data_hash"]) == 64
    assert meta["training"]["recipe"] == "fusion/sim_recipe.py"
    assert "accel@25" in meta["configurations"]
    assert set(meta["normalisation"]) >= {"encoders.audio.norm.mean", "encoders.gps.norm.std"}


def test_shipped_weights_refuse_another_window_length():
    with pytest.raises(ConfigError, match="modality 'accel' was trained as"):
        load_model("sim_har", modalities=sensor_modalities(window_s=1.0))


def test_shipped_onnx_agrees_with_shipped_weights():
    net = load_model("sim_har", modalities=sensor_modalities())
    rt = OnnxFusion.shipped("sim_har")
    rng = np.random.default_rng(0)
    x = {"accel": rng.normal(0, 3, (4, 3, 100)).astype(np.float32),
         "light": np.full((4, 1, 2), 3.0, np.float32)}
    x["accel"][:, 2] += 9.81
    with torch.no_grad():
        ref = net({k: torch.from_numpy(v) for k, v in x.items()})
    got = rt.logits(x)
    for t in TASKS:
        np.testing.assert_allclose(got[t], ref[t].numpy(), atol=1e-4)


def test_trained_on_simulation_recognises_real_walking(corpus):
    # Real phone recordings (Oxford step counter, six placements), never used in training,
    # run through the ONNX Runtime path with the accelerometer as the only sensor.
    rt = OnnxFusion.shipped("sim_har")
    mods = sensor_modalities()
    walking = TASKS["activity"].index("walking")
    files = sorted((corpus / "phone").glob("*.csv"))
    assert len(files) == 6
    shares = {}
    for csv in files:
        ws = accel_csv_windows(csv, mods)
        probs = rt.predict({"accel": ws.inputs["accel"]})["activity"]
        shares[csv.stem.split("_")[1]] = float((probs.argmax(1) == walking).mean())
    assert min(shares.values()) >= 0.8, shares


def test_predict_window_from_the_aligner_and_refuse_untrained_rate(tmp_path):
    scenario = pytest.importorskip("sensekit.testing.scenario")
    from sensekit.align import StreamSpec, align
    from sensekit.log.reader import open as open_log

    path = tmp_path / "walk.mcap"
    scenario.simulate(path, scenario.SimConfig(duration_s=20.0, seed=11))
    with open_log(path) as reader:
        streams = {s: reader.read(s) for s in ("imu", "light", "gps")}
    start = min(int(p.t_ns[0]) for p in streams.values())
    specs = {"imu": StreamSpec(100.0), "light": StreamSpec(1.0), "gps": StreamSpec(1.0)}
    wins = align(streams, specs, 2.0, origin_ns=start)
    rt = OnnxFusion.shipped("sim_har")
    probs = rt.predict_window(wins[3])
    assert set(probs) == set(TASKS)
    assert probs["activity"].shape == (5,) and abs(probs["activity"].sum() - 1) < 1e-6
    # A 200 Hz IMU window is not a rate the network was trained for.
    fast = align({"imu": streams["imu"]}, {"imu": StreamSpec(200.0)}, 2.0, origin_ns=start)
    x = np.ascontiguousarray(np.asarray(fast[3].data["imu"]["accel_mps2"], np.float32).T[None])
    with pytest.raises(ConfigError, match=r"accel input has 400 samples per window"):
        rt.predict({"accel": x})
