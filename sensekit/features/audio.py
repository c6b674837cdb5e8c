"""Audio features for the fusion network, in numpy only (no torchaudio on a Pi).

- :class:`LogMel`: log-mel spectrogram (HTK mel scale, Hann window, power in dB).
- :class:`ActivityScore`: per-frame sound activity (level against a threshold) and voice
  activity (sound x periodicity in the voice pitch range x share of energy in the speech band),
  both in [0, 1], for the sampling controller and as cheap network inputs.

Both take ``pcm`` as a packet's field (int16 full scale 32768 or float32 full scale 1.0,
``(N,)`` or ``(N, channels)``; channels are averaged) and cut it into frames of ``win`` samples
every ``hop`` samples, frame ``i`` covering samples ``i*hop .. i*hop+win``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["ActivityScore", "LogMel", "frames_of", "hz_to_mel", "mel_filterbank", "mel_to_hz",
           "to_mono_float"]

F32 = npt.NDArray[np.float32]


def hz_to_mel(hz: Any) -> Any:
    """HTK mel scale: ``2595 log10(1 + f/700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def mel_to_hz(mel: Any) -> Any:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_filterbank(rate_hz: float, n_fft: int, n_mels: int, fmin_hz: float = 0.0,
                   fmax_hz: float | None = None) -> F32:
    """Triangular filters, ``(n_mels, n_fft // 2 + 1)``, each peaking at 1 on its mel centre."""
    fmax = rate_hz / 2 if fmax_hz is None else fmax_hz
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / rate_hz)
    lo, centre, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lo) / np.maximum(centre - lo, 1e-9)
    falling = (hi - bins[None, :]) / np.maximum(hi - centre, 1e-9)
    return np.asarray(np.maximum(0.0, np.minimum(rising, falling)), np.float32)


def to_mono_float(pcm: npt.NDArray[Any]) -> F32:
    """PCM (int16 or float) as float32 full scale 1.0, channels averaged."""
    x = np.asarray(pcm)
    scale = 1.0 / 32768.0 if x.dtype == np.int16 else 1.0
    x = x.astype(np.float32) * np.float32(scale)
    return np.asarray(x.mean(axis=1) if x.ndim == 2 else x, np.float32)


def frames_of(x: F32, win: int, hop: int) -> F32:
    """``(frames, win)`` view of ``x``; a tail shorter than ``win`` is left out."""
    if len(x) < win:
        return np.zeros((0, win), np.float32)
    view = np.lib.stride_tricks.sliding_window_view(x, win)[::hop]
    return np.asarray(view)


@dataclass(frozen=True)
class LogMel:
    """Log-mel spectrogram.

    Args:
        rate_hz: Sample rate of the PCM given.
        n_mels: Mel bands.
        win_s: Analysis window (25 ms is the speech-processing usual).
        hop_s: Frame step.
        fmin_hz, fmax_hz: Band edges of the filterbank (fmax None: Nyquist).
        floor_db: Lowest value returned (silence does not give -inf).
    """

    rate_hz: float = 16000.0
    n_mels: int = 64
    win_s: float = 0.025
    hop_s: float = 0.010
    fmin_hz: float = 20.0
    fmax_hz: float | None = None
    floor_db: float = -100.0

    @property
    def win(self) -> int:
        return round(self.win_s * self.rate_hz)

    @property
    def hop(self) -> int:
        return round(self.hop_s * self.rate_hz)

    @cached_property
    def n_fft(self) -> int:
        return 1 << (self.win - 1).bit_length()

    @cached_property
    def _window(self) -> F32:
        return np.hanning(self.win + 2)[1:-1].astype(np.float32)  # periodic, no zero ends

    @cached_property
    def filterbank(self) -> F32:
        """The ``(n_mels, n_fft // 2 + 1)`` filter matrix."""
        return mel_filterbank(self.rate_hz, self.n_fft, self.n_mels, self.fmin_hz, self.fmax_hz)

    def power_spectrum(self, pcm: npt.NDArray[Any]) -> F32:
        """``(frames, n_fft // 2 + 1)`` power per bin, full-scale sine = 0 dB at its peak."""
        frames = frames_of(to_mono_float(pcm), self.win, self.hop) * self._window
        spec = np.fft.rfft(frames, self.n_fft, axis=1)
        # Normalise so a full-scale sine reads 1.0 in its bin (window gain removed).
        gain = float(self._window.sum()) / 2
        return (np.abs(spec) ** 2 / gain ** 2).astype(np.float32)

    def __call__(self, pcm: npt.NDArray[Any]) -> F32:
        """``(frames, n_mels)`` float32 log-mel power in dB (10 log10)."""
        mel = self.power_spectrum(pcm) @ self.filterbank.T
        db = 10.0 * np.log10(np.maximum(mel, 1e-30))
        return np.asarray(np.maximum(db, self.floor_db), np.float32)


@dataclass(frozen=True)
class ActivityScore:
    """Per-frame sound and voice activity in [0, 1].

    Args:
        rate_hz: Sample rate of the PCM given.
        win_s, hop_s: Frame length and step (40 ms frames hold two periods of a 50 Hz voice).
        threshold_dbfs: Frame level (RMS, dBFS) at which sound activity is 0.5.
        slope_db: dB over which the sound score goes from about 0.27 to 0.73.
        pitch_hz: Voice pitch range searched for periodicity.
        speech_band_hz: Band holding most speech energy.
    """

    rate_hz: float = 16000.0
    win_s: float = 0.040
    hop_s: float = 0.020
    threshold_dbfs: float = -50.0
    slope_db: float = 4.0
    pitch_hz: tuple[float, float] = (70.0, 400.0)
    speech_band_hz: tuple[float, float] = (300.0, 3400.0)

    def level_dbfs(self, pcm: npt.NDArray[Any]) -> F32:
        """RMS level of each frame in dBFS (full-scale sine: -3 dBFS)."""
        frames = self._frames(pcm)
        rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-20)
        return np.asarray(20 * np.log10(rms), np.float32)

    def sound(self, pcm: npt.NDArray[Any]) -> F32:
        """Sound activity: a logistic of the frame level around ``threshold_dbfs``."""
        z = (self.level_dbfs(pcm) - self.threshold_dbfs) / self.slope_db
        return np.asarray(1.0 / (1.0 + np.exp(-z)), np.float32)

    def voice(self, pcm: npt.NDArray[Any]) -> F32:
        """Voice activity: sound x pitch periodicity x speech-band energy share."""
        frames = self._frames(pcm)
        if len(frames) == 0:
            return np.zeros(0, np.float32)
        win = frames.shape[1]
        n_fft = 1 << (2 * win - 1).bit_length()
        spec = np.abs(np.fft.rfft(frames * np.hanning(win), n_fft, axis=1)) ** 2
        acf = np.fft.irfft(spec, n_fft, axis=1)[:, :win]
        acf /= np.maximum(acf[:, :1], 1e-20)
        lo = int(self.rate_hz / self.pitch_hz[1])
        hi = min(int(self.rate_hz / self.pitch_hz[0]), win - 1)
        periodicity = np.clip(acf[:, lo:hi + 1].max(axis=1), 0.0, 1.0)
        f = np.fft.rfftfreq(n_fft, 1.0 / self.rate_hz)
        band = (f >= self.speech_band_hz[0]) & (f <= self.speech_band_hz[1])
        share = spec[:, band].sum(axis=1) / np.maximum(spec.sum(axis=1), 1e-20)
        score = self.sound(pcm) * periodicity * np.clip(share / 0.5, 0.0, 1.0)
        return np.asarray(score, np.float32)

    def _frames(self, pcm: npt.NDArray[Any]) -> F32:
        win, hop = round(self.win_s * self.rate_hz), round(self.hop_s * self.rate_hz)
        return frames_of(to_mono_float(pcm), win, hop)
