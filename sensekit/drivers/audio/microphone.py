"""Microphone driver: PortAudio/ALSA capture (sounddevice), audio files, emulated scenes.

URLs (registry name ``"audio"``)::

    sensekit.open("audio", "mic://")                         # the default input device
    sensekit.open("audio", "mic://USB Audio?rate=16000&channels=1&blocksize=1024")
    sensekit.open("audio", "mic://2", dtype="float32")       # device index 2
    sensekit.open("audio", "file://clip.flac")               # or a path ending .wav/.flac/.ogg
    sensekit.open("audio", "emu://?scene=street&ppm=100")    # emulated, see sensekit.testing
    Microphone("emu://", emulator=AudioSceneEmulator(scene=schedule, clock=clock), clock=clock)

Packets follow ``SPECS["audio"]``: ``pcm`` is int16 (full scale 32768) or float32 (full scale
1.0), one row per frame. A rate the device cannot capture natively (many USB microphones offer
only 44.1 or 48 kHz) is captured at a native rate and resampled; the log and each packet's
``meta`` say so. Timestamps come from frame counts fitted against host read times
(:class:`~sensekit.clock.RateFitter`), because PortAudio's capture times are unreliable on ALSA
and USB sample clocks drift by about 100 ppm. Overruns are counted in ``stats.dropped``.

A microphone that disappears mid-stream raises :class:`~sensekit.errors.DeviceIOError` once from
:meth:`Microphone.read` (logged and counted), the driver closes itself, and iteration ends
cleanly; the error stays in :attr:`Microphone.error`.
"""

from __future__ import annotations

import logging
from pathlib import PurePath
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ..._optional import require
from ...clock import RateFitter
from ...driver import Driver
from ...errors import ConfigError, DeviceIOError, DriverUnavailable
from ...options import check_number
from ...packets import Packet
from .resample import StreamResampler
from .sources import AudioBlock, AudioSource, EmulatedSource, SoundDeviceSource, SoundFileSource

__all__ = ["AUDIO_SUFFIXES", "Microphone"]

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg"})
_DTYPES = ("int16", "float32")


class Microphone(Driver):
    """One audio input: a sound card or USB microphone, a file, or an emulated scene.

    Args:
        url: ``mic://[NAME|INDEX]``, ``file://PATH`` or a path, or ``emu://``. Query options:
            ``rate``, ``channels``, ``blocksize``, ``dtype``; for ``emu://`` also ``scene``,
            ``ppm``, ``seed``, ``native``.
        channels: Channels to capture (files: the file's own).
        blocksize: Frames per capture block (at the native rate).
        dtype: ``"int16"`` (default) or ``"float32"``.
        emulator: An :class:`AudioSceneEmulator` to capture from (with ``emu://``).
        **options: :class:`~sensekit.driver.Driver` options (``rate_hz``, ``clock``...).
    """

    name: ClassVar[str] = "audio"
    modality: ClassVar[str] = "audio"
    schemes: ClassVar[frozenset[str]] = frozenset({"mic", "file", "path", "emu"})
    emulable: ClassVar[frozenset[str]] = frozenset({"mic"})
    modes: ClassVar[tuple[str, ...]] = ("on",)
    power_model: ClassVar[str | None] = "usb_microphone"
    default_rate_hz: ClassVar[float | None] = 16000.0
    #: Sample rates sound cards and USB microphones offer (8 kHz telephony to 384 kHz).
    rate_range_hz: ClassVar[tuple[float, float]] = (1000.0, 384_000.0)

    def __init__(self, url: Any, *, channels: int | None = None, blocksize: int | None = None,
                 dtype: str | None = None, emulator: Any = None, **options: Any) -> None:
        super().__init__(url, **options)
        u = self.url
        if options.get("rate_hz") is None:
            self.rate_hz = self.check_rate(u.option("rate", float, self.rate_hz or 16000.0),
                                           "rate")
        where = self.describe()
        self.channels = int(check_number(where, "channels", channels if channels is not None
                                         else u.option("channels", int, 1), 1, 32,
                                         integer=True))
        self.blocksize = int(check_number(where, "blocksize", blocksize if blocksize is not None
                                          else u.option("blocksize", int, 1024), 16, 1 << 20,
                                          integer=True))
        self.dtype = dtype or u.options.get("dtype", "int16")
        if self.dtype not in _DTYPES:
            raise ConfigError(f"{self.describe()}: dtype {self.dtype!r} is not one of {_DTYPES}")
        if u.scheme == "path" and PurePath(u.location).suffix.lower() not in AUDIO_SUFFIXES:
            raise ConfigError(f"{self.describe()}: a path must name an audio file "
                              f"({', '.join(sorted(AUDIO_SUFFIXES))}); for a device use mic://")
        self.emulator = emulator
        #: The error that ended the stream (device gone), or None.
        #: True once the stream has ended (end of file or device gone).
        self.native_rate_hz = 0
        self._source: AudioSource | None = None

    # -- opening --------------------------------------------------------------------------
    def _open(self) -> None:
        self._source = self._make_source()
        self._start(int(self.rate_hz or 16000))

    def _make_source(self) -> AudioSource:
        u, where = self.url, self.describe()
        if self.uses_emulator:
            emu = self.emulator or self.emulated_part(channels=str(self.channels))
            return EmulatedSource(emu, self.channels, self.blocksize, where)
        if u.scheme in ("file", "path"):
            sf = require("soundfile", extra="audio", what=where)
            source = SoundFileSource(sf, u.location, self.blocksize, where)
            self.channels = source.channels
            return source
        return SoundDeviceSource(_sounddevice(where), u.location or None, self.channels,
                                 self.blocksize, self.clock, where)

    def _start(self, rate_hz: int) -> None:
        assert self._source is not None
        self._source.start(rate_hz)
        native = self.native_rate_hz = self._source.native_rate_hz
        self._fitter = RateFitter(native)
        self._native_k = 0  # native frames seen, lost ones included
        self._t0_ns = self.clock.now_ns()
        self._resampler: StreamResampler | None = None
        if native != rate_hz:
            self._new_resampler()
            log.info("%s: %d Hz is not native; capturing at %d Hz and resampling",
                     self.describe(), rate_hz, native)
        self._meta = MappingProxyType({
            "native_rate_hz": native,
            "resampled_from_hz": native if native != rate_hz else None,
            "dtype": self.dtype})

    def _new_resampler(self) -> None:
        self._resampler = StreamResampler(self.native_rate_hz, int(self.rate_hz or 16000),
                                          self.channels)
        self._segment_k0 = self._native_k  # native index where this resampler started

    # -- reading ----------------------------------------------------------------------------
    def _read_packet(self, timeout_s: float) -> Packet | None:
        assert self._source is not None
        if self.asleep:
            self.clock.sleep(timeout_s)
            return None
        try:
            block = self._source.read(timeout_s)
        except DeviceIOError as exc:
            raise self.device_gone(exc) from None
        if block is None:
            if not self._source.live and getattr(self._source, "finished", False):
                self.ended = True
            return None
        if block.lost:
            self._account_loss(block)
        t_ns, frames = self._stamp_and_resample(block)
        if len(t_ns) == 0:
            return None
        return Packet(self.stream, t_ns, {"pcm": self._convert(frames)}, "audio", self._meta)

    def _account_loss(self, block: AudioBlock) -> None:
        self.report_dropped(block.lost, "capture buffer overflowed (reader too slow)",
                            estimated=not block.lost_exact)
        self._fitter.skip(block.lost)
        self._native_k += block.lost
        if self._resampler is not None:
            self._new_resampler()  # the signal is not continuous across the gap

    def _stamp_and_resample(self, block: AudioBlock) -> tuple[npt.NDArray[np.int64],
                                                              npt.NDArray[np.float32]]:
        n, k0 = len(block.frames), self._native_k
        if self._source is not None and self._source.live:
            native_t = self._fitter.stamp(n, block.read_ns)
        else:  # a file: the frame count is the clock
            k = np.arange(k0, k0 + n, dtype=np.float64)
            native_t = self._t0_ns + np.round(k * 1e9 / self.native_rate_hz).astype(np.int64)
        self._native_k += n
        rs = self._resampler
        if rs is None:
            return native_t, block.frames
        first = rs.produced
        out = rs.process(block.frames)
        step = (native_t[-1] - native_t[0]) / (n - 1) if n > 1 else self._fitter.period_ns
        pos = rs.positions(first, len(out)) + self._segment_k0
        t = native_t[0] + np.round((pos - k0) * step).astype(np.int64)
        return t, out

    def _convert(self, frames: npt.NDArray[np.float32]) -> npt.NDArray[Any]:
        if self.dtype == "float32":
            return np.ascontiguousarray(frames, np.float32)
        return np.clip(np.round(frames * 32768.0), -32768, 32767).astype(np.int16)

    # -- control ----------------------------------------------------------------------------
    def _set_rate(self, rate_hz: float) -> float:
        assert self._source is not None
        self._source.stop()
        self.rate_hz = rate_hz
        self._start(int(rate_hz))
        return float(int(rate_hz))

    def _sleep(self) -> None:
        assert self._source is not None
        self._source.stop()

    def _wake(self) -> None:
        self._start(int(self.rate_hz or 16000))

    def _close(self) -> None:
        if self._source is not None:
            self._source.stop()
            close = getattr(self._source, "close", None)
            if close is not None:
                close()


def _sounddevice(where: str) -> Any:
    """Import sounddevice; PortAudio missing shows up as OSError, reported like the package."""
    try:
        return require("sounddevice", extra="audio", what=where)
    except OSError as exc:
        raise DriverUnavailable(f"{where} needs the PortAudio library ({exc}). Hint: sudo apt "
                                "install libportaudio2") from exc
