"""``sensekit demo``: the bundled recording, its regeneration, and the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sensekit.demo as demo
import sensekit.log as sklog
from sensekit.cli import main


def test_quick_demo_writes_report_and_plots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "report"
    assert main(["demo", "--quick", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "generating the demo recording" in text  # first run: regenerated into the cache
    for stream in ("imu", "audio", "camera", "gps", "light", "labels"):
        assert stream in text
        png = out / f"{stream}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 5000
    report = (out / "report.md").read_text()
    assert "| imu | imu |" in report and "![gps](gps.png)" in report
    cached = tmp_path / "cache" / "sensekit" / f"demo-v{demo.DEMO_VERSION}-quick.mcap"
    assert cached.is_file()
    assert main(["demo", "--quick", "-o", str(out)]) == 0
    assert "generating" not in capsys.readouterr().out  # second run: the cached file


def test_hub_delivers_every_recorded_sample(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = demo.demo_recording(quick=True, log=lambda _: None)
    received = demo.replay_through_hub(path, show_progress=False)
    with sklog.open(path) as log:
        for name, info in log.streams.items():
            assert len(received[name]) == info.samples
        np.testing.assert_array_equal(received["imu"]["accel_mps2"],
                                      log.read("imu")["accel_mps2"])


def test_wheel_install_regenerates_the_bundled_recording(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = demo.bundled_recording()
    if bundled is None:
        pytest.skip("no data/demo.mcap in this tree")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(demo, "bundled_recording", lambda: None)  # as installed from a wheel
    regenerated = demo.demo_recording(log=lambda _: None)
    assert regenerated.parent == tmp_path / "cache" / "sensekit"
    with sklog.open(bundled) as a, sklog.open(regenerated) as b:
        assert a.streams == b.streams, "regenerate data/demo.mcap (see data/README.md)"
        for stream in ("imu", "gps", "light", "labels"):
            pa, pb = a.read(stream), b.read(stream)
            np.testing.assert_array_equal(pa.t_ns, pb.t_ns)
            for field in pa.fields:
                np.testing.assert_array_equal(pa[field], pb[field])
