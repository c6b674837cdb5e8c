"""CSV tables into streams, in bounded memory: one file (format ``csv``) or a folder of
per-sensor files from a phone app (format ``csv-folder``).

A table is read twice: its first rows decide the plan (delimiter, header, time column and
base, what each column is; see :mod:`.columns`), then every row is converted in blocks of
:data:`BLOCK_ROWS`, so a file of several gigabytes needs no more memory than a small one.
Bad rows are errors naming file, line and column, and nothing is written: a row shorter than
the header, a time or value that is not a number, a time out of range. Rows out of time order
are kept in file order and counted in a note (the reader sorts a stream when read).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...clock import ClockMap
from ...errors import ConfigError, LogFormatError
from ...packets import Packet
from .base import Recording
from .columns import (
    FieldPlan,
    Header,
    TimeBase,
    check_vector_units,
    detect_time_base,
    find_time_column,
    map_plans,
    parse_header,
    recognise,
    snake,
)
from .textsrc import (
    TextSource,
    csv_rows,
    file_source,
    is_number,
    iso_utc_ns,
    place,
    sniff_delimiter,
)

__all__ = ["BLOCK_ROWS", "TablePlan", "block_packets", "plan_table", "read_csv", "read_csv_folder",
           "read_head", "table_packets", "time_ns"]

#: Rows converted at a time.
BLOCK_ROWS = 8192
#: Rows read ahead to decide the plan.
HEAD_ROWS = 200
#: Times further than this from their zero (146 years) are an error: they would overflow UTC.
MAX_TIME_NS = 1 << 62


@dataclass
class TablePlan:
    """How one table becomes packets."""

    src: TextSource
    delimiter: str
    headers: list[Header]
    has_header: bool
    time: TimeBase
    fields: list[FieldPlan]
    first_ns: int = 0
    epoch_check: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def streams(self) -> list[str]:
        return sorted({f.stream for f in self.fields})


def read_head(src: TextSource, delimiter: str,
          header: bool | None) -> tuple[list[str], list[list[str]], bool]:
    """Column names, the first rows, and whether the first row is a header (a header has a
    cell that is not a number, unless ``header`` says)."""
    rows = [cells for _, cells in itertools.islice(csv_rows(src, delimiter), HEAD_ROWS + 1)]
    if not rows:
        raise LogFormatError(f"{src.name}: empty")
    first = rows[0]
    has_header = not all(is_number(c) for c in first if c.strip()) if header is None else header
    if has_header and len(rows) == 1:
        raise LogFormatError(f"{src.name}: empty (a header and no rows)")
    names = [c.strip() for c in first] if has_header else [str(i) for i in range(len(first))]
    return names, rows[1:] if has_header else rows, has_header


def _numeric_columns(headers: Sequence[Header], rows: Sequence[Sequence[str]]) -> dict[int, bool]:
    out = {}
    for h in headers:
        cells = [r[h.index].strip() for r in rows if h.index < len(r) and r[h.index].strip()]
        out[h.index] = bool(cells) and all(is_number(c) for c in cells)
    return out


def plan_table(src: TextSource, *, columns: Mapping[str, str | Sequence[str]] | None = None,
               stream: str | None = None, modality: str = "",
               scales: Mapping[str, float] | None = None, time_unit: str | None = None,
               header: bool | None = None, time_column: str | None = None) -> TablePlan:
    """Decide how ``src`` becomes packets (see the module docstring).

    Raises:
        LogFormatError: the table is empty, has no time column, or its time column holds
            neither numbers nor ISO 8601 times.
        ConfigError: a bad column map.
    """
    delimiter = sniff_delimiter(src)
    names, rows, has_header = read_head(src, delimiter, header)
    headers = [parse_header(i, n) for i, n in enumerate(names)]
    notes: list[str] = []
    where = Path(src.name).name
    if columns:
        time_h, plans = map_plans(columns, headers, stream or modality or _stem(src), modality,
                                  scales, where)
    else:
        time_h = _time_header(headers, time_column, src, has_header)
        others = [h for h in headers if h.index != time_h.index]
        plans = recognise(others, src.stem, _numeric_columns(others, rows), notes, where)
        sample = {c: _floats([r[c] if c < len(r) else "" for r in rows])
                  for p in plans for c in p.columns}
        plans = check_vector_units(plans, sample, notes, where)
    if not plans:
        raise LogFormatError(f"{where}: no value columns besides the time column {time_h.name!r}")
    base = detect_time_base(time_h, [r[time_h.index] for r in rows if time_h.index < len(r)],
                            time_unit, where)
    first = time_ns(rows[0][time_h.index], base, src, 0, 0) if rows else 0
    return TablePlan(src, delimiter, headers, has_header, base, plans, first, notes=notes)


def _stem(src: TextSource) -> str:
    return snake(src.stem)


def _time_header(headers: Sequence[Header], name: str | None, src: TextSource,
                 has_header: bool) -> Header:
    if name is not None:
        found = next((h for h in headers if h.name == name), None)
        if found is None:
            raise ConfigError(f"{src.name}: no column {name!r}; it has "
                              f"{', '.join(h.name for h in headers)}")
        return found
    found = find_time_column(headers) if has_header else None
    if found is None:
        hint = ("it has no header row: give --map t_ns=0 --map FIELD=1,2,3 (columns by "
                "position)" if not has_header else
                f"its columns are {', '.join(h.name for h in headers)}; give --map t_ns=COLUMN")
        raise LogFormatError(f"{src.name}: no time column found ({hint})")
    return found


def _floats(cells: Sequence[str]) -> npt.NDArray[np.float64]:
    out = np.empty(len(cells))
    for i, c in enumerate(cells):
        try:
            out[i] = float(c) if c.strip() else math.nan
        except ValueError:
            out[i] = math.nan
    return out


# -- conversion ---------------------------------------------------------------------------
def time_ns(text: str, base: TimeBase, src: TextSource, line: int, column: int) -> int:
    """Exact integer ns of one time cell (no float rounding of epoch nanoseconds)."""
    cell = text.strip()
    if base.unit == "iso":
        parsed = iso_utc_ns(cell)
        if parsed is None:
            raise LogFormatError(f"{place(src.name, line, column)}: {cell!r} is not an ISO 8601 "
                                 "time like the rows before it")
        return parsed[0]
    try:
        value = int(cell) * base.scale_ns if cell.lstrip("-").isdigit() else round(
            Decimal(cell) * base.scale_ns)
    except (InvalidOperation, ValueError):
        raise LogFormatError(f"{place(src.name, line, column)}: time {cell!r} is not a "
                             "number") from None
    if abs(value) > MAX_TIME_NS:
        raise LogFormatError(f"{place(src.name, line, column)}: time {cell} {base.unit} is out "
                             "of range (more than 146 years from its zero); is the time unit "
                             "right? (--time-unit)")
    return int(value)


def _column(block: Sequence[tuple[int, list[str]]], index: int, src: TextSource,
            scale: float) -> npt.NDArray[np.float64]:
    cells = [cells[index] for _, cells in block]
    try:
        values = np.array([float(c) if c.strip() else math.nan for c in cells])
    except ValueError:
        k = next(k for k, c in enumerate(cells) if c.strip() and not is_number(c))
        raise LogFormatError(f"{place(src.name, block[k][0], index + 1)}: {cells[k]!r} is not a "
                             "number") from None
    return values * scale if scale != 1.0 else values


def _check_lengths(block: Sequence[tuple[int, list[str]]], width: int, src: TextSource) -> None:
    for line, cells in block:
        if len(cells) < width:
            raise LogFormatError(f"{place(src.name, line, len(cells) + 1)}: the row has "
                                 f"{len(cells)} fields, the header {width}")
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            raise LogFormatError(f"{place(src.name, line, width + 1)}: the row has "
                                 f"{len(cells)} fields, the header {width}")


def _gps_fields(fields: dict[str, npt.NDArray[Any]], t: npt.NDArray[np.int64],
                epoch: bool) -> dict[str, npt.NDArray[Any]]:
    """The GPS spec's fields: missing ones marked missing (NaN, -1), never zero."""
    n = len(t)
    nan = np.full(n, np.nan, np.float32)
    out = {"lat_deg": fields["lat_deg"], "lon_deg": fields["lon_deg"],
           "alt_msl_m": fields.get("alt_msl_m", nan), "speed_mps": fields.get("speed_mps", nan),
           "track_deg": fields.get("track_deg", nan), "hdop": fields.get("hdop", nan),
           "sats_used": fields.get("sats_used", np.full(n, -1, np.int16)),
           "utc_ns": t.copy() if epoch else np.zeros(n, np.int64)}
    alt = next((fields[k] for k in ("alt_msl_m", "alt_hae_m", "alt_m") if k in fields), nan)
    out["mode"] = np.where(np.isfinite(fields["lat_deg"]),
                           np.where(np.isfinite(alt), 3, 2), 1).astype(np.int8)
    out.update({k: v for k, v in fields.items() if k not in out})
    return out


def _field(p: FieldPlan, block: Sequence[tuple[int, list[str]]],
           src: TextSource) -> npt.NDArray[Any]:
    if p.classes is not None:
        words = [cells[p.columns[0]].strip().lower() for _, cells in block]
        p.classes.extend(sorted(set(words) - set(p.classes)))
        index = {c: i for i, c in enumerate(p.classes)}
        return np.array([index[w] for w in words], np.int8)
    parts = [_column(block, c, src, p.scale) for c in p.columns]
    data = parts[0] if len(parts) == 1 else np.stack(parts, 1)
    if p.negative_invalid:
        data = np.where(data < 0, np.nan, data)
    if np.dtype(p.dtype).kind == "i":
        data = np.where(np.isfinite(data), data, -1)
    return data.astype(p.dtype)


def block_packets(plan: TablePlan, block: Sequence[tuple[int, list[str]]]) -> list[Packet]:
    src = plan.src
    _check_lengths(block, len(plan.headers), src)
    col = plan.time.column
    t = np.array([time_ns(cells[col], plan.time, src, line, col + 1) for line, cells in block],
                 np.int64)
    by_stream: dict[str, dict[str, npt.NDArray[Any]]] = {}
    modality: dict[str, str] = {}
    for p in plan.fields:
        by_stream.setdefault(p.stream, {})[p.field] = _field(p, block, src)
        modality[p.stream] = p.modality
    packets = []
    for stream, fields in by_stream.items():
        if modality[stream] == "gps":
            fields = _gps_fields(fields, t, plan.time.epoch)
        packets.append(Packet(stream, t, fields, modality[stream]))
    return packets


def table_packets(plan: TablePlan) -> Iterator[Packet]:
    """Every row of the table as packets, a block at a time; notes what it had to keep."""
    rows = csv_rows(plan.src, plan.delimiter)
    if plan.has_header:
        next(rows, None)
    last = -(2**63)
    backwards = 0
    while block := list(itertools.islice(rows, BLOCK_ROWS)):
        packets = block_packets(plan, block)
        t = packets[0].t_ns
        backwards += int(np.sum(np.diff(t) < 0)) + int(t[0] < last)
        last = int(t[-1])
        yield from packets
    if backwards:
        plan.notes.append(f"{Path(plan.src.name).name}: {backwards:,} rows go back in time; "
                          "kept in file order (a stream read back is sorted by time)")


def _clock(base: TimeBase, what: str) -> ClockMap:
    if base.epoch:
        return ClockMap.constant(0, "unknown", f"{what}: epoch time")
    return ClockMap.constant(0, "relative", f"{what}: times since boot or start")


def _device(plan: TablePlan, stream: str) -> dict[str, Any]:
    fields = [p for p in plan.fields if p.stream == stream]
    return {"driver": "import", "file": Path(plan.src.name).name,
            "columns": {p.field: [plan.headers[c].name for c in p.columns] for p in fields}}


def read_csv(src: str | os.PathLike[str], **options: Any) -> Recording:
    """A CSV (plain or gzip) as a streamed :class:`Recording` (call ``.load()`` for packets).

    Options are those of :func:`plan_table`: ``columns`` (a ``--map``), ``stream``,
    ``modality``, ``scales``, ``time_unit``, ``header``, ``time_column``.
    """
    path = Path(src)
    plan = plan_table(file_source(path), **options)
    notes = [plan.time.why] + [f"{f.stream}: {f.why}" for f in plan.fields] + plan.notes
    plan.notes = notes
    what = f"time column {plan.headers[plan.time.column].name!r}"
    return Recording(path, "csv", {}, _clock(plan.time, what),
                     {s: _device(plan, s) for s in plan.streams}, notes=notes,
                     chunks=lambda: table_packets(plan), first_ns=plan.first_ns)


def read_csv_folder(src: str | os.PathLike[str], sources: Sequence[TextSource] | None = None,
                    format: str = "csv-folder",
                    file_columns: Mapping[str, Mapping[str, str]] | None = None) -> Recording:
    """A folder (or a zip's members) of per-sensor CSV files, one stream or more per file.

    Each file is recognised by its name and columns, or read with its own column map from
    ``file_columns`` (``{"Baro.csv": {"t_ns": "ts", "pressure_hpa": "p"}}``, the stream named
    for the file); one note per file says what it was taken as. Empty files and files that
    cannot be read as a table are skipped, each named.
    """
    path = Path(src)
    files = list(sources) if sources is not None else [
        file_source(p) for p in sorted(path.rglob("*")) if p.is_file()
        and p.name.lower().endswith((".csv", ".csv.gz", ".txt"))]
    plans: list[TablePlan] = []
    notes: list[str] = []
    skipped: list[str] = []
    maps = dict(file_columns or {})
    for text in files:
        name = Path(text.name).name
        if text.is_empty():
            skipped.append(f"skipped {name}: empty")
            continue
        columns = maps.pop(name, None) or maps.pop(text.stem, None)
        try:
            plan = plan_table(text, columns=columns, stream=snake(text.stem),
                              modality=_modality_of(columns)) if columns else plan_table(text)
        except LogFormatError as exc:
            skipped.append(f"skipped {name}: {str(exc).split(': ', 1)[-1]}")
            continue
        plans.append(plan)
        streams = ", ".join(sorted({f"{p.stream} ({p.field})" for p in plan.fields}))
        notes.append(f"{name}: taken as {streams}; {plan.time.why.split(': ', 1)[-1]}")
    if maps:
        raise ConfigError(f"{path}: --map names {', '.join(sorted(maps))}, which the folder does "
                          f"not have; it has {', '.join(Path(f.name).name for f in files)}")
    if not plans:
        why = "; ".join(skipped) or "no CSV files"
        raise LogFormatError(f"{path}: no sensor file recognised ({why})")
    _check_one_base(plans, path)
    _rename_clashes(plans)

    def chunks() -> Iterator[Packet]:
        for plan in plans:
            yield from table_packets(plan)
            notes.extend(plan.notes)

    devices = {s: _device(p, s) for p in plans for s in p.streams}
    return Recording(path, format, {}, _clock(plans[0].time, "per-sensor files"), devices,
                     skipped=skipped, notes=notes, chunks=chunks,
                     first_ns=min(p.first_ns for p in plans))


def _modality_of(columns: Mapping[str, str] | None) -> str:
    """The modality whose spec holds every mapped field (``""`` when none does)."""
    from ...packets import SPECS

    fields = set(columns or {}) - {"t_ns"}
    return next((m for m, spec in SPECS.items() if fields and fields <= set(spec.fields)), "")


def _check_one_base(plans: Sequence[TablePlan], path: Path) -> None:
    kinds = {p.time.epoch for p in plans}
    if len(kinds) > 1:
        which = ", ".join(f"{Path(p.src.name).name} ({'epoch' if p.time.epoch else 'relative'})"
                          for p in plans)
        raise LogFormatError(f"{path}: the files do not share one time base: {which}")


def _rename_clashes(plans: list[TablePlan]) -> None:
    """Two files giving the same stream: the second is named for its file."""
    seen: set[str] = set()
    for plan in plans:
        mine = set(plan.streams)
        if mine & seen:
            suffix = snake(plan.src.stem)
            plan.fields = [FieldPlan(f"{f.stream}_{suffix}" if f.stream in seen else f.stream,
                                     f.modality, f.field, f.columns, f.scale, f.dtype, f.why)
                           for f in plan.fields]
        seen |= set(plan.streams)
