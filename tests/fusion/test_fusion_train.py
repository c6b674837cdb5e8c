"""Training across configurations, reproducibility, early stopping, checkpoints, calibration."""

from __future__ import annotations

import numpy as np
import torch

import sensekit.fusion as fusion
from sensekit.fusion.calibrate import calibration_report, fit_temperature
from sensekit.fusion.inputs import Configuration, configurations
from sensekit.fusion.train import TrainOptions, evaluate, fit


def test_one_set_of_weights_serves_every_configuration(trained, held_out):
    scores = {c.name(): evaluate(trained, held_out, c) for c in configurations(
        held_out.modalities)}
    # Activity is visible to IMU (clearly) and audio (weakly), place to camera and light.
    for name, s in scores.items():
        if "imu" in name:
            assert s["activity"]["accuracy"] >= 0.9, name
        elif "audio" in name:
            assert s["activity"]["accuracy"] >= 0.5, name  # chance is 1/3
        if "camera" in name or "light" in name:
            assert s["place"]["accuracy"] >= 0.85, name
    # Without a sensor that sees the place, the place head is near chance, not confident.
    blind = scores[Configuration({"imu": 25.0}).name()]["place"]["accuracy"]
    assert blind < 0.75


def test_same_seed_same_weights(windows):
    def train(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)  # the initial weights, as `sensekit train --seed` does
        net = fusion.create_model("fusion_tiny", modalities=windows.modalities,
                                  tasks=windows.classes)
        fit(net, windows.subset(np.arange(64)), None,
            TrainOptions(epochs=2, batch_size=16, seed=seed, progress=False))
        return net.state_dict()

    a, b, c = train(3), train(3), train(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_early_stopping_keeps_best_epoch_and_checkpoint(windows, held_out, tmp_path):
    net = fusion.create_model("fusion_tiny", modalities=windows.modalities, tasks=windows.classes)
    ckpt = tmp_path / "best.pt"
    # Next to no learning: the score only drifts (batch-norm statistics), so training stops
    # two epochs after the best one, long before epoch 20.
    torch.manual_seed(0)
    res = fit(net, windows.subset(np.arange(32)), held_out,
              TrainOptions(epochs=20, lr=1e-12, patience=2, seed=0, progress=False,
                           checkpoint=ckpt))
    assert len(res.history) == res.best_epoch + 3 < 20
    assert res.best_score == max(res.history)
    saved = torch.load(ckpt, weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in net.state_dict().items())


def test_temperature_scaling_calibrates_an_overconfident_net(trained, held_out):
    configs = configurations(held_out.modalities, every_rate=False)
    with torch.no_grad():
        for head in trained.heads.values():
            head.weight.mul_(8.0)
            head.bias.mul_(8.0)
    try:
        before = calibration_report(trained, held_out, configs)
        temps = fit_temperature(trained, held_out, configs)
        after = calibration_report(trained, held_out, configs)
    finally:
        with torch.no_grad():
            for head in trained.heads.values():
                head.weight.div_(8.0)
                head.bias.div_(8.0)
            trained.temperature.fill_(1.0)
            corrections = trained.subset_temperature.clone()
            trained.subset_temperature.fill_(1.0)
    assert all(t > 1.5 for t in temps.values())
    # Subsets that see the place (camera, light) are corrected differently from blind ones.
    assert corrections.std() > 0.01
    mean_before = np.mean([v["place"] for v in before.values()])
    mean_after = np.mean([v["place"] for v in after.values()])
    assert mean_after < mean_before
    assert set(after) == {c.name() for c in configs}


def test_leave_one_out_drops_exactly_one_sensor_of_those_on():
    from sensekit.fusion.train import _drop_modalities

    gen = torch.Generator().manual_seed(0)
    on = torch.ones(2000, dtype=torch.bool)
    present = {m: on.clone() for m in ("a", "b", "c", "d")}
    present["d"][:1000] = False  # a sensor that delivered nothing in half the windows
    before = torch.stack(list(present.values()), 1).sum(1)
    _drop_modalities(present, 1.0, gen, leave_one_out=1.0)
    after = torch.stack(list(present.values()), 1).sum(1)
    assert torch.equal(after, before - 1)
    assert not present["d"][:1000].any()  # nothing that was off comes on
    mixed = {m: on.clone() for m in ("a", "b", "c", "d")}
    _drop_modalities(mixed, 1.0, gen, leave_one_out=0.5)
    sizes = torch.stack(list(mixed.values()), 1).sum(1)
    assert 0.45 < (sizes == 3).float().mean() < 0.7  # half, plus the uniform draws of 3
    assert (sizes >= 1).all()


def test_distillation_trains_and_stays_reproducible(windows):
    def train() -> dict[str, torch.Tensor]:
        torch.manual_seed(1)
        net = fusion.create_model("fusion_tiny", modalities=windows.modalities,
                                  tasks=windows.classes)
        fit(net, windows.subset(np.arange(64)), None,
            TrainOptions(epochs=2, batch_size=16, seed=1, progress=False, distill=1.0,
                         leave_one_out=0.3))
        return net.state_dict()

    a, b = train(), train()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.isfinite(v.float()).all() for v in a.values())
