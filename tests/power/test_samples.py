"""Run samples written as CSV and Parquet read back unchanged; a meter in a ReaderThread."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from sensekit.clock import FakeClock
from sensekit.driver import ReaderThread
from sensekit.power.ledger import EnergyLedger
from sensekit.power.meters.jetson import JetsonMeter
from sensekit.power.meters.pi5 import Pi5PmicMeter
from sensekit.power.samples import read_samples, write_samples

FIXTURES = Path(__file__).parent / "fixtures"


def test_csv_round_trip_keeps_voltage_only_rails(tmp_path: Path, clock: FakeClock) -> None:
    texts = [(FIXTURES / f"pi5_pmic_read_adc_{n}.txt").read_text() for n in ("idle", "load")]
    calls = iter(texts * 3)
    with Pi5PmicMeter(runner=lambda: next(calls), clock=clock, rate_hz=20) as meter:
        packets = [meter.read() for _ in range(5)]
        rails = meter.rails
    assert all(p is not None for p in packets)
    written = write_samples(tmp_path, [p for p in packets if p is not None], packets[0].t_ns[0])
    back = read_samples(tmp_path, rails)
    assert back.t_ns.tolist() == written.t_ns.tolist()
    for name in ("voltage_v", "current_a", "power_w", "total_w"):
        np.testing.assert_allclose(getattr(back, name), getattr(written, name), rtol=1e-5)
    ext = rails.index("EXT5V")
    assert np.isnan(back.current_a[:, ext]).all() and (back.voltage_v[:, ext] > 5).all()
    if (tmp_path / "samples.parquet").exists():
        import pyarrow.parquet as pq

        table = pq.read_table(tmp_path / "samples.parquet")
        np.testing.assert_allclose(table.column("VDD_CORE_power_w").to_numpy(),
                                   written.power_w[:, rails.index("VDD_CORE")], rtol=1e-6)


def test_meter_feeds_the_ledger_from_a_reader_thread() -> None:
    meter = JetsonMeter(str(FIXTURES / "sysfs_nano_jp4"), rate_hz=200)
    ledger = EnergyLedger()
    reader = ReaderThread(meter, ledger.add_power).start()
    deadline = time.monotonic() + 5.0
    s = ledger.summary()
    while time.monotonic() < deadline and (s.measured is None or s.measured.covered_s < 0.1):
        time.sleep(0.02)
        s = ledger.summary()
    reader.stop()
    assert reader.errors == []
    assert s.measured is not None and s.measured.covered_s > 0
    assert s.measured.average_w == pytest.approx(1.904, rel=1e-5)
