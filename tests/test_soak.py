"""The soak: a rig's data through a shared hub to 8 reader processes, fast-forwarded.

CI runs a quarter of a simulated hour (a few seconds); ``SENSEKIT_SOAK_HOURS=24`` runs the
day (minutes): ``SENSEKIT_SOAK_HOURS=24 python -m pytest tests/test_soak.py`` or
``SENSEKIT_SOAK_HOURS=24 sensekit bench soak``.
"""

from __future__ import annotations

import os

import pytest

from sensekit._shm import SHM_DIR
from sensekit.bench import soak

pytestmark = pytest.mark.skipif(not os.path.isdir(SHM_DIR), reason="needs Linux /dev/shm")


def test_schedule_has_the_rigs_rates() -> None:
    counts: dict[str, int] = {}
    for _, i in soak.schedule(1.0):
        counts[soak.RIG[i].name] = counts.get(soak.RIG[i].name, 0) + 1
    assert counts == {"imu": 36_000, "audio": 36_000, "camera": 54_000, "power": 36_000,
                      "gps": 3_600, "light": 3_600}


@pytest.mark.slow
def test_soak_keeps_memory_flat_counts_every_loss_and_leaves_no_segment() -> None:
    hours = float(os.environ.get(soak.ENV_HOURS, "0.25"))
    result = soak.soak(hours)
    assert result.packets == sum(1 for tick, _ in soak.schedule(hours) if tick > 0)
    assert len(result.readers) == soak.READERS
    assert result.unaccounted() == 0          # every sample read or counted as lost
    assert result.leaked == []
    assert all(result.growth_ok().values()), result.slopes()
    shm = [mib for _, mib in result.shm_mib]
    assert 0 < max(shm) <= 64 and shm[-1] == max(shm)  # fixed-size rings, nothing added
    assert all(len(samples) >= 10 for samples in result.rss.values())


def test_hours_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(soak.ENV_HOURS, raising=False)
    assert soak.hours_from_env(quick=True) == 0.25 and soak.hours_from_env(False) == 24
    monkeypatch.setenv(soak.ENV_HOURS, "2.5")
    assert soak.hours_from_env(quick=True) == 2.5
    monkeypatch.setenv(soak.ENV_HOURS, "a day")
    with pytest.raises(ValueError, match="SENSEKIT_SOAK_HOURS='a day'"):
        soak.hours_from_env(quick=False)
