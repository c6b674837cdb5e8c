"""Inference under ONNX Runtime: numpy and onnxruntime only (no torch, nothing from training).

Example::

    from sensekit.fusion.runtime import OnnxFusion
    net = OnnxFusion("exported/sim_har.onnx.json")          # or OnnxFusion.shipped("default")
    probs = net.predict({"accel": accel_batch, "light": light_batch})  # only the sensors on
    probs["activity"]   # (B, classes), calibrated probabilities

Only the encoders of the modalities passed in are run; the fusion graph gets a presence mask.

A context network (``sensekit.fusion.onnx/3``, :func:`sensekit.fusion.export.
export_context_onnx`) runs its ``fuse`` graph once per window and its ``context`` graph over
the last windows' vectors: :meth:`OnnxFusion.predict_sequence` for a recording's windows in
order, :meth:`OnnxFusion.predict_at` window by window as they come (it keeps the vectors of the
last windows, by their start time), :meth:`OnnxFusion.predict` for windows on their own. Its
declared rules (:mod:`sensekit.fusion.rules`) and calibration (:mod:`sensekit.fusion.
temperature`) are applied to its logits; a rule's modality (the GPS speed) is an input like the
others.

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
from .rules import apply_rules, rules_from_json
from .shipped import SHIPPED, shipped_name
from .tasks import renamed_tasks
from .temperature import apply_calibration

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
            self.order: list[str] = [str(m) for m in self.manifest["order"]]
            #: Windows of context (1: each window on its own).
            self.context = int(self.manifest.get("context", 1))
            self.rules = rules_from_json(self.manifest.get("rules", []))
            self.calibration: dict[str, Any] = dict(self.manifest.get("calibration") or {})
            #: Every modality the network reads: its learned inputs, then its rules' inputs.
            self.modalities = {**modalities_from_json(self.manifest["modalities"]),
                               **modalities_from_json(self.manifest.get("rule_inputs", {}))}
            self.window_s = float(self.manifest.get("window_s") or
                                  next(iter(self.modalities.values())).window_s)
            names = renamed_tasks(self.manifest["tasks"])  # graphs of the first format
            self.tasks: dict[str, list[str]] = {names.get(t, t): [str(c) for c in classes]
                                                for t, classes in self.manifest["tasks"].items()}
            files = {str(k): str(v) for k, v in
                     self.manifest["int8_files" if int8 else "files"].items()}
        except (KeyError, TypeError, ValueError, AttributeError, StopIteration) as exc:
            raise FileFormatError(f"{self.path}: malformed ONNX fusion manifest "
                                  f"({type(exc).__name__}: {exc})") from None
        self._history: list[tuple[int, npt.NDArray[np.float32]]] = []
        if not files:
            raise ConfigError(f"{self.path}: no int8 graphs. Hint: run quantize_int8 first")
        ort = require("onnxruntime", extra="infer", what="ONNX Runtime fusion inference")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self._sessions = {part: _session(ort, self.path.parent / name, opts, providers)
                          for part, name in files.items()}
        #: The providers the sessions run on, as ONNX Runtime reports them.
        self.providers: tuple[str, ...] = tuple(
            next(iter(self._sessions.values())).get_providers())
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
            if spec.kind == "features":  # window statistics: one value per channel
                return (batch, spec.channels, 1)
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
            if spec.kind in ("series", "image") and size not in allowed:
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
        """Temperature-scaled logits per task for a batch of windows (a context network:
        each window on its own, with no window before it)."""
        unknown = set(inputs) - set(self.modalities)
        if unknown or not inputs:
            raise ConfigError(f"inputs {sorted(inputs)}: this network takes a non-empty "
                              f"subset of {list(self.modalities)}")
        self._check_rates(inputs)
        if self.context > 1 or "fuse" in self._sessions:
            fused = self.fuse(inputs, present)
            seq = np.zeros((len(fused), self.context, fused.shape[1]), np.float32)
            seq[:, -1] = fused
            valid = np.zeros((len(fused), self.context), np.float32)
            valid[:, -1] = 1.0
            return self._post(self._head(seq, valid), inputs, present)
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

    # -- context networks -------------------------------------------------------------------
    def fuse(self, inputs: Mapping[str, F32],
             present: Mapping[str, npt.NDArray[np.bool_]] | None = None) -> F32:
        """Each window's vector (B, dim) from the ``fuse`` graph (context networks)."""
        if "fuse" not in self._sessions:
            raise ConfigError(f"{self.path.name}: not a context network (no fuse graph)")
        b = len(next(iter(inputs.values())))
        feeds: dict[str, F32] = {}
        mask = np.zeros((b, len(self.order)), np.float32)
        for i, m in enumerate(self.order):
            spec = self.modalities[m]
            if m in inputs:
                feeds[f"x_{m}"] = np.ascontiguousarray(inputs[m], np.float32)
                mask[:, i] = 1.0 if present is None or m not in present else present[m]
            else:
                feeds[f"x_{m}"] = np.zeros((b, spec.channels, 1), np.float32)
        feeds["present"] = mask
        out: F32 = self._sessions["fuse"].run(None, feeds)[0]
        return out

    def _head(self, fused: F32, valid: F32) -> dict[str, F32]:
        outs = self._sessions["context"].run(None, {"fused": fused, "valid": valid})
        return dict(zip(self.tasks, outs, strict=True))

    def _post(self, logits: Mapping[str, F32], inputs: Mapping[str, F32],
              present: Mapping[str, npt.NDArray[np.bool_]] | None) -> dict[str, F32]:
        """The declared rules, then the calibration."""
        out = apply_rules(self.rules, logits, self.tasks, inputs, present)
        return apply_calibration(self.calibration, out)

    def predict_sequence(self, inputs: Mapping[str, F32], index: npt.NDArray[np.int64],
                         groups: npt.NDArray[np.int64] | None = None,
                         present: Mapping[str, npt.NDArray[np.bool_]] | None = None
                         ) -> dict[str, npt.NDArray[np.float64]]:
        """Probabilities for N windows of recordings, each read with the windows before it.

        Args:
            inputs: Per modality (N, C, 1), the windows in any order.
            index: Each window's number on its recording's grid (consecutive windows differ
                by one; a missing number is a window without data).
            groups: Each window's recording (default: all one).
            present: Per modality (N,), where its sensor delivered.
        """
        n = len(index)
        groups = np.zeros(n, np.int64) if groups is None else groups
        fused = self.fuse(inputs, present)
        k = self.context
        ctx = _context_rows(groups, index, k)
        seq = np.where((ctx >= 0)[..., None], fused[np.maximum(ctx, 0)], 0.0).astype(np.float32)
        logits = self._head(seq, (ctx >= 0).astype(np.float32))
        return {t: softmax(z) for t, z in self._post(logits, inputs, present).items()}

    def predict_at(self, inputs: Mapping[str, F32], t_ns: int,
                   present: Mapping[str, npt.NDArray[np.bool_]] | None = None, *,
                   commit: bool = True) -> dict[str, npt.NDArray[np.float64]]:
        """Probabilities for one window (batch of 1) starting at ``t_ns``, read with the
        windows this object saw in the ``context`` windows before it.

        Windows are remembered by start time: one that starts at or before the last one seen
        starts a new recording (the history is forgotten); a window in between that never
        came (the sensors were off, the policy skipped it) is empty context. ``commit=False``
        asks without remembering the window (what-if passes). A network without context
        answers as :meth:`predict`.
        """
        if "fuse" not in self._sessions:
            return self.predict(inputs, present)
        if self._history and t_ns <= self._history[-1][0]:
            self._history.clear()
        fused = self.fuse(inputs, present)
        step = round(self.window_s * 1e9)
        seq = np.zeros((1, self.context, fused.shape[1]), np.float32)
        valid = np.zeros((1, self.context), np.float32)
        seq[0, -1], valid[0, -1] = fused[0], 1.0
        for t, z in self._history:
            j = self.context - 1 - round((t_ns - t) / step)
            if 0 <= j < self.context - 1:
                seq[0, j], valid[0, j] = z, 1.0
        if commit:
            oldest = t_ns - (self.context - 1) * step
            self._history = [(t, z) for t, z in self._history if t >= oldest]
            self._history.append((t_ns, fused[0]))
        logits = self._post(self._head(seq, valid), inputs, present)
        return {t: softmax(z) for t, z in logits.items()}

    def reset(self) -> None:
        """Forget the windows :meth:`predict_at` remembered."""
        self._history.clear()


def _context_rows(groups: npt.NDArray[np.int64], index: npt.NDArray[np.int64], k: int
                  ) -> npt.NDArray[np.int64]:
    """(N, k) rows of each window's ``k - 1`` predecessors and itself, -1 where none."""
    at = {(int(g), int(i)): r for r, (g, i) in enumerate(zip(groups, index, strict=True))}
    return np.array([[at.get((int(g), int(i) - (k - 1 - j)), -1) for j in range(k)]
                     for g, i in zip(groups, index, strict=True)], np.int64).reshape(-1, k)


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
