"""The network: every registered model, every configuration, masking and skipped encoders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fusion_helpers import TASKS, small_modalities

import sensekit.fusion as fusion
from sensekit.errors import ConfigError
from sensekit.fusion.inputs import Configuration, configurations, sensor_modalities
from sensekit.fusion.train import batch_tensors


@pytest.mark.parametrize("name", fusion.list_models())
def test_every_registered_model_serves_every_configuration(name, windows):
    mods = small_modalities()
    net = fusion.create_model(name, modalities=mods, tasks=TASKS).eval()
    idx = np.arange(3)
    configs = configurations(mods)
    assert len(configs) == 15 + 8 + 8 + 4  # 15 subsets; imu and camera double the rates
    with torch.no_grad():
        for cfg in configs:
            inputs, present = batch_tensors(windows, idx, cfg.rates)
            out = net(inputs, present)
            assert set(out) == set(TASKS)
            assert out["activity"].shape == (3, 3) and out["place"].shape == (3, 2)
            assert torch.isfinite(out["activity"]).all(), cfg.name()


def test_sensor_network_is_under_250k_parameters():
    net = fusion.create_model("fusion_small", modalities=sensor_modalities(), tasks={
        "activity": ["still", "walking", "running", "cycling", "vehicle"],
        "indoor_outdoor": ["indoor", "outdoor"], "transport": ["none", "bicycle", "car"]})
    n = sum(p.numel() for p in net.parameters())
    assert 20_000 < n < 250_000


def test_all_masked_window_is_finite_and_equals_prior(windows):
    net = fusion.create_model("fusion_tiny", modalities=small_modalities(), tasks=TASKS).eval()
    inputs, _ = batch_tensors(windows, np.arange(4), {"imu": 50.0, "light": 1.0})
    off = {m: torch.zeros(4, dtype=torch.bool) for m in inputs}
    with torch.no_grad():
        masked = net(inputs, off)["activity"]
        other = {m: x * 100 + 5 for m, x in inputs.items()}
        masked_other = net(other, off)["activity"]
    assert torch.isfinite(masked).all()
    # With every sensor masked, what the sensors held cannot change the answer.
    assert torch.allclose(masked, masked_other, atol=1e-6)
    assert torch.allclose(masked[0], masked[3], atol=1e-6)


def test_absent_encoders_are_not_run(windows):
    net = fusion.create_model("fusion_tiny", modalities=small_modalities(), tasks=TASKS).eval()
    ran: list[str] = []
    for m, enc in net.encoders.items():
        enc.register_forward_hook(lambda *_, m=m: ran.append(m))
    inputs, _ = batch_tensors(windows, np.arange(2), {"imu": 25.0, "camera": 8.0})
    with torch.no_grad():
        net(inputs)
    assert sorted(ran) == ["camera", "imu"]


def test_masked_sample_equals_sample_with_modality_left_out(windows):
    net = fusion.create_model("fusion_tiny", modalities=small_modalities(), tasks=TASKS).eval()
    both, _ = batch_tensors(windows, np.arange(2), {"imu": 50.0, "light": 1.0})
    with torch.no_grad():
        masked = net(both, {"light": torch.tensor([False, False])})["place"]
        left_out = net({"imu": both["imu"]})["place"]
    assert torch.allclose(masked, left_out, atol=1e-6)


def test_unknown_model_and_modality_are_refused():
    with pytest.raises(ConfigError, match=r"registered: .*fusion_small"):
        fusion.create_model("resnet", modalities=small_modalities(), tasks=TASKS)
    net = fusion.create_model("fusion_tiny", modalities=small_modalities(), tasks=TASKS)
    with pytest.raises(ConfigError, match="not modalities of this network"):
        net({"gps": torch.zeros(1, 4, 2)})
    with pytest.raises(ConfigError, match="trained for"):
        Configuration({"imu": 200.0}).check(small_modalities())


def test_heads_share_one_trunk_and_work_alone(windows):
    net = fusion.create_model("fusion_tiny", modalities=small_modalities(), tasks=TASKS).eval()
    inputs, _ = batch_tensors(windows, np.arange(2), {"imu": 50.0})
    with torch.no_grad():
        trunk = net.forward_features(inputs)
        alone = net.forward_head(trunk, "place")
        both = net(inputs)
    assert list(alone) == ["place"]
    assert torch.allclose(alone["place"], both["place"])


def test_a_configuration_reads_back_from_its_name():
    config = Configuration({"accel": 50.0, "camera": 32.0, "gps": 1.0})
    assert config.name() == "accel@50+camera@32+gps@1"
    assert Configuration.parse(config.name()) == config
    for bad in ("accel", "accel@fast", "@50", "accel@50+"):
        with pytest.raises(ConfigError, match="write MODALITY@RATE"):
            Configuration.parse(bad)
