"""The last stage of ``fusion/real_recipe.py``: the shipped network, and what only it can show.

Trained on every window of the six transport-mode people (and, where the config says so, the
simulated running and cycling windows), with the design most outer folds chose; calibrated by
the method most outer folds chose, fitted on the outer folds' logits (each person's windows
scored by the model trained without them); saved as ``real_transport`` (weights, metadata, ONNX
graphs). Then scored where nothing it was trained or tuned on can help it: the six ``phone/``
walks (100 Hz, placements and a person no training window has; no longer blind: they decided
against simulated windows in training), at every rate view; and
the demo's simulated day (seed 0, a day of the simulator the recipe did not train on).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import real_data

from sensekit.fusion.context import context_logits
from sensekit.fusion.tasks import classes_of
from sensekit.fusion.temperature import fit_calibration

CLASSES = classes_of(["transport", "activity"])
NAME = "real_transport"


def _outer_logits(corpus: real_data.Corpus, people: list[str], folds_out: dict[str, Any],
                  task: str) -> np.ndarray:
    z = np.zeros((len(corpus.ws), len(CLASSES[task])), np.float32)
    for p in people:
        z[corpus.person == p] = folds_out[f"outer without {p}"]["all"][task]
    return z


def _activity_truth(y_transport: np.ndarray) -> np.ndarray:
    table = {"still": "still", "walking": "walking", "car": "vehicle", "bus": "vehicle",
             "train": "vehicle"}
    act = CLASSES["activity"]
    return np.array([act.index(table[CLASSES["transport"][v]]) if v >= 0 else -1
                     for v in y_transport])


def _walking(net: Any, ws: Any, files: list[str]) -> dict[str, Any]:
    """Walking share of each phone/ walk at every view, both heads."""
    out: dict[str, Any] = {}
    for view in ["", *ws.views]:
        z = context_logits(net, ws, view=view)
        row: dict[str, Any] = {}
        for task in ("transport", "activity"):
            hit = z[task].argmax(1) == CLASSES[task].index("walking")
            per = {files[g]: round(float(hit[ws.groups == g].mean()), 3)
                   for g in np.unique(ws.groups)}
            row[task] = {"pooled": round(float(hit.mean()), 3), "per_recording": per,
                         "lowest": min(per.values())}
        out[view or "as recorded (100 Hz, point-sampled to 20 Hz)"] = row
    return out


def _demo_day(net: Any) -> dict[str, Any]:
    from sensekit.demo import bundled_recording, make_recording
    from sensekit.fusion.by_person import confusion, macro_f1_over
    from sensekit.fusion.recordings import recording_windows

    path = bundled_recording()
    if path is None:
        path = Path(real_data.__file__).parent / ".cache" / "demo.mcap"
        if not path.is_file():
            make_recording(path)
    ws = recording_windows(path, net.inputs, window_s=5.0, hop_s=5.0, tasks=["activity"])
    z = context_logits(net, ws)["activity"]
    y = ws.labels["activity"]
    keep = y >= 0
    pred = z.argmax(1)
    return {"recording": str(path.name), "windows": int(keep.sum()),
            "macro_f1 over the classes the day has": round(macro_f1_over(
                y[keep], pred[keep], sorted(set(y[keep].tolist()))), 3),
            "accuracy": round(float((pred[keep] == y[keep]).mean()), 3),
            "confusion": {"classes": CLASSES["activity"],
                          "rows_truth_cols_predicted": confusion(y[keep], pred[keep], 5)}}


def ship(corpus: real_data.Corpus, cfg: dict[str, Any], people: list[str],
         choice: dict[str, Any], folds_out: dict[str, Any], candidate: str, votes: Counter[str],
         out: Path, state: dict[str, Any], train: Callable[..., Any], four: list[int],
         log: Any) -> dict[str, Any]:
    """Train, calibrate, save and score the shipped network; returns its figures.

    ``train(cfg, candidate, rows, seed)`` trains on rows of ``state["ws"]``; ``four``: the
    transport classes scored by person (calibration is fitted on their windows)."""
    from sensekit.fusion.export import export_context_onnx
    from sensekit.fusion.weights import save_model

    ws, everyone = state["ws"], state["people"]
    rows = np.arange(len(ws))
    log(f"shipped network: {candidate} on every window")
    nets = [train(cfg, candidate, rows, seed) for seed in cfg["seeds"]]
    net = nets[0]
    method_votes = Counter(choice[p]["calibration"] for p in people)
    method = method_votes.most_common(1)[0][0]
    y = corpus.ws.labels["transport"]
    rows4 = np.isin(y, four)
    logits = {"transport": _outer_logits(corpus, people, folds_out, "transport")[rows4],
              "activity": _outer_logits(corpus, people, folds_out, "activity")[rows4]}
    labels = {"transport": y[rows4], "activity": _activity_truth(y[rows4])}
    calibration = fit_calibration(method, logits, labels)
    net.set_calibration(calibration)
    training = {
        "recipe": "fusion/real_recipe.py", "config": "fusion/configs/real_transport.json",
        "design": candidate, "design_votes_of_outer_folds": dict(votes),
        "calibration_votes_of_outer_folds": dict(method_votes),
        "trained_on": "every window of the 62 us_tmd recordings (six people)" + (
            " and the simulated days' running and cycling windows (activity head only)"
            if cfg["training"]["simulated_windows"] else "; no simulated window"),
        "calibrated_on": "the outer leave-one-person-out folds' logits (each person's windows "
                         "from the model trained without them), still/walking/car/train windows",
        "input_normalisation": {
            "units": "SI as the importers write them: m/s^2 with gravity included, rad/s, uT",
            "rate": "vector streams point-sampled to at most 20 Hz (nearest sample to a grid, "
                    "no anti-alias filter, no upsampling); fewer than 4 samples in a window: "
                    "absent",
            "orientation": "features invariant to rotation (norms, projection on the window "
                           "mean, angles between half-window means)",
            "rate_augmentation": {v: str(view.how) for v, view in real_data.views_of(
                cfg).items()}},
        "people": people, "seeds": cfg["seeds"],
        "simulator": cfg["simulator"]}
    meta = save_model(net, out / NAME, data_hash=ws.data_hash(), training=training)
    manifest = export_context_onnx(net, out, NAME)
    log(f"saved {meta} and {manifest}")
    result: dict[str, Any] = {
        "weights": f"{NAME} (sensekit/fusion/weights/{NAME}.json)",
        "design": candidate, "calibration": calibration,
        "parameters": int(sum(p.numel() for p in net.parameters()))}
    result["phone/ walking (not blind)"] = _walking(net, corpus.phone, corpus.phone_files)
    result["demo day activity (simulated, seed 0: not a training day)"] = _demo_day(net)
    everyone_real = everyone != "simulator"
    result["training windows"] = {"us_tmd": int(everyone_real.sum()),
                                  "simulated": int((~everyone_real).sum())}
    return result


def stamp(results: dict[str, Any], meta_path: Path) -> None:
    """Write the run's by-person figures into the shipped weights' metadata (``training.
    by_person``), where ``sensekit bench fusion`` reports them; the weights file is not
    touched (its SHA-256 in the metadata still holds)."""
    import json

    net = results["network"]
    lopo = net["LOPO (nested, blind per fold)"]
    days = net["andrea later days (five classes)"]
    forest = results["baselines"]["all sensors"]
    dcl = results["DeepConvLSTM"]
    meta = json.loads(meta_path.read_text())
    meta["training"]["by_person"] = {
        "results": "fusion/results/real_transport.json",
        "network": {"lopo": lopo["macro_f1"], "ci95_people": lopo["ci95_people"],
                    "days": days["macro_f1"], "ece": lopo["ece"]["pooled"]},
        "forest": {"lopo": forest["lopo"]["macro_f1"],
                   "days": forest["andrea_later_days"]["macro_f1"]},
        "deepconvlstm": {"lopo": dcl["lopo"]["macro_f1"],
                         "days": dcl["andrea_later_days"]["macro_f1"]}}
    meta_path.write_text(json.dumps(meta, indent=1, sort_keys=False) + "\n")


if __name__ == "__main__":  # python fusion/real_final.py RESULTS.json WEIGHTS.json
    import json
    import sys

    stamp(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
