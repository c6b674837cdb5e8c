"""Inference under ONNX Runtime: numpy and onnxruntime only (no torch, nothing from training).

Example::

    from sensekit.fusion.runtime import OnnxFusion
    net = OnnxFusion("exported/sim_har.onnx.json")          # or OnnxFusion.shipped("default")
    probs = net.predict({"accel": accel_batch, "light": light_batch})  # only the sensors on
    probs["activity"]   # (B, classes), calibrated probabilities

Only the encoders of the modalities passed in are run; the fusion graph gets a presence mask.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .._optional import require
from ..config import read_json
from ..errors import ConfigError, FileFormatError
from .features import window_inputs
from .inputs import Configuration, modalities_from_json
from .metrics import softmax
from .shipped import SHIPPED, shipped_name
from .tasks import renamed_tasks

__all__ = ["OnnxFusion"]

F32 = npt.NDArray[np.float32]


class OnnxFusion:
    """An exported fusion network run by ONNX Runtime.

    Args:
        manifest: Path of ``PREFIX.onnx.json`` written by ``export_onnx``.
        int8: Run the int8 graphs (``quantize_int8``) instead of the float ones.
        threads: Intra-op threads (1 on a busy Pi keeps latency predictable).
    """

    def __init__(self, manifest: str | Path, *, int8: bool = False, threads: int = 1) -> None:
        self.path = Path(manifest)
        self.int8 = int8
        if not self.path.is_file():
            raise ConfigError(f"no ONNX manifest at {self.path}. Hint: export with "
                              f"sensekit.fusion.export.export_onnx")
        self.manifest: dict[str, Any] = read_json(self.path, "ONNX fusion manifest")
        try:
            self.modalities = modalities_from_json(self.manifest["modalities"])
            self.order: list[str] = [str(m) for m in self.manifest["order"]]
            names = renamed_tasks(self.manifest["tasks"])  # graphs of the first format
            self.tasks: dict[str, list[str]] = {names.get(t, t): [str(c) for c in classes]
                                                for t, classes in self.manifest["tasks"].items()}
            files = {str(k): str(v) for k, v in
                     self.manifest["int8_files" if int8 else "files"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FileFormatError(f"{self.path}: malformed ONNX fusion manifest "
                                  f"({type(exc).__name__}: {exc})") from None
        if not files:
            raise ConfigError(f"{self.path}: no int8 graphs. Hint: run quantize_int8 first")
        ort = require("onnxruntime", extra="infer", what="ONNX Runtime fusion inference")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._sessions = {part: _session(ort, self.path.parent / name, opts)
                          for part, name in files.items()}

    @classmethod
    def shipped(cls, name: str = "default", **kwargs: Any) -> OnnxFusion:
        """The exported network shipped with sensekit under ``name`` (``default``: the one
        sensekit uses unless told otherwise)."""
        return cls(SHIPPED / f"{shipped_name(name)}.onnx.json", **kwargs)

    @classmethod
    def fastest(cls, manifest: str | Path, sample: Mapping[str, F32], *, repeat: int = 50,
                threads: int = 1) -> OnnxFusion:
        """The float or the int8 graphs, whichever runs ``sample`` faster on this machine.

        int8 is only worth using where it beats float ONNX Runtime on the device (on many x86
        CPUs it does not); ``sensekit bench fusion`` reports both.
        """
        best: tuple[float, OnnxFusion] | None = None
        for int8 in (False, True):
            try:
                net = cls(manifest, int8=int8, threads=threads)
            except ConfigError:
                continue  # no int8 graphs exported
            net.logits(sample)
            t0 = time.perf_counter()
            for _ in range(repeat):
                net.logits(sample)
            elapsed = time.perf_counter() - t0
            if best is None or elapsed < best[0]:
                best = (elapsed, net)
        assert best is not None  # the float graphs always exist
        return best[1]

    def check(self, config: Configuration) -> None:
        """Refuse a configuration the network was not trained for."""
        config.check(self.modalities)

    def _check_rates(self, inputs: Mapping[str, F32]) -> None:
        for m, x in inputs.items():
            spec = self.modalities[m]
            size = x.shape[-1]
            allowed = [spec.steps(r) for r in spec.rates_hz]
            if spec.kind != "lowrate" and size not in allowed:
                what = "pixels" if spec.kind == "image" else "samples per window"
                raise ConfigError(f"{self.path.name}: {m} input has {size} {what}; the network "
                                  f"was trained for {allowed} (rates {list(spec.rates_hz)} over "
                                  f"{spec.window_s:g} s windows)")

    def predict_window(self, window: Any, rates: Mapping[str, float] | None = None
                       ) -> dict[str, npt.NDArray[np.float64]]:
        """Calibrated probabilities (classes,) per task for one aligned window.

        Modalities the window does not hold (sensor off, too little coverage) are left out and
        their encoders are not run; ``rates`` gives each one's rate (an image's size) if not
        its native one.
        """
        x = window_inputs(window, self.modalities, rates)
        if not x:
            raise ConfigError(f"window {getattr(window, 'index', '?')} holds none of the "
                              f"network's modalities {self.order}")
        return {t: p[0] for t, p in self.predict({m: v[None] for m, v in x.items()}).items()}

    def logits(self, inputs: Mapping[str, F32],
               present: Mapping[str, npt.NDArray[np.bool_]] | None = None) -> dict[str, F32]:
        """Temperature-scaled logits per task for a batch of windows."""
        unknown = set(inputs) - set(self.order)
        if unknown or not inputs:
            raise ConfigError(f"inputs {sorted(inputs)}: this network takes a non-empty "
                              f"subset of {self.order}")
        self._check_rates(inputs)
        b = next(iter(inputs.values())).shape[0]
        tokens = np.zeros((b, len(self.order), self.manifest["dim"]), np.float32)
        mask = np.zeros((b, len(self.order)), np.float32)
        for i, m in enumerate(self.order):
            if m in inputs:  # encoders of absent modalities are not run
                x = np.ascontiguousarray(inputs[m], dtype=np.float32)
                tokens[:, i] = self._sessions[m].run(None, {"x": x})[0]
                mask[:, i] = 1.0 if present is None or m not in present else present[m]
        outs = self._sessions["fusion"].run(None, {"tokens": tokens, "present": mask})
        return dict(zip(self.tasks, outs, strict=True))

    def predict(self, inputs: Mapping[str, F32],
                present: Mapping[str, npt.NDArray[np.bool_]] | None = None
                ) -> dict[str, npt.NDArray[np.float64]]:
        """Calibrated class probabilities per task, (B, classes) each."""
        return {t: softmax(z) for t, z in self.logits(inputs, present).items()}


def _session(ort: Any, graph: Path, opts: Any) -> Any:
    """An ONNX Runtime session of ``graph``; a missing or damaged graph names its file."""
    if not graph.is_file():
        raise FileFormatError(f"{graph}: the ONNX graph its manifest lists is missing")
    try:
        return ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own error classes (InvalidProtobuf, Fail...)
        raise FileFormatError(f"{graph}: not a readable ONNX graph ({exc})") from None
