"""The camera benchmark runs both paths on both sources and reports every figure beside CPU."""

from __future__ import annotations

from sensekit.bench import BENCHMARKS
from sensekit.bench.camera import run


def test_quick_camera_benchmark_reports_all_cases() -> None:
    assert BENCHMARKS["camera"][0] == "sensekit.bench.camera"
    cases = {c.name: c for c in run(quick=True)}
    for source in ("file", "emulated"):
        cpu = cases[f"{source}: CPU per DNN-ready frame"]
        assert cpu.unit == "ms" and cpu.value > 0 and cpu.baseline is not None
        moved = cases[f"{source}: bytes moved per frame"]
        # 1920x1080x3 decoded against at most 320x240x3: far more than 5x less to move.
        assert moved.ratio is not None and moved.ratio > 10
        energy = cases[f"{source}: modelled camera energy per frame"]
        # Not energy-proportional: less energy in DNN mode, but far from the pixel ratio.
        assert energy.ratio is not None and 1.0 < energy.ratio < 5.0
