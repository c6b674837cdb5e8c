"""Meters against fake sysfs trees and recorded-format vcgencmd outputs."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from sensekit.clock import FakeClock
from sensekit.errors import ConfigError, DeviceNotFound
from sensekit.power.meters import open_meter, split_spec, total_power_w
from sensekit.power.meters.jetson import JetsonMeter
from sensekit.power.meters.pi5 import Pi5PmicMeter, parse_pmic_read_adc

FIXTURES = Path(__file__).parent / "fixtures"


def _pi5_text(name: str) -> str:
    return (FIXTURES / f"pi5_pmic_read_adc_{name}.txt").read_text()


def test_pmic_pairs_current_and_voltage_by_name_not_index() -> None:
    rails = parse_pmic_read_adc(_pi5_text("idle"))
    # VDD_CORE current is channel 7, its voltage channel 15: paired by name.
    assert rails["VDD_CORE"] == pytest.approx((0.720554, 0.78079))
    assert rails["HDMI"] == pytest.approx((5.15494, 0.0278451))
    volts, amps = rails["EXT5V"]
    assert volts == pytest.approx(5.15494) and math.isnan(amps)
    assert math.isnan(rails["BATT"][1])
    assert len(rails) == 14


def test_pi5_meter_packets_keep_voltage_only_rails_and_sum_the_rest(clock: FakeClock) -> None:
    texts = iter([_pi5_text("idle"), _pi5_text("idle"), _pi5_text("load")])
    meter = Pi5PmicMeter(runner=lambda: next(texts), clock=clock, rate_hz=10)
    with meter:
        idle = meter.read()
        load = meter.read()
    assert idle is not None and load is not None
    idle.validate()
    rails = list(idle.meta["rails"])
    assert "EXT5V" in rails and idle.meta["total"] == ""
    ext = rails.index("EXT5V")
    assert idle["voltage_v"][0, ext] == pytest.approx(5.15494)
    assert math.isnan(idle["power_w"][0, ext])
    expected = sum(v * a for v, a in parse_pmic_read_adc(_pi5_text("idle")).values()
                   if not math.isnan(a))
    assert total_power_w(idle)[0] == pytest.approx(expected, rel=1e-5)
    assert total_power_w(load)[0] > total_power_w(idle)[0] + 2.0  # VDD_CORE at 3.3 W
    assert "USB" in idle.meta["note"] and "23 ms" in idle.meta["note"]
    assert load.t_ns[0] - idle.t_ns[0] == 100_000_000


def test_pi5_rate_is_bounded_by_the_firmware_read_cost(clock: FakeClock) -> None:
    meter = Pi5PmicMeter(runner=lambda: _pi5_text("idle"), clock=clock, rate_hz=200)
    assert meter.rate_hz == 40.0


def test_pi5_without_pmic_output_is_not_found(clock: FakeClock) -> None:
    meter = Pi5PmicMeter(runner=lambda: "error=1 error_msg=\"Command not registered\"\n",
                         clock=clock)
    with pytest.raises(DeviceNotFound, match="pmic_read_adc"):
        meter.open()


def test_jetson_hwmon_orin_total_is_vdd_in_only(clock: FakeClock) -> None:
    meter = JetsonMeter(str(FIXTURES / "sysfs_orin_nano_jp5"), clock=clock)
    with meter:
        packet = meter.read()
    assert packet is not None
    packet.validate()
    assert packet.meta["rails"] == ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC")
    assert packet.meta["total"] == "VDD_IN"
    assert packet["voltage_v"][0, 0] == pytest.approx(5.032)
    assert packet["current_a"][0, 1] == pytest.approx(0.168)
    # The inner rails are never added to VDD_IN: 5.032 V * 1.096 A.
    assert total_power_w(packet)[0] == pytest.approx(5.032 * 1.096, rel=1e-5)


def test_jetson_iio_nano_uses_power_files_and_pom_5v_in(clock: FakeClock) -> None:
    with JetsonMeter(str(FIXTURES / "sysfs_nano_jp4"), clock=clock) as meter:
        packet = meter.read()
    assert packet is not None
    assert packet.meta["rails"] == ("POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU")
    assert packet["power_w"][0].tolist() == pytest.approx([1.904, 0.0, 0.4])
    assert total_power_w(packet)[0] == pytest.approx(1.904)


def test_jetson_without_input_rail_sums_rails_and_says_so(clock: FakeClock) -> None:
    with JetsonMeter(str(FIXTURES / "sysfs_agx_xavier_jp5"), clock=clock) as meter:
        packet = meter.read()
    assert packet is not None
    assert len(packet.meta["rails"]) == 6 and packet.meta["total"] == ""
    expected = 19.04 * (0.040 + 0.120 + 0.150 + 0.0 + 0.030) + 4.972 * 0.410
    assert total_power_w(packet)[0] == pytest.approx(expected, rel=1e-5)
    assert "sum of the monitored rails" in packet.meta["note"]


def test_jetson_hwmon_number_is_not_fixed(tmp_path: Path, clock: FakeClock) -> None:
    tree = tmp_path / "sys"
    shutil.copytree(FIXTURES / "sysfs_orin_nano_jp5", tree)
    hwmon = tree / "bus/i2c/devices/1-0040/hwmon"
    (hwmon / "hwmon3").rename(hwmon / "hwmon11")
    with JetsonMeter(str(tree), clock=clock) as meter:
        packet = meter.read()
    assert packet is not None and packet.meta["rails"][0] == "VDD_IN"


def test_jetson_meter_reads_changing_values(tmp_path: Path, clock: FakeClock) -> None:
    tree = tmp_path / "sys"
    shutil.copytree(FIXTURES / "sysfs_nano_jp4", tree)
    with JetsonMeter(str(tree), clock=clock, rate_hz=50) as meter:
        first = meter.read()
        (tree / "bus/i2c/devices/6-0040/iio:device0/in_power0_input").write_text("4500\n")
        second = meter.read()
    assert first is not None and second is not None
    assert total_power_w(second)[0] == pytest.approx(4.5)
    assert second.t_ns[0] - first.t_ns[0] == 20_000_000


def test_no_jetson_is_reported_with_a_hint(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(DeviceNotFound, match="no ina3221"):
        JetsonMeter(str(tmp_path), clock=clock).open()


def test_open_meter_by_name_and_url(clock: FakeClock) -> None:
    meter = open_meter(f"jetson@{FIXTURES / 'sysfs_nano_jp4'}", clock=clock)
    assert isinstance(meter, JetsonMeter) and meter.is_open
    meter.close()
    assert split_spec("ina219@i2c://1/0x40?shunt_ohm=0.1") == ("ina219",
                                                               "i2c://1/0x40?shunt_ohm=0.1")
    with pytest.raises(ConfigError, match="did you mean jetson"):
        open_meter("jetsn")
    with pytest.raises(ConfigError, match="needs a name"):
        open_meter("i2c://1/0x40")


def test_total_of_all_nan_rails_is_nan(clock: FakeClock) -> None:
    meter = Pi5PmicMeter(runner=lambda: "   EXT5V_V volt(24)=5.1V\n", clock=clock)
    with meter:
        packet = meter.read()
    assert packet is not None and np.isnan(total_power_w(packet)[0])
