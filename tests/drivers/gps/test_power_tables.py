"""Every receiver family's power table has a row per driver mode and the time to first fix
after each kind of start, so the ledger and the controller can charge what the driver does."""

from __future__ import annotations

import pytest

from sensekit.drivers.gps.nmea_gps import NmeaGps
from sensekit.power.model import load_power_model


@pytest.mark.parametrize("protocol", ["ubx", "ubx9", "mtk"])
def test_table_covers_modes_sleep_and_starts(protocol: str) -> None:
    gps = NmeaGps("emu://", protocol=protocol)          # not opened: only the table's name
    assert gps.power_model is not None
    table = load_power_model(gps.power_model)
    for mode in (*NmeaGps.modes, "sleep"):
        assert table.mode(mode).power_w > 0 and table.mode(mode).source
    assert table.mode("sleep").power_w < table.mode("power_save").power_w \
        < table.mode("continuous").power_w
    starts = {kind: table.transition(kind, "continuous")
              for kind in ("sleep", "hot_start", "warm_start", "cold_start")}
    assert all(t is not None and t.time_s > 0 and t.energy_j > 0 for t in starts.values())
    assert starts["hot_start"].time_s < starts["cold_start"].time_s  # type: ignore[union-attr]


def test_output_only_receiver_has_no_table() -> None:
    assert NmeaGps("emu://").power_model is None
