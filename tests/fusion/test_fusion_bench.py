"""``sensekit bench fusion`` measures what it says (no wall-clock assertions)."""

from __future__ import annotations

import numpy as np

from sensekit.bench import fusion as bench
from sensekit.fusion.inputs import sensor_modalities


def test_baseline_input_stacks_every_modality_at_the_imu_rate():
    mods = sensor_modalities()
    x = {m: np.ones((s.channels, int(s.native), int(s.native)) if s.kind == "image"
                    else (s.channels, s.steps()), np.float32) * i
         for i, (m, s) in enumerate(mods.items())}
    stacked = bench._stacked(x, mods, 200)
    assert stacked.shape == (1, 3 + 3 + 32 + 3 + 4 + 1, 200)
    assert stacked[0, 0].max() == 0 and stacked[0, -1].min() == 5  # light held over the window


def test_latency_cases_compare_with_deepconvlstm():
    cases = {c.name: c for c in bench._latency_cases(quick=True)}
    params = cases["parameters"]
    assert params.value < 250_000 and params.baseline is not None
    assert params.ratio is not None and params.ratio > 1
    for name in ("latency eager PyTorch", "latency ONNX Runtime float"):
        assert cases[name].value > 0 and cases[name].baseline is not None
    assert cases["int8 top-class agreement"].value >= 0.9
