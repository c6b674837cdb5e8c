"""The aligner fed from a hub subscription gives the windows of the recorded arrays."""

from __future__ import annotations

import numpy as np

from sensekit.align import Aligner, StreamSpec, Window, align
from sensekit.clock import FakeClock
from sensekit.hub import Hub
from sensekit.packets import Packet

S = 1_000_000_000


def test_windows_from_a_hub_subscription_match_offline(clock: FakeClock) -> None:
    specs = {"imu": StreamSpec(200.0), "light": StreamSpec(2.0)}
    t_imu = np.arange(2000, dtype=np.int64) * (S // 200) + 3 * S
    t_light = np.arange(20, dtype=np.int64) * (S // 2) + 3 * S + S // 4
    imu = Packet("imu", t_imu, {"accel_mps2": np.ones((2000, 3), np.float32)})
    light = Packet("light", t_light, {"lux": np.linspace(1, 20, 20, dtype=np.float32)})
    aligner = Aligner(specs, window_s=2.0, hop_s=1.0)
    online: list[Window] = []
    with Hub(clock) as hub:
        sub = hub.subscribe("imu", "light")
        for i in range(20):  # 0.5 s of each stream per step, as a reader thread would
            hub.publish(imu.slice(100 * i, 100 * (i + 1)))
            hub.publish(light.slice(i, i + 1))
            for packet in sub.poll(timeout_s=0):
                online += aligner.push(packet)
        assert sub.lost == {"imu": 0, "light": 0}
    assert online  # windows were produced while data was flowing
    online += aligner.flush()
    offline = align({"imu": imu, "light": light}, specs, window_s=2.0, hop_s=1.0)
    assert [w.index for w in online] == [w.index for w in offline] == list(range(2, 13))
    for a, b in zip(online, offline, strict=True):
        assert a.coverage == b.coverage
        np.testing.assert_array_equal(a.data["light"]["lux"], b.data["light"]["lux"])
        np.testing.assert_array_equal(a.t_ns["imu"], b.t_ns["imu"])
    assert online[3].data["light"]["lux"].tolist() == [5.0, 6.0, 7.0, 8.0]  # [5 s, 7 s)
