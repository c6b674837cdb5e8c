"""The one decimation path a replay and rate-augmented training share."""

from __future__ import annotations

import numpy as np

from sensekit import modalities
from sensekit.modalities.decimate import decimate, decimate_modality

S = 1_000_000_000


def tone(rate: float = 100.0, hz: float = 40.0, seconds: float = 10.0
         ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    t = (np.arange(int(seconds * rate)) * S / rate).astype(np.int64)
    x = np.sin(2 * np.pi * hz * t / S).astype(np.float32)
    return t, {"accel_mps2": np.stack([x, np.zeros_like(x), np.full_like(x, 9.81)], 1)}


def test_never_upsampled() -> None:
    t, f = tone(rate=5.0)
    out_t, out = decimate(t, f, 20.0, cutoff_hz=5.0)
    assert out_t is t and out["accel_mps2"] is f["accel_mps2"]


def test_the_parts_low_pass_then_its_grid() -> None:
    t, f = tone()
    accel = modalities.get("accel")
    cut = accel.cutoff_hz("accel_only", 25.0)
    assert cut == 10.0  # the widest DLPF setting at or below 12.5 Hz
    out_t, out = decimate_modality(accel, t, f, 25.0, mode="accel_only")
    assert len(out_t) == 250 and np.all(np.diff(out_t) == S // 25)
    assert np.abs(out["accel_mps2"][20:-20, 0]).max() < 0.05  # a 40 Hz tone cannot alias in
    # the cycle mode takes single measurements: a tone aliases, recorded values pass as they are
    t, f = tone(hz=35.0)
    cyc_t, cyc = decimate_modality(accel, t, f, 20.0, mode="accel_low_power")
    assert accel.cutoff_hz("accel_low_power", 20.0) is None
    idx = np.searchsorted(t, cyc_t)
    assert np.array_equal(cyc["accel_mps2"], f["accel_mps2"][idx])
    assert np.abs(cyc["accel_mps2"][:, 0]).max() > 0.5


def test_a_step_signal_is_read_on_the_grid_while_it_holds() -> None:
    t = (np.array([0.5, 1.5, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 9.0, 11.0, 61.0]) * S).astype(np.int64)
    lux = {"lux": np.array([40, 41, 40, 900, 901, 900, 902, 900, 899, 900, 5], np.float32)}
    light = modalities.get("light")
    grid_t, got = decimate_modality(light, t, lux, 0.2)  # a one-time measurement every 5 s
    assert grid_t[0] == int(0.5 * S) and np.all(np.diff(grid_t) == 5 * S)
    # each reading is the value standing then (a report holds for at most 120 s)
    assert got["lux"].tolist() == [40, 900, 899, *[900] * 10]


def test_a_random_phase_moves_the_grid_not_the_rate() -> None:
    t, f = tone()
    a, _ = decimate(t, f, 5.0, origin_ns=int(0.13 * S))
    assert len(a) in (50, 51) and np.all(np.isin(a, t))
    assert int(0.13 * S) in a and int(0.33 * S) in a and 0 in a  # 0: nearest to -0.07 s
