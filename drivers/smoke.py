#!/usr/bin/env python3
"""Read every sensor on the board once, on real hardware, and check what only a real part shows.

    python drivers/smoke.py                      # probe all I2C buses, read what was found
    python drivers/smoke.py mpu6050@i2c://1/0x68 ina219@i2c://1/0x40?shunt_ohm=0.1
    python drivers/smoke.py --check mpu-wake-on-motion@i2c://1/0x68 --check gps-baud@/dev/gps
    python drivers/smoke.py --list-checks        # what each check does on a board
    python drivers/smoke.py --emu [--check all]  # the same against the emulated parts

The checks exercise what the drivers' documentation marks "not verified on hardware": what the
emulators model from the datasheets but only a real part can confirm (the MPU's motion engine
thresholds, its self-test and gyro start-up, the MPU-9250's magnetometer through the I2C master,
INA219 OVF and conversion time, a power loss, GPS baud switching and autobaud, Jetson camera
sensor modes). Some ask for an action (a tap, unplugging a part's power); they print what to do
and wait.

Exit status 0 when every device read and every check passed, 1 otherwise. Needs
`pip install 'sensekit[i2c]'` (and `[gps]`, `[camera]` for those checks).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import sensekit
from sensekit.clock import Clock, FakeClock, MonotonicClock
from sensekit.errors import ConfigError, SensekitError
from sensekit.probe import Finding, scan_bus

READABLE = ("high", "medium")
EMULATED = ("mpu6050", "mpu9250", "bh1750", "veml7700", "ina219", "ina226", "ina3221")


def found_devices() -> list[tuple[str, str]]:
    """(driver, url) for every part the probe identified with some confidence."""
    from sensekit.buses.i2c import open_i2c_bus
    from sensekit.url import parse_url

    specs = []
    for dev in sorted(Path("/dev").glob("i2c-*")):
        number = int(dev.name[4:])
        raw, _, _ = open_i2c_bus(parse_url(f"i2c://{number}/0x03"))
        try:
            findings: list[Finding] = scan_bus(raw, number)
        finally:
            raw.close()
        specs += [(f.candidates[0], f"i2c://{number}/{f.address:#04x}") for f in findings
                  if f.confidence in READABLE and len(f.candidates) == 1]
    return specs


def read_once(driver: str, url: str) -> bool:
    try:
        with sensekit.open(driver, url) as device:
            packet = None
            for _ in range(3):
                packet = device.read(timeout_s=2.0)
                if packet is not None:
                    break
    except SensekitError as exc:
        print(f"FAIL {driver} at {url}: {exc}")
        return False
    if packet is None:
        print(f"FAIL {driver} at {url}: no data in 6 s")
        return False
    values = ", ".join(f"{name}={np.round(np.asarray(packet[name], float)[-1], 4).tolist()}"
                       for name in packet.fields)
    print(f"ok   {driver} at {url}: {len(packet)} samples; last {values}")
    return True


# -- checks of what only a real part shows ---------------------------------------------------
@dataclass
class Bench:
    """Where a check runs: a board (real time, a person to ask) or the emulated parts (simulated
    time; the emulator does what the person would)."""

    emu: bool
    clock: Clock

    def open(self, driver: str, url: str, **options: Any) -> Any:
        return sensekit.open(driver, url, clock=self.clock, **options)

    def ask(self, text: str, act: Callable[[], None] | None = None) -> None:
        """Tell the person what to do now (on the emulated parts, ``act`` does it)."""
        print(f"     >>> {text}", flush=True)
        if self.emu and act is not None:
            act()

    def read_for(self, device: Any, seconds: float,
                 until: Callable[[], bool] | None = None) -> list[Any]:
        """Packets read for ``seconds`` (or until ``until()`` holds)."""
        got = []
        end = self.clock.now_ns() + round(seconds * 1e9)
        while self.clock.now_ns() < end and not (until is not None and until()):
            packet = device.read(timeout_s=0.1)
            if packet is not None:
                got.append(packet)
        return got


@dataclass(frozen=True)
class HardwareCheck:
    name: str
    driver: str
    emu_url: str
    what: str
    run: Callable[[Bench, str], tuple[bool, str]]


def _mpu_self_test(bench: Bench, url: str) -> tuple[bool, str]:
    driver = "mpu9250" if "9250" in url else "mpu6050"
    with bench.open(driver, url) as imu:
        result = imu.self_test()
        text = str(result).replace("\n", "; ")
        ok = result.passed
        if driver == "mpu9250" and imu.nine_axis:
            mag_ok, field = imu.magnetometer_self_test()
            text += f"; AK8963 self-test field {np.round(field, 1).tolist()} uT " \
                    f"{'ok' if mag_ok else 'FAIL'}"
            ok = ok and mag_ok
    return ok, text


def _mpu_wake_on_motion(bench: Bench, url: str) -> tuple[bool, str]:
    threshold_g = 0.1
    with bench.open("mpu6050", url, motion_threshold_g=threshold_g, motion_duration_ms=1) as imu:
        events: list[int] = []
        imu.on_motion(events.append)
        imu.set_mode("wake_on_motion")
        bench.ask("keep the board still for 3 s")
        bench.read_for(imu, 3.0)
        still = len(events)

        def shove() -> None:  # on the emulated part: a 0.5 g shove for 0.3 s, from now
            emu = imu.emulator
            start = (bench.clock.now_ns() - emu.t0_ns) / 1e9
            lying = emu.motion

            def motion(t: Any) -> tuple[Any, Any]:
                accel, gyro = lying(t)
                accel = np.array(accel, dtype=float)
                accel[(t > start) & (t < start + 0.3), 0] += 0.5 * 9.80665
                return accel, gyro
            emu.motion = motion

        bench.ask(f"tap or shove the board firmly within 10 s (threshold {threshold_g} g, "
                  "1 ms)", shove)
        bench.read_for(imu, 10.0, until=lambda: len(events) > still)
        moved = len(events) - still
    ok = still == 0 and moved > 0
    return ok, (f"{still} events while still (want 0), {moved} after the tap (want >= 1); "
                f"chip {imu.chip.chip}")


def _mpu_gyro_startup(bench: Bench, url: str) -> tuple[bool, str]:
    with bench.open("mpu6050", url, rate_hz=1000) as imu:
        bench.ask("keep the board still for 2 s")
        imu.sleep()
        bench.clock.sleep(0.5)
        imu.wake()
        packets = bench.read_for(imu, 1.0)
    if not packets:
        return False, "no samples after waking"
    gyro = np.degrees(np.concatenate([p["gyro_rads"] for p in packets]))
    first, settled = gyro[:20].mean(axis=0), gyro[-200:].mean(axis=0)
    step = float(np.max(np.abs(first - settled)))
    return step < 1.0, (f"first 20 ms of gyro after wake differ from the settled bias by "
                        f"{step:.2f} dps (want < 1; the driver waited "
                        f"{imu.chip.gyro_startup_s * 1000:.0f} ms)")


def _mpu9250_mag(bench: Bench, url: str) -> tuple[bool, str]:
    with bench.open("mpu9250", url, rate_hz=200, mag_rate_hz=100) as imu:
        packets = bench.read_for(imu, 2.0)
        lost = imu.mag_lost
    if not packets:
        return False, "no samples"
    mag = np.concatenate([p["mag_ut"] for p in packets])
    t = np.concatenate([p.t_ns for p in packets]) / 1e9
    fresh = np.any(np.diff(mag, axis=0) != 0, axis=1)
    rate = fresh.sum() / max(t[-1] - t[0], 1e-9)
    norm = float(np.nanmedian(np.linalg.norm(mag, axis=1)))
    ok = 60 <= rate <= 110 and 15 <= norm <= 100
    return ok, (f"{rate:.0f} new magnetometer samples a second (want about 100), |B| "
                f"{norm:.1f} uT (Earth: 25-65), {lost} lost")


def _ina219_overrange(bench: Bench, url: str) -> tuple[bool, str]:
    from sensekit.drivers.power import ina219

    # max_current_a=0.3 A on 0.1 ohm selects the 40 mV range: 0.4 A puts the shunt at full scale.
    with bench.open("ina219", url, max_current_a=0.3) as ina:
        shunt_ohm = ina.shunt_ohm[0]
        amps = 0.04 / shunt_ohm

        def overload() -> None:
            ina.emulator.current = [amps * 2]

        bench.ask(f"draw more than {amps:.2f} A through the {shunt_ohm} ohm shunt for 3 s",
                  overload)
        seen = []
        for packet in bench.read_for(ina, 3.0):
            raw_bus = ina.regs.read(ina219.BUS_VOLTAGE)
            raw_shunt = ina.regs.read(ina219.SHUNT_VOLTAGE)
            full = abs(raw_shunt) >= round(ina219.PGA_RANGE_V[ina.pga] / ina219.SHUNT_LSB_V)
            seen.append((full, bool(ina219.OVF.get(raw_bus)), packet.meta["over_range"][0]))
    at_full = [s for s in seen if s[0]]
    if not at_full:
        return False, "the shunt never reached full scale: draw more current"
    flagged = all(driver_says for _, _, driver_says in at_full)
    ovf = sum(o for _, o, _ in at_full)
    return flagged, (f"{len(at_full)} readings at full scale, all reported over range: "
                     f"{flagged}; the part's OVF flag was set in {ovf} of them")


def _ina219_timing(bench: Bench, url: str) -> tuple[bool, str]:
    from sensekit.drivers.power import ina219

    with bench.open("ina219", url, averages=16) as ina:  # 17 ms per conversion: easy to time
        want = ina.conversion_time_s()
        seen: list[int] = []
        end = bench.clock.now_ns() + 2_000_000_000
        with ina.device.lock:
            ina.regs.read(ina219.POWER)              # clears CNVR
            while bench.clock.now_ns() < end:
                if ina219.CNVR.get(ina.regs.read(ina219.BUS_VOLTAGE)):
                    seen.append(bench.clock.now_ns())
                    ina.regs.read(ina219.POWER)
                bench.clock.sleep(0.0005)
    if len(seen) < 5:
        return False, f"CNVR set {len(seen)} times in 2 s"
    period = float(np.median(np.diff(seen))) / 1e9
    ok = abs(period / want - 1) < 0.15
    return ok, (f"a conversion every {period * 1000:.2f} ms; the datasheet's "
                f"{want * 1000:.2f} ms (stamps sit one conversion before the read)")


def _power_loss(bench: Bench, url: str) -> tuple[bool, str]:
    driver, _, where = url.partition("@") if "@" in url else ("veml7700", "", url)
    with bench.open(driver, where) as part:
        bench.read_for(part, 1.0)

        def cut() -> None:
            part.device.bus.power_cycle(part.device.address)

        bench.ask(f"unplug the {driver}'s VCC for a second and plug it back in (30 s)", cut)
        packets = bench.read_for(part, 30.0, until=lambda: part.stats.resets > 0)
        packets += bench.read_for(part, 1.0)
    zeros = sum(int(np.all(np.asarray(p[name]) == 0)) for p in packets for name in p.fields
                if name not in ("temp_c",))
    ok = part.stats.resets > 0 and zeros == 0
    return ok, f"resets counted {part.stats.resets} (want >= 1), all-zero readings {zeros}"


def _gps_baud(bench: Bench, url: str) -> tuple[bool, str]:
    from sensekit.drivers.gps.baud import switch_baud

    emulator = None
    if bench.emu:
        from sensekit.testing.gps_receiver import GpsReceiverEmulator

        emulator = GpsReceiverEmulator(clock=bench.clock, protocol="ubx")
    gps = bench.open("nmea", url, emulator=emulator)
    start = gps.baud
    target = 115200 if start != 115200 else 38400
    notes = [f"talks at {start}"]
    try:
        gps.read(timeout_s=3.0)
        switch_baud(gps, target)
        fixes = [p for p in (gps.read(timeout_s=2.0) for _ in range(3)) if p is not None]
        notes.append(f"switched to {gps.baud}, {len(fixes)} of 3 epochs read")
        ok = gps.baud == target and len(fixes) >= 2
    except (ConfigError, SensekitError) as exc:
        notes.append(f"switch to {target} failed: {exc}")
        ok = False
    finally:
        gps.close()
    # Reopened at the old rate while the receiver talks at the new one: autobaud finds it.
    options = {k: v for k, v in gps.url.options.items() if k != "baud"}
    query = "&".join(f"{k}={v}" for k, v in {**options, "baud": str(start)}.items())
    again = bench.open("nmea", f"{url.split('?')[0]}?{query}", emulator=emulator)
    try:
        notes.append(f"reopened at {start}: found the receiver at {again.baud}")
        ok = ok and again.baud == target and again.read(timeout_s=3.0) is not None
        if again.baud != start:
            switch_baud(again, start)
            notes.append(f"left at {again.baud}")
    finally:
        again.close()
    return ok, "; ".join(notes)


def _jetson_camera(bench: Bench, url: str) -> tuple[bool, str]:
    if bench.emu:
        return True, "skipped on the emulated parts (needs a Jetson's nvargus camera)"
    from sensekit.drivers.camera.gstreamer import argus_modes, full_view

    sensor_id = int(url.split("://", 1)[-1].split("?")[0] or 0)
    modes = argus_modes(sensor_id)
    notes = [f"device tree modes: {', '.join(map(str, modes)) if modes else 'none found'}"]
    if modes:
        notes.append(f"full field of view: {', '.join(map(str, full_view(modes)))}")
    with bench.open("camera", url, mode="dnn") as cam:
        bench.read_for(cam, 5.0)
        how = "estimated" if cam.stats.dropped_estimated else "from buffer offsets"
        notes.append(f"dnn mode reads sensor mode {cam.config.sensor_mode}; dropped "
                     f"{cam.stats.dropped} in 5 s ({how})")
    ok = bool(modes)
    if modes:
        too_fast = max(m.max_fps for m in modes) + 10
        try:
            bench.open("camera", url, rate_hz=too_fast).close()
            ok = False
            notes.append(f"{too_fast:g} fps was NOT refused")
        except ConfigError:
            notes.append(f"{too_fast:g} fps refused")
    return ok, "; ".join(notes)


CHECKS = {c.name: c for c in (
    HardwareCheck("mpu-self-test", "mpu6050", "emu://",
                  "runs the MPU's (and AK8963's) self-test against the factory trim",
                  _mpu_self_test),
    HardwareCheck("mpu-wake-on-motion", "mpu6050", "emu://",
                  "wake-on-motion stays quiet while still and fires on a tap (asks for one)",
                  _mpu_wake_on_motion),
    HardwareCheck("mpu-gyro-startup", "mpu6050", "emu://",
                  "the first gyro samples after waking match the settled bias",
                  _mpu_gyro_startup),
    HardwareCheck("mpu9250-mag", "mpu9250", "emu://?field=tumble&tumble_s=20",
                  "the magnetometer through the I2C master: fresh samples at its own rate",
                  _mpu9250_mag),
    HardwareCheck("ina219-overrange", "ina219", "emu://?shunt_ohm=0.1",
                  "a current beyond the range is reported over range; prints the OVF flag "
                  "(asks for a load)", _ina219_overrange),
    HardwareCheck("ina219-timing", "ina219", "emu://",
                  "times the conversions by the CNVR flag against the datasheet's conversion "
                  "time", _ina219_timing),
    HardwareCheck("power-loss", "veml7700", "veml7700@emu://",
                  "a part that lost power is configured again, counted, and no zeros are "
                  "returned (asks to unplug it; URL as DRIVER@URL)", _power_loss),
    HardwareCheck("gps-baud", "nmea", "emu://?protocol=ubx",
                  "switches the receiver's baud, verifies, reopens at the old rate to find "
                  "it (autobaud), and switches back", _gps_baud),
    HardwareCheck("jetson-camera", "camera", "nvargus://0",
                  "sensor modes from the device tree, the DNN mode's choice, drop counting, "
                  "a too-fast rate refused", _jetson_camera),
)}


def run_check(name: str, url: str | None, emu: bool) -> bool:
    check = CHECKS[name]
    bench = Bench(emu, FakeClock() if emu else MonotonicClock())
    where = url or check.emu_url
    try:
        ok, text = check.run(bench, where)
    except SensekitError as exc:
        ok, text = False, str(exc)
    print(f"{'ok  ' if ok else 'FAIL'} check {name} at {where}: {text}")
    return ok


def parse_check(text: str) -> tuple[str, str | None]:
    name, _, url = text.partition("@")
    if name not in CHECKS and name != "all":
        raise SystemExit(f"unknown check {name!r}; checks: {', '.join(CHECKS)} (or all)")
    return name, url or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("devices", nargs="*", help="DRIVER@URL (default: what the probe finds)")
    parser.add_argument("--emu", action="store_true", help="use the emulated parts")
    parser.add_argument("--check", action="append", default=[], metavar="NAME[@URL]",
                        help="run a hardware check (repeatable; 'all' on the emulated parts)")
    parser.add_argument("--list-checks", action="store_true", help="say what each check does")
    args = parser.parse_args(argv)
    if args.list_checks:
        for check in CHECKS.values():
            print(f"{check.name:20} ({check.driver}) {check.what}")
        return 0
    if args.check:
        wanted = [parse_check(c) for c in args.check]
        if any(name == "all" for name, _ in wanted):
            if not args.emu:
                raise SystemExit("--check all needs --emu: name each check's URL on a board")
            wanted = [(name, None) for name in CHECKS]
        if not args.emu and any(url is None for _, url in wanted):
            raise SystemExit("on a board, give each check the part's URL: --check NAME@URL")
        results = [run_check(name, url, args.emu) for name, url in wanted]
        return 0 if all(results) else 1
    if args.emu:
        specs = [(name, "emu://") for name in EMULATED]
    elif args.devices:
        specs = [tuple(d.split("@", 1)) for d in args.devices]  # type: ignore[misc]
    else:
        specs = found_devices()
    if not specs:
        print("no devices found; run 'sensekit probe' and 'sensekit doctor'")
        return 1
    results = [read_once(driver, url) for driver, url in specs]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
