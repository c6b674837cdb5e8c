"""``sensekit doctor`` against fake Pi and Jetson roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensekit.doctor import Check, System, run_checks


def pi_root(tmp_path: Path, *, baud: int | None = None, console: bool = True,
            i2c: bool = True) -> Path:
    (tmp_path / "proc" / "device-tree").mkdir(parents=True)
    (tmp_path / "proc" / "device-tree" / "model").write_text("Raspberry Pi 4 Model B Rev 1.5\0")
    cmdline = "console=serial0,115200 console=tty1 root=PARTUUID=1 rootwait"
    (tmp_path / "proc" / "cmdline").write_text(cmdline if console else "console=tty1 rootwait")
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "serial0").touch()
    if i2c:
        (tmp_path / "dev" / "i2c-1").touch()
    (tmp_path / "boot" / "firmware").mkdir(parents=True)
    extra = f"dtparam=i2c_arm_baudrate={baud}\n" if baud else ""
    (tmp_path / "boot" / "firmware" / "config.txt").write_text("dtparam=i2c_arm=on\n" + extra)
    return tmp_path


def system(root: Path, groups: set[str], throttled: int | None = 0,
           dists: dict[str, str] | None = None, system_packages: bool = True) -> System:
    installed = {"onnxruntime": "1.20.1", "numpy": "1.24.2"} if dists is None else dists
    return System(root=root, groups=lambda: groups, group_exists=lambda g: True,
                  throttled=lambda: throttled, env={"USER": "pi"},
                  distributions=lambda: installed,
                  sees_system_packages=lambda: system_packages)


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_a_default_pi_gets_told_what_to_fix(tmp_path: Path) -> None:
    checks = by_name(run_checks(system(pi_root(tmp_path), {"pi", "video"}, 0x50005)))
    assert checks["i2c enabled"].status == "ok"
    speed = checks["i2c speed"]
    assert speed.status == "warn" and "100 kHz" in speed.detail
    assert "dtparam=i2c_arm_baudrate=400000" in speed.fix and "/boot/firmware/config.txt" in \
        speed.fix
    console = checks["serial console"]
    assert console.status == "fail" and "serial0" in console.detail
    assert "do_serial_cons 1" in console.fix
    groups = checks["groups"]
    assert groups.status == "fail" and groups.fix.startswith("sudo usermod -aG i2c,dialout pi")
    power = checks["power supply"]
    assert power.status == "fail" and "under-voltage now" in power.detail
    assert "throttling has occurred" in power.detail


def test_a_well_set_up_pi_passes(tmp_path: Path) -> None:
    root = pi_root(tmp_path, baud=400000, console=False)
    checks = run_checks(system(root, {"i2c", "dialout", "video"}, 0))
    assert {c.name: c.status for c in checks} == {
        "i2c enabled": "ok", "header i2c": "ok", "i2c speed": "ok", "uart enabled": "ok",
        "serial console": "ok",
        "gpsd on /dev/serial0": "ok", "groups": "ok", "power supply": "ok",
        "onnx runtime": "ok"}


def test_missing_i2c_and_past_throttling_are_reported(tmp_path: Path) -> None:
    root = pi_root(tmp_path, i2c=False, console=False)
    checks = by_name(run_checks(system(root, {"i2c", "dialout", "video"}, 0x40000)))
    assert checks["i2c enabled"].status == "fail"
    assert "do_i2c 0" in checks["i2c enabled"].fix
    assert checks["power supply"].status == "warn"  # it happened, it is not happening now


def test_jetson_bus_speed_from_the_device_tree_and_nvgetty(tmp_path: Path) -> None:
    (tmp_path / "proc" / "device-tree").mkdir(parents=True)
    (tmp_path / "proc" / "device-tree" / "model").write_text("NVIDIA Jetson Orin Nano\0")
    (tmp_path / "proc" / "cmdline").write_text("root=/dev/mmcblk0p1")
    (tmp_path / "dev").mkdir()
    for name in ("i2c-1", "i2c-7", "ttyTHS1"):
        (tmp_path / "dev" / name).touch()
    for bus, hz in (("i2c-1", 100_000), ("i2c-7", 400_000)):
        node = tmp_path / "sys" / "class" / "i2c-adapter" / bus / "of_node"
        node.mkdir(parents=True)
        (node / "clock-frequency").write_bytes(hz.to_bytes(4, "big"))
    wants = tmp_path / "etc" / "systemd" / "system" / "multi-user.target.wants"
    wants.mkdir(parents=True)
    (wants / "nvgetty.service").touch()
    checks = by_name(run_checks(system(tmp_path, {"i2c", "dialout", "video"}, None)))
    assert checks["i2c speed"].status == "warn" and "i2c-1 100 kHz" in checks["i2c speed"].detail
    assert checks["serial console"].status == "fail" and "nvgetty" in \
        checks["serial console"].fix
    assert checks["power supply"].status == "skip"
    header = checks["header i2c"]  # no compatible file: the model names the board
    assert header.status == "ok" and "i2c://7/0x68" in header.detail


def test_the_header_bus_of_each_jetson_comes_from_its_module(tmp_path: Path) -> None:
    tree = tmp_path / "proc" / "device-tree"
    tree.mkdir(parents=True)
    (tree / "model").write_text("NVIDIA Jetson Xavier NX Developer Kit\0")
    (tree / "compatible").write_bytes(b"nvidia,p3509-0000+p3668-0001\0nvidia,tegra194\0")
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "i2c-1").touch()  # the bus a Nano would use, not this module's 8
    checks = by_name(run_checks(system(tmp_path, {"i2c", "dialout", "video"}, None)))
    header = checks["header i2c"]
    assert header.status == "fail" and "/dev/i2c-8 is missing" in header.detail
    assert "jetson-io" in header.fix


def test_cli_exit_status_says_whether_something_must_be_fixed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sensekit.cli import main

    root = pi_root(tmp_path, i2c=False)
    assert main(["doctor", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "Raspberry Pi 4" in out and "[FAIL] i2c enabled" in out and "fix:" in out


def test_both_onnx_runtime_builds_fail_and_a_jetson_on_the_cpu_build_is_warned(
        tmp_path: Path) -> None:
    both = {"onnxruntime": "1.20.1", "onnxruntime-gpu": "1.20.0"}
    check = by_name(run_checks(system(pi_root(tmp_path), set(), dists=both)))["onnx runtime"]
    assert check.status == "fail" and "share one module" in check.detail
    assert "pip uninstall -y onnxruntime onnxruntime-gpu" in check.fix
    jetson = tmp_path / "jetson"
    (jetson / "etc").mkdir(parents=True)
    (jetson / "etc" / "nv_tegra_release").write_text("# R36 (release), REVISION: 4.0")
    cpu = by_name(run_checks(system(jetson, set(), None, {"onnxruntime": "1.20.1"})))
    assert cpu["onnx runtime"].status == "warn" and "onnxruntime-gpu" in cpu["onnx runtime"].fix
    gpu = by_name(run_checks(system(jetson, set(), None, {"onnxruntime-gpu": "1.20.0"})))
    assert gpu["onnx runtime"].status == "ok"
    none = by_name(run_checks(system(jetson, set(), None, {})))
    assert none["onnx runtime"].status == "skip"


def test_apt_picamera2_needs_system_site_packages_and_numpy_1(tmp_path: Path) -> None:
    root = pi_root(tmp_path)
    assert "picamera2" not in by_name(run_checks(system(root, set())))  # apt's is not there
    (root / "usr" / "lib" / "python3" / "dist-packages" / "picamera2").mkdir(parents=True)
    hidden = by_name(run_checks(system(root, set(), system_packages=False)))["picamera2"]
    assert hidden.status == "warn" and "--system-site-packages" in hidden.fix
    numpy2 = by_name(run_checks(system(root, set(), dists={"numpy": "2.1.3"})))["picamera2"]
    assert numpy2.status == "warn" and "constraints/pi-bookworm.txt" in numpy2.fix
    fine = by_name(run_checks(system(root, set())))["picamera2"]
    assert fine.status == "ok" and "1.24.2" in fine.detail


def test_doctor_json_and_output_file(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from sensekit.cli import main

    root = pi_root(tmp_path / "root", i2c=False)
    assert main(["doctor", "--root", str(root), "--json"]) == 1  # the exit status still says
    report = json.loads(capsys.readouterr().out)
    assert report["board"].startswith("Raspberry Pi 4")
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["i2c enabled"]["status"] == "fail" and "do_i2c 0" in checks["i2c enabled"][
        "fix"]
    out = tmp_path / "doctor.json"
    assert main(["doctor", "--root", str(root), "--json", "-o", str(out)]) == 1
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text()) == report
