"""``sensekit bench fusion``: size, latency and accuracy of the fusion network vs DeepConvLSTM.

The shipped ``default`` network (trained on real phones) is benchmarked first
(:mod:`sensekit.bench.fusion_real`); the cases below are the rig network ``sim_har``'s.

Latency is from an aligned 2-second window to calibrated probabilities, feature extraction
included (log-mel of the audio, resizing the camera frame), with one CPU thread, in eager
PyTorch and ONNX Runtime, float and int8. The peer is DeepConvLSTM (Ordonez and Roggen 2016:
four 5x1 convolutions of 64 filters, two LSTM layers of 128 units) fed the same windows, every
modality resampled to the IMU rate, in the same runtime. The accuracy case trains both on UEA
BasicMotions (accelerometer and gyroscope as two modalities) and scores the test split.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from . import Case, case

F32 = npt.NDArray[np.float32]
#: The shipped network of the rig's six modalities (2 s raw windows), trained on simulation.
RIG_NETWORK = "sim_har"


def _windows(seconds: float) -> list[Any]:
    """Aligned windows of a short simulated recording (every sensor on)."""
    from ..align import StreamSpec, align
    from ..log.reader import open as open_log
    from ..testing.scenario import SimConfig, simulate

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.mcap"
        simulate(path, SimConfig(duration_s=seconds, seed=7))
        with open_log(path) as reader:
            streams = {s: reader.read(s) for s in reader.stream_names() if s != "labels"}
            rates = {s: float(reader.devices()[s]["rate_hz"]) for s in streams}
    start = min(int(p.t_ns[0]) for p in streams.values())
    wins = align(streams, {s: StreamSpec(r) for s, r in rates.items()}, 2.0, 1.0,
                 origin_ns=start)
    return [w for w in wins if min(w.coverage.values()) > 0.9]


def _median_ms(fn: Callable[[Any], object], items: list[Any], repeat: int) -> float:
    for w in items[:3]:
        fn(w)
    times = []
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(items[i % len(items)])
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _stacked(inputs: Mapping[str, F32], mods: Mapping[str, Any], steps: int) -> F32:
    """Every modality resampled to the IMU rate and stacked (the baseline's early fusion)."""
    from ..fusion.features import resize_series

    parts = []
    for m, spec in mods.items():
        x = inputs[m]
        if spec.kind == "image":
            x = x.mean((1, 2))[:, None]
        parts.append(resize_series(x if x.shape[-1] > 1 else np.repeat(x, 2, -1), steps))
    return np.concatenate(parts)[None]


def _networks(mods: Mapping[str, Any]) -> tuple[Any, Any]:
    """The shipped rig network ``sim_har`` (a fresh one if none ships) and a DeepConvLSTM on
    the same inputs."""
    from ..errors import ConfigError
    from ..fusion.model import create_model
    from ..fusion.weights import load_model, read_metadata

    tasks = read_metadata(RIG_NETWORK)["tasks"]
    try:  # the shipped weights, so the int8 agreement is that of a trained network
        net = load_model(RIG_NETWORK, modalities=mods, tasks=tasks)
    except ConfigError:
        net = create_model("fusion_small", modalities=mods, tasks=tasks).eval()
    return net, create_model("deepconvlstm", modalities=mods, tasks=tasks).eval()


def _paths(net: Any, base: Any, mods: Mapping[str, Any], tmp: str
           ) -> tuple[dict[str, Callable[[Any], object]], Any, Any]:
    """Window -> probabilities, each way it can run; and the float and int8 runtimes."""
    import onnxruntime as ort
    import torch

    from ..fusion.export import export_baseline_onnx, export_onnx, quantize_int8
    from ..fusion.features import window_inputs
    from ..fusion.runtime import OnnxFusion

    steps = max(s.steps() for s in mods.values() if s.kind == "series")  # the fastest series
    manifest = quantize_int8(export_onnx(net, tmp, "bench"))
    onnx_f, onnx_q = OnnxFusion(manifest), OnnxFusion(manifest, int8=True)
    bpath = export_baseline_onnx(base, Path(tmp) / "dcl.onnx",
                                 sum(s.channels for s in mods.values()), steps)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    bsess = ort.InferenceSession(str(bpath), opts, providers=["CPUExecutionProvider"])

    def eager(w: Any) -> object:
        with torch.no_grad():
            x = {m: torch.from_numpy(v[None]) for m, v in window_inputs(w, mods).items()}
            return {t: z.softmax(-1) for t, z in net(x).items()}

    def base_eager(w: Any) -> object:
        with torch.no_grad():
            x = torch.from_numpy(_stacked(window_inputs(w, mods), mods, steps))
            return {t: z.softmax(-1) for t, z in base.forward_stacked(x).items()}

    def run_ort(rt: OnnxFusion) -> Callable[[Any], object]:
        return lambda w: rt.predict({m: v[None] for m, v in window_inputs(w, mods).items()})

    return ({"eager": eager, "base_eager": base_eager, "ort": run_ort(onnx_f),
             "int8": run_ort(onnx_q),
             "base_ort": lambda w: bsess.run(None, {"x": _stacked(window_inputs(w, mods), mods,
                                                                  steps)}),
             "features": lambda w: window_inputs(w, mods)}, onnx_f, onnx_q)


def _latency_cases(quick: bool) -> list[Case]:
    import torch

    from ..fusion.inputs import sensor_modalities

    torch.set_num_threads(1)
    mods = sensor_modalities()
    wins = _windows(12.0 if quick else 40.0)
    net, base = _networks(mods)
    repeat = 60 if quick else 400
    with tempfile.TemporaryDirectory() as tmp:
        paths, onnx_f, onnx_q = _paths(net, base, mods, tmp)
        ms = {k: _median_ms(fn, wins, repeat) for k, fn in paths.items()}
        agree = _int8_agreement(onnx_f, onnx_q, wins, mods)
    n_net = sum(p.numel() for p in net.parameters())
    n_base = sum(p.numel() for p in base.parameters())
    return [
        case("parameters", n_net, "params", n_base, higher_is_better=False,
             note="all six modalities, three task heads; peer: DeepConvLSTM on the same inputs"),
        case("latency eager PyTorch", ms["eager"], "ms", ms["base_eager"],
             higher_is_better=False,
             note="window -> probabilities, 1 thread, features included; peer in eager too"),
        case("latency ONNX Runtime float", ms["ort"], "ms", ms["base_ort"],
             higher_is_better=False, note="peer: DeepConvLSTM exported to ONNX Runtime"),
        case("latency ONNX Runtime int8", ms["int8"], "ms", ms["ort"], higher_is_better=False,
             note="peer: the float graphs; int8 is worth shipping only if the ratio is > 1"),
        case("latency best runtime vs eager", min(ms["ort"], ms["int8"]), "ms", ms["eager"],
             higher_is_better=False),
        case("feature extraction", ms["features"], "ms",
             note="log-mel, camera resize, low-rate features of one window (in every latency)"),
        case("int8 top-class agreement", agree, "fraction",
             note="share of windows where int8 and float pick the same class, all tasks"),
    ]


def _int8_agreement(f: Any, q: Any, wins: list[Any], mods: Mapping[str, Any]) -> float:
    from ..fusion.features import window_inputs

    same = []
    for w in wins:
        x = {m: v[None] for m, v in window_inputs(w, mods).items()}
        pf, pq = f.predict(x), q.predict(x)
        same += [int(pf[t].argmax() == pq[t].argmax()) for t in pf]
    return float(np.mean(same))


def _basic_motions(quick: bool) -> list[Case]:
    import torch

    from ..errors import ConfigError
    from ..fusion.augment import Augment
    from ..fusion.data import uea_dataset
    from ..fusion.model import create_model
    from ..fusion.train import TrainOptions, evaluate, fit

    groups = {"accel": [0, 1, 2], "gyro": [3, 4, 5]}
    try:
        train = uea_dataset("BasicMotions", "train", groups, 10.0)
        test = uea_dataset("BasicMotions", "test", groups, 10.0)
    except ConfigError as exc:
        return [case("BasicMotions accuracy", float("nan"), "fraction", note=str(exc))]
    seeds = range(1 if quick else 5)
    acc: dict[str, list[float]] = {"fusion_small": [], "deepconvlstm": []}
    for name in acc:
        for seed in seeds:
            torch.manual_seed(seed)
            net = create_model(name, modalities=train.modalities, tasks=train.classes)
            fit(net, train, None, TrainOptions(
                epochs=60, batch_size=8, seed=seed, modality_dropout=0.0, progress=False,
                augment=Augment(rotate_deg=10, time_warp=0.05)))
            acc[name].append(evaluate(net, test)["class"]["accuracy"])
    return [case(f"BasicMotions accuracy ({len(seeds)} seeds)", float(np.mean(
        acc["fusion_small"])), "fraction", float(np.mean(acc["deepconvlstm"])),
        note=f"test split, mean over seeds; min {min(acc['fusion_small']):.3f}")]


def run(quick: bool) -> list[Case]:
    """The shipped default network (trained on real phones: size, latency, by-person figures,
    :mod:`sensekit.bench.fusion_real`), then the simulator-trained ``sim_har``'s latency and
    size against DeepConvLSTM and the BasicMotions accuracy."""
    from .._optional import require
    from . import fusion_real

    require("torch", extra="train", what="sensekit bench fusion")
    require("onnxruntime", extra="infer", what="sensekit bench fusion")
    return fusion_real.run(quick) + _latency_cases(quick) + _basic_motions(quick)
