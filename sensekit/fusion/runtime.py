"""Inference under ONNX Runtime: numpy and onnxruntime only (no torch, nothing from training).

Example::

    from sensekit.fusion.runtime import OnnxFusion
    net = OnnxFusion("exported/sim_har.onnx.json")          # or OnnxFusion.shipped("default")
    probs = net.predict({"accel": accel_batch, "light": light_batch})  # only the sensors on
    probs["activity"]   # (B, classes), calibrated probabilities

Only the encoders of the modalities passed in are run; the fusion graph gets a presence mask.

Execution providers: the CPU unless told otherwise. Where the GPU build of ONNX Runtime is
installed (``onnxruntime-gpu``; on a Jetson NVIDIA's wheel for its JetPack),
:meth:`OnnxFusion.best_provider` times its TensorRT and CUDA providers against the CPU at
start-up on a window of the network's own shape and keeps whichever is faster (on a small
network the copies to and from the GPU can cost more than they save), as
:meth:`OnnxFusion.fastest` also times the int8 graphs against the float ones.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .._optional import require
from ..config import read_json
from ..errors import ConfigError, DeviceError, FileFormatError
from .features import window_inputs
from .inputs import Configuration, ModalityInput, modalities_from_json
from .metrics import softmax
from .shipped import SHIPPED, shipped_name
from .tasks import renamed_tasks

__all__ = ["CPU", "GPU_PROVIDERS", "OnnxFusion", "provider_chains"]

F32 = npt.NDArray[np.float32]

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"

#: GPU execution providers in the order tried: TensorRT hands what it cannot build to CUDA,
#: and both hand the rest to the CPU (ONNX Runtime's graph partitioning).
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def _now() -> float:
    return time.perf_counter()


def provider_chains(available: Sequence[str]) -> list[tuple[str, ...]]:
    """The execution-provider lists worth timing with this ONNX Runtime build: one starting
    at each GPU provider it has, then the CPU alone."""
    gpus = [p for p in GPU_PROVIDERS if p in available]
    return [(*gpus[i:], CPU) for i in range(len(gpus))] + [(CPU,)]


def _label(providers: Sequence[str], int8: bool) -> str:
    return f"{providers[0].removesuffix('ExecutionProvider')} {'int8' if int8 else 'float'}"


class OnnxFusion:
    """An exported fusion network run by ONNX Runtime.

    Args:
        manifest: Path of ``PREFIX.onnx.json`` written by ``export_onnx``.
        int8: Run the int8 graphs (``quantize_int8``) instead of the float ones.
        threads: Intra-op threads (1 on a busy Pi keeps latency predictable).
        providers: ONNX Runtime execution providers, in order of preference (default: the
            CPU only; see :func:`provider_chains`).

    Raises:
        DeviceError: The first of ``providers`` is not one this ONNX Runtime build can use
            (ONNX Runtime itself would quietly run on the CPU instead).
    """

    def __init__(self, manifest: str | Path, *, int8: bool = False, threads: int = 1,
                 providers: Sequence[str] = (CPU,)) -> None:
        self.path = Path(manifest)
        self.int8 = int8
        #: Seconds per call of each candidate :meth:`fastest` or :meth:`best_provider` timed.
        self.timings: dict[str, float] = {}
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
        self._sessions = {part: _session(ort, self.path.parent / name, opts, providers)
                          for part, name in files.items()}
        #: The providers the sessions run on, as ONNX Runtime reports them.
        self.providers: tuple[str, ...] = tuple(self._sessions["fusion"].get_providers())
        if providers[0] not in self.providers:
            raise DeviceError(f"{providers[0]} is not usable with this ONNX Runtime (it runs "
                              f"{', '.join(self.providers)}). Hint: on a Jetson install "
                              "NVIDIA's onnxruntime-gpu for your JetPack in place of "
                              "onnxruntime ('sensekit doctor' checks)")

    @classmethod
    def shipped(cls, name: str = "default", **kwargs: Any) -> OnnxFusion:
        """The exported network shipped with sensekit under ``name`` (``default``: the one
        sensekit uses unless told otherwise)."""
        return cls(SHIPPED / f"{shipped_name(name)}.onnx.json", **kwargs)

    @classmethod
    def fastest(cls, manifest: str | Path, sample: Mapping[str, F32] | None = None, *,
                repeat: int = 50, threads: int = 1, int8: bool = True,
                providers: Sequence[str] | None = None,
                timer: Callable[[], float] | None = None) -> OnnxFusion:
        """The float or the int8 graphs on the CPU, or the float ones on a GPU provider,
        whichever runs ``sample`` fastest here (each timed over ``repeat`` calls after a
        warm-up; the times are kept in :attr:`timings`).

        int8 is only worth using where it beats float ONNX Runtime on the device (on many x86
        CPUs it does not); ``sensekit bench fusion`` reports both. The int8 graphs are
        dynamically quantised (integer matrix products that the GPU providers hand back to
        the CPU), so they are timed on the CPU only.

        Args:
            manifest: The exported network's ``PREFIX.onnx.json``.
            sample: Inputs to time (default: :meth:`sample_inputs`, every modality at its
                native rate).
            int8: Also time the int8 graphs (False: float only, so predictions do not depend
                on which was faster).
            providers: The execution providers to consider (default: all this ONNX Runtime
                build has; a GPU provider it lists but cannot start is skipped with a warning).
            timer: The clock (seconds) the candidates are timed with (default
                :func:`time.perf_counter`).
        """
        if providers is None:
            ort = require("onnxruntime", extra="infer", what="ONNX Runtime fusion inference")
            providers = list(ort.get_available_providers())
        candidates = [(chain, False) for chain in provider_chains(providers)]
        candidates += [((CPU,), True)] if int8 else []
        timings: dict[str, float] = {}
        best: tuple[float, OnnxFusion] | None = None
        for chain, quantised in candidates:
            net = cls._candidate(manifest, chain, quantised, threads)
            if net is None:
                continue
            elapsed = net._time(sample or net.sample_inputs(), repeat, timer or _now)
            timings[_label(chain, quantised)] = elapsed
            if best is None or elapsed < best[0]:
                best = (elapsed, net)
        assert best is not None  # the float graphs on the CPU always exist
        best[1].timings = timings
        log.info("%s: %s; runs %s", Path(manifest).name,
                 ", ".join(f"{k} {v * 1e3:.3g} ms" for k, v in timings.items()),
                 _label(best[1].providers, best[1].int8))
        return best[1]

    @classmethod
    def best_provider(cls, manifest: str | Path, *, threads: int = 1,
                      providers: Sequence[str] | None = None, repeat: int = 20,
                      timer: Callable[[], float] | None = None) -> OnnxFusion:
        """The float graphs on the fastest execution provider here: a GPU one (TensorRT,
        CUDA) where this ONNX Runtime build has it and it is faster than the CPU on a window
        of the network's shape, timed now; the CPU without timing anything where there is no
        GPU provider. Float only, so the predictions are those of the CPU whichever runs."""
        if providers is None:
            ort = require("onnxruntime", extra="infer", what="ONNX Runtime fusion inference")
            providers = list(ort.get_available_providers())
        if not any(p in providers for p in GPU_PROVIDERS):
            return cls(manifest, threads=threads)
        return cls.fastest(manifest, repeat=repeat, threads=threads, int8=False,
                           providers=providers, timer=timer)

    @classmethod
    def _candidate(cls, manifest: str | Path, providers: Sequence[str], int8: bool,
                   threads: int) -> OnnxFusion | None:
        try:
            return cls(manifest, int8=int8, threads=threads, providers=providers)
        except ConfigError:
            if not int8:
                raise  # no manifest at all: the caller's to hear
            return None  # no int8 graphs exported
        except DeviceError as exc:
            log.warning("%s: not timed: %s", _label(providers, int8), exc)
            return None

    def _time(self, sample: Mapping[str, F32], repeat: int,
              timer: Callable[[], float]) -> float:
        """Seconds per call on ``sample``, after warm-up calls (a GPU provider allocates and
        TensorRT builds its engines on the first)."""
        for _ in range(1 if self.providers[0] == CPU else 3):
            self.logits(sample)
        t0 = timer()
        for _ in range(repeat):
            self.logits(sample)
        return (timer() - t0) / repeat

    def sample_inputs(self, batch: int = 1, seed: int = 0) -> dict[str, F32]:
        """Random inputs of every modality at its native rate (image size): a window of the
        shape the network runs on, for timing."""
        rng = np.random.default_rng(seed)

        def shape(spec: ModalityInput) -> tuple[int, ...]:
            if spec.kind == "image":
                return (batch, spec.channels, spec.steps(), spec.steps())
            return (batch, spec.channels, spec.steps())

        return {m: rng.standard_normal(shape(spec)).astype(np.float32)
                for m, spec in self.modalities.items()}

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


def _tensorrt_cache() -> Path:
    """Where TensorRT keeps the engines it builds from the graphs (minutes on a Jetson the
    first time, loaded in a second after that)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "sensekit" / "tensorrt"


def _provider_options(providers: Sequence[str]) -> list[Any]:
    """Providers as ONNX Runtime takes them: TensorRT with its engine cache on (the folder
    made here: not every ONNX Runtime release makes it)."""
    if "TensorrtExecutionProvider" not in providers:
        return list(providers)
    cache = _tensorrt_cache()
    cache.mkdir(parents=True, exist_ok=True)
    return [(p, {"trt_engine_cache_enable": "True", "trt_engine_cache_path": str(cache)})
            if p == "TensorrtExecutionProvider" else p for p in providers]


def _session(ort: Any, graph: Path, opts: Any, providers: Sequence[str] = (CPU,)) -> Any:
    """An ONNX Runtime session of ``graph``; a missing or damaged graph names its file, a
    GPU provider that fails to start is a :class:`DeviceError`."""
    if not graph.is_file():
        raise FileFormatError(f"{graph}: the ONNX graph its manifest lists is missing")
    try:
        with warnings.catch_warnings():  # a missing provider is reported by the caller
            warnings.filterwarnings("ignore", "Specified provider", UserWarning)
            return ort.InferenceSession(str(graph), opts, providers=_provider_options(providers))
    except Exception as exc:  # onnxruntime's own error classes (InvalidProtobuf, Fail...)
        if providers[0] != CPU:
            raise DeviceError(f"{graph}: {providers[0]} could not start ({exc})") from None
        raise FileFormatError(f"{graph}: not a readable ONNX graph ({exc})") from None
