"""Figures of the code comparison (PNG + PDF, 300 dpi): key rate against L, S against L at a
common rate, and the map of the best code over (L, eta_c)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .settings import FAMILY_NAMES, KEY_SETTINGS, RATE_HZ, RATE_SQUEEZING_MAX

__all__ = ["plot_key_rate", "plot_S_at_rate", "plot_map", "FAMILY_STYLE"]

#: colour, line style, legend text of each family
FAMILY_STYLE = {
    "cat": ("tab:blue", "-", r"cat code, $\alpha$ optimised"),
    "squeezed-cat": ("tab:orange", "--", r"squeezed cat, $\alpha$ and $r$ optimised"),
    "binomial": ("tab:green", ":", "binomial, $M \\in \\{0, \\dots, 4\\}$ optimised\n"
                                   "($M$ written on the curve)"),
}
_STOP = dict(marker="X", ms=8, mec="k", mew=0.7, ls="", zorder=5)


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _model_text(attrs: dict) -> str:
    def get(k, default="?"):
        return attrs.get(k, attrs.get(f"param_{k}", default))

    return (f"TUB USD, {get('decoder')} decoder, {get('encoder')} encoder, "
            rf"$\eta_\mathrm{{int}}$ {get('eta_int_placement')}, {get('db_per_km')} dB/km")


def _usd_decoder(attrs: dict) -> str:
    """'TUB USD, smallest-loss decoder' (the USD and decoder of the run, from its attrs)."""
    def get(k):
        return attrs.get(k, attrs.get(f"param_{k}", "?"))

    usd = "TUB" if get("usd") in ("tub", "?") else get("usd")
    return f"{usd} USD, {get('decoder')} decoder"


def _stops(ax, x, y, colour):
    """A cross at the last point of each stretch before the curve stops (NaN or 0)."""
    ok = np.isfinite(y) & (y > 0)
    for i in np.nonzero(ok[:-1] & ~ok[1:])[0]:
        ax.plot([x[i]], [y[i]], color=colour, **_STOP)
    return bool(np.any(ok[:-1] & ~ok[1:]))


#: the S axes end here: below it a curve leaves the axes (marked), S < 2 is no violation
S_FLOOR = 1.9
_LEAVES = dict(marker="v", ms=7, mec="k", mew=0.6, ls="", zorder=5)


def _leaves(ax, x, y, ymin, colour):
    """A down triangle at the last point above ``ymin`` before a curve drops below it."""
    inside = np.isfinite(y) & (y >= ymin)
    below = np.isfinite(y) & (y < ymin)
    idx = np.nonzero(inside[:-1] & below[1:])[0]
    for i in idx:
        ax.plot([x[i]], [y[i]], color=colour, **_LEAVES)
    return bool(idx.size)


def _runs(ok, m):
    """(first, last) index of every stretch where ``ok`` holds and M is constant."""
    out, i = [], 0
    while i < len(ok):
        if not ok[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(ok) and ok[j + 1] and m[j + 1] == m[i]:
            j += 1
        out.append((i, j))
        i = j + 1
    return out


def _plot_binomial(ax, x, y, m, colour, ls, log=False):
    """The binomial code, one piece per stretch of constant M (S and the key rate jump
    where the best M changes: no line joins two M), with a dot at each point and M
    written on stretches of at least two points."""
    m = np.asarray(m)
    ok = np.isfinite(y) & (m >= 0) & ((y > 0) if log else True)
    for i, j in _runs(ok, m):
        ax.plot(x[i:j + 1], y[i:j + 1], color=colour, ls=ls, lw=1.6, marker=".", ms=3.5)
        if j > i:
            k = (i + j) // 2
            ax.annotate(f"$M={int(m[i])}$", (x[k], y[k]), textcoords="offset points",
                        xytext=(3, 3), ha="left", va="bottom", fontsize=6.5, color=colour)


def _save(fig, out_stem) -> list:
    out_stem = Path(out_stem)
    files = [out_stem.with_suffix(".png"), out_stem.with_suffix(".pdf")]
    for f in files:
        fig.savefig(f, dpi=300)
    return files


def plot_key_rate(ds, out_stem) -> list:
    """Key rate against L (one row per setting) and each family's gain over the cat code
    (last row), one column per loss order; PNG and PDF at 300 dpi.

    Parameters
    ----------
    ds : xarray.Dataset
        ``compare_codes(...)["key"]``.
    out_stem : str or Path
        Path without suffix.

    Returns
    -------
    list of Path
        The PNG and PDF written.

    Examples
    --------
    Not run in the doctests (the dataset comes from
    :func:`~catbell_qutip.codecompare.compute.compare_codes`, minutes; ``catbell codes``
    draws it):

    >>> from catbell_qutip.codecompare import compare_codes
    >>> res = compare_codes(quick=True, workers=1)  # doctest: +SKIP
    >>> [p.suffix for p in plot_key_rate(res["key"], "codes_key_rate")]  # doctest: +SKIP
    ['.png', '.pdf']
    """
    plt = _mpl()
    from matplotlib.lines import Line2D

    orders = [int(l) for l in ds.loss_order.values]
    settings = [str(s) for s in ds.setting.values]
    L = ds.length_km.values
    fig, axes = plt.subplots(len(settings) + 1, len(orders), figsize=(13.0, 9.6),
                             sharex=True, squeeze=False)
    fig.subplots_adjust(left=0.07, right=0.77, top=0.92, bottom=0.07, hspace=0.14, wspace=0.25)
    stopped = False
    for si, s in enumerate(settings):
        for li, l in enumerate(orders):
            ax = axes[si, li]
            top, bottom = 0.0, np.inf
            for fam, (col, ls, _) in FAMILY_STYLE.items():
                sel = ds.sel(setting=s, loss_order=l, family=fam)
                K = sel.key_rate.values
                y = np.where(K > 0, K, np.nan)
                if fam == "binomial":
                    _plot_binomial(ax, L, y, sel.binomial_m.values, col, ls, log=True)
                else:
                    ax.plot(L, y, color=col, ls=ls, lw=1.6)
                stopped |= _stops(ax, L, K, col)
                if np.any(np.isfinite(y)):
                    top, bottom = max(top, np.nanmax(y)), min(bottom, np.nanmin(y))
            ax.set_yscale("log")
            if top > 0:
                ax.set_ylim(max(bottom / 3, top * 1e-12), top * 4)
            ax.grid(alpha=0.3, which="major")
            if li == 0:
                ax.set_ylabel("secret key rate $K$ (bit/s)")
            name = KEY_SETTINGS[s][1] if s in KEY_SETTINGS else s
            ax.set_title(f"{name}, $l = {l}$", fontsize=9)
    for li, l in enumerate(orders):
        ax = axes[-1, li]
        for si, s in enumerate(settings):
            cat = ds.key_rate.sel(setting=s, loss_order=l, family="cat").values
            for fam in ("squeezed-cat", "binomial"):
                col = FAMILY_STYLE[fam][0]
                K = ds.key_rate.sel(setting=s, loss_order=l, family=fam).values
                with np.errstate(invalid="ignore", divide="ignore"):
                    g = np.where((cat > 0) & (K > 0), 100.0 * (K / cat - 1.0), np.nan)
                ax.plot(L, g, color=col, ls="-" if si == 0 else "--", lw=1.3,
                        marker="o" if si == 0 else "s", ms=2.2)
        ax.axhline(0.0, color="0.3", lw=0.8)
        ax.grid(alpha=0.3)
        ax.set_xlabel(r"fibre length $L$ (km)")
        if li == 0:
            ax.set_ylabel(r"$K / K_\mathrm{cat} - 1$ (%)")
        ax.set_title(f"gain over the cat code, $l = {l}$", fontsize=9)
    handles = [Line2D([], [], color=c, ls=ls, lw=1.6, label=lab)
               for c, ls, lab in FAMILY_STYLE.values()]
    if stopped:
        handles.append(Line2D([], [], color="0.4", label="no key beyond this $L$", **_STOP))
    for si, s in enumerate(settings[:2]):
        name = KEY_SETTINGS[s][1] if s in KEY_SETTINGS else s
        for fam in ("squeezed-cat", "binomial"):
            handles.append(Line2D([], [], color=FAMILY_STYLE[fam][0],
                                  ls="-" if si == 0 else "--", marker="o" if si == 0 else "s",
                                  ms=3, label=f"gain: {FAMILY_NAMES[fam]},\n{name} "
                                              "(where it has key)"))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.785, 0.92), fontsize=7.5,
               frameon=False, title=f"{_usd_decoder(ds.attrs)};\neach code's parameters chosen\n"
               "per $L$ for the largest key rate", title_fontsize=7.5,
               alignment="left")
    t0 = ds.attrs.get("t0_s_fig4", None)
    fig.suptitle("Which rotation-symmetric code gives the most key? "
                 + _model_text(ds.attrs) + (f", $t_0$ = {t0 * 1e6:.2f} $\\mu$s"
                                            if isinstance(t0, float) else ""), fontsize=10)
    files = _save(fig, out_stem)
    plt.close(fig)
    return files


def plot_S_at_rate(ds, out_stem) -> list:
    """S against L at the common rate (top) and the mean photon number each family uses
    (bottom), one column per loss order; PNG and PDF at 300 dpi.

    Parameters
    ----------
    ds : xarray.Dataset
        ``compare_codes(...)["rate"]``.
    out_stem : str or Path
        Path without suffix; ``.png`` and ``.pdf`` are added.

    Returns
    -------
    list of Path
        The PNG and PDF written.

    Examples
    --------
    Not run in the doctests (the dataset comes from
    :func:`~catbell_qutip.codecompare.compute.compare_codes`, minutes; ``catbell codes``
    draws it):

    >>> from catbell_qutip.codecompare import compare_codes
    >>> res = compare_codes(quick=True, workers=1)  # doctest: +SKIP
    >>> [p.suffix for p in plot_S_at_rate(res["rate"], "codes_S_at_rate")]  # doctest: +SKIP
    ['.png', '.pdf']
    """
    plt = _mpl()
    from matplotlib.lines import Line2D

    orders = [int(l) for l in ds.loss_order.values]
    L = ds.length_km.values
    rate = float(ds.attrs.get("rate_hz", RATE_HZ))
    fig, axes = plt.subplots(2, len(orders), figsize=(13.0, 6.6), sharex=True,
                             squeeze=False, gridspec_kw={"height_ratios": [1.6, 1.0]})
    fig.subplots_adjust(left=0.07, right=0.76, top=0.90, bottom=0.09, hspace=0.1, wspace=0.25)
    stopped = left = False
    for li, l in enumerate(orders):
        ax, axn = axes[0, li], axes[1, li]
        for fam, (col, ls, _) in FAMILY_STYLE.items():
            sel = ds.sel(loss_order=l, family=fam)
            S = sel.S.values
            if fam == "binomial":
                _plot_binomial(ax, L, S, sel.binomial_m.values, col, ls)
                _plot_binomial(axn, L, sel.mean_photon_number.values, sel.binomial_m.values,
                               col, ls, log=True)
            else:
                ax.plot(L, S, color=col, ls=ls, lw=1.6)
                axn.plot(L, sel.mean_photon_number.values, color=col, ls=ls, lw=1.4)
            stopped |= _stops(ax, L, S, col)
        ax.axhline(2.0, color="0.4", lw=0.8, ls=":")
        ax.axhline(2 * np.sqrt(2), color="0.4", lw=0.8, ls="--")
        ax.set_title(f"$l = {l}$", fontsize=9)
        finite = ds.S.sel(loss_order=l).values
        lo = np.nanmin(finite) if np.any(np.isfinite(finite)) else 2.0
        ymin = max(min(lo, 2.0) - 0.02, S_FLOOR)
        ax.set_ylim(ymin, 2.86)
        for fam, (col, _, _) in FAMILY_STYLE.items():
            left |= _leaves(ax, L, ds.S.sel(loss_order=l, family=fam).values, ymin, col)
        ax.grid(alpha=0.3)
        axn.set_yscale("log")
        axn.grid(alpha=0.3)
        axn.set_xlabel(r"fibre length $L$ (km)")
        if li == 0:
            ax.set_ylabel(r"CHSH value $S$")
            axn.set_ylabel(r"mean photon number $\langle n \rangle$")
    handles = [Line2D([], [], color=FAMILY_STYLE["cat"][0], ls="-", lw=1.6,
                      label=r"cat code, $\alpha$ solved for the rate"),
               Line2D([], [], color=FAMILY_STYLE["squeezed-cat"][0], ls="--", lw=1.6,
                      label=r"squeezed cat, $\alpha$ solved for the rate," "\n"
                            rf"$r \in [-{RATE_SQUEEZING_MAX:g}, {RATE_SQUEEZING_MAX:g}]$ for "
                            r"the largest $S$"),
               Line2D([], [], color=FAMILY_STYLE["binomial"][0], ls=":", lw=1.6,
                      label="binomial, no amplitude: its own rate\n"
                            r"$R_\mathrm{eg} = P / (L / c_f) \geq$ " f"{rate:g} Hz"
                            "\n(S does not depend on the rate),\n"
                            r"largest-$S$ $M$ of those, written on the curve")]
    if stopped:
        handles.append(Line2D([], [], color="0.4", label="rate unreachable beyond this $L$",
                              **_STOP))
    if left:
        handles.append(Line2D([], [], color="0.4", label=f"leaves the axes: $S$ < {S_FLOOR:g} "
                                                         "beyond this $L$", **_LEAVES))
    handles += [Line2D([], [], color="0.4", lw=0.8, ls=":", label="$S = 2$ (local bound)"),
                Line2D([], [], color="0.4", lw=0.8, ls="--", label=r"$S = 2\sqrt{2}$")]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.775, 0.90), fontsize=7.5,
               frameon=False, title=_usd_decoder(ds.attrs), title_fontsize=7.5,
               alignment="left")
    fig.suptitle(rf"$S$ at a common $R_\mathrm{{eg}}$ = {rate:g} Hz (Fig. 2(a)'s setting: "
                 r"channel loss only, $t_0 = 0$); " + _model_text(ds.attrs), fontsize=10)
    files = _save(fig, out_stem)
    plt.close(fig)
    return files


#: channel transmissions of the guide lines on the map
GUIDE_ETAS = (0.7, 0.4, 0.2, 0.1)

_MAP_COLOURS = {"cat": ("#c6dbef", "#6baed6", "#08519c"),
                "squeezed-cat": ("#fdd0a2", "#fd8d3c", "#a63603"),
                "binomial": ("#c7e9c0", "#74c476", "#006d2c")}


def plot_map(ds, out_stem) -> list:
    """The best code over (L, eta_c): which code wins (family and loss order), by how much
    the best non-cat code beats the best cat code, and the mean photon number of the winner;
    PNG and PDF at 300 dpi.

    Parameters
    ----------
    ds : xarray.Dataset
        ``compare_codes(...)["map"]``.
    out_stem : str or Path
        Path without suffix; ``.png`` and ``.pdf`` are added.

    Returns
    -------
    list of Path
        The PNG and PDF written.

    Examples
    --------
    Not run in the doctests (the dataset comes from
    :func:`~catbell_qutip.codecompare.compute.compare_codes`, minutes; ``catbell codes``
    draws it):

    >>> from catbell_qutip.codecompare import compare_codes
    >>> res = compare_codes(quick=True, workers=1)  # doctest: +SKIP
    >>> [p.suffix for p in plot_map(res["map"], "codes_map")]  # doctest: +SKIP
    ['.png', '.pdf']
    """
    plt = _mpl()
    from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    L, c = ds.length_km.values, ds.eta_c.values
    labels = [s.strip() for s in ds.attrs["codes"].split(",")]
    orders = [int(l) for l in ds.loss_order.values]
    colours = []
    for lab in labels:
        fam, l = lab.split(" l=")
        shades = _MAP_COLOURS[fam]
        colours.append(shades[min(orders.index(int(l)), len(shades) - 1)])
    win = ds.winner.values
    cmap = ListedColormap(["#d9d9d9"] + colours)
    norm = BoundaryNorm(np.arange(-1.5, len(labels)), cmap.N)
    fig, axes = plt.subplots(1, 3, figsize=(16.5, 5.4), constrained_layout=True)
    ax = axes[0]
    ax.pcolormesh(L, c, win.T, cmap=cmap, norm=norm, shading="nearest", rasterized=True)
    present = sorted(set(win.ravel().tolist()))
    handles = [Patch(color=colours[i], label=labels[i].replace("squeezed-cat", "squeezed cat")
                     .replace(" l=", ", $l$ = ")) for i in present if i >= 0]
    if -1 in present:
        handles.append(Patch(color="#d9d9d9", label="no key"))
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13),
              ncol=3, frameon=False,
              title=f"best code (key rate; within {100 * ds.attrs['tie_relative']:g} % "
                    "the cat code is kept)", title_fontsize=7.5)
    ax.set_title(f"best code ({_usd_decoder(ds.attrs)})", fontsize=9.5)
    g = 100.0 * ds.gain_rsbc_over_cat.values
    ax = axes[1]
    vmax = max(float(np.nanmax(np.abs(g))) if np.any(np.isfinite(g)) else 1.0, 1.0)
    # the squeezed cat includes the cat code (r = 0), so the gain is >= 0 (to rounding)
    pc = ax.pcolormesh(L, c, g.T, cmap="magma_r", shading="nearest", rasterized=True,
                       vmin=min(0.0, float(np.nanmin(g))) if np.any(np.isfinite(g)) else 0.0,
                       vmax=vmax)
    fig.colorbar(pc, ax=ax, label=r"$K_\mathrm{best\ non\text{-}cat} / K_\mathrm{best\ cat} - 1$"
                                  " (%)", location="bottom", shrink=0.8)
    ax.set_title("gain of the best squeezed cat or binomial code\nover the best cat code "
                 "(any $l$)", fontsize=9.5)
    n = ds.winner_mean_photon_number.values
    ax = axes[2]
    finite = n[np.isfinite(n) & (n > 0)]
    pc = ax.pcolormesh(L, c, n.T, cmap="viridis", shading="nearest", rasterized=True,
                       norm=LogNorm(finite.min(), finite.max()) if finite.size else None)
    fig.colorbar(pc, ax=ax, label=r"mean photon number $\langle n \rangle$ of the best code",
                 location="bottom", shrink=0.8)
    ax.set_title("mean photon number the best code uses", fontsize=9.5)
    a = float(ds.attrs.get("param_db_per_km", 0.2))
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel(r"fibre length $L$ (km)")
        ax.set_ylabel(r"coupling/conversion efficiency $\eta_c$")
        # guides: constant channel transmission eta_c 10^(-a L / 10), along which nothing
        # but the attempt time changes
        for e in GUIDE_ETAS:
            ax.plot(L, e * 10 ** (a * L / 10), color="k", lw=0.6, ls=(0, (2, 3)), alpha=0.7)
        # the axis ends at the grid's first and last eta_c (cells are centred on the grid
        # points, so the edge cells are half drawn): nothing is shown beyond the computed
        # range, and never eta_c > 1
        ax.set_ylim(c.min(), c.max())
        ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
                 if c.min() <= t <= c.max()]
        ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_xlim(L.min() - (L[1] - L[0]) / 2, L.max() + (L[1] - L[0]) / 2)
    guide = Line2D([], [], color="k", lw=0.6, ls=(0, (2, 3)),
                   label="constant channel transmission " r"$\eta_c 10^{-a L/10}$ = "
                         + ", ".join(f"{e:g}" for e in GUIDE_ETAS)
                         + "\n(the result depends on $L$ and $\\eta_c$ only through it\n"
                           "and through the attempt time)")
    axes[0].get_legend().remove()
    axes[0].legend(handles=handles + [guide], fontsize=7, loc="upper center",
                   bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False,
                   title=f"best code (key rate; within {100 * ds.attrs['tie_relative']:g} % "
                         "the cat code is kept)", title_fontsize=7.5)
    fig.suptitle("Best code over $(L, \\eta_c)$, parameters chosen per point for the largest "
                 "key rate; channel loss otherwise, " + _model_text(ds.attrs)
                 + f", $t_0$ = {float(ds.attrs['param_t0_s']) * 1e6:.2f} $\\mu$s", fontsize=10)
    files = _save(fig, out_stem)
    plt.close(fig)
    return files
