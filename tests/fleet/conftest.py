"""A local Dask cluster shared by the fleet tests (skipped without the fleet extra).

It is started by the first test that asks for it and closed after the last test of this
folder, so no scheduler thread runs on in this process while other folders' tests run (some
trace this process's memory).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")

from fleet_helpers import HERE  # noqa: E402

from sensekit.fleet.engine import ONE_THREAD_ENV  # noqa: E402

_shared: dict[str, Any] = {}


def cluster_env() -> dict[str, str]:
    """What the fleet sets for its workers, plus the path of the test helpers."""
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    return {**ONE_THREAD_ENV, "PYTHONPATH": path}


@pytest.fixture
def client() -> Any:
    """Two single-threaded worker processes, as ``sensekit fleet --workers 2`` starts them."""
    if not _shared:
        _shared["cluster"] = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, env=cluster_env(),
            dashboard_address=":0", silence_logs=logging.ERROR)
        _shared["client"] = distributed.Client(_shared["cluster"])
    return _shared["client"]


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if _shared and (nextitem is None or Path(str(nextitem.path)).parent != HERE):
        _shared.pop("client").close()
        _shared.pop("cluster").close()
