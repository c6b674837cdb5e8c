"""The shipped default policy: one static operating point, chosen on tuning recordings.

On the real transport-mode recordings the adaptive policy is dominated: judged on people held
out of every choice, the static point each fold's tuning people chose matches always-on's
macro-F1 at about 8% of its energy, and the adaptive policy loses some 14 points at the same
energy (``power/README.md``, "Real recordings with the network trained without each held-out
person"). An honest default beats a clever one, so the default is that static point and the
adaptive policy is there by name (``adaptive``) for whoever wants it.

The point is data (:data:`SHIPPED`): what it is, the tables that priced it, the network and the
recordings it was chosen on, and the command that chose it. It covers the modalities the real
recordings carry; a sensor it does not name (camera, microphone, GPS, light, barometer,
gyroscope) stays asleep under the default. A rig that wants one of them names a policy: a
``static`` point of its own (``sensekit evaluate-policy --pareto`` on its own recordings lists
every one with its cost), or ``adaptive``; the dual-mode camera works under either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ConfigError
from .operating import OperatingPoint
from .policies import Policy, PolicyContext, Static

__all__ = ["SHIPPED", "Default", "ShippedPoint"]


@dataclass(frozen=True)
class ShippedPoint:
    """A static operating point shipped as a default, with where it came from.

    Attributes:
        point: The operating point (``OperatingPoint.parse`` syntax).
        tables: The set of power tables that priced it (``sensekit.controller.energy``).
        network: The network it was chosen with.
        chosen_on: The recordings it was chosen on.
        rule: How it was chosen among the static points.
        command: The command that chose it (its ``phone`` choice in the results file).
    """

    point: str
    tables: str
    network: str
    chosen_on: str
    rule: str
    command: str

    def operating_point(self) -> OperatingPoint:
        """The point, parsed."""
        return OperatingPoint.parse(self.point)


#: The default policy's operating point: the accelerometer in its low-power cycle mode at
#: 20 Hz and the magnetometer at 2 Hz, everything else asleep.
SHIPPED = ShippedPoint(
    point="accel@20:accel_low_power+mag@2",
    tables="pi-usb",
    network="real_transport (the shipped default network)",
    chosen_on="us_tmd, all six people (bus left out: one person rode it)",
    rule="the best macro-F1 on the tuning people among the static points that spend no more "
         "than the adaptive policy did on them",
    command="python power/policy_recipe.py real --folds fusion/results/folds --tables pi-usb",
)


@dataclass
class Default(Static):
    """The shipped default: the static point :data:`SHIPPED` holds, on every window.

    Sensors the point does not name stay asleep; the ones it names that a rig lacks are left
    out (a rig with none of them is an error: it would sense nothing).
    """

    spec_help: ClassVar[str] = "default"

    @classmethod
    def from_params(cls, params: Mapping[str, Any], ctx: PolicyContext,
                    name: str = "") -> Policy:
        if params:
            raise ConfigError(f"the default policy takes no params (got {sorted(params)}); "
                              "for another point write name = \"static\" and params = "
                              "{ configuration = \"accel@50+gyro@50\" }")
        point = SHIPPED.operating_point()
        if ctx.full.modalities and not point.configuration.modalities & ctx.full.modalities:
            raise ConfigError(f"the default policy's point {SHIPPED.point} uses "
                              f"{sorted(point.configuration.modalities)}; this rig has "
                              f"{sorted(ctx.full.modalities)}: name a policy for it")
        return cls.of(point, name or "default")

    @classmethod
    def spec_params(cls, arg: str) -> dict[str, Any]:
        if arg:
            raise ConfigError(f"default takes no argument after ':' (got {arg!r}); "
                              f"for another point write static:{arg}")
        return {}
