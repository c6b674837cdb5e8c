"""What a configuration costs, from the power models: the budget policy's price list.

Modalities are priced by the part that delivers them (their declaration's
:class:`~sensekit.modalities.PowerEntry`): modalities of one part (the accelerometer and the
gyroscope of an IMU) share its draw, in the first mode that delivers all of those that are on
(``accel_only`` for the accelerometer alone, ``accel_gyro`` once the gyroscope is on), or the
mode an operating point names (the low-power cycle mode). A rate is priced with the mode's
per-Hz term; an image modality's value is its side in pixels, priced at the declared frame
rate with the pixels of the readout its table lists for that size (else ``value ** 2``). A
duty-cycled part is priced at its average: on for its share of the period, asleep for the
rest, plus one wake-up per period.

:func:`with_tables` prices the same modalities with other parts (a rig's own power tables).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from ..errors import ConfigError
from ..fusion.inputs import Configuration
from ..modalities import Modality, declarations, delivering_mode, registered
from ..power.model import SLEEP, load_power_model
from .operating import OperatingPoint

__all__ = ["TABLE_SETS", "configuration_power_w", "default_devices", "modality_power_w",
           "point_power_w", "utility", "with_tables"]

#: Named sets of power tables a Pi rig would use for the same modalities: part -> table (a
#: part not named keeps its declared table). ``pi-usb``: the declared tables (MPU-6050 IMU,
#: AK8963 magnetometer, USB microphone dongle, u-blox M8 GPS, BH1750 light, BMP280 barometer,
#: Pi Camera v2); ``pi-i2s``: the same with an I2S MEMS microphone (TDK ICS-43434), whose
#: low-power mode is enough for a sound level.
TABLE_SETS: dict[str, dict[str, str]] = {
    "pi-usb": {},
    "pi-i2s": {"microphone": "ics43434"},
}


def with_tables(decls: Mapping[str, Modality], tables: Mapping[str, str]) -> dict[str, Modality]:
    """``decls`` priced by other power tables: part (``PowerEntry.device``, such as
    ``microphone``) -> table name. Parts not named keep their declared table.

    Raises:
        ConfigError: a table does not exist, or a part named is no declaration's.
    """
    parts = {d.power.device for d in decls.values() if d.power is not None}
    unknown = sorted(set(tables) - parts)
    if unknown:
        raise ConfigError(f"power tables given for {unknown}: no such part; parts: "
                          f"{sorted(parts)}")
    for table in tables.values():
        load_power_model(table)  # fail now, naming the shipped tables
    return {m: replace(d, power=replace(d.power, model=tables[d.power.device]))
            if d.power is not None and d.power.device in tables else d
            for m, d in decls.items()}


def _decls(names: Mapping[str, float], modalities: Mapping[str, Modality] | None
           ) -> dict[str, Modality]:
    table = declarations(names) if modalities is None else {
        m: modalities[m] for m in names if m in modalities}
    missing = [m for m in names if m not in table or table[m].power is None]
    if missing:
        raise ConfigError(f"no power entry declared for {', '.join(sorted(missing))}: "
                          "declare one (sensekit.modalities.PowerEntry) to price it")
    return table


def _device_w(rates: Mapping[str, float], decls: Mapping[str, Modality],
              mode: str | None = None, duty: tuple[float, float] | None = None) -> float:
    """One part's draw with ``rates`` (its modalities that are on), in ``mode`` (default: the
    delivering one), averaged over a ``duty`` cycle if it has one."""
    entry = next(iter(decls.values())).power
    assert entry is not None
    table = load_power_model(entry.model)
    mode = mode or delivering_mode(list(decls.values()), table.modes)
    if mode is None:
        raise ConfigError(f"no mode of {entry.model} delivers {', '.join(sorted(decls))} at "
                          "once (their declarations' turn-down modes)")
    row = table.mode(mode)
    value = max(rates.values())
    if entry.frame_rate_hz is not None:
        side = int(value)
        readout = table.readout(mode, (side, side))
        on = row.watts(entry.frame_rate_hz, readout.pixels if readout else side ** 2)
    else:
        on = row.watts(value)
    if duty is None:
        return on
    on_s, period_s = duty
    asleep = table.modes[SLEEP].watts() if SLEEP in table.modes else 0.0
    wake = table.transition(SLEEP, mode)
    return (on * on_s + asleep * (period_s - on_s) + (wake.energy_j if wake else 0.0)) / period_s


def point_power_w(point: OperatingPoint, modalities: Mapping[str, Modality] | None = None
                  ) -> float:
    """Average sensor power of an operating point in watts (modes and duty cycles priced).

    Raises:
        ConfigError: a modality declares no power entry.
    """
    decls = _decls(point.rates, modalities)
    by_device: dict[str, dict[str, float]] = {}
    for m, value in point.rates.items():
        power = decls[m].power
        assert power is not None
        by_device.setdefault(power.device, {})[m] = value
    total = 0.0
    for rates in by_device.values():
        mode = next((point.modes[m] for m in rates if m in point.modes), None)
        duty = next((point.duty[m] for m in rates if m in point.duty), None)
        total += _device_w(rates, {m: decls[m] for m in rates}, mode, duty)
    return total


def configuration_power_w(config: Configuration,
                          modalities: Mapping[str, Modality] | None = None) -> float:
    """Sensor power of ``config`` in watts, each part in its delivering mode (inference is
    charged separately, per window).

    Raises:
        ConfigError: a modality declares no power entry.
    """
    return point_power_w(OperatingPoint(config), modalities)


def modality_power_w(full: Configuration,
                     modalities: Mapping[str, Modality] | None = None) -> dict[str, float]:
    """What each modality of ``full`` adds to its part's draw at its rate in ``full``: the
    order in which to turn them down. A part's modalities are added cheapest first (the
    accelerometer costs ``accel_only``, the gyroscope what ``accel_gyro`` adds to that)."""
    decls = _decls(full.rates, modalities)
    out: dict[str, float] = {}
    for device in {d.power.device for d in decls.values() if d.power is not None}:
        mine = {m: v for m, v in full.rates.items()
                if (p := decls[m].power) is not None and p.device == device}
        alone = sorted(mine, key=lambda m: (configuration_power_w(
            Configuration({m: mine[m]}), decls), m))
        before = 0.0
        for k, m in enumerate(alone):
            now = configuration_power_w(Configuration({x: mine[x] for x in alone[:k + 1]}),
                                        decls)
            out[m], before = now - before, now
    return out


def default_devices(fields: Mapping[str, Sequence[str]],
                    modalities: Mapping[str, Modality] | None = None
                    ) -> dict[str, tuple[str, str]]:
    """Stream -> (power model, active mode) for the energy ledger of a replay.

    Args:
        fields: Each recorded stream's fields; a stream carries a declared modality when it
            holds that modality's source fields.
        modalities: Declarations (default: every declared modality).

    A stream is charged as the part of the first modality it carries, in the mode that
    delivers all of that part's modalities it carries; a stream no declaration names is not
    in the result.
    """
    decls = registered() if modalities is None else modalities
    out = {}
    for stream, have in fields.items():
        mine = [d for d in decls.values() if d.power is not None and any(
            s.stream == stream and set(s.fields) <= set(have) for s in d.input.sources)]
        if not mine:
            continue
        power = mine[0].power
        assert power is not None
        table = load_power_model(power.model)
        mode = delivering_mode([d for d in mine if d.power == power], table.modes)
        if mode is not None:
            out[stream] = (power.model, mode)
    return out


def utility(config: Configuration, modalities: Mapping[str, Modality] | None = None) -> float:
    """A prior for how informative a configuration is, used by the budget policy.

    One point per modality, weighted by how much of its native rate it keeps. It is a prior,
    not a measurement: the evaluation report measures the real accuracy of each choice.
    """
    decls = declarations(config.rates) if modalities is None else modalities
    return sum(min(v / (decls[m].input.native if m in decls else v), 1.0)
               for m, v in config.rates.items())
