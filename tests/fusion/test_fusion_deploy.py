"""Weights with metadata, ONNX export, ONNX Runtime and int8 agree with the float model."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

import sensekit.fusion as fusion
from sensekit.errors import ConfigError
from sensekit.fusion.export import export_onnx, quantize_int8
from sensekit.fusion.inputs import ModalityInput, configurations
from sensekit.fusion.metrics import softmax
from sensekit.fusion.runtime import OnnxFusion
from sensekit.fusion.train import batch_tensors
from sensekit.fusion.weights import load_model, read_metadata, save_model


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    manifest = export_onnx(trained, tmp_path_factory.mktemp("onnx"), "tiny")
    return quantize_int8(manifest)


def _both(net, ws, cfg, idx):
    inputs, _ = batch_tensors(ws, idx, cfg.rates)
    with torch.no_grad():
        ref = {t: z.numpy() for t, z in net(inputs).items()}
    return ref, {m: x.numpy() for m, x in inputs.items()}


def test_onnx_runtime_matches_pytorch_in_every_configuration(trained, held_out, exported):
    ort_net = OnnxFusion(exported)
    idx = np.arange(32)
    for cfg in configurations(held_out.modalities):
        ref, inputs = _both(trained, held_out, cfg, idx)
        got = ort_net.logits(inputs)
        for t in ref:
            np.testing.assert_allclose(got[t], ref[t], atol=1e-4, err_msg=cfg.name())


def test_int8_agrees_with_float_within_stated_tolerance(trained, held_out, exported):
    # Stated tolerance (fusion/README.md): class probabilities within 0.1, and the same
    # top class on at least 95% of windows.
    q = OnnxFusion(exported, int8=True)
    cfg = fusion.default_configuration(held_out.modalities)
    ref, inputs = _both(trained, held_out, cfg, np.arange(len(held_out)))
    got = q.predict(inputs)
    for t in ref:
        p = softmax(ref[t])
        assert np.abs(got[t] - p).max() < 0.1
        assert (got[t].argmax(1) == p.argmax(1)).mean() >= 0.95


def test_inference_path_imports_no_torch(exported):
    code = ("import sys, numpy as np; from sensekit.fusion.runtime import OnnxFusion; "
            f"n = OnnxFusion({str(exported)!r}); "
            "p = n.predict({'light': np.zeros((1, 1, 2), np.float32)}); "
            "assert abs(p['place'].sum() - 1) < 1e-6; "
            "bad = [m for m in sys.modules if m.split('.')[0] == 'torch' "
            "or m.startswith('sensekit.fusion.train')]; print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_runtime_refuses_unknown_modality_and_missing_int8(exported, tmp_path):
    net = OnnxFusion(exported)
    with pytest.raises(ConfigError, match="non-empty subset"):
        net.predict({"gps": np.zeros((1, 4, 2), np.float32)})
    with pytest.raises(ConfigError, match="no ONNX manifest"):
        OnnxFusion(tmp_path / "nothing.onnx.json")


def test_weights_round_trip_with_metadata(trained, held_out, tmp_path):
    path = save_model(trained, tmp_path / "tiny", data_hash=held_out.data_hash(),
                      training={"recipe": "test"})
    meta = read_metadata(path)
    assert meta["tasks"] == held_out.classes
    assert meta["modalities"]["imu"]["rates_hz"] == [50.0, 25.0]
    assert meta["window_s"] == 2.0
    assert "imu@25+light@1" in meta["configurations"]
    assert len(meta["normalisation"]["encoders.imu.norm.mean"]) == 6
    assert meta["data_hash"] == held_out.data_hash()
    again = load_model(tmp_path / "tiny", modalities=held_out.modalities)
    cfg = fusion.default_configuration(held_out.modalities)
    a, _ = _both(trained, held_out, cfg, np.arange(8))
    b, _ = _both(again, held_out, cfg, np.arange(8))
    np.testing.assert_array_equal(a["activity"], b["activity"])


def test_loading_refuses_mismatched_inputs_and_changed_files(trained, held_out, tmp_path):
    save_model(trained, tmp_path / "tiny")
    other = dict(held_out.modalities)
    other["imu"] = ModalityInput("series", 6, (100.0,), 2.0)
    with pytest.raises(ConfigError, match=r"modality 'imu' was trained as .*50.0"):
        load_model(tmp_path / "tiny", modalities=other)
    with pytest.raises(ConfigError, match="trained on modalities"):
        load_model(tmp_path / "tiny", modalities={"imu": held_out.modalities["imu"]})
    with pytest.raises(ConfigError, match="task 'place' has classes"):
        load_model(tmp_path / "tiny", tasks={"place": ["in", "out"]})
    (tmp_path / "tiny.pt").write_bytes((tmp_path / "tiny.pt").read_bytes()[:-8])
    with pytest.raises(ConfigError, match="SHA-256"):
        load_model(tmp_path / "tiny")


def test_weights_file_with_code_in_it_is_not_executed(trained, tmp_path):
    meta_path = save_model(trained, tmp_path / "tiny")
    # A pickle that would call a function on load; metadata updated to match it, so only
    # weights_only loading stands in the way.
    torch.save({"x": subprocess.Popen}, tmp_path / "tiny.pt")
    meta = json.loads(meta_path.read_text())
    meta["weights_sha256"] = hashlib.sha256((tmp_path / "tiny.pt").read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(pickle.UnpicklingError, match=r"[Ww]eights only"):
        load_model(tmp_path / "tiny")


def test_fastest_runtime_is_one_of_the_two_and_agrees(exported, held_out):
    x = {"imu": held_out.inputs["imu"][:1], "light": held_out.inputs["light"][:1]}
    net = OnnxFusion.fastest(exported, x, repeat=5)
    ref = OnnxFusion(exported).predict(x)
    assert net.int8 in (False, True)
    got = net.predict(x)
    assert all(np.abs(got[t] - ref[t]).max() < 0.1 for t in ref)


def test_per_subset_temperatures_survive_export(trained, held_out, tmp_path):
    net = copy.deepcopy(trained)
    with torch.no_grad():
        net.subset_temperature.copy_(torch.rand(net.subset_temperature.shape) * 3 + 0.2)
    rt = OnnxFusion(export_onnx(net, tmp_path, "t"))
    for rates in ({"imu": 50.0}, {"camera": 16.0, "light": 1.0}):
        inputs, _ = batch_tensors(held_out, np.arange(6), rates)
        with torch.no_grad():
            ref = net(inputs)
        got = rt.logits({m: x.numpy() for m, x in inputs.items()})
        for t in ref:
            np.testing.assert_allclose(got[t], ref[t].numpy(), atol=1e-4)


def test_spectrum_option_serves_every_rate_and_exports(windows, tmp_path):
    torch.manual_seed(0)
    net = fusion.create_model("fusion_tiny", modalities=windows.modalities,
                              tasks=windows.classes, spectrum=True).eval()
    assert net.encoders["imu"].use_spectrum and not net.encoders["audio"].use_spectrum
    rt = OnnxFusion(export_onnx(net, tmp_path, "spec"))
    for rate in (50.0, 25.0):
        inputs, _ = batch_tensors(windows, np.arange(3), {"imu": rate})
        with torch.no_grad():
            ref = net(inputs)["activity"].numpy()
        got = rt.logits({"imu": inputs["imu"].numpy()})["activity"]
        np.testing.assert_allclose(got, ref, atol=1e-4)


def test_the_spectrum_can_keep_only_the_gait_band_and_settings_are_recorded(windows, tmp_path):
    torch.manual_seed(0)
    net = fusion.create_model("fusion_tiny", modalities=windows.modalities,
                              tasks=windows.classes, spectrum=["imu"], spectrum_hz=5.0).eval()
    imu = net.encoders["imu"]
    assert imu.dft_cos.shape == (50, 11)  # 0 to 5 Hz, 0.5 Hz apart, on the 25 Hz grid
    # the full settings are kept, so a builder's later defaults do not change what loads
    assert net.build_info["kwargs"]["spectrum"] == ["imu"]
    assert net.build_info["kwargs"]["spectrum_hz"] == 5.0 and "dim" in net.build_info["kwargs"]
    small = fusion.create_model("fusion_small", modalities=windows.modalities,
                                tasks=windows.classes)
    assert small.encoders["imu"].use_spectrum and small.encoders["imu"].dft_cos.shape[1] == 11
    path = save_model(net, tmp_path / "band", data_hash="x")
    back = load_model(path)
    inputs, _ = batch_tensors(windows, np.arange(3), {"imu": 100.0})
    with torch.no_grad():
        np.testing.assert_allclose(back(inputs)["activity"].numpy(),
                                   net(inputs)["activity"].numpy(), atol=1e-6)
    meta = json.loads(path.read_text())
    meta["kwargs"]["spectrum_hz"] = 12.5  # as if saved by a build with other settings
    path.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="do not fit fusion_tiny"):
        load_model(path)
