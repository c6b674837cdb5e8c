"""Reports of a run folder: energy per phase (table), power trace with phases shaded (PNG).

``sensekit power report RUN`` calls :func:`render_report` again on a folder written by
:func:`sensekit.power.harness.measure`, so a report can be re-rendered (say with a battery
capacity) without measuring again. An estimate meter's figures are labelled as estimates in the
table, the text and the plot; what the meter does not see (``note``) is printed with them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LogFormatError
from ..outputs import atomic_output
from .integrate import Integral, trapezoid
from .markers import Phase
from .model import load_power_model
from .samples import Samples, read_samples

__all__ = ["PhaseRow", "Run", "load_run", "phase_rows", "render_report"]


@dataclass(frozen=True)
class Run:
    """A run folder read back: its ``run.json``, samples and phases."""

    folder: Path
    info: dict[str, Any]
    samples: Samples
    phases: list[Phase]

    @property
    def estimate(self) -> bool:
        return bool(self.info["meter"].get("estimate"))

    @property
    def floor_w(self) -> float:
        """The platform's idle power from its table, 0 when the platform is unknown."""
        platform = self.info.get("platform") or ""
        return load_power_model(platform).mode("idle").power_w if platform else 0.0


@dataclass(frozen=True)
class PhaseRow:
    """One line of the energy table."""

    name: str
    start_s: float
    integral: Integral
    floor_j: float
    complete: bool = True

    @property
    def above_floor_j(self) -> float:
        return self.integral.energy_j - self.floor_j * self.integral.coverage


def load_run(folder: Path | str) -> Run:
    """Read a run folder written by ``sensekit power measure``."""
    path = Path(folder)
    try:
        info = json.loads((path / "run.json").read_text())
    except (OSError, ValueError) as exc:
        raise LogFormatError(f"cannot read {path / 'run.json'}: {exc}. Hint: give the folder "
                             "'sensekit power measure' wrote") from exc
    rails = tuple(info["meter"].get("rails", ()))
    phases = [Phase(p["name"], p["start_ns"], p["end_ns"], p.get("complete", True))
              for p in info.get("phases", [])]
    return Run(path, info, read_samples(path, rails), phases)


def phase_rows(run: Run) -> list[PhaseRow]:
    """The workload as a whole, the idle baseline when one was taken, then each phase."""
    info, s = run.info, run.samples
    spans = [("workload", info["start_ns"], info["end_ns"], True)]
    if info.get("settle_s"):
        spans.insert(0, ("baseline (before)", info["begin_ns"], info["start_ns"], True))
    spans += [(p.name, p.start_ns, p.end_ns, p.complete) for p in run.phases]
    rows = []
    for name, a, b, complete in spans:
        integral = trapezoid(s.t_ns, s.total_w, a, b)
        rows.append(PhaseRow(name, (a - info["begin_ns"]) / 1e9, integral,
                             run.floor_w * (b - a) / 1e9, complete))
    return rows


def format_table(run: Run) -> str:
    """The energy table as Markdown, labelled as an estimate when it is one."""
    unit = "J (ESTIMATE)" if run.estimate else "J"
    lines = [f"| phase | start s | duration s | energy {unit} | mean W | floor J | "
             "above floor J | covered | gaps |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in phase_rows(run):
        i = r.integral
        name = r.name if r.complete else f"{r.name} (no end marker)"
        lines.append(f"| {name} | {r.start_s:.3f} | {i.window_s:.3f} | {i.energy_j:.3f} | "
                     f"{i.average_w:.3f} | {r.floor_j:.3f} | {r.above_floor_j:.3f} | "
                     f"{i.coverage:.1%} | {len(i.gaps)} |")
    return "\n".join(lines)


def report_text(run: Run) -> str:
    """The whole Markdown report."""
    info, meter = run.info, run.info["meter"]
    head = [f"# Power report: {' '.join(info['command'])}", ""]
    if run.estimate:
        head += ["**ESTIMATE, not a measurement.** No power meter was used; the figures come "
                 "from the model below.", ""]
    head += [f"- meter: {meter['meter']} ({meter.get('url', '')}), "
             f"{info.get('rate_hz') or 0:g} Hz, {len(run.samples)} samples",
             f"- rails: {', '.join(meter.get('rails', []))}; total: "
             f"{meter.get('total') or 'sum of rails'}",
             f"- what it does not see / how it works: {meter.get('note') or '-'}",
             f"- exit code: {info['exit_code']}; started {info['started_utc']}"]
    if info.get("platform"):
        head.append(f"- platform floor ({info['platform']} table, idle): {run.floor_w:.2f} W; "
                    "'above floor' is what the workload and sensors added to it")
    rows = phase_rows(run)
    workload = next(r for r in rows if r.name == "workload").integral
    if info.get("battery_wh") and workload.covered_s > 0:
        hours = float(info["battery_wh"]) / workload.average_w
        head.append(f"- projected battery life at the workload's mean {workload.average_w:.2f} W"
                    f" on {info['battery_wh']:g} Wh: {hours:.1f} h")
    problems = _problems(info, workload)
    return "\n".join([*head, "", format_table(run), "", *problems, "![power](power.png)", ""])


def _problems(info: dict[str, Any], workload: Integral) -> list[str]:
    out = []
    for a, b in workload.gaps:
        out.append(f"- gap without samples: {(a - info['begin_ns']) / 1e9:.3f} s to "
                   f"{(b - info['begin_ns']) / 1e9:.3f} s (not bridged)")
    m = info.get("markers", {})
    if m.get("malformed") or m.get("unmatched_ends"):
        out.append(f"- markers: {m.get('malformed', 0)} malformed, "
                   f"{m.get('unmatched_ends', 0)} ends without a start")
    if info.get("meter_errors"):
        out.append(f"- meter errors: {len(info['meter_errors'])}, first: "
                   f"{info['meter_errors'][0]}")
    return [*out, ""] if out else []


def plot_power(run: Run, path: Path) -> Path:
    """Draw the power trace with phases shaded and gaps hatched into ``path`` (PNG, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info, s = run.info, run.samples
    t0 = info["begin_ns"]
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    x = (s.t_ns - t0) / 1e9
    total = info["meter"].get("total")
    label = f"board total ({total or 'sum of rails'})"
    ax.plot(x, s.total_w, color="black", lw=1.2,
            label=f"{label} ESTIMATE" if run.estimate else label)
    if 1 < len(s.rails) <= 8:
        for j, rail in enumerate(s.rails):
            if rail != total and not np.all(np.isnan(s.power_w[:, j])):
                ax.plot(x, s.power_w[:, j], lw=0.7, alpha=0.8, label=rail)
    colours = plt.get_cmap("tab10")
    for k, p in enumerate(run.phases):
        ax.axvspan((p.start_ns - t0) / 1e9, (p.end_ns - t0) / 1e9, color=colours(k % 10),
                   alpha=0.15, lw=0)
        ax.text((p.start_ns - t0) / 1e9, 1.0, f" {p.name}", transform=ax.get_xaxis_transform(),
                va="bottom", fontsize=8, rotation=20, parse_math=False)
    for a, b in trapezoid(s.t_ns, s.total_w, t0, info["finish_ns"]).gaps:
        ax.axvspan((a - t0) / 1e9, (b - t0) / 1e9, facecolor="none", hatch="//",
                   edgecolor="grey", lw=0)
    for edge in (info["start_ns"], info["end_ns"]):
        ax.axvline((edge - t0) / 1e9, color="grey", ls="--", lw=0.8)
    ax.set_ylim(bottom=0)
    if run.floor_w:
        ax.axhline(run.floor_w, color="grey", ls=":", lw=1, label="platform floor (table)")
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel("power (W, ESTIMATE)" if run.estimate else "power (W)")
    title = f"{info['meter']['meter']}: {' '.join(info['command'])}"[:90]
    # A command or phase name is shown as written: '$' must not start matplotlib's mathtext.
    ax.set_title(("ESTIMATE - " if run.estimate else "") + title, fontsize=9, pad=24,
                 parse_math=False)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, format="png")  # the name may be a temporary one without .png
    plt.close(fig)
    return path


def render_report(folder: Path | str, *, battery_wh: float | None = None) -> Path:
    """Write ``report.md`` and ``power.png`` into a run folder; return the report's path."""
    run = load_run(folder)
    if battery_wh is not None:
        run.info["battery_wh"] = battery_wh
    with atomic_output(run.folder / "power.png", force=True) as tmp:
        plot_power(run, tmp)
    out = run.folder / "report.md"
    with atomic_output(out, force=True) as tmp:
        tmp.write_text(report_text(run))
    return out
