"""Training windows as shards: what is written reads back the same, and training streams them
shuffled across shards with memory for the buffer and one shard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fusion_helpers import synthetic_windows

from sensekit.errors import ConfigError
from sensekit.fusion.data import WindowSet
from sensekit.fusion.inputs import sensor_modalities
from sensekit.fusion.recordings import concat_sets, recording_windows
from sensekit.fusion.shards import WindowShards, read_shard, recording_shards, write_shard


def _equal(a: WindowSet, b: WindowSet) -> None:
    assert len(a) == len(b) and a.classes == b.classes and a.modalities == b.modalities
    for m in a.inputs:
        np.testing.assert_array_equal(a.inputs[m], b.inputs[m])
        np.testing.assert_array_equal(a.present[m], b.present[m])
    for t in a.labels:
        np.testing.assert_array_equal(a.labels[t], b.labels[t])


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sensekit.testing.scenario import SimConfig, simulate

    path = tmp_path_factory.mktemp("sim") / "day.mcap"
    simulate(path, SimConfig(duration_s=12.0, seed=8))
    return path


@pytest.mark.parametrize("fmt", ["npz", "parquet"])
def test_a_recordings_shards_hold_the_windows_training_takes(recording: Path, tmp_path: Path,
                                                             fmt: str) -> None:
    written = recording_shards(recording, tmp_path / "w", fmt=fmt, per_shard=4)
    assert [n for _, n in written] == [4, 2]
    assert all(p.suffix == f".{fmt}" for p, _ in written)
    direct = recording_windows(recording, sensor_modalities(2.0), window_s=2.0)
    _equal(concat_sets([read_shard(p) for p, _ in written]), direct)
    shards = WindowShards([tmp_path / "w"])
    assert shards.fingerprints == ["scenario_duration_s=12.0,scenario_seed=8"]


def _numbered(n: int, seed: int) -> WindowSet:
    ws = synthetic_windows(n, seed)
    ws.inputs["light"][:, 0, 0] = np.arange(n) + 1000 * seed  # tells every window apart
    return ws


@pytest.fixture
def shards(tmp_path: Path) -> list[WindowSet]:
    sets = [_numbered(20, seed) for seed in range(6)]
    for seed, ws in enumerate(sets):
        write_shard(ws, tmp_path / f"s{seed}.npz", source=f"rec{seed // 2}")
    return sets


def test_every_window_once_per_epoch_shuffled_across_shards(tmp_path: Path,
                                                             shards: list[WindowSet]) -> None:
    data = WindowShards([tmp_path], buffer=16, seed=3)
    assert len(data) == 120
    epochs = []
    for epoch in range(2):
        batches = list(data.batches(8, epoch=epoch))
        assert len(batches) == 15 and all(len(b) == 8 for b in batches)
        ids = np.concatenate([b.inputs["light"][:, 0, 0] for b in batches])
        assert sorted(ids) == sorted(np.concatenate([s.inputs["light"][:, 0, 0] for s in shards]))
        # Buffer plus one shard in memory, never all six.
        assert data.peak_windows <= 16 + 8 + 20 < len(data)
        epochs.append(ids)
        shards_per_batch = [len(set((b.inputs["light"][:, 0, 0] // 1000).astype(int)))
                            for b in batches]
        assert max(shards_per_batch) >= 2  # windows of different shards share batches
    assert not np.array_equal(epochs[0], epochs[1])
    groups = {int(g) for b in data.batches(8) for g in b.groups}
    assert groups == {0, 1, 2}  # one per source recording
    whole = data.load()
    assert len(whole) == 120 and list(np.unique(whole.groups)) == [0, 1, 2]


def test_statistics_from_the_shards_sums_match_the_whole_set(
        tmp_path: Path, shards: list[WindowSet]) -> None:
    whole = concat_sets(shards)
    whole.present["camera"][:50] = False  # absent windows do not count
    write_shard(whole.subset(np.arange(0, 60)), tmp_path / "s0.npz")
    write_shard(whole.subset(np.arange(60, 120)), tmp_path / "s1.npz")
    for extra in range(2, 6):
        (tmp_path / f"s{extra}.npz").unlink()
    data = WindowShards([tmp_path])
    for m, (mean, std) in whole.stats().items():
        np.testing.assert_allclose(data.stats()[m][0], mean, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(data.stats()[m][1], std, rtol=1e-3, atol=1e-4)


def test_training_reads_shards(tmp_path: Path, held_out: WindowSet) -> None:
    import sensekit.fusion as fusion
    from sensekit.fusion.train import TrainOptions, evaluate, fit

    train = synthetic_windows(160, seed=1)
    for i in range(4):
        write_shard(train.subset(np.arange(i * 40, (i + 1) * 40)), tmp_path / f"p{i}.npz")
    data = WindowShards([tmp_path], buffer=32, seed=0)
    torch.manual_seed(0)
    net = fusion.create_model("fusion_tiny", modalities=data.modalities, tasks=data.classes)
    fit(net, data, None, TrainOptions(epochs=8, batch_size=16, seed=0, progress=False))
    np.testing.assert_allclose(net.encoders["light"].norm.mean.flatten().numpy(),
                               train.stats()["light"][0], rtol=1e-4)
    scores = evaluate(net, held_out)
    assert scores["activity"]["macro_f1"] > 0.8, scores


def test_shards_of_other_modalities_do_not_mix(tmp_path: Path) -> None:
    write_shard(synthetic_windows(8, 0), tmp_path / "a.npz")
    other = synthetic_windows(8, 1)
    other.classes = {"activity": ["a", "b", "c"], "place": ["x", "y"]}
    write_shard(other, tmp_path / "b.npz")
    with pytest.raises(ConfigError, match="differ"):
        WindowShards([tmp_path])
    with pytest.raises(ConfigError, match="no window shard or folder at"):
        WindowShards([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no window shards"):
        WindowShards([tmp_path / "empty"])


def test_windows_command(recording: Path, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    from sensekit.cli import main

    out = tmp_path / "shards"
    assert main(["windows", str(recording), "-o", str(out), "--shard-windows", "5"]) == 0
    assert "6 windows in 2 shards" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "day.windows").iterdir()) == [
        "part-00000.npz", "part-00001.npz"]
    assert main(["windows", str(recording), "-o", str(out)]) == 2
    assert "--force replaces it" in capsys.readouterr().err
    assert main(["windows", str(recording), "-o", str(out), "--force"]) == 0
    assert [p.name for p in (out / "day.windows").iterdir()] == ["part-00000.npz"]
    assert sorted(p.name for p in out.iterdir()) == ["day.windows"]
