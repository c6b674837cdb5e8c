"""``gpsd://``: raw NMEA through a running gpsd, decoded by sensekit as from a port; and finding
the gpsd that holds a serial port."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

import sensekit
from sensekit.doctor import System, check_gpsd
from sensekit.drivers.gps.capture import read_capture
from sensekit.drivers.gps.gpsd import gpsd_holders
from sensekit.errors import ConfigError, DeviceNotFound


class FakeGpsd:
    """A gpsd on localhost that answers ?WATCH with the raw sentences of a capture."""

    def __init__(self, capture: bytes, error: str | None = None) -> None:
        self.capture = capture
        self.error = error
        self.watch: dict[str, object] = {}
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.sendall(b'{"class":"VERSION","release":"3.25","rev":"3.25",'
                         b'"proto_major":3,"proto_minor":15}\r\n')
            line = conn.makefile("rb").readline()
            assert line.startswith(b"?WATCH=")
            self.watch = json.loads(line[len(b"?WATCH="):].strip().rstrip(b";"))
            if self.error:
                conn.sendall(json.dumps({"class": "ERROR", "message": self.error}).encode()
                             + b"\r\n")
                return
            conn.sendall(b'{"class":"DEVICES","devices":[{"class":"DEVICE",'
                         b'"path":"/dev/ttyUSB0","driver":"NMEA0183","activated":"x"}]}\r\n'
                         b'{"class":"WATCH","enable":true,"json":false,"nmea":true}\r\n')
            body = [ln for ln in self.capture.splitlines(keepends=True)
                    if not ln.startswith(b"#")]
            for i in range(0, len(body), 7):   # in bursts, as gpsd passes them on
                conn.sendall(b"".join(body[i:i + 7]))
            threading.Event().wait(0.3)


def test_fixes_through_gpsd_are_the_fixes_of_the_port(corpus: Path) -> None:
    path = corpus / "gpsd" / "mt3339.log"
    want = [f for f in read_capture(path).fixes if f.mode >= 2]
    server = FakeGpsd(path.read_bytes())
    gps = sensekit.open("nmea", f"gpsd://127.0.0.1:{server.port}", open_timeout_s=3.0)
    assert server.watch == {"enable": True, "nmea": True}
    got = []
    for _ in range(40):
        packet = gps.read(timeout_s=0.5)
        if packet is not None:
            got += [(float(a), float(b), int(m)) for a, b, m in
                    zip(packet["lat_deg"], packet["lon_deg"], packet["mode"], strict=True)]
        if sum(m >= 2 for _, _, m in got) >= len(want) - 1:
            break
    gps.close()
    fixes = np.array([(a, b) for a, b, m in got if m >= 2])
    expected = np.array([(f.lat_deg, f.lon_deg) for f in want])
    n = min(len(fixes), len(expected))
    assert n >= len(expected) - 1 >= 5
    np.testing.assert_allclose(fixes[:n], expected[:n], atol=1e-9)
    assert gps.port.devices == ["/dev/ttyUSB0"]  # type: ignore[attr-defined]


def test_gpsd_errors_and_absence_are_named() -> None:
    server = FakeGpsd(b"", error="Can't open /dev/ttyX")
    with pytest.raises(DeviceNotFound, match="gpsd says: Can't open /dev/ttyX"):
        sensekit.open("nmea", f"gpsd://127.0.0.1:{server.port}?device=/dev/ttyX",
                      open_timeout_s=1.0)
    assert server.watch == {"enable": True, "nmea": True, "device": "/dev/ttyX"}
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(DeviceNotFound, match=r"no gpsd at 127.0.0.1:\d+.*systemctl status gpsd"):
        sensekit.open("nmea", f"gpsd://127.0.0.1:{port}")
    with pytest.raises(ConfigError, match="through gpsd the receiver can only be read"):
        sensekit.open("nmea", "gpsd://", protocol="ubx")


def fake_root(tmp_path: Path, cmdline: list[str] | None, devices: str | None = None,
              enabled: bool = False) -> Path:
    (tmp_path / "dev").mkdir(parents=True)
    (tmp_path / "dev" / "ttyAMA0").write_text("")
    (tmp_path / "dev" / "serial0").symlink_to("ttyAMA0")
    if cmdline is not None:
        proc = tmp_path / "proc" / "812"
        proc.mkdir(parents=True)
        (proc / "comm").write_text("gpsd\n")
        (proc / "cmdline").write_bytes(b"\0".join(a.encode() for a in cmdline) + b"\0")
    if devices is not None:
        (tmp_path / "etc" / "default").mkdir(parents=True)
        (tmp_path / "etc" / "default" / "gpsd").write_text(f'START_DAEMON="true"\n'
                                                            f'DEVICES="{devices}"\n')
    if enabled:
        wants = tmp_path / "etc" / "systemd" / "system" / "sockets.target.wants"
        wants.mkdir(parents=True)
        (wants / "gpsd.socket").write_text("")
    return tmp_path


def test_a_gpsd_holding_the_port_is_found_by_its_command_line(tmp_path: Path) -> None:
    root = fake_root(tmp_path, ["/usr/sbin/gpsd", "-n", "/dev/ttyAMA0"])
    # The user asks for /dev/serial0, a link to the port gpsd holds.
    holders = gpsd_holders("/dev/serial0", root)
    assert holders and "pid 812" in holders[0]
    checks = check_gpsd(System(root=root), ["/dev/serial0"])
    assert checks[0].status == "warn" and "gpsd://localhost:2947" in checks[0].fix


def test_an_enabled_gpsd_configured_for_the_port_counts_too(tmp_path: Path) -> None:
    root = fake_root(tmp_path, None, devices="/dev/serial0", enabled=True)
    assert "DEVICES=" in gpsd_holders("/dev/serial0", root)[0]
    idle = fake_root(tmp_path / "b", None, devices="/dev/serial0", enabled=False)
    assert gpsd_holders("/dev/serial0", idle) == []
    other = fake_root(tmp_path / "c", ["gpsd", "/dev/ttyUSB0"])
    assert gpsd_holders("/dev/serial0", other) == []
    assert check_gpsd(System(root=other), ["/dev/serial0"])[0].status == "ok"
