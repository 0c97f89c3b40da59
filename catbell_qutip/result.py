"""The result of one protocol point (docs/model.md sections 3.6 and 4)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from ._checks import PrecisionError
from ._qutip import qutip
from .bell import (
    bell_fidelity,
    chsh_from_fidelity,
    chsh_horodecki,
    chsh_numerical,
    qber_z,
)
from .codes import codes_of, mean_photon_numbers
from .formulas import entanglement_rate, secret_key_rate
from .outputs import json_ready
from .params import ProtocolParams
from .protocol import Outcome

__all__ = ["ProtocolResult", "herald", "P_FLOOR", "STATE_TOL", "check_heralded_state",
           "normalise"]

#: Heralding probabilities below this count as 0 (no attempt heralds): the smallest normal
#: double divided by the machine epsilon, ~1.0e-292. Below it the entries of the
#: unnormalised heralded state are subnormal, their rounding (~5e-324) exceeds double
#: precision relative to P, and rho / P would overflow; F, S and Q are undefined there.
P_FLOOR = float(np.finfo(float).tiny / np.finfo(float).eps)


#: How far a normalised heralded state may be from a density matrix before F, S and Q are
#: refused (:func:`check_heralded_state`): in max |rho - rho^dagger|, |tr rho - 1| and the
#: most negative eigenvalue. The engines' rounding leaves ~1e-15 (coherent engine, at any P
#: above :data:`P_FLOOR`) and at most ~3e-10 (Fock engine, linear-optics USD, at its
#: resolution floor :data:`catbell_qutip.api.FOCK_LINEAR_P_FLOOR`); a cutoff keeps the
#: state positive (it projects), so truncation does not count against this.
STATE_TOL = 1e-9


def check_heralded_state(rho, P=None, *, tol: float = STATE_TOL) -> None:
    """Refuse a normalised heralded state that is not a density matrix to within ``tol``.

    Parameters
    ----------
    rho : ndarray, shape (..., 4, 4)
        Normalised two-atom states (NaN entries, points where nothing heralds, are skipped).
    P : float or ndarray, optional
        Their heralding probabilities (broadcast with the batch), named in the message.
    tol : float
        Largest deviation allowed in max |rho - rho^dagger|, |tr rho - 1| and
        -(smallest eigenvalue) (default :data:`STATE_TOL`, 1e-9).

    Returns
    -------
    None
        Returns when every point is a density matrix to within ``tol``.

    Raises
    ------
    catbell_qutip._checks.PrecisionError
        Where any point deviates by more than ``tol``: rounding has overtaken the state
        there, and F, S, Q computed from it (and clipped) would read as physical numbers
        (docs/model.md 3.6: rho is a density matrix). The message names the worst point.

    Examples
    --------
    >>> import numpy as np
    >>> check_heralded_state(np.diag([0.5, 0, 0, 0.5]))  # a state: nothing happens
    >>> from catbell_qutip._checks import PrecisionError
    >>> try:
    ...     check_heralded_state(np.diag([0.6, -0.1, 0, 0.5]), P=1e-70)
    ... except PrecisionError as exc:
    ...     print(str(exc)[:52])
    the heralded state at P = 1e-70 is not a density mat
    """
    rho = np.asarray(rho)
    if rho.ndim == 2:  # one point (a single simulate() call): the same tests, fewer calls
        if np.isnan(rho).any():
            return
        dag = rho.conj().T
        herm = np.abs(rho - dag).max()
        trace = abs(rho.trace().real - 1.0)
        low = np.linalg.eigvalsh(0.5 * (rho + dag))[0]
        if max(herm, trace, -low) <= tol:
            return
    ok = ~np.isnan(rho).any(axis=(-2, -1))
    if not np.any(ok):
        return
    r = rho[ok]
    herm = np.max(np.abs(r - np.conj(np.swapaxes(r, -1, -2))), axis=(-2, -1))
    trace = np.abs(np.real(np.trace(r, axis1=-2, axis2=-1)) - 1.0)
    low = np.linalg.eigvalsh(0.5 * (r + np.conj(np.swapaxes(r, -1, -2))))[..., 0]
    worst = np.maximum(np.maximum(herm, trace), -low)
    if not np.any(worst > tol):
        return
    i = int(np.argmax(worst))
    where = ""
    if P is not None:
        p = np.broadcast_to(np.asarray(P, dtype=float), ok.shape)[ok][i]
        where = f" at P = {p:.3g}"
    n_bad, n = int(np.sum(worst > tol)), int(worst.size)
    count = f" ({n_bad} of {n} points; the worst shown)" if n > 1 else ""
    raise PrecisionError(
        f"the heralded state{where} is not a density matrix to within {tol:g}{count} "
        f"(smallest eigenvalue {low[i]:.3g}, |tr rho - 1| = {trace[i]:.3g}, "
        f"|rho - rho^dagger| = {herm[i]:.3g}): rounding has overtaken it, so F, S and Q "
        "are not computed")


def normalise(rho_unnorm: np.ndarray, P) -> np.ndarray:
    """rho = rho_unnorm / P, checked (:func:`check_heralded_state`); NaN where P == 0.

    The one place a heralded state is normalised: :func:`summarise` (both engines, every
    entry point) and the repeater's link states go through it.

    Parameters
    ----------
    rho_unnorm : ndarray, shape (..., 4, 4)
        Unnormalised heralded two-atom states (trace P).
    P : float or ndarray, shape (...)
        Heralding probabilities (dimensionless, in [0, 1]).

    Returns
    -------
    ndarray, shape (..., 4, 4)
        The normalised states (trace 1), NaN where P == 0.

    Raises
    ------
    catbell_qutip._checks.PrecisionError
        If a normalised state is not a density matrix to within :data:`STATE_TOL`.

    Examples
    --------
    >>> import numpy as np
    >>> rho = normalise(np.diag([0.25, 0, 0, 0.25]), 0.5)
    >>> float(np.trace(rho)), float(rho[0, 0])
    (1.0, 0.5)
    >>> bool(np.isnan(normalise(np.zeros((2, 4, 4)), np.array([0.0, 0.0]))).all())
    True
    """
    if np.ndim(P) == 0 and P > 0:
        rho = rho_unnorm / P
    else:
        ok = np.asarray(P) > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = rho_unnorm / np.where(ok, P, 1.0)[..., None, None]
        rho = np.where(ok[..., None, None], rho, np.nan)
    check_heralded_state(rho, P)
    return rho


def herald(outcomes: list[Outcome]):
    """Sum the conclusive outcomes: (P, unnormalised heralded state (..., 4, 4)).

    The one place P is made a probability: rounding is clipped into [0, 1] and P below
    :data:`P_FLOOR` is 0 (docs/model.md 3.6: P is the total probability of the
    conclusive records).

    Parameters
    ----------
    outcomes : list of Outcome
        The records of one run; ``rho_ab`` is None for an inconclusive one.

    Returns
    -------
    P : float or numpy.ndarray
        Heralding probability (dimensionless, in [0, 1]), shape (...).
    rho : numpy.ndarray
        The unnormalised heralded two-atom state, shape (..., 4, 4), trace P.

    Examples
    --------
    Two conclusive records of weight 0.3 and 0.2 and an inconclusive one:

    >>> import numpy as np
    >>> rec = [Outcome(0, 0, "even", 0.3, np.eye(4) * 0.3 / 4),
    ...        Outcome(0, 0, "odd", 0.2, np.eye(4) * 0.2 / 4),
    ...        Outcome(0, 0, "inconclusive", 0.5, None)]
    >>> P, rho = herald(rec)
    >>> round(float(P), 12), rho.shape
    (0.5, (4, 4))
    """
    rho = sum(o.rho_ab for o in outcomes if o.rho_ab is not None)
    P = np.real(np.trace(rho, axis1=-2, axis2=-1))
    P = np.where(P < P_FLOOR, 0.0, np.minimum(P, 1.0))
    return (P[()] if P.ndim == 0 else P), rho


@dataclass(frozen=True, eq=False)
class ProtocolResult:
    """What :func:`catbell_qutip.simulate` returns.

    Parameters
    ----------
    params : ProtocolParams
        The point simulated.
    engine : str
        "fock" or "coherent".
    P : float
        Heralding probability: total probability of a conclusive attempt, in [0, 1].
    F : float or None
        Heralded fidelity <phi+|rho_ab|phi+>, every outcome weighted by its own probability.
        None where P = 0 (nothing heralds: F, S, Q, ``rho_ab`` and the key rate are
        undefined there).
    S : float or None
        Maximal CHSH value of ``rho_ab`` (Horodecki criterion).
    Q : float or None
        Bit-error rate of key rounds (A0 = B_key = sz), in [0, 1].
    rho_array : ndarray, shape (4, 4), or None
        Heralded, Pauli-frame-corrected two-atom state (trace 1) in the basis |up up>,
        |up down>, |down up>, |down down>; None where P = 0.
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

    Attributes
    ----------
    rho_ab : qutip.Qobj or None
        ``rho_array`` as a Qobj (dims [[2, 2], [2, 2]], trace 1), built on first access.

    Examples
    --------
    For l = 0, P = 1 - exp(-2 eta |alpha|^2) and F = (1 + exp(-2 (1 - eta) |alpha|^2)) / 2
    (:mod:`catbell_qutip.closed_forms`):

    >>> import catbell_qutip as cb
    >>> r = cb.simulate(loss_order=0, alpha=1.0, eta=0.9, engine="coherent")
    >>> round(r.P, 9), round(r.F, 9), r.cutoff, r.rho_ab.dims
    (0.834701112, 0.909365377, None, [[2, 2], [2, 2]])
    """

    params: ProtocolParams
    engine: str
    P: float
    F: float | None
    S: float | None
    Q: float | None
    rho_array: np.ndarray | None = field(repr=False)
    cutoff: int | None
    truncation_error: float
    outcomes: list = field(repr=False)

    @functools.cached_property
    def rho_ab(self) -> qutip.Qobj | None:
        if self.rho_array is None:
            return None
        return qutip.Qobj(self.rho_array, dims=[[2, 2], [2, 2]])

    @property
    def R_eg(self) -> float | None:
        """Entanglement-generation rate P / max(L / c_f, t0) in Hz (docs/model.md section 4).

        None when L = 0 and t0 = 0: an attempt then takes no time and no rate is defined.
        """
        if not float(self.params.attempt_time_s) > 0:
            return None
        pr = self.params
        return float(entanglement_rate(self.P, pr.length_km, pr.t0_s, pr.wait_rule))

    @property
    def key_rate(self) -> float | None:
        """DI-QKD key rate R_eg (1 - h(Q) - chi(S)) in bit/s, clipped at 0 (docs/model.md 4)."""
        if self.R_eg is None or self.S is None:
            return None
        pr = self.params
        return float(secret_key_rate(self.P, self.S, self.Q, pr.length_km, pr.t0_s,
                                     pr.wait_rule))

    @property
    def S_closed_form(self) -> float | None:
        """2 sqrt(1 + (2F - 1)^2): equals S when rho_ab is F phi+ + (1 - F) phi-."""
        return None if self.F is None else float(chsh_from_fidelity(self.F))

    @property
    def S_numerical(self) -> float:
        """CHSH maximised numerically over measurement directions."""
        return chsh_numerical(self.rho_ab)

    @property
    def mean_photon_number(self) -> float:
        """<n> of the light Alice sends (|Theta_N>, or the primitive with the explicit
        encoder), before any loss (:func:`catbell_qutip.codes.mean_photon_numbers`)."""
        return float(mean_photon_numbers(self.params))

    def code_info(self) -> dict:
        """The code of this point: family, N, its own parameters and the mean photon
        number of the light Alice sends (docs/model.md 7)."""
        info = codes_of(self.params)[0].describe()
        info["mean_photon_number"] = self.mean_photon_number
        return info

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
        """JSON-ready summary (:mod:`catbell_qutip.outputs`): undefined values (F, S, Q,
        rates where P = 0) are None, and so is ``params["t_c_s"]`` for an ideal memory
        (t_c = inf)."""
        def num(v):
            return None if v is None or not math.isfinite(v) else float(v)

        return {
            "engine": self.engine,
            "P": float(self.P),
            "F": num(self.F),
            "S": num(self.S),
            "Q": num(self.Q),
            "R_eg_hz": num(self.R_eg),
            "key_rate_bit_s": num(self.key_rate),
            "cutoff": self.cutoff,
            "truncation_error": float(self.truncation_error),
            "code": json_ready(self.code_info()),
            "params": json_ready({k: getattr(self.params, k) for k in self.params.as_dict()}),
        }


def summarise(rho_unnorm: np.ndarray, P: np.ndarray):
    """(rho, F, S, Q) from the unnormalised heralded state; NaN where P == 0.

    ``P`` as :func:`herald` returns it (0 below :data:`P_FLOOR`). The state is checked
    first (:func:`normalise`: a :class:`~catbell_qutip._checks.PrecisionError` where it is
    not a density matrix to :data:`STATE_TOL`), so F and Q are clipped into [0, 1] and S
    into [0, 2 sqrt 2] only to remove rounding.

    Parameters
    ----------
    rho_unnorm : numpy.ndarray
        Unnormalised heralded state, shape (..., 4, 4), of trace ``P``.
    P : float or numpy.ndarray
        Heralding probability, shape (...).

    Returns
    -------
    tuple
        The normalised state rho (..., 4, 4), F, S (in [0, 2 sqrt 2]) and Q, all
        dimensionless; NaN where P = 0.

    Raises
    ------
    catbell_qutip._checks.PrecisionError
        Some heralded state is not a density matrix to :data:`STATE_TOL` (Hermitian,
        trace 1, positive semidefinite).

    Examples
    --------
    phi+ with weight 0.5, and a point that does not herald:

    >>> import numpy as np
    >>> phi = np.array([1, 0, 0, 1]) / np.sqrt(2)
    >>> rho, F, S, Q = summarise(0.5 * np.outer(phi, phi), 0.5)
    >>> round(float(F), 12), round(float(S), 9), round(float(Q), 12)
    (1.0, 2.828427125, 0.0)
    >>> summarise(np.zeros((1, 4, 4)), np.array([0.0]))[1]
    array([nan])
    """
    rho = normalise(rho_unnorm, P)
    if np.ndim(P) == 0 and P > 0:  # one point that succeeds: no masking needed
        F, S, Q = bell_fidelity(rho), chsh_horodecki(rho), qber_z(rho)
    else:
        ok = np.asarray(P) > 0
        F = bell_fidelity(rho)
        S = np.where(ok, chsh_horodecki(np.where(ok[..., None, None], rho, 0.0)), np.nan)
        Q = qber_z(rho)
    return rho, np.clip(F, 0.0, 1.0), np.clip(S, 0.0, 2.0 * math.sqrt(2.0)), np.clip(Q, 0.0, 1.0)
