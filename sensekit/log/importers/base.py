"""What every importer shares: the recording it read, the places it names, and the writing.

An importer turns a source (a file or folder another tool wrote) into a :class:`Recording`:
streams as :class:`~sensekit.packets.Packet` s (each sorted by time), what each stream is (its
device metadata), the source's metadata, its time base as a :class:`~sensekit.clock.ClockMap`,
and one note per thing the importer skipped, corrected or assumed. :func:`write_recording`
writes it as a sensekit log; it is the one place that opens an import's output.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...clock import ClockMap, FakeClock
from ...errors import ConfigError, LogFormatError
from ...packets import Packet

__all__ = ["PACKET_SAMPLES", "ImportResult", "Recording", "place", "write_recording"]

#: Samples per message when writing (about a second at phone rates; the recorder also cuts
#: messages at one second of time).
PACKET_SAMPLES = 100


def place(path: str | os.PathLike[str], line: int | None = None,
          column: int | None = None) -> str:
    """``path:line:column``, as compilers name a place in a file (line and column from 1)."""
    text = str(path)
    if line is not None:
        text += f":{line}"
        if column is not None:
            text += f":{column}"
    return text


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
class Recording:
    """A source read into memory: streams, what they are, and the time base.

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
        notes: One line per correction or assumption.
    """

    source: Path
    format: str
    streams: dict[str, Packet]
    clock: ClockMap
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def relative(self) -> bool:
        """True when the times count from boot or start and no wall-clock start is known."""
        return self.clock.steps[0].synchronized == "relative"

    def span_ns(self) -> tuple[int, int]:
        """First and last sample time over every stream but ``labels``."""
        spans = [p.span_ns for name, p in self.streams.items() if len(p) and name != "labels"]
        if not spans:
            raise LogFormatError(f"{self.source}: no samples")
        return min(a for a, _ in spans), max(b for _, b in spans)

    def packets(self) -> Iterator[Packet]:
        """Every stream in pieces of :data:`PACKET_SAMPLES`, stream by stream."""
        for name in sorted(self.streams, key=lambda s: (s == "labels", s)):
            packet = self.streams[name]
            for start in range(0, len(packet), PACKET_SAMPLES):
                yield packet.slice(start, start + PACKET_SAMPLES)


def _log_metadata(rec: Recording) -> dict[str, str]:
    meta = {f"source.{k}": str(v) for k, v in rec.metadata.items()}
    step = rec.clock.steps[0]
    meta.update({"source": f"{rec.format} {rec.source.name}", "import_format": rec.format,
                 "time_base": "relative" if rec.relative else "utc",
                 "clock_source": step.source})
    return meta


def write_recording(rec: Recording, out: str | os.PathLike[str], *,
                    force: bool = False) -> ImportResult:
    """Write ``rec`` as a sensekit log at ``out``; nothing is left at ``out`` on failure.

    Raises:
        ConfigError: ``out`` exists (without ``force``) or is the source itself.
    """
    from ..recorder import Recorder

    target = Path(out)
    counts: dict[str, int] = {}
    step = rec.clock.steps[0]
    synced = {"true": True, "false": False}.get(step.synchronized)
    with _output(target, rec.source, force) as tmp, Recorder(
            tmp, clock=FakeClock(0), metadata=_log_metadata(rec), clock_synced=synced,
            wall_offset_ns=step.offset_ns, clock_map=rec.clock) as recorder:
        for stream, info in rec.devices.items():
            recorder.add_device(stream, info)
        for packet in rec.packets():
            recorder.write(packet)
            counts[packet.stream] = counts.get(packet.stream, 0) + len(packet)
    return ImportResult(target, counts, tuple(rec.skipped), tuple(rec.notes), rec.format)


@contextlib.contextmanager
def _output(out: Path, source: Path, force: bool) -> Iterator[Path]:
    """A temporary path beside ``out``, renamed to ``out`` when the block succeeds."""
    if out.resolve() == source.resolve():
        raise ConfigError(f"{out}: the output would overwrite the input {source}")
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; pass --force (force=True) to replace it")
    tmp = out.with_name(f"{out.name}.part")
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def finite_median_rate(t_ns: np.ndarray[Any, np.dtype[np.int64]]) -> float:
    """Events per second from the median interval (0 for fewer than two distinct times)."""
    steps = np.diff(t_ns)
    steps = steps[steps > 0]
    return float(1e9 / np.median(steps)) if len(steps) else 0.0
