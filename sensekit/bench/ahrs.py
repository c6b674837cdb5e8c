"""``sensekit bench ahrs``: orientation updates per second against imufusion and ahrs.

Input: BROAD trial 02 from the real-recordings corpus (``$SENSEKIT_CORPUS/imu`` or
``../shared/corpus/imu``, read with h5py), 53,240 samples at 286 Hz with motion-capture truth;
without the corpus or h5py, a synthetic trial of :mod:`sensekit.testing.motion` stands in.

- Batch: :meth:`Ahrs.estimate` on the whole arrays (9-axis and 6-axis; a whole recording,
  non-causal, as ``estimate`` treats its arrays by default) against x-io's Fusion
  (``imufusion``, C, one ``update`` call per sample from Python, as its examples do) and the
  ``ahrs`` package's Madgwick filter (numpy, whole arrays). The goal: at least a third of
  imufusion's updates per second.
- Streaming: :meth:`Ahrs.update` on ``imu`` packets of 1, 20 and 100 samples (20 is what the
  MPU-6050 driver delivers at 1 kHz: its FIFO drained every quarter of its 85-sample fill
  time), against imufusion's per-sample call. Real time at 1 kHz needs 1,000 samples/s;
  the note gives the margin here and an estimate for a Raspberry Pi 4 core.
- The same for the complementary backend (no compiled dependency), the fallback where vqf
  is not installed.

Each case is the best of several interleaved runs; the accuracy of every filter on the trial
is in the notes (inclination and heading RMSE as BROAD scores them, when truth is known).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..packets import Packet
from . import Case, case

__all__ = ["PI4_SLOWDOWN", "imufusion_estimate", "madgwick_estimate", "run"]

Array = npt.NDArray[np.float64]

#: How much slower one Raspberry Pi 4 core (Cortex-A72, 1.5 GHz) runs this kind of Python
#: and numpy code than the x86 core the figures come from: an estimate, not a measurement
#: (pyperformance-style Python benchmarks put a Pi 4 at 4-6 times a desktop core; 6 is taken
#: to stay on the safe side).
PI4_SLOWDOWN = 6.0


Mask = npt.NDArray[np.bool_]


def _trial(quick: bool) -> tuple[Array, Array, Array, float, Array | None, Mask | None, str]:
    here = Path(__file__).resolve().parents[2]
    for root in (os.environ.get("SENSEKIT_CORPUS", ""), str(here.parent / "shared" / "corpus"),
                 "../shared/corpus"):
        path = Path(root) / "imu" / "broad_02_undisturbed_slow_rotation_B.hdf5"
        if root and path.is_file():
            try:
                import h5py
            except ImportError:
                break
            with h5py.File(path, "r") as h:
                g, a, m = (np.asarray(h[k], np.float64) for k in ("imu_gyr", "imu_acc",
                                                                   "imu_mag"))
                truth = np.asarray(h["opt_quat"], np.float64)
                mask = np.asarray(h["movement"], bool) & np.all(np.isfinite(truth), axis=1)
                rate = float(h.attrs["sampling_rate"])
            n = len(g) // 3 if quick else len(g)
            return g[:n], a[:n], m[:n], rate, truth[:n], mask[:n], "BROAD trial 02 (corpus)"
    from ..testing.motion import make_trial

    tr = make_trial("combined", 0, rate_hz=286.0, move_s=30.0 if quick else 120.0)
    return tr.gyr, tr.acc, tr.mag, 286.0, tr.quat, tr.movement, "synthetic combined trial"


def _timed(fn: Callable[[], Array]) -> tuple[float, Array]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def imufusion_estimate(g: Array, a: Array, m: Array | None, rate: float) -> Array:
    """x-io Fusion with its defaults (ENU, the trial's rate), one update per sample."""
    import imufusion

    ahrs = imufusion.Ahrs()
    settings = imufusion.AhrsSettings()
    settings.convention = imufusion.CONVENTION_ENU
    if hasattr(settings, "sample_rate"):
        settings.sample_rate = rate
    ahrs.set_settings(settings)
    gd, ag = np.degrees(g), a / 9.81
    out = np.empty((len(g), 4))
    get = (lambda: ahrs.quaternion.wxyz) if hasattr(ahrs, "quaternion") else ahrs.get_quaternion
    for i in range(len(g)):
        if m is None:
            ahrs.update_no_magnetometer(gd[i], ag[i])
        else:
            ahrs.update(gd[i], ag[i], m[i])
        out[i] = get()
    return out


def madgwick_estimate(g: Array, a: Array, m: Array | None, rate: float) -> Array:
    """The ahrs package's Madgwick filter with its defaults, on whole arrays."""
    from ahrs.filters import Madgwick

    return np.asarray(Madgwick(gyr=g, acc=a, mag=m, frequency=rate).Q, np.float64)


def _sensekit(backend: str) -> Callable[[Array, Array, Array | None, float], Array]:
    def estimate(g: Array, a: Array, m: Array | None, rate: float) -> Array:
        from ..orientation import Ahrs

        return Ahrs(rate, backend=backend).estimate(g, a, m)
    return estimate


def _streamed(backend: str, size: int) -> Callable[[Array, Array, Array | None, float], Array]:
    def stream(g: Array, a: Array, m: Array | None, rate: float) -> Array:
        from ..orientation import Ahrs

        ahrs = Ahrs(rate, backend=backend)
        t_ns = (np.arange(len(g)) * (1e9 / rate)).astype(np.int64)
        f32 = {"gyro_rads": g.astype(np.float32), "accel_mps2": a.astype(np.float32)}
        if m is not None:
            f32["mag_ut"] = m.astype(np.float32)
        out = []
        for lo in range(0, len(g), size):
            packet = Packet("imu", t_ns[lo:lo + size],
                            {k: v[lo:lo + size] for k, v in f32.items()}, "imu")
            out.append(ahrs.update(packet)["quat_wxyz"])
        return np.concatenate(out).astype(np.float64)
    return stream


def _accuracy(q: Array, truth: Array | None, mask: Mask | None, mag: bool) -> str:
    if truth is None or mask is None:
        return ""
    from ..orientation.metrics import orientation_rmse_deg

    incl, head = orientation_rmse_deg(q, truth, mask)
    return f"{incl:.2f}/{head:.2f} deg" if mag else f"{incl:.2f} deg"


def _best(fns: dict[str, Callable[[Array, Array, Array | None, float], Array]], g: Array,
          a: Array, m: Array | None, rate: float, repeats: int) -> dict[str, tuple[float, Array]]:
    """Best time of each function over interleaved repeats (load hits them alike)."""
    best: dict[str, tuple[float, Array]] = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            seconds, q = _timed(lambda fn=fn: fn(g, a, m, rate))  # type: ignore[misc]
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, q)
    return best


def _peers() -> dict[str, Callable[[Array, Array, Array | None, float], Array]]:
    peers: dict[str, Callable[[Array, Array, Array | None, float], Array]] = {}
    for module, name, fn in (("imufusion", "imufusion", imufusion_estimate),
                             ("ahrs", "madgwick", madgwick_estimate)):
        try:
            __import__(module)
        except ImportError:
            continue
        peers[name] = fn
    return peers


def _backends() -> list[str]:
    try:
        import vqf  # noqa: F401
    except ImportError:
        return ["complementary"]
    return ["vqf", "complementary"]


def run(quick: bool) -> list[Case]:
    """Batch and streaming updates per second of sensekit's AHRS and its peers."""
    g, a, m, rate, truth, mask, source = _trial(quick)
    n = len(g)
    repeats = 3 if quick else 5
    peers = _peers()
    cases: list[Case] = []
    for mag in (m, None):
        axes = "9-axis" if mag is not None else "6-axis"
        fns = dict(peers)
        for backend in _backends():
            fns[f"sensekit/{backend}"] = _sensekit(backend)
        best = _best(fns, g, a, mag, rate, repeats)
        acc = {k: _accuracy(q, truth, mask, mag is not None) for k, (_, q) in best.items()}
        for backend in _backends():
            mine = n / best[f"sensekit/{backend}"][0]
            for peer in peers:
                theirs = n / best[peer][0]
                cases.append(case(f"batch {axes} {backend} vs {peer}", mine, "samples/s", theirs,
                                  note=f"{source}, {n:,} samples; RMSE incl/heading: sensekit "
                                       f"{acc[f'sensekit/{backend}']}, {peer} {acc[peer]}"))
    cases += _streaming(g, a, m, rate, source, repeats, peers)
    return cases


def _streaming(g: Array, a: Array, m: Array, rate: float, source: str, repeats: int,
               peers: dict[str, Callable[[Array, Array, Array | None, float], Array]]
               ) -> list[Case]:
    cases: list[Case] = []
    n = min(len(g), 20_000)  # one-sample packets take a while; 20,000 are plenty
    g, a, m = g[:n], a[:n], m[:n]
    imf = _best({"imufusion": peers["imufusion"]}, g, a, m, rate, repeats) \
        if "imufusion" in peers else {}
    theirs = n / imf["imufusion"][0] if imf else None
    for backend in _backends():
        for size in (1, 20, 100):
            best = _best({"s": _streamed(backend, size)}, g, a, m, rate, repeats)
            mine = n / best["s"][0]
            cases.append(case(
                f"streaming 9-axis {backend}, {size}-sample packets", mine, "samples/s", theirs,
                note=f"{source}; real time at 1 kHz: {mine / 1000:.1f}x here, about "
                     f"{mine / 1000 / PI4_SLOWDOWN:.1f}x on a Pi 4 core (estimate: this "
                     f"machine's figure / {PI4_SLOWDOWN:g}); peer: imufusion per sample"))
    return cases
