"""The paper's figure panels as data (docs/model.md section 6), for ``catbell reproduce``.

A :class:`Panel` says everything that differs between panels: what varies (``kind``), its
preset (every ProtocolParams field of the panel: ``catbell_qutip/presets/repro-*.toml``), its
grid and axis limits, reference lines, optional reference curves (the TUB beside the
linear-optics USD of Fig. 3(c)/(f)) and its post-processing steps (:class:`Post`: the numbers
it contributes to the summary, each with a note). :func:`catbell_qutip.reproduce.reproduce`
is a loop over :data:`PANELS`; the summary keys are derived from them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from ._figures import save_png_pdf
from .claims import CLAIMS
from .fibre import travel_time_s
from .keyrate import peak_key_rate
from .paper import (
    ALPHA_MAX_FIG3G,
    ALPHA_MAX_FIG4,
    LENGTH_FIG4_KM,
    LENGTH_MAX_FIG3G_KM,
    LENGTH_THRESHOLD_KM,
    PEAK_FIG4A_L0_BIT_S,
    RATE_FIG3G_HZ,
    RATE_FIG23_HZ,
    S_LEVEL,
)
from .params import merge_layers, preset
from .rates import solve_at_rate
from .thresholds import max_length_above

__all__ = ["Panel", "Post", "PANELS", "panel_fields", "crossing_lengths", "max_length_above",
           "calibrate_t0", "plot_panel"]

#: S below which S_0 counts as not yet saturated in Fig. 2(b): S_0(t_c = inf) - this
S_SATURATION_GAP = 0.01


@dataclass(frozen=True)
class Context:
    """What a post-processing step may use: engine, grids, the overrides of every panel."""

    engine: str
    grids: dict
    overrides: dict
    quick: bool


@dataclass(frozen=True)
class Post:
    """One post-processing step of a panel.

    Parameters
    ----------
    keys : callable
        ``keys(panel) -> tuple of str``: the summary keys it writes (SUMMARY_KEYS is built
        from these).
    run : callable
        ``run(panel, ds, fields, ctx) -> dict key -> (value, note)``.

    Examples
    --------
    >>> fig2a = next(p for p in PANELS if p.name == "fig2a")
    >>> fig2a.posts[0].keys(fig2a)
    ('fig2a_S_5km_l0', 'fig2a_S_5km_l1', 'fig2a_S_5km_l3')
    """

    keys: Callable
    run: Callable


@dataclass(frozen=True)
class Panel:
    """One figure panel: what varies, what is fixed (its preset), how it is drawn and read.

    Parameters
    ----------
    name, title, statement : str
        File stem, plot title (mathtext), the paper's statement (docs/model.md 6).
    kind : {"length", "memory", "key"}
        S vs L at a fixed rate, S vs t_c at a fixed rate, key rate vs alpha.
    loss_orders : tuple of int
        Codes l drawn (dimensionless).
    presets : tuple of str
        Presets merged in order (every repro panel has one, carrying every field).
    rate_hz : float
        Fixed R_eg of "length"/"memory" panels, Hz.
    length_km : tuple
        (lo, hi) of a "length" panel; (L,) of the others [km].
    log_x : bool
        Logarithmic x axis.
    alpha_max : float
        Upper end of the alpha scan (solver, or key-rate axis).
    points : tuple of int
        Grid points (default run, --quick) of the x axis.
    refine : tuple
        (lo, hi, n) of extra, linearly spaced x points of the default run where a curve
        falls steeply (empty: none).
    ylim : tuple
        S axis limits of S panels.
    ref_lines : tuple of (y, label, colour, linestyle)
        Horizontal lines.
    reference : dict
        Field overrides of dashed reference curves drawn beside the panel's (empty: none).
    posts : tuple of Post
        Post-processing steps.

    Examples
    --------
    >>> fig2a = next(p for p in PANELS if p.name == "fig2a")
    >>> fig2a.kind, fig2a.loss_orders, fig2a.rate_hz, fig2a.length_km
    ('length', (0, 1, 3), 3000.0, (0.25, 20.0))
    """

    name: str
    kind: str
    title: str
    statement: str
    loss_orders: tuple
    presets: tuple
    rate_hz: float = RATE_FIG23_HZ
    length_km: tuple = (0.25, 10.0)
    log_x: bool = False
    alpha_max: float = 4.0
    points: tuple = (40, 6)
    refine: tuple = ()
    ylim: tuple = (1.98, 2.85)
    ref_lines: tuple = ((2.0, "$S = 2$ (local bound)", "0.4", ":"),
                        (2 * math.sqrt(2), r"$S = 2\sqrt{2}$", "0.4", "--"))
    reference: dict = field(default_factory=dict)
    posts: tuple = ()

    def summary_keys(self) -> tuple:
        """The summary keys this panel writes (from its post-processing steps)."""
        return tuple(k for p in self.posts for k in p.keys(self))


def panel_fields(panel: Panel, overrides: dict | None = None) -> dict:
    """The ProtocolParams fields of a panel: its presets merged in order, then ``overrides``.

    Parameters
    ----------
    panel : Panel
        The panel.
    overrides : dict, optional
        Field name -> value (units of :class:`~catbell_qutip.params.ProtocolParams`),
        applied last.

    Returns
    -------
    dict
        The merged fields (not yet validated).

    Examples
    --------
    >>> fig2a = next(p for p in PANELS if p.name == "fig2a")
    >>> panel_fields(fig2a)["db_per_km"], panel_fields(fig2a, {"db_per_km": 0.3})["db_per_km"]
    (0.2, 0.3)
    """
    return merge_layers(*(preset(name) for name in panel.presets), overrides)


def calibrate_t0(engine: str = "coherent", n_alpha: int = 200) -> dict:
    """t0 from the l = 0 peak of Fig. 4(a) (docs/model.md 6), and whether that is possible.

    With t0 > L / c_f every rate scales by (L / c_f) / t0 and the optimal alpha does not
    move, so t0 = (L / c_f) * peak(t0 = 0) / 2000 bit/s exactly. Fig. 4(a) has no eta_int,
    so the value is the same for every encoder and eta_int placement.

    Parameters
    ----------
    engine : {"coherent", "fock"}
        Engine of the key-rate scan.
    n_alpha : int
        Points of the alpha scan for the peak (dimensionless count).

    Returns
    -------
    dict
        ``t0_s`` (s), ``peak_t0_zero`` (bit/s), ``alpha_t0_zero``, ``travel_time_s`` (s),
        ``calibrated`` (bool) and ``note`` (str).

    Examples
    --------
    Over 10 km the light travels L / c_f = 10 km / (2e8 m/s) = 50 us; a calibrated t0
    exceeds it (only then does t0 lower the rate):

    >>> c = calibrate_t0(n_alpha=20)
    >>> round(c["travel_time_s"], 12), c["calibrated"] == (c["t0_s"] > c["travel_time_s"])
    (5e-05, True)
    """
    panel = next(p for p in PANELS if p.name == "fig4a")
    f = dict(panel_fields(panel), t0_s=0.0)
    a0, k0 = peak_key_rate(0, alpha_max=panel.alpha_max, n_scan=n_alpha, engine=engine,
                           length_km=LENGTH_FIG4_KM, **f)
    T = float(travel_time_s(LENGTH_FIG4_KM))
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


def _finite(v):
    v = float(v)
    return v if math.isfinite(v) else None


# -- post-processing steps ------------------------------------------------------------------
def _S5_run(panel, ds, fields, ctx):
    return {f"{panel.name}_S_5km_l{l}": (
        _finite(ds["S"].sel(loss_order=l, length_km=LENGTH_THRESHOLD_KM)),
        f"S of l = {l} at L = 5 km, R_eg = {panel.rate_hz:g} Hz ({panel.title.split(':')[0]}; "
        "none: rate unreachable)") for l in panel.loss_orders}


S_AT_5KM = Post(lambda p: tuple(f"{p.name}_S_5km_l{l}" for l in p.loss_orders), _S5_run)


def _alpha5_run(panel, ds, fields, ctx):
    return {f"{panel.name}_alpha_5km_l{l}": (
        _finite(ds["alpha"].sel(loss_order=l, length_km=LENGTH_THRESHOLD_KM)),
        f"|alpha| at which l = {l} reaches {panel.rate_hz:g} Hz at 5 km")
        for l in panel.loss_orders}


ALPHA_AT_5KM = Post(lambda p: tuple(f"{p.name}_alpha_5km_l{l}" for l in p.loss_orders),
                    _alpha5_run)


def crossing_lengths(panel: Panel, ds, engine: str, n_scan: int, tol_km: float = 1e-3,
                     fields: dict | None = None):
    """Lengths where two codes' S(L) curves cross (Brent between grid sign changes).

    Parameters
    ----------
    panel : Panel
        A "length" panel.
    ds : xarray.Dataset
        Its curves: ``S`` over ``loss_order`` and ``length_km`` [km].
    engine : {"coherent", "fock"}
        Engine of the refining solves.
    n_scan : int
        Points of the rate solve's alpha scan.
    tol_km : float
        Tolerance of each crossing [km].
    fields : dict, optional
        The panel's fields (default :func:`panel_fields`).

    Returns
    -------
    dict
        ``{(la, lb): [L1, ...]}``: crossing lengths [km] for every pair la > lb of the
        panel's loss orders (empty where the curves do not cross on the grid).

    Examples
    --------
    Curves ordered S_3 > S_1 > S_0 at every length do not cross:

    >>> import numpy as np, xarray as xr
    >>> fig2a = next(p for p in PANELS if p.name == "fig2a")
    >>> S = np.array([[2.6, 2.5], [2.7, 2.6], [2.8, 2.7]])
    >>> ds = xr.Dataset({"S": (("loss_order", "length_km"), S)},
    ...                 coords={"loss_order": [0, 1, 3], "length_km": [1.0, 2.0]})
    >>> crossing_lengths(fig2a, ds, "coherent", 8)
    {(3, 1): [], (3, 0): [], (1, 0): []}
    """
    f = panel_fields(panel) if fields is None else fields
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


def _pairs(p):
    o = sorted(p.loss_orders, reverse=True)
    return [(a, b) for i, a in enumerate(o) for b in o[i + 1:]]


def _cross_run(panel, ds, fields, ctx):
    res = {}
    found = crossing_lengths(panel, ds, ctx.engine, ctx.grids["n_scan"],
                             ctx.grids["length_tol_km"], fields)
    for (la, lb), roots in found.items():
        res[f"{panel.name}_crossing_km_l{la}_l{lb}"] = (
            roots[0] if roots else None,
            (f"first L where S_{la}(L) = S_{lb}(L): " + ", ".join(f"{r:.4g}" for r in roots)
             + " km") if roots else f"S_{la} and S_{lb} do not cross on the plotted range")
    first = min((r[0] for r in found.values() if r), default=None)
    end = float(ds["length_km"].values[-1])
    res[f"{panel.name}_order_holds_to_km"] = (
        first if first is not None else end,
        "S_3 > S_1 > S_0 holds from the shortest length up to here (the first crossing)"
        if first is not None else "the order S_3 > S_1 > S_0 holds on the whole plotted range")
    return res


CROSSINGS = Post(lambda p: tuple(f"{p.name}_crossing_km_l{a}_l{b}" for a, b in _pairs(p))
                 + (f"{p.name}_order_holds_to_km",), _cross_run)


def _memory_run(panel, ds, fields, ctx):
    d = ds["S"].sel(loss_order=1).values - ds["S"].sel(loss_order=0).values
    tc = ds["t_c_s"].values
    L = panel.length_km[0]
    kw = dict(engine=ctx.engine, alpha_max=panel.alpha_max, n_scan=ctx.grids["n_scan"],
              length_km=L)
    s_inf = float(solve_at_rate(0, panel.rate_hz, **kw, **dict(fields, t_c_s=math.inf))["S"])
    target = s_inf - S_SATURATION_GAP

    def gap(log_tc):
        return float(solve_at_rate(0, panel.rate_hz, **kw,
                                   **dict(fields, t_c_s=10.0 ** log_tc))["S"]) - target

    S0 = ds["S"].sel(loss_order=0).values
    above = np.nonzero(np.isfinite(S0) & (S0 >= target))[0]
    sat = None
    if above.size and above[0] > 0:
        i = above[0]
        sat = 10.0 ** brentq(gap, math.log10(tc[i - 1]), math.log10(tc[i]), xtol=1e-6)
    return {
        f"{panel.name}_max_abs_S_l1_minus_l0": (
            _finite(np.nanmax(np.abs(d))),
            f"largest |S_1 - S_0| over t_c in [{tc[0]:g}, {tc[-1]:g}] s at {L:g} km"),
        f"{panel.name}_tc_saturation_s_l0": (
            sat, f"smallest t_c with S_0 >= S_0(t_c = inf) - {S_SATURATION_GAP:g} = "
                 f"{target:.5f} at {L:g} km (where S saturates)"),
    }


MEMORY = Post(lambda p: (f"{p.name}_max_abs_S_l1_minus_l0", f"{p.name}_tc_saturation_s_l0"),
              _memory_run)


def _maxlen_run(panel, ds, fields, ctx):
    res, best = {}, None
    kw = dict(rate_hz=panel.rate_hz, engine=ctx.engine, alpha_max=panel.alpha_max,
              n_scan=ctx.grids["n_scan"], tol_km=ctx.grids["length_tol_km"], **fields)
    for l in panel.loss_orders:
        sel = ds.sel(loss_order=l)
        v, note = max_length_above(l, S_LEVEL, sel["length_km"].values,
                                   sel["S"].values, **kw)
        res[f"{panel.name}_max_km_S_above_2.01_l{l}"] = (v, note)
        if v is not None and (best is None or v > best[0]):
            best = (v, l)
    res[f"{panel.name}_max_km_S_above_2.01"] = (
        None if best is None else best[0],
        "no code reaches S >= 2.01" if best is None
        else f"best code l = {best[1]}; max over l = " + ", ".join(map(str, panel.loss_orders)))
    S80 = solve_at_rate(0, panel.rate_hz, engine=ctx.engine, alpha_max=panel.alpha_max,
                        n_scan=ctx.grids["n_scan"], length_km=80.0, **fields)["S"]
    res[f"{panel.name}_S_80km_l0"] = (
        _finite(S80), "S of l = 0 at 80 km: S > 2 holds at every length where the rate is "
                      "reachable (S only approaches 2), so the paper's 'S > 2 up to nearly 80 km' "
                      "is read as S >= 2.01")
    return res


MAX_LENGTH = Post(lambda p: tuple(f"{p.name}_max_km_S_above_2.01_l{l}" for l in p.loss_orders)
                  + (f"{p.name}_max_km_S_above_2.01", f"{p.name}_S_80km_l0"),
                  _maxlen_run)


def _peaks_run(panel, ds, fields, ctx):
    res = {}
    for i, l in enumerate(panel.loss_orders):
        k, a = float(ds["peak_key_rate"].values[i]), float(ds["peak_alpha"].values[i])
        res[f"{panel.name}_peak_l{l}"] = (
            k, f"peak key rate of l = {l} at {panel.length_km[0]:g} km, t0 = "
               f"{float(ds.attrs['t0_s']) * 1e6:.3f} us (bit/s)")
        res[f"{panel.name}_peak_l{l}_alpha"] = (
            _finite(a), f"|alpha| of the l = {l} peak (none: no key at any alpha)")
    return res


PEAKS = Post(lambda p: tuple(k for l in p.loss_orders
                             for k in (f"{p.name}_peak_l{l}", f"{p.name}_peak_l{l}_alpha")),
             _peaks_run)

_TUB = {"usd": "tub"}
_FIG3 = dict(loss_orders=(0, 1, 3), posts=(S_AT_5KM,))
_LIN = dict(loss_orders=(0, 1), posts=(S_AT_5KM,), reference=_TUB)
_KEY = dict(kind="key", loss_orders=(0, 1), length_km=(LENGTH_FIG4_KM,),
            alpha_max=ALPHA_MAX_FIG4,
            points=(200, 40), posts=(PEAKS,))

PANELS = (
    Panel("fig2a", "length", "Fig. 2(a): channel loss only, $R_\\mathrm{eg}$ = 3000 Hz",
          CLAIMS["C1"][1], (0, 1, 3), ("repro-base",), length_km=(0.25, 20.0),
          points=(80, 8), posts=(S_AT_5KM, ALPHA_AT_5KM, CROSSINGS)),
    Panel("fig2b", "memory", "Fig. 2(b): $L$ = 5 km, $R_\\mathrm{eg}$ = 3000 Hz",
          CLAIMS["C2"][1], (0, 1),
          ("repro-base",), length_km=(LENGTH_THRESHOLD_KM,), log_x=True, points=(80, 8),
          posts=(MEMORY,)),
    Panel("fig3a", "length", "Fig. 3(a): $\\eta_\\mathrm{int}$ = 0.91", CLAIMS["C3"][1],
          presets=("repro-fig3a",), **_FIG3),
    Panel("fig3b", "length", "Fig. 3(b): $\\eta_c$ = 0.67", CLAIMS["C4"][1],
          presets=("repro-fig3b",), **_FIG3),
    Panel("fig3c", "length", "Fig. 3(c): linear-optics USD, $\\eta_d$ = 1", CLAIMS["C5"][1],
          presets=("repro-fig3c",), **_LIN),
    Panel("fig3d", "length", "Fig. 3(d): $\\eta_\\mathrm{int}$ = 0.87", CLAIMS["C3"][1],
          presets=("repro-fig3d",), **_FIG3),
    Panel("fig3e", "length", "Fig. 3(e): $\\eta_c$ = 0.62", CLAIMS["C4"][1],
          presets=("repro-fig3e",), **_FIG3),
    Panel("fig3f", "length", "Fig. 3(f): linear-optics USD, $\\eta_d$ = 0.5", CLAIMS["C6"][1],
          presets=("repro-fig3f",), **_LIN),
    Panel("fig3g", "length", "Fig. 3(g): Table I, $R_\\mathrm{eg}$ = 3 Hz, ideal memory",
          CLAIMS["C7"][1], (0, 1, 3),
          ("repro-fig3g",), rate_hz=RATE_FIG3G_HZ, length_km=(0.1, LENGTH_MAX_FIG3G_KM),
          log_x=True, alpha_max=ALPHA_MAX_FIG3G, points=(90, 10), refine=(40.0, 110.0, 50),
          posts=(S_AT_5KM, MAX_LENGTH),
          ref_lines=((2.0, "$S = 2$ (local bound)", "0.4", ":"),
                     (2 * math.sqrt(2), r"$S = 2\sqrt{2}$", "0.4", "--"),
                     (S_LEVEL, f"$S = {S_LEVEL:g}$", "tab:red", "-."))),
    Panel(name="fig4a", title="Fig. 4(a): channel loss only, $L$ = 10 km",
          statement=CLAIMS["C8"][1],
          presets=("repro-fig4a",), **_KEY),
    Panel(name="fig4b", title="Fig. 4(b): Table I, $L$ = 10 km",
          statement=CLAIMS["C9"][1], presets=("repro-fig4b",),
          **_KEY),
    Panel(name="fig4c", title="Fig. 4(c): Table I with $\\eta_\\mathrm{uc}$ = 0.2, $L$ = 10 km",
          statement=CLAIMS["C10"][1], presets=("repro-fig4c",), **_KEY),
)


# -- figures ------------------------------------------------------------------------------
_COLOURS = {0: "tab:blue", 1: "tab:orange", 3: "tab:green"}
_USD_NAME = {"tub": "TUB USD", "linear": "linear-optics USD"}


def _usd_dec(fields):
    return _USD_NAME[fields.get("usd", "tub")], fields.get("decoder", "smallest-loss")


def _legend_title(field_sets):
    """The USD and decoder every curve shares (the legend title), or None for either."""
    usds = {_usd_dec(f)[0] for f in field_sets}
    decs = {_usd_dec(f)[1] for f in field_sets}
    usd = usds.pop() if len(usds) == 1 else None
    dec = decs.pop() if len(decs) == 1 else None
    return usd, dec


def _label(l, fields, shared=(None, None)):
    """``$l = 1$`` plus the USD and decoder unless the legend title names them."""
    usd, dec = _usd_dec(fields)
    lab = f"$l = {l}$"
    if shared[0] is None:
        lab += f", {usd}"
    if shared[1] is None:
        lab += f", {dec} decoder"
    return lab


def _title_text(shared):
    parts = []
    if shared[0] is not None:
        parts.append(f"USD: {shared[0].removesuffix(' USD')}")
    if shared[1] is not None:
        parts.append(f"decoder: {shared[1]}")
    return " \u00b7 ".join(parts) or None


#: a key-rate curve whose peak is below this fraction of the panel's highest peak gets an
#: inset on its own scale (on the shared linear axis it would be a flat line at zero)
INSET_BELOW = 0.05


#: offsets (points) tried in turn for a stop label, from its cross: up and to the left
#: first, then up and to the right, then higher; a negative x puts the label left of it
_STOP_LABEL_OFFSETS = ((-10, 18), (10, 18), (-10, 31), (10, 31), (0, 44), (-10, 57),
                       (10, 57), (0, 70))


def _mark_stops(ax, stops):
    """Label each curve's stop cross with its code, offset upwards, so a cross that sits on
    another curve (Fig. 3(g): l = 1 stops where l = 0 drops) reads as its own. Returns the
    labels; :func:`_free_stop_labels` then moves each where it covers no curve."""
    notes = []
    for k, (x, y, l) in enumerate(sorted(stops)):
        dx, dy = _STOP_LABEL_OFFSETS[0]
        notes.append(ax.annotate(
            f"$l = {l}$ stops", xy=(x, y), xytext=(dx, dy + 13 * k),
            textcoords="offset points", ha="right", va="bottom", fontsize=7,
            color=_COLOURS.get(l, "k"), zorder=6,
            bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85),
            arrowprops=dict(arrowstyle="-", color=_COLOURS.get(l, "k"), lw=0.7)))
    return notes


def _curve_paths(ax):
    """Every drawn line of ``ax`` (curves and reference lines, not the marker-only crosses)
    in display coordinates: one (n, 2) array per run of finite points."""
    paths = []
    for line in ax.lines:
        if line.get_linestyle() in ("None", "", " ") or len(line.get_xdata()) < 2:
            continue
        xy = np.column_stack([np.asarray(line.get_xdata(), dtype=float),
                              np.asarray(line.get_ydata(), dtype=float)])
        ok = np.isfinite(xy).all(axis=1)
        pts = line.get_transform().transform(np.where(ok[:, None], xy, 0.0))
        edges = np.flatnonzero(np.diff(np.r_[0, ok.astype(int), 0]))
        for i, j in zip(edges[::2], edges[1::2], strict=True):
            if j - i >= 2:
                paths.append(pts[i:j])
    return paths


def _free_stop_labels(fig, ax, notes):
    """Move each stop label to the first offset of :data:`_STOP_LABEL_OFFSETS` where its box
    covers no line and no other label and stays inside the axes (Fig. 3(g): the l = 3
    label's box, up and to the left of its cross at 26 km, cut the l = 1 curve near
    11 km). The layout is solved first, at the 72 dpi of the PDF whose layout both files
    keep (:func:`catbell_qutip._figures.save_png_pdf`), so the test uses the axes' final
    place."""
    if not notes:
        return
    dpi = fig.dpi
    fig.set_dpi(72)
    try:
        _place_stop_labels(fig, ax, notes)
    finally:
        fig.set_dpi(dpi)


def _place_stop_labels(fig, ax, notes):
    from matplotlib.path import Path as MplPath
    from matplotlib.text import Text

    fig.get_layout_engine().execute(fig)
    renderer = fig.canvas.get_renderer()
    paths = [MplPath(p) for p in _curve_paths(ax)]
    frame = ax.get_window_extent(renderer)
    pad = 2.0 * fig.dpi / 72.0  # the white box around the text (pad 0.15 em) and a margin
    taken = []
    for note in notes:
        for dx, dy in _STOP_LABEL_OFFSETS:
            note.set_position((dx, dy))
            note.set_horizontalalignment("right" if dx < 0 else "left" if dx > 0 else "center")
            box = Text.get_window_extent(note, renderer).padded(pad)
            inside = (frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0
                      and box.y1 <= frame.y1)
            if inside and not any(p.intersects_bbox(box, filled=False) for p in paths) \
                    and not any(box.overlaps(t) for t in taken):
                break
        else:  # no free place: back to the first, staggered as before
            note.set_position((_STOP_LABEL_OFFSETS[0][0],
                               _STOP_LABEL_OFFSETS[0][1] + 13 * len(taken)))
            note.set_horizontalalignment("right")
            box = Text.get_window_extent(note, renderer).padded(pad)
        taken.append(box)


def _small_curve_inset(ax, ds, panel, fields, shared):
    """An inset with the key-rate curves whose peak is below :data:`INSET_BELOW` of the
    highest one, on their own linear scale (Fig. 4(b): l = 1 peaks at 0.27 bit/s beside
    26 bit/s). Returns the codes shown in it."""
    peaks = {l: float(ds["peak_key_rate"].values[i]) for i, l in enumerate(panel.loss_orders)}
    top = max(peaks.values())
    small = [l for l, k in peaks.items() if 0 < k < INSET_BELOW * top]
    if not small:
        return []
    ins = ax.inset_axes([0.5, 0.42, 0.47, 0.5])
    for l in small:
        sel = ds.sel(loss_order=l)
        ins.plot(sel["alpha"].values, sel["key_rate"].values, color=_COLOURS.get(l), lw=1.2)
        i = panel.loss_orders.index(l)
        ins.plot([float(ds["peak_alpha"].values[i])], [peaks[l]], "o",
                 color=_COLOURS.get(l), ms=3)
    ins.set_ylim(0, 1.15 * max(peaks[l] for l in small))
    ins.set_xlim(ax.get_xlim())
    ins.tick_params(labelsize=6.5)
    ins.set_xlabel(r"$|\alpha|$", fontsize=6.5, labelpad=1)
    ins.set_ylabel(r"$K$ (bit/s)", fontsize=6.5, labelpad=1)
    ins.set_title("zoom: " + ", ".join(f"$l = {l}$" for l in small) + " on its own scale",
                  fontsize=6.5, pad=2)
    ins.grid(alpha=0.3)
    return small


def plot_panel(ds, panel: Panel, fields: dict, out) -> None:
    """PNG (300 dpi) and PDF of one panel: every curve labelled with its code, USD and
    decoder (in the legend title where all curves share them), a cross labelled with its
    code where a curve stops because the rate is unreachable, the peaks of key panels and
    an inset for a key-rate curve too small for the shared axis; the legend below the
    axes, in columns, so the data get the figure's width.

    Parameters
    ----------
    ds : xarray.Dataset
        The panel's curves, as :func:`catbell_qutip.reproduce.reproduce` computes them.
    panel : Panel
        The panel drawn.
    fields : dict
        Its fields (:func:`panel_fields`), for labels and reference curves.
    out : pathlib.Path
        Output folder: ``<panel.name>.png`` and ``<panel.name>.pdf`` are written there.

    Returns
    -------
    None
        The figures are written to ``out``.

    Examples
    --------
    :func:`catbell_qutip.reproduce.reproduce` computes every panel and draws each with this
    function (tens of seconds, so not run here); every panel gives a PNG and a PDF:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from catbell_qutip.reproduce import reproduce  # doctest: +SKIP
    >>> out = Path(tempfile.mkdtemp())  # doctest: +SKIP
    >>> _ = reproduce(out, quick=True, progress=False)  # doctest: +SKIP
    >>> sorted(p.name for p in out.glob("fig2b.*"))  # doctest: +SKIP
    ['fig2b.csv', 'fig2b.nc', 'fig2b.pdf', 'fig2b.png']
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(6.4, 4.6), layout="constrained")
    if panel.kind in ("length", "memory"):
        x = "length_km" if panel.kind == "length" else "t_c_s"
        curves = [("S", "-", fields)]
        if panel.reference:
            curves.append(("S_reference", "--", dict(fields, **panel.reference)))
        shared = _legend_title([f for _, _, f in curves])
        curve_handles, stops = [], []
        for var, ls, f in curves:
            for l in panel.loss_orders:
                sel = ds.sel(loss_order=l)
                xs, ys = sel[x].values, sel[var].values
                lab = _label(l, f, shared)
                if var != "S" and np.nanmax(np.abs(ys - sel["S"].values)) < 1e-9:
                    lab += " (hidden: equals the solid)"
                (h,) = ax.plot(xs, ys, color=_COLOURS.get(l), lw=1.5, ls=ls, label=lab)
                curve_handles.append(h)
                ok = np.isfinite(ys)
                for i in np.nonzero(ok[:-1] & ~ok[1:])[0]:
                    # the curve's colour with a black edge, drawn above every curve
                    ax.plot([xs[i]], [ys[i]], "X", color=_COLOURS.get(l), mec="k", mew=0.8,
                            ms=9, zorder=5)
                    stops.append((float(xs[i]), float(ys[i]), l))
        notes = _mark_stops(ax, stops)
        ref_handles = [ax.axhline(y, color=colour, lw=0.8, ls=ls, label=lab)
                       for y, lab, colour, ls in panel.ref_lines]
        handles = curve_handles
        if stops:
            where = "$L$" if x == "length_km" else "$t_c$"
            handles = handles + [Line2D([], [], ls="", marker="X", color="k", ms=7,
                                        label=f"rate unreachable beyond this {where}")]
        handles = handles + ref_handles
        ax.set_xlabel(r"fibre length $L$ (km)" if x == "length_km"
                      else r"memory coherence time $t_c$ (s)")
        ax.set_ylabel(r"CHSH value $S$")
        ax.set_ylim(*panel.ylim)
        if panel.log_x:
            ax.set_xscale("log")
    else:
        shared = _legend_title([fields])
        handles = []
        for i, l in enumerate(panel.loss_orders):
            sel = ds.sel(loss_order=l)
            (h,) = ax.plot(sel["alpha"].values, sel["key_rate"].values, color=_COLOURS.get(l),
                           lw=1.5, label=_label(l, fields, shared))
            handles.append(h)
            k, a = float(ds["peak_key_rate"].values[i]), float(ds["peak_alpha"].values[i])
            if k > 0:
                (h,) = ax.plot([a], [k], "o", color=_COLOURS.get(l), ms=4,
                               label=f"$l = {l}$ peak: {k:.4g} bit/s at $|\\alpha| = {a:.3g}$")
                handles.append(h)
        ax.set_xlabel(r"coherent amplitude $|\alpha|$")
        ax.set_ylabel(r"secret key rate $K$ (bit/s)")
        ax.set_ylim(bottom=0)
        _small_curve_inset(ax, ds, panel, fields, shared)
    title = panel.title
    if panel.kind == "key":
        title += f", $t_0$ = {float(ds.attrs['t0_s']) * 1e6:.2f} $\\mu$s"
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.legend(handles=handles, fontsize=7, loc="outside lower center", ncol=2,
               title=_title_text(shared), title_fontsize=7, frameon=False)
    if panel.kind != "key":
        _free_stop_labels(fig, ax, notes)
    save_png_pdf(fig, Path(out) / panel.name)  # laid out once, for the PDF
    plt.close(fig)
