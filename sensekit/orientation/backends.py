"""The filters behind :class:`~sensekit.orientation.Ahrs`, chosen by name.

- ``"vqf"``: VQF (Laidig and Seel, 2023; the ``vqf`` package, C++), the most accurate
  published filter on BROAD and fast enough for any rate in batch. Its gyroscope bias
  estimation, inertial-frame accelerometer low-pass and magnetic disturbance rejection are its
  own; sensekit feeds it hard-iron-corrected fields, moves its state across rate changes, and
  sets its heading and field reference when the hard-iron estimate changes the field it sees.
- ``"complementary"``: sensekit's own filter in plain Python (:mod:`.complementary`), for
  devices where ``vqf`` is not installed (it publishes no aarch64 wheels, so a Pi builds it
  from source or goes without).

``"auto"`` takes ``vqf`` when it imports and the complementary filter otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError

__all__ = ["BACKENDS", "Backend", "BackendOutput", "VqfBackend", "make_backend", "whole_6d"]

Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: name -> what it is, for errors and ``sensekit bench ahrs``.
BACKENDS = {"vqf": "VQF (vqf package, C++)", "complementary": "sensekit complementary filter",
            "auto": "vqf when installed, else complementary"}


@dataclass(frozen=True)
class BackendOutput:
    """Per-sample results of one backend update (N samples)."""

    quat6d: Array
    quat9d: Array | None
    bias_rads: Array
    rest: BoolArray
    mag_disturbed: BoolArray | None


class Backend(Protocol):
    """What :class:`~sensekit.orientation.Ahrs` needs from a filter."""

    name: str

    def update(self, gyr: Array, acc: Array, mag: Array | None) -> BackendOutput:
        """Filter N samples (rad/s, m/s^2, uT; ``mag`` rows of zeros are skipped)."""

    def set_rate(self, rate_hz: float) -> None:
        """Carry the state over to a new sample rate."""

    def set_mag_reference(self, norm_ut: float, dip_rad: float, heading_rad: float) -> None:
        """Trust fields of this norm and dip, pointing at ``heading_rad`` in the 6-axis
        frame (clockwise from its y axis): the new calibration's field, taken at once."""

    @property
    def heading_offset_rad(self) -> float:
        """The heading offset now applied to the 6-axis frame (as in
        :meth:`set_mag_reference`)."""

    def state(self) -> dict[str, Any]:
        """A snapshot that :meth:`restore` takes back."""

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state` snapshot."""


def make_backend(name: str, rate_hz: float) -> Backend:
    """Build the backend ``name`` at ``rate_hz``.

    Raises:
        ConfigError: unknown name, or ``"vqf"`` asked for and not installed.
    """
    if name not in BACKENDS:
        raise ConfigError(f"unknown AHRS backend {name!r}; known: {', '.join(BACKENDS)}")
    if name in ("vqf", "auto"):
        try:
            return VqfBackend(rate_hz)
        except ImportError as exc:
            if name == "vqf":
                raise ConfigError(
                    f"AHRS backend 'vqf' needs the Python package 'vqf' ({exc}). Hint: pip "
                    "install 'sensekit[ahrs]' (on aarch64 this builds vqf from source and "
                    "needs a C++ compiler), or use backend='complementary'") from exc
    from .complementary import ComplementaryBackend

    return ComplementaryBackend(rate_hz)


def whole_6d(name: str, rate_hz: float, gyr: Array, acc: Array) -> BackendOutput:
    """The 6-axis orientation of a whole recording (no magnetometer).

    ``"vqf"``: VQF's offline variant (``vqf.offlineVQF``): VQF run forwards and backwards in
    time, the two bias estimates combined by their covariances, the gyroscope integrated with
    that bias and the accelerometer low-passed forwards and backwards in the integrated frame.
    It is non-causal: every sample's estimate uses the samples after it.
    ``"complementary"``: the complementary filter run forwards (causal), from a fresh state.
    """
    if name == "vqf":
        from vqf import offlineVQF

        c = np.ascontiguousarray
        out = offlineVQF(c(gyr, np.float64), c(acc, np.float64), None, 1.0 / rate_hz)
        return BackendOutput(out["quat6D"], None, out["bias"], out["restDetected"], None)
    from .complementary import ComplementaryBackend

    return ComplementaryBackend(rate_hz).update(gyr, acc, None)


#: VQF low-pass filter states, the output each one last gave, and the time constant (a
#: parameter name, or None for the accelerometer filter whose coefficients VQF keeps as
#: ``accLp``) they run with. A rate change rescales each state for the new coefficients the
#: way VQF's own ``setTauAcc`` does.
_LP_STATES = (("accLpState", "lastAccLp", "accLp"),
              ("restGyrLpState", "restLastGyrLp", "restGyrLp"),
              ("restAccLpState", "restLastAccLp", "restAccLp"),
              ("magNormDipLpState", "magNormDip", "magNormDipLp"))


class VqfBackend:
    """VQF with the state kept across rate changes and hard-iron updates."""

    name = "vqf"

    def __init__(self, rate_hz: float) -> None:
        from vqf import VQF

        self._cls = VQF
        self._vqf = VQF(1.0 / rate_hz)
        self.rate_hz = rate_hz

    def update(self, gyr: Array, acc: Array, mag: Array | None) -> BackendOutput:
        c = np.ascontiguousarray
        out = self._vqf.updateBatch(c(gyr, np.float64), c(acc, np.float64),
                                    None if mag is None else c(mag, np.float64))
        return BackendOutput(out["quat6D"], out.get("quat9D"), out["bias"],
                             out["restDetected"], out.get("magDistDetected"))

    def set_rate(self, rate_hz: float) -> None:
        if math.isclose(rate_hz, self.rate_hz, rel_tol=1e-9):
            return
        old_state, old_coeffs = self._vqf.state, self._vqf.coeffs
        new = self._cls(1.0 / rate_hz, **self._vqf.params)
        new_coeffs = new.coeffs
        for state_key, last_key, coeff in _LP_STATES:
            _adapt(old_state, state_key, old_state[last_key], old_coeffs, new_coeffs, coeff)
        # The motion bias filters run on the accelerometer coefficients; VQF keeps no last
        # output for them, and with a small b0 the first state element stands in (as VQF's
        # own setTauAcc does).
        for key in ("motionBiasEstRLpState", "motionBiasEstBiasLpState"):
            s = np.asarray(old_state[key], np.float64)
            _adapt(old_state, key, s[0::2], old_coeffs, new_coeffs, "accLp")
        new.state = old_state
        self._vqf, self.rate_hz = new, rate_hz

    def set_mag_reference(self, norm_ut: float, dip_rad: float, heading_rad: float) -> None:
        s = self._vqf.state
        s.update(magRefNorm=norm_ut, magRefDip=dip_rad, magCandidateNorm=norm_ut,
                 magCandidateDip=dip_rad, magCandidateT=0.0, magDistDetected=False,
                 magRejectT=0.0, delta=heading_rad,
                 magUndisturbedT=float(self._vqf.params["magMinUndisturbedTime"]))
        self._vqf.state = s

    @property
    def heading_offset_rad(self) -> float:
        return float(self._vqf.state["delta"])

    def state(self) -> dict[str, Any]:
        return {"rate_hz": self.rate_hz, "vqf": _plain(self._vqf.state)}

    def restore(self, state: dict[str, Any]) -> None:
        self.set_rate(float(state["rate_hz"]))
        self._vqf.state = {k: (np.asarray(v, np.float64) if isinstance(v, list) else v)
                           for k, v in state["vqf"].items()}


def _adapt(state: dict[str, Any], key: str, last: Any, old: dict[str, Any],
           new: dict[str, Any], coeff: str) -> None:
    from vqf import VQF

    s = np.array(state[key], np.float64)
    if not np.all(np.isfinite(s)):
        return  # not started yet: VQF initialises it from the next samples
    b_old, a_old = np.asarray(old[coeff + "B"], np.float64), np.asarray(old[coeff + "A"])
    b_new, a_new = np.asarray(new[coeff + "B"], np.float64), np.asarray(new[coeff + "A"])
    VQF.filterAdaptStateForCoeffChange(np.array(last, np.float64), b_old,
                                       np.asarray(a_old, np.float64), b_new,
                                       np.asarray(a_new, np.float64), s)
    state[key] = s


def _plain(state: dict[str, Any]) -> dict[str, Any]:
    return {k: (np.asarray(v).tolist() if isinstance(v, (np.ndarray, list)) else v)
            for k, v in state.items()}
