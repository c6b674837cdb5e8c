"""``sensekit demo``: replay the demo recording through the hub and write a short report.

The recording is a simulated three-minute day (:mod:`sensekit.testing.scenario`, seed 0):
``data/demo.mcap`` in a source checkout; an installed sensekit, which has no ``data/``,
regenerates the same recording (same seed, same content) once into its cache directory
(``$XDG_CACHE_HOME/sensekit``, by default ``~/.cache/sensekit``).

The demo lists the streams, replays every packet through a :class:`~sensekit.hub.Hub` to a
subscriber with live progress, and writes ``report.md`` with one matplotlib PNG per stream.
Later stages (alignment, fusion, controller, energy) add their part to the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import LogFormatError
from .outputs import add_force_argument, atomic_output, check_folder, check_output, refuse_stdout
from .packets import Packet, concat
from .progress import Progress

__all__ = ["add_arguments", "demo_recording", "run", "run_demo"]

#: Bump when the simulator's output changes, so caches regenerate.
DEMO_VERSION = 2

#: Stages later parts of sensekit add to the demo: title -> ``"module:function"``. Each is
#: called as ``function(streams, out_dir)`` with the replayed streams (``{name: Packet}``) and
#: returns Markdown for its section of the report (figures it writes go into ``out_dir``).
STAGES: dict[str, str] = {
    "Sampling policies: accuracy against energy": "sensekit.controller.demo:stage",
}


def _demo_config(quick: bool) -> Any:
    from .testing.scenario import SimConfig

    return SimConfig(duration_s=20.0) if quick else SimConfig()


def bundled_recording() -> Path | None:
    """``data/demo.mcap`` of a source checkout, if there is one."""
    path = Path(__file__).resolve().parents[1] / "data" / "demo.mcap"
    return path if path.is_file() else None


def cache_dir() -> Path:
    """Where an installed sensekit keeps what it regenerates."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sensekit"


def demo_recording(*, quick: bool = False, log: Callable[[str], None] = print) -> Path:
    """The demo recording: the bundled one, or one regenerated into the cache."""
    if not quick and (bundled := bundled_recording()) is not None:
        return bundled
    name = f"demo-v{DEMO_VERSION}-{'quick' if quick else 'seed0'}.mcap"
    path = cache_dir() / name
    if not path.is_file():
        log(f"generating the demo recording into {path} (once)")
        make_recording(path, quick=quick)
    return path


def make_recording(path: Path, *, quick: bool = False, seed: int | None = None,
                   duration_s: float | None = None) -> dict[str, int]:
    """Simulate the demo day into ``path`` (atomically: a partial file is never left).

    ``seed`` and ``duration_s`` make other days than the demo's (for experiments).
    """
    import dataclasses

    from .testing.scenario import simulate

    config = _demo_config(quick)
    if seed is not None:
        config = dataclasses.replace(config, seed=seed)
    if duration_s is not None:
        config = dataclasses.replace(config, duration_s=duration_s)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with Progress("simulating", 1.0, enabled=sys.stderr.isatty()) as progress:
        counts = simulate(tmp, config,
                          on_progress=lambda f: progress.update(f - progress.done))
    tmp.replace(path)
    return counts


# -- the run ---------------------------------------------------------------------------------
def replay_through_hub(path: Path, *, show_progress: bool = True) -> dict[str, Packet]:
    """Every stream of ``path``, as a subscriber of a hub received it."""
    from .hub import Hub
    from .log.replay import ReplaySource

    received: dict[str, list[Packet]] = {}
    with Hub() as hub, ReplaySource(f"replay://{path}", speed=0) as source:
        sub = hub.subscribe(name="demo")
        with Progress("replaying through the hub", source.total_samples(), unit=" samples",
                      enabled=show_progress) as progress:
            for packet in source:
                hub.publish(packet)
                for got in sub.poll(0.0):
                    received.setdefault(got.stream, []).append(got)
                    progress.update(len(got), info=got.stream)
        lost = {s: n for s, n in sub.lost.items() if n}
    if lost:
        print(f"the demo subscriber lost samples: {lost}", file=sys.stderr)
    return {s: concat(parts) for s, parts in received.items()}


def run_demo(out_dir: Path, *, quick: bool = False, recording: Path | None = None,
             force: bool = False) -> Path:
    """Run the demo; return the report's path.

    Raises:
        OutputRefused: ``out_dir`` holds a report and ``force`` is off, or is a file.
        LogFormatError: the recording is unreadable or holds no samples.
    """
    from .log.reader import LogReader

    started = time.monotonic()
    path = recording or demo_recording(quick=quick)
    inputs = [path]
    check_folder(out_dir, inputs=inputs)
    check_output(out_dir / "report.md", inputs=inputs, force=force, what="demo report")
    with LogReader(path) as log:
        infos = log.streams
        devices = log.devices()
        offset = log.wall_offset_ns
        where = f"cut off at byte {log.truncated_at}" if log.truncated_at is not None else ""
    if not any(s.samples for s in infos.values()):
        raise LogFormatError(f"{path} holds no samples to replay{f' ({where})' if where else ''}"
                             ". Hint: 'sensekit info' shows what it holds")
    print(f"recording: {path}")
    print(f"{'stream':<10} {'samples':>10} {'rate Hz':>9} {'seconds':>8}  source")
    for name, s in infos.items():
        source = devices.get(name, {}).get("driver", "?")
        print(f"{name:<10} {s.samples:>10,} {s.rate_hz:>9.2f} {s.duration_s:>8.1f}  {source}")
    streams = replay_through_hub(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    from .log.plots import plot_streams

    figures = plot_streams(streams, out_dir, devices)
    sections = _run_stages(streams, out_dir)
    if "labels" in streams:
        sections = {"What the day holds": _label_shares(streams["labels"], devices),
                    **sections}
    report = _write_report(out_dir, path, infos, figures, offset, time.monotonic() - started,
                           sections)
    print(f"report: {report}")
    return report


def _run_stages(streams: dict[str, Packet], out_dir: Path) -> dict[str, str]:
    import importlib

    sections = {}
    for title, target in STAGES.items():
        module_name, _, func_name = target.partition(":")
        stage = getattr(importlib.import_module(module_name), func_name)
        print(f"stage: {title}")
        sections[title] = str(stage(streams, out_dir))
    return sections


def _label_shares(labels: Packet, devices: dict[str, dict[str, str]]) -> str:
    """Share of the time spent in each activity and indoors, from the labels stream."""
    import json

    vocab = json.loads(devices.get("labels", {}).get("activity", "[]"))
    codes, counts = np.unique(labels["activity"], return_counts=True)
    parts = [f"{vocab[c] if c < len(vocab) else c} {n / len(labels):.0%}"
             for c, n in zip(codes.tolist(), counts.tolist(), strict=True)]
    indoor = float(np.mean(labels["indoor"])) if "indoor" in labels.fields else 0.0
    return f"Activities: {', '.join(parts)}. Indoors {indoor:.0%} of the time."


def _write_report(out_dir: Path, path: Path, infos: dict[str, Any], figures: dict[str, Path],
                  offset: int, elapsed_s: float, sections: dict[str, str]) -> Path:
    import datetime as dt

    start = min(s.start_ns for s in infos.values()) + offset
    when = dt.datetime.fromtimestamp(start / 1e9, dt.timezone.utc).isoformat(timespec="seconds")
    lines = ["# sensekit demo", "", f"Recording `{path.name}` (starts {when}); replaying it "
             f"through the hub and drawing the plots took {elapsed_s:.1f} s.", "",
             "| stream | modality | samples | rate (Hz) | duration (s) | gaps |",
             "|---|---|---:|---:|---:|---:|"]
    for name, s in infos.items():
        lines.append(f"| {name} | {s.modality or '-'} | {s.samples:,} | {s.rate_hz:.2f} | "
                     f"{s.duration_s:.1f} | {s.gaps} |")
    lines.append("")
    for name, fig in sorted(figures.items()):
        lines += [f"## {name}", "", f"![{name}]({fig.name})", ""]
    for title, text in sections.items():
        lines += ["", f"## {title}", "", text]
    report = out_dir / "report.md"
    with atomic_output(report, force=True) as tmp:  # checked at the start of the run
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", default="sensekit-demo",
                        help="folder for the report and plots (default: ./sensekit-demo)")
    parser.add_argument("--quick", action="store_true",
                        help="a 20-second recording instead of three minutes")
    parser.add_argument("--recording", help="replay this recording instead of the demo's")
    parser.add_argument("--make-recording", metavar="PATH",
                        help="only write the demo recording to PATH (how data/demo.mcap is made)")
    parser.add_argument("--seed", type=int, help="with --make-recording: another day (default 0)")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="with --make-recording: its length in seconds (default 180)")
    add_force_argument(parser)


def run(args: argparse.Namespace) -> int:
    if args.make_recording:
        check_output(args.make_recording, force=args.force)
        counts = make_recording(Path(args.make_recording), quick=args.quick, seed=args.seed,
                                duration_s=args.duration)
        print(f"wrote {args.make_recording}: " + ", ".join(
            f"{s} {n:,}" for s, n in sorted(counts.items())))
        return 0
    refuse_stdout(args.output, "a folder of plots and a report")
    recording = Path(args.recording) if args.recording else None
    run_demo(Path(args.output), quick=args.quick, recording=recording, force=args.force)
    return 0

