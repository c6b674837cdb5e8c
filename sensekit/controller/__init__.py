"""The sampling controller: the only thing that changes rates, modes and power states.

- :class:`Controller` applies a policy's plan through the driver interface (``set_rate``,
  ``set_mode``, ``sleep``, ``wake``), on hardware, emulated devices and replays alike, and logs
  every decision; how each modality reaches its driver is its declaration's
  (:mod:`sensekit.modalities`).
- Policies, registered by name (:data:`~sensekit.controller.policies.POLICIES`):
  :class:`Static` (always-on is the full configuration), :class:`DutyCycle`,
  :class:`Adaptive`, :class:`Budgeted`, and :class:`BudgetCap`, which holds any policy under a
  power budget; built from a rig config's ``[policy]`` by :func:`policy_from_config`. A rig
  that names no policy runs :class:`Default`: the static point chosen on the real tuning
  recordings (:mod:`sensekit.controller.default_policy`), which dominates the adaptive policy
  there.
- Informativeness scores (:mod:`sensekit.controller.scores`), the dual-mode camera switch
  (:mod:`sensekit.controller.dual_mode`), the fusion network as the controller uses it
  (:mod:`sensekit.controller.predictor`), honest replays (:mod:`sensekit.controller.replay`)
  and the evaluation on labelled recordings (:mod:`sensekit.controller.evaluate`, ``sensekit
  evaluate-policy``).
"""

from .adaptive import Adaptive
from .controller import Controller, Decision, decisions_packet, snap
from .default_policy import Default
from .policies import (
    AlwaysOn,
    BudgetCap,
    Budgeted,
    DutyCycle,
    Observation,
    Plan,
    Policy,
    Static,
    policy_from_config,
)

__all__ = ["Adaptive", "AlwaysOn", "BudgetCap", "Budgeted", "Controller", "Decision",
           "Default", "DutyCycle", "Observation", "Plan", "Policy", "Static", "decisions_packet",
           "policy_from_config", "snap"]
