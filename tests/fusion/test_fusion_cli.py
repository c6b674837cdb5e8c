"""``sensekit train`` and ``sensekit evaluate`` on simulated, labelled recordings."""

from __future__ import annotations

import json

import pytest

from sensekit.cli import main


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    scenario = pytest.importorskip("sensekit.testing.scenario")
    folder = tmp_path_factory.mktemp("sim")
    paths = {}
    for name, seed, duration in [("a", 1, 40.0), ("b", 2, 40.0), ("c", 3, 40.0),
                                 ("held", 9, 50.0)]:
        paths[name] = folder / f"{name}.mcap"
        scenario.simulate(paths[name], scenario.SimConfig(duration_s=duration, seed=seed))
    return paths


def test_train_then_evaluate_on_held_out_recording(recordings, tmp_path, capsys):
    out = tmp_path / "har"
    rc = main(["train", str(recordings["a"]), str(recordings["b"]), "--val",
               str(recordings["c"]), "--out", str(out), "--model", "fusion_tiny",
               "--epochs", "2", "--quiet", "--checkpoint", str(tmp_path / "ckpt.pt")])
    assert rc == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["tasks"]["activity"] == ["still", "walking", "running", "cycling", "vehicle"]
    assert "scenario_seed=1" in meta["training"]["recordings"][0]
    assert (tmp_path / "ckpt.pt").is_file()
    capsys.readouterr()
    assert main(["evaluate", str(out), str(recordings["held"]), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(scores["tasks"]) == {"activity", "indoor_outdoor", "locomotion"}
    act = scores["tasks"]["activity"]
    assert act["windows"] == 25 and 0.0 <= act["macro_f1"] <= 1.0
    (rec,) = act["recordings"]
    assert rec["path"] == str(recordings["held"]) and rec["windows"] == 25
    assert set(rec["shares"]) == set(meta["tasks"]["activity"])
    assert abs(sum(rec["shares"].values()) - 1.0) < 1e-3
    assert rec["truth"] in meta["tasks"]["activity"]
    # the per-configuration sweep, as a table
    assert main(["evaluate", str(out), str(recordings["held"]), "--configurations"]) == 0
    text = capsys.readouterr().out
    assert "activity: macro-F1" in text
    lines = [ln for ln in text.splitlines() if ln.startswith(("accel@", "gyro@", "audio@"))]
    assert any(ln.startswith("accel@100 ") for ln in lines)


def test_evaluate_refuses_training_recordings(recordings, tmp_path, capsys):
    out = tmp_path / "har"
    main(["train", str(recordings["a"]), "--val", str(recordings["c"]), "--out", str(out),
          "--model", "fusion_tiny", "--epochs", "1", "--quiet", "--no-augment"])
    capsys.readouterr()
    assert main(["evaluate", str(out), str(recordings["c"])]) == 2
    assert "was used to train or validate" in capsys.readouterr().err
