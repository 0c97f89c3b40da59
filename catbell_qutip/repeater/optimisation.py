"""Best amplitude per total distance and number of segments (docs/repeater.md section 5).

:func:`optimise` runs a grid of alpha x n x L through one engine call
(:func:`.chain_model.link_states`), then refines the best grid point of each (n, L) by a
vectorised golden-section search: between its neighbours for the key-rate objective; among the
amplitudes that reach a delivery rate for the "S" objective, the smallest of which is found by
bisection and is always a candidate.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .._checks import (
    NoHeraldWarning,
    ParameterError,
    check_choice,
    check_int,
    check_rate_hz,
    check_real,
)
from ..bell import chsh_horodecki, qber_z
from ..keyrate import key_rate as _key_rate
from ..outputs import dataset
from ..params import ALPHA_MAX, ProtocolParams
from .chain_model import chain, check_chain_options, link_states
from .swap import compose_chain, dephase_output
from .waiting import check_segments, expected_attempts, memory_factors

__all__ = ["OBJECTIVES", "optimise", "check_options"]

#: What :func:`optimise` maximises.
OBJECTIVES = ("key_rate", "S")

_GOLD = (math.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class _Search:
    """One :func:`optimise` call's fixed settings, the one value its refinement steps
    share: the code, the chain's swap settings, the link fields and the amplitude scan
    (``alpha_max``, ``n_alpha`` points, refined to ``xtol``)."""

    loss_order: int
    strategy: str
    p_swap: float
    swap_depol: float
    fields: dict
    alpha_max: float
    n_alpha: int
    xtol: float

    @property
    def grid(self) -> np.ndarray:
        """The amplitude scan, n_alpha points in (0, alpha_max]."""
        return np.linspace(self.alpha_max / self.n_alpha, self.alpha_max, self.n_alpha)

    def chain(self, alpha, L, n):
        """:func:`chain` at these settings (P = 0 points expected: not warned)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=NoHeraldWarning)
            return chain(self.loss_order, alpha, L, n, strategy=self.strategy,
                         p_swap=self.p_swap, swap_depol=self.swap_depol, **self.fields)


def check_options(length_km, segments, *, objective: str = "key_rate",
                  rate_hz: float | None = None, strategy: str = "parallel",
                  p_swap: float = 1.0, swap_depol: float = 0.0, alpha_max: float = 4.0,
                  n_alpha: int = 80, fields: dict | None = None) -> dict:
    """Validate the options of :func:`optimise` (the same names and meaning); return them
    normalised: ``segments`` (list of int), ``length_km`` (1-D float array), ``rate_hz``
    (float or None), ``p_swap``, ``swap_depol``, ``alpha_max`` (floats), ``n_alpha``.

    A delivery rate (objective "S") above 1 / T of the shortest link of the scan (L / n
    at the shortest distance and the most segments; T = max(L / n / c_f, t0) with the
    link parameters ``fields``) is refused here, before any work: a chain delivers at
    most p_swap^(n-1) / (E[attempts] T) <= 1 / T (docs/repeater.md).

    Parameters
    ----------
    length_km : array_like
        Total distances [km].
    segments : sequence of int
        Numbers of segments n.
    objective : {"key_rate", "S"}
        What :func:`optimise` maximises.
    rate_hz : float, optional
        Target delivery rate [Hz] (objective "S" only).
    strategy : {"parallel", "nested", "asap"}
        When the nodes swap.
    p_swap : float
        Success probability of a swap (dimensionless, in (0, 1]).
    swap_depol : float
        Depolarising probability of a swap (dimensionless, in [0, 1]).
    alpha_max : float
        Upper end of the alpha scan (dimensionless amplitude).
    n_alpha : int
        Scan points.
    fields : dict, optional
        Link parameters (:class:`~catbell_qutip.params.ProtocolParams` fields: ``t0_s``
        and ``wait_rule`` set the attempt time), for the delivery-rate bound.

    Returns
    -------
    dict
        The options, normalised as above.

    Raises
    ------
    ValueError
        A :class:`~catbell_qutip._checks.ParameterError` naming the argument.

    Examples
    --------
    >>> opts = check_options([10.0, 20.0], (1, 2))
    >>> opts["segments"], opts["length_km"].tolist(), opts["rate_hz"]
    ([1, 2], [10.0, 20.0], None)
    """
    check_choice(objective, "objective", OBJECTIVES)
    p_swap, swap_depol = check_chain_options(p_swap, swap_depol, strategy)
    segs = [check_segments(s, strategy=strategy) for s in np.atleast_1d(segments).tolist()]
    if not segs:
        raise ParameterError("segments must hold at least one number of segments",
                             "segments")
    if len(set(segs)) != len(segs):
        raise ParameterError("segments lists a number twice; give each n once", "segments")
    L = np.atleast_1d(np.asarray(check_real(length_km, "length_km", low=0.0, low_open=True,
                                            unit="km"), dtype=float))
    if L.ndim != 1:
        raise ParameterError("length_km must be a 1-D grid of total distances", "length_km")
    alpha_max = float(check_real(alpha_max, "alpha_max", low=0.0, low_open=True,
                                 high=ALPHA_MAX))
    n_alpha = check_int(n_alpha, "n_alpha", low=3)
    if objective == "S":
        if rate_hz is None:
            raise ParameterError("objective='S' needs rate_hz, the delivery rate to reach "
                                 "(Hz)", "rate_hz")
        rate_hz = float(check_rate_hz(rate_hz))
        link_km = float(L.min()) / max(segs)
        T = ProtocolParams(loss_order=0, length_km=link_km,
                           **{k: v for k, v in (fields or {}).items()
                              if k not in ("loss_order", "length_km", "alpha")}
                           ).attempt_time_s
        rate_hz = float(check_rate_hz(
            rate_hz, attempt_time_s=T,
            where=f" of the scan's shortest link, {float(L.min()):.4g} km / {max(segs)} "
                  "segments"))
    elif rate_hz is not None:
        raise ParameterError("rate_hz is used only with objective='S'", "rate_hz")
    return {"segments": segs, "length_km": L, "rate_hz": rate_hz, "p_swap": p_swap,
            "swap_depol": swap_depol, "alpha_max": alpha_max, "n_alpha": n_alpha}


def optimise(loss_order: int, length_km, segments, *, objective: str = "key_rate",
             rate_hz: float | None = None, strategy: str = "parallel", p_swap: float = 1.0,
             swap_depol: float = 0.0, alpha_max: float = 4.0, n_alpha: int = 80,
             xtol: float = 1e-7, progress=None, **fields):
    """Best amplitude per total distance and number of segments (docs/repeater.md 5).

    A grid of ``n_alpha`` amplitudes in (0, alpha_max] x every distance x every n runs in
    one coherent-engine call; the best grid point of each (n, L) is then refined by a
    vectorised golden-section search between its neighbours (for "S" only among amplitudes
    that reach the delivery rate, the smallest of which is found by bisection).

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1 of every link.
    length_km : array_like
        1-D grid of total distances in km (> 0).
    segments : sequence of int
        Numbers of segments n to compare.
    objective : {"key_rate", "S"}
        "key_rate": maximise the end-to-end key rate. "S": maximise S among the
        amplitudes whose delivery rate is at least ``rate_hz``. Where S falls with alpha
        (n = 1, or ideal memories) that is the smallest such alpha, the paper's fixed-rate
        convention; with memory a larger alpha shortens the waits and can give a larger S
        (the chain then delivers faster than ``rate_hz``).
    rate_hz : float, optional
        Target delivery rate in Hz (objective "S" only).
    strategy, p_swap, swap_depol
        As in :func:`chain`.
    alpha_max : float
        Upper end of the alpha scan (default 4).
    n_alpha : int
        Scan points (default 80).
    xtol : float
        Refinement tolerance in alpha (default 1e-7).
    progress : callable, optional
        Called with one integer (steps done) after each step; for a progress bar.
    **fields
        Link parameters (any :class:`~catbell_qutip.params.ProtocolParams` field).

    Returns
    -------
    xarray.Dataset
        Dimensions ``segments`` x ``length_km``: ``alpha`` (NaN where nothing is
        reachable: no positive key rate, or the rate unattainable with alpha <=
        ``alpha_max``), and every output of
        :func:`chain` there except ``rho``.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If an option is invalid (:func:`check_options`), e.g. ``rate_hz`` missing with
        objective "S", or a link field is out of range.

    Examples
    --------
    At 50 km one link (n = 1) attempts every L / c_f = 250 us and stays below the
    repeaterless PLOB bound at that clock:

    >>> from catbell_qutip.repeater.plob import plob_clock_s, plob_key_rate
    >>> ds = optimise(0, [50.0], [1, 2], n_alpha=12)
    >>> one = ds.sel(segments=1, length_km=50.0)
    >>> round(float(one.T0_s), 9), float(one.key_rate) < plob_key_rate(50.0, plob_clock_s(50.0))
    (0.00025, True)
    """
    o = check_options(length_km, segments, objective=objective, rate_hz=rate_hz,
                      strategy=strategy, p_swap=p_swap, swap_depol=swap_depol,
                      alpha_max=alpha_max, n_alpha=n_alpha, fields=fields)
    segs, L, rate_hz = o["segments"], o["length_km"], o["rate_hz"]
    search = _Search(int(loss_order), strategy, o["p_swap"], o["swap_depol"], fields,
                     o["alpha_max"], o["n_alpha"], xtol)
    grid = search.grid
    tick = progress or (lambda k: None)

    # one engine call for every (alpha, n, L): link states at L0 = L / n
    n_arr = np.asarray(segs, dtype=float)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NoHeraldWarning)
        link = link_states(loss_order, grid[:, None, None],
                           L[None, None, :] / n_arr[None, :, None], **fields)
    tick(1)
    best = np.full((len(segs), L.size), np.nan)
    for i, n in enumerate(segs):
        res = _from_links(link, i, n, search)
        if objective == "key_rate":
            best[i] = _refine_key(search, res["key_rate"], L, n)
        else:
            best[i] = _refine_rate(search, res["rate_hz"], res["S"], rate_hz, L, n)
        tick(1)
    out = {}
    for i, n in enumerate(segs):
        ok = np.isfinite(best[i])
        a = np.where(ok, best[i], 1.0)
        r = search.chain(a, L, n)
        for k, v in r.items():
            if k == "rho":
                continue
            out.setdefault(k, np.full((len(segs), L.size), np.nan))[i] = np.where(ok, v, np.nan)
        out["key_rate"][i] = np.where(ok, out["key_rate"][i], 0.0)
        out["rate_hz"][i] = np.where(ok, out["rate_hz"][i], 0.0)
    out["alpha"] = best
    data = {k: (("segments", "length_km"), v) for k, v in out.items()}
    coords = {"segments": np.asarray(segs, dtype=int), "length_km": L}
    attrs = {"loss_order": int(loss_order), "objective": objective, "strategy": strategy,
             "p_swap": float(p_swap), "swap_depol": float(swap_depol),
             "alpha_max": alpha_max, "n_alpha": int(n_alpha)}
    if rate_hz is not None:
        attrs["rate_hz"] = rate_hz
    return dataset(data, coords, attrs, names={"rate_hz": "chain_rate_hz"}, long_names={
        "alpha": "optimal amplitude of every link", "length_km": "total distance",
        "F": "end-to-end fidelity to phi+", "S": "end-to-end CHSH value (Horodecki)",
        "Q": "end-to-end bit-error rate of key rounds"})


def _from_links(link, i, n, search: _Search):
    """Chain outputs on the alpha grid for segment index i, from precomputed link states."""
    P = link["P"][:, i, :]
    rho_link = link["rho"][:, i, :]
    T0 = link["T0"][:, i, :]
    t_c = np.broadcast_to(np.asarray(link["params"].t_c_s, dtype=float),
                          link["P"].shape)[:, i, :]
    ok = P > 0
    p_safe = np.where(ok, P, 1.0)
    if n == 1:
        rate = P / T0
        dA = dB = dAB = np.ones(P.shape)
    else:
        attempts = np.asarray(expected_attempts(p_safe, n))
        rate = np.where(ok, search.p_swap ** (n - 1) / (attempts * T0), 0.0)
        dA, dB, dAB = memory_factors(p_safe, n, T0 / t_c, strategy=search.strategy)
    rho = dephase_output(compose_chain([np.nan_to_num(rho_link)] * n,
                                       depol=search.swap_depol),
                         dA, dB, dAB)
    S = chsh_horodecki(rho)
    Q = np.maximum(qber_z(rho), 0.0)
    K = np.where(ok, _key_rate(rate, np.where(ok, np.minimum(S, 2 * np.sqrt(2)), 2.0), Q), 0.0)
    return {"rate_hz": np.where(ok, rate, 0.0), "key_rate": K, "S": np.where(ok, S, np.nan)}


def _refine_key(search: _Search, K, L, n):
    """Golden-section refinement of the key-rate maximum of each column of K (n_alpha, nL)."""
    grid = search.grid
    K = np.nan_to_num(K, nan=0.0)
    i = np.argmax(K, axis=0)
    has = K[i, np.arange(L.size)] > 0
    best = np.full(L.size, np.nan)
    if not has.any():
        return best
    cols = np.nonzero(has)[0]
    ii = i[cols]
    lo = np.where(ii > 0, grid[np.maximum(ii - 1, 0)], grid[0] * 1e-3)
    hi = grid[np.minimum(ii + 1, grid.size - 1)]
    Lc = L[cols]

    def f(a):
        return search.chain(a, Lc, n)["key_rate"]

    a_ref, k_ref = _golden_max(f, lo, hi, search.xtol)
    k_grid = K[ii, cols]
    best[cols] = np.where(k_ref >= k_grid, a_ref, grid[ii])
    return best


def _golden_max(f, lo, hi, xtol):
    """Vectorised golden-section search for the maximum of f on [lo, hi] (arrays)."""
    c = hi - _GOLD * (hi - lo)
    d = lo + _GOLD * (hi - lo)
    fc, fd = f(c), f(d)
    while np.max(hi - lo) > xtol * max(1.0, float(np.max(hi))):
        left = fc >= fd  # the maximum lies in [lo, d]
        hi = np.where(left, d, hi)
        lo = np.where(left, lo, c)
        new = np.where(left, hi - _GOLD * (hi - lo), lo + _GOLD * (hi - lo))
        fn = f(new)
        c, d, fc, fd = (np.where(left, new, d), np.where(left, c, new),
                        np.where(left, fn, fd), np.where(left, fc, fn))
    return np.where(fc >= fd, c, d), np.maximum(fc, fd)


def _refine_rate(search: _Search, R, S, target, L, n):
    """Largest S subject to delivery rate >= target, per column of the (n_alpha, nL) grid.

    The best feasible grid point is refined by golden section between its neighbours; where
    its lower neighbour misses the rate, the bracket starts at the smallest alpha reaching
    it (bisection), which is also a candidate (the answer whenever S falls with alpha).
    """
    grid, xtol = search.grid, search.xtol
    feasible = (R >= target) & np.isfinite(S)
    has = feasible.any(axis=0)
    best = np.full(L.size, np.nan)
    if not has.any():
        return best
    cols = np.nonzero(has)[0]
    Sm = np.where(feasible, S, -np.inf)[:, cols]
    ii = np.argmax(Sm, axis=0)
    Lc = L[cols]

    def run(a):
        return search.chain(np.maximum(a, 1e-12), Lc, n)

    # smallest alpha reaching the rate, below the best grid point when its neighbour misses
    lo_grid = np.where(ii > 0, grid[np.maximum(ii - 1, 0)], 0.0)
    edge = ~((ii > 0) & feasible[np.maximum(ii - 1, 0), cols])
    a_lo, a_hi = lo_grid.copy(), grid[ii].copy()
    while np.any(edge) and np.max(np.where(edge, a_hi - a_lo, 0.0)) > xtol * max(
            1.0, float(np.max(a_hi))):
        mid = 0.5 * (a_lo + a_hi)
        up = run(mid)["rate_hz"] >= target
        a_hi = np.where(edge & up, mid, a_hi)
        a_lo = np.where(edge & ~up, mid, a_lo)
    lo = np.where(edge, a_hi, lo_grid)
    hi = grid[np.minimum(ii + 1, grid.size - 1)]

    def f(a):
        r = run(a)
        return np.where(r["rate_hz"] >= target, np.nan_to_num(r["S"], nan=-np.inf), -np.inf)

    a_gold, s_gold = _golden_max(f, lo, hi, xtol)
    cand_a = np.stack([grid[ii], np.where(edge, a_hi, grid[ii]), a_gold])
    cand_s = np.stack([Sm[ii, np.arange(cols.size)], np.where(edge, f(a_hi), -np.inf), s_gold])
    k = np.argmax(cand_s, axis=0)
    best[cols] = cand_a[k, np.arange(cols.size)]
    return best
