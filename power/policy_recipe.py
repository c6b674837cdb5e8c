"""What each sampling policy costs and scores, judged on people no choice saw.

    python power/policy_recipe.py real --data /tmp/sensekit-policy --results power/results
    python power/policy_recipe.py simulated --data /tmp/sensekit-policy --results power/results
    python power/policy_recipe.py default --data /tmp/sensekit-policy --results power/results

``real``: the transport-mode recordings (``../shared/corpus/us_tmd``, six people) and the
``phone/`` walks, imported with ``sensekit import``; parts priced as a Pi rig would carry the
same modalities, once per set of power tables (``--tables``, default ``pi-usb`` and ``pi-i2s``).

1. Nested by person. For each held-out person P: the network trained without P (``--folds
   DIR/without_P``; without ``--folds``, the shipped network, stated in the results); every
   static operating point the recordings allow, on every recording (:mod:`sensekit.controller.
   front`). On the other five people only (tuning): the adaptive policy's base point (the
   cheapest static point within a point of the best macro-F1) and the sensors doubt may wake
   (those that added a point to it), then its thresholds (the cheapest of a small grid within
   ``MARGIN`` of always-on's macro-F1), then the static point the tuning people would choose
   at the adaptive policy's energy (the best macro-F1 there that spends no more). On P only:
   always-on, the adaptive policy and that static point, judged once. P's windows choose
   nothing.
2. Pooled over the held-out people, with 95% intervals from 1,000 resamples of the people: the
   adaptive policy's share of always-on's sensor + compute energy, its macro-F1 against
   always-on's, and against the chosen static point's.
3. ``phone/`` (one person, six placements, accelerometer only, no part of any choice): every
   choice made on all six us_tmd people, judged there.

Bus was ridden by one person only: by person it cannot be judged, so bus recordings are left
out of these figures (the network's by-day bus figure is in ``fusion/README.md``).

``simulated``: the camera and its resolutions (no real recording here has a camera), on days
from sensekit's simulator, labelled as simulated in every figure: three tuning days choose,
two held-out days (other seeds, other microphone and camera) judge.

``default``: the shipped default policy (a static point, chosen by ``real``'s rule on all six
us_tmd people) on the default rig, beside always-on and the adaptive policy as
``sensekit evaluate-policy`` runs them: the same held-out simulated days, with the
simulator-trained network and the shipped one, under each set of tables.

Every figure goes to ``--results`` (``policy_real_TABLES.json``, with ``--folds``
``policy_real_folds_TABLES.json``, and
``policy_simulated_TABLES.json`` per set of tables, and their plots); ``power/README.md`` quotes
them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sensekit.controller.cli import Setup, combine
from sensekit.controller.energy import TABLE_SETS, with_tables
from sensekit.controller.evaluate import PolicyResult, Recording, evaluate_policy
from sensekit.controller.front import FrontTable, front_flags, front_table, pool_tables
from sensekit.controller.judge import (
    Outcome,
    bootstrap_people,
    choose_cheapest,
    choose_static,
    interval,
    outcome,
    pool,
)
from sensekit.controller.operating import OperatingPoint, recording_rates, static_points
from sensekit.controller.predictor import FusionPredictor, load_predictor
from sensekit.controller.profile import Profile
from sensekit.controller.report import plot_fronts
from sensekit.modalities import registered

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
T0 = time.time()
#: How far below always-on's macro-F1 on the tuning people the adaptive thresholds may go
#: (half of the goal's 3 points, kept for the held-out person).
MARGIN = 0.015
#: The adaptive settings tried on the tuning people (what each grid point adds to the spec).
GRID = {
    "idle-3": "still_windows=3",
    "idle-12": "still_windows=12",
    "idle-3-wake-none": "still_windows=3,optional=none",
    "idle-12-wake-none": "still_windows=12,optional=none",
}
POLICIES = ("always-on", "adaptive", "static")


def log(msg: str) -> None:
    print(f"[{time.time() - T0:6.0f}s] {msg}", flush=True)


# -- recordings ---------------------------------------------------------------------------------
def sensekit(*argv: str) -> None:
    subprocess.run([sys.executable, "-m", "sensekit", *argv], check=True,
                   stdout=subprocess.DEVNULL)


def import_us_tmd(corpus: Path, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sorted((corpus / "us_tmd").glob("sensorfile_*.csv.gz")):
        dst = folder / (src.name[:-len(".csv.gz")] + ".mcap")
        if not dst.exists():
            sensekit("import", "--format", "us-tmd", str(src), "-o", str(dst))
        out.append(dst)
    return out


def import_phone(corpus: Path, folder: Path) -> list[Path]:
    """The ``phone/`` walks as a phone export would carry them: an ``accel`` stream, the
    whole recording labelled walking."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sorted((corpus / "phone").glob("user1_*.csv")):
        dst = folder / f"phone-{src.stem}.mcap"
        if not dst.exists():
            sensekit("import", str(src), "-o", str(dst), "--no-header", "--time-unit", "ns",
                     "--map", "t_ns=0", "--map", "accel_mps2=1,2,3", "--modality", "imu",
                     "--stream", "accel", "--label", "transport=walking")
        out.append(dst)
    return out


def person(rec: Recording) -> str:
    """``sensorfile_{person}_{mode}_{start}``: the person's field."""
    return Path(rec.name).stem.split("_")[1]


def mode_of(rec: Recording) -> str:
    return Path(rec.name).stem.split("_")[2]


# -- one network's evaluation -------------------------------------------------------------------
@dataclass
class Bench:
    """A network, the parts' prices and the static points, with caches across folds."""

    net: FusionPredictor
    task: str
    tables: str
    points: list[OperatingPoint]
    window_s: float
    cache: dict[Any, Any] = field(default_factory=dict)
    fronts: dict[str, FrontTable] = field(default_factory=dict)
    replays: dict[tuple[str, str], PolicyResult] = field(default_factory=dict)

    def setup(self, profile: Profile | None = None) -> Setup:
        decls = with_tables(registered(), TABLE_SETS[self.tables])
        return Setup(self.net, decls, [], profile, self.points, self.window_s, "pi4", 10.0,
                     60.0)

    def front(self, rec: Recording) -> FrontTable:
        if rec.name not in self.fronts:
            began = time.time()
            self.fronts[rec.name] = front_table(rec, self.points, self.net,
                                                decls=self.setup().decls,
                                                window_s=self.window_s, cache=self.cache)
            log(f"    front of {Path(rec.name).name}: {self.fronts[rec.name].windows} windows, "
                f"{time.time() - began:.0f} s")
        return self.fronts[rec.name]

    def replay(self, rec: Recording, spec: str, setup: Setup, tag: str = "") -> PolicyResult:
        """``spec`` replayed window by window on ``rec`` (cached under ``tag``)."""
        key = (rec.name, f"{spec}|{tag}")
        if key not in self.replays:
            began = time.time()
            result = evaluate_policy(rec, lambda: setup.policy(spec, rec), self.net,
                                     window_s=self.window_s, modalities=setup.decls)
            result.policy = spec
            self.replays[key] = result
            log(f"    {spec} on {Path(rec.name).name}: {time.time() - began:.0f} s")
        return self.replays[key]


def profile_of(table: FrontTable, name: str) -> Profile:
    """The tuning recordings' static points as a profile (macro-F1 and energy by name);
    ``name`` says which recordings (it keys the replays the profile shapes)."""
    rows = table.results()
    return Profile({r.policy[len("static:"):]: r.macro_f1 for r in rows},
                   {r.policy[len("static:"):]: r.sensor_j + r.compute_j for r in rows}, name)


def tuning_name(tuning: Sequence[Recording]) -> str:
    return "tuned on " + ",".join(sorted({person(r) if Path(r.name).name.startswith(
        "sensorfile_") else Path(r.name).stem for r in tuning}))


def shaped(profile: Profile) -> str:
    """What an adaptive policy takes from a profile (its base point and the sensors doubt
    may wake): two profiles that agree on these give the same policy."""
    base = profile.base()
    return f"{base.name()}|{'/'.join(profile.helpful(base))}"


@dataclass
class FoldChoice:
    """What the tuning people chose for one held-out person."""

    base: str
    optional: list[str]
    adaptive: str
    static: str
    tuning: dict[str, dict[str, float]]


def tune(bench: Bench, tuning: Sequence[Recording]) -> FoldChoice:
    """Every choice, made on the tuning recordings only."""
    table = pool_tables([bench.front(r) for r in tuning], "tuning")
    profile = profile_of(table, tuning_name(tuning))
    setup = bench.setup(profile)
    always = pool([outcome(bench.replay(r, "always-on", setup)) for r in tuning])
    # with no sensor for doubt to wake, "optional=none" is the same policy: not replayed twice
    tried = {n: a for n, a in GRID.items()
             if profile.helpful(profile.base()) or "optional=none" not in a}
    grid = {name: pool([outcome(bench.replay(r, f"adaptive:{arg}", setup, shaped(profile)))
                        for r in tuning]) for name, arg in tried.items()}
    best = choose_cheapest(grid, always.macro_f1, MARGIN)
    k = choose_static(table, grid[best].energy_j)
    base = profile.base()
    summary = {"always-on": _brief(always), **{f"adaptive {n}": _brief(o)
                                                for n, o in grid.items()},
               "static": _brief(Outcome(table.confusion[k],
                                        float(table.sensor_j[k] + table.compute_j[k]),
                                        table.windows))}
    return FoldChoice(base.name(), list(profile.helpful(base)), f"adaptive:{GRID[best]}",
                      table.points[k].name(), summary)


def _brief(o: Outcome) -> dict[str, float]:
    return {"macro_f1": o.macro_f1, "accuracy": o.accuracy, "energy_j": o.energy_j,
            "windows": o.windows}


def judge(bench: Bench, choice: FoldChoice, tuning: Sequence[Recording],
          held: Sequence[Recording]) -> dict[str, Outcome]:
    """The chosen policies on the held-out recordings."""
    table = pool_tables([bench.front(r) for r in tuning], "tuning")
    profile = profile_of(table, tuning_name(tuning))
    setup = bench.setup(profile)
    k = [p.name() for p in bench.points].index(choice.static)
    held_table = pool_tables([bench.front(r) for r in held], "held")
    return {
        "always-on": pool([outcome(bench.replay(r, "always-on", setup)) for r in held]),
        "adaptive": pool([outcome(bench.replay(r, choice.adaptive, setup, shaped(profile)))
                          for r in held]),
        "static": Outcome(held_table.confusion[k],
                          float(held_table.sensor_j[k] + held_table.compute_j[k]),
                          held_table.windows),
    }


def verdict(per_person: Mapping[str, Mapping[str, Outcome]], draws: int) -> dict[str, Any]:
    """Pooled figures and 95% intervals over people; the goal judged against them."""
    everyone = {p: pool([per_person[q][p] for q in per_person]) for p in POLICIES}

    def share(o: Mapping[str, Outcome]) -> float:
        return o["adaptive"].energy_j / o["always-on"].energy_j

    def gap(o: Mapping[str, Outcome]) -> float:
        return o["adaptive"].macro_f1 - o["always-on"].macro_f1

    def vs_static_f1(o: Mapping[str, Outcome]) -> float:
        return o["adaptive"].macro_f1 - o["static"].macro_f1

    def vs_static_j(o: Mapping[str, Outcome]) -> float:
        return o["adaptive"].energy_j - o["static"].energy_j

    out: dict[str, Any] = {"pooled": {p: _brief(o) for p, o in everyone.items()}}
    for name, stat in (("energy_share", share), ("macro_f1_minus_always_on", gap),
                       ("macro_f1_minus_static", vs_static_f1),
                       ("energy_minus_static_j", vs_static_j)):
        values = bootstrap_people(per_person, stat, draws=draws)
        out[name] = {"value": stat(everyone), "ci95": interval(values)}
    out["goal"] = {
        "energy_at_most_30_percent": out["energy_share"]["value"] <= 0.30,
        "macro_f1_within_3_points": out["macro_f1_minus_always_on"]["value"] >= -0.03,
        # dominated beyond its interval: the static point scores higher and spends less,
        # both beyond the 95% intervals of the differences
        "dominated_by_static": bool(out["macro_f1_minus_static"]["ci95"][1] < 0
                                    and out["energy_minus_static_j"]["ci95"][0] > 0),
    }
    return out


def fold_network(folds: Path | None, held: str, task: str, classes: list[str],
                 network: str = "default") -> tuple[FusionPredictor, str]:
    """The network trained without ``held``: ``FOLDS/without_HELD.onnx.json`` or the first
    ``.onnx.json`` in ``FOLDS/without_HELD/`` (the shipped ``default`` without ``--folds``).
    A fold that is missing, or in a layout this sensekit cannot run, stops the run: a
    held-out figure from another network than the one named would be a wrong figure."""
    if folds is None:
        return load_predictor(network, "pi4", task, classes), f"{network} (shipped; not a fold)"
    found = sorted({*folds.glob(f"without_{held}.onnx.json"),
                    *(folds / f"without_{held}").glob("*.onnx.json")})
    if not found:
        sys.exit(f"{folds}: no network for held-out person {held} (without_{held}.onnx.json "
                 f"or without_{held}/*.onnx.json)")
    layout = json.loads(found[0].read_text()).get("layout")
    from sensekit.fusion.runtime import OnnxFusion

    if layout is not None and not hasattr(OnnxFusion, "predict_sequence"):
        sys.exit(f"{found[0]}: a {layout!r} network, which this sensekit's runtime cannot run")
    return load_predictor(str(found[0]), "pi4", task, classes), str(found[0])


def union_points(net: FusionPredictor, tables: str, recordings: Sequence[Recording], *,
                 inputs_only: bool = False) -> list[OperatingPoint]:
    """Every recording's static points, together. ``inputs_only``: over the network's inputs
    only (on a rig whose other modalities ride the same parts as its inputs, a sound level
    on the microphone, a GPS speed on the GPS: they change no prediction and add energy)."""
    decls = with_tables(registered(), TABLE_SETS[tables])
    setup = Setup(net, decls, [], None, [], 0.0, "pi4", 10.0, 60.0)
    found: set[OperatingPoint] = set()
    for rec in recordings:
        carried = {m: d for m, d in setup.carried(rec).items()
                   if not inputs_only or m in net.modalities}
        found.update(static_points(carried, setup.table_modes(),
                                   recording_rates(rec.streams, decls), net.modalities))
    return sorted(found, key=OperatingPoint.name)


def real(args: argparse.Namespace) -> None:
    us_tmd = import_us_tmd(args.corpus, args.data / "us_tmd")
    phone = import_phone(args.corpus, args.data / "phone")
    recs = [Recording.load(str(p), task=args.task) for p in us_tmd]
    recs = [r for r in recs if mode_of(r) != "Bus"]
    walks = [Recording.load(str(p), task=args.task) for p in phone]
    people = sorted({person(r) for r in recs})
    if args.people:
        people = [p for p in people if p in args.people]
    classes = recs[0].classes
    out: dict[str, Any] = {"task": args.task, "classes": classes, "people": people,
                           "margin": MARGIN, "grid": GRID, "by_table": {}}
    for tables in args.tables:
        log(f"tables {tables}")
        benches: dict[str, Bench] = {}
        per_person: dict[str, dict[str, Outcome]] = {}
        folds: dict[str, Any] = {}
        for held in people:
            net, source = fold_network(args.folds, held, args.task, classes, args.network)
            bench = benches.setdefault(source, Bench(
                net, args.task, tables, union_points(net, tables, recs + walks),
                float(next(iter(net.modalities.values())).window_s)))
            tuning = [r for r in recs if person(r) != held]
            mine = [r for r in recs if person(r) == held]
            log(f"  held out {held}: {len(mine)} recordings, network {source}, "
                f"{len(bench.points)} static points")
            choice = tune(bench, tuning)
            per_person[held] = judge(bench, choice, tuning, mine)
            folds[held] = {"network": source, "choice": choice.__dict__,
                           "held_out": {p: _brief(o) for p, o in per_person[held].items()}}
            log(f"    {json.dumps(folds[held]['held_out'])}")
        result = {"folds": folds, **verdict(per_person, args.draws)}
        net, source = fold_network(None, "", args.task, classes, args.network)
        bench = benches.setdefault(source, Bench(
            net, args.task, tables, union_points(net, tables, recs + walks),
            float(next(iter(net.modalities.values())).window_s)))
        choice = tune(bench, recs)
        result["phone"] = {"network": source, "choice": choice.__dict__,
                           "judged": {p: _brief(o) for p, o in
                                      judge(bench, choice, recs, walks).items()}}
        out["by_table"][tables] = result
        # the per-person networks' figures go beside the shipped network's, not over them
        stem = f"policy_real_{'folds_' if args.folds else ''}{tables}"
        _plot(bench, recs, walks, choice, args.results / f"{stem}.png")
        path = args.results / f"{stem}.json"
        path.write_text(json.dumps({**out, "by_table": {tables: result}}, indent=1,
                                   default=_plain) + "\n")
        log(f"wrote {path}")


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _plot(bench: Bench, recs: Sequence[Recording], walks: Sequence[Recording],
          choice: FoldChoice, path: Path) -> None:
    """The pooled front of all us_tmd recordings and of the phone/ walks, with the policies
    chosen on all six people."""
    profile = profile_of(pool_tables([bench.front(r) for r in recs]), tuning_name(recs))
    setup = bench.setup(profile)
    per = []
    for name, group in (("us_tmd, six people (not blind: they chose)", recs),
                        ("phone walks, one person (blind)", walks)):
        table = pool_tables([bench.front(r) for r in group], name)
        statics = table.results()
        front = front_flags(statics)
        policies = [combine(spec, [bench.replay(r, spec, setup, tag) for r in group])
                    for spec, tag in (("always-on", ""), (choice.adaptive, shaped(profile)))]
        per.append((name, policies, [r for r in statics if r.policy in front]))
    pooled = pool_tables([bench.front(r) for r in [*recs, *walks]]).results()
    plot_fronts(per, [], pooled, str(path), title=f"static points pooled over {len(recs)} "
                f"us_tmd recordings and {len(walks)} phone walks ({bench.tables})")


# -- simulated days: the camera --------------------------------------------------------------
TUNING_DAYS = [(seed, {"duration_s": 600.0}) for seed in (400, 401, 402)]
HELD_OUT_DAYS = [(seed, {"duration_s": 1800.0, "audio_rate_hz": 16000,
                         "camera_size": (128, 96)}) for seed in (1000, 1001)]
#: The dual-mode camera's trigger: the camera's own change score (frame difference) above
#: 0.7 switches to the full readout, below 0.3 back, each held at least 2 s.
PHOTO_TRIGGER = (0.7, 0.3, 2.0)


def simulate_day(folder: Path, name: str, seed: int, params: dict[str, Any]) -> Path:
    from sensekit.testing.scenario import SimConfig
    from sensekit.testing.scenario import simulate as run

    path = folder / f"{name}-{seed}.mcap"
    if not path.exists():
        run(path, SimConfig(seed=seed, **params))
    return path


def day_mix(rec: Recording) -> dict[str, float]:
    """Share of time still and activity transitions per hour, from the labels."""
    act = rec.labels
    hours = (rec.label_t_ns[-1] - rec.label_t_ns[0]) / 3.6e12
    return {"still_share": float(np.mean(act == rec.classes.index("still"))),
            "transitions_per_hour": float(np.count_nonzero(np.diff(act)) / hours)}


def simulated(args: argparse.Namespace) -> None:
    """Every figure on the camera and its resolutions: simulated days, labelled as such."""
    from sensekit.testing.scenario import ACTIVITIES

    folder = args.data / "simulated"
    folder.mkdir(parents=True, exist_ok=True)
    tune_days = [Recording.load(str(simulate_day(folder, "tune", s, p))) for s, p in TUNING_DAYS]
    held_days = [Recording.load(str(simulate_day(folder, "heldout", s, p)))
                 for s, p in HELD_OUT_DAYS]
    mix = {Path(r.name).name: day_mix(r) for r in held_days}
    for name, m in mix.items():
        if m["still_share"] > 0.35 or m["transitions_per_hour"] < 10:
            sys.exit(f"{name}: the day's mix is not the one fixed in advance: {m}")
    net = load_predictor("sim_har", "pi4", "activity", list(ACTIVITIES))
    out: dict[str, Any] = {"simulated": True, "network": "sim_har (simulator-trained)",
                           "held_out_mix": mix, "duty_cycles": "left out of these points",
                           "by_table": {}}
    for tables in args.tables:
        log(f"simulated days, tables {tables}")
        bench = Bench(net, "activity", tables, [], net.window_s)
        # duty cycles left out here: each is replayed window by window (hours on these
        # days), and they are the GPS's, judged on the real recordings; the camera's
        # claims do not rest on them
        bench.points = [p for p in union_points(net, tables, tune_days + held_days,
                                                inputs_only=True) if not p.duty]
        log(f"  {len(bench.points)} static points")
        choice = tune(bench, tune_days)
        judged = judge(bench, choice, tune_days, held_days)
        held = pool_tables([bench.front(r) for r in held_days], "held-out days")
        results = held.results()
        rows = {r.policy: r for r in results}
        front = front_flags(results)
        camera = {name: _brief(outcome(rows[name])) for name in rows if "camera" in name
                  and name.replace(":photo", "") in rows and ":photo" in name}
        setup = bench.setup(profile_of(pool_tables([bench.front(r) for r in tune_days]),
                                       tuning_name(tune_days)))
        with_camera = _with_camera(choice.static)
        dual = _static_on(setup, f"static:{with_camera}", held_days, PHOTO_TRIGGER)
        plain = _static_on(setup, f"static:{with_camera}", held_days, None)
        out["by_table"][tables] = {
            "choice": choice.__dict__,
            "judged": {p: _brief(o) for p, o in judged.items()},
            "front": sorted(front),
            "camera_readout": {name: {"full readout": v, "binned readout": _brief(outcome(
                rows[name.replace(":photo", "")]))} for name, v in sorted(camera.items())},
            "dual_mode": {"point": with_camera, "trigger": PHOTO_TRIGGER,
                          "binned only": _brief(plain), "dual-mode": _brief(dual)},
        }
        per = [(f"held-out simulated days ({tables})", [], [r for r in results
                                                          if r.policy in front])]
        plot_fronts(per, [], results, str(args.results / f"policy_simulated_{tables}.png"),
                    title=f"simulated held-out days, seeds 1000-1001 ({tables})")
        path = args.results / f"policy_simulated_{tables}.json"
        path.write_text(json.dumps({**out, "by_table": {tables: out["by_table"][tables]}},
                                   indent=1, default=_plain) + "\n")
        log(f"wrote {path}")


def _static_on(setup: Setup, spec: str, days: Sequence[Recording],
               trigger: tuple[float, float, float] | None) -> Outcome:
    """``spec`` replayed on ``days`` (with the dual-mode camera's trigger, if given)."""
    from sensekit.controller.dual_mode import Hysteresis
    from sensekit.controller.policies import Static

    point = OperatingPoint.parse(spec.partition(":")[2])
    return pool([outcome(evaluate_policy(
        day, lambda: Static.of(point), setup.net, window_s=setup.window_s,
        modalities=setup.decls, photo_trigger=None if trigger is None else Hysteresis(*trigger)))
        for day in days])


def _with_camera(point: str) -> str:
    """``point`` with the camera on at 32 px in its binned readout (added if it lacks it)."""
    op = OperatingPoint.parse(point)
    rates = {**op.rates, "camera": 32.0}
    modes = {m: v for m, v in op.modes.items() if m != "camera"}
    from sensekit.fusion.inputs import Configuration

    return OperatingPoint(Configuration(rates), modes, op.duty).name()


def default_on_days(args: argparse.Namespace) -> None:
    """``sensekit evaluate-policy`` (always-on, default, adaptive) on the held-out simulated
    days, per network and set of tables: the default rig's figures for the shipped default."""
    from sensekit.controller.default_policy import SHIPPED

    folder = args.data / "simulated"
    folder.mkdir(parents=True, exist_ok=True)
    days = [str(simulate_day(folder, "heldout", s, p)) for s, p in HELD_OUT_DAYS]
    out: dict[str, Any] = {"simulated": True, "days": [Path(d).name for d in days],
                           "default_point": SHIPPED.point, "by": {}}
    for network in ("sim_har", "default"):
        for tables in args.tables:
            began = time.time()
            rows = subprocess.run(
                [sys.executable, "-m", "sensekit", "evaluate-policy", *days, "--model", network,
                 "--tables", tables, "--json"], check=True, capture_output=True,
                text=True).stdout
            out["by"][f"{network} {tables}"] = [
                {k: r[k] for k in ("policy", "macro_f1", "accuracy", "sensor_j", "compute_j",
                                   "windows_processed")}
                for r in json.loads(rows) if r["recording"] == "pooled"]
            log(f"{network} {tables}: {time.time() - began:.0f} s")
    path = args.results / "policy_default_simulated.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    log(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    r = sub.add_parser("real", help="us_tmd by person and phone/")
    r.add_argument("--data", type=Path, default=Path("/tmp/sensekit-policy"))
    r.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    r.add_argument("--corpus", type=Path, default=CORPUS)
    r.add_argument("--folds", type=Path, help="folder of the network's per-person folds")
    r.add_argument("--network", default="default",
                   help="shipped network without --folds (and for the phone walks)")
    r.add_argument("--task", default="activity")
    r.add_argument("--tables", nargs="+", default=["pi-usb", "pi-i2s"])
    r.add_argument("--people", nargs="*", help="only these held-out people (a quick check)")
    r.add_argument("--draws", type=int, default=1000)
    m = sub.add_parser("simulated", help="the camera and its resolutions, on simulated days")
    m.add_argument("--data", type=Path, default=Path("/tmp/sensekit-policy"))
    m.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    m.add_argument("--tables", nargs="+", default=["pi-usb", "pi-i2s"])
    d = sub.add_parser("default", help="the shipped default policy on the held-out simulated "
                                       "days")
    d.add_argument("--data", type=Path, default=Path("/tmp/sensekit-policy"))
    d.add_argument("--results", type=Path, default=Path(__file__).parent / "results")
    d.add_argument("--tables", nargs="+", default=["pi-usb", "pi-i2s"])
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    args.data.mkdir(parents=True, exist_ok=True)
    if args.what == "real":
        real(args)
    elif args.what == "default":
        default_on_days(args)
    else:
        simulated(args)


if __name__ == "__main__":
    main()
