"""Reproduce every figure panel of the paper (docs/model.md section 6): ``catbell reproduce``.

Panels 2(a), 2(b), 3(a)-(g), 4(a)-(c) are written to an output folder as PNG and PDF, their
data as netCDF (xarray, named dimensions, units in attributes) and CSV, plus the efficiency
thresholds and a ``summary.md`` / ``summary.json`` of the key numbers (SI units, rates in
bit/s). REPRODUCTION.md sets the numbers beside the paper's statements.

Choices (each pinned in a preset of ``catbell_qutip/presets``, see REPRODUCTION.md):

- every panel starts from ``repro-base``: explicit encoder (docs/model.md puts eta_int after
  every reflection, including Alice's encoding rounds, which only the explicit encoder
  has), 0.2 dB/km, TUB USD, t0 = 0;
- Figs. 2-3 at R_eg = 3000 Hz with t0 negligible (R_eg = P c_f / L);
- Fig. 3(a)/(d): eta_int = 0.995 / 0.9 (``repro-fig3a`` / ``repro-fig3d``), Fig. 3(b)/(e):
  eta_c = 0.8 / 0.5, Fig. 3(c)/(f): linear-optics USD with eta_d = 1 / 0.5;
- Fig. 3(g): Table I (``table1``) at 3 Hz, ideal memory (Table I gives no t_c);
- Fig. 4 at L = 10 km: t0 calibrated once so that the l = 0 peak key rate of Fig. 4(a) is
  2000 bit/s (R_eg = P / max(L / c_f, t0): t0 only lowers rates, so this is possible only
  if the t0 = 0 peak exceeds 2000 bit/s; otherwise t0 = 0 is kept and the fact recorded);
  the same t0 is used for 4(b) (``table1``) and 4(c) (``table1-uc0.2``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from .keyrate import S_MAX, key_rate_vs_alpha, peak_key_rate
from .params import C_FIBRE_M_PER_S, merge_layers, preset
from .rates import S_vs_length, S_vs_memory_time, solve_at_rate
from .thresholds import threshold

__all__ = ["PANELS", "GRIDS", "SUMMARY_KEYS", "Panel", "reproduce", "panel_fields",
           "calibrate_t0", "crossing_lengths", "max_length_above", "summary_unit"]

#: fixed rate of Figs. 2-3 and the thresholds, Hz
RATE_FIG23_HZ = 3000.0
#: fixed rate of Fig. 3(g), Hz
RATE_FIG3G_HZ = 3.0
#: length of Fig. 4 and of the thresholds, km
LENGTH_FIG4_KM = 10.0
LENGTH_THRESHOLD_KM = 5.0
#: the paper's l = 0 peak key rate of Fig. 4(a), bit/s (docs/model.md 6), used to calibrate t0
PEAK_FIG4A_L0_BIT_S = 2000.0
#: S level of the Fig. 3(g) summary number
S_LEVEL_FIG3G = 2.01

#: grid sizes: default run and --quick
GRIDS = {
    "default": dict(n_length=25, n_scan=24, n_tc=40, n_alpha=200, n_threshold=25,
                    n_length_3g=36, length_tol_km=1e-3),
    "quick": dict(n_length=6, n_scan=12, n_tc=8, n_alpha=40, n_threshold=8,
                  n_length_3g=8, length_tol_km=2e-2),
}

SUMMARY_KEYS = (
    "fig2a_S_5km_l0", "fig2a_S_5km_l1", "fig2a_S_5km_l3",
    "threshold_eta_int_l1", "threshold_eta_int_l3", "threshold_eta_c_l1",
    "threshold_eta_c_l3", "threshold_eta_d_linear_l1",
    "fig3g_max_km_S_above_2.01",
    "fig4a_peak_l0", "fig4a_peak_l1", "fig4b_peak_l0", "fig4b_peak_l1",
    "fig4c_peak_l0", "fig4c_peak_l1",
    "fig4a_peak_l0_alpha", "fig4a_peak_l1_alpha", "fig4b_peak_l0_alpha",
    "fig4b_peak_l1_alpha", "fig4c_peak_l0_alpha", "fig4c_peak_l1_alpha",
    "fig4_t0_s",
)


@dataclass(frozen=True)
class Panel:
    """One figure panel: what varies, what is fixed, which presets pin it."""

    name: str
    kind: str  # "length" (S vs L at fixed rate), "memory" (S vs t_c), "key" (key rate vs alpha)
    title: str
    statement: str  # the paper's statement (docs/model.md section 6)
    loss_orders: tuple
    presets: tuple
    rate_hz: float = RATE_FIG23_HZ
    length_km: tuple = (0.25, 10.0)  # range for "length"; the length for the others
    log_x: bool = False
    alpha_max: float = 4.0
    extra: dict = field(default_factory=dict)


PANELS = (
    Panel("fig2a", "length", "Fig. 2(a): S vs L at 3000 Hz, channel loss only",
          "S(l=3) > S(l=1) > S(l=0) over the plotted range", (0, 1, 3), ("repro-base",),
          length_km=(0.25, 20.0)),
    Panel("fig2b", "memory", "Fig. 2(b): S vs t_c at 5 km, 3000 Hz, channel loss only",
          "l = 0 and l = 1 nearly equal", (0, 1), ("repro-base",), length_km=(5.0,),
          log_x=True),
    Panel("fig3a", "length", "Fig. 3(a): S vs L at 3000 Hz, eta_int = 0.995",
          "S vs L with eta_int < 1 (first value)", (0, 1, 3), ("repro-base", "repro-fig3a")),
    Panel("fig3b", "length", "Fig. 3(b): S vs L at 3000 Hz, eta_c = 0.8",
          "S vs L with eta_c < 1 (first value)", (0, 1, 3), ("repro-base", "repro-fig3b")),
    Panel("fig3c", "length", "Fig. 3(c): linear-optics USD, eta_d = 1, 3000 Hz",
          "l = 0 and l = 1 with linear-optics USD, eta_d = 1", (0, 1),
          ("repro-base", "repro-fig3c")),
    Panel("fig3d", "length", "Fig. 3(d): S vs L at 3000 Hz, eta_int = 0.9",
          "S vs L with eta_int < 1 (second value)", (0, 1, 3), ("repro-base", "repro-fig3d")),
    Panel("fig3e", "length", "Fig. 3(e): S vs L at 3000 Hz, eta_c = 0.5",
          "S vs L with eta_c < 1 (second value)", (0, 1, 3), ("repro-base", "repro-fig3e")),
    Panel("fig3f", "length", "Fig. 3(f): linear-optics USD, eta_d = 0.5, 3000 Hz",
          "l = 0 and l = 1 with linear-optics USD, eta_d = 0.5", (0, 1),
          ("repro-base", "repro-fig3f")),
    Panel("fig3g", "length", "Fig. 3(g): Table I at 3 Hz (ideal memory)",
          "S vs L for l = 0, 1, 3 with all Table I imperfections at 3 Hz", (0, 1, 3),
          ("repro-base", "table1"), rate_hz=RATE_FIG3G_HZ, length_km=(0.1, 150.0),
          log_x=True, alpha_max=8.0),
    Panel("fig4a", "key", "Fig. 4(a): key rate vs alpha at 10 km, channel loss only",
          "about 2000 bit/s peak for l = 0", (0, 1), ("repro-base",),
          length_km=(LENGTH_FIG4_KM,), alpha_max=3.0),
    Panel("fig4b", "key", "Fig. 4(b): key rate vs alpha at 10 km, Table I",
          "key rate vs alpha, Table I", (0, 1), ("repro-base", "table1"),
          length_km=(LENGTH_FIG4_KM,), alpha_max=3.0),
    Panel("fig4c", "key", "Fig. 4(c): key rate vs alpha at 10 km, Table I with eta_uc = 0.2",
          "key rate vs alpha, Table I with eta_uc = 0.2", (0, 1),
          ("repro-base", "table1-uc0.2"), length_km=(LENGTH_FIG4_KM,), alpha_max=3.0),
)


def panel_fields(panel: Panel) -> dict:
    """The ProtocolParams fields of a panel: its presets merged in order."""
    return merge_layers(*(preset(name) for name in panel.presets))


# -- computations -------------------------------------------------------------------------
def _stack(datasets, loss_orders, panel: Panel, engine: str, extra_attrs: dict):
    import xarray as xr

    ds = xr.concat(datasets, dim="loss_order", combine_attrs="override")
    ds = ds.assign_coords(loss_order=("loss_order", np.asarray(loss_orders, dtype=int),
                                      {"units": "1", "long_name": "loss order l"}))
    attrs = {"panel": panel.name, "title": panel.title, "paper_statement": panel.statement,
             "presets": ", ".join(panel.presets), "engine": engine}
    for k, v in panel_fields(panel).items():
        attrs[f"param_{k}"] = v if isinstance(v, (int, float, str)) else str(v)
    attrs.update(extra_attrs)
    ds.attrs = {k: (v if isinstance(v, (int, float, str)) else str(v))
                for k, v in attrs.items()}
    return ds


def _length_grid(panel: Panel, n: int) -> np.ndarray:
    """The panel's lengths, always including L = 5 km (where the paper reads its numbers)."""
    lo, hi = panel.length_km
    grid = np.geomspace(lo, hi, n) if panel.log_x else np.linspace(lo, hi, n)
    return np.union1d(grid, [LENGTH_THRESHOLD_KM])


def crossing_lengths(panel: Panel, ds, engine: str, n_scan: int, tol_km: float = 1e-3):
    """Lengths where two codes' S(L) curves cross (Brent between grid sign changes).

    Returns {(la, lb): [L1, ...]} for every pair la > lb of the panel's loss orders.
    """
    f = panel_fields(panel)
    L = ds["length_km"].values

    def S_at(l, x):
        return float(solve_at_rate(l, panel.rate_hz, engine=engine, alpha_max=panel.alpha_max,
                                   n_scan=n_scan, length_km=x, **f)["S"])

    out = {}
    orders = sorted(panel.loss_orders, reverse=True)
    for i, la in enumerate(orders):
        for lb in orders[i + 1:]:
            d = ds["S"].sel(loss_order=la).values - ds["S"].sel(loss_order=lb).values
            roots = []
            for j in range(L.size - 1):
                if np.isfinite(d[j]) and np.isfinite(d[j + 1]) and (d[j] > 0) != (d[j + 1] > 0):
                    roots.append(float(brentq(lambda x, la=la, lb=lb: S_at(la, x) - S_at(lb, x),
                                              L[j], L[j + 1], xtol=tol_km)))
            out[(la, lb)] = roots
    return out


def _compute_length(panel, engine, grids):
    L = _length_grid(panel, grids["n_length_3g"] if panel.name == "fig3g"
                     else grids["n_length"])
    f = panel_fields(panel)
    dss = [S_vs_length(l, panel.rate_hz, L, engine=engine, alpha_max=panel.alpha_max,
                       n_scan=grids["n_scan"], **f) for l in panel.loss_orders]
    return _stack(dss, panel.loss_orders, panel, engine, {"rate_hz": panel.rate_hz})


def _compute_memory(panel, engine, grids):
    tc = np.geomspace(1e-6, 1e-1, grids["n_tc"])
    f = panel_fields(panel)
    L = panel.length_km[0]
    dss = [S_vs_memory_time(l, panel.rate_hz, tc, length_km=L, engine=engine,
                            alpha_max=panel.alpha_max, n_scan=grids["n_scan"], **f)
           for l in panel.loss_orders]
    return _stack(dss, panel.loss_orders, panel, engine,
                  {"rate_hz": panel.rate_hz, "length_km": L})


def _compute_key(panel, engine, grids, t0_s):
    alpha = np.linspace(panel.alpha_max / grids["n_alpha"], panel.alpha_max, grids["n_alpha"])
    f = dict(panel_fields(panel), t0_s=t0_s)
    L = panel.length_km[0]
    dss, peaks = [], {}
    for l in panel.loss_orders:
        ds = key_rate_vs_alpha(l, alpha, engine=engine, length_km=L, **f)
        a_opt, k_opt = peak_key_rate(l, alpha_max=panel.alpha_max, n_scan=grids["n_alpha"],
                                     engine=engine, length_km=L, **f)
        peaks[l] = (a_opt, k_opt)
        dss.append(ds)
    ds = _stack(dss, panel.loss_orders, panel, engine, {"length_km": L, "t0_s": t0_s})
    ds["peak_key_rate"] = ("loss_order", [peaks[l][1] for l in panel.loss_orders],
                           {"units": "bit/s"})
    ds["peak_alpha"] = ("loss_order", [peaks[l][0] for l in panel.loss_orders],
                        {"units": "1"})
    return ds, peaks


def calibrate_t0(engine: str = "coherent", n_alpha: int = 200) -> dict:
    """t0 from the l = 0 peak of Fig. 4(a) (docs/model.md 6), and whether that is possible.

    With t0 > L / c_f every rate scales by (L / c_f) / t0 and the optimal alpha does not
    move, so t0 = (L / c_f) * peak(t0 = 0) / 2000 bit/s exactly.

    Returns
    -------
    dict
        ``t0_s`` (s), ``peak_t0_zero`` (bit/s), ``alpha_t0_zero``, ``travel_time_s``,
        ``calibrated`` (bool) and ``note`` (str).
    """
    panel = next(p for p in PANELS if p.name == "fig4a")
    f = dict(panel_fields(panel), t0_s=0.0)
    a0, k0 = peak_key_rate(0, alpha_max=panel.alpha_max, n_scan=n_alpha, engine=engine,
                           length_km=LENGTH_FIG4_KM, **f)
    T = LENGTH_FIG4_KM * 1e3 / C_FIBRE_M_PER_S
    if k0 > PEAK_FIG4A_L0_BIT_S:
        t0 = T * k0 / PEAK_FIG4A_L0_BIT_S
        note = (f"with t0 = 0 the l = 0 peak of Fig. 4(a) is {k0:.6g} bit/s > "
                f"{PEAK_FIG4A_L0_BIT_S:g} bit/s; t0 = (L / c_f) x {k0:.6g} / "
                f"{PEAK_FIG4A_L0_BIT_S:g} = {t0:.6g} s brings it to {PEAK_FIG4A_L0_BIT_S:g}")
        return dict(t0_s=t0, peak_t0_zero=k0, alpha_t0_zero=a0, travel_time_s=T,
                    calibrated=True, note=note)
    note = (f"with t0 = 0 the l = 0 peak of Fig. 4(a) is {k0:.6g} bit/s <= "
            f"{PEAK_FIG4A_L0_BIT_S:g} bit/s: since t0 can only lower the rate, no t0 "
            "reproduces the paper's peak; t0 = 0 kept (any t0 <= L / c_f = "
            f"{T:.3g} s is equivalent)")
    return dict(t0_s=0.0, peak_t0_zero=k0, alpha_t0_zero=a0, travel_time_s=T,
                calibrated=False, note=note)


def max_length_above(loss_order: int, level: float, lengths, S, *, rate_hz, engine,
                     alpha_max, n_scan, tol_km, **fields):
    """Largest L with S(L) >= level at a fixed rate (refined between grid points: bisection
    where the rate is unattainable, then Brent on S(L) - level).

    ``lengths``, ``S``: the curve on a grid (NaN where the rate is unattainable, which
    counts as below the level). Returns (value_km or None, note).
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
    while hi - lo > tol_km and not np.isfinite(s_hi):
        mid = 0.5 * (lo + hi)
        s_mid = S_at(mid)
        if np.isfinite(s_mid) and s_mid >= level:
            lo = mid
        else:
            hi, s_hi = mid, s_mid
    if hi - lo > tol_km:
        lo = brentq(lambda L: S_at(L) - level, lo, hi, xtol=0.5 * tol_km)
    return lo, f"largest L with S >= {level} for l = {loss_order} (to {tol_km:g} km)"


# -- output -------------------------------------------------------------------------------
def _write_data(ds, out: Path, name: str):
    ds.to_netcdf(out / f"{name}.nc")
    df = ds.to_dataframe().reset_index()
    units = {k: ds[k].attrs.get("units", "") for k in list(ds.data_vars) + list(ds.coords)}
    with open(out / f"{name}.csv", "w") as fh:
        fh.write(f"# {ds.attrs.get('title', name)}; units: "
                 + ", ".join(f"{c} [{units.get(c, '')}]" for c in df.columns) + "\n")
        df.to_csv(fh, index=False)


_COLOURS = {0: "tab:blue", 1: "tab:orange", 3: "tab:green"}


def _plot(ds, panel: Panel, out: Path, summary_marks: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # fixed margins: constrained layout costs about 1 s per figure here
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.13, top=0.91)
    if panel.kind in ("length", "memory"):
        x = "length_km" if panel.kind == "length" else "t_c_s"
        for l in panel.loss_orders:
            sel = ds.sel(loss_order=l)
            ax.plot(sel[x].values, sel["S"].values, color=_COLOURS.get(l), lw=1.6,
                    label=f"l = {l}")
        ax.axhline(2.0, color="0.4", lw=0.8, ls=":", label="S = 2 (local bound)")
        ax.axhline(S_MAX, color="0.4", lw=0.8, ls="--", label="S = 2√2")
        if panel.name == "fig3g":
            ax.axhline(S_LEVEL_FIG3G, color="tab:red", lw=0.8, ls="-.", label="S = 2.01")
        ax.set_xlabel("fibre length L (km)" if x == "length_km"
                      else "memory coherence time t_c (s)")
        ax.set_ylabel("CHSH value S")
        ax.set_ylim(1.95, 2.86)
        if panel.log_x:
            ax.set_xscale("log")
    else:
        for l in panel.loss_orders:
            sel = ds.sel(loss_order=l)
            ax.plot(sel["alpha"].values, sel["key_rate"].values, color=_COLOURS.get(l),
                    lw=1.6, label=f"l = {l}")
            a_opt, k_opt = summary_marks.get(l, (math.nan, 0.0))
            if k_opt > 0:
                ax.plot([a_opt], [k_opt], "o", color=_COLOURS.get(l), ms=4)
        ax.set_xlabel("amplitude |α|")
        ax.set_ylabel("secret key rate (bit/s)")
        ax.set_ylim(bottom=0)
    title = panel.title
    if panel.kind == "key":
        title += f", t0 = {float(ds.attrs['t0_s']) * 1e6:.1f} us"
    ax.set_title(title, fontsize=8.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7.5)
    fig.savefig(out / f"{panel.name}.png", dpi=110)
    fig.savefig(out / f"{panel.name}.pdf")
    plt.close(fig)


def _fmt(v, unit=""):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "none"
    u = f" {unit}" if unit else ""
    return f"{v:.6g}{u}"


def summary_unit(key: str) -> str:
    """SI unit of a summary key."""
    if "_max_km_" in key or "_crossing_km_" in key:
        return "km"
    if key == "fig4_t0_s":
        return "s"
    if "_peak_" in key and not key.endswith("_alpha"):
        return "bit/s"
    return "1"


def _summary_md(summary: dict, notes: dict, meta: dict) -> str:
    lines = ["# catbell reproduce: summary", "",
             f"engine: {meta['engine']}, grids: {meta['grids']}, encoder: explicit "
             f"(all panels), wall time: {meta['wall_time_s']:.1f} s", "",
             "| key | value | unit | note |", "| --- | --- | --- | --- |"]
    for k, v in summary.items():
        if k.startswith("_"):
            continue
        lines.append(f"| `{k}` | {_fmt(v)} | {summary_unit(k)} | {notes.get(k, '')} |")
    lines += ["", "Notes:", ""] + [f"- {m}" for m in meta["notes"]] + [""]
    return "\n".join(lines)


def reproduce(out="results", *, engine: str = "coherent", quick: bool = False,
              progress: bool = True) -> dict:
    """Compute, plot and write every panel; return the summary dict (also summary.json).

    Parameters
    ----------
    out : str or Path
        Output folder (created).
    engine : {"coherent", "fock"}
        Engine of every :func:`~catbell_qutip.evaluate` call.
    quick : bool
        Coarse grids (:data:`GRIDS` ``"quick"``) for a fast check; also leaves out two
        extras that are not summary keys: the refined Fig. 2(a) crossing lengths and the
        l = 3 eta_d threshold (both ``null`` or absent, with a note). The Fock engine
        leaves out the l = 3 eta_d threshold as well.
    progress : bool
        Show a tqdm progress bar on stderr.

    Returns
    -------
    dict
        The summary (every key of :data:`SUMMARY_KEYS`, extra per-code keys, and
        ``"_meta"``/``"_notes"``).
    """
    from tqdm.auto import tqdm

    if engine not in ("coherent", "fock"):
        raise ValueError(f"engine must be one of ['coherent', 'fock'], got {engine!r}")
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    grids = GRIDS["quick" if quick else "default"]
    thr_jobs = [("eta_int", 1), ("eta_int", 3), ("eta_c", 1), ("eta_c", 3), ("eta_d", 1)]
    if engine == "coherent" and not quick:
        thr_jobs.append(("eta_d", 3))
    n_tasks = len(PANELS) + len(thr_jobs) + 2
    bar = tqdm(total=n_tasks, desc="catbell reproduce", unit="task", disable=not progress)
    summary: dict = {}
    notes: dict = {}
    meta_notes: list = []

    task_times: dict = {}
    clock = [time.perf_counter(), None]

    def step(what):
        now = time.perf_counter()
        if clock[1] is not None:
            task_times[clock[1]] = round(now - clock[0], 3)
        clock[0], clock[1] = now, what
        bar.set_postfix_str(what)

    # Fig. 4 timing first: t0 from the l = 0 peak of Fig. 4(a)
    step("fig4 t0 calibration")
    cal = calibrate_t0(engine, grids["n_alpha"])
    t0 = cal["t0_s"]
    summary["fig4_t0_s"] = t0
    notes["fig4_t0_s"] = cal["note"]
    meta_notes.append("Fig. 4 timing: " + cal["note"])
    bar.update()

    for panel in PANELS:
        step(panel.name)
        marks = {}
        if panel.kind == "length":
            ds = _compute_length(panel, engine, grids)
        elif panel.kind == "memory":
            ds = _compute_memory(panel, engine, grids)
        else:
            ds, marks = _compute_key(panel, engine, grids, t0)
            for l, (a, k) in marks.items():
                summary[f"{panel.name}_peak_l{l}"] = k
                summary[f"{panel.name}_peak_l{l}_alpha"] = None if not math.isfinite(a) else a
        _write_data(ds, out, panel.name)
        _plot(ds, panel, out, marks)
        if panel.kind == "length":
            for l in panel.loss_orders:
                v = float(ds["S"].sel(loss_order=l, length_km=LENGTH_THRESHOLD_KM))
                summary[f"{panel.name}_S_5km_l{l}"] = v if math.isfinite(v) else None
                if panel.name == "fig2a":
                    summary[f"fig2a_alpha_5km_l{l}"] = float(
                        ds["alpha"].sel(loss_order=l, length_km=LENGTH_THRESHOLD_KM))
        if panel.kind == "memory":
            d = ds["S"].sel(loss_order=1).values - ds["S"].sel(loss_order=0).values
            summary["fig2b_max_abs_S_l1_minus_l0"] = float(np.nanmax(np.abs(d)))
        if panel.name == "fig2a" and quick:
            meta_notes.append("Fig. 2(a) crossing lengths are not computed with --quick")
        if panel.name == "fig2a" and not quick:
            for (la, lb), roots in crossing_lengths(
                    panel, ds, engine, grids["n_scan"], grids["length_tol_km"]).items():
                key = f"fig2a_crossing_km_l{la}_l{lb}"
                summary[key] = roots[0] if roots else None
                notes[key] = (f"S_{la}(L) = S_{lb}(L) at L = "
                              + ", ".join(f"{r:.4g}" for r in roots) + " km"
                              if roots else f"S_{la} and S_{lb} do not cross on the plotted "
                              "range")
        if panel.name == "fig3g":
            f = panel_fields(panel)
            best = None
            for l in panel.loss_orders:
                sel = ds.sel(loss_order=l)
                v, note = max_length_above(
                    l, S_LEVEL_FIG3G, sel["length_km"].values, sel["S"].values,
                    rate_hz=panel.rate_hz, engine=engine, alpha_max=panel.alpha_max,
                    n_scan=grids["n_scan"], tol_km=grids["length_tol_km"], **f)
                summary[f"fig3g_max_km_S_above_2.01_l{l}"] = v
                notes[f"fig3g_max_km_S_above_2.01_l{l}"] = note
                if v is not None and (best is None or v > best[0]):
                    best = (v, l)
            summary["fig3g_max_km_S_above_2.01"] = None if best is None else best[0]
            notes["fig3g_max_km_S_above_2.01"] = (
                "no code reaches S >= 2.01" if best is None
                else f"best code l = {best[1]}; max over l = 0, 1, 3")
        bar.update()

    # thresholds at 5 km, 3000 Hz, explicit encoder, every other imperfection ideal
    rows = []
    for param, l in thr_jobs:
        step(f"threshold {param} l={l}")
        th = threshold(param, l, length_km=LENGTH_THRESHOLD_KM, rate_hz=RATE_FIG23_HZ,
                       engine=engine, encoder="explicit", n_grid=grids["n_threshold"],
                       n_scan=grids["n_scan"])
        key = f"threshold_{param}{'_linear' if param == 'eta_d' else ''}_l{l}"
        summary[key] = th.value
        notes[key] = th.message
        rows.append(th)
        bar.update()
    if ("eta_d", 3) not in thr_jobs:
        key = "threshold_eta_d_linear_l3"
        summary[key] = None
        notes[key] = ("not computed in this run (quick grids or the Fock engine, where the "
                      "l = 3 linear-optics USD takes seconds per point); run `catbell "
                      "thresholds --parameters eta_d --loss-orders 3`")
    _write_thresholds(rows, out)
    step("summary")
    task_times.pop("summary", None)
    for key in SUMMARY_KEYS:
        summary.setdefault(key, None)
    wall = time.perf_counter() - start
    meta = {"engine": engine, "grids": "quick" if quick else "default", "encoder": "explicit",
            "wall_time_s": wall, "notes": meta_notes,
            "fig4_t0_calibrated": bool(cal["calibrated"]),
            "fig4a_peak_l0_t0_zero": cal["peak_t0_zero"],
            "fig4_travel_time_s": cal["travel_time_s"],
            "task_wall_times_s": task_times,
            "units": {}}
    ordered = {k: summary[k] for k in SUMMARY_KEYS}
    ordered.update({k: v for k, v in summary.items() if k not in ordered})
    meta["units"] = {k: summary_unit(k) for k in ordered}
    ordered["_notes"] = notes
    ordered["_meta"] = meta
    with open(out / "summary.json", "w") as fh:
        json.dump(ordered, fh, indent=2, allow_nan=False)
    with open(out / "summary.md", "w") as fh:
        fh.write(_summary_md({k: v for k, v in ordered.items()
                              if not k.startswith("_")}, notes, meta))
    bar.update()
    bar.close()
    return ordered


def _write_thresholds(rows, out: Path):
    import xarray as xr

    with open(out / "thresholds.json", "w") as fh:
        json.dump([r.to_dict() for r in rows], fh, indent=2)
    with open(out / "thresholds.csv", "w") as fh:
        fh.write("# S_l(5 km) = S_0(5 km) at R_eg = 3000 Hz, explicit encoder; "
                 "threshold [1] (empty: no crossing in (0, 1])\n")
        fh.write("parameter,loss_order,threshold,message\n")
        for r in rows:
            v = "" if r.value is None else f"{r.value:.8g}"
            fh.write(f"{r.parameter},{r.loss_order},{v},\"{r.message}\"\n")
    # the scans behind the thresholds: gap S_l - S_0 vs the efficiency
    data = {}
    for r in rows:
        name = f"gap_{r.parameter}_l{r.loss_order}"
        data[name] = xr.DataArray(
            r.gap, dims=("efficiency",), coords={"efficiency": r.grid},
            attrs={"units": "1", "long_name": f"S_{r.loss_order} - S_0 vs {r.parameter}",
                   "threshold": np.nan if r.value is None else r.value})
    ds = xr.Dataset(data, attrs={"length_km": LENGTH_THRESHOLD_KM,
                                 "rate_hz": RATE_FIG23_HZ, "encoder": "explicit"})
    ds["efficiency"].attrs["units"] = "1"
    ds.to_netcdf(out / "thresholds.nc")
