"""Rate-constrained analysis (docs/model.md section 4, the paper's eq. 8).

Every attempt takes max(L / c_f, t0) seconds (L / c_f: the light's one-way travel time,
c_f = 2e8 m/s; t0: the repetition time of the slowest local operation), so the
entanglement-generation rate is

    R_eg = P / max(L / c_f, t0)    (Hz),

P the heralding probability. The paper compares codes at a *fixed* R_eg: for each length
the amplitude alpha is the smallest one whose P(alpha) reaches R_eg max(L / c_f, t0).
:func:`alpha_for_rate` solves for it (a scan of a vectorised alpha grid through
:func:`catbell_qutip.evaluate` brackets the first crossing, so codes whose P(alpha) is not
monotonic are handled; the bracket is then refined to 1e-9 relative in R_eg).
:func:`S_vs_length` and :func:`S_vs_memory_time` are the curves of the paper's Figs. 2-3.

This is a layer above :mod:`catbell_qutip.api`; :func:`entanglement_rate` is defined in
:mod:`catbell_qutip.formulas` and re-exported here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from ._checks import NoHeraldWarning, check_int, check_rate_hz, check_real
from .api import evaluate
from .formulas import entanglement_rate, timing
from .lockstep import brent, run, run_one
from .outputs import dataset
from .params import ALPHA_MAX, ProtocolParams

__all__ = [
    "ScanOptions",
    "RATE_RTOL",
    "DEFAULT_ALPHA_MAX",
    "entanglement_rate",
    "alpha_for_rate",
    "solve_at_rate",
    "solve_task",
    "solve_many",
    "S_vs_length",
    "S_vs_memory_time",
]

@dataclass(frozen=True)
class ScanOptions:
    """How the amplitude at a rate is found, as one value: the engine and the scan of
    :func:`alpha_for_rate` (``alpha_max``, ``n_scan``). Callers that run the solver many
    times (thresholds, advantage maps) carry this instead of three loose arguments.

    Parameters
    ----------
    engine : {"coherent", "fock"}
        Engine of :func:`catbell_qutip.evaluate` (default "coherent").
    alpha_max : float
        Upper end of the alpha scan (dimensionless amplitude, default 6).
    n_scan : int
        Scan points on (0, alpha_max] (default 32).

    Examples
    --------
    >>> ScanOptions(n_scan=12).solver_kwargs()
    {'engine': 'coherent', 'alpha_max': 6.0, 'n_scan': 12}
    """

    engine: str = "coherent"
    alpha_max: float = 6.0
    n_scan: int = 32

    def solver_kwargs(self) -> dict:
        """The keyword arguments of :func:`alpha_for_rate` and :func:`solve_at_rate`."""
        return {"engine": self.engine, "alpha_max": self.alpha_max, "n_scan": self.n_scan}


#: relative accuracy in R_eg of the amplitudes :func:`alpha_for_rate` returns
RATE_RTOL = 1e-9
#: default upper end of the alpha scan
DEFAULT_ALPHA_MAX = ScanOptions.alpha_max
#: default number of scan points
DEFAULT_N_SCAN = ScanOptions.n_scan

# the solvers aim well below RATE_RTOL so that the final check has margin
_F_TOL = 1e-11


def _scan_grid(alpha_max: float, n_scan: int) -> np.ndarray:
    """Uniform grid on (0, alpha_max]; a target below P(grid[0]) is bracketed by [0, grid[0]]
    (P(0) is evaluated too, so dark clicks are accounted for)."""
    return np.linspace(alpha_max / n_scan, alpha_max, n_scan)


def _evaluate_P(loss_order, engine, alpha, fields):
    """P only, broadcast over alpha and the fields (one vectorised call on the coherent
    engine, a loop over points on the Fock engine). P at tiny alpha may underflow to 0 for
    high codes: expected here, so the warning about it is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NoHeraldWarning)
        return np.asarray(evaluate(loss_order, engine=engine, outputs=("P",), alpha=alpha,
                                   **fields)["P"], dtype=float)


#: alpha scan points evaluated per call (the scan stops after the chunk that crosses)
_SCAN_CHUNK = 8


def _scan_P(loss_order, engine, grid, flat, rate, T, chunk: int = _SCAN_CHUNK):
    """P on grid x points, (n_grid, npt), evaluated in chunks of increasing alpha; a point
    stops being evaluated once it reaches its rate (NaN above), which spares the large,
    expensive amplitudes."""
    npt = T.size
    P = np.full((grid.size, npt), np.nan)
    todo = np.arange(npt)
    for start in range(0, grid.size, chunk):
        if todo.size == 0:
            break
        g = grid[start:start + chunk]
        sub = {k: (v[todo] if np.ndim(v) else v) for k, v in flat.items()}
        block = np.broadcast_to(_evaluate_P(loss_order, engine, g[:, None], sub),
                                (g.size, todo.size))
        P[start:start + chunk, todo] = block
        todo = todo[~np.any(block / T[todo] >= rate[todo], axis=0)]
    return P


def _unattainable_message(loss_order, rate, alpha_max, r_best, a_best, where="", T=None):
    if T is not None and rate * T > 1.0:  # P would have to exceed 1: no amplitude helps
        return (f"rate_hz = {rate:.6g} Hz is not attainable for loss_order = {loss_order}"
                f"{where}: R_eg = P / T cannot exceed 1 / T = {1.0 / T:.6g} Hz (one attempt "
                f"per attempt time T = max(L / c_f, t0) = {T:.6g} s, P <= 1); the largest "
                f"attainable entanglement-generation rate is {r_best:.6g} Hz, at alpha = "
                f"{a_best:.6g}")
    edge = (" (the edge of the scan: a larger alpha_max may reach more)"
            if a_best >= alpha_max * (1 - 1e-9) else "")
    if not r_best > 0:  # nothing heralds at any amplitude: say why rather than "0 Hz at alpha"
        return (f"rate_hz = {rate:.6g} Hz is not attainable for loss_order = {loss_order}"
                f"{where}: no attempt heralds at any alpha in (0, {alpha_max:g}] (P = 0: a "
                "transmission or efficiency of 0 lets no light reach the detectors)")
    return (
        f"rate_hz = {rate:.6g} Hz is not attainable for loss_order = {loss_order}{where} "
        f"with alpha in (0, {alpha_max:g}]: the largest attainable entanglement-generation "
        f"rate is {r_best:.6g} Hz, at alpha = {a_best:.6g}{edge}"
    )


def _best_rate(loss_order, engine, grid, R, T, fields):
    """Refine the maximum of R(alpha) around the best grid point (for the error message)."""
    i = int(np.nanargmax(R))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    if hi > lo:
        res = minimize_scalar(
            lambda a: -float(_evaluate_P(loss_order, engine, float(a), fields)) / T,
            bounds=(lo, hi), method="bounded", options={"xatol": 1e-9 * hi})
        if -res.fun > R[i]:
            return float(-res.fun), float(res.x)
    return float(R[i]), float(grid[i])


class _Request:
    """One evaluation a solve task asks for: P (``outputs=("P",)``) or every output at
    ``alpha`` (float, or an array of scan points) and the scalar ``fields``."""

    __slots__ = ("loss_order", "engine", "outputs", "alpha", "fields")

    def __init__(self, loss_order, engine, alpha, fields, outputs=("P",)):
        self.loss_order, self.engine, self.outputs = loss_order, engine, outputs
        self.alpha, self.fields = alpha, fields

    def group(self):
        """Requests of one group are evaluated in one call: the same code, engine, outputs
        and every field that stays a scalar; only alpha and :data:`_BATCHED` vary. P alone
        (``protocol.run_probability``) on the coherent engine is batch-invariant; F, S, Q
        are not (the register's reductions run in another order on a batch), nor is the
        Fock engine, so such a request is its own group."""
        if self.outputs != ("P",) or self.engine != "coherent":
            return ("alone", id(self))  # batch invariance is shown for these P only
        batched = _BATCHED.get(self.fields.get("usd", "tub"), ())
        fixed = tuple(sorted((k, v.item() if isinstance(v, np.ndarray) else v)
                             for k, v in self.fields.items() if k not in batched))
        return (self.loss_order, self.engine, self.outputs, fixed,
                tuple(sorted(k for k in self.fields if k in batched)))


#: fields that may differ between the requests of one batched evaluation, by USD: the
#: coherent engine gives every point of such a batch the P, F, S, Q it gives the point
#: alone, bit for bit (tests/test_rates.py checks it). Other fields stay scalars: a length
#: array, for one, computes the fibre transmission with NumPy's vectorised power, which
#: differs from the scalar one in the last bit; and with the linear-optics USD a batch
#: over the detector loss sums the effects in another order.
_BATCHED = {"tub": ("eta_int", "eta_c", "eta_d"), "linear": ("eta_c",)}


def _evaluate_one(req):
    if req.outputs == ("P",):
        return _evaluate_P(req.loss_order, req.engine, req.alpha, req.fields)
    return evaluate(req.loss_order, engine=req.engine, alpha=req.alpha, **req.fields)


def _evaluate_requests(requests):
    """Answer solve requests: one vectorised evaluate per group (:meth:`_Request.group`);
    a request alone in its group is evaluated exactly as the scalar solver always did."""
    groups: dict = {}
    for i, req in enumerate(requests):
        groups.setdefault(req.group(), []).append(i)
    out = [None] * len(requests)
    for idx in groups.values():
        reqs = [requests[i] for i in idx]
        if len(reqs) == 1:
            out[idx[0]] = _evaluate_one(reqs[0])
            continue
        sizes = [np.size(r.alpha) for r in reqs]
        alpha = np.concatenate([np.ravel(r.alpha) for r in reqs])
        fields = dict(reqs[0].fields)
        for k in _BATCHED.get(fields.get("usd", "tub"), ()):
            if k in fields and any(r.fields[k] != fields[k] for r in reqs):
                fields[k] = np.repeat([float(r.fields[k]) for r in reqs], sizes)
        res = _evaluate_one(_Request(reqs[0].loss_order, reqs[0].engine, alpha, fields,
                                     reqs[0].outputs))
        ends = np.cumsum(sizes)
        for i, r, end, n in zip(idx, reqs, ends, sizes, strict=True):
            sl = slice(end - n, end)
            if r.outputs == ("P",):
                out[i] = res[sl].reshape(np.shape(r.alpha))
            else:
                out[i] = {k: v[sl].reshape(np.shape(r.alpha)) for k, v in res.items()}
    return out


def _alpha_task(loss_order, rate, T, engine, alpha_max, n_scan, fields, on_unattainable):
    """The scalar alpha solve as a task (:mod:`catbell_qutip.lockstep`): the scan of
    :func:`_scan_P` for one point, then :func:`scipy.optimize.brentq` (its transcription
    :func:`~catbell_qutip.lockstep.brent`) on f = P / (R T) - 1."""
    target = rate * T
    grid = _scan_grid(alpha_max, n_scan)
    P = np.full(grid.size, np.nan)
    for start in range(0, grid.size, _SCAN_CHUNK):
        g = grid[start:start + _SCAN_CHUNK]
        (block,) = yield [_Request(loss_order, engine, g[:, None], fields)]
        block = np.broadcast_to(block, (g.size, 1))[:, 0]
        P[start:start + _SCAN_CHUNK] = block
        if np.any(block / T >= rate):
            break
    R = P / T
    hit = np.nonzero(R >= rate)[0]
    if hit.size == 0:
        if on_unattainable == "nan":
            return np.nan
        r_best, a_best = _best_rate(loss_order, engine, grid, R, T, fields)
        raise ValueError(_unattainable_message(loss_order, rate, alpha_max, r_best, a_best,
                                               T=T))
    i = int(hit[0])
    if i == 0:
        (p0,) = yield [_Request(loss_order, engine, 0.0, fields)]
        if float(p0) >= target:  # dark clicks alone reach the rate
            return 0.0
        lo = 0.0
    else:
        lo = float(grid[i - 1])
    hi = float(grid[i])

    seen: dict = {}

    def f(a):
        a = float(a)
        if a not in seen:  # brentq returns a point it evaluated: the check below is free
            (p,) = yield [_Request(loss_order, engine, a, fields)]
            seen[a] = float(p) / target - 1.0
        return seen[a]

    root = yield from brent(f, lo, hi, xtol=1e-300, rtol=1e-13, maxiter=200)
    # brentq brackets the sign change to ~1e-13 in alpha, i.e. ~1e-12 in R_eg (R ~ alpha^8 at
    # worst, l = 3 at small alpha); checked against RATE_RTOL
    if abs((yield from f(root))) > RATE_RTOL:
        raise RuntimeError(f"alpha solver did not reach {RATE_RTOL:g} relative in R_eg")
    return float(root)


def _solve_scalar(loss_order, rate, T, engine, alpha_max, n_scan, fields, on_unattainable):
    return run_one(_alpha_task(loss_order, rate, T, engine, alpha_max, n_scan, fields,
                               on_unattainable), _evaluate_requests)


def _checked(loss_order, rate_hz, alpha_max, n_scan, fields):
    """Validated (rate, attempt time T, alpha_max, n_scan, shape) of a rate solve."""
    rate = check_rate_hz(rate_hz)
    # the scan runs up to alpha_max: bounded as alpha itself is (not blamed on alpha)
    alpha_max = check_real(alpha_max, "alpha_max", low=0.0, low_open=True, high=ALPHA_MAX)
    n_scan = check_int(n_scan, "n_scan", low=2)
    if "alpha" in fields:
        raise ValueError("alpha is what alpha_for_rate solves for; do not pass it")
    params = ProtocolParams(loss_order=loss_order, alpha=1.0, **fields)
    T = np.asarray(params.attempt_time_s, dtype=float)
    if np.any(T <= 0):
        raise ValueError(
            "the attempt time max(L / c_f, t0) is 0 (length_km = 0 and t0_s = 0): every "
            "alpha > 0 gives an infinite rate; give length_km > 0 or t0_s > 0"
        )
    shape = np.broadcast_shapes(np.shape(rate), params.batch_shape)
    return rate, T, float(alpha_max), int(n_scan), shape


def solve_task(loss_order: int, rate_hz: float, *, engine: str = "coherent",
               alpha_max: float = DEFAULT_ALPHA_MAX, n_scan: int = DEFAULT_N_SCAN,
               **fields):
    """:func:`solve_at_rate` at one point, as a task of :mod:`catbell_qutip.lockstep`.

    Many such tasks run together through :func:`solve_many` (one vectorised evaluation per
    step for all of them); each gives bit for bit what :func:`solve_at_rate` gives alone.

    Parameters
    ----------
    loss_order, rate_hz, engine, alpha_max, n_scan, **fields
        As in :func:`solve_at_rate`, every field a scalar; an unattainable rate gives NaN.

    Returns
    -------
    generator
        Its return value is a dict of 0-d arrays: ``alpha``, ``P``, ``F``, ``S``, ``Q``
        (NaN where the rate is unattainable).

    Raises
    ------
    ValueError
        As :func:`alpha_for_rate`, for a field that is an array, or invalid parameters
        (when the task starts).

    Examples
    --------
    >>> r = solve_many([solve_task(0, 3000.0, length_km=5.0)])[0]
    >>> bool(r["S"] == solve_at_rate(0, 3000.0, length_km=5.0)["S"])
    True
    """
    rate, T, alpha_max, n_scan, shape = _checked(loss_order, rate_hz, alpha_max, n_scan,
                                                 fields)
    if shape != ():
        raise ValueError("solve_task takes one point: every field a scalar")
    alpha = yield from _alpha_task(loss_order, float(rate), float(T), engine, alpha_max,
                                   n_scan, fields, "nan")
    alpha = np.asarray(alpha, dtype=float)
    out = {k: np.full((), np.nan) for k in ("P", "F", "S", "Q")}
    if np.isfinite(alpha):
        (r,) = yield [_Request(loss_order, engine, float(alpha), fields, outputs=None)]
        for k in out:
            out[k][()] = r[k]
    out["alpha"] = alpha
    return out


def solve_many(tasks) -> list:
    """Run tasks of :func:`solve_task` (or tasks built on them) in lockstep.

    Parameters
    ----------
    tasks : sequence of generator
        Tasks of :mod:`catbell_qutip.lockstep` whose requests are rate-solve evaluations.

    Returns
    -------
    list
        Their return values, in order.

    Examples
    --------
    >>> rs = solve_many([solve_task(l, 3000.0, length_km=5.0) for l in (0, 1)])
    >>> [round(float(r["S"]), 6) for r in rs] == [
    ...     round(float(solve_at_rate(l, 3000.0, length_km=5.0)["S"]), 6) for l in (0, 1)]
    True
    """
    return run(tasks, _evaluate_requests)


def _solve_batch(loss_order, rate, T, engine, alpha_max, n_scan, fields, on_unattainable,
                 shape):
    """Vectorised version: one evaluate call for the scan, one per refinement step.

    The refinement is the Illinois variant of regula falsi on f = P / (R T) - 1, which keeps
    the bracket (robust like bisection) and converges superlinearly; all points of the
    batch advance together.
    """
    npt = int(np.prod(shape)) if shape else 1
    flat = {k: (np.broadcast_to(v, shape).reshape(npt) if np.ndim(v) else v)
            for k, v in fields.items()}
    rate = np.broadcast_to(rate, shape).reshape(npt)
    T = np.broadcast_to(T, shape).reshape(npt)
    target = rate * T
    grid = _scan_grid(alpha_max, n_scan)
    P = _scan_P(loss_order, engine, grid, flat, rate, T)  # (n_grid, npt)
    R = P / T
    reach = R >= rate
    has = reach.any(axis=0)
    out = np.full(npt, np.nan)
    if not has.all() and on_unattainable == "raise":
        j = int(np.nonzero(~has)[0][0])
        sub = {k: (v[j] if np.ndim(v) else v) for k, v in flat.items()}
        r_best, a_best = _best_rate(loss_order, engine, grid, R[:, j], T[j], sub)
        where = "".join(f", {k} = {float(v[j]):g}" for k, v in flat.items() if np.ndim(v))
        raise ValueError(_unattainable_message(loss_order, rate[j], alpha_max, r_best,
                                               a_best, where, T=T[j]))
    idx = np.argmax(reach, axis=0)
    act = np.nonzero(has)[0]

    def sub_fields(points):
        return {k: (v[points] if np.ndim(v) else v) for k, v in flat.items()}

    # points whose first grid point already reaches the rate: bracket [0, grid[0]]
    p_lo = P[np.maximum(idx - 1, 0), np.arange(npt)]
    first = act[idx[act] == 0]
    if first.size:
        p_lo[first] = _evaluate_P(loss_order, engine, np.zeros(first.size), sub_fields(first))
        dark = first[p_lo[first] >= target[first]]
        out[dark] = 0.0
        act = np.setdiff1d(act, dark)
    a = np.where(idx[act] > 0, grid[np.maximum(idx[act] - 1, 0)], 0.0)
    b = grid[idx[act]]
    fa = p_lo[act] / target[act] - 1.0
    fb = P[idx[act], act] / target[act] - 1.0
    side = np.zeros(act.size, dtype=int)
    for _ in range(200):
        if act.size == 0:
            break
        denom = fb - fa
        c = np.where(denom > 0, (a * fb - b * fa) / np.where(denom > 0, denom, 1.0),
                     0.5 * (a + b))
        bad = ~((c > a) & (c < b))
        c = np.where(bad, 0.5 * (a + b), c)
        fc = _evaluate_P(loss_order, engine, c, sub_fields(act)) / target[act] - 1.0
        done = (np.abs(fc) <= _F_TOL) | ((b - a) <= 1e-15 * b)
        out[act[done]] = np.where(np.abs(fc[done]) <= _F_TOL, c[done], b[done])
        left = fc < 0
        # Illinois: halve the f of an endpoint retained twice in a row
        fb = np.where(left & (side == -1), 0.5 * fb, fb)
        fa = np.where(~left & (side == 1), 0.5 * fa, fa)
        a, fa = np.where(left, c, a), np.where(left, fc, fa)
        b, fb = np.where(left, b, c), np.where(left, fb, fc)
        side = np.where(left, -1, 1)
        keep = ~done
        act, a, b, fa, fb, side = act[keep], a[keep], b[keep], fa[keep], fb[keep], side[keep]
    if act.size:
        raise RuntimeError("alpha solver did not converge")
    return out.reshape(shape)


def alpha_for_rate(loss_order: int, rate_hz, *, engine: str = "coherent",
                   alpha_max: float = DEFAULT_ALPHA_MAX, n_scan: int = DEFAULT_N_SCAN,
                   on_unattainable: str = "raise", **fields):
    """Smallest amplitude alpha whose entanglement-generation rate reaches ``rate_hz``.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1.
    rate_hz : float or ndarray
        Target R_eg in Hz, > 0.
    engine : {"coherent", "fock"}
        Engine of :func:`catbell_qutip.evaluate` (default: the vectorised coherent one).
    alpha_max : float
        Upper end of the scan, in (0, :data:`~catbell_qutip.params.ALPHA_MAX`] (default 6).
    n_scan : int
        Number of uniform scan points on (0, alpha_max] (default 32). Below the first
        point the bracket is [0, alpha_max / n_scan].
    on_unattainable : {"raise", "nan"}
        What an unattainable target does: raise ValueError (default) or give NaN (for
        curves).
    **fields
        Other :class:`~catbell_qutip.params.ProtocolParams` fields (``length_km``,
        ``t0_s``, ``eta_int``, ``encoder``, ...). Scalars or arrays; arrays broadcast
        with ``rate_hz`` and each point gets its own alpha.

    Returns
    -------
    float or ndarray
        The smallest alpha in (0, alpha_max] with R_eg(alpha) = ``rate_hz`` to
        1e-9 relative (:data:`RATE_RTOL`); 0.0 if dark clicks alone already reach it.

    Raises
    ------
    ValueError
        If the target is not attainable (the message states the largest attainable rate
        and the alpha where it occurs), if the attempt time max(L / c_f, t0) is 0 (every
        alpha then gives an infinite rate), or for invalid parameters.

    Notes
    -----
    The scan brackets the *first* crossing R_eg(alpha) >= rate_hz on the grid, so a P(alpha)
    that is not monotonic is handled as long as its wiggles are resolved by the grid
    (alpha_max / n_scan). A scalar point is refined with Brent's method
    (:func:`scipy.optimize.brentq`); a batch with the Illinois variant of regula falsi, all
    points at once (one :func:`~catbell_qutip.evaluate` call per step). The scan runs in
    chunks of increasing alpha and drops each point once it has crossed, so large (slow,
    on the Fock engine) amplitudes are only evaluated where needed. Both refinements
    reach |P / (R_eg T) - 1| <~ 1e-11; the scalar result is checked against 1e-9.

    Examples
    --------
    5 km take 25 us per attempt, so 3000 Hz needs P = 0.075; with the fibre's
    10^(-0.1) = 0.794 transmission, l = 0 has P = 1 - exp(-2 (0.794) alpha^2), which
    gives alpha = 0.221526:

    >>> round(alpha_for_rate(0, 3000.0, length_km=5.0), 6)
    0.221526
    """
    if on_unattainable not in ("raise", "nan"):
        raise ValueError(f"on_unattainable must be 'raise' or 'nan', got {on_unattainable!r}")
    rate, T, alpha_max, n_scan, shape = _checked(loss_order, rate_hz, alpha_max, n_scan,
                                                 fields)
    if shape == ():
        return _solve_scalar(loss_order, float(rate), float(T), engine, float(alpha_max),
                             int(n_scan), fields, on_unattainable)
    return _solve_batch(loss_order, np.asarray(rate), T, engine, float(alpha_max),
                        int(n_scan), fields, on_unattainable, shape)


def solve_at_rate(loss_order: int, rate_hz, *, engine: str = "coherent",
                  alpha_max: float = DEFAULT_ALPHA_MAX, n_scan: int = DEFAULT_N_SCAN,
                  on_unattainable: str = "nan", **fields) -> dict:
    """alpha at the target rate and P, F, S, Q, R_eg there (broadcast arrays).

    Same arguments as :func:`alpha_for_rate`; by default unattainable points give NaN.

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1.
    rate_hz : float or ndarray
        Target R_eg in Hz, > 0.
    engine : {"coherent", "fock"}
        Engine of :func:`catbell_qutip.evaluate` (default: the vectorised coherent one).
    alpha_max : float
        Upper end of the amplitude scan (dimensionless, default 6).
    n_scan : int
        Number of uniform scan points on (0, alpha_max] (default 32).
    on_unattainable : {"nan", "raise"}
        What an unattainable target does: NaN at that point (default) or ValueError.
    **fields
        Other :class:`~catbell_qutip.params.ProtocolParams` fields, scalars or arrays that
        broadcast with ``rate_hz``.

    Raises
    ------
    ValueError
        As :func:`alpha_for_rate` (an unattainable target only with
        ``on_unattainable="raise"``).

    Returns
    -------
    dict of ndarray
        ``alpha``, ``P``, ``F``, ``S``, ``Q`` and ``R_eg`` (Hz), broadcast shape.

    Examples
    --------
    The point of :func:`alpha_for_rate`'s example; there F = (1 + exp(-2 (1 - 0.794)
    alpha^2)) / 2 = 0.990008 (docs/model.md section 5):

    >>> r = solve_at_rate(0, 3000.0, length_km=5.0)
    >>> [round(float(r[k]), 6) for k in ("alpha", "P", "F", "R_eg")]
    [0.221526, 0.075, 0.990008, 3000.0]
    """
    alpha = np.asarray(alpha_for_rate(loss_order, rate_hz, engine=engine, alpha_max=alpha_max,
                                      n_scan=n_scan, on_unattainable=on_unattainable,
                                      **fields), dtype=float)
    out = {k: np.full(alpha.shape, np.nan) for k in ("P", "F", "S", "Q", "R_eg")}
    ok = np.isfinite(alpha)
    if ok.any():
        shape = alpha.shape
        sub = {k: (np.broadcast_to(v, shape)[ok] if np.ndim(v) else v)
               for k, v in fields.items()}
        r = evaluate(loss_order, engine=engine, alpha=alpha[ok] if shape else float(alpha),
                     **sub)
        for k in ("P", "F", "S", "Q"):
            out[k][ok] = r[k]
        out["R_eg"][ok] = entanglement_rate(out["P"][ok], **timing(sub))
    out["alpha"] = alpha
    return out


def _curve_dataset(dim, coord, res, attrs):
    data = {k: (dim, np.asarray(res[k], dtype=float))
            for k in ("alpha", "P", "F", "S", "Q", "R_eg")}
    clean = {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in attrs.items()}
    return dataset(data, {dim: np.asarray(coord, dtype=float)}, clean,
                   long_names={"alpha": "amplitude solved for the target rate"})


def S_vs_length(loss_order: int, rate_hz: float, length_km, *, engine: str = "coherent",
                alpha_max: float = DEFAULT_ALPHA_MAX, n_scan: int = DEFAULT_N_SCAN,
                **fields):
    """S(L) at a fixed entanglement-generation rate (the paper's Figs. 2(a), 3).

    Parameters
    ----------
    loss_order : int
        l = 2^m - 1.
    rate_hz : float
        Fixed R_eg in Hz.
    length_km : array_like
        1-D grid of fibre lengths in km (> 0 unless ``t0_s > 0``).
    engine, alpha_max, n_scan
        As in :func:`alpha_for_rate`.
    **fields
        Other scalar :class:`~catbell_qutip.params.ProtocolParams` fields.

    Returns
    -------
    xarray.Dataset
        On dimension ``length_km`` (units km): ``alpha``, ``P``, ``F``, ``S``, ``Q``,
        ``R_eg`` (Hz). Lengths where the rate is unattainable have NaN.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``length_km`` is negative or not real, or another argument is out of range
        (the message names it).

    Examples
    --------
    l = 0 at 3000 Hz: alpha solves 1 - exp(-2 eta_f alpha^2) = R_eg L / c_f with
    eta_f = 10^(-0.02 L / km), and S = 2 sqrt(1 + (2F - 1)^2) with
    F = (1 + exp(-2 (1 - eta_f) alpha^2)) / 2 (docs/model.md section 5):

    >>> ds = S_vs_length(0, 3000.0, [5.0, 10.0])
    >>> ds.alpha.values.round(6), ds.S.values.round(6)
    (array([0.221526, 0.35887 ]), array([2.800308, 2.703232]))
    """
    L = np.atleast_1d(np.asarray(check_real(length_km, "length_km", low=0.0, unit="km")))
    res = solve_at_rate(loss_order, rate_hz, engine=engine, alpha_max=alpha_max,
                        n_scan=n_scan, length_km=L, **fields)
    return _curve_dataset("length_km", L, res,
                          {"loss_order": int(loss_order), "rate_hz": float(rate_hz),
                           "engine": engine, **fields})


def S_vs_memory_time(loss_order: int, rate_hz: float, t_c_s, *, length_km: float,
                     engine: str = "coherent", alpha_max: float = DEFAULT_ALPHA_MAX,
                     n_scan: int = DEFAULT_N_SCAN, **fields):
    """S(t_c) at a fixed length and entanglement-generation rate (the paper's Fig. 2(b)).

    Parameters
    ----------
    loss_order, rate_hz, engine, alpha_max, n_scan
        As in :func:`S_vs_length`.
    t_c_s : array_like
        1-D grid of memory coherence times in s.
    length_km : float
        Fibre length in km.
    **fields
        Other scalar :class:`~catbell_qutip.params.ProtocolParams` fields.

    Returns
    -------
    xarray.Dataset
        On dimension ``t_c_s`` (units s): ``alpha``, ``P``, ``F``, ``S``, ``Q``, ``R_eg``.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``t_c_s`` is not positive, or another argument is out of range (the message
        names it).

    Examples
    --------
    The memory waits L / c_f = 25 us over 5 km, which multiplies the coherence by
    d = exp(-25 us / t_c): F = (1 + d exp(-2 (1 - eta_f) alpha^2)) / 2 for l = 0
    (docs/model.md sections 3.7 and 5):

    >>> ds = S_vs_memory_time(0, 3000.0, [1e-4, 1e-3], length_km=5.0)
    >>> ds.F.values.round(6)
    array([0.881619, 0.97791 ])
    """
    tc = np.atleast_1d(np.asarray(check_real(t_c_s, "t_c_s", low=0.0, low_open=True,
                                             allow_inf=True, unit="s")))
    res = solve_at_rate(loss_order, rate_hz, engine=engine, alpha_max=alpha_max,
                        n_scan=n_scan, length_km=length_km, t_c_s=tc, **fields)
    return _curve_dataset("t_c_s", tc, res,
                          {"loss_order": int(loss_order), "rate_hz": float(rate_hz),
                           "length_km": float(length_km), "engine": engine, **fields})
