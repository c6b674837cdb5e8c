"""Progress for long work: a bar on a terminal, a plain line now and then otherwise."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Report progress of ``total`` units of work (``None`` if unknown).

    On a terminal it redraws one line; elsewhere (CI, pipes, logs) it prints a plain line at
    most every ``plain_interval_s`` seconds and at the end, so logs stay readable.
    """

    def __init__(self, label: str, total: float | None = None, *, unit: str = "",
                 stream: TextIO | None = None, enabled: bool = True,
                 plain_interval_s: float = 10.0) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.done = 0.0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._interval = 0.1 if self.tty else plain_interval_s
        self._start = time.monotonic()
        self._last = -1e9

    def update(self, amount: float = 1, *, info: str = "") -> None:
        """Add ``amount`` units of work done; ``info`` is shown beside the count."""
        self.done += amount
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._draw(info)

    def _draw(self, info: str, final: bool = False) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self._start
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 24)
            text = (f"{self.label} [{bar:<24}] {frac:6.1%} {self.done:,.0f}/{self.total:,.0f}"
                    f"{self.unit} {elapsed:5.1f}s")
        else:
            text = f"{self.label} {self.done:,.0f}{self.unit} {elapsed:5.1f}s"
        if info:
            text += f" {info}"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self, info: str = "") -> None:
        """Draw the final state."""
        self._draw(info, final=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
