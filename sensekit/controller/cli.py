"""``sensekit evaluate-policy PATH... [--policy SPEC]... [--pareto] [--json] [-o FILE]
[--plot PNG]``.

Replays labelled recordings (files, or folders of ``.mcap`` files) under each policy and
reports, per recording and pooled over all of them: macro-F1, accuracy, detection delay,
sensor, compute and platform energy, total, battery life and the share of windows the network
processed. ``--pareto`` adds every static operating point the recordings allow (every subset
of their sensors x every rate and mode each part offers x duty cycles:
:func:`~sensekit.controller.operating.static_points`) and marks the static Pareto front of
macro-F1 against sensor + compute energy.

Policies are registered by name (:data:`~sensekit.controller.policies.POLICIES`):
``always-on`` (every sensor the recording has, at the rate it holds it), ``adaptive`` (or
``adaptive:still_windows=2,sure=0.85,base=accel/gyro``; ``optional=camera`` limits what doubt
brings back, ``optional=none`` brings nothing back), ``duty-cycle:ON/PERIOD`` (seconds),
``static:accel@5:accel_low_power+gps@1:power_save`` (an operating point), ``budget:MW``,
``nav-gps:25,inner=SPEC`` (SPEC with the GPS kept asleep while the GPS/IMU filter's position
sigma stays under 25 m; the location error column shows what that costs). The
network is the shipped ``default`` unless ``--model`` names another. Parts are priced by their
declared power tables, or a named set (``--tables pi-i2s``) or single parts (``--table
microphone=ics43434``).

``--json`` prints a list on stdout, one object per policy and per static point: ``policy``,
``macro_f1``, ``accuracy``, ``sensor_j``, ``compute_j``, ``total_j``, ``windows_processed``,
``front`` (on the static Pareto front), ``recording`` (its path, or ``pooled``) and the rest of
the result. With several recordings each one's rows hold its policies and its front, and the
pooled rows every static point. ``-o FILE`` writes what would be printed to FILE
(``--pareto --json -o profile.json`` makes a ``--profile``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cli import add_stdout_output
from ..errors import ConfigError
from ..fusion.inputs import configurations
from ..fusion.shipped import DEFAULT
from ..modalities import Modality, registered
from ..outputs import atomic_output, check_output
from ..power.model import load_power_model
from ..progress import Progress
from .energy import TABLE_SETS, configuration_power_w, modality_power_w, utility, with_tables
from .evaluate import PolicyResult, Recording, accuracy_of, evaluate_policy, macro_f1_of
from .front import FrontTable, front_flags, front_table, pool_tables
from .operating import OperatingPoint, as_recorded, recording_rates, static_points
from .policies import DEFAULT_POLICY, Policy, PolicyContext, policy_class, policy_from_spec
from .predictor import FusionPredictor, load_predictor
from .profile import Profile, load_profile
from .report import plot_fronts

DEFAULT_MODEL = DEFAULT
#: What ``evaluate-policy`` compares without ``--policy``: always-on, the shipped default (a
#: static point) and the adaptive policy.
DEFAULT_SPECS = ("always-on", DEFAULT_POLICY, "adaptive")
POOLED = "pooled"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logs", nargs="+", metavar="PATH",
                        help="labelled recordings (MCAP), or folders of them")
    parser.add_argument("--policy", action="append", default=[], metavar="SPEC",
                        help="policy to evaluate (repeat); default: always-on, default (the "
                             "shipped static point) and adaptive")
    parser.add_argument("--pareto", action="store_true",
                        help="also evaluate every static operating point the recordings allow")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="shipped network name or path of an exported .onnx.json manifest")
    parser.add_argument("--task", default="activity", help="task the policies act on")
    parser.add_argument("--platform", default="pi4",
                        help="power table of the board (floor and compute cost)")
    parser.add_argument("--tables", choices=sorted(TABLE_SETS), metavar="SET",
                        help=f"price parts by a named set of power tables: {sorted(TABLE_SETS)}")
    parser.add_argument("--table", action="append", default=[], metavar="PART=TABLE",
                        help="price one part by another power table (microphone=ics43434)")
    parser.add_argument("--battery-wh", type=float, default=10.0,
                        help="battery for the projected life (Wh)")
    parser.add_argument("--window-s", type=float, default=None,
                        help="decision window (s; default: the network's)")
    parser.add_argument("--max-off-s", type=float, default=60.0,
                        help="longest any sensor may stay off (s)")
    parser.add_argument("--profile", metavar="JSON",
                        help="the --pareto --json output of an earlier run on tuning "
                             "recordings: the budget policy ranks by it and the adaptive "
                             "policy takes its base point from it")
    parser.add_argument("--json", action="store_true",
                        help="print one object per policy and static point on stdout")
    parser.add_argument("--plot", metavar="PNG",
                        help="each recording's and the pooled front with the policies on it")
    add_stdout_output(parser, inputs=("logs", "profile", "model"))


def recording_paths(paths: Sequence[str]) -> list[str]:
    """Files as given; a folder stands for the ``.mcap`` files in it (sorted)."""
    out: list[str] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(str(f) for f in p.glob("*.mcap"))
            if not found:
                raise ConfigError(f"{p}: no .mcap recordings in this folder")
            out += found
        else:
            out.append(str(p))
    return out


def priced_modalities(args: argparse.Namespace) -> dict[str, Modality]:
    """The declared modalities, priced by the tables the options name."""
    tables = dict(TABLE_SETS[args.tables]) if args.tables else {}
    for item in args.table:
        part, sep, table = item.partition("=")
        if not sep or not part or not table:
            raise ConfigError(f"--table {item!r}: write PART=TABLE (microphone=ics43434)")
        tables[part] = table
    return with_tables(registered(), tables)


@dataclass
class Setup:
    """What every recording's evaluation shares."""

    net: FusionPredictor
    decls: dict[str, Modality]
    specs: list[str]
    profile: Profile | None
    points: list[OperatingPoint]
    window_s: float
    platform: str
    battery_wh: float
    max_off_s: float | None

    def table_modes(self) -> dict[str, tuple[str, ...]]:
        return {d.power.device: load_power_model(d.power.model).active_modes
                for d in self.decls.values() if d.power is not None}

    def carried(self, rec: Recording) -> dict[str, Modality]:
        """The declarations of the modalities ``rec`` carries."""
        return {m: d for m, d in self.decls.items() if d.stream_in(rec.streams) is not None}

    def always_on(self, rec: Recording) -> OperatingPoint:
        return as_recorded(self.carried(rec), self.table_modes(),
                           recording_rates(rec.streams, self.decls), self.net.modalities)

    def context(self, rec: Recording) -> PolicyContext:
        full = self.always_on(rec).configuration
        rates = {m: self.decls[m].rates_hz for m in full.modalities}
        return PolicyContext(full, rates, configurations(self.net.modalities, every_rate=False),
                             lambda c: configuration_power_w(c, self.decls),
                             self.profile.utility if self.profile is not None else utility,
                             modality_power_w(full, self.decls))

    def policy(self, spec: str, rec: Recording) -> Policy:
        name, _, arg = spec.partition(":")
        extra = _profiled(arg, self.profile) if name == "adaptive" else {}
        return policy_from_spec(spec, self.context(rec), extra)


def _profiled(arg: str, profile: Profile | None) -> dict[str, Any]:
    """The adaptive policy's base point and what doubt may bring back, from a profile."""
    if profile is None:
        return {}
    given = policy_class("adaptive").spec_params(arg)
    if "base" in given:
        return {}
    base = profile.base()
    out: dict[str, Any] = {"base_point": base}
    if "optional" not in given:
        out["optional"] = profile.helpful(base)
    return out


def load_recordings(paths: Sequence[str], task: str) -> list[Recording]:
    """The recordings, checked to label their classes alike."""
    recordings = [Recording.load(p, task=task) for p in paths]
    labelled = [r for r in recordings if r.labelled]
    classes = labelled[0].classes if labelled else []
    if any(r.classes != classes for r in labelled):
        raise ConfigError("the recordings label their classes differently: "
                          + "; ".join(f"{r.name}: {r.classes}" for r in labelled))
    return recordings


def prepare(args: argparse.Namespace, recordings: Sequence[Recording]) -> Setup:
    """Network, prices, policies and (with ``--pareto``) the static points to evaluate."""
    classes = next((r.classes for r in recordings if r.labelled), [])
    net = load_predictor(args.model, args.platform, args.task, classes)
    decls = priced_modalities(args)
    profile = load_profile(args.profile) if args.profile else None
    window_s = args.window_s or net.window_s
    setup = Setup(net, decls, list(args.policy or DEFAULT_SPECS), profile, [],
                  window_s, args.platform, args.battery_wh, args.max_off_s)
    for rec in recordings[:1]:
        for spec in setup.specs:  # a bad spec is reported before any replay runs
            setup.policy(spec, rec)
    if args.pareto:
        setup.points = sorted(_union_points(setup, recordings), key=OperatingPoint.name)
    return setup


def _union_points(setup: Setup, recordings: Sequence[Recording]) -> set[OperatingPoint]:
    """Every recording's static points (each recording's rates), together."""
    points: set[OperatingPoint] = set()
    for rec in recordings:
        points.update(static_points(setup.carried(rec), setup.table_modes(),
                                    recording_rates(rec.streams, setup.decls),
                                    setup.net.modalities))
    return points


def evaluate_recording(setup: Setup, rec: Recording
                       ) -> tuple[list[PolicyResult], FrontTable | None]:
    """Every policy of ``setup`` on ``rec`` (replayed window by window) and, if it has
    static points, their table (:func:`~sensekit.controller.front.front_table`)."""
    results = []
    for spec in setup.specs:
        result = evaluate_policy(rec, policy_factory(spec, setup, rec), setup.net,
                                 window_s=setup.window_s, platform=setup.platform,
                                 battery_wh=setup.battery_wh, max_off_s=setup.max_off_s,
                                 modalities=setup.decls)
        result.policy = spec
        results.append(result)
    table = front_table(rec, setup.points, setup.net, decls=setup.decls,
                        window_s=setup.window_s, platform=setup.platform) \
        if setup.points else None
    return results, table


@dataclass
class Report:
    """Each recording's results and the pooled ones."""

    per_recording: list[tuple[str, list[PolicyResult], list[PolicyResult]]]
    pooled: list[PolicyResult]
    statics: list[PolicyResult]


def evaluate_all(args: argparse.Namespace, paths: Sequence[str], *,
                 progress: bool = True) -> Report:
    """Every policy (and with ``--pareto`` every static point) on every recording, and
    pooled over them."""
    recordings = load_recordings(paths, args.task)
    setup = prepare(args, recordings)
    per: list[tuple[str, list[PolicyResult], list[PolicyResult]]] = []
    tables: list[FrontTable] = []
    policies: list[list[PolicyResult]] = []
    with Progress("evaluate-policy", len(recordings), unit=" recordings",
                  enabled=progress) as bar:
        for rec in recordings:
            results, table = evaluate_recording(setup, rec)
            statics = _marked(table.results(setup.battery_wh)) if table is not None else []
            per.append((rec.name, results, [r for r in statics if r.front]))
            policies.append(results)
            if table is not None:
                tables.append(table)
            bar.update(1, info=Path(rec.name).name)
    pooled = [combine(spec, [rs[k] for rs in policies]) for k, spec in enumerate(setup.specs)]
    statics = _marked(pool_tables(tables).results(setup.battery_wh)) if tables else []
    return Report(per, pooled, statics)


def _marked(statics: list[PolicyResult]) -> list[PolicyResult]:
    front = front_flags(statics)
    for r in statics:
        r.front = r.policy in front
    return statics


def evaluate_recordings(args: argparse.Namespace, paths: Sequence[str], *,
                        progress: bool = True) -> list[PolicyResult]:
    """The pooled rows over ``paths``: each policy, then every static point (front marked);
    what ``sensekit fleet evaluate-policy`` runs per recording."""
    report = evaluate_all(args, paths, progress=progress)
    return report.pooled + report.statics


def run(args: argparse.Namespace) -> int:
    paths = recording_paths(args.logs)
    inputs = [*paths, *(p for p in (args.profile, args.model) if p)]
    if args.plot:  # refused before hours of replay
        check_output(args.plot, inputs=inputs, force=args.force)
    report = evaluate_all(args, paths)
    if args.json:
        print(json.dumps(json_rows(report), indent=1))
    else:
        _print_report(report, args.battery_wh)
    if args.plot:
        with atomic_output(args.plot, inputs=inputs, force=args.force) as tmp:
            plot_fronts(report.per_recording, report.pooled, report.statics, str(tmp))
        print(f"plot: {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def json_rows(report: Report) -> list[dict[str, Any]]:
    """One object per policy and static point, each naming its recording (or ``pooled``)."""
    single = len(report.per_recording) == 1
    rows: list[dict[str, Any]] = []
    for name, results, front in report.per_recording:
        if not single:
            rows += [{**r.as_json(), "recording": name} for r in (*results, *front)]
    where = report.per_recording[0][0] if single else POOLED
    rows += [{**r.as_json(), "recording": where} for r in (*report.pooled, *report.statics)]
    return rows


def combine(name: str, results: Sequence[PolicyResult]) -> PolicyResult:
    """Pool one policy over several recordings: energies add, confusions add (macro-F1 over
    every window together), the rest weighted by duration."""
    total_s = sum(r.duration_s for r in results) or 1.0

    def mean(attr: str) -> float:
        vals = [(getattr(r, attr), r.duration_s) for r in results
                if not math.isnan(getattr(r, attr))]
        return float(sum(v * d for v, d in vals) / sum(d for _, d in vals)) if vals else math.nan

    def add(attr: str) -> float:
        return float(sum(getattr(r, attr) for r in results))

    counts = _sum_confusion([r.confusion for r in results])
    windows = sum(r.windows for r in results)
    total = add("total_j")
    parts: dict[str, float] = {}
    kinds: dict[str, float] = {}
    for r in results:
        for k, v in r.sensor_j_by_part.items():
            parts[k] = parts.get(k, 0.0) + v
        for k, v in r.compute_j_by_kind.items():
            kinds[k] = kinds.get(k, 0.0) + v
    life = results[0].battery_life_h * results[0].total_j / results[0].duration_s \
        if results[0].total_j > 0 else math.inf
    return PolicyResult(
        name, accuracy_of(counts), macro_f1_of(counts), add("sensor_j"), add("compute_j"),
        add("platform_j"), total,
        sum(r.windows_processed * r.windows for r in results) / max(windows, 1),
        mean("detection_delay_s"), mean("location_error_m"),
        life / (total / total_s) if total > 0 else math.inf, total_s, parts,
        sum(r.decisions for r in results), results[0].notes, kinds,
        sum(r.capped_windows for r in results), windows, False, counts, results[0].classes)


def _sum_confusion(matrices: Sequence[list[list[int]]]) -> list[list[int]]:
    size = max((len(m) for m in matrices), default=0)
    out = [[0] * (size + 1) for _ in range(size)]
    for m in matrices:
        for i, row in enumerate(m):
            for j, v in enumerate(row):
                out[i][j] += v
    return out


def _print_report(report: Report, battery_wh: float) -> None:
    if len(report.per_recording) > 1:
        for name, results, front in report.per_recording:
            print(f"\n{name}")
            _print(results + front, battery_wh, notes=False)
        print(f"\npooled over {len(report.per_recording)} recordings")
    _print(report.pooled + [r for r in report.statics if r.front], battery_wh)
    if report.statics:
        print(f"static points evaluated: {len(report.statics)}; on the front (*): "
              f"{sum(r.front for r in report.statics)} (--json lists them all)")


def _print(results: Sequence[PolicyResult], battery_wh: float, notes: bool = True) -> None:
    # the location error where the recordings have fixes (what sleeping the GPS costs)
    located = any(math.isfinite(r.location_error_m) for r in results)
    head = (f"{'policy':<44} {'macroF1':>7} {'acc':>6} {'sensor J':>9} {'compute J':>9} "
            f"{'floor J':>8} {'life h':>7} {'net %':>6} {'delay s':>7}"
            + (f" {'loc m':>7}" if located else ""))
    print(head)
    print("-" * len(head))
    for r in results:
        mark = "*" if r.front else " "
        print(f"{r.policy[:43]:<43}{mark} {r.macro_f1:7.3f} {r.accuracy:6.3f} "
              f"{r.sensor_j:9.3f} {r.compute_j:9.4f} {r.platform_j:8.1f} "
              f"{r.battery_life_h:7.1f} {100 * r.windows_processed:6.1f} "
              f"{r.detection_delay_s:7.1f}" + (f" {r.location_error_m:7.1f}" if located else ""))
    if notes and results:
        print(f"* on the static Pareto front of macro-F1 against sensor+compute energy; battery "
              f"{battery_wh:g} Wh; floor = the board idle, reported beside the sensors")
        print(f"note: {results[0].notes[0]}")


def policy_factory(spec: str, setup: Setup, rec: Recording) -> Callable[[], Policy]:
    """A fresh-policy factory for ``spec`` on ``rec``."""
    setup.policy(spec, rec)
    return lambda: setup.policy(spec, rec)


def rows_by_recording(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """``--json`` rows grouped by their ``recording``."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        out.setdefault(str(row.get("recording", POOLED)), []).append(row)
    return out
