"""What every importer shares: the recording it read, the places it names, and the writing.

An importer turns a source (a file or folder another tool wrote) into a :class:`Recording`:
streams as :class:`~sensekit.packets.Packet` s (each sorted by time), what each stream is (its
device metadata), the source's metadata, its time base as a :class:`~sensekit.clock.ClockMap`,
and one note per thing the importer skipped, corrected or assumed. :func:`write_recording`
writes it as a sensekit log; it is the one place that opens an import's output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...clock import ClockMap, FakeClock
from ...errors import LogFormatError
from ...outputs import atomic_output
from ...packets import Packet, concat
from .labels import LabelSpan, label_stream
from .textsrc import place

__all__ = ["PACKET_SAMPLES", "ImportResult", "LabelRequest", "Recording", "finite_median_rate",
           "place", "write_recording"]

#: Samples per message when writing (about a second at phone rates; the recorder also cuts
#: messages at one second of time).
PACKET_SAMPLES = 100


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote.

    Attributes:
        path: The output log.
        samples: Samples written per stream.
        skipped: One line per source file or sensor left out, saying why.
        notes: One line per thing corrected or assumed (negative times, duplicates...).
        format: The source format (``"us-tmd"``, ``"sensor-logger"``...).
    """

    path: Path
    samples: Mapping[str, int]
    skipped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    format: str = ""


@dataclass
class LabelRequest:
    """Labels to add once the recording's span is known (see :mod:`.labels`)."""

    constant: dict[str, str] = field(default_factory=dict)
    spans: list[LabelSpan] = field(default_factory=list)
    source: str = ""


@dataclass
class Recording:
    """A source being read: streams, what they are, and the time base.

    Small sources are read into ``streams`` at once; large tables are streamed by ``chunks``
    in bounded memory when the recording is written (:meth:`load` reads them into ``streams``).

    Attributes:
        source: The file or folder read.
        format: Its format name.
        streams: Packets by stream name, each sorted by ``t_ns``.
        clock: Maps the streams' ``t_ns`` to UTC (a constant offset for imported sources).
        devices: Per stream, what it is (source sensor, units, rate, ``kind``), written as
            ``sensekit.device.STREAM`` metadata.
        metadata: What the source says about itself (device, app, person...), written into
            the ``sensekit.log`` metadata record as ``source.KEY``.
        skipped: One line per file or sensor left out, saying why.
        notes: One line per correction or assumption (streamed sources add theirs as they go).
        chunks: Yields the streamed part, a packet at a time (each stream in file order).
        first_ns: Time of the first sample of a streamed source (read ahead).
        labels: Labels to add once the span is known.
    """

    source: Path
    format: str
    streams: dict[str, Packet]
    clock: ClockMap
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    chunks: Callable[[], Iterator[Packet]] | None = None
    first_ns: int | None = None
    labels: LabelRequest | None = None

    @property
    def relative(self) -> bool:
        """True when the times count from boot or start and no wall-clock start is known."""
        return self.clock.steps[0].synchronized == "relative"

    def span_ns(self) -> tuple[int, int]:
        """First and last sample time over every stream but ``labels`` (read ones only)."""
        spans = [p.span_ns for name, p in self.streams.items() if len(p) and name != "labels"]
        if not spans:
            raise LogFormatError(f"{self.source}: no samples")
        return min(a for a, _ in spans), max(b for _, b in spans)

    def first_sample_ns(self) -> int:
        """Time of the first sample, streamed or read."""
        if self.first_ns is not None:
            return self.first_ns
        return self.span_ns()[0]

    def packets(self) -> Iterator[Packet]:
        """Every stream in pieces of at most :data:`PACKET_SAMPLES`, the labels last."""
        lo, hi = 2**63 - 1, -(2**63)
        for packet in self._data():
            if len(packet) and packet.stream != "labels":
                lo, hi = min(lo, int(packet.t_ns.min())), max(hi, int(packet.t_ns.max()))
            yield packet
        if self.labels is not None:
            if lo > hi:
                raise LogFormatError(f"{self.source}: no samples to label")
            label, device = label_stream((lo, hi), self.labels.constant, self.labels.spans,
                                         source=self.labels.source)
            self.devices["labels"] = device
            yield from _pieces(label)

    def _data(self) -> Iterator[Packet]:
        for name in sorted(self.streams, key=lambda s: (s == "labels", s)):
            yield from _pieces(self.streams[name])
        if self.chunks is not None:
            for packet in self.chunks():
                yield from _pieces(packet)

    def load(self) -> Recording:
        """Read every streamed chunk and the labels into ``streams``; return ``self``."""
        parts: dict[str, list[Packet]] = {}
        for packet in self.packets():
            parts.setdefault(packet.stream, []).append(packet)
        self.streams = {name: _sorted(concat(p)) for name, p in parts.items()}
        self.chunks, self.labels, self.first_ns = None, None, None
        return self


def _pieces(packet: Packet) -> Iterator[Packet]:
    for start in range(0, len(packet), PACKET_SAMPLES):
        yield packet.slice(start, start + PACKET_SAMPLES)


def _sorted(packet: Packet) -> Packet:
    if len(packet) < 2 or bool(np.all(np.diff(packet.t_ns) >= 0)):
        return packet
    return packet.select(np.argsort(packet.t_ns, kind="stable"))


def _log_metadata(rec: Recording) -> dict[str, str]:
    meta = {f"source.{k}": str(v) for k, v in rec.metadata.items()}
    step = rec.clock.steps[0]
    meta.update({"source": f"{rec.format} {rec.source.name}", "import_format": rec.format,
                 "time_base": "relative" if rec.relative else "utc",
                 "clock_source": step.source})
    return meta


def write_recording(rec: Recording, out: str | os.PathLike[str], *, force: bool = False,
                    progress: Callable[[int], None] | None = None) -> ImportResult:
    """Write ``rec`` as a sensekit log at ``out``; nothing is left at ``out`` on failure.

    ``progress`` is called with the number of samples of each piece written.

    Raises:
        ConfigError: ``out`` exists (without ``force``) or is the source itself.
    """
    from ..recorder import Recorder

    target = Path(out)
    counts: dict[str, int] = {}
    step = rec.clock.steps[0]
    synced = {"true": True, "false": False}.get(step.synchronized)
    with atomic_output(target, inputs=[rec.source], force=force) as tmp, Recorder(
            tmp, clock=FakeClock(0), metadata=_log_metadata(rec), clock_synced=synced,
            wall_offset_ns=step.offset_ns, clock_map=rec.clock) as recorder:
        for packet in rec.packets():
            recorder.write(packet)
            counts[packet.stream] = counts.get(packet.stream, 0) + len(packet)
            if progress is not None:
                progress(len(packet))
        # After the data: streamed sources learn some facts (rates) only by reading it all.
        for stream, info in rec.devices.items():
            recorder.add_device(stream, info)
    return ImportResult(target, counts, tuple(rec.skipped), tuple(rec.notes), rec.format)


def finite_median_rate(t_ns: np.ndarray[Any, np.dtype[np.int64]]) -> float:
    """Events per second from the median interval (0 for fewer than two distinct times)."""
    steps = np.diff(t_ns)
    steps = steps[steps > 0]
    return float(1e9 / np.median(steps)) if len(steps) else 0.0
