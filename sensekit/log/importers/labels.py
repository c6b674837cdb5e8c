"""Labels as a stream: constant per recording (``--label TASK=CLASS``) or spans from a CSV.

The ``labels`` stream has one int8 field per task, sampled every ``1 / rate_hz`` seconds over
the whole recording, holding an index into that task's class list; ``-1`` means "no label for
this task here" (outside every span), so a window there is not scored: the label at a time is
the sample at or before it (what ``sensekit evaluate-policy`` reads), and a window's label is
the majority of its samples that are not -1 (unlabelled when none is). The class lists go
into the stream's device metadata (``sensekit.device.labels``:
``{"transport": ["still", "walking", ...], "kind": "labels"}``), the layout
:mod:`sensekit.fusion.recordings` and the simulator use.

Span files have the header ``start,end,task,class``; times are epoch seconds (UTC) or ISO 8601
(``2016-11-30T10:15:00Z``; a time without a zone is read as UTC and the notes say so). A span
covers ``start <= t < end``.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...clock import ClockMap
from ...errors import ConfigError, LogFormatError
from ...packets import Packet
from .textsrc import iso_utc_ns, place

__all__ = ["KNOWN_CLASSES", "LABEL_RATE_HZ", "LabelSpan", "label_stream", "parse_label",
           "read_label_spans"]

#: Class lists of the tasks DESIGN.md names; other classes of these tasks are appended.
KNOWN_CLASSES: Mapping[str, tuple[str, ...]] = {
    "activity": ("still", "walking", "running", "cycling", "vehicle"),
    "transport": ("still", "walking", "car", "bus", "train"),
}
#: Label samples per second: fine enough for windows of a fraction of a second.
LABEL_RATE_HZ = 10.0
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: Epoch seconds below this (1973) are taken for times since start, which spans cannot use.
_EPOCH_MIN_S = 1e8


@dataclass(frozen=True)
class LabelSpan:
    """``task`` is ``cls`` for host times ``start_ns <= t < end_ns``; ``where`` names its line."""

    task: str
    cls: str
    start_ns: int
    end_ns: int
    where: str = ""


def _name(text: str, what: str, where: str) -> str:
    name = text.strip().lower()
    if not _NAME.match(name):
        raise ConfigError(f"{where}: {what} {text!r} must be a lower-case name of letters, "
                          "digits and '_' starting with a letter (e.g. transport, car)")
    return name


def parse_label(text: str) -> tuple[str, str]:
    """``"transport=car"`` -> ``("transport", "car")`` (names are lower-cased).

    Raises:
        ConfigError: not ``TASK=CLASS``.
    """
    task, sep, cls = text.partition("=")
    if not sep:
        raise ConfigError(f"--label {text!r}: expected TASK=CLASS, e.g. transport=car")
    where = f"--label {text!r}"
    return _name(task, "task", where), _name(cls, "class", where)


def _utc_ns(text: str, where: str, notes: list[str]) -> int:
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if math.isfinite(seconds):
        if seconds < _EPOCH_MIN_S:
            raise LogFormatError(f"{where}: {value!r} is not an epoch time in seconds (it would "
                                 "be before 1973); give epoch seconds or ISO 8601 UTC")
        return round(seconds * 1e9)
    parsed = iso_utc_ns(value)
    if parsed is None:
        raise LogFormatError(f"{where}: {value!r} is neither epoch seconds nor an ISO 8601 "
                             "time (2016-11-30T10:15:00Z)")
    if not parsed[1] and not notes:
        notes.append("labels: times without a zone read as UTC")
    return parsed[0]


def read_label_spans(path: str | os.PathLike[str], clock: ClockMap,
                     notes: list[str] | None = None) -> list[LabelSpan]:
    """Spans from a ``start,end,task,class`` CSV, in the recording's host time.

    Raises:
        LogFormatError: a bad header, time or name, an end before its start, or two spans of
            one task that overlap with different classes; the message names file, line, column.
    """
    src = Path(path)
    try:
        text = src.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LogFormatError(f"{src}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise LogFormatError(f"{src}: cannot read ({exc.strerror})") from None
    rows = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(rows, [])]
    if header != ["start", "end", "task", "class"]:
        raise LogFormatError(f"{place(src, 1)}: the header must be start,end,task,class; "
                             f"found {','.join(header) or 'nothing'}")
    spans: list[LabelSpan] = []
    zone_notes: list[str] = []
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 4:
            raise LogFormatError(f"{place(src, line)}: expected 4 fields (start,end,task,class),"
                                 f" found {len(row)}")
        start, end = (_utc_ns(row[k], place(src, line, k + 1), zone_notes) for k in (0, 1))
        if end <= start:
            raise LogFormatError(f"{place(src, line, 2)}: the span ends before it starts")
        spans.append(LabelSpan(_name(row[2], "task", place(src, line, 3)),
                               _name(row[3], "class", place(src, line, 4)),
                               clock.host_ns(start), clock.host_ns(end), place(src, line)))
    _check_overlaps(spans)
    if notes is not None:
        notes.extend(zone_notes)
    return spans


def _check_overlaps(spans: Sequence[LabelSpan]) -> None:
    by_task: dict[str, list[LabelSpan]] = {}
    for span in spans:
        by_task.setdefault(span.task, []).append(span)
    for task_spans in by_task.values():
        ordered = sorted(task_spans, key=lambda s: s.start_ns)
        for a, b in itertools.pairwise(ordered):
            if b.start_ns < a.end_ns and a.cls != b.cls:
                raise LogFormatError(f"{b.where}: span of {b.task}={b.cls} overlaps "
                                     f"{a.task}={a.cls} at {a.where}")


def _classes(task: str, seen: Sequence[str]) -> list[str]:
    known = list(KNOWN_CLASSES.get(task, ()))
    return known + sorted({c for c in seen if c not in known})


def label_stream(span_ns: tuple[int, int], constant: Mapping[str, str] | None = None,
                 spans: Sequence[LabelSpan] = (), *, rate_hz: float = LABEL_RATE_HZ,
                 source: str = "") -> tuple[Packet, dict[str, Any]]:
    """The ``labels`` packet over ``span_ns`` and its device metadata.

    Args:
        span_ns: First and last sample time of the recording (host ns).
        constant: ``{task: class}`` for the whole recording.
        spans: Labelled spans (a task may not be both constant and spanned).
        rate_hz: Label samples per second.
        source: Where the labels came from (written into the metadata).

    Raises:
        ConfigError: a task given both ways, or no label at all.
    """
    constant = dict(constant or {})
    both = sorted(constant.keys() & {s.task for s in spans})
    if both:
        raise ConfigError(f"task {both[0]!r} has a constant label and spans; give one or the "
                          "other")
    tasks = sorted(constant.keys() | {s.task for s in spans})
    if not tasks:
        raise ConfigError("no labels given")
    step = round(1e9 / rate_hz)
    t = np.arange(span_ns[0], span_ns[1] + 1, step, dtype=np.int64)
    classes = {task: _classes(task, [constant[task]] if task in constant else
                              [s.cls for s in spans if s.task == task]) for task in tasks}
    fields = {}
    for task in tasks:
        codes = np.full(len(t), -1, np.int8)
        if task in constant:
            codes[:] = classes[task].index(constant[task])
        for s in (s for s in spans if s.task == task):
            codes[(t >= s.start_ns) & (t < s.end_ns)] = classes[task].index(s.cls)
        fields[task] = codes
    packet = Packet("labels", t, fields)
    device: dict[str, Any] = {"driver": "import", "kind": "labels", "rate_hz": rate_hz,
                              "source": source, **classes}
    return packet, device
