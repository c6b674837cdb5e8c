"""GPS/IMU navigation: position and velocity at the IMU rate, and through GPS gaps.

:class:`GpsImuFilter` is an error-state Kalman filter over a carried device's horizontal motion.
Its nominal state is the position east and north of an origin (the first fix), the speed ``s``
and the course offset ``c0`` between the direction of travel and the device's heading, and the
rate ``r`` at which that offset drifts; altitude is a separate random walk. The AHRS gives the
device heading ``psi(t)`` at every IMU sample (the turn about the vertical between successive
orientations, so any mounting works and a 6-axis AHRS with an arbitrary north does too), and

    course(t) = psi(t) + c0,   p' = s * (sin course, cos course),   c0' = r

so the device's turns turn the predicted path: a person walking, running, riding or driving
turns with the device they carry. The IMU's acceleration enters through the rest decision of
the AHRS (specific force and rate steady for 1.5 s): at rest, below walking speed, a
zero-speed pseudo-measurement keeps the position still; it is not applied above 1.5 m/s,
where a smooth ride can look still (real phones in cars showed it). Without fixes the speed
relaxes toward the carrier's usual speed (the mean GPS speed of the last minute) over
``speed_revert_s``: a stopped car moves off again, a car that was cruising slows toward its
average. Integrating the acceleration itself along the track was tried and made predictions
worse on the simulator's days (see orientation/README.md), so it is not used.

:meth:`GpsImuFilter.seconds_until` answers the sampling controller's question: how long the GPS
may sleep before the position is worse than a given sigma.

Each GPS fix corrects the error state (position with its accuracy, speed, and course above
1 m/s), which is then folded into the nominal state and reset. Between fixes, and through
gaps while the GPS is off or in power save, the covariance grows with the process noise, so
:attr:`GpsImuFilter.position_cov_m2` says how far to trust the position; the sampling
controller can keep the GPS asleep while it stays small.

Within one IMU packet the covariance is propagated once, to first order, and its growth is
spread over the packet's samples linearly; positions are integrated sample by sample.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from ..packets import Packet
from . import quaternion as quat

__all__ = ["EARTH_RADIUS_M", "GpsImuFilter", "NavParams"]

Array = npt.NDArray[np.float64]
EARTH_RADIUS_M = 6_378_137.0  # WGS-84 semi-major axis; a local tangent plane is enough here
_UNKNOWN_M = 1e6  # position standard deviation before any position fix


@dataclass(frozen=True)
class NavParams:
    """Noise figures of the filter (1 sigma; random walks per root second).

    Attributes:
        uere_m: Position error per unit HDOP when a fix carries no accuracy of its own.
        speed_sigma_mps: GPS speed error when the fix has none.
        pos_walk: Position random walk (m/sqrt(s)): what the model misses (gait, wobble).
        speed_walk: Speed random walk at rest (m/s/sqrt(s)).
        speed_walk_per_mps: Added per m/s of speed: faster carriers change speed more.
        course_walk: Course offset random walk (rad/sqrt(s)): the device shifting in a
            pocket, a turn the device does not make.
        drift_walk: Random walk of the course offset's drift rate (rad/s/sqrt(s)).
        zupt_sigma_mps: Zero-speed pseudo-measurement at rest.
        zupt_below_mps: Rest is taken for standing still only below this speed: a smooth
            ride can look still. Without the limit the simulator's days gained (cars stopping
            at lights) but real phones in cars (us_tmd) doubled their speed error.
        min_course_speed_mps: GPS course is used above this speed only.
        alt_walk: Altitude random walk (m/sqrt(s)).
        speed_revert_s: Time over which the speed relaxes toward the carrier's usual speed
            (the mean of the GPS speeds over ``usual_speed_s``); infinite: never. 40 s was
            chosen on the simulator's tuning days (seeds 0-4), where cars stop at lights.
        usual_speed_s: Memory of that mean.
    """

    uere_m: float = 3.0
    speed_sigma_mps: float = 0.5
    pos_walk: float = 0.3
    speed_walk: float = 0.2
    speed_walk_per_mps: float = 0.05
    course_walk: float = 0.05
    drift_walk: float = 0.002
    zupt_sigma_mps: float = 0.05
    zupt_below_mps: float = 1.5
    min_course_speed_mps: float = 1.0
    alt_walk: float = 0.2
    speed_revert_s: float = 40.0
    usual_speed_s: float = 60.0


class GpsImuFilter:
    """Fuses ``gps`` packets and ``orientation`` packets (from :class:`~sensekit.orientation.Ahrs`,
    ENU) into ``nav`` packets at the IMU rate.

    Args:
        origin: Latitude, longitude (deg) and altitude (m) of the local frame; the first fix
            when not given.
        params: Noise figures (:class:`NavParams`).

    Example::

        nav = GpsImuFilter()
        for packet in merged:                 # orientation and gps packets in time order
            out = nav.update(packet)          # a nav packet for each orientation packet
    """

    def __init__(self, origin: tuple[float, float, float] | None = None,
                 params: NavParams | None = None) -> None:
        self.params = params or NavParams()
        self.origin = origin
        self._x: Array | None = None  # [east, north, speed, course offset, drift rate]
        self._p = np.zeros((5, 5))
        self._alt = math.nan
        self._alt_var = math.inf
        self._psi = math.nan  # device heading (rad, clockwise), continuous
        self._last_q: Array | None = None
        self._t_ns: int | None = None
        self._fix_t_ns: int | None = None
        self._placed = False  # a position fix has been fused
        self._usual_speed = 0.0
        self._speed_fixes = 0

    # -- public API ---------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        """Whether a first fix has started the filter."""
        return self._x is not None

    @property
    def position_enu_m(self) -> Array:
        """East, north (m) from the origin, and altitude above MSL (NaN before a position
        fix)."""
        if self._x is None or not self._placed:
            return np.full(3, np.nan)
        return np.array([self._x[0], self._x[1], self._alt])

    @property
    def position_cov_m2(self) -> Array:
        """(3, 3) ENU position covariance (east-north block from the filter, up apart)."""
        cov = np.zeros((3, 3))
        cov[:2, :2] = self._p[:2, :2] if self._x is not None else np.inf
        cov[2, 2] = self._alt_var
        return cov

    @property
    def velocity_enu_mps(self) -> Array:
        if self._x is None or math.isnan(self._psi):
            return np.full(3, np.nan)
        s, c = self._x[2], self._psi + self._x[3]
        return np.array([s * math.sin(c), s * math.cos(c), 0.0])

    @property
    def horizontal_sigma_m(self) -> float:
        """Radius (m) of the circle with the area of the horizontal 1-sigma ellipse:
        ``sqrt(sigma_major * sigma_minor)``; inf before a position fix."""
        if self._x is None or not self._placed:
            return math.inf
        return math.sqrt(math.sqrt(max(np.linalg.det(self._p[:2, :2]), 0.0)))

    def seconds_until(self, sigma_m: float, *, horizon_s: float = 600.0) -> float:
        """How long without fixes until :attr:`horizontal_sigma_m` exceeds ``sigma_m`` at
        the present speed and course: what a sampling policy needs to decide how long the
        GPS may sleep. 0 when already past; ``horizon_s`` when not reached by then."""
        if self.horizontal_sigma_m > sigma_m:
            return 0.0
        assert self._x is not None
        p, s = self._p.copy(), float(self._x[2])
        c = (0.0 if math.isnan(self._psi) else self._psi) + float(self._x[3])
        sin_c, cos_c = math.sin(c), math.cos(c)
        q = self._process_noise(s)
        step = 1.0
        f = np.eye(5)
        f[0, 2], f[1, 2] = sin_c * step, cos_c * step
        f[0, 3], f[1, 3] = s * cos_c * step, -s * sin_c * step
        f[3, 4] = step
        for k in range(int(horizon_s / step)):
            # straight on at the present course, one second a step
            f[0, 4], f[1, 4] = s * cos_c * (k + 0.5) * step, -s * sin_c * (k + 0.5) * step
            p = f @ p @ f.T + q * step
            if math.sqrt(math.sqrt(max(np.linalg.det(p[:2, :2]), 0.0))) > sigma_m:
                return (k + 1) * step
        return horizon_s

    def update(self, packet: Packet) -> Packet | None:
        """Take a ``gps`` packet (fuse its fixes; returns None) or an ``orientation`` packet
        (predict through its samples; returns the ``nav`` packet for them)."""
        if packet.modality == "gps" or "lat_deg" in packet.fields:
            self.fuse_gps(packet)
            return None
        if "quat_wxyz" not in packet.fields:
            raise ConfigError(f"stream {packet.stream!r}: the GPS/IMU filter takes gps and "
                              f"orientation packets; this one has {sorted(packet.fields)}")
        if packet.meta.get("convention", "enu") != "enu":
            raise ConfigError(f"stream {packet.stream!r}: the GPS/IMU filter needs ENU "
                              "orientation (Ahrs(convention='enu'))")
        return self.predict(packet)

    def state(self) -> dict[str, Any]:
        """JSON-friendly snapshot (:meth:`restore` takes it back)."""
        return {"origin": self.origin, "params": asdict(self.params),
                "x": None if self._x is None else self._x.tolist(), "p": self._p.tolist(),
                "alt": self._alt, "alt_var": self._alt_var, "psi": self._psi,
                "last_q": None if self._last_q is None else self._last_q.tolist(),
                "t_ns": self._t_ns, "fix_t_ns": self._fix_t_ns, "placed": self._placed,
                "usual_speed": self._usual_speed, "speed_fixes": self._speed_fixes}

    def restore(self, state: dict[str, Any]) -> None:
        origin = state["origin"]
        self.origin = None if origin is None else (float(origin[0]), float(origin[1]),
                                                   float(origin[2]))
        self.params = NavParams(**state["params"])
        self._x = None if state["x"] is None else np.asarray(state["x"], np.float64)
        self._p = np.asarray(state["p"], np.float64)
        self._alt, self._alt_var, self._psi = state["alt"], state["alt_var"], state["psi"]
        self._last_q = None if state["last_q"] is None else np.asarray(state["last_q"])
        self._t_ns, self._fix_t_ns = state["t_ns"], state["fix_t_ns"]
        self._placed = bool(state.get("placed", self._x is not None))
        self._usual_speed = float(state.get("usual_speed", 0.0))
        self._speed_fixes = int(state.get("speed_fixes", 0))

    # -- prediction ---------------------------------------------------------------------
    def predict(self, packet: Packet) -> Packet:
        """Propagate through an ``orientation`` packet; the ``nav`` packet for its samples."""
        t_ns = packet.t_ns
        psi = self._headings(np.asarray(packet["quat_wxyz"], np.float64))
        rest = np.asarray(packet.fields.get("rest", np.zeros(len(t_ns), bool)), bool)
        if self._x is None or not len(t_ns):
            if len(t_ns):
                self._t_ns = int(t_ns[-1])
            return self._packet(packet, np.full((len(t_ns), 3), np.nan),
                                np.full((len(t_ns), 3), np.nan),
                                np.full((len(t_ns), 3, 3), np.inf), np.full((len(t_ns), 3),
                                                                            np.inf))
        prev = self._t_ns if self._t_ns is not None else int(t_ns[0])
        dt = np.diff(np.concatenate([[prev], t_ns])).astype(np.float64) * 1e-9
        dt = np.clip(dt, 0.0, None)
        pos, p_samples, course = self._propagate(psi, dt)
        self._zupt(rest)
        self._t_ns = int(t_ns[-1])
        return self._outputs(packet, course, pos, p_samples)

    def _headings(self, q: Array) -> Array:
        """Continuous device heading (rad, clockwise from the AHRS north) at each sample:
        the twist about the vertical between successive orientations, summed."""
        if not len(q):
            return np.zeros(0)
        prev = self._last_q if self._last_q is not None else q[0]
        step = quat.multiply(q, quat.conj(np.vstack([prev[None], q[:-1]])))
        twist = 2 * np.arctan2(step[:, 3], step[:, 0])
        twist = (twist + math.pi) % (2 * math.pi) - math.pi
        start = float(quat.heading(q[0])) if math.isnan(self._psi) else self._psi
        psi = start - np.cumsum(twist)  # a counter-clockwise twist lowers the heading
        self._psi, self._last_q = float(psi[-1]), q[-1].copy()
        return np.asarray(psi, np.float64)

    def _propagate(self, psi: Array, dt: Array) -> tuple[Array, Array, Array]:
        assert self._x is not None
        e, n, s0, c0, r = self._x
        elapsed = np.cumsum(dt)
        course = psi + c0 + r * elapsed
        # the speed relaxes toward the carrier's usual speed over speed_revert_s
        decay = np.exp(-elapsed / self.params.speed_revert_s)
        s = self._usual_speed + (s0 - self._usual_speed) * decay
        pos = np.stack([e + np.cumsum(s * np.sin(course) * dt),
                        n + np.cumsum(s * np.cos(course) * dt)], axis=1)
        total = float(elapsed[-1])
        # first-order transition over the packet: d(pos)/d(s0, c0, r), d(s)/d(s0)
        f = np.eye(5)
        f[0, 2] = float(np.sum(decay * np.sin(course) * dt))
        f[1, 2] = float(np.sum(decay * np.cos(course) * dt))
        f[0, 3] = float(np.sum(s * np.cos(course) * dt))
        f[1, 3] = -float(np.sum(s * np.sin(course) * dt))
        f[0, 4] = float(np.sum(s * np.cos(course) * elapsed * dt))
        f[1, 4] = -float(np.sum(s * np.sin(course) * elapsed * dt))
        f[2, 2] = float(decay[-1])
        f[3, 4] = total
        p0 = self._p
        self._p = f @ p0 @ f.T + self._process_noise(float(s[-1])) * total
        self._p = 0.5 * (self._p + self._p.T)
        self._x = np.array([pos[-1, 0], pos[-1, 1], float(s[-1]), c0 + r * total, r])
        self._alt_var += self.params.alt_walk ** 2 * total
        share = (elapsed / total if total > 0 else np.ones_like(elapsed))[:, None, None]
        return pos, p0[None, :2, :2] + share * (self._p[:2, :2] - p0[:2, :2])[None], course

    def _process_noise(self, speed: float) -> Array:
        pr = self.params
        walk = pr.speed_walk + pr.speed_walk_per_mps * abs(speed)
        return np.diag([pr.pos_walk ** 2, pr.pos_walk ** 2, walk ** 2, pr.course_walk ** 2,
                        pr.drift_walk ** 2])

    def _zupt(self, rest: Array) -> None:
        """At rest and slow: the speed is zero (once per packet, as one measurement)."""
        assert self._x is not None
        if len(rest) and rest[-1] and abs(self._x[2]) < self.params.zupt_below_mps:
            self._correct(np.array([0.0 - self._x[2]]), _row(2), self.params.zupt_sigma_mps ** 2)

    # -- GPS ----------------------------------------------------------------------------
    def fuse_gps(self, packet: Packet) -> None:
        """Correct with every fix of a ``gps`` packet: position where it has one (mode 2 or
        3), speed and course where it has them. A receiver that reports speed alone (some
        phones in power save) still corrects the speed; the position stays unknown (NaN in
        the ``nav`` packets) until a fix with one arrives."""
        f = packet.fields
        for i in range(len(packet)):
            values = {k: float(v[i]) for k, v in f.items() if v.dtype.kind in "fiu"}
            lat, lon = values.get("lat_deg", math.nan), values.get("lon_deg", math.nan)
            if math.isfinite(lat) and math.isfinite(lon):
                self._fix(int(packet.t_ns[i]), lat, lon, values)
            elif math.isfinite(values.get("speed_mps", math.nan)):
                self._speed_only(int(packet.t_ns[i]), values)

    def _speed_only(self, t_ns: int, f: dict[str, float]) -> None:
        if self._x is None:
            self._start(0.0, 0.0, f["speed_mps"], f.get("track_deg", math.nan), _UNKNOWN_M)
            self._placed = False
        else:
            self._speed_course(f, f["speed_mps"])
        self._fix_t_ns = t_ns

    def _fix(self, t_ns: int, lat: float, lon: float, f: dict[str, float]) -> None:
        if self.origin is None:
            self.origin = (lat, lon, f.get("alt_msl_m", 0.0) if math.isfinite(
                f.get("alt_msl_m", math.nan)) else 0.0)
        east, north = self._local(lat, lon)
        sigma = self._horizontal_sigma(f)
        speed = f.get("speed_mps", math.nan)
        if self._x is None:
            self._start(east, north, speed, f.get("track_deg", math.nan), sigma)
        elif not self._placed:  # speed-only so far: the position starts here
            self._x[:2] = east, north
            self._p[:2, :] = 0.0
            self._p[:, :2] = 0.0
            self._p[0, 0] = self._p[1, 1] = sigma ** 2
            self._speed_course(f, speed)
        else:
            lag = 0.0 if self._t_ns is None else max(0.0, (self._t_ns - t_ns) * 1e-9)
            vel = self.velocity_enu_mps[:2]
            # a fix older than the filter's time: carried forward by the motion since then
            z = np.array([east, north]) + (np.nan_to_num(vel) * lag)
            h = np.zeros((2, 5))
            h[0, 0] = h[1, 1] = 1.0
            self._correct(z - self._x[:2], h, sigma ** 2)
            self._speed_course(f, speed)
        self._altitude(f)
        self._placed = True
        self._fix_t_ns = t_ns

    def _start(self, east: float, north: float, speed: float, track: float, sigma: float
               ) -> None:
        psi = 0.0 if math.isnan(self._psi) else self._psi
        have_course = math.isfinite(track)
        c0 = math.radians(track) - psi if have_course else 0.0
        self._x = np.array([east, north, speed if math.isfinite(speed) else 0.0, c0, 0.0])
        self._p = np.diag([sigma ** 2, sigma ** 2, 1.0,
                           (0.1 if have_course else math.pi) ** 2, 0.02 ** 2])

    def _speed_course(self, f: dict[str, float], speed: float) -> None:
        assert self._x is not None
        pr = self.params
        sv = f.get("speed_acc_mps", math.nan)
        sv = sv if math.isfinite(sv) and sv > 0 else pr.speed_sigma_mps
        if math.isfinite(speed):
            self._correct(np.array([speed - self._x[2]]), _row(2), sv ** 2)
            self._track_usual_speed(speed)
        track = f.get("track_deg", math.nan)
        if math.isfinite(track) and math.isfinite(speed) and speed > pr.min_course_speed_mps \
                and not math.isnan(self._psi):
            miss = math.radians(track) - (self._psi + self._x[3])
            miss = (miss + math.pi) % (2 * math.pi) - math.pi
            sc = max(sv / speed, math.radians(2.0))
            self._correct(np.array([miss]), _row(3), sc ** 2)

    def _track_usual_speed(self, speed: float) -> None:
        """The mean of the GPS speeds over about ``usual_speed_s`` (fixes a second apart)."""
        if self._speed_fixes == 0:
            self._usual_speed = speed
        self._speed_fixes += 1
        weight = 1.0 / min(self._speed_fixes, self.params.usual_speed_s)  # a mean, then an EMA
        self._usual_speed += (speed - self._usual_speed) * weight

    def _altitude(self, f: dict[str, float]) -> None:
        alt = f.get("alt_msl_m", math.nan)
        if not math.isfinite(alt):
            return
        var = (1.5 * self._horizontal_sigma(f)) ** 2  # GPS altitude is worse than position
        if not math.isfinite(self._alt):
            self._alt, self._alt_var = alt, var
            return
        gain = self._alt_var / (self._alt_var + var)
        self._alt += gain * (alt - self._alt)
        self._alt_var *= 1 - gain

    def _horizontal_sigma(self, f: dict[str, float]) -> float:
        acc = [f.get(k, math.nan) for k in ("lat_err_m", "lon_err_m")]
        if all(math.isfinite(a) and a > 0 for a in acc):
            return math.sqrt(0.5 * (acc[0] ** 2 + acc[1] ** 2))
        hdop = f.get("hdop", math.nan)
        return self.params.uere_m * (hdop if math.isfinite(hdop) and hdop > 0 else 2.0)

    def _correct(self, innovation: Array, h: Array, var: float) -> None:
        """The error-state update: estimate the error, fold it into the nominal state,
        reset it (Joseph form keeps the covariance symmetric and positive)."""
        assert self._x is not None
        s = h @ self._p @ h.T + var * np.eye(len(innovation))
        k = self._p @ h.T @ np.linalg.inv(s)
        self._x = self._x + k @ innovation
        self._x[3] = (self._x[3] + math.pi) % (2 * math.pi) - math.pi
        i_kh = np.eye(5) - k @ h
        self._p = i_kh @ self._p @ i_kh.T + var * (k @ k.T)

    def _local(self, lat: float, lon: float) -> tuple[float, float]:
        assert self.origin is not None
        lat0, lon0, _ = self.origin
        north = math.radians(lat - lat0) * EARTH_RADIUS_M
        east = math.radians(lon - lon0) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
        return east, north

    def _geodetic(self, east: Array, north: Array) -> tuple[Array, Array]:
        assert self.origin is not None
        lat0, lon0, _ = self.origin
        lat = lat0 + np.degrees(north / EARTH_RADIUS_M)
        lon = lon0 + np.degrees(east / (EARTH_RADIUS_M * math.cos(math.radians(lat0))))
        return lat, lon

    # -- output -------------------------------------------------------------------------
    def _outputs(self, packet: Packet, course: Array, pos: Array, p_samples: Array) -> Packet:
        assert self._x is not None
        s = self._x[2]
        vel = np.stack([s * np.sin(course), s * np.cos(course), np.zeros(len(course))], axis=1)
        cov = np.zeros((len(course), 3, 3))
        cov[:, :2, :2] = p_samples
        cov[:, 2, 2] = self._alt_var
        jac = np.stack([np.sin(course), np.cos(course)], axis=1)
        var_s, var_c = self._p[2, 2], self._p[3, 3]
        vsig = np.sqrt(jac ** 2 * var_s + (s * jac[:, ::-1]) ** 2 * var_c)
        vel_sigma = np.concatenate([vsig, np.full((len(course), 1), np.inf)], axis=1)
        return self._packet(packet, np.column_stack([pos, np.full(len(course), self._alt)]),
                            vel, cov, vel_sigma)

    def _packet(self, packet: Packet, pos: Array, vel: Array, cov: Array, vel_sigma: Array
                ) -> Packet:
        n = len(packet)
        if self.origin is not None and self._placed and np.isfinite(pos[:, 0]).any():
            lat, lon = self._geodetic(pos[:, 0], pos[:, 1])
        else:
            lat = lon = np.full(n, np.nan)
        age = (packet.t_ns - self._fix_t_ns) * 1e-9 if self._fix_t_ns is not None else \
            np.full(n, np.inf)
        head, _, tail = packet.stream.partition(".")
        stream = "nav" + (f".{tail}" if tail and head == "orientation" else "")
        return Packet(stream, packet.t_ns, {
            "lat_deg": np.asarray(lat, np.float64), "lon_deg": np.asarray(lon, np.float64),
            "alt_msl_m": pos[:, 2].astype(np.float32),
            "vel_enu_mps": vel.astype(np.float32),
            "pos_cov_enu_m2": cov.astype(np.float32),
            "vel_sigma_enu_mps": vel_sigma.astype(np.float32),
            "fix_age_s": np.asarray(age, np.float32),
            "speed_mps": np.hypot(vel[:, 0], vel[:, 1]).astype(np.float32),
            "pos_sigma_m": _sigma_h(cov[:, :2, :2]).astype(np.float32)}, "nav")


def _sigma_h(cov: Array) -> Array:
    """Per sample, ``sqrt(sigma_major * sigma_minor)`` of (N, 2, 2) covariances (inf where
    unknown), as :attr:`GpsImuFilter.horizontal_sigma_m`."""
    det = np.linalg.det(np.where(np.isfinite(cov), cov, 0.0))
    return np.where(np.isfinite(cov).all(axis=(1, 2)), np.sqrt(np.sqrt(np.clip(det, 0, None))),
                    np.inf)


def _row(i: int) -> Array:
    h = np.zeros((1, 5))
    h[0, i] = 1.0
    return h
