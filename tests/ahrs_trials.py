"""What the AHRS tests share: the backends installed here, their rate and a short trial."""

from __future__ import annotations

from sensekit.testing.motion import ImuTrial, make_trial

try:
    import vqf  # noqa: F401

    BACKENDS = ["vqf", "complementary"]
except ImportError:  # pragma: no cover - vqf is in the test extra
    BACKENDS = ["complementary"]

RATE = 100.0


def short(kind: str, seed: int = 0, **kw: float) -> ImuTrial:
    """A synthetic trial of ``kind``: 5 s at rest, then 30 s of movement, at :data:`RATE`."""
    return make_trial(kind, seed, rate_hz=RATE, rest_s=5.0, move_s=30.0, **kw)
