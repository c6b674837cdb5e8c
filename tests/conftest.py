"""Shared test fixtures: the real-recordings corpus and the fake clock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sensekit.clock import FakeClock

ROOT = Path(__file__).resolve().parents[1]
#: Real recordings from public sources (see its README); read in place, never copied.
CORPUS = Path(os.environ.get("SENSEKIT_CORPUS", ROOT.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"real-recordings corpus not found at {CORPUS} (set SENSEKIT_CORPUS)")
    return CORPUS


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("SENSEKIT_HW") == "1":
        return
    skip = pytest.mark.skip(reason="needs real hardware; run with SENSEKIT_HW=1")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)
