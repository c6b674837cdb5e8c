"""The demo's controller stage: the whole pipeline on the demo recording.

Replay (honest recorded devices), controller, aligner, fusion network under ONNX Runtime and
energy ledger, first with a live view of the adaptive policy, then every policy and static
configuration compared: a table and the accuracy-versus-energy plot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..packets import Packet
from .evaluate import PolicyResult, Recording, WindowView, evaluate_policy
from .operating import OperatingPoint

if TYPE_CHECKING:
    from .cli import Setup

__all__ = ["stage"]

#: Policies the demo compares (besides every static configuration): ``default`` is what a rig
#: runs when it names no policy (the shipped static point).
POLICIES = ("always-on", "default", "adaptive", "duty-cycle:10/60", "budget:100")


def _live(view: WindowView) -> None:
    if int(view.t_s) % 10:
        return
    states = ", ".join(f"{s} {state}" for s, state in sorted(view.states.items()))
    conf = "-" if view.confidence is None else f"{view.confidence:.2f}"
    net = "ran" if view.ran_network else "skipped"
    print(f"  t={view.t_s:5.0f}s  {view.prediction:<8} (truth {view.truth:<8} p={conf})  "
          f"sensors {1e3 * view.sensor_w:6.1f} mW  network {net:<7}  [{states}]")


def stage(streams: Mapping[str, Packet], out_dir: Path) -> str:
    """Run the policies on the replayed streams; return the report section (Markdown)."""
    if "labels" not in streams:
        return "The recording has no labels stream: policies cannot be scored."
    from argparse import Namespace

    from ..errors import DriverUnavailable
    from ..fusion.shipped import DEFAULT
    from ..testing.scenario import ACTIVITIES
    from .cli import policy_factory, prepare
    from .front import front_table
    from .report import pareto_front, plot_results

    rec = Recording.from_streams("demo", streams, list(ACTIVITIES))
    args = Namespace(model=DEFAULT, platform="pi4", task="activity", tables=None, table=[],
                     profile=None, window_s=None, policy=list(POLICIES), pareto=False,
                     battery_wh=10.0, max_off_s=60.0)
    try:
        setup = prepare(args, [rec])
    except DriverUnavailable as exc:
        return f"Skipped: {exc}"
    print("live view of the adaptive policy (every 10 s):")
    results = []
    for spec in POLICIES:
        result = evaluate_policy(rec, policy_factory(spec, setup, rec), setup.net,
                                 modalities=setup.decls,
                                 on_window=_live if spec == "adaptive" else None)
        result.policy = spec
        results.append(result)
    statics = front_table(rec, demo_points(setup, rec), setup.net, decls=setup.decls,
                          window_s=setup.window_s).results()
    plot = out_dir / "policies.png"
    plot_results(results + statics, str(plot))
    front = {r.policy for r in pareto_front(statics)}
    table = _table(results, {r.policy for r in pareto_front(results + statics)})
    print(table)
    caveat = (f"The network is the shipped `{DEFAULT}`, trained on real phone recordings "
              "(still, walking and vehicles; no running or cycling). The demo day is simulated "
              "and holds running and cycling, so its scores show the pipeline working, not the "
              "network's accuracy: `fusion/README.md` gives that on real people it never saw, "
              "and `sensekit evaluate-policy` measures it on your own labelled recordings.")
    print(caveat)
    return (f"{table}\n\nStatic operating points evaluated: {len(statics)}; their Pareto front "
            f"has {len(front)} points. Energies are modelled from the power tables; rates "
            f"below the recorded ones are replayed through each part's decimation path. "
            f"{caveat}\n\n![policies]({plot.name})")


def demo_points(setup: Setup, rec: Recording) -> list[OperatingPoint]:
    """A sample of the static front for the demo (``sensekit evaluate-policy --pareto``
    enumerates all of it): every subset of the network's inputs as recorded, each input's
    reduced rates, and the always-on point with each economy mode (GPS power-save, the
    camera's full readout)."""
    from ..fusion.inputs import Configuration, configurations

    full = setup.always_on(rec)
    inputs = {m: r for m, r in full.rates.items() if m in setup.net.modalities}
    points = [OperatingPoint(c) for c in configurations(
        {m: replace(setup.net.modalities[m], rates_hz=(r, *(x for x in setup.net.modalities[m]
                                                            .rates_hz if x < r)))
         for m, r in inputs.items()}, every_rate=False)]
    for m, decl in setup.decls.items():
        for mode in (decl.turn_down.economy, decl.turn_down.photo_mode):
            if mode and m in inputs:
                points.append(OperatingPoint(Configuration(inputs), {m: mode}))
    return points


def _table(results: list[PolicyResult], front: set[str]) -> str:
    rows = ["| policy | macro-F1 | accuracy | sensor J | compute J | network ran | front |",
            "|---|---|---|---|---|---|---|"]
    rows += [f"| {r.policy} | {r.macro_f1:.3f} | {r.accuracy:.3f} | {r.sensor_j:.2f} | "
             f"{r.compute_j:.3f} | {r.windows_processed:.0%} | "
             f"{'yes' if r.policy in front else ''} |" for r in results]
    return "\n".join(rows)
