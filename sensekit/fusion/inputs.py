"""What the fusion network is fed: per-modality inputs and the configurations it serves.

Pure Python and numpy (no torch), so the ONNX Runtime inference path and the controller can
read the same declarations the training code uses.

Each modality keeps its own resolution (multi-resolution): an IMU series at its sampling rate,
audio as log-mel frames, a camera frame at the DNN-mode resolution, GPS and light as low-rate
series. A :class:`ModalityInput` says what the network takes and where it comes from (its
:class:`Source` streams and feature extractor); it is the network-facing part of a modality's
declaration in :mod:`sensekit.modalities`, and what weights record. A :class:`Configuration` is
one choice the sampling controller can make: which modalities are on, at which rate, and the
camera resolution.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ConfigError

__all__ = [
    "KINDS",
    "Configuration",
    "ModalityInput",
    "Source",
    "configurations",
    "default_configuration",
    "modalities_from_json",
    "modalities_to_json",
    "sensor_modalities",
    "stats_modalities",
]

#: Input layouts: ``series`` (channels x time steps, a fixed number per rate), ``image``
#: (channels x S x S, the rate is the side S in pixels), ``lowrate`` (channels x however many
#: samples the window holds), ``features`` (channels x 1: one vector of window statistics
#: whatever the rate, :mod:`sensekit.fusion.window_stats`). Which encoder reads an input is a
#: registered name of its own.
KINDS = ("series", "image", "lowrate", "features")


@dataclass(frozen=True)
class Source:
    """Where a modality's input comes from in an aligned window.

    Attributes:
        stream: Stream name in the recording or hub (``"imu"``; a phone export's ``"accel"``).
        fields: Payload fields read from it.
        features: Registered feature extractor that turns them into the network input
            (:mod:`sensekit.fusion.features`).
        options: The extractor's settings (plain JSON, kept in the weights metadata).
        hold_s: A step signal (a sensor that reports only on change): each sample stands until
            the next one, for at most this long (the aligner's hold mode). None: samples are
            points in time and a slot without one is missing.
    """

    stream: str
    fields: tuple[str, ...]
    features: str = "series"
    options: Mapping[str, Any] = field(default_factory=dict)
    hold_s: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {"stream": self.stream, "fields": list(self.fields), "features": self.features,
                "options": dict(self.options), "hold_s": self.hold_s}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Source:
        hold = d.get("hold_s")
        return cls(str(d["stream"]), tuple(d["fields"]), str(d.get("features", "series")),
                   dict(d.get("options", {})), None if hold is None else float(hold))


@dataclass(frozen=True)
class ModalityInput:
    """One modality as the network sees it.

    Attributes:
        kind: Input layout, one of :data:`KINDS`.
        channels: Channels per time step (3 for an accelerometer, mel bands for audio, 3 for RGB).
        rates_hz: Rates the controller may choose, highest first; the first is the native rate.
            For ``image`` these are square resolutions in pixels instead.
        window_s: Window length in seconds.
        fields: Source fields in the aligner's window (the first source's, for documentation).
        sources: Where the input comes from, in order of preference: the first whose stream
            the window holds is used (a rig's ``imu`` stream or a phone export's ``accel``).
        encoder: Registered encoder that reads it (:mod:`sensekit.fusion.encoders`); empty:
            the one named like the layout.
        xyz: Channels are x/y/z triplets of a vector sensor in the body frame (inertial,
            magnetic): the encoder adds each triplet's norm, training rotates them together,
            and normalisation keeps one scale for x, y and z.
    """

    kind: str
    channels: int
    rates_hz: tuple[float, ...]
    window_s: float = 2.0
    fields: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    encoder: str = ""
    xyz: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"modality kind {self.kind!r} unknown; use one of {KINDS}")
        if not self.rates_hz or min(self.rates_hz) <= 0:
            raise ConfigError(f"modality needs positive rates, got {self.rates_hz}")
        if not self.encoder:
            object.__setattr__(self, "encoder", self.kind)
        if self.sources and not self.fields:
            object.__setattr__(self, "fields", self.sources[0].fields)

    @property
    def native(self) -> float:
        """The highest (training) rate, or resolution for images."""
        return self.rates_hz[0]

    @property
    def streams(self) -> tuple[str, ...]:
        """The streams it can come from, in order of preference."""
        return tuple(s.stream for s in self.sources)

    def steps(self, rate: float | None = None) -> int:
        """Time steps in one window at ``rate`` (pixels per side for images)."""
        if self.kind == "features":
            return 1
        r = self.native if rate is None else rate
        return int(r) if self.kind == "image" else max(1, round(r * self.window_s))

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "channels": self.channels, "rates_hz": list(self.rates_hz),
                "window_s": self.window_s, "fields": list(self.fields),
                "encoder": self.encoder, "xyz": self.xyz,
                "sources": [s.as_json() for s in self.sources]}


def modalities_to_json(mods: Mapping[str, ModalityInput]) -> dict[str, Any]:
    """Modalities as plain JSON (weights metadata)."""
    return {name: m.as_json() for name, m in mods.items()}


def modalities_from_json(obj: Mapping[str, Any]) -> dict[str, ModalityInput]:
    """Inverse of :func:`modalities_to_json`; reads the first format too (see
    :func:`_first_format`)."""
    out = {}
    for name, d in obj.items():
        spec = ModalityInput(d["kind"], int(d["channels"]), tuple(map(float, d["rates_hz"])),
                             float(d["window_s"]), tuple(d.get("fields", ())),
                             tuple(Source.from_json(s) for s in d.get("sources", ())),
                             str(d.get("encoder", "")), bool(d.get("xyz", False)))
        out[name] = spec if "sources" in d else _first_format(name, spec)
    return out


#: Modality names whose channels the first weights format took for x/y/z triplets.
_FIRST_FORMAT_XYZ = ("imu", "accel", "gyro", "acc", "mag")


def _first_format(name: str, spec: ModalityInput) -> ModalityInput:
    """Complete a modality of the first weights format, which recorded neither sources nor
    the x/y/z flag: it marked inertial channels by the modality's name, took its inputs from
    the streams and features of the sensekit modality of that name, and held nothing."""
    from ..modalities import registered

    xyz = any(name == p or name.startswith((p + ".", p + "_")) for p in _FIRST_FORMAT_XYZ)
    decl = registered().get(name)
    sources: tuple[Source, ...] = ()
    if decl is not None:
        sources = tuple(replace(s, hold_s=None) for s in decl.input.sources)
    return replace(spec, sources=sources, xyz=xyz)


def sensor_modalities(window_s: float = 2.0, n_mels: int = 32,
                      names: Sequence[str] | None = None) -> dict[str, ModalityInput]:
    """Network inputs of declared modalities (:mod:`sensekit.modalities`).

    Args:
        window_s: Window length.
        n_mels: Mel bands of the log-mel audio input.
        names: Which modalities (default: :data:`~sensekit.modalities.RIG_SET`, the rig's
            six: accelerometer, gyroscope, microphone, camera, GPS, light).
    """
    from ..modalities import RIG_SET, get

    out = {}
    for name in names or RIG_SET:
        spec = replace(get(name).input, window_s=window_s)
        if spec.sources and spec.sources[0].features == "logmel":
            spec = replace(spec, channels=n_mels)
        out[name] = spec
    return out


def stats_modalities(names: Sequence[str]) -> dict[str, ModalityInput]:
    """The rate-free window statistics of declared modalities (their ``stats`` input: the
    network trained on real phones takes these).

    Raises:
        ConfigError: a modality has no statistics declared.
    """
    from ..modalities import get

    out = {}
    for name in names:
        spec = get(name).stats
        if spec is None:
            raise ConfigError(f"modality {name!r} declares no window statistics (its 'stats')")
        out[name] = spec
    return out


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
