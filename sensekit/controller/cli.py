"""``sensekit evaluate-policy LOG... --policy ... [--json] [-o FILE] [--plot PNG]``.

Replays labelled recordings under each policy and prints, per policy: macro-F1, accuracy,
detection delay, sensor, compute and platform energy, total, battery life and the fraction of
windows the network processed; then draws accuracy against energy with the static
configurations' Pareto front.

Policies are registered by name (:data:`~sensekit.controller.policies.POLICIES`):
``always-on``, ``adaptive`` (or ``adaptive:still_windows=2,sure=0.85,base=accel/gyro``;
``optional=camera`` limits what doubt brings back, ``optional=none`` brings nothing back),
``duty-cycle:ON/PERIOD`` (seconds), ``static:accel@50+audio@50``, ``budget:MW``. The network is
the shipped ``default`` unless ``--model`` names another.
``--pareto`` adds every static configuration the network declares (one per modality subset at
native rates, plus each single rate reduction).
``--json`` prints one object per policy on stdout instead of the table; ``-o FILE`` writes
what would be printed to FILE (``--pareto --json -o profile.json`` makes a ``--profile``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..cli import add_stdout_output
from ..errors import ConfigError
from ..fusion.inputs import Configuration, configurations, default_configuration
from ..fusion.shipped import DEFAULT
from ..outputs import atomic_output, check_output
from ..progress import Progress
from .energy import configuration_power_w, modality_power_w, utility
from .evaluate import PolicyResult, Recording, carried, evaluate_policy
from .policies import Policy, PolicyContext, Static, policy_class, policy_from_spec
from .predictor import FusionPredictor, load_predictor
from .profile import Profile, load_profile
from .report import pareto_front, plot_results

DEFAULT_MODEL = DEFAULT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logs", nargs="+", help="labelled recordings (MCAP)")
    parser.add_argument("--policy", action="append", default=[], metavar="SPEC",
                        help="policy to evaluate (repeat); default: always-on and adaptive")
    parser.add_argument("--pareto", action="store_true",
                        help="also evaluate every static configuration the network declares")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="shipped network name or path of an exported .onnx.json manifest")
    parser.add_argument("--task", default="activity", help="task the policies act on")
    parser.add_argument("--platform", default="pi4",
                        help="power table of the board (floor and inference cost)")
    parser.add_argument("--battery-wh", type=float, default=10.0,
                        help="battery for the projected life (Wh)")
    parser.add_argument("--window-s", type=float, default=2.0, help="decision window (s)")
    parser.add_argument("--max-off-s", type=float, default=60.0,
                        help="longest any sensor may stay off (s)")
    parser.add_argument("--profile", metavar="JSON",
                        help="per-configuration results of an earlier '--pareto --json -o "
                             "FILE' run on tuning recordings: the budget policy ranks by them "
                             "and the adaptive policy takes its base set from them")
    parser.add_argument("--json", action="store_true",
                        help="print one object per policy as JSON instead of the table")
    parser.add_argument("--plot", metavar="PNG", help="accuracy-versus-energy plot")
    add_stdout_output(parser, inputs=("logs", "profile", "model"))


def policy_factory(spec: str, full: Configuration, net: FusionPredictor,
                   supported: Sequence[Configuration], platform: str,
                   profile: Profile | None = None) -> Callable[[], Policy]:
    """A fresh-policy factory for ``spec`` (see the module docstring); building it once here
    reports a bad spec before any replay runs."""
    name, _, arg = spec.partition(":")
    if name == "static":
        Configuration.parse(arg).check(net.modalities)
    ctx = PolicyContext(full, {m: net.modalities[m].rates_hz for m in full.modalities},
                        supported, configuration_power_w,
                        profile.utility if profile is not None else utility,
                        modality_power_w(full))
    extra = _profiled(arg, full, profile) if name == "adaptive" else {}
    policy_from_spec(spec, ctx, extra)
    return lambda: policy_from_spec(spec, ctx, extra)


def _profiled(arg: str, full: Configuration, profile: Profile | None) -> dict[str, Any]:
    """The adaptive policy's base set and what doubt may bring back, from a profile."""
    if profile is None:
        return {}
    given = policy_class("adaptive").spec_params(arg)
    base = given.get("base", tuple(sorted(profile.base().modalities)))
    out: dict[str, Any] = {} if "base" in given else {"base": base}
    if "optional" not in given:
        config = Configuration({m: full.rates[m] for m in base if m in full.rates})
        out["optional"] = profile.helpful(config)
    return out


def static_factory(config: Configuration) -> Callable[[], Policy]:
    return lambda: Static(config)


def evaluate_recordings(args: argparse.Namespace, paths: Sequence[str], *,
                        progress: bool = True) -> list[PolicyResult]:
    """Every policy the options name, replayed over the recordings ``paths`` and pooled:
    what the command prints (``sensekit fleet evaluate-policy`` runs it per recording)."""
    recordings = [Recording.load(p, task=args.task) for p in paths]
    labelled = [r for r in recordings if r.labelled]
    classes = labelled[0].classes if labelled else []
    if any(r.classes != classes for r in labelled):
        raise ConfigError("the recordings label their classes differently: "
                          + "; ".join(f"{r.name}: {r.classes}" for r in labelled))
    net = load_predictor(args.model, args.platform, args.task, classes)
    mods = carried(net.modalities, recordings)
    supported = configurations(mods, every_rate=False)
    full = default_configuration(mods)
    specs = args.policy or ["always-on", "adaptive"]
    profile = load_profile(args.profile) if args.profile else None
    factories = [(s, policy_factory(s, full, net, supported, args.platform, profile))
                 for s in specs]
    if args.pareto:
        factories += [(f"static:{c.name()}", static_factory(c)) for c in supported]
    results: list[PolicyResult] = []
    with Progress("evaluate-policy", len(factories) * len(recordings), unit=" runs",
                  enabled=progress) as bar:
        for spec, make in factories:
            per_log = [evaluate_policy(rec, make, net, supported=supported,
                                       window_s=args.window_s, platform=args.platform,
                                       battery_wh=args.battery_wh, max_off_s=args.max_off_s)
                       for rec in recordings]
            bar.update(len(recordings), info=spec)
            results.append(_combine(spec, per_log))
    return results


def run(args: argparse.Namespace) -> int:
    inputs = [*args.logs, *(p for p in (args.profile, args.model) if p)]
    if args.plot:  # refused before hours of replay (-o FILE is checked before run)
        check_output(args.plot, inputs=inputs, force=args.force)
    results = evaluate_recordings(args, args.logs)
    if args.json:
        print(json.dumps([r.as_json() for r in results], indent=2))
    else:
        _print(results, args.battery_wh)
    if args.plot:
        with atomic_output(args.plot, inputs=inputs, force=args.force) as tmp:
            plot_results(results, str(tmp))
        print(f"plot: {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _combine(name: str, results: Sequence[PolicyResult]) -> PolicyResult:
    """Pool several recordings: energies add, scores are weighted by duration."""
    if len(results) == 1:
        out = results[0]
        out.policy = name
        return out
    total_s = sum(r.duration_s for r in results)

    def mean(attr: str) -> float:
        return float(sum(getattr(r, attr) * r.duration_s for r in results) / total_s)

    def add(attr: str) -> float:
        return float(sum(getattr(r, attr) for r in results))

    by_stream: dict[str, float] = {}
    for r in results:
        for k, v in r.sensor_j_by_stream.items():
            by_stream[k] = by_stream.get(k, 0.0) + v
    life = results[0].battery_life_h * results[0].total_j / results[0].duration_s
    total = add("total_j")
    return PolicyResult(name, mean("accuracy"), mean("macro_f1"), add("sensor_j"),
                        add("compute_j"), add("platform_j"), total, mean("windows_processed"),
                        mean("detection_delay_s"), mean("location_error_m"),
                        life / (total / total_s), total_s, by_stream,
                        sum(r.decisions for r in results), results[0].notes)


def _print(results: Sequence[PolicyResult], battery_wh: float) -> None:
    front = {r.policy for r in pareto_front(results)}
    head = (f"{'policy':<34} {'macroF1':>7} {'acc':>6} {'sensor J':>9} {'compute J':>9} "
            f"{'floor J':>8} {'total J':>8} {'life h':>7} {'net %':>6} {'delay s':>7}")
    print(head)
    print("-" * len(head))
    for r in results:
        mark = "*" if r.policy in front else " "
        print(f"{r.policy[:33]:<33}{mark} {r.macro_f1:7.3f} {r.accuracy:6.3f} {r.sensor_j:9.2f} "
              f"{r.compute_j:9.3f} {r.platform_j:8.1f} {r.total_j:8.1f} {r.battery_life_h:7.1f} "
              f"{100 * r.windows_processed:6.1f} {r.detection_delay_s:7.1f}")
    print(f"* on the Pareto front of macro-F1 against sensor+compute energy; battery "
          f"{battery_wh:g} Wh; floor = the board idle, reported beside the sensors")
    if results:
        print(f"note: {results[0].notes[0]}")
