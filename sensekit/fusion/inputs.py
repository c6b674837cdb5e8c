"""What the fusion network is fed: per-modality inputs and the configurations it serves.

Pure Python and numpy (no torch), so the ONNX Runtime inference path and the controller can
read the same declarations the training code uses.

Each modality keeps its own resolution (multi-resolution): an IMU series at its sampling rate,
audio as log-mel frames, a camera frame at the DNN-mode resolution, GPS and light as low-rate
series. A :class:`Configuration` is one choice the sampling controller can make: which
modalities are on, at which rate, and the camera resolution.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError

__all__ = [
    "KINDS",
    "Configuration",
    "ModalityInput",
    "configurations",
    "default_configuration",
    "modalities_from_json",
    "modalities_to_json",
    "sensor_modalities",
]

#: Encoder families: ``series`` (channels x time, 1-D conv), ``image`` (3 x H x W, depthwise-
#: separable CNN), ``lowrate`` (channels x few samples, statistics + MLP).
KINDS = ("series", "image", "lowrate")


@dataclass(frozen=True)
class ModalityInput:
    """One modality as the network sees it.

    Attributes:
        kind: Encoder family, one of :data:`KINDS`.
        channels: Channels per time step (3 for an accelerometer, mel bands for audio, 3 for RGB).
        rates_hz: Rates the controller may choose, highest first; the first is the native rate.
            For ``image`` these are square resolutions in pixels instead.
        window_s: Window length in seconds.
        fields: Source fields in the aligner's window (documentation and feature extraction).
    """

    kind: str
    channels: int
    rates_hz: tuple[float, ...]
    window_s: float = 2.0
    fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"modality kind {self.kind!r} unknown; use one of {KINDS}")
        if not self.rates_hz or min(self.rates_hz) <= 0:
            raise ConfigError(f"modality needs positive rates, got {self.rates_hz}")

    @property
    def native(self) -> float:
        """The highest (training) rate, or resolution for images."""
        return self.rates_hz[0]

    def steps(self, rate: float | None = None) -> int:
        """Time steps in one window at ``rate`` (pixels per side for images)."""
        r = self.native if rate is None else rate
        return int(r) if self.kind == "image" else max(1, round(r * self.window_s))

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "channels": self.channels, "rates_hz": list(self.rates_hz),
                "window_s": self.window_s, "fields": list(self.fields)}


def modalities_to_json(mods: Mapping[str, ModalityInput]) -> dict[str, Any]:
    """Modalities as plain JSON (weights metadata)."""
    return {name: m.as_json() for name, m in mods.items()}


def modalities_from_json(obj: Mapping[str, Any]) -> dict[str, ModalityInput]:
    """Inverse of :func:`modalities_to_json`."""
    return {name: ModalityInput(d["kind"], int(d["channels"]), tuple(map(float, d["rates_hz"])),
                                float(d["window_s"]), tuple(d.get("fields", ())))
            for name, d in obj.items()}


def sensor_modalities(window_s: float = 2.0, n_mels: int = 32) -> dict[str, ModalityInput]:
    """The sensekit sensor set as the controller runs it.

    Accelerometer and gyroscope are separate modalities because the controller switches them
    separately (an MPU-6050's gyroscope draws several times what its accelerometer does). IMU
    rates are the controller's rate set; audio is fed as log-mel frames at 50 frames/s (20 ms
    hop, bands up to 4 kHz so 8 and 16 kHz microphones agree); the camera in DNN mode at 32 or
    16 pixels square; GPS and light at 1 Hz.
    """
    imu_rates = (100.0, 50.0, 25.0)
    return {
        "accel": ModalityInput("series", 3, imu_rates, window_s, ("accel_mps2",)),
        "gyro": ModalityInput("series", 3, imu_rates, window_s, ("gyro_rads",)),
        "audio": ModalityInput("series", n_mels, (50.0,), window_s, ("pcm",)),
        "camera": ModalityInput("image", 3, (32.0, 16.0), window_s, ("image",)),
        "gps": ModalityInput("lowrate", 4, (1.0,), window_s,
                             ("speed_mps", "hdop", "sats_used", "mode")),
        "light": ModalityInput("lowrate", 1, (1.0,), window_s, ("lux",)),
    }


@dataclass(frozen=True)
class Configuration:
    """One operating point: modalities that are on and the rate (or resolution) of each."""

    rates: Mapping[str, float] = field(default_factory=dict)

    @property
    def modalities(self) -> frozenset[str]:
        return frozenset(self.rates)

    def name(self) -> str:
        """Short label: ``imu@50+camera@32``."""
        return "+".join(f"{m}@{self.rates[m]:g}" for m in sorted(self.rates))

    @classmethod
    def parse(cls, text: str) -> Configuration:
        """The inverse of :meth:`name`: ``"imu@50+camera@32"`` -> a configuration."""
        rates = {}
        for part in text.split("+"):
            name, sep, rate = part.partition("@")
            try:
                rates[name] = float(rate)
            except ValueError:
                sep = ""
            if not sep or not name:
                raise ConfigError(f"configuration part {part!r} of {text!r}: write "
                                  "MODALITY@RATE, parts joined by '+'")
        return cls(rates)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.rates.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Configuration) and dict(self.rates) == dict(other.rates)

    def check(self, mods: Mapping[str, ModalityInput]) -> None:
        """Raise :class:`ConfigError` if the network cannot serve this configuration."""
        if not self.rates:
            raise ConfigError("a configuration needs at least one modality switched on")
        for m, r in self.rates.items():
            if m not in mods:
                raise ConfigError(f"configuration uses modality {m!r}; the network has "
                                  f"{sorted(mods)}")
            if r not in mods[m].rates_hz:
                raise ConfigError(f"configuration runs {m} at {r:g}; the network was trained "
                                  f"for {list(mods[m].rates_hz)}")


def default_configuration(mods: Mapping[str, ModalityInput]) -> Configuration:
    """Every modality on at its native rate."""
    return Configuration({m: spec.native for m, spec in mods.items()})


def _subsets(names: Sequence[str]) -> Iterator[tuple[str, ...]]:
    for k in range(1, len(names) + 1):
        yield from itertools.combinations(names, k)


def configurations(mods: Mapping[str, ModalityInput], *,
                   every_rate: bool = True) -> list[Configuration]:
    """All configurations the network declares it supports.

    Args:
        mods: The network's modalities.
        every_rate: Cross every subset with every rate of its modalities; otherwise each subset
            at native rates plus each single rate change from the full set.
    """
    names = sorted(mods)
    out: list[Configuration] = []
    for subset in _subsets(names):
        if every_rate:
            for rates in itertools.product(*(mods[m].rates_hz for m in subset)):
                out.append(Configuration(dict(zip(subset, rates, strict=True))))
        else:
            out.append(Configuration({m: mods[m].native for m in subset}))
    if not every_rate:
        full = default_configuration(mods)
        for m in names:
            for r in mods[m].rates_hz[1:]:
                out.append(Configuration({**full.rates, m: r}))
    return out
