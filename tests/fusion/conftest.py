"""Fixtures for the fusion tests (skipped where torch is not installed)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from fusion_helpers import synthetic_windows  # noqa: E402

from sensekit.fusion.data import WindowSet  # noqa: E402


@pytest.fixture(scope="session")
def windows() -> WindowSet:
    return synthetic_windows(160, seed=1)


@pytest.fixture(scope="session")
def held_out() -> WindowSet:
    return synthetic_windows(96, seed=2)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def make_windows():  # type: ignore[no-untyped-def]
    return synthetic_windows


@pytest.fixture(scope="session")
def trained(windows: WindowSet, held_out: WindowSet):  # type: ignore[no-untyped-def]
    """A tiny network trained on the synthetic windows (a few seconds)."""
    import sensekit.fusion as fusion
    from sensekit.fusion.train import TrainOptions, fit

    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = fusion.create_model("fusion_tiny", modalities=windows.modalities,
                              tasks=windows.classes)
    fit(net, windows, None, TrainOptions(epochs=30, batch_size=16, seed=0, progress=False))
    return net
