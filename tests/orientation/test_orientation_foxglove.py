"""The orientation and nav streams export as Foxglove's own schemas (PoseInFrame and
LocationFix, the pinned copies in sensekit/log/foxglove), one message per sample."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mcap.reader import make_reader

from sensekit.clock import FakeClock
from sensekit.log import foxglove
from sensekit.log.exporters import to_foxglove_mcap
from sensekit.log.reader import LogReader
from sensekit.log.recorder import Recorder
from sensekit.orientation import Ahrs
from sensekit.orientation.nav import GpsImuFilter
from sensekit.packets import Packet
from sensekit.testing.motion import make_trial


def test_orientation_and_nav_export_as_pose_and_location(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    tr = make_trial("combined", 2, rate_hz=50.0, rest_s=1.0, move_s=3.0)
    t_ns = 10**9 + (np.arange(len(tr.gyr)) * 2e7).astype(np.int64)
    orient = Ahrs(50.0).update(Packet("imu", t_ns, {"gyro_rads": tr.gyr, "accel_mps2": tr.acc,
                                                    "mag_ut": tr.mag}, "imu"))
    nav = GpsImuFilter()
    fix = Packet("gps", t_ns[:1], {"lat_deg": np.array([52.5]), "lon_deg": np.array([13.4]),
                                   "alt_msl_m": np.array([30.0], np.float32),
                                   "speed_mps": np.array([0.0], np.float32),
                                   "hdop": np.array([1.0], np.float32)}, "gps")
    nav.update(fix)
    navp = nav.update(orient)
    assert navp is not None
    rec_path, out = tmp_path / "rec.mcap", tmp_path / "fox.mcap"
    with Recorder(rec_path, clock=FakeClock(10**9)) as rec:
        rec.write(orient)
        rec.write(navp)
    written = to_foxglove_mcap(LogReader(rec_path), out)
    assert written == 2 * len(t_ns)
    seen: dict[str, list[dict[str, object]]] = {}
    with open(out, "rb") as fh:
        for schema, _channel, message in make_reader(fh).iter_messages():
            assert schema is not None
            seen.setdefault(schema.name, []).append(json.loads(message.data))
    for name in ("foxglove.PoseInFrame", "foxglove.LocationFix"):
        validator = jsonschema.Draft202012Validator(foxglove.schema(name))
        for msg in seen[name]:
            validator.validate(msg)
    poses = seen["foxglove.PoseInFrame"]
    q = orient["quat_wxyz"][5]
    o = poses[5]["pose"]["orientation"]  # type: ignore[index]
    assert [o["w"], o["x"], o["y"], o["z"]] == pytest.approx(q.tolist())
    assert poses[5]["frame_id"] == "enu"
    loc = seen["foxglove.LocationFix"][-1]
    assert loc["position_covariance_type"] == 3 and loc["latitude"] == pytest.approx(52.5)
