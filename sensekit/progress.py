"""Progress for long work: a tqdm bar on a terminal, nothing otherwise.

The bar shows the count, the rate and the time left, and fits the terminal's width as it is at
each redraw (a resized window included). It is drawn only when both stdout and the stream it
draws on (stderr) are terminals: output piped into a file or another program, CI logs and
``sensekit ... -q`` (:func:`set_quiet`) get no bar at all, only the command's result.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator
from types import TracebackType
from typing import Any, TextIO

__all__ = ["Progress", "result_to_file", "set_quiet"]

_quiet = False
#: The stdout a command started with, while its result is sent to ``-o FILE`` instead.
_command_stdout: TextIO | None = None


def set_quiet(quiet: bool) -> None:
    """Turn every progress bar of this process off (``-q``) or back on."""
    global _quiet
    _quiet = quiet


@contextlib.contextmanager
def result_to_file(stdout: TextIO) -> Iterator[None]:
    """Within the block ``sys.stdout`` is the ``-o FILE`` a result goes to; bars are drawn
    as ``stdout`` (the command's own) allows, so a terminal still gets them."""
    global _command_stdout
    before, _command_stdout = _command_stdout, stdout
    try:
        yield
    finally:
        _command_stdout = before


def _is_terminal(stream: object) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


def terminal_width() -> int:
    """Columns of the terminal now (``COLUMNS`` first, as :func:`shutil.get_terminal_size`)."""
    return shutil.get_terminal_size(fallback=(80, 24)).columns


#: Columns the count, percentage, rate and times take (tqdm's default layout), and the least
#: bar worth drawing: the label and the info get what is left, so the numbers stay in view.
_NUMBERS = {True: 52, False: 36}
_LEAST_BAR = 10


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, with an ellipsis where it was cut."""
    if len(text) <= width:
        return text
    return text[:width - 1] + "…" if width > 1 else ""


class Progress:
    """Report progress of ``total`` units of work (``None`` if unknown).

    Args:
        label: What is being done (``"importing walk.csv"``).
        total: Units of work in all, for the percentage and the time left.
        unit: The unit's name, with a leading space as in ``" samples"``.
        stream: Where the bar is drawn (stderr by default).
        enabled: ``False`` turns the bar off (a caller's own ``--no-progress``).
    """

    def __init__(self, label: str, total: float | None = None, *, unit: str = "",
                 stream: TextIO | None = None, enabled: bool = True) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0.0
        self._info = ""
        self.shown = (enabled and not _quiet and _is_terminal(self.stream)
                      and _is_terminal(_command_stdout or sys.stdout))
        self._bar: Any = self._make_bar() if self.shown else None

    def _make_bar(self) -> Any:
        from tqdm import tqdm

        return tqdm(total=self.total, unit=self.unit or " it", unit_scale=True,
                    file=self.stream, mininterval=0.1, leave=True, dynamic_ncols=False,
                    **self._layout(""))

    def _layout(self, info: str) -> dict[str, Any]:
        """Label and info cut to the terminal's width now, the numbers kept whole."""
        width = terminal_width()
        room = max(0, width - _NUMBERS[bool(self.total)] - (_LEAST_BAR if self.total else 0))
        desc = _fit(self.label, max(room * 2 // 3, room - len(info)))
        return {"ncols": width, "desc": desc,
                "postfix": _fit(info, max(0, room - len(desc) - 2)) or None}

    def _redraw_settings(self, info: str) -> None:
        layout = self._layout(info)
        if layout["ncols"] < self._bar.ncols:
            self._shrunk()
        self._bar.ncols = layout["ncols"]
        self._bar.set_description_str(layout["desc"], refresh=False)
        self._bar.set_postfix_str(layout["postfix"] or "", refresh=False)

    def _shrunk(self) -> None:
        """The terminal got narrower: clear the line, and stop tqdm padding the next draw
        with spaces to the old width (they would wrap onto a second line)."""
        self.stream.write("\r\x1b[2K")
        self._bar.sp = self._bar.status_printer(self.stream)

    def update(self, amount: float = 1, *, info: str = "") -> None:
        """Add ``amount`` units of work done; ``info`` is shown after the rate."""
        self.done += amount
        if self._bar is None:
            return
        self._info = info or self._info
        self._redraw_settings(self._info)
        self._bar.update(amount)

    def close(self, info: str = "") -> None:
        """Draw the final state and end the bar's line."""
        if self._bar is None:
            return
        self._redraw_settings(info or self._info)
        self._bar.close()
        self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
