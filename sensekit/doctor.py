"""``sensekit doctor``: what on this Pi or Jetson breaks sensing, and how to fix each thing.

Checks:

- I2C enabled (``/dev/i2c-N``), and the bus speed: a 1 kHz MPU-6050 drains 12 bytes per sample,
  about 130 kbit/s with addressing, which a 100 kHz bus cannot carry; 400 kHz can.
- UART enabled for a GPS, and no serial console (login getty or kernel ``console=``) on it.
- gpsd holding the GPS's serial port (``--gps PORT``, default: the header UART and USB
  receivers present): a running gpsd naming it, or gpsd enabled with it in ``DEVICES=``; the
  fix is to read it through gpsd (``gpsd://localhost:2947``) or stop gpsd.
- The user in the ``i2c``, ``dialout`` (serial) and ``video`` (camera) groups.
- Under-voltage and throttling as the Pi firmware reports them (``vcgencmd get_throttled``; bit
  meanings from the Raspberry Pi documentation, "vcgencmd: get_throttled").
- The Python side of the install: both ONNX Runtime builds installed (``onnxruntime`` and
  ``onnxruntime-gpu`` share one module, so the later install overwrote the other's files), the
  CPU build on a Jetson, and on a Pi apt's picamera2 out of the virtual environment's sight (no
  ``--system-site-packages``) or beside a numpy 2 it was not built for.

Everything is read from files under a root (``/`` by default) and from two small functions for
groups and the firmware, so the checks run in tests against a fake root.
"""

from __future__ import annotations

import argparse
import dataclasses
import grp
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .buses.boards import detect_board
from .cli import add_stdout_output

__all__ = ["Check", "System", "add_arguments", "run", "run_checks"]

#: get_throttled bits (Raspberry Pi documentation, vcgencmd, get_throttled).
THROTTLE_BITS = {0: "under-voltage now", 1: "ARM frequency capped now", 2: "throttled now",
                 3: "soft temperature limit now", 16: "under-voltage has occurred",
                 17: "ARM frequency capping has occurred", 18: "throttling has occurred",
                 19: "soft temperature limit has occurred"}
I2C_FAST_HZ = 400_000


@dataclass(frozen=True)
class Check:
    """One finding: ``status`` is ``ok``, ``warn``, ``fail`` or ``skip``."""

    name: str
    status: str
    detail: str
    fix: str = ""


def _real_groups() -> set[str]:
    names = set()
    for gid in os.getgroups():
        try:
            names.add(grp.getgrgid(gid).gr_name)
        except KeyError:
            continue
    return names


def _real_throttled() -> int | None:
    tool = shutil.which("vcgencmd")
    if tool is None:
        return None
    try:
        out = subprocess.run([tool, "get_throttled"], capture_output=True, text=True,
                             timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    _, _, value = out.strip().partition("=")
    try:
        return int(value, 16)
    except ValueError:
        return None


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _real_distributions() -> dict[str, str]:
    from importlib import metadata

    return {(d.metadata["Name"] or "").lower(): d.version for d in metadata.distributions()}


def _real_sees_system_packages() -> bool:
    """Whether this Python sees apt's packages: no venv, or one made with
    ``--system-site-packages``."""
    cfg = Path(sys.prefix) / "pyvenv.cfg"
    if sys.prefix == sys.base_prefix or not cfg.is_file():
        return True
    text = cfg.read_text(errors="replace").lower().replace(" ", "")
    return "include-system-site-packages=true" in text


@dataclass
class System:
    """Where the doctor looks; the defaults are this machine."""

    root: Path = Path("/")
    groups: Callable[[], set[str]] = _real_groups
    group_exists: Callable[[str], bool] = _group_exists
    throttled: Callable[[], int | None] = _real_throttled
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    distributions: Callable[[], dict[str, str]] = _real_distributions
    sees_system_packages: Callable[[], bool] = _real_sees_system_packages

    def path(self, text: str) -> Path:
        return self.root / text.lstrip("/")

    def read(self, text: str) -> str:
        try:
            return self.path(text).read_text(errors="replace")
        except OSError:
            return ""

    @property
    def model(self) -> str:
        return self.read("/proc/device-tree/model").strip("\x00\n ")

    @property
    def is_pi(self) -> bool:
        return "Raspberry Pi" in self.model

    @property
    def is_jetson(self) -> bool:
        return "jetson" in self.model.lower() or self.path("/etc/nv_tegra_release").exists()

    def boot_config(self) -> tuple[str, str]:
        """Path and text of the Pi's config.txt (Bookworm moved it to /boot/firmware)."""
        for name in ("/boot/firmware/config.txt", "/boot/config.txt"):
            if self.path(name).exists():
                return name, self.read(name)
        return "/boot/firmware/config.txt", ""


def _fix(sys_: System, pi: str, jetson: str, other: str) -> str:
    """The fix for this kind of board."""
    return pi if sys_.is_pi else jetson if sys_.is_jetson else other


def check_i2c(sys_: System) -> list[Check]:
    buses = sorted(p.name for p in sys_.path("/dev").glob("i2c-*"))
    if not buses:
        fix = _fix(sys_, "sudo raspi-config nonint do_i2c 0 (or dtparam=i2c_arm=on in "
                   "config.txt), then reboot", "sudo modprobe i2c-dev (and add it to "
                   "/etc/modules-load.d/)", "sudo modprobe i2c-dev; enable the I2C controller "
                   "in the firmware or device tree")
        return [Check("i2c enabled", "fail", "no /dev/i2c-* device", fix)]
    checks = [Check("i2c enabled", "ok", ", ".join(f"/dev/{b}" for b in buses))]
    return [*checks, *check_header_bus(sys_, buses), check_i2c_speed(sys_, buses)]


def check_header_bus(sys_: System, buses: list[str]) -> list[Check]:
    """Which bus the header's SDA/SCL (pins 3/5) are on this board, and that it exists."""
    board = detect_board(sys_.root)
    if board is None:
        return []
    bus = board.i2c_pins_3_5
    pin, line = board.int_pin
    text = (f"{board.name}: pins 3/5 are /dev/i2c-{bus} (open parts as "
            f"{board.i2c_url(0x68)}); an INT on pin {pin} is int_pin={line!r}")
    if f"i2c-{bus}" in buses:
        return [Check("header i2c", "ok", text)]
    return [Check("header i2c", "fail", f"{text}, but /dev/i2c-{bus} is missing",
                  _fix(sys_, "dtparam=i2c_arm=on in config.txt, then reboot",
                       "enable the header I2C with jetson-io (sudo /opt/nvidia/jetson-io/"
                       "jetson-io.py) and check the device tree", "enable it in the firmware"))]


def check_i2c_speed(sys_: System, buses: list[str]) -> Check:
    speeds = {}
    for bus in buses:
        node = sys_.path(f"/sys/class/i2c-adapter/{bus}/of_node/clock-frequency")
        if node.exists():
            speeds[bus] = int.from_bytes(node.read_bytes()[:4], "big")
    config_name, config = sys_.boot_config()
    if sys_.is_pi and not speeds:
        for line in config.splitlines():
            if line.strip().startswith("dtparam=i2c_arm_baudrate="):
                speeds["i2c-1"] = int(line.split("=")[-1])
        speeds.setdefault("i2c-1", 100_000)  # the Pi's default when config.txt is silent
    if not speeds:
        return Check("i2c speed", "skip", "the adapters do not report their clock")
    slow = {bus: hz for bus, hz in speeds.items() if hz < I2C_FAST_HZ}
    text = ", ".join(f"{bus} {hz // 1000} kHz" for bus, hz in sorted(speeds.items()))
    if not slow:
        return Check("i2c speed", "ok", text)
    fix = (f"add dtparam=i2c_arm_baudrate=400000 to {config_name} and reboot" if sys_.is_pi
           else "set clock-frequency = <400000> on the I2C node in the device tree")
    return Check("i2c speed", "warn", f"{text}: a 1 kHz IMU needs 400 kHz (12 bytes per sample "
                 "are about 130 kbit/s with addressing)", fix)


def check_uart(sys_: System) -> list[Check]:
    ports = [p for p in ("/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0", "/dev/ttyTHS1",
                         "/dev/ttyTHS0") if sys_.path(p).exists()]
    if not ports:
        fix = _fix(sys_, "sudo raspi-config nonint do_serial_hw 0 (enable_uart=1), then reboot",
                   "enable the header UART with jetson-io (sudo /opt/nvidia/jetson-io/"
                   "jetson-io.py)", "use a USB GPS receiver or enable a UART in the firmware")
        return [Check("uart enabled", "warn", "no header UART found (needed for a GPS)", fix)]
    checks = [Check("uart enabled", "ok", ", ".join(ports))]
    cmdline = sys_.read("/proc/cmdline")
    words = [w.split("=", 1)[1] for w in cmdline.split() if w.startswith("console=")]
    consoles = [c for c in words if not re.fullmatch(r"tty\d+", c.split(",")[0])]
    getty = [p.name for p in sys_.path("/etc/systemd/system/getty.target.wants").glob(
        "serial-getty@*")] + [p.name for p in sys_.path("/etc/systemd/system").glob(
            "*/nvgetty.service")]
    if consoles or getty:
        fix = _fix(sys_, "sudo raspi-config nonint do_serial_cons 1 (removes console=serial0 "
                   "from cmdline.txt), then reboot", "sudo systemctl disable --now nvgetty, and "
                   "drop console=ttyTCU0/ttyS0 from /boot/extlinux/extlinux.conf",
                   "remove console=ttyS... from the kernel command line and disable "
                   "serial-getty@ on that port")
        return [*checks, Check("serial console", "fail", "a console uses the GPS UART: "
                               f"{', '.join(consoles + getty)}", fix)]
    return [*checks, Check("serial console", "ok", "no console on the UART")]


def gps_ports(sys_: System) -> list[str]:
    """The serial ports a GPS is likely on: the header UART and USB receivers present."""
    names = ("/dev/serial0", "/dev/ttyTHS1", "/dev/gps", "/dev/ttyACM0", "/dev/ttyUSB0")
    return [p for p in names if sys_.path(p).exists()]


def check_gpsd(sys_: System, ports: list[str]) -> list[Check]:
    """Whether gpsd holds a serial port the GPS is to be read from."""
    from .drivers.gps.gpsd import gpsd_holders

    checks = []
    for port in ports:
        holders = gpsd_holders(port, sys_.root)
        if not holders:
            checks.append(Check(f"gpsd on {port}", "ok", "gpsd does not hold it"))
            continue
        checks.append(Check(
            f"gpsd on {port}", "warn", f"{holders[0]}: it holds {port}, so opening the port "
            "directly gets nothing", "read the GPS through gpsd: sensekit.open('nmea', "
            "'gpsd://localhost:2947'); or stop gpsd: sudo systemctl stop gpsd.socket gpsd"))
    return checks


def check_groups(sys_: System) -> list[Check]:
    have = sys_.groups()
    missing = [g for g in ("i2c", "dialout", "video") if sys_.group_exists(g) and g not in have]
    if not missing:
        return [Check("groups", "ok", "in " + ", ".join(sorted(have & {"i2c", "dialout",
                                                                          "video"})))]
    user = sys_.env.get("USER", "$USER")
    return [Check("groups", "fail", f"not in {', '.join(missing)}",
                  f"sudo usermod -aG {','.join(missing)} {user}, then log out and in")]


def check_power(sys_: System) -> list[Check]:
    value = sys_.throttled()
    if value is None:
        return [Check("power supply", "skip", "no firmware report (vcgencmd not found)")]
    flags = [text for bit, text in THROTTLE_BITS.items() if value >> bit & 1]
    if not flags:
        return [Check("power supply", "ok", "no under-voltage or throttling (0x0)")]
    now = any(value >> bit & 1 for bit in range(4))
    return [Check("power supply", "fail" if now else "warn", f"{value:#x}: {'; '.join(flags)}",
                  "use the official 5.1 V supply (5 A for a Pi 5) and a short, thick cable; "
                  "cool the board")]


def run_checks(sys_: System | None = None, gps: list[str] | None = None) -> list[Check]:
    """Every check, in the order they are printed (``gps``: the GPS ports to check for gpsd)."""
    sys_ = sys_ or System()
    ports = gps if gps is not None else gps_ports(sys_)
    return (check_i2c(sys_) + check_uart(sys_) + check_gpsd(sys_, ports) + check_groups(sys_)
            + check_power(sys_) + check_onnxruntime(sys_) + check_picamera2(sys_))


#: Where Raspberry Pi OS's apt installs picamera2 (python3-picamera2).
APT_PICAMERA2 = "/usr/lib/python3/dist-packages/picamera2"


def check_onnxruntime(sys_: System) -> list[Check]:
    """One ONNX Runtime build, and the GPU one on a Jetson."""
    dists = sys_.distributions()
    builds = [d for d in ("onnxruntime", "onnxruntime-gpu") if d in dists]
    if len(builds) == 2:
        return [Check("onnx runtime", "fail", "onnxruntime and onnxruntime-gpu are both "
                      "installed; they share one module, so the later install replaced files "
                      "of the other", "pip uninstall -y onnxruntime onnxruntime-gpu, then "
                      "install one: NVIDIA's onnxruntime-gpu on a Jetson (README, Jetson), "
                      "sensekit[infer] elsewhere")]
    if not builds:
        return [Check("onnx runtime", "skip", "not installed (pip install 'sensekit[infer]' "
                      "to run the fusion network)")]
    text = f"{builds[0]} {dists[builds[0]]}"
    if sys_.is_jetson and builds == ["onnxruntime"]:
        return [Check("onnx runtime", "warn", f"{text}: the CPU build, so the network runs on "
                      "the CPU", "pip uninstall -y onnxruntime, then install NVIDIA's "
                      "onnxruntime-gpu for your JetPack (README, Jetson)")]
    return [Check("onnx runtime", "ok", text)]


def check_picamera2(sys_: System) -> list[Check]:
    """On a Pi: apt's picamera2 seen by this Python, with the numpy it was built for."""
    if not sys_.is_pi or not sys_.path(APT_PICAMERA2).exists():
        return []
    if not sys_.sees_system_packages():
        return [Check("picamera2", "warn", "apt's picamera2 is installed but this virtual "
                      "environment does not see it", "make the environment with "
                      "python3 -m venv --system-site-packages (README, Raspberry Pi)")]
    numpy = sys_.distributions().get("numpy", "")
    if numpy.split(".")[0].isdigit() and int(numpy.split(".")[0]) >= 2:
        return [Check("picamera2", "warn", f"numpy {numpy} in the environment; apt's "
                      "picamera2 and simplejpeg are built against numpy 1.24",
                      "pip install -c constraints/pi-bookworm.txt 'numpy<2' (README, Raspberry "
                      "Pi)")]
    return [Check("picamera2", "ok", f"apt's picamera2 with numpy {numpy or 'from apt'}")]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default="/", help="look under this root (for images)")
    parser.add_argument("--gps", action="append", metavar="PORT",
                        help="the serial port the GPS is read from, to see whether gpsd holds "
                             "it (repeatable; default: the header UART and USB receivers)")
    parser.add_argument("--json", action="store_true",
                        help="print {board, checks: [{name, status, detail, fix}]} as JSON")
    add_stdout_output(parser)


def run(args: argparse.Namespace) -> int:
    sys_ = System(root=Path(args.root))
    checks = run_checks(sys_, args.gps)
    failed = 1 if any(c.status == "fail" for c in checks) else 0
    if args.json:
        print(json.dumps({"board": sys_.model or None,
                          "checks": [dataclasses.asdict(c) for c in checks]}, indent=2))
        return failed
    print(f"board: {sys_.model or 'unknown (no /proc/device-tree/model)'}")
    marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
    for c in checks:
        print(f"[{marks[c.status]}] {c.name}: {c.detail}")
        if c.fix and c.status in ("warn", "fail"):
            print(f"       fix: {c.fix}")
    return failed
