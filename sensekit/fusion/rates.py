"""Rate augmentation: a recorded stream as the sensor would have delivered it at a lower rate.

One network serves phones that deliver 2-20 Hz and rigs that run their IMU at 25-100 Hz; it
learns to by seeing each training window also as it would have arrived slower, two ways:

- ``point@R``: point sampling at R Hz, what slow phones deliver (the sample nearest each point
  of an R Hz grid at a random phase, no filter; the transport-mode phones at 2-5 Hz are not
  low-pass filtered before they decimate);
- ``replay@R``: what a policy replay delivers when the controller lowers a part's rate: the
  part's own anti-alias low-pass (its declared ``lowpass_hz``, an MPU-6050's DLPF) and then
  decimation, computed by the replay's own code (:class:`sensekit.controller.replay.
  RecordedDevice`), so training and the replay cannot drift apart.

A view at or above a stream's native rate does not apply (nothing is upsampled). A
:class:`RateView` is what :func:`sensekit.fusion.recordings.recording_windows` takes as a view.
The decimation is a parameter (``decimate``): a replay whose decimation changes hands its own
function here and training follows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..packets import Packet
from .window_stats import point_sample

__all__ = ["AUGMENT_RATES_HZ", "Decimate", "RateView", "native_rate_hz", "point_sampled",
           "rate_views", "replay_decimate", "stream_lowpass"]

#: Rates every rate-normalised stream is also seen at in training (when slower than native).
AUGMENT_RATES_HZ = (2.0, 5.0, 10.0, 20.0)
#: A view applies only below this share of the native rate (the replay's own rule).
BELOW_NATIVE = 0.95

#: ``(stream, packet, rate_hz, lowpass_hz) -> delivered packet``: a part's decimation.
Decimate = Callable[[str, Packet, float, tuple[float, ...]], Packet]


def native_rate_hz(t_ns: npt.NDArray[np.int64]) -> float:
    """A stream's rate: one over its median sample interval (0 with fewer than 2 samples)."""
    if len(t_ns) < 2:
        return 0.0
    step = float(np.median(np.diff(t_ns)))
    return 1e9 / step if step > 0 else 0.0


def point_sampled(packet: Packet, rate_hz: float, phase: float) -> Packet:
    """``packet`` point-sampled at ``rate_hz`` from a grid at ``phase`` (0-1) of a step."""
    return packet.select(point_sample(packet.t_ns, rate_hz, phase))


def replay_decimate(stream: str, packet: Packet, rate_hz: float,
                    lowpass_hz: tuple[float, ...]) -> Packet:
    """What the policy replay delivers of ``packet`` at ``rate_hz``: the part's low-pass
    setting for that rate, then decimation (:class:`~sensekit.controller.replay.
    RecordedDevice`, the replay's own device)."""
    from ..clock import FakeClock
    from ..controller.replay import RecordedDevice

    t0, t1 = int(packet.t_ns[0]), int(packet.t_ns[-1]) + 1
    dev = RecordedDevice(stream, packet.t_ns, dict(packet.fields), modality=packet.modality,
                         filter_bandwidths_hz=lowpass_hz or None, clock=FakeClock(t0))
    dev.open()
    try:
        dev.set_rate(rate_hz)
        got = dev.take(t0, t1)
    finally:
        dev.close()
    return packet.slice(0, 0) if got is None else got


def stream_lowpass(stream: str) -> tuple[float, ...]:
    """The anti-alias settings of the part behind ``stream`` (declared ``lowpass_hz`` of a
    modality read from it; empty: the replay's default cut at 0.4 x the rate)."""
    from ..modalities import registered

    for decl in registered().values():
        specs = [decl.input] + ([decl.stats] if decl.stats is not None else [])
        if decl.turn_down.lowpass_hz and any(stream in s.streams for s in specs):
            return decl.turn_down.lowpass_hz
    return ()


@dataclass(frozen=True)
class RateView:
    """One way of seeing a stream slower.

    Attributes:
        how: ``point`` (point sampling at a random phase) or ``replay`` (the part's low-pass
            and decimation, by ``decimate``).
        rate_hz: The rate.
        decimate: The replay's decimation (``replay`` only).
    """

    how: str
    rate_hz: float
    decimate: Decimate = replay_decimate

    @property
    def name(self) -> str:
        return f"{self.how}@{self.rate_hz:g}"

    def __call__(self, stream: str, packet: Packet, rng: np.random.Generator
                 ) -> Packet | None:
        """The stream as this view delivers it; None if the view does not apply (at or
        above its native rate, or too few samples)."""
        native = native_rate_hz(packet.t_ns)
        if len(packet) < 4 or not self.rate_hz < native * BELOW_NATIVE:
            return None
        if self.how == "point":
            return point_sampled(packet, self.rate_hz, float(rng.uniform()))
        return self.decimate(stream, packet, self.rate_hz, stream_lowpass(stream))


def rate_views(rates: Sequence[float] = AUGMENT_RATES_HZ, *,
               replay_rates: Sequence[float] | None = None,
               decimate: Decimate = replay_decimate) -> dict[str, RateView]:
    """Views for rate augmentation: point sampling at each of ``rates`` and the replay's
    decimation at each of ``replay_rates`` (default: the same rates), by name."""
    views = [RateView("point", float(r)) for r in rates]
    views += [RateView("replay", float(r), decimate)
              for r in (rates if replay_rates is None else replay_rates)]
    return {v.name: v for v in views}


def view_options(views: Mapping[str, RateView]) -> dict[str, Any]:
    """Views as plain JSON (weights metadata)."""
    return {name: {"how": v.how, "rate_hz": v.rate_hz,
                   "decimate": f"{v.decimate.__module__}.{v.decimate.__qualname__}"}
            for name, v in views.items()}
