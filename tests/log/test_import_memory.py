"""Large files import in bounded memory: a child process with little room to spare succeeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from limits import MB, run_limited

import sensekit.log as sklog
from sensekit.log.importers import import_recording

ROWS = 700_000  # about 40 MB of CSV: held as Python text cells it needs several times that
ROOM = 160 * MB


def _write_csv(path: Path) -> None:
    rng = np.random.default_rng(1)
    with path.open("w") as fh:
        fh.write("timestamp,ax,ay,az\n")
        for start in range(0, ROWS, 100_000):
            t = 1_700_000_000_000 + 10 * np.arange(start, start + 100_000)
            a = rng.normal(0, 1, (100_000, 3)).round(5)
            fh.write("".join(f"{x},{p},{q},{r}\n" for x, (p, q, r) in zip(
                t.tolist(), a.tolist(), strict=True)))


def _write_events(path: Path) -> None:
    rng = np.random.default_rng(2)
    with path.open("w") as fh:
        for start in range(0, ROWS // 2, 50_000):
            t = 20 * np.arange(start, start + 50_000)
            a = rng.normal(0, 1, (50_000, 3)).round(5)
            lines = [f"{x},android.sensor.accelerometer,{p},{q},{r}\n{x + 3},"
                     f"android.sensor.gyroscope,{r},{q},{p}\n"
                     for x, (p, q, r) in zip(t.tolist(), a.tolist(), strict=True)]
            fh.write("".join(lines))


@pytest.mark.slow
@pytest.mark.parametrize(("name", "write", "stream"), [
    ("big.csv", _write_csv, "accel"),
    ("sensorfile_ann_Walking_1480000000000.csv", _write_events, "gyro")])
def test_a_large_file_imports_in_bounded_memory(tmp_path: Path, name: str, write: object,
                                               stream: str) -> None:
    src = tmp_path / name
    write(src)  # type: ignore[operator]
    assert src.stat().st_size > 20 * MB
    out = tmp_path / "big.mcap"
    result = run_limited(lambda: import_recording(src, out), extra_bytes=ROOM, seconds=600)
    assert result == "ok", result
    with sklog.open(out) as log:
        samples = log.streams[stream].samples
    assert samples == (ROWS if name == "big.csv" else ROWS // 2)
