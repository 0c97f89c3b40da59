"""Reproduce every figure panel of the paper and answer its claims: ``catbell reproduce``.

Panels 2(a), 2(b), 3(a)-(g), 4(a)-(c) (docs/model.md section 6; :data:`PANELS`) are written
to an output folder as PNG (300 dpi) and PDF, their data as netCDF (xarray, named
dimensions, units in attributes) and CSV. Then:

- the efficiency thresholds (``thresholds.json/.csv/.nc``);
- the model table (``model_table.json/.md/.csv``): the paper's claims that depend on which
  reflections carry eta_int and where it acts, for every encoder x placement, and the
  combination closest to the paper (:func:`catbell_qutip.identification.identify_model`), which is
  what the ``repro-*`` presets pin;
- the computations behind the claims that differ (C5/C6: the USD success an l = 1 scheme
  would need; C8: the per-attempt key fractions);
- ``summary.json`` / ``summary.md`` (every number with a note, SI units, rates in bit/s) and
  the claims table C1-C10 (``claims.json`` / ``claims.md``).

Choices (each pinned in the panel's preset, ``catbell_qutip/presets/repro-*.toml``; see
REPRODUCTION.md): the encoder and eta_int placement identified from the paper's numbers,
smallest-loss decoder, 0.2 dB/km, TUB USD unless the panel says linear optics; Figs. 2-3 at
t0 = 0; Fig. 3 at the values the paper's text discusses; Fig. 3(g) with Table I at 3 Hz and
an ideal memory; Fig. 4 at 10 km with t0 calibrated once so that the l = 0 peak of Fig. 4(a)
is 2000 bit/s (:func:`calibrate_t0`).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from . import claims as _claims
from . import discrepancies, identification
from ._checks import check_choice
from .fibre import travel_time_s
from .keyrate import key_rate_vs_alpha, peak_key_rate
from .outputs import attrs_of, json_ready, write_data_files, write_netcdf
from .panels import (  # noqa: F401
    LENGTH_FIG4_KM,
    LENGTH_THRESHOLD_KM,
    PANELS,
    RATE_FIG3G_HZ,
    RATE_FIG23_HZ,
    Context,
    Panel,
    calibrate_t0,
    crossing_lengths,
    max_length_above,
    panel_fields,
    plot_panel,
)
from .params import ENCODERS, ETA_INT_PLACEMENTS, merge_layers, preset
from .rates import S_vs_length, S_vs_memory_time
from .thresholds import thresholds

__all__ = ["PANELS", "GRIDS", "SUMMARY_KEYS", "THRESHOLD_JOBS", "ANALYSIS_KEYS", "Panel",
           "model_text", "reproduce", "panel_fields", "calibrate_t0", "crossing_lengths",
           "max_length_above", "summary_unit"]

#: grid sizes and tolerances: default run and --quick (x-axis points live on each Panel)
GRIDS = {
    "default": dict(n_scan=24, n_alpha=200, n_threshold=25, length_tol_km=1e-3,
                    n_model_length=30),
    "quick": dict(n_scan=12, n_alpha=40, n_threshold=8, length_tol_km=2e-2,
                  n_model_length=10),
}

#: (parameter, loss order) of every threshold; eta_d uses the linear-optics USD
THRESHOLD_JOBS = (("eta_int", 1), ("eta_int", 3), ("eta_c", 1), ("eta_c", 3),
                  ("eta_d", 1), ("eta_d", 3))


def _threshold_key(param, l):
    return f"threshold_{param}{'_linear' if param == 'eta_d' else ''}_l{l}"


#: summary keys of the analyses behind claims C5, C6, C8
ANALYSIS_KEYS = ("c5_f_needed_5km", "c5_f_needed_10km", "c5_P_ratio_linear_to_tub_5km",
                 "c6_f_needed_5km", "c6_P_ratio_linear_to_tub_5km",
                 "c8_key_fraction_l0", "c8_key_fraction_l1", "c8_max_ratio_l1_l0",
                 "c8_max_peak_l1_any_t0")

#: every summary key, in the order of summary.json and summary.md (derived from the panels)
SUMMARY_KEYS = (("fig4_t0_s",) + tuple(k for p in PANELS for k in p.summary_keys())
                + tuple(_threshold_key(p, l) for p, l in THRESHOLD_JOBS) + ANALYSIS_KEYS)


# -- computations -------------------------------------------------------------------------
def _stack(datasets, panel: Panel, fields: dict, engine: str, extra_attrs: dict):
    import xarray as xr

    ds = xr.concat(datasets, dim="loss_order", combine_attrs="override")
    ds = ds.assign_coords(loss_order=("loss_order", np.asarray(panel.loss_orders, dtype=int),
                                      attrs_of("loss_order")))
    attrs = {"panel": panel.name, "title": panel.title, "paper_statement": panel.statement,
             "presets": ", ".join(panel.presets), "engine": engine}
    for k, v in fields.items():
        attrs[f"param_{k}"] = v
    attrs.update(extra_attrs)
    ds.attrs = {k: (v if isinstance(v, (int, float, str)) and not (
        isinstance(v, float) and not math.isfinite(v)) else str(v)) for k, v in attrs.items()}
    return ds


def _x_grid(panel: Panel, quick: bool) -> np.ndarray:
    n = panel.points[1 if quick else 0]
    if panel.kind == "memory":
        return np.geomspace(1e-6, 1e-1, n)
    if panel.kind == "key":
        return np.linspace(panel.alpha_max / n, panel.alpha_max, n)
    lo, hi = panel.length_km
    grid = np.geomspace(lo, hi, n) if panel.log_x else np.linspace(lo, hi, n)
    if panel.refine and not quick:
        grid = np.union1d(grid, np.linspace(*panel.refine))
    return np.union1d(grid, [LENGTH_THRESHOLD_KM])  # where the paper reads its numbers


def compute_panel(panel: Panel, fields: dict, ctx: Context, t0_s: float = 0.0):
    """The panel's dataset (curves for each loss order, and reference curves if any)."""
    kw = dict(engine=ctx.engine, alpha_max=panel.alpha_max, n_scan=ctx.grids["n_scan"])
    x = _x_grid(panel, ctx.quick)
    if panel.kind == "key":
        f = dict(fields, t0_s=t0_s)
        L = panel.length_km[0]
        dss = [key_rate_vs_alpha(l, x, engine=ctx.engine, length_km=L, **f)
               for l in panel.loss_orders]
        peaks = [peak_key_rate(l, alpha_max=panel.alpha_max, n_scan=ctx.grids["n_alpha"],
                               engine=ctx.engine, length_km=L, **f) for l in panel.loss_orders]
        ds = _stack(dss, panel, f, ctx.engine, {"length_km": L, "t0_s": t0_s})
        ds["peak_key_rate"] = ("loss_order", [k for _, k in peaks],
                               attrs_of("key_rate", "peak key rate over alpha"))
        ds["peak_alpha"] = ("loss_order", [a for a, _ in peaks],
                            attrs_of("alpha", "amplitude of the peak key rate"))
        return ds

    def curves(f):
        if panel.kind == "memory":
            return [S_vs_memory_time(l, panel.rate_hz, x, length_km=panel.length_km[0], **kw,
                                     **f) for l in panel.loss_orders]
        return [S_vs_length(l, panel.rate_hz, x, **kw, **f) for l in panel.loss_orders]

    ds = _stack(curves(fields), panel, fields, ctx.engine, {"rate_hz": panel.rate_hz})
    if panel.reference:
        ref = _stack(curves(dict(fields, **panel.reference)), panel, fields, ctx.engine, {})
        what = ", ".join(f"{k} = {v}" for k, v in panel.reference.items())
        for var in ("S", "alpha"):
            ds[f"{var}_reference"] = ref[var].assign_attrs(
                long_name=f"{ref[var].attrs.get('long_name', var)}, reference curve ({what})")
    return ds


def _analyses(ctx: Context, overrides: dict, t0_s: float) -> dict:
    """The computations behind claims C5, C6 and C8: key -> (value, note)."""
    res = {}
    n = ctx.grids["n_scan"]
    for cid, name, lengths in (("c5", "repro-fig3c", (5.0, 10.0)), ("c6", "repro-fig3f", (5.0,))):
        f = merge_layers(preset(name), overrides)
        f.pop("usd")
        for L in lengths:
            r = discrepancies.usd_factor_needed(1, length_km=L, engine=ctx.engine, n_scan=n, **f)
            res[f"{cid}_f_needed_{L:g}km"] = (
                r["f_needed"], f"USD success (fraction of the TUB's) at which S_1 = S_0 at "
                f"{L:g} km, 3000 Hz, eta_d = {f['eta_d']:g} (S_0 = {r['S_0']:.5f}, S_1 TUB = "
                f"{r['S_l_tub']:.5f}, S_1 linear = {r['S_l_linear']:.5f})")
            if L == 5.0:
                res[f"{cid}_P_ratio_linear_to_tub_5km"] = (
                    r["P_ratio_linear_to_tub"], "P of our l = 1 linear-optics USD / P of the "
                    f"TUB at its operating |alpha| = {r['alpha_linear']:.4f} (5 km, 3000 Hz)")
    f = merge_layers(preset("repro-fig4a"), overrides)
    frac = {l: discrepancies.key_fraction_max(l, length_km=LENGTH_FIG4_KM, engine=ctx.engine,
                                        n_scan=ctx.grids["n_alpha"], **f) for l in (0, 1)}
    for l, (a, k) in frac.items():
        res[f"c8_key_fraction_l{l}"] = (
            k, f"max over |alpha| of P (1 - h(Q) - chi(S)) for l = {l} at 10 km, channel loss "
               f"only (bit per attempt; at |alpha| = {a:.4f})")
    res["c8_max_ratio_l1_l0"] = (
        frac[1][1] / frac[0][1] if frac[0][1] > 0 else None,
        "largest possible ratio of the l = 1 and l = 0 peak key rates at one common t0")
    T = float(travel_time_s(LENGTH_FIG4_KM))
    res["c8_max_peak_l1_any_t0"] = (
        frac[1][1] / T, "largest l = 1 peak key rate any t0 allows at 10 km: fraction / "
                        "(L / c_f), i.e. t0 <= L / c_f (bit/s)")
    return res


# -- output -------------------------------------------------------------------------------
def _write_data(ds, out: Path, name: str):
    write_data_files(ds, out / name)


def _fmt(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "none"
    return f"{v:.6g}"


def summary_unit(key: str) -> str:
    """SI unit of a summary key.

    Parameters
    ----------
    key : str
        A summary key (:data:`SUMMARY_KEYS`).

    Returns
    -------
    str
        Its unit: ``"km"``, ``"s"``, ``"bit/s"``, ``"bit"``, or ``"1"`` (dimensionless).

    Examples
    --------
    >>> [summary_unit(k) for k in ("fig4_t0_s", "fig2a_S_5km_l1", "fig2a_alpha_5km_l1")]
    ['s', '1', '1']
    """
    if key.endswith("_alpha") or "_alpha_" in key:
        return "1"
    if "_max_km" in key or "_crossing_km" in key or key.endswith("_to_km"):
        return "km"
    if key == "fig4_t0_s" or "_tc_saturation_s" in key:
        return "s"
    if "_peak_" in key:
        return "bit/s"
    if key.startswith("c8_key_fraction"):
        return "bit"
    return "1"


def _summary_md(summary: dict, notes: dict, meta: dict) -> str:
    lines = ["# catbell reproduce: summary", "",
             f"engine: {meta['engine']}, grids: {meta['grids']}, model: "
             f"{model_text(meta['model'])}", "",
             "| key | value | unit | note |", "| --- | --- | --- | --- |"]
    for k, v in summary.items():
        note = notes.get(k, "").replace("|", "\\|")  # a literal | in Markdown tables
        lines.append(f"| `{k}` | {_fmt(v)} | {summary_unit(k)} | {note} |")
    lines += ["", "Notes:", ""] + [f"- {m}" for m in meta["notes"]] + [""]
    return "\n".join(lines)


def model_text(model: dict) -> str:
    """``encoder = ideal, eta_int_placement = lumped, decoder = smallest-loss``.

    Parameters
    ----------
    model : dict
        Model choice name -> value (e.g. ``{"encoder": "ideal"}``).

    Returns
    -------
    str
        ``"name = value"`` pairs joined by commas, in the dict's order.

    Examples
    --------
    >>> model_text({"encoder": "ideal", "decoder": "smallest-loss"})
    'encoder = ideal, decoder = smallest-loss'
    """
    return ", ".join(f"{k} = {v}" for k, v in model.items())


def _model_cache(rows, base: dict) -> dict:
    """The model table's threshold cache, seeded with this run's thresholds: the table
    computes the same four (eta_int and eta_c, l = 1 and 3) for the model the presets pin,
    with the same arguments, which took ~0.4 s of CPU twice. Seeded only where the
    threshold table's fields are the model table's for that model (preset ``repro-base``
    with its encoder and placement), so every number is the one the table would compute."""
    model = {"encoder": base["encoder"], "eta_int_placement": base["eta_int_placement"]}
    if base != merge_layers(preset("repro-base"), model):
        return {}
    cache = {}
    for r in rows:
        key = _threshold_key(r.parameter, r.loss_order)
        if key in identification.MODEL_CLAIMS:
            cache[identification.threshold_tag(key, *model.values())] = r.value
    return cache


def _write_thresholds(rows, out: Path, model: dict):
    import xarray as xr

    with open(out / "thresholds.json", "w") as fh:
        json.dump([r.to_dict() for r in rows], fh, indent=2, allow_nan=False)
    with open(out / "thresholds.csv", "w") as fh:
        fh.write(f"# S_l(5 km) = S_0(5 km) at R_eg = 3000 Hz, {model_text(model)}; "
                 "threshold [1] (empty: no crossing in (0, 1])\n")
        fh.write("parameter,loss_order,threshold,message\n")
        for r in rows:
            v = "" if r.value is None else f"{r.value:.8g}"
            fh.write(f"{r.parameter},{r.loss_order},{v},\"{r.message}\"\n")
    data = {}
    for r in rows:
        data[f"gap_{r.parameter}_l{r.loss_order}"] = xr.DataArray(
            r.gap, dims=("efficiency",), coords={"efficiency": r.grid},
            attrs={"units": "1", "long_name": f"S_{r.loss_order} - S_0 vs {r.parameter}",
                   "threshold": "none" if r.value is None else r.value})
    ds = xr.Dataset(data, attrs={"length_km": LENGTH_THRESHOLD_KM, "rate_hz": RATE_FIG23_HZ,
                                 **{k: str(v) for k, v in model.items()}})
    ds["efficiency"].attrs["units"] = "1"
    write_netcdf(ds, out / "thresholds.nc")


def reproduce(out="results", *, engine: str = "coherent", quick: bool = False,
              progress: bool = True, encoder: str | None = None,
              eta_int_placement: str | None = None) -> dict:
    """Compute, plot and write every panel and the claims table; return the summary.

    Parameters
    ----------
    out : str or Path
        Output folder (created).
    engine : {"coherent", "fock"}
        Engine of every :func:`~catbell_qutip.evaluate` call.
    quick : bool
        Coarse grids (:data:`GRIDS` ``"quick"`` and each panel's quick point count). The
        l = 3 eta_d threshold (linear-optics USD) is left out with --quick and on the Fock
        engine (``null`` with a note).
    progress : bool
        Show a tqdm progress bar on stderr.
    encoder, eta_int_placement : str or None
        Override the model the ``repro-*`` presets pin (identified from the paper's numbers,
        docs/model.md 3) in every panel, threshold and analysis; None keeps the presets'.

    Returns
    -------
    dict
        The summary: every key of :data:`SUMMARY_KEYS` (None where a number does not
        exist), then ``"_notes"``, ``"_meta"``, ``"_claims"`` (C1-C10 records) and
        ``"_timing"`` (the run's wall times, also written to timing.json: they are the only
        outputs that differ between two runs; summary.* and every figure are
        byte-identical).

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If ``engine``, ``encoder`` or ``eta_int_placement`` is not a known choice (before
        any work, and before ``out`` is created).

    Examples
    --------
    A full run takes minutes (``catbell reproduce``); a bad option is refused at once
    and leaves no folder behind:

    >>> import pathlib, tempfile
    >>> from catbell_qutip._checks import ParameterError
    >>> with tempfile.TemporaryDirectory() as d:
    ...     try:
    ...         reproduce(pathlib.Path(d, "results"), engine="exact")
    ...     except ParameterError as exc:
    ...         print(exc.field, pathlib.Path(d, "results").exists())
    engine False
    """
    from tqdm.auto import tqdm

    check_choice(engine, "engine", ("coherent", "fock"))
    overrides = {}
    if encoder is not None:
        overrides["encoder"] = check_choice(encoder, "encoder", ENCODERS)
    if eta_int_placement is not None:
        overrides["eta_int_placement"] = check_choice(eta_int_placement, "eta_int_placement",
                                                      ETA_INT_PLACEMENTS)
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    grids = GRIDS["quick" if quick else "default"]
    ctx = Context(engine, grids, overrides, quick)
    jobs = [j for j in THRESHOLD_JOBS if not (j == ("eta_d", 3) and (quick or engine == "fock"))]
    n_model = len(ENCODERS) * len(ETA_INT_PLACEMENTS)
    bar = tqdm(total=1 + len(PANELS) + len(jobs) + n_model + 2, desc="catbell reproduce",
               unit="task", disable=not progress)
    summary, notes, meta_notes, task_times = {}, {}, [], {}
    clock = [time.perf_counter(), None]

    def step(what):
        now = time.perf_counter()
        if clock[1] is not None:
            task_times[clock[1]] = round(now - clock[0], 3)
        clock[0], clock[1] = now, what
        bar.set_postfix_str(what)

    def put(results):
        for k, (v, note) in results.items():
            summary[k], notes[k] = v, note

    step("fig4 t0 calibration")
    cal = calibrate_t0(engine, grids["n_alpha"])
    t0 = cal["t0_s"]
    put({"fig4_t0_s": (t0, cal["note"])})
    meta_notes.append("Fig. 4 timing: " + cal["note"] + " (replaces the t0_s of the "
                      "repro-fig4* presets, which pin the same value to 7 digits)")
    bar.update()

    model = None
    for panel in PANELS:
        step(panel.name)
        fields = panel_fields(panel, overrides)
        model = model or {k: fields[k] for k in ("encoder", "eta_int_placement", "decoder")}
        ds = compute_panel(panel, fields, ctx, t0)
        _write_data(ds, out, panel.name)
        plot_panel(ds, panel, fields, out)
        for post in panel.posts:
            put(post.run(panel, ds, fields, ctx))
        bar.update()

    base = panel_fields(PANELS[0], overrides)
    step("thresholds")  # all at once: their refining solves run in lockstep
    rows = thresholds([dict(parameter=param, loss_order=l) for param, l in jobs],
                      length_km=LENGTH_THRESHOLD_KM, rate_hz=RATE_FIG23_HZ, engine=engine,
                      n_grid=grids["n_threshold"], n_scan=grids["n_scan"], **base)
    for (param, l), th in zip(jobs, rows, strict=True):
        put({_threshold_key(param, l): (th.value, th.message)})
    bar.update(len(jobs))
    for param, l in set(THRESHOLD_JOBS) - set(jobs):
        put({_threshold_key(param, l): (
            None, "not computed in this run (--quick or the Fock engine, where the l = 3 "
                  "linear-optics USD takes seconds per point); run `catbell thresholds "
                  "--parameters eta_d --loss-orders 3 --preset repro-base`")})
    _write_thresholds(rows, out, model)

    step("model table")
    table = identification.model_table(t0_s=t0, engine=engine, n_threshold=grids["n_threshold"],
                                n_scan=grids["n_scan"], n_length=grids["n_model_length"],
                                n_alpha=grids["n_alpha"], length_tol_km=grids["length_tol_km"],
                                progress=bar.update, cache=_model_cache(rows, base))
    identification.write_model_table(table, out)
    picked = identification.identify_model(table)
    meta_notes.append(f"model identified from the paper's numbers: {model_text(picked)} "
                      f"(model_table.md); this run uses {model_text(model)}")
    step("claims analyses")
    put(_analyses(ctx, overrides, t0))
    bar.update()

    step("summary")
    task_times.pop("summary", None)
    ordered = {k: summary.get(k) for k in SUMMARY_KEYS}
    ordered.update({k: v for k, v in summary.items() if k not in ordered})
    ordered = json_ready(ordered)
    claims = _claims.build_claims(ordered)
    _claims.write_claims(claims, out)
    wall = time.perf_counter() - start
    meta = {"engine": engine, "grids": "quick" if quick else "default", "model": model,
            "identified_model": picked, "notes": meta_notes,
            "fig4_t0_calibrated": bool(cal["calibrated"]),
            "fig4a_peak_l0_t0_zero": cal["peak_t0_zero"],
            "fig4_travel_time_s": cal["travel_time_s"],
            "units": {k: summary_unit(k) for k in ordered}}
    # run times differ between any two runs: they live in timing.json, labelled as wall
    # times, so that summary.* (like every figure) is byte-identical run to run
    timing = {"wall_time_s": wall, "task_wall_times_s": task_times,
              "note": "wall-clock seconds of this run and of each task; they vary with the "
                      "machine and its load, unlike every other output"}
    with open(out / "timing.json", "w") as fh:
        json.dump(timing, fh, indent=2, allow_nan=False)
    with open(out / "summary.md", "w") as fh:
        fh.write(_summary_md(ordered, notes, meta))
    ordered["_notes"] = notes
    ordered["_meta"] = meta
    with open(out / "summary.json", "w") as fh:
        json.dump(ordered, fh, indent=2, allow_nan=False)
    ordered["_claims"] = claims
    ordered["_timing"] = timing
    bar.update()
    bar.close()
    return ordered
