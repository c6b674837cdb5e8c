"""An emulated GPIO line driven by an emulated part's interrupt pin."""

from __future__ import annotations

from typing import Any

__all__ = ["EmulatedLine"]


class EmulatedLine:
    """The line an emulated part's INT pin drives (what ``open_interrupt_line`` gives on a board).

    Waiting moves time on in steps of the part's sample period (on a ``FakeClock`` that is
    instant), checking the pin after each.

    Args:
        part: An emulator with ``int_active()``, ``clock`` and ``period_ns``.
    """

    def __init__(self, part: Any) -> None:
        self.part = part
        self.waits = 0

    def wait(self, timeout_s: float) -> bool:
        """True when the pin is (or becomes, within ``timeout_s``) active."""
        self.waits += 1
        if self.part.int_active():
            return True
        clock = self.part.clock
        step = max(1e-4, min(float(self.part.period_ns) / 1e9, 0.05))
        waited = 0.0
        while waited < timeout_s:
            seconds = min(step, timeout_s - waited)
            clock.sleep(seconds)
            waited += seconds
            if self.part.int_active():
                return True
        return False

    def close(self) -> None:
        """Nothing to release."""
