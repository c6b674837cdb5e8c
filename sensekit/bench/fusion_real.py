"""``sensekit bench fusion``, the shipped ``default`` network (trained on real phones).

Size and latency from a 5 s window to calibrated probabilities on one CPU thread, features
included: the window statistics of every modality the network reads (the accelerometer
point-sampled from 100 Hz, a 50 Hz magnetometer, the GPS speed of the rule), the ``fuse`` graph
and the ``context`` graph over the last windows, the rule and the calibration, in ONNX Runtime
as the controller runs it (:meth:`~sensekit.fusion.runtime.OnnxFusion.predict_at`) and in eager
PyTorch. The peer is DeepConvLSTM as the recipe trains it (the accelerometer and gyroscope on a
10 Hz grid) in the same runtime. Beside them, the by-person figures of the network and both
baselines (statistics + random forest, DeepConvLSTM) as the recipe's run recorded them in the
weights' metadata: a nested leave-one-person-out run takes about an hour on two cores, so the
bench reports it rather than rerunning it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import Case, case
from .fusion import _median_ms


def _windows(seconds: float, window_s: float) -> list[Any]:
    """Windows of a simulated recording, with a 50 Hz magnetometer stream added."""
    from ..align import StreamSpec, align
    from ..log.reader import open as open_log
    from ..packets import Packet
    from ..testing.scenario import SimConfig, simulate

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.mcap"
        simulate(path, SimConfig(duration_s=seconds, seed=7))
        with open_log(path) as reader:
            streams = {s: reader.read(s) for s in ("imu", "gps")}
            rates = {s: float(reader.devices()[s]["rate_hz"]) for s in streams}
    start = int(streams["imu"].t_ns[0])
    t = start + np.arange(int(seconds * 50)) * 20_000_000
    rng = np.random.default_rng(0)
    field = np.array([20.0, -5.0, -40.0]) + rng.normal(0, 0.5, (len(t), 3))
    streams["mag"] = Packet("mag", t.astype(np.int64), {"mag_ut": field.astype(np.float32)})
    rates["mag"] = 50.0
    return align(streams, {s: StreamSpec(r) for s, r in rates.items()}, window_s,
                 origin_ns=start)


def _eager(net: Any) -> Callable[[Any], object]:
    """Eager PyTorch per window: features, fuse, context over the kept vectors, rules."""
    import torch

    from ..fusion.features import window_inputs

    history: list[Any] = []

    def step(w: Any) -> object:
        x = window_inputs(w, net.inputs)
        with torch.no_grad():
            learned = {m: torch.from_numpy(v[None]) for m, v in x.items() if m in net.order}
            present = torch.tensor([[m in learned for m in net.order]])
            history.append(net.fuse(learned, present)[0])
            del history[:-net.context]
            seq = torch.zeros(1, net.context, net.dim)
            seq[0, -len(history):] = torch.stack(history)
            valid = torch.zeros(1, net.context)
            valid[0, -len(history):] = 1.0
            logits = {t: z.numpy() for t, z in net.head(seq, valid).items()}
        return net.postprocess(logits, {m: v[None] for m, v in x.items()})

    return step


def _peer(tmp: str, window_s: float) -> tuple[Any, Callable[[Any], object]]:
    """DeepConvLSTM as the recipe trains it (untrained: latency only) and its ORT path."""
    import onnxruntime as ort

    from ..fusion.export import export_baseline_onnx
    from ..fusion.features import window_inputs
    from ..fusion.inputs import ModalityInput, Source
    from ..fusion.model import create_model

    mods = {m: ModalityInput("series", 3, (10.0,), window_s, sources=(
        Source("imu", (f,)),), xyz=True) for m, f in (("accel", "accel_mps2"),
                                                    ("gyro", "gyro_rads"))}
    base = create_model("deepconvlstm", modalities=mods, tasks={"transport": list("scbtw")},
                        filters=32, hidden=64).eval()
    steps = mods["accel"].steps()
    path = export_baseline_onnx(base, Path(tmp) / "dcl.onnx", 6, steps)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def run(w: Any) -> object:
        from ..fusion.features import fit_rate

        x = window_inputs(w, mods)
        parts = [fit_rate(x[m], mods[m]) if m in x else np.zeros((3, steps), np.float32)
                 for m in mods]
        return sess.run(None, {"x": np.concatenate(parts)[None]})

    return base, run


def _by_person(meta: dict[str, Any]) -> list[Case]:
    scores = meta.get("training", {}).get("by_person")
    if not scores:
        return [case("by-person macro-F1", float("nan"), "macro-F1",
                     note="the shipped default records no by-person figures")]
    note = (f"recorded by {meta['training'].get('recipe', 'the recipe')}'s run "
            f"({scores.get('results', '')}); not rerun by the bench (about an hour on two cores)")
    net, forest, dcl = scores["network"], scores["forest"], scores["deepconvlstm"]
    return [
        case("by-person macro-F1 (still/walking/car/train)", net["lopo"], "macro-F1",
             forest["lopo"], note=f"nested leave-one-person-out; peer: statistics + random "
                                  f"forest, all sensors. {note}"),
        case("by-person macro-F1 vs DeepConvLSTM", net["lopo"], "macro-F1", dcl["lopo"],
             note="same folds and windows; peer: DeepConvLSTM"),
        case("andrea's later days macro-F1 (5 classes)", net["days"], "macro-F1",
             forest["days"], note="peer: statistics + random forest, all sensors"),
        case("pooled ECE of left-out people", net["ece"], "ECE", note="goal <= 0.08"),
    ]


def run(quick: bool) -> list[Case]:
    """The shipped default network's size and latency against DeepConvLSTM, and the
    by-person figures its recipe recorded."""
    import torch

    from ..fusion.features import window_inputs
    from ..fusion.runtime import OnnxFusion
    from ..fusion.weights import load_model, read_metadata

    torch.set_num_threads(1)
    meta = read_metadata("default")
    if meta["name"] != "context_small":
        return []
    rt = OnnxFusion.shipped("default")
    net: Any = load_model("default")
    wins = _windows(60.0 if quick else 300.0, rt.window_s)
    repeat = 40 if quick else 400
    with tempfile.TemporaryDirectory() as tmp:
        base, peer = _peer(tmp, rt.window_s)
        clock = iter(range(10**9))
        ms = {"features": _median_ms(lambda w: window_inputs(w, rt.modalities), wins, repeat),
              "ort": _median_ms(lambda w: rt.predict_at(
                  {m: v[None] for m, v in window_inputs(w, rt.modalities).items()},
                  next(clock) * int(rt.window_s * 1e9)), wins, repeat),
              "eager": _median_ms(_eager(net), wins, repeat),
              "peer": _median_ms(peer, wins, repeat)}
    n_net = sum(p.numel() for p in net.parameters())
    n_base = sum(p.numel() for p in base.parameters())
    return [
        case("default: parameters", n_net, "params", n_base, higher_is_better=False,
             note=f"{'+'.join(net.order)} + the GPS speed rule, two heads; goal < 250k; peer: "
                  "DeepConvLSTM (the recipe's)"),
        case("default: latency ONNX Runtime per window", ms["ort"], "ms", ms["peer"],
             higher_is_better=False,
             note="5 s window -> calibrated probabilities, features + fuse + context (one "
                  "thread); goal < 3 ms; peer: DeepConvLSTM in ONNX Runtime"),
        case("default: latency eager PyTorch per window", ms["eager"], "ms", ms["ort"],
             higher_is_better=False, note="peer: the ONNX Runtime path above"),
        case("default: feature extraction", ms["features"], "ms",
             note="window statistics of every input (in both latencies)"),
        *_by_person(meta),
    ]
