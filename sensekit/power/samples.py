"""Raw meter samples of a run: written as CSV (always) and Parquet (with pyarrow), read back.

Columns: ``t_ns`` (host monotonic), ``t_s`` (seconds from the run's first instant),
``total_w`` (board power, :func:`~sensekit.power.meters.total_power_w`), then per rail
``<rail>_voltage_v``, ``<rail>_current_a``, ``<rail>_power_w`` (empty / NaN where the meter has
no such reading). The rail names and their order are in ``run.json``.
"""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..errors import LogFormatError
from ..outputs import atomic_output
from ..packets import Packet, concat
from .meters.base import total_power_w

__all__ = ["Samples", "read_samples", "write_samples"]

QUANTITIES = ("voltage_v", "current_a", "power_w")


@dataclass(frozen=True)
class Samples:
    """The readings of one run: times, board total and per-rail arrays of shape (N, rails)."""

    t_ns: npt.NDArray[np.int64]
    total_w: npt.NDArray[np.float64]
    rails: tuple[str, ...]
    voltage_v: npt.NDArray[np.float64]
    current_a: npt.NDArray[np.float64]
    power_w: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.t_ns)


def _from_packets(packets: list[Packet]) -> Samples:
    if not packets:
        empty = np.empty((0, 0))
        return Samples(np.empty(0, np.int64), np.empty(0), (), empty, empty, empty)
    joined = concat(packets)
    n = len(joined)
    rails = tuple(joined.meta.get("rails", ()))
    cols = {q: np.asarray(joined.fields.get(q, np.full((n, len(rails)), np.nan)), np.float64)
            for q in QUANTITIES}
    return Samples(joined.t_ns, total_power_w(joined).astype(np.float64), rails,
                   cols["voltage_v"], cols["current_a"], cols["power_w"])


def write_samples(folder: Path, packets: list[Packet], t0_ns: int) -> Samples:
    """Write ``samples.csv`` (and ``samples.parquet`` when pyarrow is installed).

    The Parquet schema metadata names the meter and says whether it is an estimate; in the
    CSV the estimate meter's rail is called ``estimate``, so its columns say so.
    """
    s = _from_packets(packets)
    meta = dict(packets[0].meta) if packets else {}
    header = ["t_ns", "t_s", "total_w"] + [f"{r}_{q}" for r in s.rails for q in QUANTITIES]
    with atomic_output(folder / "samples.csv", force=True) as tmp, tmp.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        for i in range(len(s)):
            row: list[object] = [int(s.t_ns[i]), f"{(s.t_ns[i] - t0_ns) / 1e9:.6f}",
                                 _num(s.total_w[i])]
            for j in range(len(s.rails)):
                row += [_num(s.voltage_v[i, j]), _num(s.current_a[i, j]), _num(s.power_w[i, j])]
            out.writerow(row)
    if importlib.util.find_spec("pyarrow") is not None:
        with atomic_output(folder / "samples.parquet", force=True) as tmp:
            _write_parquet(tmp, s, t0_ns, meta)
    return s


def _num(x: float) -> str:
    return "" if np.isnan(x) else f"{x:.6g}"


def _write_parquet(path: Path, s: Samples, t0_ns: int, meta: dict[str, object]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"t_ns": pa.array(s.t_ns), "t_s": pa.array((s.t_ns - t0_ns) / 1e9),
               "total_w": pa.array(s.total_w)}
    for j, rail in enumerate(s.rails):
        for q, values in zip(QUANTITIES, (s.voltage_v, s.current_a, s.power_w), strict=True):
            columns[f"{rail}_{q}"] = pa.array(values[:, j])
    labels = {"sensekit.meter": str(meta.get("meter", "")),
              "sensekit.estimate": "true" if meta.get("estimate") else "false",
              "sensekit.note": str(meta.get("note", ""))}
    pq.write_table(pa.table(columns).replace_schema_metadata(labels), path)


def read_samples(folder: Path, rails: tuple[str, ...]) -> Samples:
    """Read ``samples.csv`` of a run folder; ``rails`` as listed in its ``run.json``."""
    path = folder / "samples.csv"
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise LogFormatError(f"cannot read {path}: {exc}. Hint: is this a run folder of "
                             "'sensekit power measure'?") from exc
    if not rows or rows[0][:3] != ["t_ns", "t_s", "total_w"]:
        raise LogFormatError(f"{path}: line 1 is not the samples header")
    body = rows[1:]
    t = np.array([int(r[0]) for r in body], np.int64)
    values = np.array([[float(x) if x else np.nan for x in r[2:]] for r in body],
                      np.float64).reshape(len(body), 1 + 3 * len(rails))
    per = values[:, 1:].reshape(len(body), len(rails), 3)
    return Samples(t, values[:, 0], rails, per[:, :, 0], per[:, :, 1], per[:, :, 2])
