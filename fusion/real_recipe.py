"""Recipe of the shipped ``default`` network (``real_transport``): trained and judged by person.

    python fusion/real_recipe.py [--workers 2]     # ~25 min on two busy cores (+13 for windows)

Every figure of ``fusion/README.md``'s real-recordings section comes from the JSON this writes
(``fusion/results/real_transport.json``); the config is ``fusion/configs/real_transport.json``.

1. Windows (``fusion/real_data.py``): the 62 transport-mode recordings of six people through
   sensekit's importer and window path (5 s windows, every modality's rate-free statistics,
   rate views), the six ``phone/`` walks, and simulated days for running and cycling (trained
   on only where the config's ``training.simulated_windows`` says so: today it does not).
2. Baselines on the same windows and folds (``fusion/real_baselines.py``): the published
   statistics + random forest (several sensor sets), the leakage forest (sensor presence and
   rate only) by person and at random, DeepConvLSTM.
3. The network, nested leave-one-person-out: for each person P, every candidate design (the
   config's ``candidates``: inputs and context length) is scored by leave-one-person-out over the
   other five (the model for inner person Q is trained without P and Q, and serves outer Q's
   inner fold P too); the best (pooled macro-F1 over still, walking, car, train; ties: the first
   listed) is retrained without P and judged once on P. The calibration method is chosen the
   same way, on the inner logits only (each inner person's ECE from a calibration fitted on the
   other inner people), then fitted on all inner logits and applied to P. P's windows choose
   nothing. Views of each outer fold: every rate view, the accelerometer alone, the
   accelerometer with the GPS speed rule, the IMU only, without the rule.
4. andrea's later days (bus is judged by day: only andrea rode buses): the design chosen by the
   most outer folds, trained on everything else, judged on andrea's recordings after the cut.
5. The shipped network: the design chosen by the most outer folds, trained on all six people
   (and, where the config says so, the simulated running and cycling), calibrated by the
   method chosen most, fitted on the outer folds' logits (held-out people all), saved as
   ``sensekit/fusion/weights/real_transport`` with its ONNX graphs; scored on ``phone/`` (not
   blind: those walks decided against simulated windows, fusion/README.md).
   The outer folds' weights go to ``fusion/results/folds/`` (for the controller's nested
   policy evaluation: the network for held-out person P is ``folds/without_P``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import real_baselines as baselines  # noqa: E402
import real_data  # noqa: E402

from sensekit.fusion.by_person import (  # noqa: E402
    bootstrap_people,
    ece_by_person,
    macro_f1_over,
    summary,
)
from sensekit.fusion.context import ContextOptions, context_logits, fit_context  # noqa: E402
from sensekit.fusion.data import WindowSet  # noqa: E402
from sensekit.fusion.inputs import stats_modalities  # noqa: E402
from sensekit.fusion.metrics import expected_calibration_error, softmax  # noqa: E402
from sensekit.fusion.model import create_model  # noqa: E402
from sensekit.fusion.recordings import concat_sets  # noqa: E402
from sensekit.fusion.tasks import classes_of  # noqa: E402
from sensekit.fusion.temperature import apply_calibration, fit_calibration  # noqa: E402

CONFIG = HERE / "configs" / "real_transport.json"
CLASSES = classes_of(["transport", "activity"])
T0 = time.time()


def log(msg: str) -> None:
    print(f"[{time.time() - T0:6.0f}s] {msg}", flush=True)


# -- the windows every worker shares (set before the pool forks) ------------------------------
STATE: dict[str, Any] = {}


def combined(corpus: real_data.Corpus, simulated: bool = True) -> tuple[WindowSet, np.ndarray]:
    """us_tmd and (``simulated``) simulated windows in one set (simulated groups after the real
    ones), and who recorded each (``simulator`` for the simulated ones)."""
    if not simulated:
        return corpus.ws, corpus.person
    sim = corpus.sim.subset(np.arange(len(corpus.sim)))
    sim.groups = sim.groups + int(corpus.ws.groups.max()) + 1
    ws = concat_sets([corpus.ws, sim])
    people = np.concatenate([corpus.person, np.full(len(sim), "simulator")])
    return ws, people


def build(cfg: dict[str, Any], candidate: str) -> Any:
    cand = cfg["candidates"][candidate]
    mods = stats_modalities(cand["modalities"])
    rule_inputs = {r["modality"]: stats_modalities([r["modality"]])[r["modality"]].as_json()
                   for r in cfg["rules"] if r["modality"] not in mods}
    net = cfg["network"]
    return create_model(net["builder"], modalities=mods, tasks=CLASSES, dim=net["dim"],
                        heads=net["heads"], layers=net["layers"], context=cand["context"],
                        rules=cfg["rules"], rule_inputs=rule_inputs)


def options(cfg: dict[str, Any], seed: int) -> ContextOptions:
    t = cfg["training"]
    return ContextOptions(steps=t["steps"], batch_size=t["batch_size"], lr=t["lr"],
                          weight_decay=t["weight_decay"], label_smoothing=t["label_smoothing"],
                          task_weights=t["task_weights"],
                          modality_dropout=t["modality_dropout"], alone=t["alone"],
                          alone_p=t["alone_p"], noise=t["noise"], views=t["views"], seed=seed)


def train(cfg: dict[str, Any], candidate: str, rows: np.ndarray, seed: int) -> Any:
    ws, people = STATE["ws"], STATE["people"]
    torch.set_num_threads(1)
    net = build(cfg, candidate)
    return fit_context(net, ws.subset(rows), options(cfg, seed), people[rows])


#: What an outer fold scores: name -> (view, modalities kept (None: all), rules and calibration)
def outer_evals(cfg: dict[str, Any]) -> dict[str, tuple[str, list[str] | None, bool]]:
    out: dict[str, tuple[str, list[str] | None, bool]] = {
        "all": ("", None, True), "without the rule": ("", None, False),
        "accelerometer only": ("", ["accel"], False),
        "accelerometer + GPS rule": ("", ["accel", "gps_speed"], True),
        "IMU only": ("", ["accel", "gyro", "mag"], False)}
    for v in real_data.views_of(cfg):
        out[f"all at {v}"] = (v, None, True)
        out[f"accelerometer only at {v}"] = (v, ["accel"], False)
    return out


def job(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one model (averaging the config's seeds) and score the requested rows."""
    cfg, ws = spec["cfg"], STATE["ws"]
    rows = np.flatnonzero(spec["train"])
    evals = spec["evals"]
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    nets = []
    for seed in cfg["seeds"]:
        net = train(cfg, spec["candidate"], rows, seed)
        nets.append(net)
        test = ws.subset(np.flatnonzero(spec["test"]))
        for name, (view, keep, post) in evals.items():
            z = context_logits(net, test, view=view, keep=keep, post=post)
            for t, v in z.items():
                out.setdefault(name, {}).setdefault(t, []).append(v)
    if spec.get("save"):
        from sensekit.fusion.export import export_context_onnx
        from sensekit.fusion.weights import save_model

        save = Path(spec["save"])
        nets[0].set_calibration(spec.get("calibration") or {"method": "none"})
        save_model(nets[0], save, data_hash=ws.subset(rows).data_hash(),
                   training={"recipe": "fusion/real_recipe.py", "fold": spec["key"],
                             "design": spec["candidate"], "seed": cfg["seeds"][0],
                             "trained_on_people": sorted(set(STATE["people"][rows])),
                             "calibration": "chosen and fitted on this fold's inner folds"
                             if spec.get("calibration") else "none"})
        export_context_onnx(nets[0], save.parent, save.name)
    return {"key": spec["key"], "logits": {n: {t: np.mean(v, 0) for t, v in d.items()}
                                           for n, d in out.items()}}


def run_jobs(specs: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    done: dict[str, Any] = {}
    if workers <= 1:
        for s in specs:
            r = job(s)
            done[r["key"]] = r["logits"]
            log(f"  {r['key']}")
        return done
    with mp.get_context("fork").Pool(workers) as pool:
        for r in pool.imap_unordered(job, specs):
            done[r["key"]] = r["logits"]
            log(f"  {r['key']} ({len(done)}/{len(specs)})")
    return done


# -- splits -----------------------------------------------------------------------------------
def day_cut(cfg: dict[str, Any]) -> float:
    text = cfg["day_split"]["cut_utc"].replace("Z", "+00:00")
    return dt.datetime.fromisoformat(text).timestamp()


def later_days(c: real_data.Corpus, cfg: dict[str, Any]) -> np.ndarray:
    return (c.person == cfg["day_split"]["person"]) & (c.t_utc >= day_cut(cfg))


def four(cfg: dict[str, Any]) -> list[int]:
    return [CLASSES["transport"].index(c) for c in cfg["four"]]


# -- calibration chosen on inner folds --------------------------------------------------------
def calibration_scores(cfg: dict[str, Any], z: np.ndarray, y: np.ndarray,
                       who: np.ndarray) -> dict[str, float]:
    """Pooled ECE of each method, each inner person's windows calibrated by a fit on the
    other inner people's."""
    scores = {}
    for method in cfg["calibration"]:
        out = np.empty_like(z)
        for q in np.unique(who):
            mine = who == q
            cal = fit_calibration(method, {"t": z[~mine]}, {"t": y[~mine]})
            out[mine] = apply_calibration(cal, {"t": z[mine]})["t"]
        scores[method] = round(expected_calibration_error(softmax(out), y), 4)
    return scores


# -- the stages -------------------------------------------------------------------------------
def forests(c: real_data.Corpus, cfg: dict[str, Any], people: list[str]) -> dict[str, Any]:
    y = c.ws.labels["transport"]
    f4 = four(cfg)
    late = later_days(c, cfg)
    out: dict[str, Any] = {"predictions": {}}
    sets = {name: baselines.statistics(c.base, s) for name, s in cfg["forest"]["sets"].items()}
    sets["leakage: presence and accelerometer rate only"] = baselines.presence(
        c.base, c.accel_rate)
    for name, x in sets.items():
        pred = np.full(len(y), -1)
        for p in people:
            test = (c.person == p) & np.isin(y, f4)
            pred[test] = baselines.forest(x, y, c.person != p, test,
                                          trees=cfg["forest"]["trees"])
        days = np.full(len(y), -1)
        days[late] = baselines.forest(x, y, ~late, late, trees=cfg["forest"]["trees"])
        out["predictions"][name] = {"lopo": pred, "days": days}
        m = pred >= 0
        out[name] = {"lopo": summary(y[m], pred[m], c.person[m], CLASSES["transport"], f4,
                                     bootstrap=cfg["bootstrap"]),
                     "andrea_later_days": summary(y[late], days[late], c.person[late],
                                                  CLASSES["transport"], list(range(5)),
                                                  bootstrap=0)}
        log(f"forest {name}: LOPO {out[name]['lopo']['macro_f1']} "
            f"{out[name]['lopo']['ci95_people']}")
    rng = np.random.default_rng(0)
    half = rng.random(len(y)) < 0.5
    test = half & np.isin(y, f4)
    x = sets["leakage: presence and accelerometer rate only"]
    pred = baselines.forest(x, y, ~half, test, trees=cfg["forest"]["trees"])
    out["leakage at random (windows split at random, not by person)"] = {
        "macro_f1": round(macro_f1_over(y[test], pred, f4), 3)}
    draws = [macro_f1_over(y[y >= 0][np.isin(y[y >= 0], f4)],
                           rng.choice(f4, int(np.isin(y, f4).sum())), f4) for _ in range(20)]
    out["chance (uniform random over the four classes)"] = round(float(np.mean(draws)), 3)
    return out


def dcl_job(spec: dict[str, Any]) -> dict[str, Any]:
    c = STATE["corpus"]
    torch.set_num_threads(1)
    z = baselines.deepconvlstm(c.raw, c.ws.labels["transport"], c.person, spec["train"],
                               spec["test"], CLASSES["transport"], spec["opts"])
    return {"key": spec["key"], "logits": {"all": {"transport": z}}}


def deepconvlstm(c: real_data.Corpus, cfg: dict[str, Any], people: list[str],
                 workers: int) -> dict[str, Any]:
    y = c.ws.labels["transport"]
    f4, late = four(cfg), later_days(c, cfg)
    specs = [{"key": f"dcl without {p}", "train": c.person != p,
              "test": (c.person == p) & np.isin(y, f4), "opts": cfg["deepconvlstm"]}
             for p in people]
    specs.append({"key": "dcl days", "train": ~late, "test": late,
                  "opts": cfg["deepconvlstm"]})
    if workers <= 1:
        done = {s["key"]: dcl_job(s)["logits"] for s in specs}
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            done = {r["key"]: r["logits"] for r in pool.imap_unordered(dcl_job, specs)}
    pred = np.full(len(y), -1)
    for s in specs[:-1]:
        pred[s["test"]] = done[s["key"]]["all"]["transport"].argmax(1)
    days = np.full(len(y), -1)
    days[late] = done["dcl days"]["all"]["transport"].argmax(1)
    m = pred >= 0
    out = {"lopo": summary(y[m], pred[m], c.person[m], CLASSES["transport"], f4,
                           bootstrap=cfg["bootstrap"]),
           "andrea_later_days": summary(y[late], days[late], c.person[late],
                                        CLASSES["transport"], list(range(5)), bootstrap=0),
           "predictions": {"lopo": pred, "days": days}}
    log(f"DeepConvLSTM: LOPO {out['lopo']['macro_f1']} days "
        f"{out['andrea_later_days']['macro_f1']}")
    return out


def nested(c: real_data.Corpus, cfg: dict[str, Any], people: list[str], workers: int
           ) -> dict[str, Any]:
    """Inner folds of every candidate, the choice per outer person, the outer folds."""
    ws, everyone = STATE["ws"], STATE["people"]
    y = ws.labels["transport"]
    f4 = four(cfg)
    specs = []
    pairs = [(p, q) for i, p in enumerate(people) for q in people[i + 1:]]
    for cand in cfg["candidates"]:
        for p, q in pairs:
            specs.append({"key": f"inner {cand} without {p}, {q}", "cfg": cfg,
                          "candidate": cand, "train": ~np.isin(everyone, [p, q]),
                          "test": np.isin(everyone, [p, q]), "evals": {"all": ("", None, True)}})
    log(f"nested selection: {len(specs)} inner trainings")
    inner = run_jobs(specs, workers)
    choice: dict[str, Any] = {}
    inner_logits: dict[str, dict[str, Any]] = {}
    for p in people:
        scores = {}
        for cand in cfg["candidates"]:
            zs, ys, who = [], [], []
            for q in people:
                if q == p:
                    continue
                key = f"inner {cand} without {min(p, q, key=people.index)}, " \
                      f"{max(p, q, key=people.index)}"
                rows = np.flatnonzero(np.isin(everyone, [p, q]))
                theirs = everyone[rows] == q
                z = inner[key]["all"]["transport"][theirs]
                zs.append(z)
                ys.append(y[rows][theirs])
                who.append(np.full(int(theirs.sum()), q))
            z, yy, ww = np.concatenate(zs), np.concatenate(ys), np.concatenate(who)
            m = np.isin(yy, f4)
            scores[cand] = round(macro_f1_over(yy[m], z[m].argmax(1), f4), 4)
            inner_logits.setdefault(p, {})[cand] = (z[m], yy[m], ww[m])
        best = max(cfg["candidates"], key=lambda k: scores[k])  # first listed wins a tie
        z, yy, ww = inner_logits[p][best]
        cal = calibration_scores(cfg, z, yy, ww)
        method = min(cfg["calibration"], key=lambda k: cal[k])
        fitted = fit_calibration(method, {"transport": z}, {"transport": yy})
        choice[p] = {"inner_macro_f1": scores, "chosen": best, "inner_ece": cal,
                     "calibration": method, "fitted": fitted}
        log(f"  outer {p}: inner {scores} -> {best}; calibration {cal} -> {method}")
    return choice


def outer(c: real_data.Corpus, cfg: dict[str, Any], people: list[str],
          choice: dict[str, Any], workers: int, folds: Path) -> dict[str, Any]:
    everyone = STATE["people"]
    specs = [{"key": f"outer without {p}", "cfg": cfg, "candidate": choice[p]["chosen"],
              "train": everyone != p, "test": everyone == p, "evals": outer_evals(cfg),
              "save": folds / f"without_{p}", "calibration": choice[p]["fitted"]}
             for p in people]
    log(f"outer folds: {len(specs)} trainings")
    return run_jobs(specs, workers)


def days_fold(c: real_data.Corpus, cfg: dict[str, Any], candidate: str, workers: int,
              folds: Path) -> dict[str, Any]:
    everyone = STATE["people"]
    late = np.concatenate([later_days(c, cfg), np.zeros(int((everyone == "simulator").sum()),
                                                         bool)])
    spec = {"key": "andrea later days", "cfg": cfg, "candidate": candidate, "train": ~late,
            "test": late, "evals": outer_evals(cfg), "save": folds / "andrea_earlier_days"}
    return run_jobs([spec], 1)["andrea later days"]


# -- figures ----------------------------------------------------------------------------------
def scored(y: np.ndarray, z: np.ndarray, who: np.ndarray, labels: list[int], cfg: dict[str, Any]
           ) -> dict[str, Any]:
    pred = z.argmax(1)
    out = summary(y, pred, who, CLASSES["transport"], labels, bootstrap=cfg["bootstrap"])
    out["ece"] = ece_by_person(z, y, who)
    return out


def shares(y_is: Callable[[np.ndarray], np.ndarray], pred_is: Callable[[np.ndarray], np.ndarray],
           z: np.ndarray, y: np.ndarray, groups: np.ndarray, files: Sequence[str]
           ) -> dict[str, Any]:
    """The share of windows predicted as a class, pooled and per recording."""
    m = y_is(y)
    hit = pred_is(z.argmax(1))
    per = {files[g]: round(float(hit[m & (groups == g)].mean()), 3)
           for g in np.unique(groups[m])}
    return {"pooled": round(float(hit[m].mean()), 3) if m.any() else None, "windows": int(m.sum()),
            "per_recording": per, "lowest": min(per.values()) if per else None}


def figures(c: real_data.Corpus, cfg: dict[str, Any], people: list[str], choice: dict[str, Any],
            folds_out: dict[str, Any], days_out: dict[str, Any], base: dict[str, Any],
            dcl: dict[str, Any]) -> dict[str, Any]:
    n = len(c.ws)
    y = c.ws.labels["transport"]
    f4 = four(cfg)
    cls = CLASSES["transport"]
    evals = outer_evals(cfg)
    lopo: dict[str, np.ndarray] = {k: np.full((n, 5), np.nan, np.float32) for k in evals}
    lopo_act = np.full((n, 5), np.nan, np.float32)
    for p in people:
        mine = c.person == p
        out = folds_out[f"outer without {p}"]
        for k in evals:
            z = out[k]["transport"]
            if k == "all":  # the calibration chosen on p's inner folds
                z = apply_calibration(choice[p]["fitted"], {"transport": z})["transport"]
                lopo_act[mine] = out[k]["activity"]
            lopo[k][mine] = z
    test = np.isin(y, f4) & ~np.isnan(lopo["all"][:, 0])
    res: dict[str, Any] = {"nested choice per left-out person": choice}
    res["LOPO (nested, blind per fold)"] = scored(y[test], lopo["all"][test], c.person[test],
                                                  f4, cfg)
    raw_all = folds_out  # uncalibrated "all" for the ECE at T = 1
    z1 = np.full((n, 5), np.nan, np.float32)
    for p in people:
        z1[c.person == p] = raw_all[f"outer without {p}"]["all"]["transport"]
    res["ECE without calibration (T = 1)"] = ece_by_person(z1[test], y[test], c.person[test])
    views: dict[str, Any] = {}
    for k in evals:
        if k == "all":
            continue
        ok = test & ~np.isnan(lopo[k][:, 0])
        views[k] = {"macro_f1": round(macro_f1_over(y[ok], lopo[k][ok].argmax(1), f4), 3),
                    "windows": int(ok.sum()), "people": len(np.unique(c.person[ok]))}
    res["LOPO views (same folds)"] = views
    res["by rate (same folds; each view's rows are windows where the view slowed the stream)"] = \
        by_rate(c, cfg, lopo, test)
    res["still, walking, car only"] = {
        "network": round(macro_f1_over(y[test], lopo["all"][test].argmax(1), f4[:3]), 3)}
    vs = {}
    for name, b in [*((k, v) for k, v in base.items() if isinstance(v, dict) and "lopo" in v),
                    ("DeepConvLSTM", dcl)]:
        other = (base["predictions"][name]["lopo"] if name in base["predictions"]
                 else dcl["predictions"]["lopo"])[test]
        vs[name] = {"baseline": b["lopo"]["macro_f1"],
                    "difference": round(macro_f1_over(y[test], lopo["all"][test].argmax(1), f4)
                                        - macro_f1_over(y[test], other, f4), 3),
                    "ci95_people_paired": bootstrap_people(
                        y[test], lopo["all"][test].argmax(1), c.person[test],
                        lambda a, b: macro_f1_over(a, b, f4), n=cfg["bootstrap"], other=other)}
    res["network minus baselines (paired, same windows)"] = vs
    # andrea's later days
    late = later_days(c, cfg)
    dz = days_out["all"]["transport"]
    res["andrea later days (five classes)"] = scored(y[late], dz, c.person[late],
                                                     list(range(5)), cfg)
    res["andrea later days views"] = {
        k: round(macro_f1_over(y[late], days_out[k]["transport"].argmax(1), list(range(5))), 3)
        for k in ("accelerometer only", "accelerometer + GPS rule", "without the rule",
                  "IMU only")}
    res["walking shares, us_tmd LOPO (not blind: LOPO shaped the choice)"] = {
        k: shares(lambda v: v == cls.index("walking"), lambda v: v == cls.index("walking"),
                  lopo[k], np.where(test, y, -1), c.ws.groups, c.files)
        for k in ("all", "accelerometer only")}
    fast = np.isfinite(c.speed_near) & (c.speed_near > cfg["vehicle_speed_mps"])
    vehicle = [cls.index(v) for v in ("car", "bus", "train")]
    res[f"vehicle share, windows with GPS speed > {cfg['vehicle_speed_mps']:g} m/s"] = {
        "LOPO": {k: shares(lambda v: np.isin(v, vehicle), lambda v: np.isin(v, vehicle),
                           lopo[k], np.where(test & fast, y, -1), c.ws.groups, c.files)
                 for k in ("accelerometer only", "accelerometer + GPS rule", "all")},
        "andrea later days": {k: shares(
            lambda v: np.isin(v, vehicle), lambda v: np.isin(v, vehicle),
            days_out[k]["transport"], np.where(fast[late], y[late], -1), c.ws.groups[late],
            c.files) for k in ("accelerometer only", "accelerometer + GPS rule", "all")}}
    res["activity head on LOPO windows"] = activity_head(lopo_act[test], y[test])
    return res


def by_rate(c: real_data.Corpus, cfg: dict[str, Any], lopo: Mapping[str, np.ndarray],
            test: np.ndarray) -> dict[str, Any]:
    y = c.ws.labels["transport"]
    f4 = four(cfg)
    out = {}
    for v, (_, present) in c.ws.views.items():
        if "accel" not in present:
            continue
        slowed = test & (c.accel_rate > 0) & (c.accel_rate * 0.95 > float(v.split("@")[1]))
        if not slowed.any():
            continue
        out[v] = {"windows": int(slowed.sum()),
                  "people": len(np.unique(c.person[slowed])),
                  "all inputs": round(macro_f1_over(
                      y[slowed], lopo[f"all at {v}"][slowed].argmax(1), f4), 3),
                  "accelerometer only": round(macro_f1_over(
                      y[slowed], lopo[f"accelerometer only at {v}"][slowed].argmax(1), f4), 3),
                  "same windows as recorded": round(macro_f1_over(
                      y[slowed], lopo["all"][slowed].argmax(1), f4), 3)}
    return out


def activity_head(z: np.ndarray, y_transport: np.ndarray) -> dict[str, Any]:
    act = CLASSES["activity"]
    table = {"still": "still", "walking": "walking", "car": "vehicle", "bus": "vehicle",
             "train": "vehicle"}
    y = np.array([act.index(table[CLASSES["transport"][v]]) for v in y_transport])
    pred = z.argmax(1)
    labels = [act.index(c) for c in ("still", "walking", "vehicle")]
    return {"macro_f1 (still, walking, vehicle)": round(macro_f1_over(y, pred, labels), 3),
            "predicted running or cycling": round(float(np.isin(
                pred, [act.index("running"), act.index("cycling")]).mean()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--cache", type=Path, default=HERE / ".cache")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "real_transport.json")
    parser.add_argument("--folds", type=Path, default=HERE / "results" / "folds")
    parser.add_argument("--out", type=Path, default=ROOT / "sensekit" / "fusion" / "weights")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    cfg = json.loads(args.config.read_text())
    torch.set_num_threads(1)
    # the optimiser imports torch's compiler on first use: once here, not in every worker
    torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])
    corpus = real_data.load(args.corpus, cfg, args.cache, log)
    ws, people_all = combined(corpus, cfg["training"]["simulated_windows"])
    STATE.update(ws=ws, people=people_all, corpus=corpus)
    people = sorted(set(corpus.person.tolist()))
    log(f"{len(corpus.ws)} us_tmd windows of {len(people)} people, {len(corpus.sim)} simulated, "
        f"{len(corpus.phone)} phone/")
    args.folds.mkdir(parents=True, exist_ok=True)
    stage = Checkpoints(args.cache, cfg)
    # the folds and the shipped network first (others read the folds as soon as they exist),
    # the baselines after them; each stage's result is kept, so a rerun resumes after the last
    choice = stage("nested", lambda: nested(corpus, cfg, people, args.workers))
    folds_out = stage("outer", lambda: outer(corpus, cfg, people, choice, args.workers,
                                             args.folds))
    votes = Counter(choice[p]["chosen"] for p in people)
    final_candidate = votes.most_common(1)[0][0]
    days_out = stage("days", lambda: days_fold(corpus, cfg, final_candidate, args.workers,
                                               args.folds))
    import real_final

    shipped = stage("shipped", lambda: real_final.ship(
        corpus, cfg, people, choice, folds_out, final_candidate, votes, args.out, STATE, train,
        four(cfg), log))
    base = stage("forests", lambda: forests(corpus, cfg, people))
    dcl = stage("deepconvlstm", lambda: deepconvlstm(corpus, cfg, people, args.workers))
    results = {"config": cfg, "data": describe(corpus, people),
               "baselines": {k: v for k, v in base.items() if k != "predictions"},
               "DeepConvLSTM": {k: v for k, v in dcl.items() if k != "predictions"},
               "network": figures(corpus, cfg, people, choice, folds_out, days_out, base, dcl),
               "shipped": shipped, "seconds": round(time.time() - T0)}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=1, default=_json) + "\n")
    real_final.stamp(json.loads(args.results.read_text()),
                     args.out / f"{real_final.NAME}.json")
    log(f"wrote {args.results}")


class Checkpoints:
    """Each stage's result kept in the cache under the config's hash: a rerun of the same
    config (after a crash in a later stage) loads it instead of training again."""

    def __init__(self, cache: Path, cfg: dict[str, Any]) -> None:
        import hashlib

        key = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]
        self.folder = cache / f"stages-{key}"
        self.folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str, compute: Callable[[], Any]) -> Any:
        import pickle

        path = self.folder / f"{name}.pkl"
        if path.is_file():
            log(f"{name}: from {path}")
            with path.open("rb") as fh:
                return pickle.load(fh)
        out = compute()
        with path.with_suffix(".part").open("wb") as fh:
            pickle.dump(out, fh)
        path.with_suffix(".part").replace(path)
        return out


def describe(c: real_data.Corpus, people: list[str]) -> dict[str, Any]:
    y = c.ws.labels["transport"]
    return {"us_tmd windows": len(c.ws), "recordings": len(c.files),
            "windows per person and class": {
                p: {CLASSES["transport"][k]: int(((c.person == p) & (y == k)).sum())
                    for k in range(5) if ((c.person == p) & (y == k)).any()} for p in people},
            "simulated windows": len(c.sim),
            "simulated activity windows": {CLASSES["activity"][k]: int(
                (c.sim.labels["activity"] == k).sum()) for k in range(5)
                if (c.sim.labels["activity"] == k).any()},
            "phone/ windows": len(c.phone)}


def _json(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o))


if __name__ == "__main__":
    main()
