"""Real data on the IMU path: UEA BasicMotions (accelerometer and gyroscope as two modalities)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sensekit.fusion as fusion
from sensekit.errors import ConfigError, LogFormatError
from sensekit.fusion.augment import Augment
from sensekit.fusion.data import load_ts, uea_dataset, uea_path
from sensekit.fusion.train import TrainOptions, evaluate, fit

GROUPS = {"accel": [0, 1, 2], "gyro": [3, 4, 5]}


@pytest.fixture(scope="module")
def basic_motions():
    try:
        uea_path("BasicMotions", "train")
    except ConfigError as exc:
        pytest.skip(str(exc))
    return (uea_dataset("BasicMotions", "train", GROUPS, 10.0),
            uea_dataset("BasicMotions", "test", GROUPS, 10.0))


def test_basic_motions_loads_as_two_modalities(basic_motions):
    train, test = basic_motions
    assert len(train) == 40 and len(test) == 40
    assert train.inputs["accel"].shape == (40, 3, 100)
    assert train.classes["class"] == ["Standing", "Running", "Walking", "Badminton"]
    assert np.bincount(test.labels["class"]).tolist() == [10, 10, 10, 10]
    # Standing barely moves; running shakes the accelerometer hardest.
    energy = train.inputs["accel"].std(axis=2).mean(axis=1)
    by_class = [energy[train.labels["class"] == c].mean() for c in range(4)]
    assert by_class[0] < by_class[2] < by_class[1]


def test_fusion_small_reaches_basic_motions_accuracy(basic_motions):
    train, test = basic_motions
    torch.manual_seed(0)
    net = fusion.create_model("fusion_small", modalities=train.modalities, tasks=train.classes)
    fit(net, train, None, TrainOptions(epochs=60, batch_size=8, seed=0, modality_dropout=0.0,
                                       progress=False,
                                       augment=Augment(rotate_deg=10, time_warp=0.05)))
    assert evaluate(net, test)["class"]["accuracy"] >= 0.95


def test_ts_parser_reports_file_and_line(tmp_path):
    path = tmp_path / "bad.ts"
    path.write_text("@problemName X\n@classLabel true a b\n@data\n1,2,3:a\n1,x,3:b\n")
    with pytest.raises(LogFormatError, match=r"bad\.ts:5"):
        load_ts(path)
    path.write_text("@problemName X\n@classLabel true a b\n@data\n1,2,3:4,5,6:a\n1,2:3:b\n")
    series, labels, classes = load_ts(path)
    assert classes == ["a", "b"] and labels == ["a", "b"]
    assert series[0].shape == (2, 3) and series[1].tolist() == [[1, 2], [3, 3]]
