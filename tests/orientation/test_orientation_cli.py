"""``sensekit orientation LOG``: the AHRS over a recording, streaming or offline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sensekit.cli import main
from sensekit.clock import FakeClock
from sensekit.log.reader import LogReader
from sensekit.log.recorder import Recorder
from sensekit.orientation.metrics import orientation_rmse_deg
from sensekit.packets import Packet
from sensekit.testing.motion import make_trial

RATE = 100.0


@pytest.fixture(scope="module")
def magnet_log(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A recording of a synthetic trial with an 80 uT magnet attached, in 0.2 s packets."""
    tr = make_trial("attached_magnet", 1, rate_hz=RATE, rest_s=5.0, move_s=30.0,
                    magnet_ut=80.0)
    path = tmp_path_factory.mktemp("orientation") / "magnet.mcap"
    t_ns = 1_000_000_000 + (np.arange(len(tr.gyr)) * 1e9 / RATE).astype(np.int64)
    with Recorder(path, clock=FakeClock(0), clock_synced=True, wall_offset_ns=0) as rec:
        for lo in range(0, len(t_ns), 20):
            s = slice(lo, lo + 20)
            rec.write(Packet("imu", t_ns[s], {
                "gyro_rads": tr.gyr[s].astype(np.float32),
                "accel_mps2": tr.acc[s].astype(np.float32),
                "mag_ut": tr.mag[s].astype(np.float32)}, "imu"))
    return path, tr


def _quats(path: Path) -> np.ndarray:
    with LogReader(path) as log:
        return np.asarray(log.read("orientation")["quat_wxyz"], np.float64)


def test_offline_removes_an_attached_magnet(magnet_log, tmp_path: Path,  # type: ignore[no-untyped-def]
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """--offline fits the magnet (to 0.5 uT) and the heading over the movement is within
    1 degree RMS; the streaming run of the same recording, which learns the magnet only after
    the first turns, is worse than 2 degrees."""
    src, tr = magnet_log
    off, live = tmp_path / "off.mcap", tmp_path / "live.mcap"
    assert main(["orientation", str(src), "--offline", "-o", str(off), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["streams"]["imu"]
    assert summary["mode"] == "offline (non-causal)" and summary["offline_fit"]["accepted"]
    assert np.abs(np.array(summary["hard_iron_ut"]) - tr.hard_iron_ut).max() < 0.5
    assert orientation_rmse_deg(_quats(off), tr.quat, tr.movement)[1] < 1.0
    assert main(["orientation", str(src), "-o", str(live)]) == 0
    assert "streaming" in capsys.readouterr().out
    q = _quats(live)
    assert len(q) == len(tr.gyr)
    assert orientation_rmse_deg(q, tr.quat, tr.movement)[1] > 2.0


def test_outputs_and_bad_input_are_refused(magnet_log, tmp_path: Path,  # type: ignore[no-untyped-def]
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The input is never replaced; an existing output needs --force; a missing stream or a
    malformed offset is a usage error naming it."""
    src, _ = magnet_log
    before = src.read_bytes()
    assert main(["orientation", str(src), "-o", str(src), "--force"]) != 0
    assert src.read_bytes() == before
    out = tmp_path / "o.mcap"
    assert main(["orientation", str(src), "-o", str(out)]) == 0
    assert main(["orientation", str(src), "-o", str(out)]) != 0
    assert main(["orientation", str(src), "-o", str(out), "--force", "--offline"]) == 0
    capsys.readouterr()
    assert main(["orientation", str(src), "--streams", "imu.wrist", "-o",
                 str(tmp_path / "x.mcap")]) == 2
    assert "imu.wrist" in capsys.readouterr().err
    assert main(["orientation", str(src), "--hard-iron-ut", "1,2", "-o",
                 str(tmp_path / "y.mcap")]) == 2
    assert "--hard-iron-ut" in capsys.readouterr().err


def test_orientation_streams_to_stdout_with_the_summary_on_stderr(
        magnet_log, capsysbinary: pytest.CaptureFixture[bytes]) -> None:  # type: ignore[no-untyped-def]
    import io

    from mcap.reader import make_reader

    path, _ = magnet_log
    assert main(["orientation", str(path), "-o", "-", "--json"]) == 0
    out = capsysbinary.readouterr()
    topics = {ch.topic for ch in make_reader(io.BytesIO(out.out)).get_summary().channels.values()}
    assert any(t.startswith("orientation") for t in topics), topics
    assert json.loads(out.err)["output"] == "-"
