"""The measurement harness: run a workload while a meter is sampled in a thread.

:func:`measure` starts the meter thread and a marker listener (see :mod:`sensekit.power.phase`),
runs the command with ``SENSEKIT_POWER_MARKERS`` set (:mod:`sensekit.power.workload`: a workload
that is not found, fails or is killed is recorded with a shell's exit status; SIGINT and SIGTERM
stop it and the run is still written), and writes a run folder:

- ``run.json``: the command, how it ended, start and end (host monotonic ns and UTC), the
  meter (name, URL, rails, which rail is the total, whether it is an estimate, what it does
  not see), the platform, phases, lost markers and meter errors;
- ``samples.csv`` (and ``samples.parquet`` when pyarrow is installed): one row per reading,
  ``t_ns``, ``t_s`` from the start, ``total_w``, and ``<rail>_voltage_v``, ``<rail>_current_a``,
  ``<rail>_power_w`` per rail;
- the report (:mod:`sensekit.power.report`): ``report.md`` and ``power.png``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import select
import socket
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DeviceError, OutputRefused
from ..outputs import FORCE_HINT, atomic_output, check_folder
from ..packets import Packet
from .markers import ENV_VAR, Phase, pair_markers, parse_marker
from .meters.base import Meter
from .meters.estimate import detect_platform
from .samples import write_samples
from .workload import WorkloadResult, run_workload

__all__ = ["MarkerListener", "MeterSampler", "measure"]

log = logging.getLogger(__name__)

RUN_FORMAT = 1

#: What a run folder holds; a folder holding any of them is replaced only with ``force``.
RUN_FILES = ("run.json", "samples.csv", "samples.parquet", "report.md", "power.png")


class MarkerListener:
    """Receives phase markers on a unix datagram socket or a FIFO, in a thread.

    Args:
        folder: Where to create the socket or FIFO.
        kind: ``"socket"`` or ``"fifo"``.
    """

    def __init__(self, folder: Path, kind: str = "socket") -> None:
        if kind not in ("socket", "fifo"):
            raise ConfigError(f"marker channel must be 'socket' or 'fifo', not {kind!r}")
        self.kind = kind
        self.path = folder / f"markers.{kind}"
        self.events: list[tuple[str, int, str]] = []
        self.malformed = 0
        self._stop = threading.Event()
        self._buffer = b""
        if kind == "socket":
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.bind(str(self.path))
            self._sock.setblocking(False)
            self._fd = self._sock.fileno()
        else:
            os.mkfifo(self.path)
            self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            # Holding a writer open ourselves keeps the reader from seeing end-of-file
            # between workload writers.
            self._keep = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        self._thread = threading.Thread(target=self._run, name="power-markers", daemon=True)

    def start(self) -> MarkerListener:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.05)
            if ready:
                self._drain()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            if not data:
                return
            arrived = time.monotonic_ns()
            self._buffer += data
            *lines, self._buffer = self._buffer.split(b"\n")
            for line in lines:
                event = parse_marker(line.decode("utf-8", "replace"), arrived)
                if event is None:
                    self.malformed += 1
                else:
                    self.events.append(event)

    def stop(self) -> None:
        """Stop listening after reading what has arrived, and remove the socket or FIFO."""
        self._stop.set()
        self._thread.join(2.0)
        self._drain()
        if self.kind == "socket":
            self._sock.close()
        else:
            os.close(self._fd)
            os.close(self._keep)
        self.path.unlink(missing_ok=True)


class MeterSampler:
    """Reads a meter in a thread until stopped; meter errors are counted, not raised."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.packets: list[Packet] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._first = threading.Event()
        self._thread = threading.Thread(target=self._run, name="power-meter", daemon=True)

    def start(self, wait_first_s: float = 2.0) -> MeterSampler:
        """Start sampling; wait until the first reading is in (so the run starts covered)."""
        self._thread.start()
        self._first.wait(wait_first_s)
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                packet = self.meter.read(timeout_s=0.1)
            except Exception as exc:  # a failing meter must not end the run: it is a gap
                self.errors.append(str(exc) if isinstance(exc, DeviceError) else repr(exc))
                log.warning("power meter: %s", exc)
                self._stop.wait(0.1)
                continue
            if packet is not None:
                self.packets.append(packet)
                self._first.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


def measure(command: Sequence[str], meter: Meter, out_dir: Path | str, *,
            markers: str = "socket", platform: str | None = None,
            settle_s: float = 0.0, notes: Mapping[str, Any] | None = None,
            battery_wh: float | None = None, render: bool = True,
            force: bool = False) -> Path:
    """Run ``command`` while sampling ``meter``; write the run folder and return its path.

    How the workload ended is in ``run.json`` (``exit_code`` as a shell gives it, ``signal``,
    ``error``, ``interrupted_by``); the run is written whatever the workload did.

    Args:
        command: The workload, as for :class:`subprocess.Popen`.
        meter: An open meter (its clock must be the host monotonic clock).
        out_dir: The run folder (created).
        markers: Marker channel, ``"socket"`` or ``"fifo"``.
        platform: Power table of the board for the floor (default: detected, may be none).
        settle_s: Seconds sampled before and after the workload (the idle baseline).
        notes: Campaign facts recorded in ``run.json`` (PSU, ambient temperature...).
        battery_wh: Battery capacity for the projected battery life in the report.
        render: Write the report (``report.md``, ``power.png``) as well.
        force: Replace the run a folder already holds.

    Raises:
        OutputRefused: ``out_dir`` is a file, or holds a run and ``force`` is off.
    """
    if not command:
        raise ConfigError("sensekit power measure needs a command after '--'")
    out = check_run_folder(out_dir, force=force)
    started_utc = dt.datetime.now(dt.timezone.utc).isoformat()
    with tempfile.TemporaryDirectory(prefix="sensekit-power-") as tmp:
        listener = MarkerListener(Path(tmp), markers).start()
        sampler = MeterSampler(meter).start()
        try:
            times, result = _run_between_baselines(command, meter, listener, settle_s)
        finally:
            sampler.stop()
            listener.stop()
    phases, unmatched = pair_markers(listener.events, times["end_ns"])
    info = {
        "format": RUN_FORMAT, "command": list(command), "exit_code": result.exit_code,
        "signal": result.signal, "error": result.error,
        "interrupted_by": result.interrupted_by,
        "started_utc": started_utc, **times, "rate_hz": meter.rate_hz,
        "meter": {k: list(v) if isinstance(v, tuple) else v for k, v in meter.meta.items()},
        "platform": _platform(platform, meter), "settle_s": settle_s,
        "phases": [_phase_json(p) for p in phases], "battery_wh": battery_wh,
        "markers": {"channel": markers, "malformed": listener.malformed,
                    "unmatched_ends": unmatched},
        "meter_errors": sampler.errors, "notes": dict(notes or {}),
    }
    write_samples(out, sampler.packets, times["begin_ns"])
    with atomic_output(out / "run.json", force=True) as tmp_json:
        tmp_json.write_text(json.dumps(info, indent=2) + "\n")
    if render:
        from .report import render_report

        render_report(out)
    return out


def check_run_folder(path: Path | str, *, force: bool = False) -> Path:
    """The run folder, created; refused when it is a file or holds a run (without ``force``).

    Raises:
        OutputRefused: as above.
    """
    folder = check_folder(path)
    held = [name for name in RUN_FILES if (folder / name).exists()]
    if held and not force:
        raise OutputRefused(f"{folder} holds a run already ({', '.join(held)}). "
                            f"Hint: {FORCE_HINT}")
    return folder


def _run_between_baselines(command: Sequence[str], meter: Meter, listener: MarkerListener,
                           settle_s: float) -> tuple[dict[str, int], WorkloadResult]:
    """Idle baseline, workload, idle baseline (skipped when the harness was interrupted)."""
    t_begin = meter.clock.now_ns()
    meter.clock.sleep(settle_s)
    t_start = meter.clock.now_ns()
    result = run_workload(command, {**os.environ, ENV_VAR: str(listener.path)})
    t_end = meter.clock.now_ns()
    if result.interrupted_by is None:
        meter.clock.sleep(settle_s)
    times = {"begin_ns": t_begin, "start_ns": t_start, "end_ns": t_end,
             "finish_ns": meter.clock.now_ns()}
    return times, result


def _platform(given: str | None, meter: Meter) -> str:
    """The platform table for the floor: given, the estimate meter's own, or detected."""
    if given is not None:
        return given
    return str(getattr(meter, "platform", "") or detect_platform(Path("/")) or "")


def _phase_json(p: Phase) -> dict[str, Any]:
    return {"name": p.name, "start_ns": p.start_ns, "end_ns": p.end_ns, "complete": p.complete}
