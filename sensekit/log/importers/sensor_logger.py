"""Importers: phone and spreadsheet recordings into sensekit MCAP logs.

- :func:`import_sensor_logger`: the Sensor Logger app's exports (a folder of CSVs, its zip, or
  its JSON file). Columns and units follow the app's own reference
  (github.com/tszheichoi/awesome-sensor-logger, UNITS.md): ``time`` is UTC epoch ns,
  ``seconds_elapsed`` seconds since the start; Accelerometer/Gyroscope/Magnetometer ``x,y,z``
  in m/s^2, rad/s, uT; Location ``latitude, longitude, altitude, speed, bearing,
  horizontalAccuracy...``; Light ``lux``; Microphone ``dBFS``. Any other sensor file with a
  ``time`` column becomes a custom stream of its numeric columns.
- :func:`import_csv`: any CSV with a column map (``{"t_ns": "time", "accel_mps2": "ax,ay,az"}``).

Imported samples keep the source's epoch time as ``t_ns`` (the log's wall offset is then 0 and
its clock counts as synchronised).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...clock import FakeClock
from ...errors import LogFormatError
from ...packets import SPECS, Packet
from ..recorder import Recorder
from .base import ImportResult

__all__ = ["ImportResult", "csv_packet", "import_csv", "import_sensor_logger", "read_sensor_logger",
           "read_table"]

Table = dict[str, list[str]]

#: Sensor Logger file stem -> (stream, modality).
_KNOWN = {"Accelerometer": ("imu", "imu"), "TotalAcceleration": ("imu", "imu"),
          "Location": ("gps", "gps"), "Light": ("light", "light"),
          "Microphone": ("sound_level", "")}
#: Samples per packet when importing (about a second at phone rates).
PACKET_SAMPLES = 100


# -- reading the three export forms --------------------------------------------------------
def _read_tables(src: Path) -> tuple[dict[str, Table], dict[str, str]]:
    """Sensor tables by sensor name, and metadata.csv's first row."""
    if src.is_dir():
        files = {p.stem: p.read_text(encoding="utf-8") for p in sorted(src.rglob("*.csv"))}
    elif zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zf:
            files = {Path(n).stem: zf.read(n).decode("utf-8") for n in zf.namelist()
                     if n.lower().endswith(".csv")}
    elif src.suffix.lower() == ".json":
        return _read_json(src), {}
    else:
        raise LogFormatError(f"{src} is not a Sensor Logger export: expected a folder of CSV "
                             "files, its .zip, or its .json file")
    if not files:
        raise LogFormatError(f"{src}: no CSV files found; expected Sensor Logger files such as "
                             "Accelerometer.csv, Gyroscope.csv, Location.csv")
    meta_text = files.pop("metadata", "")
    tables = {name: _parse_csv(text, f"{src}/{name}.csv") for name, text in files.items()}
    meta_rows = list(csv.DictReader(io.StringIO(meta_text)))
    return tables, dict(meta_rows[0]) if meta_rows else {}


def _parse_csv(text: str, where: str, header_row: bool = True) -> Table:
    reader = csv.reader(io.StringIO(text))
    try:
        first = next(reader)
    except StopIteration:
        raise LogFormatError(f"{where} is empty; expected a header row") from None
    # Without a header row, columns are named by position: "0", "1", ...
    header = [h.strip() for h in first] if header_row else [str(i) for i in range(len(first))]
    columns: Table = {h: [] for h in header}
    rows = reader if header_row else itertools.chain([first], reader)
    for row in rows:
        if not row:
            continue
        for h, value in zip(header, row, strict=False):
            columns[h].append(value)
    return columns


def _read_json(src: Path) -> dict[str, Table]:
    try:
        records = json.loads(src.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise LogFormatError(f"{src} is not valid JSON ({exc}); expected Sensor Logger's JSON "
                             "export, an array of records with a 'sensor' key") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) and "sensor" in r
                                                for r in records):
        raise LogFormatError(f"{src}: expected an array of objects with 'sensor' and 'time' "
                             "keys (Sensor Logger's JSON export)")
    tables: dict[str, Table] = {}
    for rec in records:
        table = tables.setdefault(str(rec["sensor"]), {})
        n = len(next(iter(table.values()), []))
        for key, value in rec.items():
            if key != "sensor":
                table.setdefault(key, [""] * n).append("" if value is None else str(value))
        for col in table.values():
            if len(col) < n + 1:
                col.append("")
    return tables


# -- converting tables to packets -----------------------------------------------------------
def _floats(table: Table, col: str, where: str) -> npt.NDArray[np.float64]:
    if col not in table:
        raise LogFormatError(f"{where}: no column {col!r}; it has {', '.join(table)}")
    try:
        return np.array([float(v) if v not in ("", "null", "NaN") else np.nan
                         for v in table[col]], np.float64)
    except ValueError as exc:
        raise LogFormatError(f"{where}: column {col!r} is not numeric ({exc})") from None


def _times(table: Table, where: str) -> npt.NDArray[np.int64]:
    if "time" not in table:
        raise LogFormatError(f"{where}: no 'time' column (UTC epoch nanoseconds); it has "
                             f"{', '.join(table)}")
    try:
        return np.array([int(v.split(".")[0]) for v in table["time"]], np.int64)
    except ValueError as exc:
        raise LogFormatError(f"{where}: 'time' is not integer nanoseconds ({exc})") from None


def _xyz(table: Table, where: str) -> npt.NDArray[np.float32]:
    return np.stack([_floats(table, c, where) for c in "xyz"], 1).astype(np.float32)


def _interp_xyz(t: npt.NDArray[np.int64], src_t: npt.NDArray[np.int64],
                xyz: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return np.stack([np.interp(t, src_t, xyz[:, k]) for k in range(3)], 1).astype(np.float32)


def _imu(tables: dict[str, Table], src: Path) -> Packet | None:
    """One IMU packet: total acceleration (gravity included, as the imu spec says) and gyro."""
    if "TotalAcceleration" in tables:
        base = tables["TotalAcceleration"]
        t, accel = _times(base, f"{src}/TotalAcceleration"), _xyz(base, str(src))
    elif "Accelerometer" in tables:
        base = tables["Accelerometer"]
        t, accel = _times(base, f"{src}/Accelerometer"), _xyz(base, f"{src}/Accelerometer")
        if "Gravity" in tables:  # Accelerometer is user acceleration only; add gravity back
            g = tables["Gravity"]
            accel = accel + _interp_xyz(t, _times(g, "Gravity"), _xyz(g, f"{src}/Gravity"))
    else:
        return None
    fields: dict[str, npt.NDArray[Any]] = {"accel_mps2": accel}
    for name, key in (("Gyroscope", "gyro_rads"), ("Magnetometer", "mag_ut")):
        if name in tables:
            other = tables[name]
            fields[key] = _interp_xyz(t, _times(other, name), _xyz(other, f"{src}/{name}"))
    order = np.argsort(t, kind="stable")
    return Packet("imu", t[order], {k: v[order] for k, v in fields.items()}, "imu")


def _gps(table: Table, where: str) -> Packet:
    t = _times(table, where)

    def col(name: str, invalid_below_zero: bool = False) -> npt.NDArray[np.float64]:
        if name not in table:
            return np.full(len(t), np.nan)
        v = _floats(table, name, where)
        return np.where(v < 0, np.nan, v) if invalid_below_zero else v

    alt = col("altitudeAboveMeanSeaLevel") if "altitudeAboveMeanSeaLevel" in table else col(
        "altitude")
    fields: dict[str, npt.NDArray[Any]] = {
        "lat_deg": col("latitude"), "lon_deg": col("longitude"),
        "alt_msl_m": alt.astype(np.float32),
        "speed_mps": col("speed", True).astype(np.float32),
        "track_deg": col("bearing", True).astype(np.float32),
        "mode": np.where(np.isfinite(alt), 3, 2).astype(np.int8),
        "hdop": np.full(len(t), np.nan, np.float32),
        "sats_used": np.full(len(t), -1, np.int16), "utc_ns": t.copy()}
    return Packet("gps", t, fields, "gps")


def _generic(name: str, table: Table, where: str) -> Packet | None:
    t = _times(table, where)
    fields: dict[str, npt.NDArray[Any]] = {}
    for col in table:
        if col in ("time", "seconds_elapsed"):
            continue
        try:
            fields[_snake(col)] = _floats(table, col, where).astype(np.float32)
        except LogFormatError:
            continue  # text columns (network type, activity) have no numeric stream
    if not fields:
        return None
    stream, modality = _KNOWN.get(name, (_snake(name), ""))
    if name == "Light":
        fields = {"lux": fields["lux"]}
    elif name == "Microphone" and "d_bfs" in fields:
        fields = {"level_dbfs": fields.pop("d_bfs")}
    return Packet(stream, t, fields, modality)


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower().replace(" ", "_")


def read_sensor_logger(src: str | os.PathLike[str]) -> tuple[list[Packet], dict[str, str],
                                                            list[str]]:
    """Packets (one per stream), the export's metadata, and the files skipped.

    Raises:
        LogFormatError: ``src`` is not a Sensor Logger export, or a file lacks the columns
            the app writes; the message names the file and what was expected.
    """
    path = Path(src)
    if not path.exists():
        raise LogFormatError(f"{path}: no such file or folder")
    tables, meta = _read_tables(path)
    packets: list[Packet] = []
    imu = _imu(tables, path)
    if imu is not None:
        packets.append(imu)
    used = {"Accelerometer", "TotalAcceleration", "Gravity", "Gyroscope", "Magnetometer"}
    skipped = []
    for name, table in sorted(tables.items()):
        if name in used and imu is not None:
            continue
        where = f"{path}/{name}"
        packet = _gps(table, where) if name == "Location" else _generic(name, table, where)
        if packet is None or len(packet) == 0:
            skipped.append(name)
        else:
            packets.append(packet)
    if not packets:
        raise LogFormatError(f"{path}: no sensor data found; expected Sensor Logger files "
                             "such as Accelerometer.csv, Location.csv, Light.csv")
    return packets, meta, skipped


def import_sensor_logger(src: str | os.PathLike[str], out: str | os.PathLike[str]
                         ) -> ImportResult:
    """Convert a Sensor Logger export into a sensekit MCAP log at ``out``."""
    packets, meta, skipped = read_sensor_logger(src)
    extra = {f"source.{k}": str(v) for k, v in meta.items()}
    extra["source"] = f"Sensor Logger export {Path(src).name}"
    return _write(out, packets, extra, tuple(skipped))


def import_csv(src: str | os.PathLike[str], out: str | os.PathLike[str], *,
               columns: Mapping[str, str | Sequence[str]], stream: str, modality: str = "",
               time_unit: str = "ns", scales: Mapping[str, float] | None = None,
               header: bool = True) -> ImportResult:
    """Convert a CSV into a log, with a column map naming which columns make which field.

    Args:
        columns: ``{"t_ns": "time", "accel_mps2": "ax,ay,az"}``: ``t_ns`` names the time
            column; each other key is a field, built from one column or several (a vector).
        stream: Stream name in the log.
        modality: The :data:`~sensekit.packets.SPECS` entry the fields follow (dtypes are taken
            from it), or ``""`` for a custom stream (float32).
        time_unit: Unit of the time column: ``ns``, ``us``, ``ms`` or ``s``.
        scales: Factor per field into its SI unit (``{"accel_mps2": 9.80665}`` for g,
            ``{"gyro_rads": math.pi / 180}`` for deg/s).
        header: Whether the first row names the columns; without one, columns are named by
            position (``"0"``, ``"1"``...).
    """
    path = Path(src)
    table = read_table(path, header)
    packet = csv_packet(table, str(path), columns=columns, stream=stream, modality=modality,
                        time_unit=time_unit, scales=scales)
    return _write(out, [packet], {"source": f"CSV {path.name}"}, ())


def read_table(path: Path, header: bool = True) -> Table:
    """A CSV file's columns by name (by position without a header)."""
    try:
        return _parse_csv(path.read_text(encoding="utf-8"), str(path), header)
    except OSError as exc:
        raise LogFormatError(f"cannot read {path}: {exc.strerror}") from None


def csv_packet(table: Table, where: str, *, columns: Mapping[str, str | Sequence[str]],
               stream: str, modality: str, time_unit: str,
               scales: Mapping[str, float] | None = None) -> Packet:
    """One packet from a parsed CSV table and a column map (see :func:`import_csv`)."""
    scale = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}.get(time_unit)
    if scale is None:
        raise LogFormatError(f"{where}: time unit {time_unit!r}; expected ns, us, ms or s")
    if "t_ns" not in columns:
        raise LogFormatError(f"{where}: the column map needs t_ns=COLUMN naming the time column")
    unknown = set(scales or {}) - set(columns)
    if unknown:
        raise LogFormatError(f"{where}: scales for fields not in the column map: "
                             f"{', '.join(sorted(unknown))}")
    t_col = _names(columns["t_ns"])[0]
    if t_col not in table:
        raise LogFormatError(f"{where}: no time column {t_col!r}; it has {', '.join(table)}")
    if time_unit == "ns":
        t = _times({"time": table[t_col]}, where)
    else:
        t = np.round(_floats(table, t_col, where) * scale).astype(np.int64)
    spec = SPECS.get(modality)
    fields: dict[str, npt.NDArray[Any]] = {}
    for name, cols in columns.items():
        if name == "t_ns":
            continue
        names = _names(cols)
        data = np.stack([_floats(table, c, where) for c in names], 1)
        data = data * (scales or {}).get(name, 1.0)
        dtype = spec.fields[name].dtype if spec and name in spec.fields else "float32"
        fields[name] = (data[:, 0] if len(names) == 1 else data).astype(dtype)
    return Packet(stream, t, fields, modality)


def _names(cols: str | Sequence[str]) -> list[str]:
    return [c.strip() for c in cols.split(",")] if isinstance(cols, str) else list(cols)


def _write(out: str | os.PathLike[str], packets: Iterable[Packet], extra: dict[str, str],
           skipped: tuple[str, ...]) -> ImportResult:
    counts: dict[str, int] = {}
    # Imported times are already wall-clock (epoch ns): the log's wall offset is 0.
    with Recorder(out, clock=FakeClock(0), metadata=extra, clock_synced=True,
                  wall_offset_ns=0) as rec:
        for packet in packets:
            for start in range(0, len(packet), PACKET_SAMPLES):
                rec.write(packet.slice(start, start + PACKET_SAMPLES))
            counts[packet.stream] = counts.get(packet.stream, 0) + len(packet)
    return ImportResult(Path(out), counts, skipped)
