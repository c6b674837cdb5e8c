"""The demo's controller stage: the whole pipeline on the demo recording.

Replay (honest recorded devices), controller, aligner, fusion network under ONNX Runtime and
energy ledger, first with a live view of the adaptive policy, then every policy and static
configuration compared: a table and the accuracy-versus-energy plot.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..packets import Packet
from .evaluate import PolicyResult, Recording, WindowView, carried, evaluate_policy

__all__ = ["stage"]

#: Policies the demo compares (besides every static configuration).
POLICIES = ("always-on", "adaptive", "duty-cycle:10/60", "budget:100")


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
    from ..errors import DriverUnavailable
    from ..fusion.inputs import configurations, default_configuration
    from ..fusion.shipped import DEFAULT
    from ..testing.scenario import ACTIVITIES
    from .cli import policy_factory, static_factory
    from .predictor import load_predictor
    from .report import pareto_front, plot_results

    rec = Recording.from_streams("demo", streams, list(ACTIVITIES))
    try:
        net = load_predictor(DEFAULT, "pi4", "activity", rec.classes)
    except DriverUnavailable as exc:
        return f"Skipped: {exc}"
    mods = carried(net.modalities, [rec])  # the demo rig's IMU has no magnetometer
    supported = configurations(mods, every_rate=False)
    full = default_configuration(mods)
    print("live view of the adaptive policy (every 10 s):")
    make = {spec: policy_factory(spec, full, net, supported, "pi4") for spec in POLICIES}
    win = net.window_s  # the windows the network was trained on
    results = [evaluate_policy(rec, make["adaptive"], net, supported=supported,
                               on_window=_live, window_s=win)]
    results[0].policy = "adaptive"
    for spec in POLICIES:
        if spec != "adaptive":
            results.append(evaluate_policy(rec, make[spec], net, supported=supported,
                                           window_s=win))
            results[-1].policy = spec
    for config in supported:
        results.append(evaluate_policy(rec, static_factory(config), net, supported=supported,
                                       window_s=win))
        results[-1].policy = f"static:{config.name()}"
    plot = out_dir / "policies.png"
    plot_results(results, str(plot))
    table = _table([r for r in results if not r.policy.startswith("static:")],
                   {r.policy for r in pareto_front(results)})
    best = pareto_front([r for r in results if r.policy.startswith("static:")])
    print(table)
    return (f"{table}\n\nStatic configurations evaluated: {len(supported)}; their Pareto front "
            f"has {len(best)} points. Energies are modelled from the power tables; rates "
            f"below the recorded ones are decimated replays. The demo day (seed 0) is one the "
            f"shipped network was trained on, so its scores show the pipeline working, not "
            f"accuracy: `sensekit evaluate-policy` on days with new seeds measures that."
            f"\n\n![policies]({plot.name})")


def _table(results: list[PolicyResult], front: set[str]) -> str:
    rows = ["| policy | macro-F1 | accuracy | sensor J | compute J | network ran | front |",
            "|---|---|---|---|---|---|---|"]
    rows += [f"| {r.policy} | {r.macro_f1:.3f} | {r.accuracy:.3f} | {r.sensor_j:.2f} | "
             f"{r.compute_j:.3f} | {r.windows_processed:.0%} | "
             f"{'yes' if r.policy in front else ''} |" for r in results]
    return "\n".join(rows)
