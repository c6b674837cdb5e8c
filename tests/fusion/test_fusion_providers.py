"""Execution providers: a GPU one (TensorRT, CUDA) where ONNX Runtime's GPU build has it AND it
is faster, timed at start-up. No GPU here: the GPU build is faked (its provider list, sessions
that report those providers, a clock each run advances by the provider's cost), and the
arithmetic is the real CPU session's, so predictions are real."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sensekit.errors import DeviceError
from sensekit.fusion import runtime
from sensekit.fusion.runtime import CPU, OnnxFusion, provider_chains
from sensekit.fusion.shipped import SHIPPED

ort = pytest.importorskip("onnxruntime")
MANIFEST = SHIPPED / "sim_har.onnx.json"
TRT, CUDA = "TensorrtExecutionProvider", "CUDAExecutionProvider"


@pytest.fixture(autouse=True)
def cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """TensorRT's engine cache goes under here, not the home folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeGpuBuild:
    """onnxruntime-gpu as sensekit sees it; ``costs``: seconds one session run takes on each
    provider; ``broken``: providers listed that fail to start (a missing CUDA library)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, costs: dict[str, float],
                 broken: Sequence[str] = ()) -> None:
        self.clock = FakeClock()
        self.requested: list[list[Any]] = []
        real, build = ort.InferenceSession, self

        class Session:
            def __init__(self, path: str, opts: Any, providers: list[Any]) -> None:
                names = [p[0] if isinstance(p, tuple) else p for p in providers]
                build.requested.append(providers)
                if names[0] in broken:
                    raise RuntimeError("libcudnn.so.8: cannot open shared object file")
                self.real = real(path, opts, providers=[CPU])
                self.providers = [n for n in names if n in costs]

            def get_providers(self) -> list[str]:
                return self.providers

            def run(self, *args: Any) -> Any:
                build.clock.now += costs[self.providers[0]]
                return self.real.run(*args)

        monkeypatch.setattr(ort, "InferenceSession", Session)
        monkeypatch.setattr(ort, "get_available_providers", lambda: list(costs))
        monkeypatch.setattr(runtime, "_now", self.clock)


def test_provider_chains_fall_back_in_order() -> None:
    assert provider_chains([CPU]) == [(CPU,)]
    assert provider_chains(["AzureExecutionProvider", CUDA, CPU, TRT]) == [
        (TRT, CUDA, CPU), (CUDA, CPU), (CPU,)]


def test_a_faster_gpu_provider_is_chosen_and_predicts_as_the_cpu(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cpu = OnnxFusion(MANIFEST)
    sample = cpu.sample_inputs(batch=2)
    want = cpu.predict(sample)
    build = FakeGpuBuild(monkeypatch, {TRT: 3e-4, CUDA: 1e-4, CPU: 1e-3})
    net = OnnxFusion.fastest(MANIFEST, repeat=4)
    assert net.providers == (CUDA, CPU) and not net.int8
    assert net.timings == pytest.approx({"Tensorrt float": 7 * 3e-4, "CUDA float": 7 * 1e-4,
                                         "CPU float": 7 * 1e-3, "CPU int8": 7 * 1e-3})
    got = net.predict(sample)
    assert all(np.allclose(got[t], want[t], atol=1e-6) for t in want)
    trt = next(p for p in build.requested if p[0][0] == TRT)[0][1]
    assert trt["trt_engine_cache_enable"] == "True"  # engines built once, then loaded
    assert Path(trt["trt_engine_cache_path"]) == tmp_path / "sensekit" / "tensorrt"
    assert (tmp_path / "sensekit" / "tensorrt").is_dir()


def test_a_gpu_slower_than_the_cpu_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeGpuBuild(monkeypatch, {CUDA: 2e-3, CPU: 1e-3})  # copies cost more than they save
    net = OnnxFusion.best_provider(MANIFEST, repeat=3)
    assert net.providers == (CPU,)
    assert set(net.timings) == {"CUDA float", "CPU float"}  # float only: same predictions


def test_a_listed_provider_that_cannot_start_is_skipped_and_said(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    FakeGpuBuild(monkeypatch, {TRT: 1e-5, CUDA: 1e-4, CPU: 1e-3}, broken=[TRT])
    with caplog.at_level(logging.WARNING, "sensekit.fusion.runtime"):
        net = OnnxFusion.best_provider(MANIFEST, repeat=3)
    assert net.providers[0] == CUDA
    assert "Tensorrt float: not timed" in caplog.text and "libcudnn" in caplog.text


def test_without_a_gpu_provider_nothing_is_timed() -> None:
    def no_clock() -> float:
        raise AssertionError("timed although there is nothing to choose")

    net = OnnxFusion.best_provider(MANIFEST, providers=[CPU], timer=no_clock)
    assert net.providers == (CPU,) and net.timings == {}


def test_this_cpu_build_refuses_a_gpu_provider_it_lacks() -> None:
    """The real CPU onnxruntime quietly runs on the CPU when asked for CUDA: said, not hidden."""
    with pytest.raises(DeviceError, match="onnxruntime-gpu"):
        OnnxFusion(MANIFEST, providers=[CUDA, CPU])
    net = OnnxFusion.fastest(MANIFEST, providers=[CUDA, CPU], repeat=2, int8=False)
    assert net.providers == (CPU,) and set(net.timings) == {"CPU float"}


def test_the_controller_loads_the_network_on_the_faster_provider(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sensekit.controller.predictor import load_predictor

    FakeGpuBuild(monkeypatch, {TRT: 5e-4, CUDA: 2e-4, CPU: 1e-3})
    assert load_predictor("default").net.providers[0] == CUDA
