"""The windows of ``fusion/real_recipe.py``: the transport-mode corpus, the phone walks, and the
simulator's running and cycling, each through sensekit's own import and window path.

- us_tmd: every ``sensorfile_*.csv.gz`` read by ``read_us_tmd`` (the importer: SI units,
  sorted events, the sound level's mirrored negative times read as ``-t``), cut into 5 s
  windows by ``recording_windows`` on a grid from the recording's start (the importer's time
  0), every modality's window statistics, the rate views of rate augmentation, and the label
  from the file name. Beside them, per window: the person, the window's start in UTC, the
  published method's statistics (mean/min/max/std of each sensor's magnitude), which sensors
  are present, the accelerometer's native rate, the GPS speed nearest the window's centre
  (within 20 s), and DeepConvLSTM's raw input (accelerometer and gyroscope on a 10 Hz grid).
- phone/: the six walks (one person, six placements, 100 Hz), kept blind: they train and tune
  nothing, and the recipe only scores the final model on them.
- simulator: days of sensekit's scenario simulator (seeds and length in the config), whose
  running and cycling windows teach the activity head those two classes (the real recordings
  have neither); their transport label is missing, so the transport head never sees them.

Everything is cached in one pickle (``--cache``), keyed by the config's data section.
"""

from __future__ import annotations

import glob
import hashlib
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sensekit.fusion.data import WindowSet
from sensekit.fusion.inputs import ModalityInput, Source, stats_modalities
from sensekit.fusion.rates import native_rate_hz, rate_views
from sensekit.fusion.recordings import accel_csv_recording, concat_sets, recording_windows

#: The published method's sensors: importer stream and the field whose magnitude it takes.
BASELINE_SENSORS = {
    "accelerometer": ("accel", "accel_mps2"), "gyroscope": ("gyro", "gyro_rads"),
    "magnetic_field": ("mag", "mag_ut"), "gravity": ("gravity", "gravity_mps2"),
    "linear_acceleration": ("linear_accel", "linear_accel_mps2"),
    "orientation": ("orientation", "orientation_deg"),
    "rotation_vector": ("rotation_vector", "quat_xyzw"),
    "game_rotation_vector": ("game_rotation_vector", "quat_xyzw"),
    "gyroscope_uncalibrated": ("gyro_uncal", "gyro_rads"),
    "magnetic_field_uncalibrated": ("mag_uncal", "mag_ut"),
    "pressure": ("pressure", "pressure_hpa"), "light": ("light", "lux"),
    "sound": ("sound", "sound_db"), "speed": ("speed", "speed_mps"),
    "proximity": ("proximity", "proximity_cm")}
#: DeepConvLSTM's input: accelerometer and gyroscope held on a 10 Hz grid.
RAW_RATE_HZ = 10.0
TASKS = ("transport", "activity")
NS = 1_000_000_000


@dataclass
class Corpus:
    """Every window the recipe uses (see the module docstring)."""

    ws: WindowSet                     # us_tmd windows, all modalities' statistics and views
    person: np.ndarray                # per window
    t_utc: np.ndarray                 # window start, UTC seconds
    files: list[str]                  # per group (recording)
    base: np.ndarray                  # (N, 4 x sensors) published statistics, NaN: absent
    accel_rate: np.ndarray            # the recording's accelerometer rate (0: none)
    speed_near: np.ndarray            # GPS speed within 20 s of the centre, NaN: none
    raw: np.ndarray                   # (N, 6, 50) DeepConvLSTM input
    phone: WindowSet                  # phone/ walks (blind)
    phone_files: list[str]
    sim: WindowSet                    # simulated days, activity labels on running/cycling only


def network_modalities(cfg: dict[str, Any]) -> dict[str, ModalityInput]:
    """Every modality the windows carry: the config's ``modalities`` (what the views and
    baselines read), every candidate's, and the rules' inputs."""
    return stats_modalities(modality_names(cfg))


def modality_names(cfg: dict[str, Any]) -> list[str]:
    return sorted(set(cfg.get("modalities", []))
                  | {m for c in cfg["candidates"].values() for m in c["modalities"]}
                  | {r["modality"] for r in cfg["rules"]})


def views_of(cfg: dict[str, Any]) -> dict[str, Any]:
    """The rate views of rate augmentation: point sampling at ``rate_views_hz`` and the
    replay's low-pass and decimation at ``replay_rates_hz``."""
    return rate_views(cfg["rate_views_hz"], replay_rates=cfg["replay_rates_hz"])


def _baseline(rec: Any, n: int, window_s: float) -> np.ndarray:
    """(n, 4 x sensors): mean, min, max, std of each sensor's magnitude per window."""
    out = np.full((n, 4 * len(BASELINE_SENSORS)), np.nan, np.float32)
    edges = np.arange(n + 1) * window_s * NS
    for j, (stream, fld) in enumerate(BASELINE_SENSORS.values()):
        p = rec.streams.get(stream)
        if p is None or not len(p):
            continue
        v = np.asarray(p.fields[fld], np.float64).reshape(len(p), -1)
        ok = np.isfinite(v).all(1)
        t, v = p.t_ns[ok], v[ok]
        mag = np.linalg.norm(v[:, :3], axis=1) if v.shape[1] >= 3 else v[:, 0]
        cut = np.searchsorted(t, edges)
        for k in range(n):
            x = mag[cut[k]:cut[k + 1]]
            if len(x):
                out[k, 4 * j:4 * j + 4] = [x.mean(), x.min(), x.max(), x.std()]
    return out


def _hold(t: np.ndarray, v: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The last sample at or before each grid point, if at most 1 s old; zeros otherwise."""
    i = np.searchsorted(t, grid, side="right") - 1
    ok = (i >= 0) & (grid - t[np.maximum(i, 0)] < NS)
    return np.where(ok[:, None], v[np.maximum(i, 0)], 0.0)


def _raw(rec: Any, n: int, window_s: float) -> np.ndarray:
    steps = int(RAW_RATE_HZ * window_s)
    out = np.zeros((n, 6, steps), np.float32)
    offsets = (np.arange(steps) * NS / RAW_RATE_HZ).astype(np.int64)
    for j, (stream, fld) in enumerate((("accel", "accel_mps2"), ("gyro", "gyro_rads"))):
        p = rec.streams.get(stream)
        if p is None or len(p) <= 4:
            continue
        v = np.asarray(p.fields[fld], np.float64)
        for k in range(n):
            grid = int(k * window_s * NS) + offsets
            out[k, 3 * j:3 * j + 3] = _hold(p.t_ns, v, grid).T
    return out


def _speed_near(rec: Any, index: np.ndarray, window_s: float, tol_s: float = 20.0
                ) -> np.ndarray:
    p = rec.streams.get("speed")
    out = np.full(len(index), np.nan, np.float32)
    if p is None or not len(p):
        return out
    centre = (index * window_s + window_s / 2) * NS
    j = np.clip(np.searchsorted(p.t_ns, centre), 0, len(p) - 1)
    prev = np.maximum(j - 1, 0)
    j = np.where(np.abs(p.t_ns[prev] - centre) < np.abs(p.t_ns[j] - centre), prev, j)
    near = np.abs(p.t_ns[j] - centre) <= tol_s * NS
    out[near] = np.asarray(p.fields["speed_mps"], np.float32)[j[near]]
    return out


def _us_tmd(root: Path, cfg: dict[str, Any], log: Any) -> dict[str, Any]:
    from sensekit.log.importers.android_events import read_us_tmd

    mods = network_modalities(cfg)
    window_s = float(cfg["window_s"])
    views = views_of(cfg)
    parts: dict[str, list[Any]] = {k: [] for k in ("ws", "person", "t", "base", "rate",
                                                     "speed", "raw")}
    files = sorted(glob.glob(str(root / "us_tmd" / "sensorfile_*.csv.gz")))
    for g, path in enumerate(files):
        rec = read_us_tmd(path)
        ws = recording_windows(rec, mods, window_s=window_s, hop_s=window_s, group=g,
                               tasks=TASKS, views=views, seed=g, origin_ns=0)
        n = int(ws.index.max()) + 1
        keep = ws.index
        parts["ws"].append(ws)
        parts["person"].append(np.full(len(ws), rec.metadata["person"]))
        parts["t"].append(int(rec.metadata["start_ms"]) / 1000 + ws.index * window_s)
        parts["base"].append(_baseline(rec, n, window_s)[keep])
        accel = rec.streams.get("accel")
        parts["rate"].append(np.full(len(ws), native_rate_hz(accel.t_ns) if accel is not None
                                     else 0.0, np.float32))
        parts["speed"].append(_speed_near(rec, ws.index, window_s))
        parts["raw"].append(_raw(rec, n, window_s)[keep])
        log(f"  {Path(path).name}: {len(ws)} windows")
    return {"ws": concat_sets(parts["ws"]), "person": np.concatenate(parts["person"]),
            "t_utc": np.concatenate(parts["t"]), "files": [Path(f).name for f in files],
            "base": np.concatenate(parts["base"]), "accel_rate": np.concatenate(parts["rate"]),
            "speed_near": np.concatenate(parts["speed"]), "raw": np.concatenate(parts["raw"])}


def _phone(root: Path, cfg: dict[str, Any]) -> tuple[WindowSet, list[str]]:
    mods = network_modalities(cfg)
    window_s = float(cfg["window_s"])
    files = sorted(glob.glob(str(root / "phone" / "user1_*.csv")))
    sets = [recording_windows(accel_csv_recording(f, {"transport": "walking"}), mods,
                              window_s=window_s, hop_s=window_s, group=g, tasks=TASKS,
                              views=views_of(cfg), seed=g)
            for g, f in enumerate(files)]
    return concat_sets(sets), [Path(f).name for f in files]


def _simulated(folder: Path, cfg: dict[str, Any], log: Any) -> WindowSet:
    from sensekit.testing.scenario import SimConfig, simulate

    spec = cfg["simulator"]
    mods = network_modalities(cfg)
    window_s = float(cfg["window_s"])
    folder.mkdir(parents=True, exist_ok=True)
    sets = []
    for g, seed in enumerate(range(*spec["seeds"])):
        path = folder / f"sim-{seed}-{spec['duration_s']:g}s.mcap"
        if not path.is_file():
            tmp = path.with_suffix(".tmp")
            simulate(tmp, SimConfig(duration_s=float(spec["duration_s"]), seed=seed))
            tmp.replace(path)
        ws = recording_windows(path, mods, window_s=window_s, hop_s=window_s, group=g,
                               tasks=TASKS, views=views_of(cfg), seed=seed)
        act = ws.labels["activity"]
        wanted = [ws.classes["activity"].index(c) for c in spec["activity_classes"]]
        ws.labels["activity"] = np.where(np.isin(act, wanted), act, -1)
        ws.labels["transport"] = np.full(len(ws), -1, np.int64)
        sets.append(ws)
        log(f"  simulated day seed {seed}: {int(np.isin(act, wanted).sum())} windows of "
            f"{', '.join(spec['activity_classes'])}")
    return concat_sets(sets)


def load(root: Path, cfg: dict[str, Any], cache: Path, log: Any = print) -> Corpus:
    """The corpus windows (from the cache when the data section of the config is unchanged)."""
    data = {k: cfg[k] for k in ("window_s", "rate_views_hz", "replay_rates_hz", "rules",
                                "simulator")}
    data["modalities"] = modality_names(cfg)  # the windows do not depend on the candidates
    key = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
    path = cache / f"corpus-{key}.pkl"
    if path.is_file():
        with path.open("rb") as fh:
            corpus: Corpus = pickle.load(fh)
        return corpus
    log("windows of the transport-mode recordings:")
    tmd = _us_tmd(root, cfg, log)
    phone, phone_files = _phone(root, cfg)
    log("windows of simulated days:")
    sim = _simulated(cache / "sim", cfg, log)
    corpus = Corpus(tmd["ws"], tmd["person"], tmd["t_utc"], tmd["files"], tmd["base"],
                    tmd["accel_rate"], tmd["speed_near"], tmd["raw"], phone, phone_files, sim)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(corpus, fh)
    tmp.replace(path)
    return corpus


def raw_input_spec(window_s: float) -> dict[str, ModalityInput]:
    """DeepConvLSTM's inputs as sensekit modalities (accelerometer, gyroscope at 10 Hz)."""
    return {name: ModalityInput("series", 3, (RAW_RATE_HZ,), window_s, sources=(
        Source(stream, (fld,)),), xyz=True)
        for name, stream, fld in (("accel", "accel", "accel_mps2"),
                                  ("gyro", "gyro", "gyro_rads"))}
