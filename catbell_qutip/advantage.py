"""Which code pays off? Maps of the best loss order over two parameters, and what the
``ml`` decoder changes (docs/model.md sections 3, 4 and 6).

The paper varies one imperfection at a time (its Fig. 3). Real hardware has all of them at
once, so :func:`advantage_map` compares the codes l = 0, 1, 3 (or any loss orders) on a grid
over two parameters -- any two array-capable :class:`~catbell_qutip.params.ProtocolParams`
fields, or one of them and the entanglement-generation rate ``rate_hz`` -- and reports at
every point:

- the code with the highest CHSH value S when every code runs at the same rate R_eg
  (each at its own amplitude, :func:`catbell_qutip.rates.solve_at_rate`), and its margin
  to the runner-up;
- the code with the highest DI-QKD key rate at that rate (R_eg (1 - h(Q) - chi(S)),
  docs/model.md 4) and its margin;
- the code with the highest key rate when alpha is free (the maximum over an alpha grid,
  with R_eg = P / max(L / c_f, t0); the t0 used is stored) and its margin.

Alongside, the paper's one-at-a-time thresholds (:func:`catbell_qutip.thresholds.threshold`,
every other imperfection ideal, same encoder, eta_int placement and decoder) for the axes
they apply to, so a map can be read against them.

:func:`decoder_table` measures what the per-record ``ml`` decoder (docs/model.md 3, step 6)
changes against ``smallest-loss`` in the reproduction's settings (the ``repro-base`` preset,
read at run time): the eta_int and eta_c thresholds, Fig. 3(g)'s reach and Fig. 4's peak
key rates.

Everything runs on the coherent engine by default, vectorised over the grid; large grids
can go through the sweep machinery (:func:`catbell_qutip.sweep.sweep`) on a process pool or
a Dask cluster.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

from ._checks import ParameterError, check_memory, check_real
from .api import evaluate
from .keyrate import key_rate, peak_key_rate
from .params import ARRAY_FIELDS, PARAM_INFO, ProtocolParams, merge_layers, preset
from .rates import (
    DEFAULT_ALPHA_MAX,
    DEFAULT_N_SCAN,
    S_vs_length,
    entanglement_rate,
    solve_at_rate,
)
from .reproduce import calibrate_t0
from .sweep import sweep
from .thresholds import THRESHOLD_PARAMETERS, max_length_above, threshold

__all__ = [
    "REPRO_PRESET",
    "AXIS_NAMES",
    "DEFAULT_X",
    "DEFAULT_Y",
    "repro_settings",
    "default_fields",
    "parse_axis",
    "advantage_map",
    "winner",
    "plot_map",
    "decoder_table",
    "decoder_table_markdown",
]

#: the preset whose encoder and eta_int placement the reproduction pins
REPRO_PRESET = "repro-base"
#: map axes: every array-capable parameter except alpha (solved for the rate), plus the rate
AXIS_NAMES = tuple(n for n in ARRAY_FIELDS if n != "alpha") + ("rate_hz",)
#: default axes: (name, start, stop, num)
DEFAULT_X = ("eta_int", 0.8, 1.0, 40)
DEFAULT_Y = ("eta_c", 0.3, 1.0, 40)
#: default fixed point of a map: L = 5 km and R_eg = 3000 Hz (where the paper reads its
#: threshold statements, docs/model.md 6)
DEFAULT_LENGTH_KM = 5.0
DEFAULT_RATE_HZ = 3000.0
#: the alpha grid of the alpha-optimised key rate: (0, KEY_ALPHA_MAX] in N_KEY_ALPHA steps
KEY_ALPHA_MAX = 3.0
N_KEY_ALPHA = 30
#: evaluate at most this many map points per vectorised call of the plain path
BLOCK_POINTS = 2048
#: estimated bytes per evaluated point and per code component squared (measured on the
#: coherent engine with the explicit encoder: ~20 kB per point for l = 3, N = 4)
_BYTES_PER_POINT_N2 = 2.0e3
#: amplitudes evaluated together per point (rates._scan_P works in chunks of 8)
_ALPHA_CHUNK = 8

_RATE_INFO = dict(unit="Hz", long_name="entanglement-generation rate R_eg", flag="--rate-hz")

_LABELS = {
    "eta": r"extra transmission $\eta$",
    "length_km": r"fibre length $L$ (km)",
    "db_per_km": r"fibre attenuation $a_\mathrm{dB}$ (dB/km)",
    "eta_int": r"light-matter efficiency $\eta_\mathrm{int}$",
    "eta_c": r"coupling/conversion efficiency $\eta_c$",
    "eta_dc": r"down-conversion efficiency $\eta_\mathrm{dc}$",
    "eta_uc": r"up-conversion efficiency $\eta_\mathrm{uc}$",
    "eta_d": r"detector efficiency $\eta_d$",
    "t_c_s": r"memory coherence time $t_c$ (s)",
    "t0_s": r"repetition time $t_0$ (s)",
    "p_dark": r"dark-click probability $p_\mathrm{dark}$",
    "rate_hz": r"entanglement-generation rate $R_\mathrm{eg}$ (Hz)",
}
_LOG_AXES = ("t_c_s", "rate_hz", "t0_s")
_CODE_COLOURS = {0: "#1f77b4", 1: "#ff7f0e", 3: "#2ca02c", 7: "#d62728", 15: "#9467bd"}
_NONE_COLOUR = "#d9d9d9"


# ---------------------------------------------------------------------------------------
# settings and axes
# ---------------------------------------------------------------------------------------
def repro_settings() -> dict:
    """The encoder and eta_int placement the reproduction pins in ``repro-base``.

    Read from :func:`catbell_qutip.params.preset` at run time, so maps and the decoder
    table follow the reproduction's choice; a field the preset leaves out takes the
    :class:`~catbell_qutip.params.ProtocolParams` default.

    Returns
    -------
    dict
        ``{"encoder": ..., "eta_int_placement": ...}``.
    """
    base = preset(REPRO_PRESET)
    defaults = ProtocolParams.__dataclass_fields__
    return {k: base.get(k, defaults[k].default) for k in ("encoder", "eta_int_placement")}


def default_fields() -> dict:
    """Fixed fields of a map unless the caller overrides them: L = 5 km and the
    reproduction's encoder and eta_int placement (:func:`repro_settings`); every
    imperfection ideal (the :class:`~catbell_qutip.params.ProtocolParams` defaults)."""
    return {"length_km": DEFAULT_LENGTH_KM, **repro_settings()}


def _axis_info(name: str, flag_terms: bool):
    if name not in AXIS_NAMES:
        what = "--x/--y" if flag_terms else "an axis"
        hint = (" (alpha is solved at every point so that each code reaches the rate)"
                if name == "alpha" else "")
        raise ParameterError(
            f"{what}: {name!r} is not a parameter a map can vary{hint}; choose from "
            f"{', '.join(AXIS_NAMES)}", name)


def _check_axis_values(name: str, values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size < 2:
        raise ParameterError(f"axis {name} needs at least 2 values, got {values.size}", name)
    if not np.all(np.diff(values) > 0):
        raise ParameterError(f"axis {name}: values must increase strictly", name)
    try:
        if name == "rate_hz":
            check_real(values, name, low=0.0, low_open=True, unit="Hz")
        else:
            PARAM_INFO[name].check(values)
    except ParameterError as exc:
        raise ParameterError(f"axis {name}: {exc}", name) from None
    return values


def parse_axis(text: str) -> tuple[str, np.ndarray]:
    """Parse an axis given on the command line.

    Parameters
    ----------
    text : str
        ``NAME=START:STOP:NUM`` (``:log`` appended for log spacing) or ``NAME=V1,V2,...``,
        e.g. ``eta_int=0.8:1:40``, ``rate_hz=30:3e4:30:log`` or ``length_km=1,5,10``.

    Returns
    -------
    (name, values) : tuple of str and ndarray

    Raises
    ------
    ValueError
        Naming what is wrong and the accepted forms.
    """
    forms = "give NAME=START:STOP:NUM[:log] or NAME=V1,V2,... (e.g. eta_int=0.8:1:40)"
    name, sep, rest = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not rest:
        raise ValueError(f"axis {text!r}: {forms}")
    _axis_info(name, True)
    try:
        if ":" in rest:
            parts = rest.split(":")
            scale = "linear"
            if parts[-1].strip() in ("log", "linear"):
                scale = parts.pop().strip()
            if len(parts) != 3:
                raise ValueError
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
            if scale == "log":
                if not (start > 0 and stop > 0):
                    raise ValueError(f"axis {text!r}: a log-spaced axis needs START > 0 and "
                                     "STOP > 0")
                values = np.geomspace(start, stop, num)
            else:
                values = np.linspace(start, stop, num)
        else:
            values = np.array([float(v) for v in rest.split(",")])
    except ValueError as exc:
        if str(exc).startswith("axis "):
            raise
        raise ValueError(f"axis {text!r}: {forms}") from None
    return name, _check_axis_values(name, values)


# ---------------------------------------------------------------------------------------
# the map
# ---------------------------------------------------------------------------------------
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


def _bar(total, progress, unit):
    from tqdm import tqdm

    return tqdm(total=total, disable=not progress, unit=unit, leave=False)


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
                  progress: bool = False, _flag_terms: bool = False, **fields):
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

    x = _axis_arg(x, DEFAULT_X, _flag_terms)
    y = _axis_arg(y, DEFAULT_Y, _flag_terms)
    term = (lambda f: PARAM_INFO[f].flag if f in PARAM_INFO else "--" + f.replace("_", "-")) \
        if _flag_terms else (lambda f: f)
    if x[0] == y[0]:
        raise ParameterError(f"the two axes must differ, got {term(x[0])} twice", x[0])
    if {x[0], y[0]} & {"eta_dc", "eta_uc"} and {x[0], y[0]} & {"eta_c"}:
        raise ParameterError("eta_c is the product eta_dc * eta_uc: vary either eta_c or "
                             "eta_dc/eta_uc, not both", "eta_c")
    orders = sorted({int(l) for l in loss_orders})
    if len(orders) < 2:
        raise ValueError(f"{term('loss_orders')} needs at least two codes to compare, got "
                         f"{orders}")
    for l in orders:
        ProtocolParams(loss_order=l)
    if "rate_hz" not in (x[0], y[0]):
        rate_hz = check_real(rate_hz, term("rate_hz"), low=0.0, low_open=True, unit="Hz")
    check_real(key_alpha_max, term("key_alpha_max"), low=0.0, low_open=True)
    if int(n_key_alpha) < 2:
        raise ValueError(f"{term('n_key_alpha')} = {n_key_alpha} is outside the allowed "
                         "range [2, inf)")
    if "alpha" in fields:
        raise ParameterError(f"{term('alpha')} is solved at every point so that each code "
                             "reaches the rate; do not give it", "alpha")
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
        raise ValueError(f"rates need a positive attempt time max(L / c_f, t0): "
                         f"{term('length_km')} and {term('t0_s')} are both 0 at some points; "
                         f"give {term('length_km')} > 0 or {term('t0_s')} > 0")
    npt = x[1].size * y[1].size
    alpha_grid = _key_alpha_grid(float(key_alpha_max), int(n_key_alpha))
    swept = workers is not None or scheduler is not None
    if processes is None:
        processes = _cores() if npt >= 64 else 1
    if int(processes) < 1:
        raise ValueError(f"{term('processes')} = {processes} is outside the allowed range "
                         "[1, inf)")
    processes = int(processes)
    per_call = min(npt, 512 if swept else -(-npt // processes), BLOCK_POINTS)
    check_memory(_estimate_bytes(orders, per_call) * (int(workers or 1) if swept
                                                      else processes),
                 f"the advantage map (codes up to l = {max(orders)}, {per_call} points per "
                 "vectorised call)",
                 "use fewer workers" if swept else
                 f"use {term('workers')} N to run through the sweep machinery")
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
                         f"(0, {alpha_max:g}]: lower {term('rate_hz')} or change the axes")

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


def _axis_arg(axis, default, flag_terms):
    if axis is None:
        name, start, stop, num = default
        return name, np.linspace(start, stop, num)
    name, values = axis
    _axis_info(name, flag_terms)
    return name, _check_axis_values(name, np.atleast_1d(np.asarray(values, dtype=float)))


# ---------------------------------------------------------------------------------------
# the figure
# ---------------------------------------------------------------------------------------
def _label(name: str) -> str:
    if name in _LABELS:
        lab = _LABELS[name]
    else:
        info = PARAM_INFO[name]
        lab = info.long_name + ("" if info.unit == "1" else f" ({info.unit})")
    if "(" not in lab:
        lab += " (dimensionless)"
    return lab


def plot_map(ds, out_stem) -> list:
    """Draw a map of :func:`advantage_map` as PNG and PDF (300 dpi).

    Three panels: the highest S at the rate, the highest key rate at the rate, and the
    highest alpha-optimised key rate. Colour: the winning code (legend: loss order, USD,
    decoder); grey where no code qualifies; contours: the margin to the runner-up; markers
    on the axes: the one-at-a-time thresholds.

    Parameters
    ----------
    ds : xarray.Dataset
        The result of :func:`advantage_map`.
    out_stem : str or Path
        Path without suffix; ``.png`` and ``.pdf`` are written.

    Returns
    -------
    list of Path
        The files written.
    """
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.transforms import blended_transform_factory

    xn, yn = ds.attrs["x"], ds.attrs["y"]
    xv, yv = ds[xn].values, ds[yn].values
    orders = [int(l) for l in ds["loss_order"].values]
    colours = [_NONE_COLOUR] + [_CODE_COLOURS.get(l, f"C{i + 4}") for i, l in enumerate(orders)]
    cmap = ListedColormap(colours)
    norm = BoundaryNorm(np.arange(-0.5, len(orders) + 1), cmap.N)
    usd = ds.attrs.get("param_usd", "tub")
    usd_name = {"tub": "TUB USD", "linear": "linear-optics USD"}.get(usd, usd)
    dec = ds.attrs.get("param_decoder", "smallest-loss")
    rate = ds.attrs.get("rate_hz")
    rate_txt = (rf"$R_\mathrm{{eg}} = {rate:g}$ Hz" if rate is not None else
                r"each $R_\mathrm{eg}$")
    t0 = ds.attrs.get("t0_s_key_rate_opt")
    t0_txt = (rf"$t_0 = {t0:.3g}$ s" if isinstance(t0, float) else r"$t_0$ on the axis")
    panels = [
        ("S", rf"highest $S$ at {rate_txt}", r"$\Delta S$", "no code reaches the rate"),
        ("key_rate_at_rate", rf"highest key rate at {rate_txt}", r"$\Delta K$ (bit/s)",
         "no key"),
        ("key_rate_opt", rf"highest key rate, $\alpha$ optimised ({t0_txt})",
         r"$\Delta K$ (bit/s)", "no key"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(16.5, 5.6), constrained_layout=True)
    for ax, (q, title, mlabel, none_txt) in zip(axes, panels, strict=True):
        w = ds[f"winner_{q}"].values
        idx = np.full(w.shape, 0)
        for i, l in enumerate(orders):
            idx[w == l] = i + 1
        ax.pcolormesh(xv, yv, idx.T, cmap=cmap, norm=norm, shading="nearest",
                      rasterized=True)
        m = ds[f"margin_{q}"].values.T
        handles = [Patch(color=_CODE_COLOURS.get(l, colours[i + 1]),
                         label=rf"$l = {l}$ wins ({usd_name}, {dec} decoder)")
                   for i, l in enumerate(orders) if np.any(w == l)]
        if np.any(w == -1):
            handles.append(Patch(color=_NONE_COLOUR, label=none_txt))
        if np.sum(np.isfinite(m)) > 3 and np.nanmax(m) > np.nanmin(m):
            cs = ax.contour(xv, yv, m, levels=6, colors="k", linewidths=0.8)
            ax.clabel(cs, fontsize=7, fmt=lambda v: f"{v:.0f}" if abs(v) >= 10 else f"{v:.3g}")
            handles.append(Line2D([], [], color="k", lw=0.8,
                                  label=f"margin to the runner-up, {mlabel}"))
        for (pname, axis_is_x) in ((xn, True), (yn, False)):
            for k, l in enumerate(orders):
                v = ds.attrs.get(f"threshold_{pname}_l{l}")
                if v is None or not np.isfinite(v):
                    continue
                c = _CODE_COLOURS.get(l, "k")
                ms = max(14 - 4 * (k - 1), 5)  # later codes smaller: equal values stay visible
                if axis_is_x:
                    tr = blended_transform_factory(ax.transData, ax.transAxes)
                    ax.plot([v], [0.0], marker="^", ms=ms, color=c, mec="k", clip_on=False,
                            transform=tr, zorder=5)
                else:
                    tr = blended_transform_factory(ax.transAxes, ax.transData)
                    ax.plot([0.0], [v], marker=">", ms=ms, color=c, mec="k", clip_on=False,
                            transform=tr, zorder=5)
                sym = {"eta_int": r"\eta_\mathrm{int}", "eta_c": r"\eta_c",
                       "eta_d": r"\eta_d"}[pname]
                handles.append(Line2D([], [], ls="", marker="^" if axis_is_x else ">",
                                      ms=9, color=c, mec="k",
                                      label=rf"one-at-a-time threshold $l = {l}$: "
                                            rf"${sym} = {v:.4f}$"))
        if xn in _LOG_AXES:
            ax.set_xscale("log")
        if yn in _LOG_AXES:
            ax.set_yscale("log")
        ax.set_xlabel(_label(xn))
        ax.set_ylabel(_label(yn))
        ax.set_title(title, fontsize=10)
        ax.legend(handles=handles, fontsize=7, loc="upper center",
                  bbox_to_anchor=(0.5, -0.13), ncol=1, frameon=False)
    fixed = []
    for k, sym, unit in (("length_km", "L", "km"), ("encoder", "encoder", ""),
                         ("eta_int_placement", r"$\eta_\mathrm{int}$ placement", ""),
                         ("decoder", "decoder", "")):
        v = ds.attrs.get(f"param_{k}")
        if v is not None:
            fixed.append(f"{sym} = {v:g} {unit}".strip() if isinstance(v, float)
                         else f"{sym}: {v}")
    fig.suptitle("Which code pays off? " + ", ".join(fixed), fontsize=11)
    out_stem = Path(out_stem)
    files = [out_stem.with_suffix(".png"), out_stem.with_suffix(".pdf")]
    for f in files:
        fig.savefig(f, dpi=300)
    plt.close(fig)
    return files


# ---------------------------------------------------------------------------------------
# what the ml decoder changes, in the reproduction's settings
# ---------------------------------------------------------------------------------------
DECODERS = ("smallest-loss", "ml")


def decoder_table(decoders=DECODERS, *, engine: str = "coherent", quick: bool = False,
                  progress: bool = False) -> dict:
    """The paper's headline numbers under each decoder, in the reproduction's settings.

    Every computation starts from the ``repro-base`` preset (read at run time: encoder,
    eta_int placement, fibre attenuation, USD) with ``decoder`` set:

    - thresholds of eta_int and eta_c for l = 1, 3 against l = 0 at 5 km and 3000 Hz, every
      other imperfection ideal (:func:`catbell_qutip.thresholds.threshold`);
    - Fig. 3(g): the largest L with S >= 2.01 for l = 0, 1, 3, Table I (``table1``) at 3 Hz
      (:func:`catbell_qutip.reproduce.max_length_above`, to 1e-3 km; 2e-2 km quick);
    - Fig. 4 peaks at 10 km, l = 0 and 1, panels (a) channel loss only, (b) ``table1``,
      (c) ``table1-uc0.2``, at the t0 of :func:`catbell_qutip.reproduce.calibrate_t0`
      (calibrated once, under the paper's smallest-loss decoder, and kept for both
      decoders: t0 is a property of the hardware).

    Parameters
    ----------
    decoders : sequence of str
        Decoders to compare (default smallest-loss and ml).
    engine : {"coherent", "fock"}
        Engine (default coherent).
    quick : bool
        Coarser grids (a smoke test; the numbers are less precise).
    progress : bool
        tqdm progress bar.

    Returns
    -------
    dict
        ``settings`` (the preset fields used), ``t0_s`` (s), and ``rows``: a list of dicts
        with ``quantity``, ``unit``, ``loss_order`` and one value per decoder (None where
        there is none), plus ``notes`` per decoder where a value is a bound or missing.
    """

    base = preset(REPRO_PRESET)
    encoder = base.get("encoder", "ideal")
    g = dict(n_grid=10, n_length=10, n_scan=16, n_alpha=40, tol=2e-2) if quick else \
        dict(n_grid=25, n_length=36, n_scan=24, n_alpha=200, tol=1e-3)
    steps = 13 * len(decoders) + 1
    bar = _bar(steps, progress, "steps")
    rows = []

    def row(quantity, unit, l, values, notes=None):
        rows.append({"quantity": quantity, "unit": unit, "loss_order": l,
                     "values": values, "notes": notes or {}})

    th_fixed = {k: v for k, v in base.items() if k != "encoder"}
    for p in ("eta_int", "eta_c"):
        for l in (1, 3):
            vals, notes = {}, {}
            for d in decoders:
                th = threshold(p, l, length_km=5.0, rate_hz=3000.0, engine=engine,
                               encoder=encoder, n_grid=g["n_grid"],
                               **dict(th_fixed, decoder=d))
                vals[d] = th.value
                if th.value is None:
                    notes[d] = th.message
                bar.update()
            row(f"{p} threshold (5 km, 3000 Hz)", "1", l, vals, notes)
    # Fig. 3(g)
    f3g = merge_layers(base, preset("table1"))
    L = np.geomspace(0.1, 150.0, g["n_length"])
    for l in (0, 1, 3):
        vals, notes = {}, {}
        for d in decoders:
            f = dict(f3g, decoder=d)
            S = S_vs_length(l, 3.0, L, engine=engine, alpha_max=8.0, n_scan=g["n_scan"],
                            **f)["S"].values
            v, note = max_length_above(l, 2.01, L, S, rate_hz=3.0, engine=engine,
                                       alpha_max=8.0, n_scan=g["n_scan"], tol_km=g["tol"],
                                       **f)
            vals[d] = v
            if v is None or "lower bound" in note:
                notes[d] = note
            bar.update()
        row("Fig. 3(g): largest L with S >= 2.01 (Table I, 3 Hz)", "km", l, vals, notes)
    cal = calibrate_t0(engine=engine, n_alpha=g["n_alpha"])
    t0 = cal["t0_s"]
    bar.update()
    for panel, layers in (("4(a) channel loss only", ()), ("4(b) Table I", ("table1",)),
                          ("4(c) Table I, eta_uc = 0.2", ("table1-uc0.2",))):
        f = merge_layers(base, *(preset(n) for n in layers), {"t0_s": t0})
        for l in (0, 1):
            vals, alphas = {}, {}
            for d in decoders:
                a, k = peak_key_rate(l, alpha_max=3.0, n_scan=g["n_alpha"], engine=engine,
                                     length_km=10.0, **dict(f, decoder=d))
                vals[d], alphas[d] = k, (None if not np.isfinite(a) else a)
                bar.update()
            row(f"Fig. {panel}: peak key rate (10 km)", "bit/s", l, vals,
                {d: f"alpha = {alphas[d]:.4f}" if alphas[d] is not None else "no key"
                 for d in decoders})
    bar.close()
    settings = {k: v for k, v in base.items() if k != "decoder"}
    return {"settings": settings, "engine": engine, "quick": bool(quick), "t0_s": t0,
            "t0_note": cal["note"], "decoders": list(decoders), "rows": rows}


def decoder_table_markdown(table: dict) -> str:
    """The result of :func:`decoder_table` as a Markdown table."""
    decs = table["decoders"]

    def fmt(v, unit):
        if v is None:
            return "none"
        if unit == "bit/s":
            return f"{v:.1f}" if v >= 10 else f"{v:.3f}"
        if unit == "km":
            return f"{v:.2f}"
        return f"{v:.4f}"

    head = "| quantity | l | " + " | ".join(decs) + " | note |"
    lines = [head, "|" + "---|" * (len(decs) + 3)]
    for r in table["rows"]:
        note = "; ".join(f"{d}: {n}" for d, n in r["notes"].items())
        unit = "" if r["unit"] == "1" else f" ({r['unit']})"
        lines.append(f"| {r['quantity']}{unit} | {r['loss_order']} | "
                     + " | ".join(fmt(r["values"][d], r["unit"]) for d in decs)
                     + f" | {note} |")
    s = table["settings"]
    lines.append("")
    lines.append(f"Settings: preset `{REPRO_PRESET}` ("
                 + ", ".join(f"{k} = {v}" for k, v in s.items())
                 + f"); engine {table['engine']}; Fig. 4 t0 = {table['t0_s']:.6g} s.")
    return "\n".join(lines)
