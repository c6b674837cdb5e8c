from __future__ import annotations

import numpy as np
import pytest

from sensekit.errors import ConfigError
from sensekit.packets import SPECS, Packet, concat, spec_for


def imu_packet(n: int = 4, t0: int = 0) -> Packet:
    return Packet("imu", t0 + np.arange(n, dtype=np.int64) * 10_000_000,
                  {"accel_mps2": np.zeros((n, 3), np.float32),
                   "gyro_rads": np.ones((n, 3), np.float32)}, "imu")


def test_every_modality_has_a_spec_with_units_in_field_names() -> None:
    assert set(SPECS) == {"gps", "imu", "light", "audio", "camera", "power", "orientation",
                          "nav"}
    for spec in SPECS.values():
        assert spec.nominal_rate_hz > 0
        for name, field in spec.fields.items():
            if field.unit and field.unit not in ("FS",):
                assert "_" in name or name in ("lux",), name


def test_packet_validates_against_spec() -> None:
    p = imu_packet().validate()
    assert len(p) == 4 and p["accel_mps2"].shape == (4, 3)
    bad = Packet("imu", np.arange(2, dtype=np.int64),
                 {"accel_mps2": np.zeros((2, 3), np.float64)}, "imu")
    with pytest.raises(ConfigError, match=r"accel_mps2.*float64.*float32"):
        bad.validate()


def test_packet_rejects_bad_timestamps_and_lengths() -> None:
    with pytest.raises(ConfigError, match="int64"):
        Packet("imu", np.arange(3, dtype=np.float64), {})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="3 samples"):
        Packet("imu", np.arange(2, dtype=np.int64), {"x": np.zeros(3)})


def test_missing_required_field_is_named() -> None:
    p = Packet("gps", np.arange(1, dtype=np.int64), {"lat_deg": np.zeros(1)}, "gps")
    with pytest.raises(ConfigError, match="lon_deg"):
        p.validate()


def test_slice_is_a_view_and_concat_joins() -> None:
    p = imu_packet(6)
    s = p.slice(2, 4)
    assert np.shares_memory(s["accel_mps2"], p["accel_mps2"])
    joined = concat([imu_packet(3, 0), imu_packet(2, 10**9)])
    assert len(joined) == 5 and joined.t_ns[3] == 10**9


def test_unknown_modality_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"known: .*imu"):
        spec_for("lidar")


def test_variable_shapes_accepted_for_camera_and_audio() -> None:
    img = Packet("cam", np.zeros(1, np.int64), {"image": np.zeros((1, 224, 224, 3), np.uint8)},
                 "camera").validate()
    assert img["image"].shape[1:] == (224, 224, 3)
    Packet("mic", np.zeros(5, np.int64), {"pcm": np.zeros((5, 2), np.int16)}, "audio").validate()
