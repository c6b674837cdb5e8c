"""The shipped weights give the outputs they gave before the open sensor set.

``data/shipped_reference.json`` holds what the shipped ``sim_har`` network returned at commit
a5c8044 (before modalities were declared once and encoders, features and tasks registered by
name), computed by :func:`outputs` below: logits in PyTorch and ONNX Runtime (float and int8)
for a fixed input, and calibrated probabilities of ten aligned windows of a simulated
recording (seed 11), from window to probabilities through the feature path. Any refactor of
the network, its encoders, the weights metadata or the features must reproduce them. The
reference names the locomotion head ``transport``, as the first weights format did
(``fusion/migrate_weights.py`` renamed it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from sensekit.fusion.inputs import sensor_modalities
from sensekit.fusion.runtime import OnnxFusion
from sensekit.fusion.weights import load_model

REFERENCE = Path(__file__).parent / "data" / "shipped_reference.json"
RENAMED = {"transport": "locomotion"}


def reference(key: str) -> Any:
    value = json.loads(REFERENCE.read_text())[key]
    if isinstance(value, dict):
        return {RENAMED.get(t, t): v for t, v in value.items()}
    return [{RENAMED.get(t, t): v for t, v in w.items()} for w in value]


def fixed_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240)
    x = {"accel": rng.normal(0, 3, (4, 3, 200)), "gyro": rng.normal(0, 1, (4, 3, 200)),
         "audio": rng.normal(-60, 15, (4, 32, 100)), "camera": rng.uniform(0, 1, (4, 3, 32, 32)),
         "gps": np.abs(rng.normal(2, 2, (4, 4, 2))), "light": rng.uniform(0, 4, (4, 1, 2))}
    x["accel"][:, 2] += 9.81
    return {k: v.astype(np.float32) for k, v in x.items()}


def _torch(net: Any, x: dict[str, np.ndarray]) -> dict[str, list[Any]]:
    with torch.no_grad():
        out = net({k: torch.from_numpy(v) for k, v in x.items()})
    return {t: v.numpy().tolist() for t, v in out.items()}


def _windows(tmp: Path) -> list[Any]:
    from sensekit.align import StreamSpec, align
    from sensekit.log.reader import open as open_log
    from sensekit.testing import scenario

    path = tmp / "walk.mcap"
    scenario.simulate(path, scenario.SimConfig(duration_s=20.0, seed=11))
    with open_log(path) as reader:
        streams = {s: reader.read(s) for s in ("imu", "light", "gps", "audio", "camera")}
        rates = {s: float(reader.devices()[s]["rate_hz"]) for s in streams}
    start = min(int(p.t_ns[0]) for p in streams.values())
    return align(streams, {s: StreamSpec(r) for s, r in rates.items()}, 2.0, origin_ns=start)


def outputs(tmp: Path) -> dict[str, Any]:
    x = fixed_inputs()
    net = load_model("sim_har", modalities=sensor_modalities())
    out: dict[str, Any] = {"torch_all": _torch(net, x),
                           "torch_accel_light": _torch(net, {k: x[k] for k in ("accel", "light")})}
    for int8 in (False, True):
        rt = OnnxFusion.shipped("sim_har", int8=int8)
        out[f"onnx_all_int8={int8}"] = {t: v.tolist() for t, v in rt.logits(x).items()}
        slow = {"accel": x["accel"][:, :, ::4].copy()}
        out[f"onnx_accel25_int8={int8}"] = {t: v.tolist() for t, v in rt.logits(slow).items()}
    rt = OnnxFusion.shipped("sim_har")
    out["windows"] = [{t: p.tolist() for t, p in rt.predict_window(w).items()}
                      for w in _windows(tmp)]
    return out


@pytest.fixture(scope="module")
def now(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return outputs(tmp_path_factory.mktemp("reference"))


@pytest.mark.parametrize("key", ["torch_all", "torch_accel_light", "onnx_all_int8=False",
                                 "onnx_accel25_int8=False", "onnx_all_int8=True",
                                 "onnx_accel25_int8=True"])
def test_logits_on_a_fixed_input_are_unchanged(now: dict[str, Any], key: str) -> None:
    want = reference(key)
    assert set(now[key]) == set(want)
    for task, logits in want.items():
        np.testing.assert_allclose(now[key][task], logits, rtol=1e-5, atol=1e-5)


def test_window_to_probabilities_is_unchanged(now: dict[str, Any]) -> None:
    want = reference("windows")
    assert len(now["windows"]) == len(want) == 10
    for got, ref in zip(now["windows"], want, strict=True):
        assert set(got) == set(ref)
        for task, probs in ref.items():
            np.testing.assert_allclose(got[task], probs, rtol=1e-5, atol=1e-6)


def _first_format(tmp: Path) -> Path:
    """The shipped weights written back in the first format (as they shipped before)."""
    from sensekit.fusion.weights import SHIPPED

    meta = json.loads((SHIPPED / "sim_har.json").read_text())
    back = {v: k for k, v in RENAMED.items()}
    state = torch.load(SHIPPED / "sim_har.pt", weights_only=True)
    state = {k.replace("heads.locomotion.", "heads.transport."): v for k, v in state.items()}
    torch.save(state, tmp / "old.pt")
    meta.update(format="sensekit.fusion.weights/1", weights_file="old.pt",
                weights_sha256=hashlib.sha256((tmp / "old.pt").read_bytes()).hexdigest(),
                tasks={back.get(t, t): c for t, c in meta["tasks"].items()},
                temperature={back.get(t, t): v for t, v in meta["temperature"].items()},
                modalities={m: {k: v for k, v in d.items()
                                if k not in ("sources", "xyz", "encoder")}
                            for m, d in meta["modalities"].items()})
    (tmp / "old.json").write_text(json.dumps(meta))
    return tmp / "old"


def test_the_first_weights_format_still_loads_with_the_same_outputs(tmp_path: Path) -> None:
    from sensekit.fusion.weights import read_metadata

    old = _first_format(tmp_path)
    meta = read_metadata(old)
    assert meta["format"] == "sensekit.fusion.weights/2"
    assert list(meta["tasks"]) == ["activity", "indoor_outdoor", "locomotion"]
    assert meta["modalities"]["accel"]["xyz"] and not meta["modalities"]["light"]["xyz"]
    # the first format held nothing: its light is a point signal
    assert meta["modalities"]["light"]["sources"][0]["hold_s"] is None
    x = fixed_inputs()
    got = _torch(load_model(old), x)
    for task, logits in reference("torch_all").items():
        np.testing.assert_allclose(got[task], logits, rtol=1e-5, atol=1e-5)
