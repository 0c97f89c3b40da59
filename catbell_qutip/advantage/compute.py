"""The advantage map itself: every code at a common rate and with alpha free, the winner and
its margin at every point (docs/model.md sections 4, 6).

:func:`advantage_map` is three steps: :func:`.job.validate` (every check, one
:class:`.job.MapJob`), the run (:func:`_plain`: blocks on a local pool; :func:`_swept`: the
sweep machinery) and :func:`_assemble` (winners, margins, the Dataset)."""

from __future__ import annotations

import math
import multiprocessing as mp
import warnings

import numpy as np

from .._checks import (
    NoHeraldWarning,
    UnreachableRateWarning,
)
from ..api import evaluate
from ..formulas import timing
from ..keyrate import key_rate
from ..outputs import dataset
from ..params import ProtocolParams
from ..rates import (
    DEFAULT_ALPHA_MAX,
    DEFAULT_N_SCAN,
    ScanOptions,
    entanglement_rate,
    solve_at_rate,
)
from ..sweep import sweep
from ..sweep.executors import LocalExecutor
from ..thresholds import threshold
from .job import MapJob, _grid_field, validate
from .settings import (
    _ALPHA_CHUNK,
    BLOCK_POINTS,
    DEFAULT_RATE_HZ,
    KEY_ALPHA_MAX,
    N_KEY_ALPHA,
    _bar,
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

    Examples
    --------
    Two codes at two points; l = 1 cannot run at the second:

    >>> import numpy as np
    >>> best, margin = winner(np.array([[2.5, 2.6], [2.7, np.nan]]), (0, 1))
    >>> best.tolist(), margin.round(12).tolist()
    ([1, 0], [0.2, nan])

    For key rates a code that cannot run counts as 0 bit/s, and 0 bit/s wins nothing:

    >>> best, margin = winner(np.array([[0.0, 5.0], [np.nan, np.nan]]), (0, 1), key=True)
    >>> best.tolist(), margin.tolist()
    ([-1, 0], [nan, 5.0])
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


def _block(loss_order, rate, fields, scan: ScanOptions, alpha_grid):
    """Every per-code quantity on a flat block of points (vectorised)."""
    r = solve_at_rate(loss_order, rate, **scan.solver_kwargs(), **fields)
    out = {k: np.asarray(r[k], dtype=float) for k in ("alpha", "P", "F", "S", "Q", "R_eg")}
    out["key_rate_at_rate"] = np.asarray(key_rate(out["R_eg"], out["S"], out["Q"]),
                                         dtype=float)
    n = out["S"].size
    best = np.zeros(n)
    best_a = np.full(n, np.nan)
    clock = timing(fields)
    for start in range(0, alpha_grid.size, _ALPHA_CHUNK):
        a = alpha_grid[start:start + _ALPHA_CHUNK]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=NoHeraldWarning)
            e = evaluate(loss_order, engine=scan.engine, alpha=a[:, None], **fields)
        P = np.broadcast_to(e["P"], (a.size, n))
        K = key_rate(entanglement_rate(P, **clock), e["S"], e["Q"])
        K = np.nan_to_num(np.broadcast_to(K, (a.size, n)), nan=0.0)
        i = np.argmax(K, axis=0)
        k = K[i, np.arange(n)]
        better = k > best
        best = np.where(better, k, best)
        best_a = np.where(better, a[i], best_a)
    out["key_rate_opt"] = best
    out["alpha_key_opt"] = best_a
    return out


#: per-code variables: name -> (the quantity it is, for its unit; its long name)
_PER_CODE = {
    "alpha_at_rate": ("alpha", "amplitude |alpha| at which the code reaches the rate"),
    "P": ("P", "heralding probability at the rate"),
    "F": ("F", "heralded fidelity to phi+ at the rate"),
    "S": ("S", "CHSH value at the rate"),
    "Q": ("Q", "bit-error rate of the key rounds at the rate"),
    "key_rate_at_rate": ("key_rate", "DI-QKD secret key rate at the rate"),
    "key_rate_opt": ("key_rate", "DI-QKD secret key rate, alpha optimised on the alpha grid"),
    "alpha_key_opt": ("alpha", "amplitude of the alpha-optimised key rate"),
}
#: winner maps: figure of merit -> (per-code variable, is a key rate, words)
_WINNERS = {
    "S": ("S", False, "CHSH value at the rate"),
    "key_rate_at_rate": ("key_rate_at_rate", True, "key rate at the rate"),
    "key_rate_opt": ("key_rate_opt", True, "key rate, alpha optimised"),
}


def _block_task(task):
    """One (code, block of points) of the plain path; module level so a pool can run it."""
    ci, l, sl, rate, sub, scan, alpha_grid = task
    r = _block(l, rate, sub, scan, alpha_grid)
    r["alpha_at_rate"] = r.pop("alpha")
    return ci, sl, {k: r[k] for k in _PER_CODE}


def _plain(job: MapJob):
    """Blocks of at most :data:`BLOCK_POINTS` points, each code's points split into at
    least ``job.processes`` blocks, costliest code first, run on a local pool of forked
    processes (:class:`catbell_qutip.sweep.executors.LocalExecutor`) or in this process when
    ``job.processes`` is 1; the threshold jobs run on the same pool, right after the blocks
    of the costliest code. Returns the per-code arrays and {key: Threshold}."""
    x, y, orders = job.x, job.y, job.loss_orders
    shape = (x[1].size, y[1].size)
    npt = shape[0] * shape[1]
    flat = _flat_fields(job.fields, x, y, shape)
    rate_flat = flat.pop("rate_hz", job.rate_hz)
    out = {k: np.full((len(orders), npt), np.nan) for k in _PER_CODE}
    size = min(BLOCK_POINTS, -(-npt // job.processes))
    tasks = []
    for ci, l in sorted(enumerate(orders), key=lambda t: -t[1]):
        for s in range(0, npt, size):
            sl = slice(s, min(s + size, npt))
            sub = {k: (v[sl] if np.ndim(v) else v) for k, v in flat.items()}
            tasks.append((ci, l, sl, rate_flat[sl] if np.ndim(rate_flat) else rate_flat,
                          sub, job.scan, job.alpha_grid))
    bar = _bar(len(tasks), job.progress, "blocks")

    def store(result):
        ci, sl, r = result
        for k in _PER_CODE:
            out[k][ci, sl] = r[k]
        bar.update()

    if job.processes > 1:
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        pool = LocalExecutor(job.processes, mp_context=ctx)
        try:
            first = sum(1 for t in tasks if t[1] == tasks[0][1])
            running = {pool.submit(_block_task, t) for t in tasks[:first]}
            pending = {pool.submit(_run_threshold, kw): key for key, kw in job.threshold_jobs}
            running |= {pool.submit(_block_task, t) for t in tasks[first:]}
            while running:
                done = pool.wait(running)
                running -= done
                for fut in done:
                    store(fut.result())
            found = {key: fut.result() for fut, key in pending.items()}
        except BaseException:  # Ctrl-C or a failure: drop the queue, not run it out
            pool.close(cancel=True)
            raise
        pool.close()
    else:
        for t in tasks:
            store(_block_task(t))
        found = {key: _run_threshold(kw) for key, kw in job.threshold_jobs}
    bar.close()
    return {k: v.reshape((len(orders),) + shape) for k, v in out.items()}, found


def _sweep_value(v):
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return v


def _swept(job: MapJob):
    """The same quantities through :func:`catbell_qutip.sweep.sweep` (process pool or
    Dask): at-rate quantities with ``target_rate_hz`` (one sweep per rate if the rate is an
    axis), the key rate on an extra alpha axis, maximised afterwards."""
    x, y, fields, alpha_grid = job.x, job.y, job.fields, job.alpha_grid
    fixed = {k: _sweep_value(v) for k, v in fields.items() if k not in ("alpha", "loss_order")}
    (xn, xv), (yn, yv) = x, y
    shape = (xv.size, yv.size)
    orders = [int(l) for l in job.loss_orders]
    out = {k: np.full((len(orders),) + shape, np.nan) for k in _PER_CODE}
    kw = dict(workers=job.workers, scheduler=job.scheduler, progress=job.progress)

    def run(spec):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=NoHeraldWarning)
            warnings.filterwarnings("ignore", category=UnreachableRateWarning)
            return sweep({"engine": job.scan.engine, **spec}, **kw).load()

    # at the rate
    rate_axis = xn == "rate_hz" or yn == "rate_hz"
    other = (yn, yv) if xn == "rate_hz" else (xn, xv)
    rates = (xv if xn == "rate_hz" else yv) if rate_axis else [job.rate_hz]
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
    r_eg = entanglement_rate(out["P"], L, t0, timing(fields)["wait_rule"])
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

    Examples
    --------
    A 2 x 2 map: every S within Tsirelson's bound, every winner one of the codes (or -1):

    >>> ds = advantage_map(("eta_c", [0.5, 1.0]), ("eta_int", [0.9, 1.0]),
    ...                    thresholds=False, processes=1, n_key_alpha=5)
    >>> list(ds.S.dims), bool((ds.S <= 2 * 2 ** 0.5).all())
    (['loss_order', 'eta_c', 'eta_int'], True)
    >>> set(ds.winner_S.values.ravel().tolist()) <= {-1, 0, 1, 3}
    True
    """
    job = validate(x, y, loss_orders=loss_orders, rate_hz=rate_hz,
                    scan=ScanOptions(engine, alpha_max, n_scan), key_alpha_max=key_alpha_max,
                    n_key_alpha=n_key_alpha, processes=processes, workers=workers,
                    scheduler=scheduler, thresholds=thresholds, progress=progress,
                    fields=fields)
    if job.swept:
        res = _swept(job)
        found = {key: _run_threshold(kw) for key, kw in job.threshold_jobs}
    else:
        res, found = _plain(job)
    return _assemble(job, res, found)


def _assemble(job: MapJob, res: dict, found: dict):
    """The map's Dataset from the per-code arrays and the thresholds: winners, margins,
    units and long names (:func:`catbell_qutip.outputs.dataset`), the settings as
    attributes. Refuses a map where no code reaches the rate anywhere."""
    x, y, orders, alpha_grid = job.x, job.y, job.loss_orders, job.alpha_grid
    if not np.any(np.isfinite(res["S"])):
        where = (f"R_eg = {job.rate_hz:g} Hz" if job.rate_hz is not None
                 else "any rate of the axis")
        raise ValueError(f"no code reaches {where} anywhere on the map with alpha in "
                         f"(0, {job.scan.alpha_max:g}]: lower rate_hz or change the axes")
    dims = (x[0], y[0])
    coords = {"loss_order": np.asarray(orders, dtype=int), x[0]: x[1], y[0]: y[1]}
    data = {k: (("loss_order",) + dims, res[k]) for k in _PER_CODE}
    names = {k: q for k, (q, _) in _PER_CODE.items()}
    longs = {k: ln for k, (_, ln) in _PER_CODE.items()}
    edge = np.isfinite(res["alpha_key_opt"]) & (res["alpha_key_opt"] >= alpha_grid[-1])
    data["key_alpha_at_edge"] = (("loss_order",) + dims, edge.astype(np.int8))
    longs["key_alpha_at_edge"] = ("1 where the alpha-optimised key rate peaks at the largest "
                                  "alpha of the grid (a lower bound there)")
    for q, (src, key, ln) in _WINNERS.items():
        best, margin = winner(res[src], orders, key=key)
        data[f"winner_{q}"] = (dims, best.astype(np.int32))
        names[f"winner_{q}"] = "loss_order"
        longs[f"winner_{q}"] = f"loss order with the highest {ln} (-1: none)"
        data[f"margin_{q}"] = (dims, margin)
        names[f"margin_{q}"] = names[src]
        longs[f"margin_{q}"] = f"margin of the winner over the runner-up, {ln}"
    fixed_p = ProtocolParams(**job.fields)
    attrs = {"title": "which code wins (docs/model.md 4, 6)", "engine": job.scan.engine,
             "x": x[0], "y": y[0], "loss_orders": ", ".join(map(str, orders)),
             "key_alpha_grid": f"{alpha_grid.size} points in (0, {alpha_grid[-1]:g}]",
             "key_alpha_step": float(alpha_grid[1] - alpha_grid[0]),
             "run": "sweep" if job.swept else f"vectorised, {job.processes} process(es)"}
    if job.rate_hz is not None:
        attrs["rate_hz"] = job.rate_hz
    for k, v in fixed_p.as_dict().items():
        if k in dims or k in ("alpha", "loss_order") or v is None:
            continue
        attrs[f"param_{k}"] = v if isinstance(v, (int, float, str)) else str(v)
    attrs["t0_s_key_rate_opt"] = (
        "t0_s axis" if "t0_s" in dims else float(fixed_p.t0_s))
    if job.thresholds:
        for (n, l), th in found.items():
            attrs[f"threshold_{n}_l{l}"] = float("nan") if th.value is None else th.value
            attrs[f"threshold_{n}_l{l}_message"] = th.message
    return dataset(data, coords, attrs, names=names, long_names=longs)


