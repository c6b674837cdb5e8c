"""Replayed streams priced by the part that delivers them: one ledger entry per part.

A phone export carries its accelerometer and gyroscope as two streams (``accel``, ``gyro``);
a rig's MPU-6050 delivers both in one (``imu``). Either way one part draws the power: its
modalities are declared with the same :class:`~sensekit.modalities.PowerEntry` ``device``.
:class:`Parts` follows every replayed stream's state and charges the ledger once per part:

- asleep while every one of its streams is asleep (one wake-up when the first wakes);
- in the mode that serves its most demanding stream (the one its table prices highest: the
  gyroscope's ``accel_gyro`` over the accelerometer's ``accel_only``);
- at the highest rate any of its streams runs at (one sample-rate divider);
- a camera at the frame size asked of it (its table's readout decides the pixels charged).

The ledger sees only the part's settled state after each controller step (:meth:`Parts.sync`),
so a wake-up into a mode is one wake-up, not a wake-up and then a switch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..clock import Clock
from ..driver import ModeChange
from ..modalities import Modality
from ..packets import Packet
from ..power.ledger import EnergyLedger
from ..power.model import PowerModel, load_power_model
from .replay import RecordedDevice

__all__ = ["PartState", "Parts", "replay_devices", "stream_parts"]


@dataclass(frozen=True)
class PartState:
    """What a part is doing: asleep or in a mode, at a rate, at a frame size."""

    asleep: bool
    mode: str
    rate_hz: float
    size: tuple[int, int] | None = None


def _carries(decl: Modality, stream: str, fields: Sequence[str]) -> bool:
    return any(s.stream == stream and set(s.fields) <= set(fields) for s in decl.input.sources)


def stream_parts(fields: Mapping[str, Sequence[str]], decls: Mapping[str, Modality]
                 ) -> dict[str, tuple[str, str, list[Modality]]]:
    """Stream -> (part, power table, the declared modalities it carries), for every stream a
    priced declaration claims (a stream no declaration prices is not in the result)."""
    out = {}
    for stream, have in fields.items():
        mine = [d for d in decls.values() if d.power is not None and _carries(d, stream, have)]
        if mine:
            power = mine[0].power
            assert power is not None
            out[stream] = (power.device, power.model,
                           [d for d in mine if d.power is not None
                            and d.power.device == power.device])
    return out


def replay_devices(streams: Mapping[str, Packet], clock: Clock,
                   decls: Mapping[str, Modality]) -> dict[str, RecordedDevice]:
    """A :class:`RecordedDevice` per recorded stream, asleep: the first plan wakes what it
    needs (each part's first wake-up is charged). A stream a declaration prices follows its
    part's table (modes, wake-up and switch times) and its modalities' decimation path."""
    parts = stream_parts({s: list(p.fields) for s, p in streams.items()}, decls)
    out = {}
    for stream, packet in streams.items():
        _, model_name, mine = parts.get(stream, ("", "", []))
        model = load_power_model(model_name) if model_name else None
        mode = _first_mode(mine, model)
        dev = RecordedDevice(stream, packet.t_ns, dict(packet.fields), modality=packet.modality,
                             power=model, active_mode=mode, modalities=mine, clock=clock)
        dev.open()
        dev.sleep(reason="replay starts with every part asleep")
        out[stream] = dev
    return out


def _first_mode(decls: Sequence[Modality], model: PowerModel | None) -> str | None:
    if model is None:
        return None
    for d in decls:
        for mode in d.turn_down.modes:
            if mode in model.modes:
                return mode
    return model.active_modes[0]


class Parts:
    """Charges ``ledger`` per part for the states of the replayed ``devices``.

    Args:
        ledger: The energy ledger (its sensors are the parts).
        devices: Stream -> replayed device.
        decls: The declarations that price the streams.
        t_ns: When charging starts (every part asleep).
    """

    def __init__(self, ledger: EnergyLedger, devices: Mapping[str, RecordedDevice],
                 decls: Mapping[str, Modality], t_ns: int) -> None:
        self.ledger = ledger
        self.devices = dict(devices)
        parts = stream_parts({s: list(d.fields) for s, d in devices.items()}, decls)
        self.streams: dict[str, list[str]] = {}
        self.models: dict[str, PowerModel] = {}
        for stream, (part, model, _) in parts.items():
            self.streams.setdefault(part, []).append(stream)
            self.models[part] = load_power_model(model)
        self.state: dict[str, PartState] = {}
        for part, table in self.models.items():
            first = self.devices[self.streams[part][0]]
            state = PartState(True, first.mode, float(first.rate_hz or 0.0), None)
            self.state[part] = state
            ledger.add_sensor(part, table, mode=state.mode, rate_hz=state.rate_hz, t_ns=t_ns,
                              asleep=True, size_from=self._size_of(part))

    def _size_of(self, part: str) -> Callable[[], tuple[int, int] | None]:
        return lambda: self.state[part].size

    def part_of(self, stream: str) -> str | None:
        return next((p for p, ss in self.streams.items() if stream in ss), None)

    def settled(self, part: str) -> PartState:
        """The part's state from its streams' states now."""
        devs = [self.devices[s] for s in self.streams[part]]
        awake = [d for d in devs if not d.asleep]
        old = self.state[part]
        if not awake:
            return PartState(True, old.mode, old.rate_hz, old.size)
        table = self.models[part]
        rate = max(float(d.rate_hz or 0.0) for d in awake)
        mode = max((d.mode for d in awake), key=lambda m: table.mode(m).watts(rate))
        sized = next((d.size for d in awake if len(d.size) == 2), None)
        size = (int(sized[0]), int(sized[1])) if sized else None
        return PartState(False, mode, rate, size)

    def sync(self, t_ns: int) -> None:
        """Charge each part's settled state from ``t_ns`` on (call after every step)."""
        for part in self.models:
            new, old = self.settled(part), self.state[part]
            if new == old:
                continue
            changes: list[tuple[str, Any, Any]] = []
            if new.asleep and not old.asleep:
                changes.append(("power", "awake", "asleep"))
            else:
                if new.mode != old.mode or new.size != old.size:
                    changes.append(("mode", old.mode, new.mode))
                if new.rate_hz != old.rate_hz:
                    changes.append(("rate", old.rate_hz, new.rate_hz))
                if old.asleep:  # configured while asleep, then woken into it
                    changes.append(("power", "asleep", "awake"))
            self.state[part] = new
            for setting, was, now in changes:
                self.ledger.record(ModeChange(t_ns, part, part, setting, was, now, "replay"))

    @property
    def capped(self) -> int:
        """Streams asked for a rate above what they were recorded at (delivered as
        recorded)."""
        return int(np.sum([d.capped for d in self.devices.values() if not d.asleep]))
