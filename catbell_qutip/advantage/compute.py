"""The advantage map itself: every code at a common rate and with alpha free, the winner and
its margin at every point (docs/model.md sections 4, 6)."""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

from .._checks import (
    ParameterError,
    check_choice,
    check_int,
    check_loss_order,
    check_memory,
    check_real,
    check_time,
    format_duration,
)
from ..api import evaluate, seconds_per_point
from ..keyrate import key_rate
from ..params import ALPHA_MAX, CONVERSION_PARTNERS, PARAM_INFO, ProtocolParams, merge_layers
from ..rates import DEFAULT_ALPHA_MAX, DEFAULT_N_SCAN, entanglement_rate, solve_at_rate
from ..sweep import sweep
from ..thresholds import THRESHOLD_PARAMETERS, threshold
from .settings import (
    _ALPHA_CHUNK,
    _BYTES_PER_POINT_N2,
    _EVALUATIONS_PER_SOLVE,
    _RATE_INFO,
    _RESULT_BYTES_PER_POINT_CODE,
    BLOCK_POINTS,
    DEFAULT_RATE_HZ,
    DEFAULT_X,
    DEFAULT_Y,
    KEY_ALPHA_MAX,
    MAX_AXIS_POINTS,
    N_KEY_ALPHA,
    _axis_info,
    _bar,
    _check_axis_values,
    default_fields,
)

__all__ = ["advantage_map", "winner"]


def winner(values, loss_orders, *, key: bool = False):
    """The best code at every point and its margin to the runner-up.

    Parameters
    ----------
    values : ndarray, shape (n_codes, ...)
        One figure of merit per code (S, or a key rate in bit/s); NaN where the code
        cannot run (it cannot reach the rate).
    loss_orders : sequence of int
        The codes, in the order of the first axis.
    key : bool
        Key rates: a code that cannot run yields no key (counts as 0 bit/s), and there is
        a winner only where some code has a positive key rate. Otherwise (S) a code that
        cannot run takes no part, and the margin needs two codes that can.

    Returns
    -------
    best : ndarray of int
        The winning loss order, -1 where there is none.
    margin : ndarray of float
        Best value minus the runner-up's (>= 0; same unit as ``values``); NaN where there
        is no winner, or (S) where only one code reaches the rate.
    """
    v = np.asarray(values, dtype=float)
    orders = np.asarray(loss_orders, dtype=int)
    if key:
        v = np.where(np.isfinite(v), v, 0.0)
    v = np.where(np.isfinite(v), v, -np.inf)
    idx = np.argsort(-v, axis=0, kind="stable")
    best_v = np.take_along_axis(v, idx[:1], 0)[0]
    second = (np.take_along_axis(v, idx[1:2], 0)[0] if v.shape[0] > 1
              else np.full(best_v.shape, -np.inf))
    has = best_v > 0 if key else np.isfinite(best_v)
    best = np.where(has, orders[idx[0]], -1)
    with np.errstate(invalid="ignore"):
        margin = np.where(has & np.isfinite(second), best_v - second, np.nan)
    return best, margin


def _flat_fields(fields: dict, x, y, shape):
    """Every field as a flat array over the map (the two axes broadcast), or a scalar."""
    out = {}
    for k, v in fields.items():
        out[k] = np.broadcast_to(v, shape).ravel() if np.ndim(v) else v
    (xn, xv), (yn, yv) = x, y
    out[xn] = np.broadcast_to(xv[:, None], shape).ravel()
    out[yn] = np.broadcast_to(yv[None, :], shape).ravel()
    return out


def _key_alpha_grid(key_alpha_max: float, n_key_alpha: int) -> np.ndarray:
    return np.linspace(key_alpha_max / n_key_alpha, key_alpha_max, n_key_alpha)


def _block(loss_order, rate, fields, engine, alpha_max, n_scan, alpha_grid):
    """Every per-code quantity on a flat block of points (vectorised)."""

    r = solve_at_rate(loss_order, rate, engine=engine, alpha_max=alpha_max, n_scan=n_scan,
                      **fields)
    out = {k: np.asarray(r[k], dtype=float) for k in ("alpha", "P", "F", "S", "Q", "R_eg")}
    out["key_rate_at_rate"] = np.asarray(key_rate(out["R_eg"], out["S"], out["Q"]),
                                         dtype=float)
    n = out["S"].size
    best = np.zeros(n)
    best_a = np.full(n, np.nan)
    length = fields.get("length_km", 0.0)
    t0 = fields.get("t0_s", 0.0)
    for start in range(0, alpha_grid.size, _ALPHA_CHUNK):
        a = alpha_grid[start:start + _ALPHA_CHUNK]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*have P = 0",
                                    category=RuntimeWarning)
            e = evaluate(loss_order, engine=engine, alpha=a[:, None], **fields)
        P = np.broadcast_to(e["P"], (a.size, n))
        K = key_rate(entanglement_rate(P, length, t0), e["S"], e["Q"])
        K = np.nan_to_num(np.broadcast_to(K, (a.size, n)), nan=0.0)
        i = np.argmax(K, axis=0)
        k = K[i, np.arange(n)]
        better = k > best
        best = np.where(better, k, best)
        best_a = np.where(better, a[i], best_a)
    out["key_rate_opt"] = best
    out["alpha_key_opt"] = best_a
    return out


_PER_CODE = {
    "alpha_at_rate": ("1", "amplitude |alpha| at which the code reaches the rate"),
    "P": ("1", "heralding probability at the rate"),
    "F": ("1", "heralded fidelity to phi+ at the rate"),
    "S": ("1", "CHSH value at the rate"),
    "Q": ("1", "bit-error rate of the key rounds at the rate"),
    "key_rate_at_rate": ("bit/s", "DI-QKD secret key rate at the rate"),
    "key_rate_opt": ("bit/s", "DI-QKD secret key rate, alpha optimised on the alpha grid"),
    "alpha_key_opt": ("1", "amplitude of the alpha-optimised key rate"),
}
_WINNERS = {
    "S": ("S", False, "1", "CHSH value at the rate"),
    "key_rate_at_rate": ("key_rate_at_rate", True, "bit/s", "key rate at the rate"),
    "key_rate_opt": ("key_rate_opt", True, "bit/s", "key rate, alpha optimised"),
}


def _cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _block_task(task):
    """One (code, block of points) of the plain path; module level so a pool can run it."""
    ci, l, sl, rate, sub, engine, alpha_max, n_scan, alpha_grid = task
    r = _block(l, rate, sub, engine, alpha_max, n_scan, alpha_grid)
    r["alpha_at_rate"] = r.pop("alpha")
    return ci, sl, {k: r[k] for k in _PER_CODE}


def _plain(loss_orders, rate, fields, x, y, engine, alpha_max, n_scan, alpha_grid,
           progress, processes, jobs=()):
    """Blocks of at most :data:`BLOCK_POINTS` points, each code's points split into at
    least ``processes`` blocks, run on a pool of ``processes`` forked processes (or in this
    process when ``processes`` is 1), costliest code first; the threshold ``jobs`` run on
    the same pool, right after the blocks of the costliest code. Returns the per-code
    arrays and {key: Threshold}."""
    shape = (x[1].size, y[1].size)
    npt = shape[0] * shape[1]
    flat = _flat_fields(fields, x, y, shape)
    rate_flat = flat.pop("rate_hz", rate)
    out = {k: np.full((len(loss_orders), npt), np.nan) for k in _PER_CODE}
    size = min(BLOCK_POINTS, -(-npt // processes))
    tasks = []
    for ci, l in sorted(enumerate(loss_orders), key=lambda t: -t[1]):
        for s in range(0, npt, size):
            sl = slice(s, min(s + size, npt))
            sub = {k: (v[sl] if np.ndim(v) else v) for k, v in flat.items()}
            tasks.append((ci, l, sl, rate_flat[sl] if np.ndim(rate_flat) else rate_flat,
                          sub, engine, alpha_max, n_scan, alpha_grid))
    bar = _bar(len(tasks), progress, "blocks")
    if processes > 1:
        import concurrent.futures as cf
        import multiprocessing as mp

        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        first = sum(1 for t in tasks if t[1] == tasks[0][1])
        with cf.ProcessPoolExecutor(max_workers=processes, mp_context=ctx) as pool:
            results = [pool.submit(_block_task, t) for t in tasks[:first]]
            pending = {pool.submit(_run_threshold, kw): key for key, kw in jobs}
            results += [pool.submit(_block_task, t) for t in tasks[first:]]
            for fut in cf.as_completed(results):
                ci, sl, r = fut.result()
                for k in _PER_CODE:
                    out[k][ci, sl] = r[k]
                bar.update()
            found = {key: fut.result() for fut, key in pending.items()}
    else:
        for t in tasks:
            ci, sl, r = _block_task(t)
            for k in _PER_CODE:
                out[k][ci, sl] = r[k]
            bar.update()
        found = {key: _run_threshold(kw) for key, kw in jobs}
    bar.close()
    return {k: v.reshape((len(loss_orders),) + shape) for k, v in out.items()}, found


def _sweep_value(v):
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return v


def _swept(loss_orders, rate, fields, x, y, engine, alpha_max, n_scan, alpha_grid,
           workers, scheduler, progress):
    """The same quantities through :func:`catbell_qutip.sweep.sweep` (process pool or
    Dask): at-rate quantities with ``target_rate_hz`` (one sweep per rate if the rate is an
    axis), the key rate on an extra alpha axis, maximised afterwards."""

    if alpha_max != DEFAULT_ALPHA_MAX or n_scan != DEFAULT_N_SCAN:
        raise ValueError("the sweep path solves alpha with the default scan "
                         f"(alpha_max = {DEFAULT_ALPHA_MAX:g}, n_scan = {DEFAULT_N_SCAN}); "
                         "leave alpha_max and n_scan at their defaults or use workers=None")
    fixed = {k: _sweep_value(v) for k, v in fields.items() if k not in ("alpha", "loss_order")}
    (xn, xv), (yn, yv) = x, y
    shape = (xv.size, yv.size)
    orders = [int(l) for l in loss_orders]
    out = {k: np.full((len(orders),) + shape, np.nan) for k in _PER_CODE}
    kw = dict(workers=workers, scheduler=scheduler, progress=progress)

    def run(spec):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*point\(s\) (have P = 0|cannot "
                                    r"reach)", category=RuntimeWarning)
            return sweep({"engine": engine, **spec}, **kw).load()

    # at the rate
    rate_axis = xn == "rate_hz" or yn == "rate_hz"
    other = (yn, yv) if xn == "rate_hz" else (xn, xv)
    rates = (xv if xn == "rate_hz" else yv) if rate_axis else [rate]
    for j, rr in enumerate(rates):
        axes = {"loss_order": orders}
        axes.update({other[0]: other[1].tolist()} if rate_axis
                    else {xn: xv.tolist(), yn: yv.tolist()})
        ds = run({"outputs": ["P", "F", "S", "Q", "alpha_at_rate"],
                  "target_rate_hz": float(rr), "fixed": fixed, "axes": axes})
        for k in ("alpha_at_rate", "P", "F", "S", "Q"):
            v = ds[k].values
            if not rate_axis:
                out[k][...] = v
            elif xn == "rate_hz":
                out[k][:, j, :] = v
            else:
                out[k][:, :, j] = v
    L = np.broadcast_to(_grid_field(fields, x, y, "length_km", 0.0), shape)
    t0 = np.broadcast_to(_grid_field(fields, x, y, "t0_s", 0.0), shape)
    r_eg = entanglement_rate(out["P"], L, t0)
    out["key_rate_at_rate"] = np.asarray(key_rate(r_eg, out["S"], out["Q"]), dtype=float)
    # alpha optimised: the key rate does not depend on the rate
    axes = {"loss_order": orders}
    for n_, v_ in (x, y):
        if n_ != "rate_hz":
            axes[n_] = v_.tolist()
    axes["alpha"] = alpha_grid.tolist()
    ds = run({"outputs": ["key_rate"], "fixed": fixed, "axes": axes})
    K = np.nan_to_num(ds["key_rate"].transpose(*axes).values, nan=0.0)
    i = np.argmax(K, axis=-1)
    best = np.take_along_axis(K, i[..., None], -1)[..., 0]
    a = np.where(best > 0, alpha_grid[i], np.nan)
    if rate_axis:
        ax = 1 if xn == "rate_hz" else 2
        best = np.repeat(np.expand_dims(best, ax), len(rates), axis=ax)
        a = np.repeat(np.expand_dims(a, ax), len(rates), axis=ax)
    out["key_rate_opt"], out["alpha_key_opt"] = best, a
    return out


def _grid_field(fields, x, y, name, default):
    if x[0] == name:
        return x[1][:, None]
    if y[0] == name:
        return y[1][None, :]
    return fields.get(name, default)


def _estimate_bytes(loss_orders, npt: int) -> float:
    n2 = (max(loss_orders) + 1) ** 2
    return _ALPHA_CHUNK * npt * _BYTES_PER_POINT_N2 * n2


def _threshold_jobs(x, y, loss_orders, fields, rate, engine) -> list:
    """The paper's one-at-a-time thresholds for the axes they apply to, as
    ``((name, l), kwargs of threshold())`` jobs: same length, rate, encoder, eta_int
    placement, decoder, fibre attenuation and USD as the map, every other imperfection
    ideal (eta_d switches on the linear-optics USD itself)."""
    if x[0] in ("length_km", "rate_hz") or y[0] in ("length_km", "rate_hz"):
        return []
    keep = ("encoder", "eta_int_placement", "decoder", "db_per_km", "usd")
    jobs = []
    for name, _ in (x, y):
        if name not in THRESHOLD_PARAMETERS:
            continue
        fixed = {k: fields[k] for k in keep if k in fields}
        if name == "eta_d":
            fixed.pop("usd", None)
        for l in loss_orders:
            if l != 0:
                jobs.append(((name, int(l)), dict(
                    parameter=name, loss_order=int(l), length_km=float(fields["length_km"]),
                    rate_hz=float(rate), engine=engine, **fixed)))
    return jobs


def _run_threshold(kwargs):
    return threshold(**kwargs)


def advantage_map(x=None, y=None, *, loss_orders=(0, 1, 3), rate_hz: float = DEFAULT_RATE_HZ,
                  engine: str = "coherent", alpha_max: float = DEFAULT_ALPHA_MAX,
                  n_scan: int = DEFAULT_N_SCAN, key_alpha_max: float = KEY_ALPHA_MAX,
                  n_key_alpha: int = N_KEY_ALPHA, processes: int | None = None,
                  workers: int | None = None,
                  scheduler: str | None = None, thresholds: bool = True,
                  progress: bool = False, **fields):
    """Which code wins where, over a grid of two parameters (docs/model.md 4, 6).

    Parameters
    ----------
    x, y : (str, array_like)
        The two axes: a parameter name from :data:`AXIS_NAMES` (an array-capable
        :class:`~catbell_qutip.params.ProtocolParams` field, or ``"rate_hz"``) and its
        strictly increasing values (at least 2). Defaults: eta_int in [0.8, 1] and eta_c in
        [0.3, 1], 40 points each.
    loss_orders : sequence of int
        The codes compared (default 0, 1, 3).
    rate_hz : float
        The entanglement-generation rate R_eg every code runs at, in Hz (default 3000;
        ignored if ``rate_hz`` is an axis).
    engine : {"coherent", "fock"}
        Engine (default coherent, vectorised; the Fock engine loops over points).
    alpha_max, n_scan : float, int
        Amplitude scan of :func:`catbell_qutip.rates.alpha_for_rate`.
    key_alpha_max, n_key_alpha : float, int
        The alpha grid of the alpha-optimised key rate: ``n_key_alpha`` points evenly in
        (0, key_alpha_max] (defaults 3 and 30); the optimum is the grid maximum.
    processes : int, optional
        The plain vectorised path (the default): blocks of at most :data:`BLOCK_POINTS`
        points, each code split into at least ``processes`` blocks, on that many forked
        processes (default: one per available core; 1: this process only; grids of fewer
        than 64 points always run here).
    workers, scheduler : int or str, optional
        Instead, run through the sweep machinery (:func:`catbell_qutip.sweep.sweep`,
        chunk by chunk) on a local pool of ``workers`` processes or on the Dask scheduler
        at ``scheduler``: for grids too large for the plain path's memory, or a cluster.
    thresholds : bool
        Compute the one-at-a-time thresholds for the axes that have them (eta_int, eta_c,
        eta_d) with :func:`catbell_qutip.thresholds.threshold`: same length, rate,
        encoder, eta_int placement and decoder, every other imperfection ideal.
    progress : bool
        tqdm progress bar.
    **fields
        Fixed :class:`~catbell_qutip.params.ProtocolParams` fields; they override
        :func:`default_fields` (L = 5 km, the reproduction's encoder and eta_int
        placement). ``t0_s`` enters the alpha-optimised key rate through
        R_eg = P / max(L / c_f, t0) (docs/model.md 4).

    Returns
    -------
    xarray.Dataset
        Dimensions ``loss_order`` and the two axis names (units and long names in the
        attributes). Per code: ``alpha_at_rate``, ``P``, ``F``, ``S``, ``Q``,
        ``key_rate_at_rate`` (bit/s), ``key_rate_opt`` (bit/s), ``alpha_key_opt``,
        ``key_alpha_at_edge`` (1 where that optimum is the grid's last alpha). Per
        point: ``winner_<q>`` (loss order, -1 for none) and ``margin_<q>`` (to the
        runner-up, >= 0) for q in S, key_rate_at_rate, key_rate_opt. Attributes: the fixed
        fields, rate, t0 used, the alpha grid, and ``threshold_<param>_l<l>`` (NaN where
        there is no crossing) with its message.

    Raises
    ------
    ValueError
        An axis that is not a map parameter, out-of-range or non-increasing values, bad
        fields, a run above the memory limit, or a rate no code reaches anywhere on the map.
    """
    import xarray as xr

    x = _axis_arg(x, DEFAULT_X, "x")
    y = _axis_arg(y, DEFAULT_Y, "y")
    if x[0] == y[0]:
        raise ParameterError(f"the two axes must differ: x and y are both {x[0]!r} (x "
                             f"defaults to {DEFAULT_X[0]!r}, y to {DEFAULT_Y[0]!r}: give "
                             "both when one of them is a default's parameter)", None)
    axis_of = {x[0]: "x", y[0]: "y"}
    if set(axis_of) & {"eta_dc", "eta_uc"} and "eta_c" in axis_of:
        raise ParameterError("'eta_c' is the product 'eta_dc' * 'eta_uc': vary either "
                             "'eta_c' or 'eta_dc'/'eta_uc' along an axis, not both", None)
    for name, label in axis_of.items():
        for other in (name, *CONVERSION_PARTNERS.get(name, ())):
            if fields.get(other) is not None:
                why = (f"; give {name!r} once" if other == name else
                       f", which {other} fixes too ('eta_c' = 'eta_dc' * 'eta_uc'); give "
                       "one of them")
                raise ParameterError(f"{other} is given, but {name!r} is the {label} axis"
                                     f"{why}", other)
    orders = [check_int(l, "loss_orders") for l in np.atleast_1d(loss_orders).tolist()]
    for l in orders:
        try:
            check_loss_order(l)
        except ParameterError:
            raise ParameterError(f"loss_orders {l}: a loss order is of the form 2^m - 1 "
                                 "(0, 1, 3, 7, ...)", "loss_orders") from None
    if len(set(orders)) != len(orders):
        raise ParameterError("loss_orders lists a code twice; give each l once",
                             "loss_orders")
    orders = sorted(orders)
    if len(orders) < 2:
        raise ParameterError(f"loss_orders needs at least two codes to compare, got "
                             f"{orders}", "loss_orders")
    if "rate_hz" not in axis_of:
        rate_hz = check_real(rate_hz, "rate_hz", low=0.0, low_open=True, unit="Hz")
    key_alpha_max = check_real(key_alpha_max, "key_alpha_max", low=0.0, low_open=True,
                               high=ALPHA_MAX)
    n_key_alpha = check_int(n_key_alpha, "n_key_alpha", low=2)
    check_choice(engine, "engine", ("coherent", "fock"))
    if "alpha" in fields:
        raise ParameterError("alpha is solved at every point so that each code reaches "
                             "the rate; do not give it", "alpha")
    # defaults < caller's fields < axes (an eta_c axis clears a preset's eta_dc/eta_uc)
    merged = merge_layers(default_fields(), fields,
                          {n: 1.0 for n, _ in (x, y) if n != "rate_hz"})
    merged.pop("loss_order", None)
    for n, _ in (x, y):
        merged.pop(n, None)
    axes_now = {n: v for n, v in (x, y) if n != "rate_hz"}
    ProtocolParams(**merged, **{n: v[:, None] if n == x[0] else v[None, :]
                                for n, v in axes_now.items()})
    L = np.asarray(_grid_field(merged, x, y, "length_km", 0.0))
    t0 = np.asarray(_grid_field(merged, x, y, "t0_s", 0.0))
    if np.any((L == 0) & (t0 == 0)):
        raise ParameterError("rates need a positive attempt time max(L / c_f, t0): "
                             "length_km and t0_s are both 0 at some points; give "
                             "length_km > 0 or t0_s > 0", None)
    npt = x[1].size * y[1].size
    swept = workers is not None or scheduler is not None
    if processes is None:
        processes = _cores() if npt >= 64 else 1
    processes = check_int(processes, "processes", low=1)
    n_par = int(workers or 1) if swept else processes
    usd, enc = merged.get("usd", "tub"), merged.get("encoder", "ideal")
    seconds = npt * (_EVALUATIONS_PER_SOLVE + n_key_alpha) * sum(
        seconds_per_point(l, engine=engine, usd=usd, encoder=enc) for l in orders) / n_par
    what = (f"the advantage map ({x[1].size} x {y[1].size} points, codes l = "
            f"{', '.join(map(str, orders))}, n_key_alpha = {n_key_alpha}, on {n_par} "
            "process(es))")
    result_gib = npt * len(orders) * _RESULT_BYTES_PER_POINT_CODE / 2 ** 30
    for label, (name, v) in (("x", x), ("y", y)):
        if v.size > MAX_AXIS_POINTS and not swept:
            raise ParameterError(
                f"{label} axis {name!r} has {v.size} points, more than the "
                f"{MAX_AXIS_POINTS} per axis of the plain path (this map: {npt:.3g} points, "
                f"about {format_duration(seconds)} on {processes} process(es) and "
                f"{result_gib:.2g} GiB of results); give fewer points or use workers=N to "
                "run through the sweep machinery", label)
    check_time(seconds, what, "give fewer points or a smaller n_key_alpha, or more "
                              + ("workers=N" if swept else "processes=N"))
    per_call = min(npt, 512 if swept else -(-npt // processes), BLOCK_POINTS)
    check_memory(_estimate_bytes(orders, per_call) * n_par
                 + npt * len(orders) * _RESULT_BYTES_PER_POINT_CODE + 32.0 * n_key_alpha,
                 f"the advantage map (codes up to l = {max(orders)}, {per_call} points per "
                 f"vectorised call, {n_key_alpha} key amplitudes)",
                 "use fewer workers" if swept else
                 "use workers=N to run through the sweep machinery")
    alpha_grid = _key_alpha_grid(float(key_alpha_max), int(n_key_alpha))
    args = (orders, rate_hz, merged, x, y, engine, alpha_max, n_scan, alpha_grid)
    jobs = _threshold_jobs(x, y, orders, merged, rate_hz, engine) if thresholds else []
    if swept:
        res = _swept(*args, workers, scheduler, progress)
        found = {key: _run_threshold(kw) for key, kw in jobs}
    else:
        res, found = _plain(*args, progress, processes, jobs)
    if not np.any(np.isfinite(res["S"])):
        where = (f"R_eg = {rate_hz:g} Hz" if "rate_hz" not in (x[0], y[0])
                 else "any rate of the axis")
        raise ValueError(f"no code reaches {where} anywhere on the map with alpha in "
                         f"(0, {alpha_max:g}]: lower rate_hz or change the axes")

    dims = (x[0], y[0])
    coords = {"loss_order": ("loss_order", np.asarray(orders, dtype=int),
                             {"units": "1", "long_name": "loss order l"})}
    for n, v in (x, y):
        info = PARAM_INFO.get(n)
        unit, long = (info.unit, info.long_name) if info else (_RATE_INFO["unit"],
                                                              _RATE_INFO["long_name"])
        coords[n] = (n, v, {"units": unit, "long_name": long})
    data = {k: (("loss_order",) + dims, res[k], {"units": u, "long_name": ln})
            for k, (u, ln) in _PER_CODE.items()}
    edge = np.isfinite(res["alpha_key_opt"]) & (res["alpha_key_opt"] >= alpha_grid[-1])
    data["key_alpha_at_edge"] = (("loss_order",) + dims, edge.astype(np.int8), {
        "units": "1", "long_name": "1 where the alpha-optimised key rate peaks at the largest "
                                   "alpha of the grid (a lower bound there)"})
    for q, (src, key, unit, ln) in _WINNERS.items():
        best, margin = winner(res[src], orders, key=key)
        data[f"winner_{q}"] = (dims, best.astype(np.int32),
                               {"units": "1", "long_name": f"loss order with the highest "
                                f"{ln} (-1: none)"})
        data[f"margin_{q}"] = (dims, margin, {"units": unit, "long_name":
                                               f"margin of the winner over the runner-up, {ln}"})
    fixed_p = ProtocolParams(**merged)
    attrs = {"title": "which code wins (docs/model.md 4, 6)", "engine": engine,
             "x": x[0], "y": y[0], "loss_orders": ", ".join(map(str, orders)),
             "key_alpha_grid": f"{n_key_alpha} points in (0, {key_alpha_max:g}]",
             "key_alpha_step": float(alpha_grid[1] - alpha_grid[0]),
             "run": "sweep" if swept else f"vectorised, {processes} process(es)"}
    if "rate_hz" not in dims:
        attrs["rate_hz"] = float(rate_hz)
    for k, v in fixed_p.as_dict().items():
        if k in dims or k in ("alpha", "loss_order") or v is None:
            continue
        attrs[f"param_{k}"] = v if isinstance(v, (int, float, str)) else str(v)
    attrs["t0_s_key_rate_opt"] = (
        "t0_s axis" if "t0_s" in dims else float(fixed_p.t0_s))
    if thresholds:
        for (n, l), th in found.items():
            attrs[f"threshold_{n}_l{l}"] = float("nan") if th.value is None else th.value
            attrs[f"threshold_{n}_l{l}_message"] = th.message
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _axis_arg(axis, default, label):
    if axis is None:
        name, start, stop, num = default
        return name, np.linspace(start, stop, num)
    try:
        name, values = axis
    except (TypeError, ValueError):
        raise ParameterError(f"{label} must be a pair (name, values), e.g. {label}=('eta_int', "
                             f"np.linspace(0.8, 1, 40)), got {axis!r}", label) from None
    _axis_info(name, label)
    return name, _check_axis_values(name, values, label)
