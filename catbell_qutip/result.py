"""The result of one protocol point (docs/model.md sections 3.6 and 4)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import qutip

from .bell import (
    bell_fidelity,
    chsh_from_fidelity,
    chsh_horodecki,
    chsh_numerical,
    qber_z,
)
from .formulas import entanglement_rate, secret_key_rate
from .params import ProtocolParams
from .protocol import Outcome

__all__ = ["ProtocolResult", "herald"]


def herald(outcomes: list[Outcome]):
    """Sum the conclusive outcomes: (P, unnormalised heralded state (..., 4, 4))."""
    rho = sum(o.rho_ab for o in outcomes if o.rho_ab is not None)
    P = np.real(np.trace(rho, axis1=-2, axis2=-1))
    return P, rho


@dataclass(frozen=True, eq=False)
class ProtocolResult:
    """What :func:`catbell_qutip.simulate` returns.

    Attributes
    ----------
    params : ProtocolParams
        The point simulated.
    engine : str
        "fock" or "coherent".
    P : float
        Heralding probability: total probability of a conclusive attempt.
    F : float
        Heralded fidelity <phi+|rho_ab|phi+>, every outcome weighted by its own probability.
    S : float
        Maximal CHSH value of ``rho_ab`` (Horodecki criterion).
    Q : float
        Bit-error rate of key rounds (A0 = B_key = sz).
    rho_ab : qutip.Qobj
        Heralded, Pauli-frame-corrected two-atom state (dims [[2, 2], [2, 2]], trace 1);
        built on first access from ``rho_array`` (the same matrix as a (4, 4) ndarray,
        basis |up up>, |up down>, |down up>, |down down>).
    cutoff : int or None
        Fock cutoff (largest photon number kept); None for the coherent engine.
    truncation_error : float
        Probability mass the cutoff dropped from the initial light state (0 for coherent).
        Every later operation keeps or lowers photon numbers, so this is all the truncation
        there is; P is affected by at most about this much and F, S, Q (conditioned on
        success) by at most about ``truncation_error / P``. Both are <= ``tol``.
    outcomes : list of Outcome
        Every classical record (encoder sector, syndrome, USD result) with its probability
        and corrected unnormalised two-atom state.
    """

    params: ProtocolParams
    engine: str
    P: float
    F: float
    S: float
    Q: float
    rho_array: np.ndarray = field(repr=False)
    cutoff: int | None
    truncation_error: float
    outcomes: list = field(repr=False)

    @functools.cached_property
    def rho_ab(self) -> qutip.Qobj:
        return qutip.Qobj(self.rho_array, dims=[[2, 2], [2, 2]])

    @property
    def R_eg(self) -> float | None:
        """Entanglement-generation rate P / max(L / c_f, t0) in Hz (docs/model.md section 4).

        None when L = 0 and t0 = 0: an attempt then takes no time and no rate is defined.
        """
        if not float(self.params.attempt_time_s) > 0:
            return None
        return float(entanglement_rate(self.P, self.params.length_km, self.params.t0_s))

    @property
    def key_rate(self) -> float | None:
        """DI-QKD key rate R_eg (1 - h(Q) - chi(S)) in bit/s, clipped at 0 (docs/model.md 4)."""
        if self.R_eg is None:
            return None
        return float(secret_key_rate(self.P, self.S, self.Q, self.params.length_km,
                                     self.params.t0_s))

    @property
    def S_closed_form(self) -> float:
        """2 sqrt(1 + (2F - 1)^2): equals S when rho_ab is F phi+ + (1 - F) phi-."""
        return float(chsh_from_fidelity(self.F))

    @property
    def S_numerical(self) -> float:
        """CHSH maximised numerically over measurement directions."""
        return chsh_numerical(self.rho_ab)

    def syndrome_probabilities(self) -> dict[int, float]:
        """p(s): probability of each syndrome, all USD results included."""
        out: dict[int, float] = {}
        for o in self.outcomes:
            out[o.syndrome] = out.get(o.syndrome, 0.0) + float(o.probability)
        return out

    def fidelity_by_syndrome(self) -> dict[int, float]:
        """Heralded fidelity conditioned on each syndrome s (over its conclusive outcomes)."""
        num: dict[int, float] = {}
        den: dict[int, float] = {}
        for o in self.outcomes:
            if o.rho_ab is None:
                continue
            num[o.syndrome] = num.get(o.syndrome, 0.0) + float(bell_fidelity(o.rho_ab))
            den[o.syndrome] = den.get(o.syndrome, 0.0) + float(o.probability)
        return {s: num[s] / den[s] for s in num if den[s] > 0}

    def syndrome_average_fidelity(self) -> float:
        """sum_s p(s) F_s: the average over syndromes *not* weighted by USD success.

        docs/model.md section 3.6 warns against this quantity as "the" fidelity; it is kept to
        show how much the heralded F differs from it.
        """
        ps = self.syndrome_probabilities()
        fs = self.fidelity_by_syndrome()
        tot = sum(ps[s] for s in fs)
        return sum(ps[s] * fs[s] for s in fs) / tot

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        return {
            "engine": self.engine,
            "P": float(self.P),
            "F": float(self.F),
            "S": float(self.S),
            "Q": float(self.Q),
            "R_eg_hz": self.R_eg,
            "key_rate_bit_s": self.key_rate,
            "cutoff": self.cutoff,
            "truncation_error": float(self.truncation_error),
            "params": self.params.as_dict(),
        }


def summarise(rho_unnorm: np.ndarray, P: np.ndarray):
    """(rho, F, S, Q) from the unnormalised heralded state; NaN where P == 0."""
    if np.ndim(P) == 0 and P > 0:  # one point that succeeds: no masking needed
        rho = rho_unnorm / P
        return rho, bell_fidelity(rho), chsh_horodecki(rho), qber_z(rho)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = rho_unnorm / np.asarray(P)[..., None, None]
    rho = np.where(np.asarray(P)[..., None, None] > 0, rho, np.nan)
    F = bell_fidelity(rho)
    S = np.where(np.asarray(P) > 0, chsh_horodecki(np.nan_to_num(rho)), np.nan)
    return rho, F, S, qber_z(rho)
