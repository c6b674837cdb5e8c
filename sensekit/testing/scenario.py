"""A labelled day in the life of a carried device, as ground truth for the emulated sensors.

:class:`Scenario` is pure signal generation, deterministic in its seed: a timeline of
segments (still, walking, running, cycling, in a vehicle; indoor or outdoor), the trajectory
they trace from an origin (speed and heading integrated in ENU, then WGS-84), the body-frame
motion an IMU feels (gravity, gait at the step frequency, pedalling, road and engine
vibration, turns), the illuminance (indoor tens to hundreds of lux, outdoor thousands to
100,000), the GPS fixes a receiver would give (none indoors, a few seconds to reacquire),
and the audio and camera scene schedules.

:func:`simulate` feeds it to the emulated devices, whose real drivers produce the recording:
the MPU-6050 emulator (its datasheet noise densities) read by the ``mpu6050`` driver, the GPS
receiver emulator (NMEA bursts) read by the ``nmea`` driver, the VEML7700 emulator read by the
``veml7700`` driver, and the audio and camera scene emulators read by the ``audio`` and
``camera`` drivers. Labels go into the log as the ``labels`` stream, with the code tables in
its device metadata.

Signals are functions of time (sums of seeded sinusoids), not of how they are sampled, so an
emulator asking for any times gets the same values.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..clock import FakeClock
from ..driver import Driver
from ..packets import Packet

__all__ = ["ACTIVITIES", "AUDIO_SCENES", "CAMERA_SCENES", "Scenario", "Segment", "SimConfig",
           "simulate"]

FloatArray = npt.NDArray[np.float64]

ACTIVITIES = ("still", "walking", "running", "cycling", "vehicle")
AUDIO_SCENES = ("silence", "speech", "street", "vehicle")
CAMERA_SCENES = ("office", "street", "shaky")
G0 = 9.80665
EARTH_RADIUS_M = 6_378_137.0  # WGS-84 semi-major axis

#: Typical speed (m/s) and how much the heading wanders (rad/s amplitude) per activity.
_SPEED = {"still": 0.0, "walking": 1.4, "running": 3.2, "cycling": 5.5, "vehicle": 12.0}
_TURN = {"still": 0.0, "walking": 0.08, "running": 0.06, "cycling": 0.05, "vehicle": 0.04}
#: Step (or pedal) frequency in Hz and vertical, forward, lateral amplitudes in m/s^2. Walking
#: and running figures are typical trunk accelerations (vertical peaks near 0.2 g walking and
#: 0.7-1 g running); pedalling and vehicle vibration are smaller.
_GAIT = {"walking": (1.9, 2.2, 1.2, 0.6), "running": (2.8, 7.0, 3.0, 1.5),
         "cycling": (1.4, 0.6, 0.4, 0.7)}

#: The day: (activity, indoor, share of the duration).
_DAY = (("still", True, 0.10), ("walking", True, 0.07), ("walking", False, 0.12),
        ("running", False, 0.10), ("still", False, 0.05), ("cycling", False, 0.16),
        ("walking", False, 0.05), ("vehicle", False, 0.20), ("walking", False, 0.07),
        ("still", True, 0.08))


@dataclass(frozen=True)
class Segment:
    """One stretch of the timeline."""

    start_s: float
    end_s: float
    activity: str
    indoor: bool

    @property
    def audio_scene(self) -> str:
        if self.activity == "vehicle":
            return "vehicle"
        if self.indoor:
            return "speech" if self.activity == "walking" else "silence"
        return "street"

    @property
    def camera_scene(self) -> str:
        if self.indoor:
            return "office"
        return "shaky" if self.activity in ("running", "cycling") else "street"


@dataclass
class Scenario:
    """Ground truth of a simulated day (see the module docstring).

    Args:
        duration_s: Length of the day (the timeline is scaled to fit).
        seed: Seed of every random choice; same seed, same day.
        origin: Start position: latitude, longitude (degrees), altitude above MSL (m).
        grid_hz: Resolution of the integrated trajectory.
    """

    duration_s: float = 180.0
    seed: int = 0
    origin: tuple[float, float, float] = (52.5163, 13.3777, 34.0)
    grid_hz: float = 20.0
    segments: list[Segment] = field(init=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        shares = np.array([s for _, _, s in _DAY]) * rng.uniform(0.8, 1.2, len(_DAY))
        bounds = np.concatenate([[0.0], np.cumsum(shares / shares.sum())]) * self.duration_s
        self.segments = [Segment(float(bounds[i]), float(bounds[i + 1]), act, indoor)
                         for i, (act, indoor, _) in enumerate(_DAY)]
        self._phase = rng.uniform(0, 2 * math.pi, (len(_DAY), 8))
        self._freq_jitter = rng.uniform(0.92, 1.08, len(_DAY))
        self._vib = rng.uniform(8.0, 30.0, 12), rng.uniform(0, 2 * math.pi, 12)
        self._lux_base = np.where([s.indoor for s in self.segments],
                                  rng.uniform(60, 450, len(_DAY)),
                                  rng.uniform(8_000, 90_000, len(_DAY)))
        self._gps_rng_seed = int(rng.integers(2**31))
        self._integrate()

    # -- timeline -------------------------------------------------------------------------
    def segment_index(self, t: FloatArray) -> npt.NDArray[np.int64]:
        """Index of the segment each time falls in."""
        starts = np.array([s.start_s for s in self.segments])
        return np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)

    def weights(self, t: FloatArray, ramp_s: float = 2.0) -> FloatArray:
        """(N, segments) membership, ramped over ``ramp_s`` at each boundary (rows sum to 1)."""
        t = np.asarray(t, np.float64)[:, None]
        starts = np.array([s.start_s for s in self.segments])[None]
        ends = np.array([s.end_s for s in self.segments])[None]
        starts[0, 0], ends[0, -1] = -np.inf, np.inf

        def ramp(x: FloatArray) -> FloatArray:
            return np.clip(x / ramp_s + 0.5, 0.0, 1.0)

        return ramp(t - starts) - ramp(t - ends)

    def schedule(self, kind: str) -> list[tuple[float, str]]:
        """``[(start_s, scene)]`` for ``"audio"`` or ``"camera"`` (the emulators' format)."""
        attr = "audio_scene" if kind == "audio" else "camera_scene"
        return [(s.start_s, getattr(s, attr)) for s in self.segments]

    def labels(self, t: FloatArray) -> dict[str, npt.NDArray[Any]]:
        """Per-time label codes (indices into ACTIVITIES, AUDIO_SCENES, CAMERA_SCENES)."""
        segs = [self.segments[i] for i in self.segment_index(np.asarray(t, np.float64))]
        return {"activity": np.array([ACTIVITIES.index(s.activity) for s in segs], np.int8),
                "indoor": np.array([s.indoor for s in segs], np.int8),
                "audio_scene": np.array([AUDIO_SCENES.index(s.audio_scene) for s in segs],
                                        np.int8),
                "camera_scene": np.array([CAMERA_SCENES.index(s.camera_scene) for s in segs],
                                         np.int8)}

    # -- trajectory -----------------------------------------------------------------------
    def _integrate(self) -> None:
        dt = 1.0 / self.grid_hz
        t = np.arange(0.0, self.duration_s + 2.0, dt)
        w = self.weights(t)
        speed = w @ np.array([_SPEED[s.activity] for s in self.segments])
        turn_amp = w @ np.array([_TURN[s.activity] for s in self.segments])
        yaw_rate = turn_amp * np.sin(2 * math.pi * t / 23.0 + self._phase[0, 0]) + \
            0.5 * turn_amp * np.sin(2 * math.pi * t / 7.0 + self._phase[0, 1])
        heading = self._phase[0, 2] + np.cumsum(yaw_rate) * dt  # rad from north, clockwise
        self._grid = t
        self._speed, self._yaw_rate, self._heading = speed, yaw_rate, heading
        self._accel_fwd = np.gradient(speed, dt)
        self._east = np.cumsum(speed * np.sin(heading)) * dt
        self._north = np.cumsum(speed * np.cos(heading)) * dt

    def _on_grid(self, values: FloatArray, t: FloatArray) -> FloatArray:
        return np.interp(np.asarray(t, np.float64), self._grid, values)

    def position(self, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        """True latitude and longitude (degrees) at ``t``."""
        lat0, lon0, _ = self.origin
        north, east = self._on_grid(self._north, t), self._on_grid(self._east, t)
        lat = lat0 + np.degrees(north / EARTH_RADIUS_M)
        lon = lon0 + np.degrees(east / (EARTH_RADIUS_M * math.cos(math.radians(lat0))))
        return lat, lon

    def speed(self, t: FloatArray) -> FloatArray:
        return self._on_grid(self._speed, t)

    def heading_deg(self, t: FloatArray) -> FloatArray:
        return np.mod(np.degrees(self._on_grid(self._heading, t)), 360.0)

    # -- what the sensors feel ------------------------------------------------------------
    def imu(self, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Specific force (m/s^2) and angular rate (rad/s) in the body frame (z up, x forward).

        The signature is the MPU-6050 emulator's ``motion`` callable.
        """
        t = np.asarray(t, np.float64)
        accel = np.zeros((len(t), 3))
        gyro = np.zeros((len(t), 3))
        accel[:, 2] = G0
        w = self.weights(t)
        for i, seg in enumerate(self.segments):
            wi = w[:, i]
            active = wi > 0
            if not active.any():
                continue
            a, g = self._activity_motion(i, seg.activity, t[active])
            accel[active] += wi[active, None] * a
            gyro[active] += wi[active, None] * g
        accel[:, 0] += self._on_grid(self._accel_fwd, t)
        gyro[:, 2] += self._on_grid(-self._yaw_rate, t)  # clockwise heading = negative yaw
        return accel, gyro

    def _activity_motion(self, i: int, activity: str, t: FloatArray
                         ) -> tuple[FloatArray, FloatArray]:
        a = np.zeros((len(t), 3))
        g = np.zeros((len(t), 3))
        ph = self._phase[i]
        if activity in _GAIT:
            f, vert, fwd, lat = _GAIT[activity]
            f *= self._freq_jitter[i]
            w = 2 * math.pi * f * t
            a[:, 2] = vert * np.sin(w + ph[0]) + 0.3 * vert * np.sin(2 * w + ph[1])
            a[:, 0] = fwd * np.sin(w + ph[2])
            a[:, 1] = lat * np.sin(0.5 * w + ph[3])  # sway at half the step frequency
            g[:, 0] = 0.15 * vert / G0 * np.sin(0.5 * w + ph[4])
            g[:, 1] = 0.25 * vert / G0 * np.sin(w + ph[5])
            g[:, 2] = 0.1 * np.sin(0.5 * w + ph[6])
        if activity in ("cycling", "vehicle"):
            freqs, phases = self._vib
            amp = 0.35 if activity == "cycling" else 0.25
            vib = np.sin(np.outer(t, 2 * math.pi * freqs) + phases) @ np.full(12, amp / 3)
            a[:, 2] += vib
            a[:, 0] += 0.5 * np.roll(vib, 3)
            g[:, 0] += 0.02 * vib
        if activity == "vehicle":
            a[:, 1] += 0.8 * np.sin(2 * math.pi * t / 11.0 + ph[7])  # cornering
        return a, g

    def lux(self, t: FloatArray) -> FloatArray:
        """Illuminance at the device (lux): indoor tens to hundreds, outdoor thousands up."""
        t = np.asarray(t, np.float64)
        base = self.weights(t, ramp_s=1.0) @ self._lux_base
        vehicle = self.weights(t, ramp_s=1.0) @ np.array(
            [0.3 if s.activity == "vehicle" else 1.0 for s in self.segments])
        clouds = 1.0 + 0.25 * np.sin(2 * math.pi * t / 37.0) * np.sin(2 * math.pi * t / 13.0)
        return np.asarray(base * vehicle * clouds)

    def gps_fixes(self, t: FloatArray) -> dict[str, npt.NDArray[Any]]:
        """What a receiver reports at times ``t`` (fix epochs): no fix indoors, and for a few
        seconds after stepping outside while it reacquires; about 2.5 m of noise outdoors."""
        t = np.asarray(t, np.float64)
        idx = self.segment_index(t)
        outdoor_since = np.array([self._outdoor_since(float(x)) for x in t])
        fix = np.array([not self.segments[i].indoor for i in idx]) & (outdoor_since >= 4.0)
        rng = np.random.default_rng([self._gps_rng_seed, *np.round(t * 1000).astype(int)[:1]])
        n = len(t)
        lat, lon = self.position(t)
        noise_n, noise_e = rng.normal(0, 2.5, n), rng.normal(0, 2.5, n)
        lat = lat + np.degrees(noise_n / EARTH_RADIUS_M)
        lon = lon + np.degrees(noise_e / (EARTH_RADIUS_M * math.cos(math.radians(self.origin[0]))))
        nan = np.full(n, np.nan)
        return {
            "lat_deg": np.where(fix, lat, nan), "lon_deg": np.where(fix, lon, nan),
            "alt_msl_m": np.where(fix, self.origin[2] + rng.normal(0, 4.0, n), nan
                                  ).astype(np.float32),
            "speed_mps": np.where(fix, np.maximum(self.speed(t) + rng.normal(0, 0.15, n), 0),
                                  nan).astype(np.float32),
            "track_deg": np.where(fix & (self.speed(t) > 0.5), self.heading_deg(t), nan
                                  ).astype(np.float32),
            "mode": np.where(fix, 3, 1).astype(np.int8),
            "hdop": np.where(fix, rng.uniform(0.7, 1.6, n), nan).astype(np.float32),
            "sats_used": np.where(fix, rng.integers(7, 13, n), 0).astype(np.int16)}

    def gps_trajectory(self, t_s: float) -> tuple[float, float, float, float, float, bool]:
        """What the receiver computes at ``t_s``: the GPS receiver emulator's trajectory."""
        fix = self.gps_fixes(np.array([float(t_s)]))
        has_fix = bool(fix["mode"][0] == 3)
        if not has_fix:
            return (self.origin[0], self.origin[1], self.origin[2], 0.0, 0.0, False)
        track = float(fix["track_deg"][0])
        return (float(fix["lat_deg"][0]), float(fix["lon_deg"][0]), float(fix["alt_msl_m"][0]),
                float(fix["speed_mps"][0]), 0.0 if math.isnan(track) else track, True)

    def _outdoor_since(self, t: float) -> float:
        """Seconds since the device last went outdoors (0 indoors)."""
        i = int(self.segment_index(np.array([t]))[0])
        if self.segments[i].indoor:
            return 0.0
        while i > 0 and not self.segments[i - 1].indoor:
            i -= 1
        # A day that starts outdoors had a fix already.
        return t - self.segments[i].start_s if i > 0 else math.inf


# -- driving the emulated devices -----------------------------------------------------------
#: Host monotonic time at which a simulation starts, and the wall-clock time it maps to
#: (2026-05-04 08:00 UTC): fixed, so the same seed gives the same file content.
SIM_START_NS = 1_000_000_000_000
SIM_WALL_START_NS = 1_777_881_600_000_000_000


@dataclass(frozen=True)
class SimConfig:
    """Rates and sizes of a simulated recording (defaults: the demo recording)."""

    duration_s: float = 180.0
    seed: int = 0
    imu_rate_hz: float = 100.0
    audio_rate_hz: int = 8000
    camera_fps: float = 1.0
    camera_size: tuple[int, int] = (96, 72)
    step_s: float = 0.05


def simulate(out: str | os.PathLike[str], config: SimConfig | None = None, *,
             on_progress: Callable[[float], None] | None = None) -> dict[str, int]:
    """Record a simulated day into ``out`` (MCAP); return samples per stream.

    Everything runs on a :class:`~sensekit.clock.FakeClock`, so it takes a few seconds of CPU
    for minutes of simulated time, and the same config gives the same samples.
    """
    from ..log.recorder import Recorder

    cfg = config or SimConfig()
    scenario = Scenario(cfg.duration_s, cfg.seed)
    clock = FakeClock(SIM_START_NS)
    drivers = _open_drivers(scenario, cfg, clock)
    counts: dict[str, int] = {}
    with Recorder(out, clock=clock, clock_synced=True,
                  wall_offset_ns=SIM_WALL_START_NS - SIM_START_NS,
                  metadata={"host": "sensekit scenario simulator", "scenario_seed": str(cfg.seed),
                            "scenario_duration_s": str(cfg.duration_s)}) as rec:
        for driver in drivers:
            rec.add_driver(driver, emulated=True)
        rec.add_device("labels", _LABELS_DEVICE)
        next_second = 0
        while (elapsed := (clock.now_ns() - SIM_START_NS) / 1e9) < cfg.duration_s:
            clock.advance(cfg.step_s)
            packets = [p for d in drivers if (p := _read(d, cfg.step_s)) is not None]
            while next_second <= elapsed:
                packets += _per_second(scenario, next_second)
                next_second += 1
            for packet in packets:
                rec.write(packet)
                counts[packet.stream] = counts.get(packet.stream, 0) + len(packet)
            if on_progress is not None:
                on_progress(min(elapsed / cfg.duration_s, 1.0))
    for driver in drivers:
        driver.close()
    return counts


def _open_drivers(scenario: Scenario, cfg: SimConfig, clock: FakeClock) -> list[Driver]:
    from ..drivers.audio.microphone import Microphone
    from ..drivers.camera.camera import Camera
    from ..drivers.imu.mpu6050 import Mpu6050
    from ..drivers.light.veml7700 import Veml7700
    from .audio_scenes import AudioSceneEmulator
    from .camera_scenes import CameraSceneEmulator
    from .gps_receiver import GpsReceiverEmulator
    from .light_emu import Veml7700Emulator
    from .mpu6050_emu import Mpu6050Emulator

    imu_emu = Mpu6050Emulator(motion=scenario.imu, clock_ppm=1500.0, seed=cfg.seed)
    mic_emu = AudioSceneEmulator(scenario.schedule("audio"), rate_hz=cfg.audio_rate_hz,
                                 supported_rates=(cfg.audio_rate_hz,), seed=cfg.seed,
                                 clock=clock, clock_ppm=80.0)
    cam_emu = CameraSceneEmulator(scenario.schedule("camera"), fps=cfg.camera_fps,
                                  seed=cfg.seed, clock=clock)
    gps_emu = GpsReceiverEmulator(scenario.gps_trajectory, clock=clock, start_utc=_dt.datetime(
        2026, 5, 4, 8, 0, 0))
    light_emu = Veml7700Emulator(lux=scenario.lux)
    return [
        gps_emu.open_driver(stream="gps"),
        # Gain 1/8 and 25 ms: 1.84 lx per count, up to 120,000 lx (sunlight), AN 84323 Table 1.
        Veml7700("emu://", emulator=light_emu, clock=clock, gain=0.125, integration_ms=25,
                 rate_hz=1.0, stream="light").open(),
        Mpu6050("emu://", emulator=imu_emu, clock=clock, rate_hz=cfg.imu_rate_hz,
                accel_range_g=4, gyro_range_dps=500).open(),
        Microphone("emu://", emulator=mic_emu, clock=clock, rate_hz=cfg.audio_rate_hz,
                   blocksize=int(cfg.audio_rate_hz * cfg.step_s)).open(),
        Camera("emu://", emulator=cam_emu, clock=clock, rate_hz=cfg.camera_fps,
               size=cfg.camera_size).open(),
    ]


def _read(driver: Driver, step_s: float) -> Packet | None:
    # The camera emulator hands a frame over only when one is due within the timeout; a
    # step's worth keeps the shared clock moving by less than the IMU FIFO holds. The NMEA
    # driver reads its port only within a timeout, so it gets a microsecond.
    timeout = {"camera": step_s, "gps": 1e-6}.get(driver.modality, 0.0)
    return driver.read(timeout_s=timeout)


#: The labels stream's device metadata: where it comes from and its code tables.
_LABELS_DEVICE: dict[str, Any] = {
    "driver": "scenario", "rate_hz": 1.0, "activity": list(ACTIVITIES),
    "indoor": ["outdoor", "indoor"], "audio_scene": list(AUDIO_SCENES),
    "camera_scene": list(CAMERA_SCENES)}


def _per_second(scenario: Scenario, second: int) -> list[Packet]:
    """The ground-truth labels for ``second`` of the day."""
    t = np.array([float(second)])
    t_ns = np.array([SIM_START_NS + second * 1_000_000_000], np.int64)
    return [Packet("labels", t_ns, scenario.labels(t))]
