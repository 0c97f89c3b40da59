"""The figure of a distance scan: key rate with the PLOB bound, and S, against distance.

Draws a :func:`.distance_scan.scan` result down to the reach levels of
:func:`.distance_scan.scan_summary` (docs/repeater.md section 5, "Reach") with the PLOB bound
on its clock (docs/repeater.md section 6).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .distance_scan import KEY_MIN_BIT_S, S_LEVEL
from .plob import plob_clock_text

__all__ = ["plot_scan", "alpha_jumps"]


def alpha_jumps(alpha, ratio: float = 3.0) -> np.ndarray:
    """Grid indices i where the optimal amplitude jumps between L[i] and L[i + 1].

    A jump: the step alpha[i + 1] - alpha[i] has the opposite sign of the step before it and
    is more than ``ratio`` times as large, i.e. the optimum moved to another local maximum of
    the objective over alpha instead of drifting along one (docs/repeater.md, "The notch").

    Parameters
    ----------
    alpha : ndarray, shape (n_lengths,)
        Optimal amplitude along the distance grid (dimensionless; NaN allowed).
    ratio : float
        How many times larger than the step before a reversed step must be (default 3).

    Returns
    -------
    ndarray of int
        The indices i of the jumps (empty when alpha drifts smoothly).

    Examples
    --------
    A smooth drift, then a jump up between L[2] and L[3]:

    >>> import numpy as np
    >>> alpha_jumps(np.array([1.0, 0.98, 0.96, 1.5, 1.48])).tolist()
    [2]
    >>> alpha_jumps(np.array([1.0, 0.9, 0.8])).tolist()
    []
    """
    a = np.asarray(alpha, dtype=float)
    if a.size < 3:
        return np.zeros(0, dtype=int)
    d = np.diff(a)
    prev, step = d[:-1], d[1:]
    hit = (np.sign(prev) * np.sign(step) < 0) & (np.abs(step) > ratio * np.abs(prev))
    return np.nonzero(np.nan_to_num(hit, nan=False))[0] + 1


_SEG_COLOURS = {1: "tab:blue", 2: "tab:orange", 4: "tab:green", 8: "tab:red", 16: "tab:purple"}
_L_STYLES = {0: "-", 1: "--", 3: ":", 7: "-."}
#: hollow markers that tell the codes apart where their curves run within a line width of
#: each other (the single link's S of l = 0 and l = 1 differ by ~0.006 under Table I)
_L_MARKERS = {0: None, 1: "o", 3: "s", 7: "^"}


def plot_scan(ds, path_stem, *, usd: str = "tub", key_min: float = KEY_MIN_BIT_S,
              s_level: float = S_LEVEL, title: str | None = None) -> list:
    """Key rate and S against total distance for every (l, n) of a :func:`scan`.

    Writes ``path_stem``.png (300 dpi) and ``path_stem``.pdf; returns the two paths.
    Key rates are drawn down to ``key_min`` (bit/s) and S down to ``s_level``, the levels
    of :func:`scan_summary`; a marker shows where a curve stops (falls below its level, or
    nothing is reachable any more).

    Parameters
    ----------
    ds : xarray.Dataset
        A :func:`~catbell_qutip.repeater.distance_scan.scan` result.
    path_stem : str or os.PathLike
        Output path without suffix.
    usd : {"tub", "linear"}
        USD named in the title and legend.
    key_min : float
        Lowest key rate drawn [bit/s].
    s_level : float
        Lowest S drawn (dimensionless).
    title : str, optional
        Figure title (default: built from the scan's attributes).

    Returns
    -------
    list of pathlib.Path
        The PNG and PDF written.

    Examples
    --------
    A coarse scan drawn to PNG and PDF (seconds: a 300 dpi figure):

    >>> import tempfile
    >>> import numpy as np
    >>> from catbell_qutip.repeater import scan  # doctest: +SKIP
    >>> ds = scan((0,), np.array([10.0, 50.0]), (1, 2))  # doctest: +SKIP
    >>> [p.suffix for p in plot_scan(ds, tempfile.mkdtemp() + "/scan")]  # doctest: +SKIP
    ['.png', '.pdf']
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    L = ds["length_km"].values
    n_curves = ds.sizes["loss_order"] * ds.sizes["segments"]
    rows = math.ceil((n_curves + 1) / 3)
    fig, (ax_k, ax_s) = plt.subplots(1, 2, figsize=(10.0, 4.0 + 0.22 * rows))
    bottom = (0.6 + 0.22 * rows) / (4.0 + 0.22 * rows)
    fig.subplots_adjust(left=0.075, right=0.985, bottom=bottom, top=0.9, wspace=0.22)
    usd_name = "TUB" if usd == "tub" else "linear-optics"
    any_jump = False
    for l in ds["loss_order"].values:
        for n in ds["segments"].values:
            d = ds.sel(loss_order=l, segments=n)
            colour = _SEG_COLOURS.get(int(n))
            style = _L_STYLES.get(int(l), "-")
            label = f"$n = {int(n)}$, $l = {int(l)}$, {usd_name} USD"
            marks = dict(marker=_L_MARKERS.get(int(l)), markevery=max(L.size // 12, 1), ms=4,
                         mfc="white", mew=1.0)
            K = d["key_rate"].values
            shown = K >= key_min
            ax_k.plot(L, np.where(shown, K, np.nan), style, color=colour, lw=1.3, label=label,
                      **marks)
            pos = np.nonzero(shown)[0]
            if pos.size and pos[-1] < L.size - 1:
                ax_k.plot(L[pos[-1]], K[pos[-1]], "o", color=colour, ms=4)
            S = d["S"].values
            above = np.nan_to_num(S, nan=0.0) >= s_level
            S_shown = np.where(above, S, np.nan)
            # where the optimal alpha jumps to another maximum, S jumps too: break the line
            # there (no V drawn through the jump) and mark the first point after it
            jumps = alpha_jumps(d["alpha"].values)
            xs, ys = L.astype(float), S_shown.copy()
            for i in jumps[::-1]:
                xs = np.insert(xs, i + 1, np.nan)
                ys = np.insert(ys, i + 1, np.nan)
            ax_s.plot(xs, ys, style, color=colour, lw=1.3, **marks)
            for i in jumps:
                if np.isfinite(S_shown[i + 1]):
                    ax_s.plot(L[i + 1], S_shown[i + 1], "D", mfc="white", mec=colour, mew=1.2,
                              ms=5, zorder=5)
                    any_jump = True
            pos = np.nonzero(above)[0]
            if pos.size and pos[-1] < L.size - 1:
                ax_s.plot(L[pos[-1]], S[pos[-1]], "o", color=colour, ms=4)
    clock = plob_clock_text(ds.attrs.get("plob_rate_hz"),
                            wait_rule=ds.attrs.get("wait_rule", "one-way"), math=True)
    ax_k.plot(L, ds["plob_key_rate"].values, color="k", lw=1.0,
              label=rf"PLOB $-\log_2(1-\eta)$ per use, {clock}")
    ax_k.set_yscale("log")
    ax_k.set_xlabel(r"total distance $L$ (km)")
    ax_k.set_ylabel(r"secret key rate $K$ (bit/s)")
    ax_s.axhline(2.0, color="0.4", lw=0.8, ls=":", label=r"$S = 2$ (local bound)")
    ax_s.axhline(s_level, color="0.4", lw=0.8, ls="--", label=f"$S = {s_level:g}$ (reach level)")
    ax_s.set_xlabel(r"total distance $L$ (km)")
    ax_s.set_ylabel(r"end-to-end CHSH value $S$")
    # the axis spans the curves (not up to 2 sqrt 2), so nearby curves stay apart
    S_shown = np.where(ds["S"].values >= s_level, ds["S"].values, np.nan)
    s_top = float(np.nanmax(S_shown)) if np.isfinite(S_shown).any() else 2 * np.sqrt(2)
    s_top = min(2 * np.sqrt(2), s_top + 0.08 * (s_top - 2.0) + 0.01)
    if s_top >= 2 * np.sqrt(2) - 0.02:
        ax_s.axhline(2 * np.sqrt(2), color="0.4", lw=0.8, ls="-.", label=r"$S = 2\sqrt{2}$")
    ax_s.set_ylim(2.0 - 0.04 * (s_top - 2.0), s_top)
    Kall = ds["key_rate"].values
    kmax = float(Kall.max()) if Kall.size else 0.0
    if kmax > key_min:
        top = max(kmax, min(float(np.nanmax(ds["plob_key_rate"].values)), 30 * kmax))
        ax_k.set_ylim(key_min, 3 * top)
    for ax in (ax_k, ax_s):
        ax.grid(alpha=0.3)
        ax.set_xlim(0, L[-1])
    if any_jump:
        ax_s.plot([], [], "D", mfc="white", mec="k", mew=1.2, ms=5, ls="",
                  label=r"optimal $|\alpha|$ jumps to another maximum")
    ax_s.legend(fontsize=7, loc="best")  # the reference lines, where no curve runs
    handles, labels = ax_k.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=7, frameon=False)
    obj = ds.attrs.get("objective")
    how = ("alpha maximising the key rate" if obj == "key_rate" else
           f"alpha giving a delivery rate of {ds.attrs.get('rate_hz'):g} Hz")
    strategy = ds.attrs.get("strategy", "parallel")
    undefined = "gives a key" if obj == "key_rate" else "reaches the rate"
    fig.suptitle(title or f"repeater chains, strategy '{strategy}', {how} at each point\n"
                 f"(markers: curve ends; K < {key_min:g} bit/s and S < {s_level:g} not shown; "
                 f"S also ends where no alpha {undefined})", fontsize=8.5)
    stem = Path(path_stem)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.savefig(paths[0], dpi=300)
    fig.savefig(paths[1], metadata={"CreationDate": None})  # byte-identical run to run
    plt.close(fig)
    return paths
