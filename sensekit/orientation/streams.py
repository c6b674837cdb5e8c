"""The ``orientation`` and ``nav`` streams: what the AHRS and the GPS/IMU filter publish.

Their fields are declared once in :data:`sensekit.packets.SPECS`; these helpers build the
packets, so a hub, a recorder, the aligner and the controller take them like any other stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..packets import Packet

if TYPE_CHECKING:
    from .ahrs import OrientationEstimate

__all__ = ["FOXGLOVE", "foxglove_messages", "orientation_packet"]


def orientation_packet(est: OrientationEstimate, t_ns: npt.NDArray[np.int64], *,
                       stream: str = "orientation", convention: str = "enu",
                       backend: str = "") -> Packet:
    """An ``orientation`` packet of ``est`` at the IMU timestamps ``t_ns``."""
    f32 = np.float32
    return Packet(stream, np.asarray(t_ns, np.int64), {
        "quat_wxyz": est.quat.astype(f32),
        "linear_accel_mps2": est.linear_accel_mps2.astype(f32),
        "gyro_bias_rads": est.gyro_bias_rads.astype(f32),
        "hard_iron_ut": est.hard_iron_ut.astype(f32),
        "rest": est.rest.astype(bool),
        "accel_disturbed": est.accel_disturbed.astype(bool),
        "mag_disturbed": est.mag_disturbed.astype(bool),
    }, "orientation", {"convention": convention, "backend": backend})


#: Per-sample Foxglove forms of the two streams (for ``sensekit export --to foxglove``):
#: modality -> Foxglove schema name.
FOXGLOVE = {"orientation": "foxglove.PoseInFrame", "nav": "foxglove.LocationFix"}


def foxglove_messages(packet: Packet, log_time_ns: Callable[[int], int]
                      ) -> list[tuple[int, dict[str, Any]]]:
    """``(log_time, message)`` per sample of an ``orientation`` packet (as
    ``foxglove.PoseInFrame``: the quaternion, position zero, frame ``enu``/``ned``) or of a
    ``nav`` packet (as ``foxglove.LocationFix``: position, ENU covariance, ENU velocity; samples
    without a position are left out). What Foxglove has no field for goes under ``sensekit``."""
    if packet.modality == "orientation":
        return _poses(packet, log_time_ns)
    if packet.modality == "nav":
        return _locations(packet, log_time_ns)
    raise ValueError(f"stream {packet.stream!r}: no Foxglove form for modality "
                     f"{packet.modality!r}")


def _stamp(wall: int) -> dict[str, int]:
    return {"sec": wall // 1_000_000_000, "nsec": wall % 1_000_000_000}


def _extra(packet: Packet, i: int, skip: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"t_ns": int(packet.t_ns[i])}
    for name, array in packet.fields.items():
        if name in skip:
            continue
        v = array[i]
        out[name] = v.tolist() if isinstance(v, np.ndarray) else \
            (bool(v) if array.dtype == bool else _num(float(v)))
    return out


def _num(x: float) -> float | None:
    return x if np.isfinite(x) else None


def _poses(packet: Packet, log_time_ns: Callable[[int], int]) -> list[tuple[int, dict[str, Any]]]:
    frame = str(packet.meta.get("convention", "enu"))
    out = []
    for i, t in enumerate(packet.t_ns.tolist()):
        w, x, y, z = (float(v) for v in packet["quat_wxyz"][i])
        wall = log_time_ns(t)
        out.append((wall, {"timestamp": _stamp(wall), "frame_id": frame, "pose": {
            "position": {"x": 0.0, "y": 0.0, "z": 0.0},
            "orientation": {"x": x, "y": y, "z": z, "w": w}},
            "sensekit": _extra(packet, i, ("quat_wxyz",))}))
    return out


def _locations(packet: Packet, log_time_ns: Callable[[int], int]
               ) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for i, t in enumerate(packet.t_ns.tolist()):
        lat, lon = float(packet["lat_deg"][i]), float(packet["lon_deg"][i])
        if not (np.isfinite(lat) and np.isfinite(lon)):
            continue
        cov = np.nan_to_num(packet["pos_cov_enu_m2"][i].astype(np.float64), nan=0.0,
                            posinf=0.0).ravel().tolist()
        alt = float(packet["alt_msl_m"][i])
        vx, vy, vz = (float(v) for v in np.nan_to_num(packet["vel_enu_mps"][i]))
        wall = log_time_ns(t)
        out.append((wall, {
            "timestamp": _stamp(wall), "frame_id": packet.stream, "latitude": lat,
            "longitude": lon, "altitude": alt if np.isfinite(alt) else 0.0,
            "position_covariance": cov, "position_covariance_type": 3,
            "velocity": {"x": vx, "y": vy, "z": vz},
            "sensekit": _extra(packet, i, ("lat_deg", "lon_deg", "pos_cov_enu_m2"))}))
    return out
