"""Progress bars: fit every terminal width, show rate and time left, silent off a terminal."""

from __future__ import annotations

import io
import sys

import pytest

from sensekit import progress
from sensekit.progress import Progress

LABEL = "importing a-rather-long-recording-name-from-the-phone.csv"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def on_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdout a terminal too (set in the test itself: pytest's capture resets it after
    fixtures)."""
    monkeypatch.setattr(sys, "stdout", Terminal())
    progress.set_quiet(False)


def drawn_lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().replace("\n", "\r").split("\r") if line]


def run_bar(total: int | None, width: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    on_terminal(monkeypatch)
    monkeypatch.setenv("COLUMNS", str(width))
    stream = Terminal()
    with Progress(LABEL, total, unit=" samples", stream=stream) as bar:
        for _ in range(10):
            bar.update(100, info="imu 12,345 gps 23")
    return drawn_lines(stream)


@pytest.mark.parametrize("width", [12, 20, 40, 60, 80, 120, 250])
@pytest.mark.parametrize("total", [1000, None])
def test_no_line_is_wider_than_the_terminal(width: int, total: int | None,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    lines = run_bar(total, width, monkeypatch)
    assert lines, "nothing drawn on a terminal"
    assert max(len(line) for line in lines) <= width


def test_a_usual_terminal_shows_count_rate_and_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    last = run_bar(1000, 100, monkeypatch)[-1]
    assert "100%" in last and "1.00k/1.00k" in last
    assert "samples/s" in last  # the rate
    assert "<00:00" in last  # elapsed<left, as tqdm writes the time left
    assert last.startswith("importing")  # the label keeps its start when cut


def test_a_wide_terminal_shows_the_whole_label_and_info(monkeypatch: pytest.MonkeyPatch) -> None:
    last = run_bar(1000, 250, monkeypatch)[-1]
    assert LABEL in last and "imu 12,345 gps 23" in last


def test_a_resized_terminal_is_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    on_terminal(monkeypatch)
    stream = Terminal()
    monkeypatch.setenv("COLUMNS", "120")
    with Progress(LABEL, 100, stream=stream) as bar:
        bar.update(50)
        monkeypatch.setenv("COLUMNS", "40")
        bar.update(50)
    assert len(drawn_lines(stream)[-1]) <= 40


def test_silent_when_stderr_or_stdout_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    progress.set_quiet(False)
    piped = io.StringIO()
    with Progress(LABEL, 10, stream=piped) as bar:  # stderr redirected to a file
        bar.update(10)
    assert piped.getvalue() == ""
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # stdout piped, stderr a terminal
    stream = Terminal()
    with Progress(LABEL, 10, stream=stream) as bar:
        bar.update(10)
    assert stream.getvalue() == ""


def test_quiet_and_disabled_bars_draw_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    on_terminal(monkeypatch)
    stream = Terminal()
    with Progress(LABEL, 10, stream=stream, enabled=False) as bar:
        bar.update(10)
    progress.set_quiet(True)
    try:
        with Progress(LABEL, 10, stream=stream) as bar:
            bar.update(10)
    finally:
        progress.set_quiet(False)
    assert stream.getvalue() == ""
    assert bar.done == 10  # the count is kept all the same


def test_a_result_sent_to_a_file_keeps_the_terminals_bar(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    on_terminal(monkeypatch)
    terminal = sys.stdout
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # -o FILE: stdout is the file
    stream = Terminal()
    with progress.result_to_file(terminal), Progress(LABEL, 10, stream=stream) as bar:
        bar.update(10)
    assert "100%" in stream.getvalue()
    with Progress(LABEL, 10, stream=stream) as bar:  # after the block: piped again
        bar.update(10)
    assert stream.getvalue().count("100%") == 1
