"""Capture sources behind :class:`~sensekit.drivers.audio.microphone.Microphone`.

Each source delivers float32 (frames, channels) blocks at its native rate as
:class:`AudioBlock`; the driver does resampling, sample types and timestamps the same way for
all of them. The optional libraries are passed in by the driver, which imports them when it is
opened.
"""

from __future__ import annotations

import logging
import queue
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ...clock import Clock
from ...errors import ConfigError, DeviceIOError, DeviceNotFound

__all__ = ["AudioBlock", "AudioSource", "EmulatedSource", "SoundDeviceSource",
           "SoundFileSource"]

log = logging.getLogger(__name__)

#: Rates tried, in order, when the requested one is not native (USB microphones: 44.1/48 kHz).
FALLBACK_RATES = (48000, 44100, 32000, 96000, 16000, 8000)


@dataclass(frozen=True)
class AudioBlock:
    """Frames a capture source delivered in one read.

    Attributes:
        frames: float32 (n, channels), full scale 1.0.
        read_ns: Host time when the newest frame was available.
        lost: Frames lost before this block (overflow); 0 when none.
        lost_exact: Whether ``lost`` is an exact count (False: an estimate).
    """

    frames: npt.NDArray[np.float32]
    read_ns: int
    lost: int = 0
    lost_exact: bool = True


class AudioSource(Protocol):
    """What the microphone driver needs from a capture source."""

    native_rate_hz: int
    channels: int
    #: True: frames arrive in real time and are stamped from host read times; False: a file,
    #: stamped from the frame count.
    live: bool

    def start(self, rate_hz: int) -> None:
        """Start capturing, natively at ``rate_hz`` if possible (sets :attr:`native_rate_hz`)."""

    def read(self, timeout_s: float) -> AudioBlock | None:
        """Next block, None on timeout; raise DeviceIOError when the device has gone."""

    def stop(self) -> None:
        """Stop capturing (may be started again)."""


def _pick_rate(wanted: int, default: float | None, accepts: Any) -> int:
    """``wanted`` if ``accepts(rate)``, else the first native rate from a fixed list."""
    candidates = [wanted] + ([int(default)] if default else []) + list(FALLBACK_RATES)
    tried = []
    for rate in dict.fromkeys(candidates):
        if accepts(rate):
            return rate
        tried.append(rate)
    raise ConfigError(f"no sample rate works (tried {tried} Hz)")


class SoundDeviceSource:
    """A PortAudio input stream (sounddevice), ALSA on a Pi or Jetson.

    PortAudio's own capture times are unreliable on ALSA, so each block is stamped with the
    host time when the callback ran; the driver fits the rate from those.
    """

    live = True

    def __init__(self, sd: Any, device: str | int | None, channels: int, blocksize: int,
                 clock: Clock, where: str, queue_blocks: int = 64) -> None:
        self.sd, self.channels, self.blocksize = sd, channels, blocksize
        self.clock, self.where = clock, where
        self.index = self._find(device)
        info = sd.query_devices(self.index)
        self.device_name = str(info["name"])
        self.default_rate = float(info.get("default_samplerate") or 0) or None
        self.native_rate_hz = 0
        self._queue: queue.Queue[tuple[np.ndarray[Any, Any], int, int, int]] = queue.Queue(
            queue_blocks)
        self._stream: Any = None
        self._flags = 0  # overflow flags PortAudio raised since the last block handed over
        self._dropped = 0  # frames this source dropped because the reader fell behind
        self._finished = False

    def _inputs(self) -> list[tuple[int, str]]:
        return [(i, str(d["name"])) for i, d in enumerate(self.sd.query_devices())
                if int(d.get("max_input_channels", 0)) > 0]

    def _find(self, device: str | int | None) -> int:
        inputs = self._inputs()
        listing = "; ".join(f"{i}: {name}" for i, name in inputs) or "none"
        if device is None or device in ("", "default"):
            index = self._default_input()
            if index is not None and any(i == index for i, _ in inputs):
                return index
            if inputs:
                return inputs[0][0]
            raise DeviceNotFound(f"{self.where}: no input device. Hint: plug in a microphone "
                                 "and check 'arecord -l'")
        if isinstance(device, int) or str(device).isdigit():
            index = int(device)
            if any(i == index for i, _ in inputs):
                return index
            raise DeviceNotFound(f"{self.where}: no input device with index {index}. "
                                 f"Input devices: {listing}")
        needle = str(device).lower()
        exact = [i for i, name in inputs if name.lower() == needle]
        found = exact or [i for i, name in inputs if needle in name.lower()]
        if len(found) == 1:
            return found[0]
        what = "matches several input devices" if found else "matches no input device"
        raise DeviceNotFound(f"{self.where}: {device!r} {what}. Input devices: {listing}. "
                             "Hint: give a longer part of the name or the index")

    def _default_input(self) -> int | None:
        """PortAudio's default input index (sounddevice keeps an (input, output) pair)."""
        default = self.sd.default.device
        try:
            index = default[0]
        except (TypeError, IndexError, KeyError):
            index = default
        return int(index) if isinstance(index, int) and index >= 0 else None

    def _accepts(self, rate: int) -> bool:
        try:
            self.sd.check_input_settings(device=self.index, channels=self.channels,
                                         samplerate=rate, dtype="float32")
        except Exception:  # PortAudioError or ValueError: the device refused this setting
            return False
        return True

    def start(self, rate_hz: int) -> None:
        try:
            self.native_rate_hz = _pick_rate(rate_hz, self.default_rate, self._accepts)
        except ConfigError as exc:
            raise ConfigError(f"{self.where} ({self.device_name}): {exc}; "
                              f"channels={self.channels}") from None
        self._finished = False
        self._stream = self.sd.InputStream(
            device=self.index, channels=self.channels, samplerate=self.native_rate_hz,
            blocksize=self.blocksize, dtype="float32", callback=self._callback,
            finished_callback=self._on_finished)
        self._stream.start()

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        # Runs on PortAudio's thread: stamp now, copy, hand over; never block. Loss counts
        # ride on the next block that gets through, so only this thread writes them.
        now = self.clock.now_ns()
        if status and getattr(status, "input_overflow", False):
            self._flags += 1
        try:
            self._queue.put_nowait((np.array(indata, np.float32), now, self._flags,
                                    self._dropped))
        except queue.Full:
            self._dropped += int(frames)
            return
        self._flags = self._dropped = 0

    def _on_finished(self) -> None:
        self._finished = True

    def read(self, timeout_s: float) -> AudioBlock | None:
        try:
            frames, read_ns, flags, dropped = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            if self._finished or (self._stream is not None and not self._stream.active):
                raise DeviceIOError(
                    f"{self.where} ({self.device_name}): the input stream stopped; the "
                    "microphone was unplugged or its driver failed. Hint: check 'arecord -l' "
                    "and dmesg") from None
            return None
        # PortAudio flags an overflow but not its size: one block per flag is the estimate.
        lost = dropped + flags * max(self.blocksize, len(frames))
        return AudioBlock(frames, read_ns, lost, lost_exact=flags == 0)

    def stop(self) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception as exc:  # a vanished device may fail to stop; nothing to keep
                log.warning("%s: closing the input stream failed: %s", self.where, exc)
            self._stream = None


class SoundFileSource:
    """A WAV/FLAC/OGG file read through soundfile, in blocks, as if it were captured."""

    live = False

    def __init__(self, sf: Any, path: str, blocksize: int, where: str) -> None:
        try:
            self._file = sf.SoundFile(path)
        except (RuntimeError, OSError) as exc:  # soundfile raises LibsndfileError (RuntimeError)
            raise DeviceNotFound(f"{where}: cannot open audio file {path!r}: {exc}. Hint: "
                                 "WAV, FLAC and OGG are supported") from None
        self.native_rate_hz = int(self._file.samplerate)
        self.channels = int(self._file.channels)
        self.blocksize = blocksize
        self.where = where

    def start(self, rate_hz: int) -> None:
        pass  # the file opens at its start; a restart (new rate, wake) carries on from here

    def read(self, timeout_s: float) -> AudioBlock | None:
        frames = self._file.read(self.blocksize, dtype="float32", always_2d=True)
        if len(frames) == 0:
            return None
        return AudioBlock(np.asarray(frames, np.float32), 0)

    @property
    def finished(self) -> bool:
        """Whether every frame has been read."""
        return bool(self._file.tell() >= self._file.frames)

    def stop(self) -> None:
        pass

    def close(self) -> None:
        self._file.close()


class EmulatedSource:
    """An emulated microphone (:class:`~sensekit.testing.audio_scenes.AudioSceneEmulator`) as a
    capture source."""

    live = True

    def __init__(self, emulator: Any, channels: int, blocksize: int, where: str) -> None:
        self.emulator, self.channels, self.blocksize = emulator, channels, blocksize
        self.where = where
        self.native_rate_hz = emulator.rate_hz

    def start(self, rate_hz: int) -> None:
        emu = self.emulator
        self.native_rate_hz = _pick_rate(rate_hz, emu.rate_hz,
                                         lambda r: r in emu.supported_rates)
        emu.start(self.native_rate_hz, self.channels, self.blocksize)

    def read(self, timeout_s: float) -> AudioBlock | None:
        try:
            got = self.emulator.read(timeout_s)
        except OSError as exc:
            raise DeviceIOError(f"{self.where} ({self.emulator.name}): {exc.strerror or exc}. "
                                "Hint: the microphone was unplugged") from None
        if got is None:
            return None
        frames, read_ns, lost = got
        return AudioBlock(frames, read_ns, lost)

    def stop(self) -> None:
        self.emulator.stop()
