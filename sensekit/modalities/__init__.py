"""The sensor set: every modality declared once, with everything sensekit needs to know about it.

A :class:`Modality` says where its data comes from and what the network takes
(:class:`~sensekit.fusion.inputs.ModalityInput`: streams and fields, feature extractor, encoder,
input resolution and the rates the controller may choose), how the sampling controller turns
it down (:class:`TurnDown`: rate, device modes, standby and economy modes), which power table
prices it (:class:`PowerEntry`) and its cheap informativeness score (:class:`Score`). The
fusion network, the controller, the energy ledger and the aligner read the declaration; none of
them tests a modality's name.

The built-in declarations are in :mod:`sensekit.modalities.builtin` (a barometer is its
``PRESSURE``). Adding one is one declaration, plus an encoder or feature extractor registered
by name where the built-in ones do not fit; an 8 x 8 thermal array, for instance::

    from sensekit.fusion.inputs import ModalityInput, Source
    from sensekit.modalities import Modality, PowerEntry, Score, TurnDown, register

    register(Modality(
        "thermal",
        ModalityInput("image", 1, (8.0,), sources=(
            Source("thermal", ("temp_c",), "thermal_frame"),)),   # a registered extractor
        TurnDown("switch", modes=("continuous",)),
        PowerEntry("amg8833", device="thermal"),                  # its power table
        Score("range", role="change", options={"half": 2.0})))

Third-party packages declare theirs as ``Modality`` objects in the ``sensekit.modalities``
entry-point group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._registry import Declarations
from ..errors import ConfigError
from ..fusion.inputs import ModalityInput

__all__ = ["CONTROLS", "RIG_SET", "ROLES", "Modality", "PowerEntry", "Score", "TurnDown",
           "declarations", "delivering_mode", "get", "names", "register", "registered"]

#: A part's output in these kinds of mode is one measurement per sample (a duty-cycled
#: accelerometer wakes, takes one, sleeps): lowering its rate is point sampling, no low-pass.
POINT = "point"

#: How a configuration value reaches a device: ``rate`` (``set_rate``, Hz), ``size``
#: (``set_mode(size_mode, size=(v, v))``: an image resolution in pixels) or ``switch`` (on or
#: off only; the value is a feature rate, such as log-mel frames per second).
CONTROLS = ("rate", "size", "switch")
#: What a score tells a policy: ``motion`` (a change of what the wearer does shows here first;
#: the adaptive policy's anchor), ``change`` (the scene changed: worth watching while it does),
#: ``level`` (how much is going on; loud all the time tells nothing new).
ROLES = ("motion", "change", "level")
#: The rig's six modalities, as the shipped simulator-trained network takes them.
RIG_SET = ("accel", "gyro", "audio", "camera", "gps", "light")


@dataclass(frozen=True)
class TurnDown:
    """How the sampling controller turns a modality down.

    Attributes:
        control: One of :data:`CONTROLS`.
        modes: Device modes that deliver this modality, cheapest first. The device runs in
            the first mode that delivers every one of its modalities that is on (an IMU runs
            ``accel_only`` for the accelerometer alone, ``accel_gyro`` once the gyroscope is
            on). Empty: the device's own mode.
        size_mode: The mode a ``size`` control sets (``dnn``).
        photo_mode: A one-shot high-resolution mode the dual-mode switch may use (``photo``).
        standby: A low-power mode the device can wait in instead of sleeping, watching for
            change by itself (an IMU's ``wake_on_motion``; a GPS's ``power_save`` keeps a hot
            start).
        economy: A low-power mode that still delivers (a GPS in ``power_save``).
        lowpass_hz: Anti-alias low-pass settings the part chooses from when its rate is
            lowered (the widest at or below half the new rate; see :meth:`cutoff_hz`).
        keep_on: The adaptive policy keeps it on by default (cheap, or needed most).
        settings: Mode -> the rates (image sizes) the part offers this modality in that mode:
            the static configurations' choices (an accelerometer's normal mode at 100-5 Hz,
            its duty-cycled low-power mode at 40-1.25 Hz). Empty: its input's rates in each of
            its delivering ``modes``.
        point_modes: Modes in which each sample is one measurement with no digital filter
            before it (a duty-cycled accelerometer, a magnetometer, a light sensor): a lower
            rate keeps every n-th measurement (point sampling).
        duty_cycles: ``(on_s, period_s)`` schedules the part may be duty-cycled at (a GPS
            woken for 10 s of every minute), each wake-up charged from its power table.
    """

    control: str = "switch"
    modes: tuple[str, ...] = ()
    size_mode: str = ""
    photo_mode: str = ""
    standby: str = ""
    economy: str = ""
    lowpass_hz: tuple[float, ...] = ()
    keep_on: bool = False
    settings: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    point_modes: tuple[str, ...] = ()
    duty_cycles: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.control not in CONTROLS:
            raise ConfigError(f"turn-down control {self.control!r} unknown; use one of "
                              f"{CONTROLS}")
        if self.control == "size" and not self.size_mode:
            raise ConfigError("a 'size' control needs the mode it sets (size_mode='dnn')")
        for on_s, period_s in self.duty_cycles:
            if not 0 < on_s < period_s:
                raise ConfigError(f"duty cycle {on_s:g}/{period_s:g} s: need 0 < on < period")

    def cutoff_hz(self, mode: str | None, rate_hz: float) -> float | None:
        """The low-pass the part applies before it hands out samples at ``rate_hz`` in
        ``mode``: the widest declared setting at or below half the rate (the narrowest when
        none is), as the MPU-6050's DLPF_CFG is chosen (Register Map rev 4.2, register 26,
        p. 13); None where each sample is a single measurement (``point_modes``, or no
        low-pass declared): point sampling."""
        if not self.lowpass_hz or (mode is not None and mode in self.point_modes):
            return None
        fitting = [b for b in self.lowpass_hz if b <= rate_hz / 2]
        return max(fitting) if fitting else min(self.lowpass_hz)


@dataclass(frozen=True)
class PowerEntry:
    """Which power table prices a modality.

    Attributes:
        model: Power-model table (``sensekit/power/tables/<model>.toml``) of the part a rig
            uses for it.
        device: Modalities with the same device share one part and one power draw (the
            accelerometer and the gyroscope of an IMU), whatever streams they arrive on.
        frame_rate_hz: For an image modality (value = side in pixels): the frame rate it is
            priced at, with ``value ** 2`` pixels per frame (or the pixels of the readout
            its table lists for that frame size).
        separate_rates: The part runs its modalities at rates of their own (most IMUs share
            one sample-rate divider between accelerometer and gyroscope: False).
    """

    model: str
    device: str
    frame_rate_hz: float | None = None
    separate_rates: bool = False


@dataclass(frozen=True)
class Score:
    """A modality's cheap informativeness score (:mod:`sensekit.controller.scores`).

    Attributes:
        scorer: Registered scorer name.
        role: One of :data:`ROLES`.
        options: The scorer's settings (its half-point, for one).
        streams: The source streams it reads (default: every one); a source whose samples
            mean something else (PCM, where the others carry a level) is left out.
    """

    scorer: str
    role: str = "level"
    options: Mapping[str, Any] = field(default_factory=dict)
    streams: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ConfigError(f"score role {self.role!r} unknown; use one of {ROLES}")


@dataclass(frozen=True)
class Modality:
    """One modality, declared once.

    Attributes:
        name: Its name in configurations, weights and policies (``accel``).
        input: What the network takes and where it comes from.
        turn_down: How the controller turns it down.
        power: Which power table prices it (None: not priced; refused by the ledger).
        score: Its informativeness score (None: policies see no score for it).
        doc: What it is, one line.
        stats: Its second resolution, where it has one: a few window statistics that do not
            depend on the sampling rate or the sensor's orientation (``features`` layout,
            :mod:`sensekit.fusion.window_stats`), what the network trained on real phones
            takes. ``input`` is the raw resolution (a series at its rate, a frame, log-mel).
    """

    name: str
    input: ModalityInput
    turn_down: TurnDown = field(default_factory=TurnDown)
    power: PowerEntry | None = None
    score: Score | None = None
    doc: str = ""
    stats: ModalityInput | None = None

    def __post_init__(self) -> None:
        if not self.input.sources:
            raise ConfigError(f"modality {self.name!r} declares no source stream")
        if self.turn_down.control == "size" and self.input.kind != "image":
            raise ConfigError(f"modality {self.name!r}: a 'size' control needs an image input")
        if self.stats is not None and (self.stats.kind != "features" or not self.stats.sources):
            raise ConfigError(f"modality {self.name!r}: its stats input needs the 'features' "
                              "layout and a source")

    @property
    def stream(self) -> str:
        """The preferred stream."""
        return self.input.sources[0].stream

    @property
    def streams(self) -> tuple[str, ...]:
        """Every stream it can come from, in order of preference."""
        return self.input.streams

    @property
    def rates_hz(self) -> tuple[float, ...]:
        """Native rate (or resolution) first, then the reduced ones the controller may pick."""
        return self.input.rates_hz

    def stream_in(self, available: Sequence[str] | Mapping[str, Any]) -> str | None:
        """The first of its streams that ``available`` holds; where ``available`` maps streams
        to something with ``fields`` (a packet, a replayed stream), one that holds the
        source's fields (a rig's ``imu`` stream without ``mag_ut`` is no magnetometer)."""
        for src in self.input.sources:
            if src.stream not in available:
                continue
            have = getattr(available[src.stream], "fields", None) \
                if isinstance(available, Mapping) else None
            if have is None or set(src.fields) <= set(have):
                return src.stream
        return None

    def settings(self) -> dict[str, tuple[float, ...]]:
        """Mode -> rates the part offers this modality in (``TurnDown.settings``, else the
        input's rates in each delivering mode)."""
        if self.turn_down.settings:
            return {m: tuple(r) for m, r in self.turn_down.settings.items()}
        return dict.fromkeys(self.turn_down.modes or ("",), self.rates_hz)

    def cutoff_hz(self, mode: str | None, rate_hz: float) -> float | None:
        """See :meth:`TurnDown.cutoff_hz`."""
        return self.turn_down.cutoff_hz(mode, rate_hz)


def delivering_mode(decls: Sequence[Modality],
                    available: Sequence[str] | Mapping[str, Any] | None = None) -> str | None:
    """The first device mode that delivers every one of ``decls`` (modalities of one device
    that are on), in the order the first of them lists its modes, among the modes the part
    has (``available``: its driver's or power table's modes; default any); None if no mode
    delivers them all (the device keeps its own mode)."""
    lists = [d.turn_down.modes for d in decls if d.turn_down.modes]
    common = [m for m in lists[0] if all(m in other for other in lists[1:])] if lists else []
    if available is not None:
        common = [m for m in common if m in available]
    return common[0] if common else None


def _builtin() -> tuple[Modality, ...]:
    from .builtin import BUILTIN

    return BUILTIN


_DECLARED = Declarations("modality", "sensekit.modalities", _builtin, Modality)


def register(decl: Modality, *, replace: bool = False) -> Modality:
    """Add a modality to the sensor set (``replace``: override one of the same name)."""
    return _DECLARED.register(decl, replace=replace)


def registered() -> Mapping[str, Modality]:
    """Every declared modality by name (built-ins first, in declaration order)."""
    return dict(_DECLARED.table())


def names() -> list[str]:
    """Names of every declared modality."""
    return list(_DECLARED.table())


def get(name: str) -> Modality:
    """The declaration of ``name``.

    Raises:
        ConfigError: no such modality (the message suggests close names).
    """
    return _DECLARED.get(name)


def declarations(modalities: Mapping[str, Any] | Sequence[str]) -> dict[str, Modality]:
    """The declarations of the named modalities that are declared (others are left out: a
    network may take inputs that no sensor produces, such as a data set's channels)."""
    table = _DECLARED.table()
    return {m: table[m] for m in modalities if m in table}
