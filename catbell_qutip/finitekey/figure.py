"""Figures and data of ``catbell finite-key --out`` (docs/finite-key.md).

- ``key_vs_rounds.png``/``.pdf``: key per heralded round against the number of rounds n
  (log axis) for l = 0 and 1 at the paper's Fig. 4 points (panels 4(a)-(c), 10 km, the
  amplitude of the peak asymptotic key rate), each with its asymptotic rate
  1 - h(Q) - chi(S) as a dashed line and a marker where the key starts (the smallest n with
  a key); data ``key_vs_rounds.nc``/``.csv``.
- ``run_time_vs_distance.png``/``.pdf``: the shortest run to a first key, min_rounds / R_eg,
  against fibre length, same panels and codes (amplitude key-optimal at every length), a
  cross where a curve stops (no key beyond); data ``run_time_vs_distance.nc``/``.csv``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import xarray as xr

from .._checks import ParameterError, check_choice, check_count, check_real
from .._figures import label_line_clear
from ..outputs import write_data_files
from .bound import EPS_SOUND, check_bound_options, min_rounds
from .simulator import FIG4_PANELS, fig4_points, key_vs_rounds, run_time_vs_distance

__all__ = ["ROUNDS_RANGE", "LENGTH_MAX_KM", "MAX_CURVE_POINTS", "LENGTH_LIMIT_KM",
           "write_outputs", "check_output_options", "key_vs_rounds_dataset",
           "run_time_dataset", "plot_key_vs_rounds", "plot_run_time"]

#: decades of n of the key-vs-rounds curves (log10 of the first and last n)
ROUNDS_RANGE = (4.0, 12.0)
#: largest fibre length of the run-time figure, km
LENGTH_MAX_KM = 60.0
#: most points of a curve (``num_rounds``, ``num_lengths``) :func:`write_outputs` computes
MAX_CURVE_POINTS = 400
#: largest ``length_max_km`` accepted, km (far past any key: the figure would be empty)
LENGTH_LIMIT_KM = 1e4

_COLOURS = {0: "tab:blue", 1: "tab:orange"}
#: reference times of the run-time figure, s -> label
_TIME_MARKS = {60.0: "1 min", 3600.0: "1 h", 86400.0: "1 day"}
_TITLES = {"fig4a": "Fig. 4(a) point: channel loss only",
           "fig4b": "Fig. 4(b) point: Table I",
           "fig4c": r"Fig. 4(c) point: Table I, $\eta_\mathrm{uc}$ = 0.2"}


def key_vs_rounds_dataset(points, rounds, *, progress=None, **options) -> xr.Dataset:
    """Key per round against n for every Fig. 4 point (dims ``point`` x ``rounds``).

    Parameters
    ----------
    points : list of dict
        Operating points of :func:`~catbell_qutip.finitekey.simulator.fig4_points`.
    rounds : array_like
        Numbers of heralded rounds n (dimensionless), ascending.
    progress : callable, optional
        Called once per point.
    **options
        Arguments of :func:`~catbell_qutip.finitekey.bound.finite_key`.

    Returns
    -------
    xarray.Dataset
        ``key_per_round`` (bit), ``key_length_bits`` (bit), ``gamma`` (1) on
        (point, rounds); ``min_rounds``, ``alpha``, ``S``, ``Q``, ``R_eg_hz`` (Hz) and
        ``asymptotic_key_per_round`` (bit) per point. NaN where a point has no key.

    Examples
    --------
    A point without key (no S) gives NaN rows of the right shape, at no cost:

    >>> point = dict(panel="fig4a", loss_order=0, alpha=None, S=None, Q=None, R_eg_hz=None,
    ...              asymptotic_key_per_round=0.0)
    >>> ds = key_vs_rounds_dataset([point], [1e6, 1e8])
    >>> ds.key_per_round.dims, bool(ds.key_per_round.isnull().all())
    (('point', 'rounds'), True)
    """
    rounds = np.asarray(rounds, dtype=float)
    P = len(points)
    kpr = np.full((P, rounds.size), np.nan)
    bits = np.full((P, rounds.size), np.nan)
    gam = np.full((P, rounds.size), np.nan)
    n_min = np.full(P, np.nan)
    for i, p in enumerate(points):
        if p["S"] is not None and p["asymptotic_key_per_round"] > 0:
            c = key_vs_rounds(p["S"], p["Q"], rounds, **options)
            kpr[i], bits[i], gam[i] = c["key_per_round"], c["key_length_bits"], c["gamma"]
            has = c["key_per_round"] > 0
            guess = float(c["rounds"][np.argmax(has)]) if has.any() else None
            n = min_rounds(p["S"], p["Q"], rtol=1e-3, n_guess=guess, **options)
            n_min[i] = np.nan if n is None else n
        if progress is not None:
            progress()

    def col(key):
        return np.array([np.nan if p[key] is None else p[key] for p in points], dtype=float)

    return xr.Dataset(
        {"key_per_round": (("point", "rounds"), kpr,
                           {"units": "bit", "long_name": "secure key per heralded round"}),
         "key_length_bits": (("point", "rounds"), bits, {"units": "bit"}),
         "gamma": (("point", "rounds"), gam,
                   {"units": "1", "long_name": "optimal test-round probability"}),
         "min_rounds": ("point", n_min,
                        {"units": "1", "long_name": "smallest n with a key (1e-3 relative)"}),
         "alpha": ("point", col("alpha"), {"units": "1", "long_name": "key-optimal |alpha|"}),
         "S": ("point", col("S"), {"units": "1"}),
         "Q": ("point", col("Q"), {"units": "1"}),
         "R_eg_hz": ("point", col("R_eg_hz"), {"units": "Hz"}),
         "asymptotic_key_per_round": ("point", col("asymptotic_key_per_round"),
                                      {"units": "bit", "long_name": "1 - h(Q) - chi(S)"})},
        coords={"rounds": ("rounds", rounds, {"units": "1"}),
                "panel": ("point", [p["panel"] for p in points]),
                "loss_order": ("point", [p["loss_order"] for p in points])},
        attrs={"title": "finite-size key per round vs rounds at the Fig. 4 points",
               "length_km": 10.0})


def run_time_dataset(lengths, loss_orders=(0, 1), *, panels=FIG4_PANELS, engine="coherent",
                     progress=None, **options) -> xr.Dataset:
    """Shortest run to a first key against length (dims ``panel`` x ``loss_order`` x ``length_km``).

    Parameters
    ----------
    lengths : array_like
        Fibre lengths L in km (> 0).
    loss_orders : sequence of int, optional
        Codes l (default (0, 1)).
    panels : sequence of str, optional
        Names out of :data:`~catbell_qutip.finitekey.simulator.FIG4_PANELS` (default all).
    engine : {"coherent", "fock"}, optional
        Simulation engine.
    progress : callable, optional
        Called once per length.
    **options
        Arguments of :func:`~catbell_qutip.finitekey.bound.finite_key`.

    Returns
    -------
    xarray.Dataset
        ``alpha``, ``S``, ``Q`` (1), ``R_eg_hz`` (Hz), ``min_rounds`` (1) and
        ``run_time_s`` (s), NaN where there is no key.

    Examples
    --------
    Not run in the doctests (each length needs a key-rate peak and a minimal-rounds
    search: seconds); the dimensions:

    >>> ds = run_time_dataset([10.0], loss_orders=(0,), panels=("fig4c",))  # doctest: +SKIP
    >>> dict(ds.sizes)  # doctest: +SKIP
    {'panel': 1, 'loss_order': 1, 'length_km': 1}
    """
    lengths = np.asarray(lengths, dtype=float)
    names = ("alpha", "S", "Q", "R_eg_hz", "min_rounds", "run_time_s")
    data = {k: np.full((len(panels), len(loss_orders), lengths.size), np.nan)
            for k in names}
    for i, pn in enumerate(panels):
        for j, l in enumerate(loss_orders):
            r = run_time_vs_distance(pn, l, lengths, engine=engine, progress=progress,
                                     rtol=1e-2, **options)
            for k in names:
                data[k][i, j] = r[k]
    units = {"alpha": "1", "S": "1", "Q": "1", "R_eg_hz": "Hz", "min_rounds": "1",
             "run_time_s": "s"}
    dims = ("panel", "loss_order", "length_km")
    return xr.Dataset({k: (dims, v, {"units": units[k]}) for k, v in data.items()},
                      coords={"panel": list(panels), "loss_order": list(loss_orders),
                              "length_km": ("length_km", lengths, {"units": "km"})},
                      attrs={"title": "shortest run to a first key vs fibre length "
                                      "(min_rounds to 1e-2 relative)"})


def _axes(n):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), sharey=False)
    return plt, fig, np.atleast_1d(axes)


def plot_key_vs_rounds(ds: xr.Dataset, stem) -> list[Path]:
    """key_vs_rounds.png (300 dpi) and .pdf from :func:`key_vs_rounds_dataset`.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`key_vs_rounds_dataset`.
    stem : str or path-like
        Path without suffix; ``.png`` and ``.pdf`` are added.

    Returns
    -------
    list of pathlib.Path
        The PNG and PDF written.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> point = dict(panel="fig4a", loss_order=0, alpha=None, S=None, Q=None, R_eg_hz=None,
    ...              asymptotic_key_per_round=0.0)
    >>> ds = key_vs_rounds_dataset([point], [1e6, 1e8])
    >>> with tempfile.TemporaryDirectory() as d:  # doctest: +SKIP
    ...     [p.name for p in plot_key_vs_rounds(ds, pathlib.Path(d) / "key_vs_rounds")]
    ['key_vs_rounds.png', 'key_vs_rounds.pdf']
    """
    panels = list(dict.fromkeys(ds["panel"].values.tolist()))
    plt, fig, axes = _axes(len(panels))
    n = ds["rounds"].values
    for ax, pn in zip(axes, panels, strict=True):
        for i in np.nonzero(ds["panel"].values == pn)[0]:
            l = int(ds["loss_order"].values[i])
            c = _COLOURS.get(l, "k")
            asym = float(ds["asymptotic_key_per_round"].values[i])
            y = ds["key_per_round"].values[i]
            if not np.isfinite(asym) or asym <= 0:
                ax.plot([], [], color=c, label=f"$l$ = {l}: no key at any $n$")
                continue
            S, Q = float(ds["S"].values[i]), float(ds["Q"].values[i])
            ok = np.isfinite(y) & (y > 0)
            nm = float(ds["min_rounds"].values[i])
            xs, ys = n[ok], y[ok]
            if math.isfinite(nm):  # the curve starts at the first key (key 0 there)
                xs, ys = np.r_[nm, xs], np.r_[0.0, ys]
            q = "0" if Q < 1e-12 else f"{Q:.2g}"
            ax.plot(xs, ys, color=c, lw=1.6, label=f"$l$ = {l} ($S$ = {S:.3f}, $Q$ = {q})")
            ax.axhline(asym, color=c, ls="--", lw=1.0,
                       label=f"$l$ = {l}: $1 - h(Q) - \\chi(S)$ = {asym:.3f}")
            if math.isfinite(nm):
                ax.plot([nm], [0.0], marker="o", color=c, ms=6, ls="none",
                        label=f"$l$ = {l}: first key at $n$ = {nm:.3g}")
        ax.set_xscale("log")
        ax.set_xlim(n[0], n[-1])
        ax.set_ylim(bottom=0.0)
        ax.set_xlabel("heralded rounds $n$")
        ax.set_ylabel("secure key per round (bit)")
        ax.set_title(_TITLES[pn], fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=6.5, loc="lower right")
    fig.suptitle(r"Finite-size DI-QKD key, $L$ = 10 km, $\varepsilon_\mathrm{sound}$ = "
                 f"{_eps(ds, 'eps_sound')}, key-optimal $|\\alpha|$", fontsize=10)
    return _save(plt, fig, stem)


def plot_run_time(ds: xr.Dataset, stem) -> list[Path]:
    """run_time_vs_distance.png (300 dpi) and .pdf from :func:`run_time_dataset`.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`run_time_dataset`.
    stem : str or path-like
        Path without suffix; ``.png`` and ``.pdf`` are added.

    Returns
    -------
    list of pathlib.Path
        The PNG and PDF written.

    Examples
    --------
    Not run in the doctests (a 300 dpi figure takes about a second to write);
    ``catbell finite-key`` draws it from a computed dataset:

    >>> ds = run_time_dataset([5.0, 10.0], panels=("fig4c",))  # doctest: +SKIP
    >>> [p.suffix for p in plot_run_time(ds, "run_time_vs_distance")]  # doctest: +SKIP
    ['.png', '.pdf']
    """
    panels = ds["panel"].values.tolist()
    plt, fig, axes = _axes(len(panels))
    L = ds["length_km"].values
    marks = {}
    for ax, pn in zip(axes, panels, strict=True):
        for l in ds["loss_order"].values:
            c = _COLOURS.get(int(l), "k")
            y = ds["run_time_s"].sel(panel=pn, loss_order=l).values
            ok = np.isfinite(y)
            if not ok.any():
                ax.plot([], [], color=c, label=f"$l$ = {int(l)}: no key")
                continue
            ax.plot(L[ok], y[ok], color=c, marker=".", lw=1.6, label=f"$l$ = {int(l)}")
            last = np.nonzero(ok)[0][-1]
            if last < L.size - 1:  # the curve stops: no key beyond
                ax.plot([L[last]], [y[last]], marker="x", color=c, ms=8, mew=2, ls="none",
                        label=f"$l$ = {int(l)}: no key beyond {L[last]:.3g} km")
        marks[ax] = [(ax.axhline(sec, color="0.6", lw=0.8, ls=":"), sec)
                     for sec in _TIME_MARKS]
        ax.set_yscale("log")
        ax.set_xlabel("fibre length $L$ (km)")
        ax.set_ylabel("time to first secure key (s)")
        ax.set_title(_TITLES[pn], fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Shortest run to a finite-size key: smallest $n$ / $R_\\mathrm{eg}$ "
                 f"(key-optimal $|\\alpha|$), $\\varepsilon_\\mathrm{{sound}}$ = "
                 f"{_eps(ds, 'eps_sound')}", fontsize=10)
    fig.tight_layout()  # the labels are placed where the curves are drawn
    for ax, lines in marks.items():  # each on its line, clear of every curve and legend
        for line, sec in lines:
            label_line_clear(ax, sec, _TIME_MARKS[sec], own=line, fontsize=7, color="0.4")
    return _save(plt, fig, stem)


def _eps(ds, key):
    v = ds.attrs.get(key)
    if v is None:
        return "?"
    e = int(math.floor(math.log10(v)))
    m = v / 10 ** e
    return f"$10^{{{e}}}$" if abs(m - 1) < 1e-9 else f"{m:g}$\\times 10^{{{e}}}$"


def _save(plt, fig, stem) -> list[Path]:
    stem = Path(stem)
    fig.tight_layout()
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=300)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


def _write_data(ds: xr.Dataset, stem: Path) -> list[Path]:
    return write_data_files(ds, stem)


def check_output_options(*, panels=FIG4_PANELS, engine="coherent", num_rounds=41,
                         num_lengths=12, length_max_km=LENGTH_MAX_KM, **options) -> dict:
    """Validate the arguments of :func:`write_outputs` (the same names) before any work;
    return them normalised (``panels`` a tuple without repeats, counts as int).

    Parameters
    ----------
    panels : sequence of str
        Names in :data:`~catbell_qutip.finitekey.simulator.FIG4_PANELS`.
    engine : {"coherent", "fock"}
    num_rounds : int
        Points of n, in [2, :data:`MAX_CURVE_POINTS`] (an integral float is accepted).
    num_lengths : int
        Fibre lengths, in [1, :data:`MAX_CURVE_POINTS`].
    length_max_km : float
        Largest fibre length, km, in (0, :data:`LENGTH_LIMIT_KM`].
    **options
        Options of :func:`~catbell_qutip.finitekey.bound.finite_key`
        (:func:`~catbell_qutip.finitekey.bound.check_bound_options`).

    Returns
    -------
    dict

    Raises
    ------
    catbell_qutip._checks.ParameterError
        For a value outside its range; ``field`` names the argument.

    Examples
    --------
    >>> check_output_options(num_rounds=5.0)["num_rounds"]
    5
    >>> try:
    ...     check_output_options(num_lengths=0)
    ... except ValueError as exc:
    ...     print(exc)
    num_lengths = 0 is outside the allowed range [1, 400]
    """
    panels = tuple(dict.fromkeys(check_choice(p, "panels", FIG4_PANELS) for p in panels))
    if not panels:
        raise ParameterError("panels is empty: give at least one of "
                             f"{', '.join(FIG4_PANELS)}", "panels")
    check_bound_options(**options)
    return {"panels": panels, "engine": check_choice(engine, "engine", ("coherent", "fock")),
            "num_rounds": check_count(num_rounds, "num_rounds", low=2,
                                      high=MAX_CURVE_POINTS, what="a number of points"),
            "num_lengths": check_count(num_lengths, "num_lengths", low=1,
                                       high=MAX_CURVE_POINTS, what="a number of points"),
            "length_max_km": check_real(length_max_km, "length_max_km", low=0.0,
                                        low_open=True, high=LENGTH_LIMIT_KM, unit="km")}


def write_outputs(out, *, panels=FIG4_PANELS, engine="coherent", num_rounds=41,
                  num_lengths=12, length_max_km=LENGTH_MAX_KM, progress=None,
                  **options) -> dict:
    """Compute and write both figures and their data into the folder ``out``.

    Parameters
    ----------
    out : path
        Output folder (created).
    panels : tuple of str
        Which of the paper's Fig. 4 points (default all: fig4a, fig4b, fig4c).
    engine : {"coherent", "fock"}
    num_rounds : int
        Points of n, log-spaced over :data:`ROUNDS_RANGE`, in [2, 400].
    num_lengths : int
        Fibre lengths from length_max_km / num_lengths to length_max_km, in [1, 400].
    length_max_km : float
        Largest fibre length, km, in (0, 1e4].
    progress : callable, optional
        Called after every curve point group (for a progress bar).
    **options
        Arguments of :func:`.bound.finite_key` (``eps_sound``, ...).

    Returns
    -------
    dict
        ``files`` (list of Path), ``points`` (the Fig. 4 points) and the two datasets.

    Examples
    --------
    Not run in the doctests (minutes: what ``catbell finite-key`` runs):

    >>> r = write_outputs("finite-key", num_rounds=5, num_lengths=3)  # doctest: +SKIP
    >>> sorted(p.name for p in r["files"])[:2]  # doctest: +SKIP
    ['key_vs_rounds.csv', 'key_vs_rounds.nc']
    """
    checked = check_output_options(panels=panels, engine=engine, num_rounds=num_rounds,
                                   num_lengths=num_lengths, length_max_km=length_max_km,
                                   **options)
    panels, engine = checked["panels"], checked["engine"]
    num_rounds, num_lengths = checked["num_rounds"], checked["num_lengths"]
    length_max_km = checked["length_max_km"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    points = fig4_points(panels=panels, engine=engine)
    rounds = np.unique(np.round(np.logspace(*ROUNDS_RANGE, num_rounds)))
    attrs = {"eps_sound": options.get("eps_sound", EPS_SOUND), "engine": engine}
    ds_n = key_vs_rounds_dataset(points, rounds, progress=progress, **options)
    ds_n.attrs.update(attrs)
    lengths = np.linspace(length_max_km / num_lengths, length_max_km, num_lengths)
    ds_t = run_time_dataset(lengths, panels=panels, engine=engine, progress=progress,
                            **options)
    ds_t.attrs.update(attrs)
    files = []
    files += plot_key_vs_rounds(ds_n, out / "key_vs_rounds")
    files += _write_data(ds_n, out / "key_vs_rounds")
    files += plot_run_time(ds_t, out / "run_time_vs_distance")
    files += _write_data(ds_t, out / "run_time_vs_distance")
    return {"files": files, "points": points, "key_vs_rounds": ds_n, "run_time": ds_t}
