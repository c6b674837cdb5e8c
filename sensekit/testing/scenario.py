"""A labelled day in the life of a carried device, as ground truth for the emulated sensors.

:class:`Scenario` is pure signal generation, deterministic in its seed: a timeline of
segments (still, walking, running, cycling, in a vehicle; indoor or outdoor; the device in a
hand, a trouser pocket, a bag or a jacket), the trajectory they trace from an origin (speeds
drawn per segment from overlapping ranges and varying within it, a drive stopping at lights;
speed and heading integrated in ENU, then WGS-84), the motion an IMU feels in the device frame
(gravity, gait at a cadence that follows the speed with a heel strike at each step,
pedalling, road and engine vibration, turns; turned, scaled and damped by the placement), the
illuminance (indoors 50-2,000 lux,
outdoors 300-100,000, overlapping; dimmed in a car, a pocket or a bag), the GPS fixes a
receiver would give (none indoors, a few seconds to reacquire), and the audio and camera scene
schedules, drawn per segment with probabilities that depend on the activity and place.

The day's activity mix is fixed (30% still, 28% walking, 10% running, 14% cycling, 18% in a
vehicle); the order of its segments and their lengths vary with the seed, with no two
neighbours sharing an activity.

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
import itertools
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

__all__ = ["ACTIVITIES", "AUDIO_SCENES", "CAMERA_SCENES", "PLACEMENTS", "Scenario", "Segment",
           "SimConfig", "simulate"]

FloatArray = npt.NDArray[np.float64]

ACTIVITIES = ("still", "walking", "running", "cycling", "vehicle")
AUDIO_SCENES = ("silence", "speech", "street", "vehicle")
CAMERA_SCENES = ("office", "street", "shaky")
G0 = 9.80665
EARTH_RADIUS_M = 6_378_137.0  # WGS-84 semi-major axis

#: Activity mix of every day, fixed in advance (share of the duration): at most 35% still.
_MIX = {"still": 0.30, "walking": 0.28, "running": 0.10, "cycling": 0.14, "vehicle": 0.18}
#: Segments per day: at least 10 (so short days hold every activity) and at least 12 per hour
#: (no two neighbours share an activity, so at least 11 activity transitions per hour).
_MIN_SEGMENTS, _SEGMENTS_PER_HOUR = 10, 12
#: Chance that a segment of the activity is indoors (sitting at a desk or in a cafe; walking
#: along a corridor or through a station); the others are outdoors, a vehicle counting as such.
_P_INDOOR = {"still": 0.6, "walking": 0.3, "running": 0.0, "cycling": 0.0, "vehicle": 0.0}
#: Segment mean speed range (m/s): walking 0.8-1.9 (slow stroll to brisk walk), running
#: 2.0-4.5 (jog to fast run), cycling 2.5-8 (9-29 km/h, town riding); a vehicle in town traffic
#: cruises at 8-20 m/s (29-72 km/h) between stops at lights (see Scenario._speed_profile).
_SPEED_RANGE = {"still": (0.0, 0.0), "walking": (0.8, 1.9), "running": (2.0, 4.5),
                "cycling": (2.5, 8.0), "vehicle": (8.0, 20.0)}
#: How much the heading wanders (rad/s amplitude) per activity.
_TURN = {"still": 0.0, "walking": 0.08, "running": 0.06, "cycling": 0.05, "vehicle": 0.04}
#: Gait per activity: step (or pedal) frequency (Hz) as a + b * speed, and the range of the
#: vertical trunk acceleration amplitude (m/s^2). Walking cadence 105-125 steps/min rising with
#: speed, vertical swing 0.2-0.45 g (the real phone recordings in the corpus swing that much;
#: 0.1-0.3 g left simulated walking far gentler than any of them); running 158-176 steps/min,
#: 0.5-0.9 g; pedalling 65-92 rpm.
_GAIT = {"walking": (1.5, 0.3, 2.0, 4.5), "running": (2.4, 0.12, 4.5, 9.0),
         "cycling": (0.9, 0.08, 0.3, 0.9)}
#: Where the device is carried, with the chance per activity (hand, trouser pocket, bag,
#: jacket pocket).
PLACEMENTS = ("hand", "pocket", "bag", "jacket")
_P_PLACEMENT = {"still": (0.35, 0.25, 0.2, 0.2), "walking": (0.3, 0.3, 0.2, 0.2),
                "running": (0.35, 0.35, 0.05, 0.25), "cycling": (0.15, 0.4, 0.25, 0.2),
                "vehicle": (0.35, 0.3, 0.2, 0.15)}
#: Per placement: gain on the trunk motion (a hand held in front damps steps; a trouser pocket
#: rides the thigh, where heel strikes reach 1-1.5 g; a bag damps), the weight of the step
#: harmonics and vibration (1 = trunk), and the light reaching the sensor (fabric passes a few
#: percent, a bag about 1%).
_PLACE = {"hand": ((0.5, 0.9), 1.0, (1.0, 1.0)), "pocket": ((1.2, 2.0), 1.5, (0.03, 0.2)),
          "bag": ((0.4, 0.8), 0.4, (0.005, 0.03)), "jacket": ((0.7, 1.1), 0.7, (0.03, 0.2))}
#: Heel-strike transient per step (walking; twice as strong running): the peak (m/s^2) by
#: placement, ringing at 8-16 Hz and dying within a few tens of ms. It is strongest where the
#: device rides the leg: a trouser pocket feels each strike as a sharp jolt, so that real
#: pocket recordings hold as much energy above 4 Hz as at the step rate; a hand or a bag damps
#: it. The sizes were chosen against the spread of that high-band share in the phone corpus.
_IMPACT = {"hand": (1.0, 3.0), "pocket": (12.0, 24.0), "bag": (2.0, 5.0), "jacket": (4.0, 9.0)}
#: Audio and camera scenes drawn per segment: probabilities per (activity, indoor), in the
#: order of AUDIO_SCENES (silence, speech, street, vehicle) and CAMERA_SCENES (office, street,
#: shaky). A quiet car, speech outdoors, a busy cafe indoors, traffic heard from a bike.
_P_AUDIO = {("still", True): (0.5, 0.45, 0.05, 0.0), ("still", False): (0.2, 0.3, 0.45, 0.05),
            ("walking", True): (0.45, 0.45, 0.1, 0.0),
            ("walking", False): (0.15, 0.25, 0.55, 0.05),
            ("running", False): (0.3, 0.1, 0.55, 0.05), ("cycling", False): (0.15, 0.1, 0.6, 0.15),
            ("vehicle", False): (0.25, 0.25, 0.1, 0.4)}
_P_CAMERA = {("still", True): (0.85, 0.05, 0.1), ("still", False): (0.1, 0.75, 0.15),
             ("walking", True): (0.6, 0.05, 0.35), ("walking", False): (0.05, 0.6, 0.35),
             ("running", False): (0.0, 0.45, 0.55), ("cycling", False): (0.05, 0.5, 0.45),
             ("vehicle", False): (0.35, 0.45, 0.2)}
#: Illuminance ranges (lux, drawn log-uniformly): indoors 50 (dim room) to 2,000 (by a window);
#: outdoors 300 (dusk, deep shade, heavy overcast) to 100,000 (direct sun). A car cabin passes
#: 20-60% of the outdoor light.
_LUX_INDOOR, _LUX_OUTDOOR, _CABIN = (50.0, 2_000.0), (300.0, 100_000.0), (0.2, 0.6)
#: GPS: speed noise (m/s, 1 sigma; phone receivers' Doppler speed is good to a few tenths) and
#: position noise (m) under open sky and for a poor fix; the chance that an outdoor segment is
#: a street canyon (poor fix) and that an indoor one is by a window (a poor fix, else none).
_GPS_SPEED_SIGMA, _GPS_SIGMA_M, _GPS_POOR_SIGMA_M = 0.3, 2.5, 15.0
_P_CANYON, _P_WINDOW = 0.25, 0.3


@dataclass(frozen=True)
class Segment:
    """One stretch of the timeline: what is done, where, how the device is carried, and the
    audio and camera scenes (drawn per segment, not a function of the activity)."""

    start_s: float
    end_s: float
    activity: str
    indoor: bool
    placement: str = "hand"
    audio_scene: str = "silence"
    camera_scene: str = "office"


def _rotation(yaw: float, pitch: float, roll: float) -> FloatArray:
    cy, sy, cp, sp, cr, sr = (math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch),
                              math.cos(roll), math.sin(roll))
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    return np.asarray(rx @ ry @ rz, np.float64)


def _placement_rotation(rng: np.random.Generator, placement: str) -> FloatArray:
    """Body (carrier) frame to device frame: a hand holds the screen up and tilted 10-50
    degrees; pockets hold it upright (long axis along the thigh or chest) facing either way;
    a bag holds it any way at all."""
    yaw = rng.uniform(-math.pi, math.pi)
    if placement == "hand":
        return _rotation(rng.uniform(-0.4, 0.4), rng.uniform(0.17, 0.87), rng.uniform(-0.3, 0.3))
    if placement in ("pocket", "jacket"):
        return _rotation(yaw, rng.choice([-1.0, 1.0]) * rng.uniform(1.2, 1.6),
                         rng.uniform(-0.4, 0.4))
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _thigh(a: FloatArray, g: FloatArray, amp_rad: float, omega: float, arg: FloatArray) -> None:
    """A device turning with the thigh by ``amp_rad * sin(arg)`` about its lateral axis: gravity
    tilts into the forward axis and the gyroscope sees the swing (added in place)."""
    theta = amp_rad * np.sin(arg)
    a[:, 0] += G0 * np.sin(theta)
    a[:, 2] += G0 * (np.cos(theta) - 1.0)
    g[:, 1] += amp_rad * omega * np.cos(arg)


def _plan_day(rng: np.random.Generator, duration_s: float) -> list[tuple[str, float]]:
    """(activity, share) per segment: the fixed mix cut into pieces, shuffled so that no two
    neighbours share an activity, piece lengths varying per seed."""
    n = max(_MIN_SEGMENTS, math.ceil(duration_s * _SEGMENTS_PER_HOUR / 3600.0))
    shares = np.array(list(_MIX.values()))
    counts = np.maximum(1, np.round(shares / shares.sum() * n)).astype(int)
    while counts.max() * 2 - 1 > counts.sum():  # only then can neighbours all differ
        counts[np.argmin(counts / shares)] += 1
    acts = [a for a, c in zip(_MIX, counts, strict=True) for _ in range(c)]
    for _ in range(1000):
        order = [acts[i] for i in rng.permutation(len(acts))]
        if all(a != b for a, b in itertools.pairwise(order)):
            break
    else:  # pragma: no cover - a valid order exists and 1000 shuffles find one
        raise RuntimeError("no day plan")
    pieces: dict[str, list[float]] = {}
    for act, c, share in zip(_MIX, counts, shares, strict=True):
        cut = 0.5 / c + 0.5 * rng.dirichlet(np.full(c, 3.0))
        pieces[act] = list(cut * share / shares.sum())
    return [(a, pieces[a].pop()) for a in order]


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
        plan = _plan_day(rng, self.duration_s)
        n = len(plan)
        bounds = np.concatenate([[0.0], np.cumsum([s for _, s in plan])]) * self.duration_s
        indoor = [bool(rng.uniform() < _P_INDOOR[a]) for a, _ in plan]
        if not any(indoor):  # every day has some time indoors
            indoor[[a for a, _ in plan].index("still")] = True
        self.segments = []
        self._rot, gains, damp, shade = [], [], [], []
        for i, (act, _) in enumerate(plan):
            place = PLACEMENTS[rng.choice(len(PLACEMENTS), p=_P_PLACEMENT[act])]
            key = (act, indoor[i])
            audio = AUDIO_SCENES[rng.choice(len(AUDIO_SCENES), p=_P_AUDIO[key])]
            camera = CAMERA_SCENES[rng.choice(len(CAMERA_SCENES), p=_P_CAMERA[key])]
            self.segments.append(Segment(float(bounds[i]), float(bounds[i + 1]), act, indoor[i],
                                         place, audio, camera))
            gain, d, light = _PLACE[place]
            self._rot.append(_placement_rotation(rng, place))
            gains.append(rng.uniform(*gain))
            damp.append(d)
            shade.append(math.exp(rng.uniform(math.log(light[0]), math.log(light[1]))))
        self._gain, self._damp = np.array(gains), np.array(damp)
        self._phase = rng.uniform(0, 2 * math.pi, (n, 8))
        self._speed_mean = np.array([rng.uniform(*_SPEED_RANGE[a]) for a, _ in plan])
        self._speed_var = rng.uniform(0.05, 0.15, n)  # within-segment variation (fraction)
        self._stop_period = rng.uniform(25.0, 60.0, n)  # traffic-light cycle of a drive (s)
        self._amp = np.array([rng.uniform(*_GAIT[a][2:]) if a in _GAIT else 0.0
                              for a, _ in plan])
        self._vib = rng.uniform(8.0, 30.0, 12), rng.uniform(0, 2 * math.pi, 12)
        self._vib_amp = rng.uniform(0.6, 1.6, n)
        lo_in, hi_in = np.log(_LUX_INDOOR)
        lo_out, hi_out = np.log(_LUX_OUTDOOR)
        lux = np.exp(np.where(indoor, rng.uniform(lo_in, hi_in, n), rng.uniform(lo_out, hi_out, n)))
        cabin = np.where([a == "vehicle" for a, _ in plan], rng.uniform(*_CABIN, n), 1.0)
        self._lux_base = lux * cabin * np.array(shade)
        # Sky view per segment: 0 none, 1 poor (street canyon; indoors by a window), 2 open.
        self._sky = np.array([(1 if rng.uniform() < _P_WINDOW else 0) if ind
                              else (1 if rng.uniform() < _P_CANYON else 2) for ind in indoor])
        self._gps_rng_seed = int(rng.integers(2**31))
        # drawn last, so the rest of a seed's day is what it was before impacts were modelled
        self._impact = np.array([rng.uniform(*_IMPACT[s.placement]) for s in self.segments])
        self._ring = rng.uniform(8.0, 16.0, n), rng.uniform(0.03, 0.06, n)
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
    def _speed_profile(self, i: int, t: FloatArray) -> FloatArray:
        """Speed of segment ``i`` over time: its mean with slow variation; a vehicle stops at
        lights for about a third of each cycle, accelerating at up to about 2.5 m/s^2."""
        act, ph = self.segments[i].activity, self._phase[i]
        v = self._speed_mean[i]
        if act == "vehicle":
            cycle = np.sin(2 * math.pi * t / self._stop_period[i] + ph[6])
            go = np.clip((cycle + 0.35) * 1.5, 0.0, 1.0)
            return np.asarray(v * go * (1 + 0.1 * np.sin(2 * math.pi * t / 9.0 + ph[5])))
        var = self._speed_var[i]
        return np.asarray(v * (1 + var * np.sin(2 * math.pi * t / 17.0 + ph[5])
                               + 0.5 * var * np.sin(2 * math.pi * t / 5.3 + ph[6])))

    def _integrate(self) -> None:
        dt = 1.0 / self.grid_hz
        t = np.arange(0.0, self.duration_s + 2.0, dt)
        w = self.weights(t)
        speed = np.zeros(len(t))
        for i in range(len(self.segments)):
            speed += w[:, i] * self._speed_profile(i, t)
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
        """Specific force (m/s^2) and angular rate (rad/s) in the device frame.

        The carrier's frame (z up, x forward) is turned into the device's by the placement of
        each segment. The signature is the MPU-6050 emulator's ``motion`` callable.
        """
        t = np.asarray(t, np.float64)
        accel = np.zeros((len(t), 3))
        gyro = np.zeros((len(t), 3))
        w = self.weights(t)
        fwd = self._on_grid(self._accel_fwd, t)
        yaw = self._on_grid(-self._yaw_rate, t)  # clockwise heading = negative yaw
        for i, seg in enumerate(self.segments):
            wi = w[:, i]
            active = wi > 0
            if not active.any():
                continue
            a, g = self._activity_motion(i, seg.activity, t[active])
            a[:, 0] += fwd[active]
            a[:, 2] += G0
            g[:, 2] += yaw[active]
            rot = self._rot[i]
            accel[active] += wi[active, None] * (a @ rot.T)
            gyro[active] += wi[active, None] * (g @ rot.T)
        return accel, gyro

    def _activity_motion(self, i: int, activity: str, t: FloatArray
                         ) -> tuple[FloatArray, FloatArray]:
        a = np.zeros((len(t), 3))
        g = np.zeros((len(t), 3))
        ph = self._phase[i]
        gain, damp = self._gain[i], self._damp[i]
        place = self.segments[i].placement
        if activity in _GAIT:
            f0, slope, _, _ = _GAIT[activity]
            f = f0 + slope * self._speed_mean[i]
            vert = self._amp[i] * gain
            w = 2 * math.pi * f * t
            if activity == "cycling":
                # Pedalling: the trunk barely moves; the thigh swings about 0.5 rad at the
                # pedal frequency and a trouser pocket turns with it.
                a[:, 2] = vert * np.sin(w + ph[0])
                if place == "pocket":
                    _thigh(a, g, 0.5, 2 * math.pi * f, w + ph[5])
            else:
                # Heel strikes: harmonics of the step, sharper where the device rides the
                # leg (a pocket) and softer where it is cushioned (a bag).
                a[:, 2] = vert * (np.sin(w + ph[0]) + 0.3 * damp * np.sin(2 * w + ph[1])
                                  + 0.2 * damp * np.sin(3 * w + ph[2])
                                  + 0.1 * damp * np.sin(4 * w + ph[3]))
                a[:, 0] = 0.5 * vert * np.sin(w + ph[2])
                a[:, 1] = 0.25 * vert * np.sin(0.5 * w + ph[3])  # sway at half the step rate
                g[:, 0] = 0.15 * vert / G0 * np.sin(0.5 * w + ph[4])
                g[:, 1] = 0.25 * vert / G0 * np.sin(w + ph[5])
                g[:, 2] = 0.1 * np.sin(0.5 * w + ph[6])
                # Heel strike: a damped ring starting at each step.
                since = np.mod(f * t + ph[0] / (2 * math.pi), 1.0) / f
                ring = np.exp(-since / self._ring[1][i]) * np.sin(
                    2 * math.pi * self._ring[0][i] * since)
                jolt = self._impact[i] * (2.0 if activity == "running" else 1.0) * ring
                a[:, 2] += jolt
                a[:, 0] += 0.4 * jolt
                if place == "pocket":  # the thigh swings at the stride (half the step) rate
                    # Hip flexion range about 40 degrees walking, 60-70 running.
                    _thigh(a, g, 0.35 if activity == "walking" else 0.55, math.pi * f,
                           0.5 * w + ph[7])
        elif activity == "still" and place == "hand":
            # A hand holding a device still: tremor and slow drift of a few hundredths of g.
            a[:, 0] = 0.04 * np.sin(2 * math.pi * 0.3 * t + ph[0])
            a[:, 1] = 0.03 * np.sin(2 * math.pi * 0.7 * t + ph[1])
            g[:, 0] = 0.02 * np.sin(2 * math.pi * 0.4 * t + ph[2])
        if activity in ("cycling", "vehicle"):
            freqs, phases = self._vib
            if activity == "cycling":
                amp = np.full(len(t), 0.35 * self._vib_amp[i])
            else:  # engine idle when stopped, road roughness growing with speed
                amp = self._vib_amp[i] * (0.05 + 0.015 * self.speed(t))
            arg = np.outer(t, 2 * math.pi * freqs) + phases
            vib = np.sin(arg) @ np.full(12, 1 / 3) * amp * damp
            a[:, 2] += vib
            a[:, 0] += 0.5 * (np.cos(arg) @ np.full(12, 1 / 3)) * amp * damp  # fore-aft
            g[:, 0] += 0.02 * vib
        if activity == "vehicle":
            # Cornering: lateral acceleration up to about 2 m/s^2 at speed, none when stopped.
            a[:, 1] += 0.1 * self.speed(t) * np.sin(2 * math.pi * t / 11.0 + ph[7])
        return a, g

    def lux(self, t: FloatArray) -> FloatArray:
        """Illuminance at the device (lux): indoors 50-2,000, outdoors 300-100,000, less in a
        car and much less in a pocket or bag."""
        t = np.asarray(t, np.float64)
        base = np.exp(self.weights(t, ramp_s=1.0) @ np.log(self._lux_base))
        clouds = 1.0 + 0.25 * np.sin(2 * math.pi * t / 37.0) * np.sin(2 * math.pi * t / 13.0)
        return np.asarray(base * clouds)

    def gps_fixes(self, t: FloatArray) -> dict[str, npt.NDArray[Any]]:
        """What a receiver reports at times ``t`` (fix epochs): a fix wherever the segment sees
        the sky (outdoors; indoors only by a window, and poorly), after a few seconds to
        reacquire; open-sky noise about 2.5 m, poor fixes (street canyon, by a window) 15 m
        and three times the speed noise. The receiver emulator reports position, speed and
        track from here; its HDOP and satellite count are its own."""
        t = np.asarray(t, np.float64)
        idx = self.segment_index(t)
        sky_since = np.array([self._outdoor_since(float(x)) for x in t])
        fix = (self._sky[idx] > 0) & (sky_since >= 4.0)
        poor = self._sky[idx] == 1
        rng = np.random.default_rng([self._gps_rng_seed, *np.round(t * 1000).astype(int)[:1]])
        n = len(t)
        lat, lon = self.position(t)
        sigma = np.where(poor, _GPS_POOR_SIGMA_M, _GPS_SIGMA_M)
        noise_n, noise_e = rng.normal(0, 1, n) * sigma, rng.normal(0, 1, n) * sigma
        lat = lat + np.degrees(noise_n / EARTH_RADIUS_M)
        lon = lon + np.degrees(noise_e / (EARTH_RADIUS_M * math.cos(math.radians(self.origin[0]))))
        speed_sigma = np.where(poor, 3 * _GPS_SPEED_SIGMA, _GPS_SPEED_SIGMA)
        speed = np.maximum(self.speed(t) + rng.normal(0, 1, n) * speed_sigma, 0)
        hdop = np.where(poor, rng.uniform(2.5, 8.0, n), rng.uniform(0.7, 1.6, n))
        sats = np.where(poor, rng.integers(4, 7, n), rng.integers(7, 13, n))
        nan = np.full(n, np.nan)
        return {
            "lat_deg": np.where(fix, lat, nan), "lon_deg": np.where(fix, lon, nan),
            "alt_msl_m": np.where(fix, self.origin[2] + rng.normal(0, 4.0, n) * sigma / 2.5, nan
                                  ).astype(np.float32),
            "speed_mps": np.where(fix, speed, nan).astype(np.float32),
            "track_deg": np.where(fix & (self.speed(t) > 0.5), self.heading_deg(t), nan
                                  ).astype(np.float32),
            "mode": np.where(fix, 3, 1).astype(np.int8),
            "hdop": np.where(fix, hdop, nan).astype(np.float32),
            "sats_used": np.where(fix, sats, 0).astype(np.int16)}

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
        """Seconds since the device last came where it sees the sky (0 where it does not)."""
        i = int(self.segment_index(np.array([t]))[0])
        if self._sky[i] == 0:
            return 0.0
        while i > 0 and self._sky[i - 1] > 0:
            i -= 1
        # A day that starts under the sky had a fix already.
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
    # A recording of duration_s: the last read may reach past it (a read takes bus time).
    end_ns = SIM_START_NS + round(cfg.duration_s * 1e9)
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
            packets = [q for d in drivers if (p := _read(d, cfg.step_s)) is not None
                       and (q := _within(p, end_ns)) is not None]
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


def _within(packet: Packet, end_ns: int) -> Packet | None:
    """The samples of ``packet`` before ``end_ns`` (None when there are none)."""
    keep = packet.t_ns < end_ns
    if keep.all():
        return packet
    return packet.select(keep) if keep.any() else None


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
