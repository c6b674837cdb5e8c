"""Dual-mode camera policy: DNN mode by default, photo mode when asked, without flapping.

Switching a camera's mode costs time (the stock Jetson TX2 switch took 226 ms) and frames, so
the controller-facing API has hysteresis: a score must rise above ``high`` to switch to photo
mode and fall below ``low`` to come back, and a mode is held at least ``min_dwell_s``.
:class:`Hysteresis` is the reusable part (any two-state decision of the sampling controller);
:class:`DualModeCamera` applies it to a :class:`~sensekit.drivers.camera.camera.Camera`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:  # the controller does not import camera drivers to hold a switch
    from ..drivers.camera.backend import Size
    from ..drivers.camera.camera import Camera
    from ..packets import Packet

__all__ = ["DualModeCamera", "Hysteresis"]


@dataclass
class Hysteresis:
    """A two-state switch with separate thresholds and a minimum time in each state.

    Attributes:
        high: Score at or above which the switch turns on.
        low: Score at or below which it turns off (``low < high``).
        min_dwell_s: Least time between two changes.
        on: Current state.
        refused: Changes the scores asked for that the dwell time held back.
    """

    high: float
    low: float
    min_dwell_s: float = 2.0
    on: bool = False
    refused: int = 0
    _since_ns: int | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ConfigError(f"hysteresis needs low < high, got low={self.low} "
                              f"high={self.high}")

    def update(self, score: float, now_ns: int) -> bool:
        """Feed a score at host time ``now_ns``; return the (possibly new) state."""
        want = score > self.low if self.on else score >= self.high
        return self.request(want, now_ns)

    def request(self, on: bool, now_ns: int) -> bool:
        """Ask for a state directly; granted once the current one has lasted ``min_dwell_s``."""
        if self._since_ns is None:
            self._since_ns = now_ns
        if on != self.on:
            if now_ns - self._since_ns >= self.min_dwell_s * 1e9:
                self.on, self._since_ns = on, now_ns
            else:
                self.refused += 1
        return self.on


class DualModeCamera:
    """Puts a camera in photo mode while a score is high, DNN mode otherwise, with hysteresis.

    Args:
        camera: An open :class:`Camera`.
        dnn_size: DNN-mode frame size ``(width, height)``.
        high, low, min_dwell_s: See :class:`Hysteresis`.
    """

    def __init__(self, camera: Camera, *, dnn_size: Size = (224, 224), high: float = 0.7,
                 low: float = 0.3, min_dwell_s: float = 2.0) -> None:
        self.camera = camera
        self.dnn_size = dnn_size
        self.policy = Hysteresis(high, low, min_dwell_s, on=camera.mode == "photo")
        if camera.mode == "dnn" and camera.size != dnn_size:
            camera.set_mode("dnn", size=dnn_size, reason="dual-mode start")

    @property
    def mode(self) -> str:
        """The camera's mode."""
        return self.camera.mode

    def update(self, score: float, *, reason: str = "") -> str:
        """Feed the need for detail (0..1); switch if the hysteresis allows; return the mode."""
        return self._apply(self.policy.update(score, self.camera.clock.now_ns()), reason)

    def request(self, mode: str, *, reason: str = "") -> str:
        """Ask for ``"dnn"`` or ``"photo"``; honoured once the current mode has had its dwell."""
        if mode not in ("dnn", "photo"):
            raise ConfigError(f"dual-mode camera modes are 'dnn' and 'photo', not {mode!r}")
        return self._apply(self.policy.request(mode == "photo", self.camera.clock.now_ns()),
                           reason)

    def _apply(self, photo: bool, reason: str) -> str:
        target = "photo" if photo else "dnn"
        if target != self.camera.mode:
            size = {"size": self.dnn_size} if target == "dnn" else {}
            self.camera.set_mode(target, reason=reason, **size)
        return self.camera.mode

    def capture_photo(self) -> Packet:
        """A one-shot full-resolution frame; not a mode switch, so not held back."""
        return self.camera.capture_photo()

    @property
    def refused(self) -> int:
        """Switches asked for and held back by the hysteresis."""
        return self.policy.refused
