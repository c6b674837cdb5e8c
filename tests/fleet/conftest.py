"""A local Dask cluster shared by the fleet tests (skipped without the fleet extra)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")

from fleet_helpers import HERE  # noqa: E402

from sensekit.fleet.engine import ONE_THREAD_ENV  # noqa: E402


def cluster_env() -> dict[str, str]:
    """What the fleet sets for its workers, plus the path of the test helpers."""
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    return {**ONE_THREAD_ENV, "PYTHONPATH": path}


@pytest.fixture(scope="session")
def client() -> Iterator[Any]:
    """Two single-threaded worker processes, as ``sensekit fleet --workers 2`` starts them."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  env=cluster_env(), dashboard_address=":0",
                                  silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as c:
        yield c
