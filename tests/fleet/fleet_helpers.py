"""Recordings and jobs for the fleet tests (the jobs run on Dask workers, which import this
module through the PYTHONPATH the test cluster is started with)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from sensekit.clock import FakeClock
from sensekit.fleet.jobs import Job
from sensekit.log.recorder import Recorder
from sensekit.packets import Packet

HERE = Path(__file__).resolve().parent


def make_recording(path: Path, seconds: float = 2.0, seed: int = 0) -> Path:
    """A small IMU recording (100 Hz, one packet per second)."""
    rng = np.random.default_rng(seed)
    clock = FakeClock()
    with Recorder(path, clock=clock) as rec:
        for _ in range(int(seconds)):
            t = clock.now_ns() + np.arange(100, dtype=np.int64) * 10_000_000
            rec.write(Packet("imu", t, {
                "accel_mps2": rng.normal(0, 1, (100, 3)).astype(np.float32),
                "gyro_rads": rng.normal(0, 0.1, (100, 3)).astype(np.float32)}, "imu"))
            clock.advance(1.0)
    return path


def gated_work(opts: argparse.Namespace, src: Path, out: Path) -> dict[str, Any]:
    """Write the input's size; for the victim, first write half a result, say which process
    runs it and wait for the test's go (the test kills this process meanwhile)."""
    gate = Path(opts.gate)
    if src.name == opts.victim and not (gate / "go").exists():
        out.write_text("half a result")
        (gate / f"started-{os.getpid()}").write_text(str(src))
        deadline = time.monotonic() + 30
        while not (gate / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    out.write_text(f"{src.stat().st_size}\n")
    return {"bytes": src.stat().st_size}


GATED = Job("gated", "sensekit.log.cli.info", "log", "fleet_helpers:gated_work",
            lambda stem, _: f"{stem}.txt", owned=("json",))


def make_sensor_logger_export(folder: Path, seconds: int = 2) -> Path:
    """A Sensor Logger export folder: its metadata and 100 Hz accelerometer rows."""
    folder.mkdir(parents=True)
    t0 = 1_698_501_144_401_773_000
    rows = [f"{t0 + i * 10_000_000},{i * 0.01:.2f},0.01,-0.02,{0.1 * np.sin(i / 5):.5f}"
            for i in range(100 * seconds)]
    (folder / "Accelerometer.csv").write_text("time,seconds_elapsed,z,y,x\n"
                                              + "\n".join(rows) + "\n")
    (folder / "metadata.csv").write_text("version,device name,recording time,platform\n"
                                         "3,Pixel 7,2023-10-28_13-52-24,android\n")
    return folder


def deadly_work(opts: argparse.Namespace, src: Path, out: Path) -> dict[str, Any]:
    """Kill the worker process for the victim, once the other results are written (so no
    other task is running with it); write a line for the others."""
    if src.name == opts.victim:
        others = [out.parent / name for name in opts.others]
        deadline = time.monotonic() + 30
        while not all(p.exists() for p in others) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), 9)
    out.write_text("fine\n")
    return {}


DEADLY = Job("deadly", "sensekit.log.cli.info", "log", "fleet_helpers:deadly_work",
             lambda stem, _: f"{stem}.txt", owned=("json",))
