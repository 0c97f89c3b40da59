"""Efficiency thresholds: where an l-loss code stops beating the 0-loss code (docs/model.md 6).

For a parameter x in {eta_int, eta_c, eta_d (with the linear-optics USD)} and a loss order
l, the threshold is the value of x at which S_l(L) = S_0(L), both codes run at the same
entanglement-generation rate R_eg (each with its own alpha from
:func:`catbell_qutip.rates.alpha_for_rate`) and every other imperfection ideal. The paper
reads its statements at L = 5 km and R_eg = 3000 Hz.

Method: the gap g(x) = S_l(x) - S_0(x) is computed on a grid of x in (0, 1] (one
vectorised solve per code); the threshold is the largest x at which g changes sign from
positive (above) to non-positive (below), refined with :func:`scipy.optimize.brentq` to
1e-5 in x. Where no sign change exists the result says so and
gives no number.

Every other :class:`~catbell_qutip.params.ProtocolParams` field passes through (``encoder``,
``eta_int_placement``, ``decoder``, ``usd``, ...; the library defaults when not given). Which
reflections carry eta_int and where it acts (docs/model.md section 3, "Imperfections") decide
the eta_int thresholds: the reproduction pins the combination identified from the paper's
own numbers (:func:`catbell_qutip.identification.identify_model`, presets ``repro-*``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from ._checks import (
    ParameterError,
    check_choice,
    check_int,
    check_loss_order,
    check_memory,
    check_rate_hz,
    check_real,
    check_time,
)
from .api import seconds_per_point
from .lockstep import brent, gather
from .paper import LENGTH_THRESHOLD_KM, RATE_FIG23_HZ
from .rates import (
    DEFAULT_ALPHA_MAX,
    DEFAULT_N_SCAN,
    ScanOptions,
    solve_at_rate,
    solve_many,
    solve_task,
)

__all__ = ["THRESHOLD_PARAMETERS", "Threshold", "threshold", "thresholds",
           "reference_S", "max_length_above", "check_thresholds"]

#: evaluations per scan point and code of the rate solve (the alpha scan stops at the
#: crossing, then ~10 refinement steps; measured ~30 at l = 3), for the time estimate
_EVALUATIONS_PER_SOLVE = 40
#: bytes per scan point: the alpha scan's P (n_scan values) and the solver's arrays
_BYTES_PER_SCAN_POINT = 4096

#: parameter -> the extra fields it needs (eta_d only acts with detectors: linear USD)
THRESHOLD_PARAMETERS = {"eta_int": {}, "eta_c": {}, "eta_d": {"usd": "linear"}}


@dataclass(frozen=True)
class Threshold:
    """The outcome of :func:`threshold`.

    Parameters
    ----------
    parameter : str
        "eta_int", "eta_c" or "eta_d" (dimensionless efficiencies).
    loss_order : int
        l of the code compared with l = 0.
    value : float or None
        The threshold x* (S_l = S_0 there, S_l > S_0 just above), or None if there is no
        such crossing in (0, 1].
    message : str
        One sentence: the value, or why there is none.
    crossings : tuple of float
        Every sign change of S_l - S_0 found on the grid (refined), highest first.
    grid, gap : ndarray
        The scan: x values (dimensionless) and S_l(x) - S_0(x) there (NaN where a code
        cannot reach the rate), both of shape (n_grid,).

    Examples
    --------
    >>> Threshold("eta_c", 1, None, "no crossing").to_dict()["crossings"]
    []
    """

    parameter: str
    loss_order: int
    value: float | None
    message: str
    crossings: tuple = ()
    grid: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    gap: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def to_dict(self) -> dict:
        return {"parameter": self.parameter, "loss_order": self.loss_order,
                "value": self.value, "message": self.message,
                "crossings": list(self.crossings)}


def check_thresholds(parameters, loss_orders, *, n_grid: int = 25,
                     rate_hz: float = 3000.0, engine: str = "coherent", **fixed) -> None:
    """Validate a set of :func:`threshold` runs and refuse it, before any work, if it is
    estimated to take more than the time limit or more memory than the memory limit
    (:func:`catbell_qutip._checks.check_time`, :func:`~catbell_qutip._checks.check_memory`).

    Parameters
    ----------
    parameters : sequence of str
        Names from :data:`THRESHOLD_PARAMETERS`.
    loss_orders : sequence of int
        Distinct codes l >= 1 (each compared with l = 0).
    n_grid, rate_hz, engine, **fixed
        As in :func:`threshold`.

    Returns
    -------
    None
        Returns when the runs are valid and fit the time and memory limits.

    Raises
    ------
    ValueError
        Naming the argument (a :class:`~catbell_qutip._checks.ParameterError`), or the
        estimate and the limit.

    Examples
    --------
    >>> check_thresholds(["eta_c"], [1, 3], n_grid=25)  # ~1 s: accepted
    >>> from catbell_qutip._checks import TimeLimitError
    >>> try:
    ...     check_thresholds(["eta_c"], [1, 3], n_grid=10**6)
    ... except TimeLimitError as exc:
    ...     print(str(exc).split(" would take")[0])
    the thresholds (1 parameter(s) x l = 1, 3, n_grid = 1000000 scan points)
    """
    for p in parameters:
        check_choice(p, "parameters", THRESHOLD_PARAMETERS)
    orders = list(loss_orders)
    if not orders:
        raise ParameterError("loss_orders is empty: give codes l >= 1 (e.g. 1 3)",
                             "loss_orders")
    for l in orders:
        try:
            check_loss_order(l)
            if int(l) < 1:
                raise ValueError
        except ValueError:
            raise ParameterError(f"loss_orders {l!r}: give codes l >= 1 of the form "
                                 "2^m - 1 (1, 3, 7, ...), each compared with l = 0",
                                 "loss_orders") from None
    if len(set(orders)) != len(orders):
        raise ParameterError("loss_orders lists a code twice; give each l once",
                             "loss_orders")
    n_grid = check_int(n_grid, "n_grid", low=2)
    check_rate_hz(rate_hz)
    check_choice(engine, "engine", ("coherent", "fock"))
    enc = fixed.get("encoder", "ideal")
    seconds = 0.0
    for p in parameters:
        usd = THRESHOLD_PARAMETERS[p].get("usd", fixed.get("usd", "tub"))
        for l in orders:
            seconds += n_grid * _EVALUATIONS_PER_SOLVE * (
                seconds_per_point(l, engine=engine, usd=usd, encoder=enc)
                + seconds_per_point(0, engine=engine, usd=usd, encoder=enc))
    what = (f"the thresholds ({len(parameters)} parameter(s) x l = "
            f"{', '.join(map(str, orders))}, n_grid = {n_grid} scan points)")
    way_out = "give a smaller n_grid (25 resolves every crossing the paper states)"
    check_time(seconds, what, way_out)
    check_memory(n_grid * _BYTES_PER_SCAN_POINT * 4.0, what, way_out)


def _fields(parameter, x, fixed):
    if parameter not in THRESHOLD_PARAMETERS:
        raise ValueError(f"parameter must be one of {sorted(THRESHOLD_PARAMETERS)}, "
                         f"got {parameter!r}")
    f = dict(fixed)
    f.update(THRESHOLD_PARAMETERS[parameter])
    f[parameter] = x
    return f


def reference_S(loss_orders=(0, 1, 3), *, length_km: float = LENGTH_THRESHOLD_KM,
                rate_hz: float = RATE_FIG23_HZ,
                engine: str = "coherent", **fixed) -> dict:
    """S_l at the given length and rate (docs/model.md section 6 reads thresholds there).

    Parameters
    ----------
    loss_orders : iterable of int
        Codes l.
    length_km : float
        Fibre length in km.
    rate_hz : float
        Entanglement-generation rate, Hz.
    engine : {"coherent", "fock"}
        Engine.
    **fixed
        Other :class:`~catbell_qutip.params.ProtocolParams` fields (default: ideal).

    Returns
    -------
    dict
        l -> S (dimensionless CHSH value), or None where the code cannot reach
        ``rate_hz`` at that length.

    Examples
    --------
    Every value is a Bell violation within Tsirelson's bound, 2 < S <= 2 sqrt(2):

    >>> S = reference_S((0, 1))
    >>> sorted(S), all(2 < s <= 2 * 2 ** 0.5 for s in S.values())
    ([0, 1], True)
    """
    out = {}
    for l in loss_orders:
        r = solve_at_rate(l, rate_hz, engine=engine, length_km=length_km, **fixed)
        s = float(r["S"])
        out[int(l)] = s if np.isfinite(s) else None
    return out


def threshold(parameter: str, loss_order: int, *, length_km: float = LENGTH_THRESHOLD_KM,
              rate_hz: float = RATE_FIG23_HZ, engine: str = "coherent",
              n_grid: int = 25, x_min: float = 0.02, xtol: float = 1e-5,
              alpha_max: float = DEFAULT_ALPHA_MAX, n_scan: int = DEFAULT_N_SCAN,
              **fixed) -> Threshold:
    """The value of ``parameter`` at which S_l(length) = S_0(length) at a fixed R_eg.

    Parameters
    ----------
    parameter : {"eta_int", "eta_c", "eta_d"}
        The efficiency varied; "eta_d" switches on the linear-optics USD (``usd="linear"``),
        the only USD with detectors.
    loss_order : int
        l >= 1, compared with l = 0.
    length_km : float
        Fibre length in km (default 5).
    rate_hz : float
        Entanglement-generation rate both codes run at, Hz (default 3000; t0 = 0).
    engine : {"coherent", "fock"}
        Engine of :func:`catbell_qutip.evaluate`.
    n_grid : int
        Scan points in [x_min, 1] (default 25).
    x_min : float
        Lower end of the scan (default 0.02).
    xtol : float
        Absolute tolerance of the refined threshold (default 1e-5).
    **fixed
        Other :class:`~catbell_qutip.params.ProtocolParams` fields (default: ideal), e.g.
        ``encoder``, ``eta_int_placement``, ``decoder`` (docs/model.md section 3).

    Returns
    -------
    Threshold
        The threshold value (or None, with the reason), every crossing, and the scan.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``parameter`` is not in :data:`THRESHOLD_PARAMETERS`, ``loss_order`` < 1, or
        another argument is out of range (the message names it).
    catbell_qutip._checks.TimeLimitError, catbell_qutip._checks.MemoryLimitError
        If the scan is estimated to exceed the time or memory limit
        (:func:`check_thresholds`).

    Examples
    --------
    At the threshold both codes give the same S (checked by an independent solve):

    >>> th = threshold("eta_c", 1, n_grid=5)
    >>> S = reference_S((0, 1), eta_c=th.value)
    >>> 0 < th.value < 1, abs(S[1] - S[0]) < 1e-4
    (True, True)
    """
    return thresholds([dict(parameter=parameter, loss_order=loss_order)],
                      length_km=length_km, rate_hz=rate_hz, engine=engine, n_grid=n_grid,
                      x_min=x_min, xtol=xtol, alpha_max=alpha_max, n_scan=n_scan,
                      **fixed)[0]


def thresholds(jobs, *, length_km: float = LENGTH_THRESHOLD_KM,
               rate_hz: float = RATE_FIG23_HZ, engine: str = "coherent",
               n_grid: int = 25, x_min: float = 0.02, xtol: float = 1e-5,
               alpha_max: float = DEFAULT_ALPHA_MAX, n_scan: int = DEFAULT_N_SCAN,
               **fixed) -> list:
    """Several :func:`threshold` runs at once, their refining solves in lockstep.

    Each run scans its gap on the grid (one vectorised solve per code), then refines its
    crossings with Brent's method on g(x) = S_l(x) - S_0(x), every g a pair of rate solves.
    The refinements of all runs advance together (:mod:`catbell_qutip.lockstep`): each step
    evaluates every pending solve in one call per group, and each run gives bit for bit
    what :func:`threshold` gives alone.

    Parameters
    ----------
    jobs : sequence of dict
        One per run: ``parameter`` and ``loss_order`` (as :func:`threshold`), and optional
        extra fields that override ``fixed`` for that run (e.g. ``encoder``).
    length_km, rate_hz, engine, n_grid, x_min, xtol, alpha_max, n_scan, **fixed
        As in :func:`threshold`, common to every run.

    Returns
    -------
    list of Threshold
        In the order of ``jobs``.

    Raises
    ------
    catbell_qutip._checks.ParameterError
        As :func:`threshold`, for the first invalid job.

    Examples
    --------
    >>> a, b = thresholds([dict(parameter="eta_c", loss_order=1),
    ...                    dict(parameter="eta_c", loss_order=3)], n_grid=5)
    >>> (a.value, b.value) == (threshold("eta_c", 1, n_grid=5).value,
    ...                        threshold("eta_c", 3, n_grid=5).value)
    True
    """
    runs, scans_0 = [], {}
    for job in jobs:
        job = dict(job)
        parameter, loss_order = job.pop("parameter"), job.pop("loss_order")
        runs.append(_setup(parameter, loss_order, dict(fixed, **job), length_km=length_km,
                           rate_hz=rate_hz, engine=engine, n_grid=n_grid, x_min=x_min,
                           alpha_max=alpha_max, n_scan=n_scan, scans_0=scans_0))
    found = solve_many([_crossings_task(r, rate_hz, xtol) for r in runs])
    return [_result(r, c, length_km, rate_hz, x_min) for r, c in zip(runs, found, strict=True)]


def _setup(parameter, loss_order, fixed, *, length_km, rate_hz, engine, n_grid, x_min,
           alpha_max, n_scan, scans_0):
    """Validate one threshold run and scan its gap: a dict of what the rest needs.

    ``scans_0`` holds the l = 0 scans already made, by parameter and fields: runs that
    differ only in l (e.g. l = 1 and l = 3) share the same S_0 curve."""
    check_choice(parameter, "parameter", THRESHOLD_PARAMETERS)
    l = check_int(loss_order, "loss_order")
    if l < 1:
        raise ParameterError(f"loss_order = {l} is outside the allowed range: a code with "
                             "l >= 1 is compared with l = 0", "loss_order")
    check_thresholds([parameter], [loss_order], n_grid=n_grid, rate_hz=rate_hz,
                     engine=engine, **fixed)
    check_real(x_min, "x_min", low=0.0, high=1.0, low_open=True, high_open=True)
    kw = ScanOptions(engine, alpha_max, n_scan).solver_kwargs()
    base = dict(fixed, length_km=length_km)
    x = np.linspace(x_min, 1.0, int(n_grid))
    S_l = solve_at_rate(loss_order, rate_hz, **kw, **_fields(parameter, x, base))["S"]
    key = (parameter, tuple(sorted(base.items())), tuple(sorted(kw.items())), rate_hz,
           float(x_min), int(n_grid))
    try:
        S_0 = scans_0[key]
    except (KeyError, TypeError):  # not scanned yet, or a field that is not hashable
        S_0 = solve_at_rate(0, rate_hz, **kw, **_fields(parameter, x, base))["S"]
        try:
            scans_0[key] = S_0
        except TypeError:
            pass
    return dict(parameter=parameter, loss_order=loss_order, kw=kw, base=base, x=x,
                gap=S_l - S_0)


def _crossings_task(run, rate_hz, xtol):
    """The run's crossings, refined by Brent's method on g (a task of
    :mod:`catbell_qutip.lockstep`; the same iterates as :func:`scipy.optimize.brentq`)."""
    parameter, loss_order, kw, base = run["parameter"], run["loss_order"], run["kw"], run["base"]
    x, gap = run["x"], run["gap"]

    def g(xx):
        sl, s0 = yield from gather(
            solve_task(loss_order, rate_hz, **kw, **_fields(parameter, xx, base)),
            solve_task(0, rate_hz, **kw, **_fields(parameter, xx, base)))
        return float(sl["S"] - s0["S"])

    crossings = []
    for i in range(x.size - 1, 0, -1):
        hi_v, lo_v = gap[i], gap[i - 1]
        if not (np.isfinite(hi_v) and np.isfinite(lo_v)):
            continue
        if (hi_v > 0) != (lo_v > 0):
            root = yield from brent(g, x[i - 1], x[i], xtol=xtol, rtol=1e-12)
            crossings.append((float(root), bool(hi_v > 0)))
    return crossings


def _result(run, crossings, length_km, rate_hz, x_min):
    """The :class:`Threshold` of a run from its scan and crossings."""
    parameter, loss_order, x, gap = run["parameter"], run["loss_order"], run["x"], run["gap"]
    name = f"{parameter}" + (" (linear-optics USD)" if parameter == "eta_d" else "")
    where = f"S_{loss_order}({length_km:g} km) = S_0 at R_eg = {rate_hz:g} Hz"
    down = [c for c, above_wins in crossings if above_wins]
    n_nan = int(np.sum(~np.isfinite(gap)))
    nan_note = ""
    if n_nan:
        bad = x[~np.isfinite(gap)]
        nan_note = (f"; for {name} <= {bad.max():.3g} ({n_nan} of {x.size} scan points) at "
                    "least one code cannot reach the rate")
    if down:
        value = down[0]
        msg = f"{name} threshold for l = {loss_order}: {value:.5f} ({where})"
    else:
        value = None
        if np.isfinite(gap[-1]) and gap[-1] <= 0:
            why = (f"the l = {loss_order} code does not beat l = 0 even at {name} = 1 "
                   f"(S_{loss_order} - S_0 = {gap[-1]:.3g})")
        elif np.all(gap[np.isfinite(gap)] > 0):
            why = (f"the l = {loss_order} code beats l = 0 for every {name} in "
                   f"[{x_min:g}, 1] where both reach the rate")
        else:
            why = "no sign change from l-wins to l-loses on the scan"
        msg = f"no crossing {where} exists for {name} in (0, 1]: {why}"
    msg += nan_note
    return Threshold(parameter, int(loss_order), value, msg,
                     tuple(c for c, _ in crossings), x, gap)


def max_length_above(loss_order: int, level: float, lengths, S, *, rate_hz, engine,
                     alpha_max, n_scan, tol_km, **fields):
    """Largest L with S(L) >= level at a fixed rate (refined between grid points: bisection
    where the rate is unattainable, then Brent on S(L) - level).

    Parameters
    ----------
    loss_order : int
        Code l (dimensionless).
    level : float
        The CHSH level S must reach (dimensionless, e.g. 2).
    lengths : ndarray
        Fibre lengths of the scan, increasing [km].
    S : ndarray
        S at ``lengths`` (same shape; NaN where the rate is unattainable, which counts as
        below the level).
    rate_hz : float
        Entanglement-generation rate R_eg [Hz].
    engine : {"coherent", "fock"}
        Engine of the refining solves.
    alpha_max : float
        Largest amplitude alpha the rate solve scans (dimensionless).
    n_scan : int
        Points of the rate solve's alpha scan.
    tol_km : float
        Tolerance of the refined length [km].
    **fields
        Other :class:`~catbell_qutip.params.ProtocolParams` fields.

    Returns
    -------
    value_km : float or None
        The largest length with S >= level [km] (the scan end, a lower bound, if S stays
        above; None if S is below the level everywhere).
    note : str
        One sentence saying which case applies.

    Examples
    --------
    The two cases that need no refining solve:

    >>> import numpy as np
    >>> L, S = np.array([0.0, 1.0, 2.0]), np.array([2.8, 2.5, 2.1])
    >>> kw = dict(rate_hz=3000.0, engine="coherent", alpha_max=3.0, n_scan=20, tol_km=0.01)
    >>> max_length_above(1, 2.0, L, S, **kw)[0], max_length_above(1, 2.9, L, S, **kw)[0]
    (2.0, None)
    """
    ok = np.isfinite(S) & (S >= level)
    if not ok.any():
        return None, (f"S < {level} at every length of the scan "
                      f"[{lengths[0]:g}, {lengths[-1]:g}] km for l = {loss_order}")
    i = int(np.nonzero(ok)[0][-1])
    if i == len(lengths) - 1:
        return float(lengths[-1]), (f"S >= {level} up to the end of the scan "
                                    f"({lengths[-1]:g} km): a lower bound")

    def S_at(L):
        r = solve_at_rate(loss_order, rate_hz, engine=engine, alpha_max=alpha_max,
                          n_scan=n_scan, length_km=L, **fields)
        return float(r["S"])

    lo, hi = float(lengths[i]), float(lengths[i + 1])
    s_hi = float(S[i + 1])
    # bisect while the upper end cannot reach the rate, then Brent on S(L) - level
    while hi - lo > tol_km and not (np.isfinite(s_hi) and s_hi != level):
        mid = 0.5 * (lo + hi)
        s_mid = S_at(mid)
        if np.isfinite(s_mid) and s_mid >= level:
            lo = mid
        else:
            hi, s_hi = mid, s_mid
    if hi - lo > tol_km:
        lo = brentq(lambda L: S_at(L) - level, lo, hi, xtol=0.5 * tol_km)
    return lo, f"largest L with S >= {level} for l = {loss_order} (to {tol_km:g} km)"
