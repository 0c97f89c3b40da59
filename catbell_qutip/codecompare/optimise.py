"""Each code family at its best parameters, many points at once (docs/model.md 4, 7).

Every function here takes a batch of n points (``fields``: ProtocolParams fields, each a
scalar or an array of shape (n,)) and optimises each point independently but in lock-step:
every trial is one :func:`catbell_qutip.evaluate` call over all n points (the coherent
engine for cat codes, the batched Fock engine for the others).

Figures of merit:

- the key fraction f = P (1 - h(Q) - chi(S)) (bit per attempt, >= 0): the key rate is
  f / max(L / c_f, t0), and the attempt time does not depend on the code, so the key-optimal
  parameters maximise f;
- S at a common entanglement-generation rate R_eg (the paper's Figs. 2-3): amplitude solved
  for the rate (:func:`catbell_qutip.rates.solve_at_rate`), the squeezing chosen for the
  largest S there; a binomial code has no amplitude, its rate is fixed.

Optimisers: a coarse grid, then golden-section refinement (:func:`golden_max`, vectorised
over the points) that never returns a value below the best point it has seen, so a
family's optimum is never below its value at the starting parameters.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._checks import NoHeraldWarning
from ..api import evaluate
from ..formulas import entanglement_rate, key_rate
from ..rates import solve_at_rate
from .settings import ALPHA_MAX, BINOMIAL_M, RATE_SQUEEZING_MAX, SQUEEZING_MAX

__all__ = ["golden_max", "key_fraction", "point_values", "optimise_cat_key",
           "optimise_squeezed_key", "optimise_binomial_key", "global_grid_key",
           "cat_at_rate", "squeezed_at_rate", "binomial_at_rate", "squeezed_fraction",
           "ALPHA_MIN", "PHOTON_CAP"]

#: smallest amplitude the optimisers try (alpha = 0 is no light)
ALPHA_MIN = 0.02
#: largest alpha^2 e^{2|r|} the squeezed cat's search evaluates (the photon-number spread
#: of its primitive, which sets the Fock cutoff; 40 keeps a point below ~0.1 s)
PHOTON_CAP = 20.0

_GOLD = (np.sqrt(5.0) - 1.0) / 2.0


def golden_max(fun, lo, hi, n_iter: int, x0=None, f0=None):
    """Maximise many 1-D functions at once by golden-section search.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> f``, x and f of shape (n,): one trial per problem.
    lo, hi : ndarray of shape (n,)
        Brackets (lo <= hi).
    n_iter : int
        Golden steps after the two initial trials (the bracket shrinks by 0.618 each).
    x0, f0 : ndarray, optional
        A point already known (e.g. the best of a coarse grid): the result is never worse.

    Returns
    -------
    (x, f) : tuple of ndarray
        The best trial of each problem (NaN values count as -inf).

    Examples
    --------
    >>> x, f = golden_max(lambda x: -(x - np.array([0.3, 2.0])) ** 2, np.zeros(2),
    ...                   np.array([1.0, 3.0]), 40)
    >>> np.round(x, 6).tolist()
    [0.3, 2.0]
    """
    def value(x):
        v = np.asarray(fun(x), dtype=float)
        return np.where(np.isnan(v), -np.inf, v)

    a, b = np.array(lo, dtype=float), np.array(hi, dtype=float)
    c, d = b - _GOLD * (b - a), a + _GOLD * (b - a)
    fc, fd = value(c), value(d)
    best_x, best_f = np.where(fc >= fd, c, d), np.maximum(fc, fd)
    if x0 is not None:
        f0 = np.where(np.isnan(f0), -np.inf, np.asarray(f0, dtype=float))
        keep = f0 >= best_f
        best_x, best_f = np.where(keep, x0, best_x), np.where(keep, f0, best_f)
    for _ in range(int(n_iter)):
        left = fc >= fd  # the maximum lies in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
        x = np.where(left, b - _GOLD * (b - a), a + _GOLD * (b - a))
        fx = value(x)
        # left: new c = x, new d = old c; right: new c = old d, new d = x
        c, d, fc, fd = (np.where(left, x, d), np.where(left, c, x),
                        np.where(left, fx, fd), np.where(left, fc, fx))
        better = fx > best_f
        best_x, best_f = np.where(better, x, best_x), np.where(better, fx, best_f)
    return best_x, best_f


def _quiet_evaluate(loss_order, **kw):
    """:func:`catbell_qutip.evaluate` without the P = 0 warning (tiny amplitudes:
    expected in the scans)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NoHeraldWarning)
        return evaluate(loss_order, **kw)


def point_values(loss_order: int, family: str, fields: dict, *, alpha=None, squeezing=None,
                 binomial_m=None, outputs=("P", "F", "S", "Q")) -> dict:
    """P, F, S, Q (and the key fraction ``f``, bit per attempt) of one family at given
    parameters, broadcast with the fields: cat codes on the coherent engine (exact), the
    others on the Fock engine.

    Examples
    --------
    l = 0 over 10 km at alpha = 0.5, channel loss only: P = 1 - exp(-2 eta alpha^2),
    eta = 10^(-0.2) (docs/model.md 5):

    >>> v = point_values(0, "cat", {"length_km": 10.0}, alpha=0.5)
    >>> round(float(v["P"]), 6), round(float(1 - np.exp(-2 * 10 ** -0.2 * 0.25)), 6)
    (0.27056, 0.27056)
    """
    kw = dict(fields)
    if family == "cat":
        kw.update(engine="coherent", alpha=alpha)
    elif family == "squeezed-cat":
        kw.update(engine="fock", code="squeezed-cat", alpha=alpha, squeezing=squeezing)
    elif family == "binomial":
        kw.update(engine="fock", code="binomial", binomial_m=int(binomial_m))
    else:
        raise ValueError(f"family must be one of cat, squeezed-cat, binomial, got {family!r}")
    out = _quiet_evaluate(loss_order, outputs=outputs, **kw)
    if {"P", "S", "Q"} <= set(outputs):
        out["f"] = np.nan_to_num(np.asarray(key_rate(out["P"], out["S"], out["Q"]),
                                            dtype=float), nan=0.0)
    return out


def key_fraction(loss_order: int, family: str, fields: dict, **params) -> np.ndarray:
    """The key fraction f = P (1 - h(Q) - chi(S)) in bit per attempt (0 without key)."""
    return point_values(loss_order, family, fields, **params)["f"]


def _n_points(fields: dict) -> int:
    sizes = {np.size(v) for v in fields.values() if np.ndim(v)}
    if len(sizes) > 1:
        raise ValueError(f"fields must be scalars or arrays of one length, got {sorted(sizes)}")
    return sizes.pop() if sizes else 1


def _flat(fields: dict, n: int) -> dict:
    return {k: (np.broadcast_to(v, (n,)) if np.ndim(v) else v) for k, v in fields.items()}


def _take(fields: dict, idx) -> dict:
    return {k: (v[idx] if np.ndim(v) else v) for k, v in fields.items()}


def _row(fields: dict) -> dict:
    """Fields as a row (1, n), to broadcast against a column of parameters (k, 1)."""
    return {k: (np.asarray(v)[None, :] if np.ndim(v) else v) for k, v in fields.items()}


def _values_at(loss_order, family, fields, **params) -> dict:
    v = point_values(loss_order, family, fields, **params)
    return {k: np.asarray(v[k], dtype=float) for k in ("P", "F", "S", "Q", "f")}


def optimise_cat_key(loss_order: int, fields: dict, *, n_grid: int = 60, n_golden: int = 25,
                     alpha_max: float = ALPHA_MAX) -> dict:
    """The key-optimal amplitude of the cat code at every point (coherent engine).

    A scan of ``n_grid`` amplitudes in (0, alpha_max] at all points at once finds each
    point's global maximum on the grid (the key fraction of l = 3 has two local maxima in
    alpha); golden-section search between its neighbours refines it.

    Returns
    -------
    dict of ndarray (n,)
        ``alpha``, ``P``, ``F``, ``S``, ``Q``, ``f`` (bit per attempt), ``at_bound`` (the
        optimum is the largest alpha allowed).
    """
    n = _n_points(fields)
    flat = _flat(fields, n)
    grid = np.linspace(alpha_max / n_grid, alpha_max, n_grid)
    f = np.broadcast_to(key_fraction(loss_order, "cat", _row(flat), alpha=grid[:, None]),
                        (n_grid, n))
    i = np.argmax(f, axis=0)
    lo = np.where(i > 0, grid[np.maximum(i - 1, 0)], ALPHA_MIN)
    hi = grid[np.minimum(i + 1, n_grid - 1)]
    x, _ = golden_max(lambda a: key_fraction(loss_order, "cat", flat, alpha=a), lo, hi,
                      n_golden, x0=grid[i], f0=f[i, np.arange(n)])
    out = _values_at(loss_order, "cat", flat, alpha=x)
    out["alpha"] = x
    out["at_bound"] = x >= alpha_max * (1 - 1e-9)
    return out


def squeezed_fraction(loss_order: int, fields: dict, alpha, squeezing, *,
                      cap: float = PHOTON_CAP) -> np.ndarray:
    """The squeezed cat's key fraction at (alpha, r), broadcast with the fields (arrays of
    shape (n,), taken as a row against parameters of shape (k, n) or (n,)); points with
    alpha^2 e^{2|r|} > ``cap`` (a Fock cutoff beyond what the comparison affords) are not
    evaluated and count as no key."""
    n = _n_points(fields)
    flat = _flat(fields, n)
    alpha, r = np.broadcast_arrays(np.asarray(alpha, dtype=float),
                                   np.asarray(squeezing, dtype=float))
    shape = np.broadcast_shapes(alpha.shape, (n,))
    A, R = np.broadcast_to(alpha, shape).ravel(), np.broadcast_to(r, shape).ravel()
    ok = A * A * np.exp(2 * np.abs(R)) <= cap
    out = np.zeros(A.size)
    if ok.any():
        idx = np.nonzero(ok)[0]
        sub = {k: (np.broadcast_to(v, shape).ravel()[idx] if np.ndim(v) else v)
               for k, v in flat.items()}
        out[idx] = np.broadcast_to(key_fraction(loss_order, "squeezed-cat", sub,
                                                alpha=A[idx], squeezing=R[idx]), (idx.size,))
    return out.reshape(shape)


def optimise_squeezed_key(loss_order: int, fields: dict, start_alpha, *,
                          r_grid=(-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0),
                          alpha_scan=(0.55, 0.75, 0.95, 1.15, 1.35, 1.6),
                          r_width: float = 0.25,
                          n_outer: int = 7, n_inner: int = 6, alpha_max: float = ALPHA_MAX,
                          squeezing_max: float = SQUEEZING_MAX) -> dict:
    """The key-optimal (alpha, r) of the squeezed cat at every point (Fock engine).

    The landscape has several basins (an amplitude-squeezed one at r ~ 0.5-1 and small
    alpha, one near r = 0, a phase-squeezed one for l = 3; for l = 3 also two maxima in
    alpha), whose heights swap with the transmission, and creases: where the codewords'
    overlap <Theta_N| e^{i pi n / N} |Theta_N> changes sign the TUB's success
    1 - |overlap| has a kink, and the optimum often sits on that curve, along which alpha
    and r change together. So:

    1. a grid of r (``r_grid``, plus r = 0, the cat code) times alpha = ``start_alpha`` x
       (1, ``alpha_scan``) (``start_alpha``: the cat code's optimum; (``start_alpha``, 0) is
       the grid's first point) picks the basin;
    2. nested golden-section search from the best grid point: over r within +/- ``r_width``
       (``n_outer`` steps), each r's value being the best alpha at that r: a scan of
       ``alpha_scan`` times ``start_alpha`` as in the grid (two ridges in alpha cross as r changes
       for l = 3), then golden-section between the best scan point's neighbours
       (``n_inner`` steps). Golden-section needs unimodality, not smoothness, so the creases
       do not stop it.

    Every step keeps the best point seen, so the result is never below the value at
    (``start_alpha``, r = 0), the cat code's optimum. Points beyond :data:`PHOTON_CAP`
    count as no key (:func:`squeezed_fraction`).

    Returns
    -------
    dict of ndarray (n,)
        ``alpha``, ``squeezing``, ``P``, ``F``, ``S``, ``Q``, ``f``, ``at_bound`` (alpha,
        |r| or alpha^2 e^{2|r|} at its bound).
    """
    n = _n_points(fields)
    flat = _flat(fields, n)
    a0 = np.broadcast_to(np.asarray(start_alpha, dtype=float), (n,))
    rg = np.asarray(r_grid, dtype=float)
    rg = np.concatenate([[0.0], rg[np.abs(rg) > 1e-12]])  # (start_alpha, 0) first: ties keep it
    fa = np.concatenate([[1.0], np.asarray(alpha_scan, dtype=float)])
    A = np.clip(np.tile(fa, rg.size)[:, None] * a0[None, :], ALPHA_MIN, alpha_max)
    R = np.clip(np.repeat(rg, fa.size), -squeezing_max, squeezing_max)[:, None] * np.ones((1, n))
    f = squeezed_fraction(loss_order, flat, A, R)
    j = np.argmax(f, axis=0)
    cols = np.arange(n)
    a_g, r_g, f_g = A[j, cols], R[j, cols], f[j, cols]
    # the inner search scans alpha over a wide range first (for l = 3 two ridges in alpha
    # cross as r changes), then refines between the best scan point's neighbours
    scan = np.asarray(alpha_scan, dtype=float)
    found = {}  # r -> best alpha of the inner search (the golden trials are arrays)

    def profile(r):
        As = np.clip(scan[:, None] * a0[None, :], ALPHA_MIN, alpha_max)
        fs = squeezed_fraction(loss_order, flat, As, np.broadcast_to(r, As.shape))
        i = np.argmax(fs, axis=0)
        lo = As[np.maximum(i - 1, 0), cols]
        hi = As[np.minimum(i + 1, scan.size - 1), cols]
        x0, f0 = As[i, cols], fs[i, cols]
        same = r == r_g  # the grid point itself is a candidate too
        x0, f0 = np.where(same & (f_g > f0), a_g, x0), np.where(same, np.maximum(f0, f_g), f0)
        a, v = golden_max(lambda a: squeezed_fraction(loss_order, flat, a, r), lo, hi,
                          n_inner, x0=x0, f0=f0)
        found[r.tobytes()] = a
        return v

    r, best = golden_max(profile, np.maximum(r_g - r_width, -squeezing_max),
                         np.minimum(r_g + r_width, squeezing_max), n_outer, x0=r_g, f0=f_g)
    # the alpha of each point's best r (from the outer trial that produced it)
    alpha = a_g.copy()
    for key, a in found.items():
        rr = np.frombuffer(key)
        hit = rr == r
        alpha = np.where(hit, a, alpha)
    out = _values_at(loss_order, "squeezed-cat", flat, alpha=alpha, squeezing=r)
    out.update(alpha=alpha, squeezing=r,
               at_bound=(alpha >= alpha_max * (1 - 1e-9))
               | (np.abs(r) >= squeezing_max * (1 - 1e-9))
               | (alpha * alpha * np.exp(2 * np.abs(r)) >= 0.98 * PHOTON_CAP))
    return out


def optimise_binomial_key(loss_order: int, fields: dict, *, ms=BINOMIAL_M) -> dict:
    """The key-optimal M of the binomial code at every point: every M of ``ms`` evaluated
    (Fock engine), the largest key fraction kept (ties: the smaller M).

    Returns
    -------
    dict of ndarray (n,)
        ``binomial_m``, ``P``, ``F``, ``S``, ``Q``, ``f``.
    """
    n = _n_points(fields)
    flat = _flat(fields, n)
    vals = [_values_at(loss_order, "binomial", flat, binomial_m=m) for m in ms]
    f = np.stack([np.broadcast_to(v["f"], (n,)) for v in vals])
    j = np.argmax(f, axis=0)
    cols = np.arange(n)
    out = {k: np.stack([np.broadcast_to(v[k], (n,)) for v in vals])[j, cols]
           for k in ("P", "F", "S", "Q", "f")}
    out["binomial_m"] = np.asarray(ms)[j]
    return out


def global_grid_key(loss_order: int, fields: dict, alphas, rs) -> dict:
    """The squeezed cat's key fraction on a full (alpha, r) grid at every point (within
    :data:`PHOTON_CAP`): the best grid point (``alpha``, ``squeezing``, ``f``), to check
    that the optimisation did not miss another basin."""
    n = _n_points(fields)
    flat = _flat(fields, n)
    A, R = np.meshgrid(np.asarray(alphas, dtype=float), np.asarray(rs, dtype=float),
                       indexing="ij")
    A, R = A.ravel()[:, None], R.ravel()[:, None]
    f = squeezed_fraction(loss_order, flat, A, R)
    j = np.argmax(f, axis=0)
    return {"alpha": A[j, 0], "squeezing": R[j, 0], "f": f[j, np.arange(n)]}


# -- S at a common rate ----------------------------------------------------------------------
def _at_rate(loss_order, rate_hz, engine, fields, n_scan, **code):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NoHeraldWarning)
        r = solve_at_rate(loss_order, rate_hz, engine=engine, alpha_max=ALPHA_MAX,
                          n_scan=n_scan, **code, **fields)
    return {k: np.asarray(v, dtype=float) for k, v in r.items()}


def cat_at_rate(loss_order: int, rate_hz: float, fields: dict, *, n_scan: int = 32) -> dict:
    """The cat code at the rate: alpha solved (smallest alpha reaching it, coherent
    engine); ``alpha``, ``P``, ``F``, ``S``, ``Q``, ``R_eg`` (Hz), NaN where unreachable."""
    return _at_rate(loss_order, rate_hz, "coherent", fields, n_scan)


def squeezed_at_rate(loss_order: int, rate_hz: float, fields: dict, *, n_r: int = 7,
                     n_golden: int = 6, n_scan: int = 32,
                     squeezing_max: float = RATE_SQUEEZING_MAX) -> dict:
    """The squeezed cat at the rate, r chosen for the largest S: for each r alpha is solved
    for the rate (Fock engine); a scan of ``n_r`` values in [-squeezing_max,
    squeezing_max] (r = 0, the cat code, among them), then golden-section between the best
    one's neighbours.

    Returns
    -------
    dict of ndarray (n,)
        ``alpha``, ``squeezing``, ``P``, ``F``, ``S``, ``Q``, ``R_eg`` (Hz); NaN where no
        r of the scan reaches the rate.
    """
    n = _n_points(fields)
    flat = _flat(fields, n)
    rs = np.linspace(-squeezing_max, squeezing_max, n_r)
    if not np.any(rs == 0.0):
        rs = np.sort(np.append(rs, 0.0))
    coarse = _at_rate(loss_order, rate_hz, "fock", _row(flat), n_scan, code="squeezed-cat",
                      squeezing=rs[:, None])
    S = np.where(np.isnan(coarse["S"]), -np.inf, coarse["S"])
    j = np.argmax(S, axis=0)
    cols = np.arange(n)
    ok = np.isfinite(S[j, cols])
    step = rs[1] - rs[0]
    out = {k: np.full(n, np.nan) for k in ("alpha", "squeezing", "P", "F", "S", "Q", "R_eg")}
    if not ok.any():
        return out
    idx = np.nonzero(ok)[0]
    sub = _take(flat, idx)
    r0 = rs[j[idx]]

    def S_at(r):
        return _at_rate(loss_order, rate_hz, "fock", sub, n_scan, code="squeezed-cat",
                        squeezing=r)["S"]

    r, _ = golden_max(S_at, np.maximum(r0 - step, -squeezing_max),
                      np.minimum(r0 + step, squeezing_max), n_golden, x0=r0,
                      f0=S[j[idx], idx])
    best = _at_rate(loss_order, rate_hz, "fock", sub, n_scan, code="squeezed-cat",
                    squeezing=r)
    for k in ("alpha", "P", "F", "S", "Q", "R_eg"):
        out[k][idx] = best[k]
    out["squeezing"][idx] = r
    return out


def binomial_at_rate(loss_order: int, rate_hz: float, fields: dict, *, ms=BINOMIAL_M) -> dict:
    """The binomial code where it reaches the rate: its R_eg = P / max(L / c_f, t0) is fixed
    by the code (no amplitude), and S does not depend on the rate; among the M of ``ms``
    whose R_eg >= ``rate_hz`` the one with the largest S.

    Returns
    -------
    dict of ndarray (n,)
        ``binomial_m`` (-1 where no M reaches the rate), ``P``, ``F``, ``S``, ``Q``,
        ``R_eg`` (Hz, of the chosen M; NaN where none reaches).
    """
    n = _n_points(fields)
    flat = _flat(fields, n)
    vals = [_values_at(loss_order, "binomial", flat, binomial_m=m) for m in ms]
    L = np.broadcast_to(flat.get("length_km", 0.0), (n,))
    t0 = np.broadcast_to(flat.get("t0_s", 0.0), (n,))
    stack = {k: np.stack([np.broadcast_to(v[k], (n,)) for v in vals])
             for k in ("P", "F", "S", "Q")}
    R = entanglement_rate(stack["P"], L[None, :], t0[None, :])
    S = np.where((R >= rate_hz) & np.isfinite(stack["S"]), stack["S"], -np.inf)
    j = np.argmax(S, axis=0)
    cols = np.arange(n)
    ok = np.isfinite(S[j, cols])
    out = {k: np.where(ok, stack[k][j, cols], np.nan) for k in stack}
    out["R_eg"] = np.where(ok, R[j, cols], np.nan)
    out["binomial_m"] = np.where(ok, np.asarray(ms)[j], -1)
    return out
