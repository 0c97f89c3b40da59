"""The end-to-end chain model: link states, then the chain's state and rates (docs/repeater.md).

:func:`link_states` runs the single-link protocol (docs/model.md section 3) on a broadcast grid
of (alpha, L0, link parameters) in one coherent-engine call (docs/repeater.md section 1).
:func:`chain` composes n such links by Bell measurements (:mod:`.swap`, section 2), applies the
exact memory factors of the strategy (:mod:`.waiting`, sections 3 and 4) and gives F, S, Q, the
delivery rate and the DI-QKD key rate of the end-to-end pair (section 5).
"""

from __future__ import annotations

import numpy as np

from .._checks import ParameterError, check_choice, check_real
from ..api import heralded
from ..bell import bell_fidelity, chsh_horodecki, qber_z
from ..keyrate import key_rate as _key_rate
from ..params import ProtocolParams
from ..result import normalise
from .swap import compose_chain, dephase_output
from .waiting import STRATEGIES, check_segments, expected_attempts, memory_factors

__all__ = ["link_states", "chain", "check_chain_options"]


def link_states(loss_order: int, alpha, length_km, *, engine: str | None = None, **fields):
    """Heralded link states of the protocol (docs/model.md section 3) on a broadcast grid.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1.
    alpha : float or ndarray
        Amplitude of each link.
    length_km : float or ndarray
        Link (segment) length L0 in km.
    engine : {"coherent", "fock"}, optional
        Either engine runs the whole grid in one call (:func:`catbell_qutip.api.heralded`);
        default: "coherent" for cat codes, "fock" for the other code families.
    **fields
        Any other :class:`~catbell_qutip.params.ProtocolParams` field.

    Returns
    -------
    dict
        ``P`` (success probability per attempt), ``rho`` (..., 4, 4) (normalised heralded
        state; NaN where P = 0), ``T0`` (attempt time max(L0 / c_f, t0), s) and ``params``.

    Examples
    --------
    l = 0 over 10 km of 0.2 dB/km fibre: P = 1 - exp(-2 eta_f alpha^2) with
    eta_f = 10^(-0.2), and T0 = 10 km / (2e5 km/s) = 50 us:

    >>> import math
    >>> r = link_states(0, 1.0, 10.0)
    >>> math.isclose(r["P"], 1 - math.exp(-2 * 10 ** -0.2)), float(r["T0"])
    (True, 5e-05)
    """
    params = ProtocolParams(loss_order=loss_order, alpha=alpha, length_km=length_km, **fields)
    shape = params.batch_shape
    P, rho_un = heralded(params, engine=engine)
    rho = normalise(rho_un, P)  # checked: a density matrix, or PrecisionError
    T0 = np.broadcast_to(np.asarray(params.attempt_time_s, dtype=float), shape)
    return {"P": P, "rho": rho, "T0": T0, "params": params}


def check_chain_options(p_swap, swap_depol, strategy: str = "parallel"):
    """Validate the swap options of :func:`chain`; return (p_swap, swap_depol) as floats.

    p_swap in (0, 1] (below 1 with the "parallel" strategy only), swap_depol in [0, 1].

    Parameters
    ----------
    p_swap : float
        Success probability of each Bell measurement (dimensionless).
    swap_depol : float
        Depolarising probability of each swap (dimensionless).
    strategy : {"parallel", "nested", "asap"}
        When the nodes swap.

    Returns
    -------
    tuple of float
        ``(p_swap, swap_depol)``.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If a value is out of range, or ``p_swap`` < 1 with a strategy other than
        "parallel".

    Examples
    --------
    >>> check_chain_options(1, 0)
    (1.0, 0.0)
    >>> from catbell_qutip._checks import ParameterError
    >>> try:
    ...     check_chain_options(0.5, 0.0, "nested")
    ... except ParameterError as exc:
    ...     exc.field
    'p_swap'
    """
    check_choice(strategy, "strategy", STRATEGIES)
    p_swap = float(check_real(p_swap, "p_swap", low=0.0, high=1.0, low_open=True))
    swap_depol = float(check_real(swap_depol, "swap_depol", low=0.0, high=1.0))
    if strategy != "parallel" and p_swap < 1.0:
        raise ParameterError(
            f"p_swap = {p_swap:g} < 1 needs strategy='parallel': with the {strategy!r} "
            "strategy a failed swap restarts part of the chain while the rest waits, whose "
            "waiting-time statistics this package does not compute exactly", "p_swap")
    return p_swap, swap_depol


def chain(loss_order: int, alpha, length_km, segments: int, *, strategy: str = "parallel",
          p_swap: float = 1.0, swap_depol: float = 0.0, engine: str | None = None,
          **fields) -> dict:
    """End-to-end figures of merit of an n-segment chain (docs/repeater.md).

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 of every link.
    alpha : float or ndarray
        Amplitude of every link (broadcast with ``length_km`` and the fields).
    length_km : float or ndarray
        TOTAL distance L in km, > 0 (or >= 0 with t0 > 0); each link spans L / n.
    segments : int
        n >= 1 (a power of 2 for ``strategy="nested"``).
    strategy : {"parallel", "nested", "asap"}
        When the nodes swap (:data:`STRATEGIES`). Default "parallel".
    p_swap : float
        Success probability of each Bell measurement, in (0, 1] (default 1). A failed swap
        discards the whole chain; supported for "parallel" only.
    swap_depol : float
        Two-qubit depolarising probability of each swap, in [0, 1] (default 0).
    engine : {"coherent", "fock"}, optional
        Engine of the link states (default: coherent for cat codes, Fock for the others;
        :func:`link_states`).
    **fields
        Any other :class:`~catbell_qutip.params.ProtocolParams` field, for every link
        (``t_c_s`` is also the coherence time of the stored atoms).

    Returns
    -------
    dict of ndarray
        Broadcast shape: ``P_link``, ``F_link``, ``S_link``, ``T0_s`` (attempt time),
        ``attempts`` (E[max N_i]), ``d_A``, ``d_B``, ``d_AB`` (memory factors),
        ``rate_hz`` (delivery rate p_swap^(n-1) / (E[max N_i] T0)), ``F``, ``S``, ``Q``,
        ``key_rate`` (bit/s) and ``rho`` (..., 4, 4), the end-to-end state of (A_1, B_n).
        Where P_link = 0 nothing is delivered: rate and key rate are 0, F, S, Q NaN.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``segments``, ``strategy``, ``p_swap``, ``swap_depol`` or a link field is out
        of range (the message names it).

    Examples
    --------
    One segment is the link itself: F = F_link, E[attempts] = 1 / P and
    rate = P / T0:

    >>> c = chain(0, 1.0, 10.0, 1)
    >>> import math
    >>> (bool(c["F"] == c["F_link"]), math.isclose(c["attempts"], 1 / c["P_link"]),
    ...  math.isclose(c["rate_hz"], c["P_link"] / c["T0_s"]))
    (True, True, True)
    """
    n = check_segments(segments, strategy=strategy)
    p_swap, swap_depol = check_chain_options(p_swap, swap_depol, strategy)
    L = np.asarray(check_real(length_km, "length_km", low=0.0, unit="km"), dtype=float)
    link = link_states(loss_order, alpha, L / n, engine=engine, **fields)
    P, rho_link, T0 = link["P"], link["rho"], link["T0"]
    if np.any(T0 <= 0):
        raise ValueError("the attempt time max(L0 / c_f, t0) is 0 (length_km = 0 and "
                         "t0_s = 0): the delivery rate is infinite; give length_km > 0 or "
                         "t0_s > 0")
    shape = P.shape
    ok = P > 0
    p_safe = np.where(ok, P, 1.0)
    t_c = np.broadcast_to(np.asarray(link["params"].t_c_s, dtype=float), shape)
    x = T0 / t_c
    if n == 1:
        attempts = 1.0 / p_safe
        rate = P / T0
        dA = dB = dAB = np.ones(shape)
    else:
        attempts = np.asarray(expected_attempts(p_safe, n))
        rate = np.where(ok, p_swap ** (n - 1) / (attempts * T0), 0.0)
        dA, dB, dAB = (np.asarray(v) for v in memory_factors(p_safe, n, x, strategy=strategy))
    rho_c = compose_chain([np.where(ok[..., None, None], rho_link, 0.0)] * n, depol=swap_depol)
    rho = dephase_output(rho_c, dA, dB, dAB)
    rho = np.where(ok[..., None, None], rho, np.nan)
    rho_safe = np.nan_to_num(rho)
    nan = np.full(shape, np.nan)
    F = np.where(ok, bell_fidelity(rho_safe), nan)
    S = np.where(ok, chsh_horodecki(rho_safe), nan)
    Q = np.where(ok, qber_z(rho_safe), nan)
    S_link = np.where(ok, chsh_horodecki(np.nan_to_num(rho_link)), nan)
    F_link = np.where(ok, bell_fidelity(np.nan_to_num(rho_link)), nan)
    K = np.where(ok, _key_rate(np.where(ok, rate, 0.0), np.where(ok, S, 2.0),
                               np.where(ok, np.maximum(Q, 0.0), 0.0)), 0.0)
    return {
        "P_link": P, "F_link": F_link, "S_link": S_link, "T0_s": T0,
        "attempts": np.where(ok, attempts, np.inf),
        "d_A": np.where(ok, dA, nan), "d_B": np.where(ok, dB, nan),
        "d_AB": np.where(ok, dAB, nan),
        "rate_hz": np.where(ok, rate, 0.0), "F": F, "S": S, "Q": Q, "key_rate": K,
        "rho": rho,
    }
