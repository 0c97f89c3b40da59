"""The comparison itself: every family at its best parameters, at the paper's settings
(docs/model.md 4, 6, 7), as xarray datasets.

Three results:

- ``key``: the key rate against L for each setting (channel loss only; Table I), each loss
  order and family, every family's parameters chosen per L for the largest key rate;
- ``rate``: S against L at a common R_eg (3000 Hz, Fig. 2(a)'s setting);
- ``map``: the key rate of every code over an (L, eta_c) grid (channel loss otherwise), and
  the best code at every point.

With an ideal memory the protocol depends on L only through the transmission of the
channel, eta_channel (docs/model.md 3.2, 3.7; ``ProtocolParams.eta_channel``), and the key
rate is the key fraction divided by the attempt time max(L / c_f, t0), which no code
changes. So points of equal eta_channel (and memory factor) share one optimisation: the
map's lattice (:func:`~.settings.map_axes`) has n_L + n_eta - 1 distinct transmissions
and the channel-only curve lies on it.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import time

import numpy as np
import xarray as xr

from .._checks import check_int
from ..codes import Code, mean_photon_numbers
from ..params import ProtocolParams
from .optimise import (
    binomial_at_rate,
    cat_at_rate,
    global_grid_key,
    optimise_binomial_key,
    optimise_cat_key,
    optimise_squeezed_key,
    squeezed_at_rate,
)
from .settings import (
    BINOMIAL_M,
    FAMILIES,
    GRIDS,
    KEY_SETTINGS,
    LOSS_ORDERS,
    RATE_HZ,
    RATE_SETTING,
    RATE_SQUEEZING_MAX,
    key_fields,
    key_lengths,
    map_axes,
    rate_fields,
    rate_lengths,
)

__all__ = ["compare_codes", "MAP_SETTING", "TIE_REL", "TIE_S", "code_labels"]

#: the setting the (L, eta_c) map is drawn for: the paper's one-at-a-time view of eta_c
#: (every other imperfection ideal), Fig. 4 timing
MAP_SETTING = "channel"
#: a code beats another on key rate only by more than this relative margin (ties go to the
#: cat code, then the lower loss order)
TIE_REL = 1e-3
#: the same for S at a common rate: an absolute margin
TIE_S = 1e-4

_KEY_VARS = ("key_fraction", "P", "F", "S", "Q", "alpha", "squeezing", "binomial_m",
             "at_bound")
_RATE_VARS = ("S", "P", "F", "Q", "R_eg", "alpha", "squeezing", "binomial_m", "at_bound")


def code_labels(loss_orders=LOSS_ORDERS) -> list[str]:
    """The codes of the map, in winner-index order: family-major ("cat l=0", ...).

    Parameters
    ----------
    loss_orders : sequence of int, optional
        The loss orders l (default 0, 1, 3).

    Returns
    -------
    list of str
        ``len(FAMILIES) * len(loss_orders)`` labels.

    Examples
    --------
    >>> code_labels((0, 1))
    ['cat l=0', 'cat l=1', 'squeezed-cat l=0', 'squeezed-cat l=1', 'binomial l=0', 'binomial l=1']
    """
    return [f"{f} l={l}" for f in FAMILIES for l in loss_orders]


# -- points --------------------------------------------------------------------------------
def _key_points(setting: str, grid: dict):
    """(fields, L, eta_c, n_curve, map_shape): the key-rate curve's points, then (for the
    map's setting) the map lattice, flattened."""
    fields = key_fields(setting)
    c0 = fields.pop("eta_c")
    La = key_lengths(grid)
    L, c = [La], [np.full(La.size, c0)]
    shape = None
    if setting == MAP_SETTING:
        Lm, cm = map_axes(grid, fields["db_per_km"])
        shape = (Lm.size, cm.size)
        L.append(np.repeat(Lm, cm.size))
        c.append(np.tile(cm, Lm.size))
    return fields, np.concatenate(L), np.concatenate(c), La.size, shape


def _groups(loss_order: int, fields: dict, L: np.ndarray, c: np.ndarray):
    """(representatives, inverse, eta_channel of the representatives): points of equal
    channel transmission and memory factor (to 1e-10 relative) share one optimisation."""
    p = ProtocolParams(loss_order=loss_order, alpha=1.0, length_km=L, eta_c=c, **fields)
    eta = np.broadcast_to(p.eta_channel, L.shape)
    d = np.broadcast_to(p.memory_factor, L.shape)
    key = np.stack([np.round(np.log(np.maximum(eta, 1e-300)), 10), np.round(d, 12)])
    _, rep, inv = np.unique(key, axis=1, return_index=True, return_inverse=True)
    return rep, inv.ravel(), eta[rep]


def _split(idx: np.ndarray, blocks: int) -> list[np.ndarray]:
    return [b for b in np.array_split(idx, max(1, min(blocks, idx.size))) if b.size]


# -- tasks (module level, so a process pool can run them) -----------------------------------
def _key_task(task):
    """One family at the representative points of one block."""
    kind, setting, l, family, idx, fields, grid = task
    if family == "cat":
        r = optimise_cat_key(l, fields, n_grid=grid["cat_grid"])
    elif family in ("squeezed-cat", "squeezed-cat-low"):
        start = optimise_cat_key(l, fields, n_grid=grid["cat_grid"])["alpha"]
        r = optimise_squeezed_key(l, fields, start,
                                  r_grid=grid["sq_r_grid" if family == "squeezed-cat"
                                              else "sq_r_grid_low"],
                                  alpha_scan=grid["sq_alpha"], n_outer=grid["outer"],
                                  n_inner=grid["inner"])
    else:
        r = optimise_binomial_key(l, fields, ms=BINOMIAL_M)
    return ("key", setting, l, family.removesuffix("-low"), idx), r


def _check_task(task):
    """The squeezed cat's full (alpha, r) grid at a few anchors: the global check."""
    kind, setting, l, family, idx, fields, grid = task
    return task[:5], global_grid_key(l, fields, grid["check_alpha"], grid["check_r"])


def _rate_task(task):
    kind, setting, l, family, idx, fields, grid = task
    if family == "cat":
        r = cat_at_rate(l, RATE_HZ, fields, n_scan=grid["n_scan"])
        r["at_bound"] = np.zeros(r["S"].shape, dtype=bool)
    elif family == "squeezed-cat":
        r = squeezed_at_rate(l, RATE_HZ, fields, n_r=grid["rate_r_grid"],
                             n_golden=grid["rate_golden"], n_scan=grid["n_scan"])
        r["at_bound"] = np.abs(r["squeezing"]) >= RATE_SQUEEZING_MAX * (1 - 1e-9)
    else:
        r = binomial_at_rate(l, RATE_HZ, fields, ms=BINOMIAL_M)
        r["at_bound"] = np.zeros(r["S"].shape, dtype=bool)
    return task[:5], r


_RUNNERS = {"key": _key_task, "check": _check_task, "rate": _rate_task}


def _run_task(task):
    t = time.process_time()
    head, r = _RUNNERS[task[0]](task)
    return head, r, time.process_time() - t


def _cost(task) -> float:
    """Rough relative cost, to start the dearest tasks first."""
    kind, _, l, family, idx, _, _ = task
    base = {"cat": 0.02, "squeezed-cat": 1.0, "binomial": 0.02}[family.removesuffix("-low")]
    if kind == "check":
        base = 3.0
    if kind == "rate" and family == "squeezed-cat":
        base = 2.0
    return base * (l + 1) * len(idx)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _execute(tasks, workers: int, progress: bool):
    """Run the tasks (costliest first) on ``workers`` forked processes, or here for 1."""
    from tqdm.auto import tqdm

    tasks = sorted(tasks, key=_cost, reverse=True)
    results, cpu = {}, 0.0
    bar = tqdm(total=len(tasks), desc="catbell codes", unit="task", disable=not progress)
    if workers <= 1:
        for t in tasks:
            head, r, c = _run_task(t)
            results[head[:4] + (head[4].tobytes(),)] = r
            cpu += c
            bar.update()
    else:
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futs = {pool.submit(_run_task, t): t for t in tasks}
            for fut in cf.as_completed(futs):
                head, r, c = fut.result()
                results[head[:4] + (head[4].tobytes(),)] = r
                cpu += c
                bar.update()
    bar.close()
    return results, cpu


# -- assembly --------------------------------------------------------------------------------
def _mean_photon_number(l: int, family: str, r: dict) -> np.ndarray:
    """<n> of |Theta_N> at each point's optimal parameters (ideal encoder): what the light
    Alice sends carries (:meth:`catbell_qutip.codes.Code.mean_photon_number`)."""
    n = np.size(r["S"])
    out = np.full(n, np.nan)
    if family == "cat":
        a = np.asarray(r["alpha"], dtype=float)
        ok = np.isfinite(a)
        if ok.any():
            out[ok] = mean_photon_numbers(ProtocolParams(loss_order=l, alpha=a[ok]))
        return out
    for i in range(n):
        if family == "squeezed-cat" and np.isfinite(r["alpha"][i]):
            out[i] = Code("squeezed-cat", l + 1, alpha=float(r["alpha"][i]),
                          squeezing=float(r["squeezing"][i])).mean_photon_number()
        elif family == "binomial" and r["binomial_m"][i] >= 0:
            out[i] = Code("binomial", l + 1,
                          binomial_m=int(r["binomial_m"][i])).mean_photon_number()
    return out


def _normalise(family: str, r: dict, n: int) -> dict:
    """Every variable of a family's result, with the parameters it has not set to their
    'not applicable' value (alpha, r: NaN; M: -1)."""
    out = {k: np.broadcast_to(np.asarray(r[k], dtype=float), (n,)).copy()
           for k in ("P", "F", "S", "Q") if k in r}
    for k in ("key_fraction", "R_eg"):
        src = "f" if k == "key_fraction" else k
        if src in r:
            out[k] = np.broadcast_to(np.asarray(r[src], dtype=float), (n,)).copy()
    out["alpha"] = (np.asarray(r["alpha"], dtype=float) if "alpha" in r
                    else np.full(n, np.nan))
    out["squeezing"] = (np.asarray(r["squeezing"], dtype=float) if "squeezing" in r
                        else np.where(np.isfinite(out["alpha"]), 0.0, np.nan)
                        if family == "cat" else np.full(n, np.nan))
    out["binomial_m"] = (np.asarray(r["binomial_m"], dtype=float) if "binomial_m" in r
                         else np.full(n, -1.0))
    out["at_bound"] = np.asarray(r.get("at_bound", np.zeros(n, dtype=bool)), dtype=float)
    return out


_UNITS = {"key_rate": ("bit/s", "DI-QKD secret key rate at the family's best parameters"),
          "key_fraction": ("bit", "key per attempt, P (1 - h(Q) - chi(S))"),
          "P": ("1", "heralding probability"), "F": ("1", "heralded fidelity to phi+"),
          "S": ("1", "CHSH value"), "Q": ("1", "bit-error rate of the key rounds"),
          "R_eg": ("Hz", "entanglement-generation rate P / max(L / c_f, t0)"),
          "alpha": ("1", "displacement |alpha| (cat, squeezed cat; NaN: binomial)"),
          "squeezing": ("1", "squeezing r (squeezed cat; 0 for cat; NaN: binomial)"),
          "binomial_m": ("1", "binomial M (-1: not binomial, or no M reaches the rate)"),
          "mean_photon_number": ("1", "mean photon number of |Theta_N> (ideal encoder)"),
          "at_bound": ("1", "1 where an optimal parameter sits at its bound (a lower "
                            "bound there)")}


def _da(dims, values, name):
    unit, long = _UNITS[name]
    return (dims, values, {"units": unit, "long_name": long})


def _attrs(fields: dict, extra: dict) -> dict:
    out = {}
    for k, v in {**fields, **extra}.items():
        out[k] = v if isinstance(v, (int, float, str)) and not (
            isinstance(v, float) and not np.isfinite(v)) else str(v)
    return out


def compare_codes(*, quick: bool = False, workers: int | None = None,
                  progress: bool = False, loss_orders=LOSS_ORDERS) -> dict:
    """Every family of docs/model.md 7 at its best parameters, at the paper's settings.

    Parameters
    ----------
    quick : bool
        Coarse grids (:data:`~.settings.GRIDS` ``"quick"``), no global check: a smoke test.
    workers : int, optional
        Processes (default: one per available core; 1: this process only).
    progress : bool
        tqdm progress bar over the tasks.
    loss_orders : sequence of int
        The loss orders l compared (default 0, 1, 3).

    Returns
    -------
    dict
        ``key``, ``rate``, ``map`` (:class:`xarray.Dataset`, units in the attributes),
        ``check`` (the global check: list of dicts), ``cpu_s`` (CPU seconds of the tasks),
        ``wall_s``, ``workers``.

    Notes
    -----
    Cat codes run on the coherent engine (exact), the other families on the Fock engine
    (the only one that runs them). The squeezed cat starts from the cat code's optimum
    (r = 0 is the cat code), so its optimum is never below the cat's.

    Raises
    ------
    ValueError
        If ``workers`` is not an integer >= 1
        (:class:`~catbell_qutip._checks.ParameterError`, ``field`` "workers").

    Examples
    --------
    Not run in the doctests (even ``quick`` takes minutes; ``catbell codes --quick``
    runs it):

    >>> res = compare_codes(quick=True, workers=1)  # doctest: +SKIP
    >>> res["key"].key_rate.dims  # doctest: +SKIP
    ('setting', 'loss_order', 'family', 'length_km')
    """
    grid = dict(GRIDS["quick" if quick else "default"])
    workers = _cores() if workers is None else check_int(workers, "workers", low=1)
    orders = tuple(int(l) for l in loss_orders)
    start = time.perf_counter()
    tasks, plan = [], {}
    for setting in KEY_SETTINGS:
        fields, L, c, n_curve, shape = _key_points(setting, grid)
        for l in orders:
            rep, inv, eta = _groups(l, fields, L, c)
            plan[(setting, l)] = (fields, L, c, n_curve, shape, rep, inv)
            sub = {**fields, "length_km": L[rep], "eta_c": c[rep]}
            wide = eta >= grid["eta_wide"]
            for family in FAMILIES:
                parts = ([(family, np.arange(rep.size))] if family != "squeezed-cat" else
                         [("squeezed-cat", np.nonzero(wide)[0]),
                          ("squeezed-cat-low", np.nonzero(~wide)[0])])
                for name, pts in parts:
                    n_blocks = grid["blocks"] if family == "squeezed-cat" else 1
                    for b in _split(pts, n_blocks):
                        tasks.append(("key", setting, l, name, b,
                                      {k: (v[b] if np.ndim(v) else v) for k, v in sub.items()},
                                      grid))
            if grid["check"]:
                anchors = np.unique([int(np.argmin(np.abs(np.log(eta / e))))
                                     for e in grid["check"]])
                tasks.append(("check", setting, l, "squeezed-cat", anchors,
                              {k: (v[anchors] if np.ndim(v) else v) for k, v in sub.items()},
                              grid))
    rfields = rate_fields()
    Lr = rate_lengths(grid)
    for l in orders:
        for family in FAMILIES:
            blocks = _split(np.arange(Lr.size), grid["blocks"] if family == "squeezed-cat"
                            else 1)
            for b in blocks:
                tasks.append(("rate", RATE_SETTING[0], l, family, b,
                              {**rfields, "length_km": Lr[b]}, grid))
    results, cpu = _execute(tasks, workers, progress)

    def gather(kind, setting, l, family, n):
        parts = [(k[4], v) for k, v in results.items() if k[:4] == (kind, setting, l, family)]
        out = {}
        for key_bytes, v in parts:
            idx = np.frombuffer(key_bytes, dtype=int)
            for name, arr in v.items():
                arr = np.broadcast_to(np.asarray(arr), (idx.size,))
                if name not in out:
                    out[name] = np.full(n, np.nan if arr.dtype.kind == "f" else 0,
                                        dtype=arr.dtype if arr.dtype.kind != "b" else bool)
                out[name][idx] = arr
        return out

    # key-rate curves and the map
    key_data = {v: np.full((len(KEY_SETTINGS), len(orders), len(FAMILIES),
                            key_lengths(grid).size), np.nan)
                for v in ("key_rate", "mean_photon_number") + _KEY_VARS}
    map_data, checks = {}, []
    for si, setting in enumerate(KEY_SETTINGS):
        for li, l in enumerate(orders):
            fields, L, c, n_curve, shape, rep, inv = plan[(setting, l)]
            T = np.broadcast_to(ProtocolParams(loss_order=l, alpha=1.0, length_km=L, eta_c=c,
                                               **fields).attempt_time_s, L.shape)
            for fi, family in enumerate(FAMILIES):
                r = _normalise(family, gather("key", setting, l, family, rep.size), rep.size)
                r["mean_photon_number"] = _mean_photon_number(l, family, r)
                full = {k: v[inv] for k, v in r.items()}
                full["key_rate"] = full["key_fraction"] / T
                for v in key_data:
                    key_data[v][si, li, fi] = full[v][:n_curve]
                if shape is not None:
                    for v in key_data:
                        map_data.setdefault(v, np.full((len(orders), len(FAMILIES)) + shape,
                                                       np.nan))
                        map_data[v][li, fi] = full[v][n_curve:].reshape(shape)
            if grid["check"]:
                found = [(k, v) for k, v in results.items()
                         if k[:4] == ("check", setting, l, "squeezed-cat")]
                (head, chk), = found
                anchors = np.frombuffer(head[4], dtype=int)
                sq = gather("key", setting, l, "squeezed-cat", rep.size)
                for j, a in enumerate(anchors):
                    checks.append({"setting": setting, "loss_order": l,
                                   "length_km": float(L[rep[a]]), "eta_c": float(c[rep[a]]),
                                   "optimum_key_fraction": float(sq["f"][a]),
                                   "optimum_alpha": float(sq["alpha"][a]),
                                   "optimum_squeezing": float(sq["squeezing"][a]),
                                   "grid_key_fraction": float(chk["f"][j]),
                                   "grid_alpha": float(chk["alpha"][j]),
                                   "grid_squeezing": float(chk["squeezing"][j])})
    La = key_lengths(grid)
    dims = ("setting", "loss_order", "family", "length_km")
    coords = {"setting": ("setting", list(KEY_SETTINGS),
                          {"long_name": "; ".join(f"{k}: {d} (preset {p})" for k, (p, d)
                                                  in KEY_SETTINGS.items())}),
              "loss_order": ("loss_order", np.asarray(orders), {"units": "1",
                                                                "long_name": "loss order l"}),
              "family": ("family", list(FAMILIES), {"long_name": "code family"}),
              "length_km": ("length_km", La, {"units": "km", "long_name": "fibre length L"})}
    key = xr.Dataset({v: _da(dims, key_data[v], v) for v in key_data}, coords=coords,
                     attrs=_attrs({k: v for k, v in plan[(MAP_SETTING, orders[0])][0].items()
                                   if k in ("encoder", "eta_int_placement", "decoder",
                                            "db_per_km", "usd")}, {
                         "title": "key rate at each family's best parameters "
                                  "(docs/model.md 4, 7)",
                         "t0_s_fig4": float(plan[(MAP_SETTING, orders[0])][0]["t0_s"]),
                         **{f"setting_{s}": str(_attrs(key_fields(s), {}))
                            for s in KEY_SETTINGS},
                         "optimised": "cat: alpha in (0, 4]; squeezed cat: alpha in (0, 4] "
                                      "and r in [-1, 1]; binomial: M in 0..4",
                         "tie_relative": TIE_REL}))

    # the map
    fields = plan[(MAP_SETTING, orders[0])][0]
    Lm, cm = map_axes(grid, fields["db_per_km"])
    mdims = ("loss_order", "family", "length_km", "eta_c")
    mcoords = {"loss_order": coords["loss_order"], "family": coords["family"],
               "length_km": ("length_km", Lm, {"units": "km", "long_name": "fibre length L"}),
               "eta_c": ("eta_c", cm, {"units": "1", "long_name":
                                       "coupling/conversion efficiency eta_c"})}
    m = xr.Dataset({v: _da(mdims, map_data[v], v) for v in map_data}, coords=mcoords)
    # family-major order of code_labels: (family, l)
    K = np.nan_to_num(np.swapaxes(map_data["key_rate"], 0, 1).reshape(
        (len(FAMILIES) * len(orders),) + (Lm.size, cm.size)), nan=0.0)
    nbar = np.swapaxes(map_data["mean_photon_number"], 0, 1).reshape(K.shape)
    best = K.max(axis=0)
    tied = K >= best * (1 - TIE_REL)
    win = np.argmax(tied, axis=0)  # the first tied code: cat before the others, lower l first
    win = np.where(best > 0, win, -1)
    cats = K[:len(orders)].max(axis=0)
    rsbc = K[len(orders):].max(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        gain = np.where(cats > 0, rsbc / cats - 1.0, np.nan)
    labels = code_labels(orders)
    m["winner"] = (("length_km", "eta_c"), win.astype(np.int32), {
        "units": "1", "long_name": "best code (index into attribute codes; -1: no key); "
        f"codes within {TIE_REL:g} relative of the best tie, the first of the list wins",
        "codes": ", ".join(labels)})
    m["best_key_rate"] = (("length_km", "eta_c"), best, {"units": "bit/s",
                                                         "long_name": "best key rate"})
    m["winner_mean_photon_number"] = (("length_km", "eta_c"), np.where(
        win >= 0, np.take_along_axis(nbar, np.maximum(win, 0)[None], 0)[0], np.nan), {
        "units": "1", "long_name": "mean photon number of the best code"})
    m["gain_rsbc_over_cat"] = (("length_km", "eta_c"), gain, {
        "units": "1", "long_name": "best non-cat key rate / best cat key rate - 1"})
    m.attrs = _attrs({}, {"title": "best code over (L, eta_c), key rate (docs/model.md 4, 7)",
                          "setting": f"{MAP_SETTING}: {KEY_SETTINGS[MAP_SETTING][1]} "
                                     f"(preset {KEY_SETTINGS[MAP_SETTING][0]}) with eta_c",
                          "codes": ", ".join(labels), "tie_relative": TIE_REL,
                          "distinct_transmissions": int(Lm.size + cm.size - 1),
                          **{f"param_{k}": v for k, v in fields.items()}})

    # S at the common rate
    rate_data = {v: np.full((len(orders), len(FAMILIES), Lr.size), np.nan)
                 for v in ("mean_photon_number",) + _RATE_VARS}
    for li, l in enumerate(orders):
        for fi, family in enumerate(FAMILIES):
            r = _normalise(family, gather("rate", RATE_SETTING[0], l, family, Lr.size),
                           Lr.size)
            r["mean_photon_number"] = _mean_photon_number(l, family, r)
            for v in rate_data:
                rate_data[v][li, fi] = r[v]
    rdims = ("loss_order", "family", "length_km")
    rate = xr.Dataset({v: _da(rdims, rate_data[v], v) for v in rate_data},
                      coords={"loss_order": coords["loss_order"], "family": coords["family"],
                              "length_km": ("length_km", Lr, {"units": "km",
                                                              "long_name": "fibre length L"})},
                      attrs=_attrs(rfields, {
                          "title": f"S at R_eg = {RATE_HZ:g} Hz (docs/model.md 4, 7)",
                          "rate_hz": RATE_HZ, "preset": RATE_SETTING[0],
                          "optimised": "cat: alpha solved for the rate; squeezed cat: alpha "
                                       f"solved, r in [-{RATE_SQUEEZING_MAX:g}, "
                                       f"{RATE_SQUEEZING_MAX:g}] for the largest S; "
                                       "binomial: fixed R_eg, the M of largest S among those "
                                       "with R_eg >= the rate (S does not depend on the rate)",
                          "tie_S": TIE_S}))
    return {"key": key, "rate": rate, "map": m, "check": checks, "cpu_s": cpu,
            "wall_s": time.perf_counter() - start, "workers": workers, "quick": quick}
