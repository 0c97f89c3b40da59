"""Finite-size keys of simulated protocol points: how many rounds, how long, how much key.

A protocol point (any :class:`~catbell_qutip.params.ProtocolParams`, any code, decoder and
engine; the keyword arguments go to :func:`catbell_qutip.simulate` untouched) gives the
heralded, Pauli-frame-corrected two-atom state, its heralding probability P and the
entanglement-generation rate R_eg = P / max(L / c_f, t0) (docs/model.md section 4). On that
state the protocol measures the CHSH settings of :func:`.statistics.chsh_settings` (largest
S) and the key setting aligned with Alice's A0, which gives S and Q per heralded round;
:mod:`.bound` turns (n, S, Q) into a key length. Rounds are heralded pairs, so

- n rounds take n / R_eg seconds; the time to the first key is the smallest n with a key of
  at least one bit (:func:`.bound.min_rounds`) over R_eg;
- T hours of running give n = floor(R_eg T 3600) rounds.

The asymptotic key per round 1 - h(Q) - chi(S) equals the product's key rate over R_eg
(:attr:`catbell_qutip.ProtocolResult.key_rate`) wherever Q = the state's z bit-error rate,
e.g. for the paper's states F phi+ + (1 - F) phi-.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._checks import NoHeraldWarning, check_count, check_real
from ..api import simulate
from ..keyrate import peak_key_rate
from ..panels import PANELS, panel_fields
from ..paper import LENGTH_FIG4_KM
from .bound import (
    EPS_COMPLETENESS,
    EPS_SOUND,
    MAX_ROUNDS,
    asymptotic_key_per_round,
    check_bound_options,
    finite_key,
    min_rounds,
)
from .statistics import protocol_statistics_of_state

__all__ = ["protocol_statistics", "finite_key_at", "key_vs_rounds", "FIG4_PANELS",
           "MAX_HOURS", "fig4_points", "run_time_vs_distance", "HeraldError"]

#: the paper's Fig. 4 panels (10 km, l = 0 and 1; docs/model.md section 6)
FIG4_PANELS = ("fig4a", "fig4b", "fig4c")
#: amplitudes scanned by :func:`fig4_points` before refining (as ``catbell reproduce``)
N_ALPHA = 200
#: longest run time :func:`finite_key_at` accepts, hours (114 years; at any R_eg below
#: 2.7e8 Hz it stays under :data:`.bound.MAX_ROUNDS` rounds)
MAX_HOURS = 1e6


class HeraldError(ValueError):
    """A protocol point at which no attempt heralds (P = 0): no rounds, no key.

    Parameters
    ----------
    message : str
        What is wrong and what to do (the usual :class:`ValueError` argument).

    Examples
    --------
    A ValueError, so callers that catch bad input catch it too:

    >>> issubclass(HeraldError, ValueError)
    True
    """


def protocol_statistics(loss_order=None, alpha=None, *, engine: str = "coherent",
                        params=None, **protocol) -> dict:
    """S, Q and the rates of one protocol point, from its heralded two-atom state.

    Parameters
    ----------
    loss_order, alpha : int, float
        As :func:`catbell_qutip.simulate` (or ``params``).
    engine : {"coherent", "fock"}
        Default "coherent" (truncation-free; the Fock engine gives the same state).
    params : ProtocolParams, optional
        A complete parameter object instead.
    **protocol
        Any other protocol parameter, passed to :func:`catbell_qutip.simulate` as is.

    Returns
    -------
    dict
        ``S``, ``Q`` (per heralded round), ``P`` (heralding probability per attempt),
        ``R_eg_hz`` (heralded rounds per second; None when L = 0 and t0 = 0), ``table``
        (p(a, b | x, y)), ``settings`` and ``result`` (the :class:`ProtocolResult`).

    Raises
    ------
    HeraldError
        If P = 0 (e.g. alpha = 0): the point cannot herald.

    Examples
    --------
    l = 0 over 10 km (docs/model.md section 5: S = 2 sqrt(1 + (2F - 1)^2), Q = 0):

    >>> st = protocol_statistics(0, 0.7, length_km=10.0)
    >>> round(st["S"], 9) == round(st["result"].S, 9), st["Q"] < 1e-12
    (True, True)
    """
    if params is not None:
        res = simulate(params=params, engine=engine)
    else:
        res = simulate(loss_order, alpha, engine=engine, **protocol)
    if not res.P > 0:
        raise HeraldError(
            f"no attempt heralds at this point (P = 0, e.g. alpha = "
            f"{float(res.params.alpha):g}): there are no rounds and no key; give alpha > 0 "
            "and transmissions > 0")
    st = protocol_statistics_of_state(res.rho_array)
    return {"S": st["S"], "Q": st["Q"], "P": float(res.P), "R_eg_hz": res.R_eg,
            "table": st["table"], "settings": st["settings"], "result": res}


def finite_key_at(loss_order=None, alpha=None, *, rounds=None, hours=None,
                  engine: str = "coherent", eps_sound=EPS_SOUND,
                  eps_completeness=EPS_COMPLETENESS, bound_options=None, params=None,
                  **protocol) -> dict:
    """The finite-size key of one protocol point: after ``rounds`` rounds, after ``hours``
    hours, and the time to the first key.

    Parameters
    ----------
    loss_order, alpha, engine, params, **protocol
        The point, as :func:`protocol_statistics`.
    rounds : int, optional
        Heralded rounds n (integer in [1, :data:`.bound.MAX_ROUNDS`]).
    hours : float, optional
        Run time T in hours, in (0, :data:`MAX_HOURS`]: n = floor(R_eg T 3600).
    eps_sound, eps_completeness : float
        As :func:`.bound.finite_key`.
    bound_options : dict, optional
        Further arguments of :func:`.bound.finite_key` (``ec_efficiency``, ``gamma``, ...).

    Returns
    -------
    dict
        ``S``, ``Q``, ``P``, ``R_eg_hz``, ``asymptotic_key_per_round``, ``min_rounds``
        (None: no key at any n), ``time_to_first_key_s`` (None without a key or a rate),
        and, if asked, ``at_rounds`` (the :class:`.bound.FiniteKey` at n = rounds, with
        ``run_time_s``) and ``after_hours`` (the one at n = floor(R_eg T 3600), with
        ``rounds``).

    Raises
    ------
    HeraldError
        If no attempt heralds at the point (P = 0).
    ValueError
        If ``rounds``, ``hours`` or an option of the bound is invalid
        (:class:`~catbell_qutip._checks.ParameterError`, checked before the simulation),
        or ``hours`` is given where R_eg is undefined (L = 0 and t0 = 0).

    Examples
    --------
    >>> r = finite_key_at(0, 0.7, length_km=10.0, rounds=10 ** 9)
    >>> r["at_rounds"]["key"].key_per_round < r["asymptotic_key_per_round"]
    True
    """
    opts = dict(bound_options or {}, eps_sound=eps_sound, eps_completeness=eps_completeness)
    check_bound_options(**opts)  # before the simulation, and also where S <= 2 (no key)
    if rounds is not None:
        rounds = check_count(rounds, "rounds", high=MAX_ROUNDS,
                             what="a number of heralded rounds")
    if hours is not None:
        hours = check_real(hours, "hours", low=0.0, low_open=True, high=MAX_HOURS, unit="h")
    st = protocol_statistics(loss_order, alpha, engine=engine, params=params, **protocol)
    S, Q, rate = st["S"], st["Q"], st["R_eg_hz"]
    from_bound = S > 2.0
    out = {k: st[k] for k in ("S", "Q", "P", "R_eg_hz", "result")}
    out["asymptotic_key_per_round"] = float(asymptotic_key_per_round(S, Q))
    n_min = min_rounds(S, Q, **opts) if from_bound else None
    out["min_rounds"] = n_min
    out["time_to_first_key_s"] = (n_min / rate if n_min is not None and rate else None)
    if rounds is not None:
        key = finite_key(rounds, S, Q, **opts) if from_bound else None
        out["at_rounds"] = {"rounds": rounds, "key": key,
                            "run_time_s": rounds / rate if rate else None}
    if hours is not None:
        if not rate:
            raise ValueError("hours needs a rate: R_eg is undefined at L = 0 with t0 = 0; "
                             "give length_km > 0 or t0_s > 0, or give rounds instead")
        n = math.floor(rate * hours * 3600.0)
        key = (finite_key(n, S, Q, **opts) if from_bound and n >= 1 else None)
        out["after_hours"] = {"hours": hours, "rounds": n, "key": key}
    return out


def key_vs_rounds(S, Q, rounds, **options) -> dict:
    """Key per round against n (ascending), each optimum warm-starting the next.

    Parameters
    ----------
    S, Q : float
        As :func:`.bound.finite_key`.
    rounds : array_like
        Numbers of rounds (integers >= 1), ascending.
    **options
        Arguments of :func:`.bound.finite_key`.

    Returns
    -------
    dict
        ``rounds`` (ndarray), ``key_per_round``, ``key_length_bits``, ``gamma`` (optimal
        test fraction) and ``dominant`` (list of str), each per n.

    Raises
    ------
    ValueError
        If a number of rounds is not an integer >= 1
        (:class:`~catbell_qutip._checks.ParameterError`) or ``rounds`` is not ascending.

    Examples
    --------
    Perfect correlations (S = 2 sqrt 2, Q = 0) have 1 bit per round asymptotically; a
    finite run keeps less:

    >>> r = key_vs_rounds(2 * 2 ** 0.5, 0.0, [1e8])
    >>> bool(0 < r["key_per_round"][0] < 1), r["rounds"].tolist()
    (True, [100000000.0])
    """
    ns = [check_count(v, "rounds", what="a number of heralded rounds")
          for v in np.atleast_1d(rounds)]
    if any(b < a for a, b in zip(ns, ns[1:], strict=False)):
        raise ValueError("rounds must be ascending")
    keys, bits, gammas, dom = [], [], [], []
    start = None
    for n in ns:
        r = finite_key(n, S, Q, start=start, **options)
        if r.key_length_bits == 0:  # restart from the coarse grid until the key appears
            r2 = finite_key(n, S, Q, **options)
            r = r2 if r2.key_length > r.key_length else r
        start = (r.params["gamma"], r.params["t"], r.params["alpha1"] - 1.0)
        keys.append(r.key_per_round)
        bits.append(r.key_length_bits)
        gammas.append(r.params["gamma"])
        dom.append(r.dominant)
    return {"rounds": np.asarray(ns, dtype=float), "key_per_round": np.asarray(keys),
            "key_length_bits": np.asarray(bits, dtype=float), "gamma": np.asarray(gammas),
            "dominant": dom}


def _peak_alpha(loss_order, length_km, panel, engine, overrides):
    fields = panel_fields(panel, overrides)
    fields.pop("length_km", None)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NoHeraldWarning)
        return peak_key_rate(loss_order, alpha_max=panel.alpha_max, n_scan=N_ALPHA,
                             engine=engine, length_km=length_km, **fields)


def fig4_points(loss_orders=(0, 1), *, panels=FIG4_PANELS, engine: str = "coherent",
                overrides=None) -> list:
    """The paper's Fig. 4 operating points: for each panel (4a-c) and code, the amplitude of
    the peak asymptotic key rate at 10 km (as ``catbell reproduce`` finds it:
    :func:`catbell_qutip.keyrate.peak_key_rate`, 200 amplitudes up to the panel's alpha_max,
    then Brent) and the protocol's S, Q, R_eg there.

    Parameters
    ----------
    loss_orders : sequence of int, optional
        Codes l to evaluate (default (0, 1)).
    panels : sequence of str, optional
        Names out of :data:`FIG4_PANELS` (default all).
    engine : {"coherent", "fock"}, optional
        Simulation engine (default "coherent").
    overrides : dict, optional
        ProtocolParams fields replacing the panel preset's.

    Returns
    -------
    list of dict
        ``panel``, ``loss_order``, ``alpha`` (None: no key at any alpha), ``S``, ``Q``,
        ``R_eg_hz``, ``asymptotic_key_per_round`` and ``key_rate_bit_s`` (asymptotic).
        Units: km, Hz, bit per round, bit/s.

    Raises
    ------
    ValueError
        If a panel name is not in :data:`FIG4_PANELS`.

    Examples
    --------
    The asymptotic key rate is R_eg (1 - h(Q) - chi(S)):

    >>> import numpy as np
    >>> (p,) = fig4_points((0,), panels=("fig4c",))
    >>> bool(np.isclose(p["key_rate_bit_s"], p["R_eg_hz"] * p["asymptotic_key_per_round"]))
    True
    """
    out = []
    for name in panels:
        if name not in FIG4_PANELS:
            raise ValueError(f"panels: {name!r} is not one of {', '.join(FIG4_PANELS)}")
        panel = next(p for p in PANELS if p.name == name)
        for l in loss_orders:
            a, peak = _peak_alpha(l, LENGTH_FIG4_KM, panel, engine, overrides)
            row = {"panel": name, "loss_order": int(l), "length_km": LENGTH_FIG4_KM,
                   "alpha": None, "S": None, "Q": None, "R_eg_hz": None,
                   "asymptotic_key_per_round": 0.0, "key_rate_bit_s": float(peak)}
            if peak > 0 and math.isfinite(a):
                fields = panel_fields(panel, overrides)
                fields["length_km"] = LENGTH_FIG4_KM
                st = protocol_statistics(l, a, engine=engine, **fields)
                asym = float(asymptotic_key_per_round(st["S"], st["Q"]))
                row.update(alpha=float(a), S=st["S"], Q=st["Q"], R_eg_hz=st["R_eg_hz"],
                           asymptotic_key_per_round=asym)
            out.append(row)
    return out


def run_time_vs_distance(panel_name: str, loss_order: int, lengths_km, *,
                         engine: str = "coherent", overrides=None, progress=None,
                         **options) -> dict:
    """Shortest run to a first key against distance, at the key-optimal amplitude.

    For each length the amplitude maximises the asymptotic key rate (as
    :func:`fig4_points`), the protocol's S, Q and R_eg follow, and the run time is
    min_rounds(S, Q) / R_eg.

    Parameters
    ----------
    panel_name : str
        One of :data:`FIG4_PANELS` (its preset: Table I or channel loss only, t0).
    loss_order : int
    lengths_km : array_like
        Fibre lengths in km (> 0).
    progress : callable, optional
        Called once per length.
    **options
        Arguments of :func:`.bound.finite_key` (``eps_sound``, ...).

    Returns
    -------
    dict
        ``length_km``, ``alpha``, ``S``, ``Q``, ``R_eg_hz``, ``min_rounds`` and
        ``run_time_s``: ndarrays, NaN where there is no key at any amplitude.
        Units: km, 1, 1, 1, Hz, 1, s.

    Raises
    ------
    ValueError
        If a length is not a positive real number
        (:class:`~catbell_qutip._checks.ParameterError`).

    Examples
    --------
    Not run in the doctests (each length needs a key-rate peak and a minimal-rounds
    search: seconds); the run time is min_rounds / R_eg by construction:

    >>> r = run_time_vs_distance("fig4c", 0, [10.0])  # doctest: +SKIP
    >>> bool(np.isclose(r["run_time_s"][0], r["min_rounds"][0] / r["R_eg_hz"][0]))  # doctest: +SKIP
    True
    """
    panel = next(p for p in PANELS if p.name == panel_name)
    L = np.asarray(check_real(np.atleast_1d(lengths_km), "lengths_km", low=0.0,
                              low_open=True, unit="km"), dtype=float)
    cols = {k: np.full(L.size, np.nan) for k in
            ("alpha", "S", "Q", "R_eg_hz", "min_rounds", "run_time_s")}
    guess = None
    for i, length in enumerate(L):
        a, peak = _peak_alpha(loss_order, float(length), panel, engine, overrides)
        if peak > 0 and math.isfinite(a):
            fields = panel_fields(panel, overrides)
            fields["length_km"] = float(length)
            st = protocol_statistics(loss_order, a, engine=engine, **fields)
            n = min_rounds(st["S"], st["Q"], n_guess=guess, **options)
            guess = n
            cols["alpha"][i], cols["S"][i], cols["Q"][i] = a, st["S"], st["Q"]
            cols["R_eg_hz"][i] = st["R_eg_hz"]
            if n is not None:
                cols["min_rounds"][i] = n
                cols["run_time_s"][i] = n / st["R_eg_hz"]
        if progress is not None:
            progress()
    return {"length_km": L, **cols}
