"""Streaming rational resampling in numpy (polyphase windowed-sinc FIR).

Many USB microphones capture only at 44.1 or 48 kHz; a 16 kHz pipeline then resamples. The
resampler keeps its filter history between blocks, so a stream cut into blocks of any size
gives the same output as the whole stream resampled at once.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import numpy.typing as npt

__all__ = ["StreamResampler"]


class StreamResampler:
    """Resample blocks of (frames, channels) float32 from ``in_rate_hz`` to ``out_rate_hz``.

    Output sample ``n`` sits at input position ``n * M / L`` (``L / M`` the reduced rate ratio)
    minus the filter's group delay, :attr:`delay_in_frames`.

    Args:
        in_rate_hz: The rate the device delivers.
        out_rate_hz: The rate wanted.
        channels: Columns per frame.
        taps_per_phase: FIR length per polyphase branch; 32 gives > 60 dB stop-band rejection.
    """

    def __init__(self, in_rate_hz: int, out_rate_hz: int, channels: int,
                 taps_per_phase: int = 32) -> None:
        ratio = Fraction(int(out_rate_hz), int(in_rate_hz))
        self.up, self.down = ratio.numerator, ratio.denominator
        self.in_rate_hz, self.out_rate_hz = int(in_rate_hz), int(out_rate_hz)
        self.channels = channels
        self.taps = taps_per_phase
        self._bank = _polyphase_bank(self.up, self.down, taps_per_phase)
        self._history = np.zeros((taps_per_phase - 1, channels), np.float32)
        self._consumed = 0  # input frames seen so far
        self._produced = 0  # output frames made so far

    @property
    def delay_in_frames(self) -> float:
        """Group delay of the filter, in input frames."""
        return (self.taps * self.up - 1) / 2 / self.up

    @property
    def produced(self) -> int:
        """Output frames made so far."""
        return self._produced

    def process(self, block: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Resample one block; returns the output frames it completes (possibly none)."""
        if self.up == self.down:
            return block
        n_in = block.shape[0]
        buffer = np.concatenate([self._history, block.astype(np.float32, copy=False)])
        total = self._consumed + n_in
        # Output n needs input index floor(n*M/L), which must already be in the buffer.
        last = (total * self.up - 1) // self.down
        n = np.arange(self._produced, last + 1, dtype=np.int64)
        base = (n * self.down) // self.up  # newest input frame each output uses
        phase = (n * self.down) % self.up
        local = base - self._consumed + self.taps - 1  # index into buffer
        gather = local[:, None] - np.arange(self.taps)[None, :]
        frames = buffer[gather]  # (outputs, taps, channels)
        out = np.asarray(np.einsum("ntc,nt->nc", frames, self._bank[phase]), np.float32)
        self._history = buffer[-(self.taps - 1):].copy()
        self._consumed = total
        self._produced += len(n)
        return out

    def positions(self, first: int, count: int) -> npt.NDArray[np.float64]:
        """Input-frame positions (fractional, delay removed) of outputs ``first..first+count``."""
        n = np.arange(first, first + count, dtype=np.float64)
        return n * self.down / self.up - self.delay_in_frames


def _polyphase_bank(up: int, down: int, taps: int) -> npt.NDArray[np.float32]:
    """Kaiser-windowed sinc low-pass split into ``up`` branches of ``taps`` coefficients."""
    length = up * taps
    # Cut off below the lower Nyquist frequency, leaving a transition band for the window.
    cutoff = 0.92 / max(up, down) / 2  # cycles per sample at the upsampled rate
    t = np.arange(length, dtype=np.float64) - (length - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * t) * np.kaiser(length, 8.0)
    h *= up / h.sum()  # unity gain at DC after zero-stuffing
    # Branch p holds h[p + k*up] for k = 0..taps-1; output n uses branch (n*down) % up.
    return np.ascontiguousarray(h.reshape(taps, up).T, dtype=np.float32)
