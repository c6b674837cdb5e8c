"""Emulated microphone driven by an acoustic scene (silence, speech-like, street, vehicle).

:class:`AudioSceneEmulator` is two things:

- a **renderer**: :meth:`~AudioSceneEmulator.render` gives the samples of any stretch of time,
  deterministically (same seed, same samples, whatever the block sizes), for simulators that
  write recordings;
- an **emulated capture device** behind the :class:`~sensekit.drivers.audio.microphone.Microphone`
  driver (``sensekit.open("audio", "emu://?scene=speech")`` or
  ``Microphone("emu://", emulator=emu)``): it produces frames in blocks as a USB microphone does,
  against a :class:`~sensekit.clock.Clock`, with a sample clock off by ``clock_ppm``, a host
  buffer that overflows when the reader is late (the lost frames are counted), only the sample
  rates a USB microphone offers, and :meth:`~AudioSceneEmulator.unplug` to make it disappear.

The scene is a name, a callable ``t_s -> name`` or a schedule ``[(start_s, name), ...]``.
Signals are synthetic stand-ins with the features that detectors key on: speech-like is voiced
harmonics with formants under a 4 Hz syllabic envelope and pauses; street is broadband noise with
passing traffic and horns; vehicle is low-frequency engine harmonics over rumble.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from ..clock import Clock, default_clock
from ..errors import ConfigError

__all__ = ["SCENES", "AudioSceneEmulator", "Captured", "SceneSpec"]

SCENES = ("silence", "speech", "street", "vehicle")
#: What one read of the emulated device gives: float32 (n, channels) frames at full scale 1.0,
#: the host time the newest was available, and the frames lost before them (overflow).
Captured = tuple[npt.NDArray[np.float32], int, int]
SceneSpec = str | Callable[[float], str] | Sequence[tuple[float, str]]

_CHUNK = 4096  # frames rendered per deterministic chunk
_TAU = 2 * math.pi


def _schedule(scene: SceneSpec) -> Callable[[float], str]:
    if isinstance(scene, str):
        return lambda _t: scene
    if callable(scene):
        return scene
    steps = sorted((float(t), str(name)) for t, name in scene)
    if not steps:
        raise ConfigError("an audio scene schedule needs at least one (start_s, scene) step")

    def at(t_s: float) -> str:
        current = steps[0][1]
        for start, name in steps:
            if start > t_s:
                break
            current = name
        return current
    return at


class AudioSceneEmulator:
    """A scene-driven emulated microphone.

    Args:
        scene: Scene name, callable ``t_s -> name`` or schedule ``[(start_s, name), ...]``.
        rate_hz: Native sample rate; must be one of ``supported_rates``.
        channels: Channels captured (the scene is the same in each, with independent noise).
        seed: Seed of every random part; same seed and time, same samples.
        clock: Host clock the capture side runs on.
        clock_ppm: How fast the emulated sample clock runs compared with the host (USB
            microphones are off by about 100 ppm).
        supported_rates: Rates the emulated device accepts natively.
        buffer_blocks: Blocks the host buffer holds before the oldest are overwritten.
        name: Device name as a capture API would list it.
    """

    @classmethod
    def from_options(cls, options: dict[str, str], clock: Clock | None = None
                     ) -> AudioSceneEmulator:
        """From ``emu://?scene=street&ppm=100&seed=1&native=44100`` options."""
        try:
            return cls(options.get("scene", "speech"),
                       rate_hz=int(options.get("native", "48000")),
                       channels=int(options.get("channels", "1")),
                       seed=int(options.get("seed", "0")), clock=clock,
                       clock_ppm=float(options.get("ppm", "0")))
        except ValueError as exc:
            raise ConfigError(f"emulated microphone options {dict(options)}: {exc}") from None

    def __init__(self, scene: SceneSpec = "speech", *, rate_hz: int = 48000, channels: int = 1,
                 seed: int = 0, clock: Clock | None = None, clock_ppm: float = 0.0,
                 supported_rates: Sequence[int] = (44100, 48000), buffer_blocks: int = 16,
                 name: str = "Emulated USB microphone") -> None:
        self.scene_at = _schedule(scene)
        self.supported_rates = tuple(int(r) for r in supported_rates)
        self.rate_hz = int(rate_hz)
        self.channels = channels
        self.seed = seed
        self.clock = clock or default_clock()
        self.clock_ppm = clock_ppm
        self.buffer_blocks = buffer_blocks
        self.name = name
        self._epoch_ns = self.clock.now_ns()
        self._frame0 = 0  # scene frame at which the current capture started
        self._start_ns: int | None = None
        self._delivered = 0
        self._blocksize = 1024
        self._unplug_at_ns: int | None = None

    # -- renderer -------------------------------------------------------------------------
    def render(self, start_frame: int, count: int,
               rate_hz: int | None = None) -> npt.NDArray[np.float32]:
        """Frames ``start_frame .. start_frame+count`` as float32 (count, channels)."""
        rate = rate_hz or self.rate_hz
        if count <= 0:
            return np.zeros((0, self.channels), np.float32)
        first, last = start_frame // _CHUNK, (start_frame + count - 1) // _CHUNK
        chunks = [self._chunk(c, rate) for c in range(first, last + 1)]
        joined = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
        offset = start_frame - first * _CHUNK
        return joined[offset:offset + count]

    def render_seconds(self, t0_s: float, duration_s: float,
                       rate_hz: int | None = None) -> npt.NDArray[np.float32]:
        """Samples from scene time ``t0_s`` for ``duration_s`` seconds."""
        rate = rate_hz or self.rate_hz
        return self.render(round(t0_s * rate), round(duration_s * rate), rate)

    def _chunk(self, index: int, rate: int) -> npt.NDArray[np.float32]:
        t = (index * _CHUNK + np.arange(_CHUNK)) / rate
        scene = self.scene_at(float(t[_CHUNK // 2]))
        if scene not in _SYNTH:
            raise ConfigError(f"unknown audio scene {scene!r}; scenes: {', '.join(SCENES)}")
        out = np.empty((_CHUNK, self.channels), np.float32)
        for ch in range(self.channels):
            rng = np.random.default_rng([self.seed, index, ch, rate])
            out[:, ch] = _SYNTH[scene](t, rng, rate)
        return out

    # -- emulated capture device ------------------------------------------------------------
    def start(self, rate_hz: int, channels: int, blocksize: int) -> None:
        """Start capturing (the driver calls this); refuses rates the device does not offer."""
        if rate_hz not in self.supported_rates:
            raise ConfigError(f"{self.name}: {rate_hz} Hz is not a native rate; it offers "
                              f"{', '.join(map(str, self.supported_rates))} Hz")
        self.rate_hz, self.channels, self._blocksize = rate_hz, channels, blocksize
        self._start_ns = self.clock.now_ns()
        # Scene time runs from the emulator's creation, across restarts and rate changes.
        self._frame0 = round((self._start_ns - self._epoch_ns) * rate_hz / 1e9)
        self._delivered = 0

    def stop(self) -> None:
        """Stop capturing."""
        self._start_ns = None

    def unplug(self, after_s: float = 0.0) -> None:
        """Make the device disappear ``after_s`` seconds from now (as a pulled USB plug)."""
        self._unplug_at_ns = self.clock.now_ns() + round(after_s * 1e9)

    @property
    def unplugged(self) -> bool:
        """Whether the device has disappeared."""
        return self._unplug_at_ns is not None and self.clock.now_ns() >= self._unplug_at_ns

    def _produced_by(self, t_ns: int) -> int:
        assert self._start_ns is not None
        if self._unplug_at_ns is not None:
            t_ns = min(t_ns, self._unplug_at_ns)
        elapsed = (t_ns - self._start_ns) / 1e9
        return int(elapsed * self.rate_hz * (1 + self.clock_ppm * 1e-6))

    def read(self, timeout_s: float) -> Captured | None:
        """Complete blocks captured so far, waiting up to ``timeout_s`` for the next one.

        Raises:
            OSError: the device was unplugged and everything captured before has been read.
        """
        if self._start_ns is None:
            raise ConfigError(f"{self.name}: read before start")
        deadline = self.clock.now_ns() + round(timeout_s * 1e9)
        while True:
            now = self.clock.now_ns()
            ready = (self._produced_by(now) // self._blocksize) * self._blocksize
            if ready > self._delivered:
                return self._take(ready, now)
            if self.unplugged:
                raise OSError(19, f"{self.name} disappeared (No such device)")
            if now >= deadline:
                return None
            wait_ns = self._next_block_ns() - now
            self.clock.sleep(max(min(wait_ns, deadline - now), 1_000) / 1e9)

    def _next_block_ns(self) -> int:
        assert self._start_ns is not None
        frames = (self._delivered // self._blocksize + 1) * self._blocksize
        rate = self.rate_hz * (1 + self.clock_ppm * 1e-6)
        return self._start_ns + math.ceil(frames / rate * 1e9)

    def _take(self, ready: int, now: int) -> Captured:
        capacity = self.buffer_blocks * self._blocksize
        lost = max(0, ready - self._delivered - capacity)
        start = self._delivered + lost
        frames = self.render(self._frame0 + start, ready - start)
        self._delivered = ready
        return frames, now, lost


# -- scene synthesis (t: seconds, rng: per-chunk generator) ----------------------------------
def _db(level_dbfs: float) -> float:
    return float(10 ** (level_dbfs / 20))


def _shaped_noise(rng: np.random.Generator, n: int, rate: int, slope_db_oct: float,
                  lo_hz: float = 20.0, hi_hz: float = 20000.0) -> npt.NDArray[np.float64]:
    """Noise with a spectral slope (-3 dB/oct pink, -6 brown), normalised to unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / rate)
    gain = np.where((f >= lo_hz) & (f <= hi_hz), (np.maximum(f, lo_hz) / 1000.0)
                    ** (slope_db_oct / 6.02), 0.0)
    x = np.fft.irfft(spec * gain, n)
    return np.asarray(x / (np.sqrt(np.mean(x ** 2)) + 1e-12))


def _silence(t: npt.NDArray[np.float64], rng: np.random.Generator,
             rate: int) -> npt.NDArray[np.float64]:
    return _db(-75) * rng.standard_normal(len(t))  # microphone self-noise


_FORMANTS_HZ = ((500.0, 1.0), (1500.0, 0.5), (2500.0, 0.25))


def _speech(t: npt.NDArray[np.float64], rng: np.random.Generator,
            rate: int) -> npt.NDArray[np.float64]:
    f0_mean, f0_dev, f0_rate = 130.0, 25.0, 0.7
    phase = _TAU * (f0_mean * t - f0_dev / (_TAU * f0_rate) * np.cos(_TAU * f0_rate * t))
    voiced = np.zeros_like(t)
    for k in range(1, int(3800 // f0_mean) + 1):
        f = k * f0_mean
        gain = sum(a / (1 + ((f - fc) / 120.0) ** 2) for fc, a in _FORMANTS_HZ) + 0.02
        voiced += gain / k ** 0.5 * np.sin(k * phase)
    syllable = np.clip(np.sin(_TAU * 4.0 * t), 0, None) ** 2  # ~4 syllables per second
    talking = (np.mod(t, 2.6) < 2.0).astype(np.float64)  # 2 s phrases, 0.6 s pauses
    signal = voiced / (np.sqrt(np.mean(voiced ** 2)) + 1e-12) * syllable * talking
    return np.asarray(_db(-20) * signal + _db(-65) * rng.standard_normal(len(t)), np.float64)


def _street(t: npt.NDArray[np.float64], rng: np.random.Generator,
            rate: int) -> npt.NDArray[np.float64]:
    hum = _shaped_noise(rng, len(t), rate, -3.0)
    passing = 1 + 2 * np.exp(-(((np.mod(t, 9.0) - 4.5) / 1.2) ** 2))  # a car every 9 s
    traffic = _shaped_noise(rng, len(t), rate, -6.0, 30.0, 2000.0) * passing
    horn_on = (np.mod(t, 13.0) < 0.4).astype(np.float64)
    horn = horn_on * (np.sin(_TAU * 420 * t) + np.sin(_TAU * 520 * t))
    return np.asarray(_db(-32) * hum + _db(-30) * traffic + _db(-24) * horn, np.float64)


def _vehicle(t: npt.NDArray[np.float64], rng: np.random.Generator,
             rate: int) -> npt.NDArray[np.float64]:
    rpm = 2100 + 300 * np.sin(_TAU * 0.1 * t)
    firing = rpm / 60 * 2  # four-stroke four-cylinder: two firings per revolution
    phase = _TAU * np.cumsum(firing) / rate + _TAU * 2100 / 30 * t[0]
    engine = sum(np.sin(k * phase) / k for k in range(1, 6))
    rumble = _shaped_noise(rng, len(t), rate, -6.0, 20.0, 800.0)
    return np.asarray(_db(-22) * engine + _db(-24) * rumble, np.float64)


_SYNTH: dict[str, Callable[[npt.NDArray[np.float64], np.random.Generator, int],
                           npt.NDArray[np.float64]]] = {
    "silence": _silence, "speech": _speech, "street": _street, "vehicle": _vehicle,
}
