"""Emulated camera: synthetic scenes with controllable illumination, blur and motion.

:class:`CameraSceneEmulator` is two things:

- a **renderer**: :meth:`~CameraSceneEmulator.render` draws the scene at any time and any size,
  deterministically (same seed, same time, same image), for simulators writing recordings;
- an **emulated camera** behind :class:`~sensekit.drivers.camera.camera.Camera`
  (``sensekit.open("camera", "emu://?scene=street")`` or ``Camera("emu://", emulator=emu)``):
  sensor modes like a Raspberry Pi Camera v2 (Sony IMX219) with an ISP that scales to any output
  size (as libcamera's lores stream does), frames paced at the frame rate on a
  :class:`~sensekit.clock.Clock` (late readers lose frames, counted), a reconfiguration that
  takes ``switch_s``, and :meth:`~CameraSceneEmulator.unplug` to make it disappear.

The scene is a preset name, a :class:`CameraScene`, a callable ``t_s -> name or CameraScene``,
or a schedule ``[(start_s, name or CameraScene), ...]``.

Rendering: a textured background (so blur is visible), moving discs (``motion``), brightness
scaled by ``illumination`` with shot-like noise that grows as the light falls, a defocus box
blur (``blur_px`` at 640 px width, scaled with the size) and a motion blur along the motion
whose length is the distance moved during the exposure (longer in the dark).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..clock import Clock, default_clock
from ..errors import ConfigError

__all__ = ["IMX219_MODES", "PRESETS", "CameraScene", "CameraSceneEmulator"]

Size = tuple[int, int]

#: Raspberry Pi Camera v2 (IMX219) sensor modes as libcamera lists them (width, height).
IMX219_MODES: tuple[Size, ...] = ((640, 480), (1640, 1232), (1920, 1080), (3280, 2464))


@dataclass(frozen=True)
class CameraScene:
    """What the camera looks at.

    Attributes:
        illumination: Scene brightness relative to a well-lit room (1.0); 0.05 is dusk indoors.
        blur_px: Defocus blur radius in pixels at 640 px image width.
        motion: Speed of the moving objects in image widths per second.
        objects: Number of moving discs.
    """

    illumination: float = 1.0
    blur_px: float = 0.0
    motion: float = 0.0
    objects: int = 3


PRESETS: dict[str, CameraScene] = {
    "static": CameraScene(1.0, 0.0, 0.0, 0),
    "office": CameraScene(0.8, 0.0, 0.05, 2),
    "street": CameraScene(1.0, 0.0, 0.4, 4),
    "night": CameraScene(0.06, 0.5, 0.2, 3),
    "shaky": CameraScene(0.7, 4.0, 1.0, 3),
}

SceneLike = str | CameraScene
SceneSpec = SceneLike | Callable[[float], SceneLike] | Sequence[tuple[float, SceneLike]]


def _resolve(scene: SceneLike) -> CameraScene:
    if isinstance(scene, CameraScene):
        return scene
    try:
        return PRESETS[scene]
    except KeyError:
        raise ConfigError(f"unknown camera scene {scene!r}; presets: {', '.join(PRESETS)}, "
                          "or pass a CameraScene") from None


def _schedule(scene: SceneSpec) -> Callable[[float], CameraScene]:
    if isinstance(scene, (str, CameraScene)):
        fixed = _resolve(scene)
        return lambda _t: fixed
    if callable(scene):
        fn = scene
        return lambda t: _resolve(fn(t))
    steps = sorted(((float(t), _resolve(s)) for t, s in scene), key=lambda step: step[0])
    if not steps:
        raise ConfigError("a camera scene schedule needs at least one (start_s, scene) step")
    return lambda t: next((s for start, s in reversed(steps) if start <= t), steps[0][1])


class CameraSceneEmulator:
    """A scene-driven emulated camera.

    Args:
        scene: Preset name, :class:`CameraScene`, callable of time, or schedule.
        sensor_modes: Sensor readout sizes; the largest is the full resolution.
        fps: Frame rate when the driver does not set one.
        seed: Seed of the noise and of the objects' paths.
        clock: Host clock the emulated camera runs on.
        switch_s: Time a reconfiguration takes (V4L2's stock switch took 226 ms on a Jetson
            TX2: Hu et al., "Banner", MobiSys 2019).
        noise: Whether to add sensor noise.
        name: Camera name as a capture API would list it.
    """

    @classmethod
    def from_options(cls, options: dict[str, str], clock: Clock | None = None
                     ) -> CameraSceneEmulator:
        """From ``emu://?scene=street&seed=1&fps=15`` options."""
        try:
            return cls(options.get("scene", "office"), seed=int(options.get("seed", "0")),
                       clock=clock, fps=float(options.get("fps", "30")))
        except ValueError as exc:
            raise ConfigError(f"emulated camera options {dict(options)}: {exc}") from None

    def __init__(self, scene: SceneSpec = "office", *,
                 sensor_modes: Sequence[Size] = IMX219_MODES, fps: float = 30.0, seed: int = 0,
                 clock: Clock | None = None, switch_s: float = 0.1, noise: bool = True,
                 name: str = "Emulated IMX219") -> None:
        self.scene_at = _schedule(scene)
        self.sensor_modes = tuple(sorted(sensor_modes, key=lambda s: s[0] * s[1]))
        self.fps = fps
        self.seed = seed
        self.clock = clock or default_clock()
        self.switch_s = switch_s
        self.noise = noise
        self.name = name
        rng = np.random.default_rng(seed)
        self._paths = rng.uniform(0.0, 1.0, (8, 4))  # start u, v, direction, colour per disc
        self.output_size: Size = self.full_size
        self.sensor_mode: Size = self.full_size
        self._epoch_ns = self.clock.now_ns()
        self._start_ns: int | None = None
        self._next_index = 0
        self._unplug_at_ns: int | None = None
        self.frames_rendered = 0

    @property
    def full_size(self) -> Size:
        """The largest sensor mode."""
        return self.sensor_modes[-1]

    # -- renderer -------------------------------------------------------------------------
    def render(self, t_s: float, size: Size, frame_index: int = 0) -> npt.NDArray[np.uint8]:
        """The scene at ``t_s`` as uint8 RGB (height, width, 3)."""
        scene = self.scene_at(t_s)
        w, h = size
        u = ((np.arange(w, dtype=np.float32) + 0.5) / w)[None, :]
        v = ((np.arange(h, dtype=np.float32) + 0.5) / h)[:, None]
        checks = np.sign(np.sin(2 * np.pi * 8 * u) * np.sin(2 * np.pi * 6 * v))
        base = 0.45 + 0.15 * checks + 0.2 * (v - 0.5)
        img = np.repeat(base[:, :, None], 3, axis=2) * np.array([1.0, 0.95, 0.85], np.float32)
        for k in range(min(scene.objects, len(self._paths))):
            u0, v0, direction, colour = self._paths[k]
            cu = (u0 + (1 if direction > 0.5 else -1) * scene.motion * t_s) % 1.0
            cv = 0.2 + 0.6 * v0
            inside = (u - cu) ** 2 + ((v - cv) * h / w) ** 2 < 0.06 ** 2
            img[inside] = _PALETTE[int(colour * len(_PALETTE))]
        img = self._blur(img, scene, w)
        img *= scene.illumination
        if self.noise:
            img = self._add_noise(img, scene.illumination, frame_index)
        self.frames_rendered += 1
        return np.asarray(np.clip(img * 255.0 + 0.5, 0, 255), np.uint8)

    def _blur(self, img: npt.NDArray[np.float32], scene: CameraScene,
              width: int) -> npt.NDArray[np.float32]:
        radius = round(scene.blur_px * width / 640)
        if radius > 0:
            img = _box(_box(img, radius, 0), radius, 1)
        exposure_s = min(1.0 / self.fps, 0.008 / max(scene.illumination, 1e-3))
        streak = round(scene.motion * exposure_s * width / 2)
        return _box(img, streak, 1) if streak > 0 else img

    def _add_noise(self, img: npt.NDArray[np.float32], illumination: float,
                   frame_index: int) -> npt.NDArray[np.float32]:
        rng = np.random.default_rng([self.seed, frame_index])
        sigma = 0.01 / math.sqrt(max(illumination, 1e-3))  # shot noise grows as light falls
        noise = rng.standard_normal(img.shape[:2], dtype=np.float32) * np.float32(sigma)
        return np.asarray(img + noise[:, :, None], np.float32)

    # -- emulated camera ------------------------------------------------------------------
    def configure(self, output_size: Size, sensor_mode: Size | None = None,
                  fps: float | None = None) -> None:
        """Reconfigure (takes ``switch_s`` of the clock); frames then come at the new size."""
        if sensor_mode is not None and sensor_mode not in self.sensor_modes:
            raise ConfigError(f"{self.name}: no sensor mode {sensor_mode}; modes: "
                              f"{self.sensor_modes}")
        if self._start_ns is not None and self.switch_s > 0:
            self.clock.sleep(self.switch_s)
        self.output_size = output_size
        self.sensor_mode = sensor_mode or self.full_size
        self.fps = fps or self.fps
        self._start_ns = self.clock.now_ns()
        self._next_index = 0

    def unplug(self, after_s: float = 0.0) -> None:
        """Make the camera disappear ``after_s`` seconds from now (cable pulled)."""
        self._unplug_at_ns = self.clock.now_ns() + round(after_s * 1e9)

    @property
    def unplugged(self) -> bool:
        """Whether the camera has disappeared."""
        return self._unplug_at_ns is not None and self.clock.now_ns() >= self._unplug_at_ns

    def grab(self, timeout_s: float) -> tuple[npt.NDArray[np.uint8], int, int] | None:
        """Next frame as ``(image, sensor_t_ns, skipped)``; None on timeout.

        Raises:
            OSError: the camera was unplugged.
        """
        if self._start_ns is None:
            self.configure(self.output_size)
        assert self._start_ns is not None
        period_ns = 1e9 / self.fps
        now = self.clock.now_ns()
        # Frame k is finished at start + (k + 1) periods; the newest finished by now is taken
        # (or the next one waited for), and frames not read in time were overwritten.
        newest = int((now - self._start_ns) // period_ns) - 1
        if self._start_ns + round((newest + 2) * period_ns) <= now:  # rounding at the edge
            newest += 1
        skipped = max(0, newest - self._next_index)
        index = max(newest, self._next_index)
        due = self._start_ns + round((index + 1) * period_ns)
        if due > now + timeout_s * 1e9:
            self.clock.sleep(timeout_s)
            return None
        if due > now:
            self.clock.sleep((due - now) / 1e9)
        if self.unplugged:
            raise OSError(19, f"{self.name} disappeared (No such device)")
        self._next_index = index + 1
        # Scene time runs from the emulator's creation, across reconfigurations.
        image = self.render((due - self._epoch_ns) / 1e9, self.output_size,
                            round((due - self._epoch_ns) * self.fps / 1e9))
        return image, due, skipped


_PALETTE = [np.array(c, np.float32) for c in
            ((0.9, 0.2, 0.2), (0.2, 0.7, 0.3), (0.2, 0.3, 0.9), (0.95, 0.85, 0.2),
             (0.1, 0.1, 0.1), (0.9, 0.9, 0.9))]


def _box(img: npt.NDArray[np.float32], radius: int, axis: int) -> npt.NDArray[np.float32]:
    """Box blur of half-width ``radius`` along ``axis`` (edges repeated), by cumulative sums."""
    pad = [(0, 0)] * img.ndim
    pad[axis] = (radius + 1, radius)
    c = np.cumsum(np.pad(img, pad, mode="edge"), axis=axis, dtype=np.float32)
    n = img.shape[axis]
    hi = np.take(c, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
    lo = np.take(c, np.arange(0, n), axis=axis)
    return np.asarray((hi - lo) / (2 * radius + 1), np.float32)
