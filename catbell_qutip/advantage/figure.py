"""The figure of an advantage map (PNG + PDF, 300 dpi)."""

from __future__ import annotations

import numpy as np

from ..params import PARAM_INFO

__all__ = ["plot_map"]

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


def _label(name: str) -> str:
    if name in _LABELS:
        lab = _LABELS[name]
    else:
        info = PARAM_INFO[name]
        lab = info.long_name + ("" if info.unit == "1" else f" ({info.unit})")
    if "(" not in lab:
        lab += " (dimensionless)"
    return lab


def _drop_small_loops(cs, ax, min_frac: float = 0.04) -> None:
    """Remove contour pieces smaller than ``min_frac`` of the axes in both directions: the
    small closed loops the margin draws around single grid cells where the runner-up
    changes."""
    from matplotlib.path import Path

    to_axes = ax.transData + ax.transAxes.inverted()
    new = []
    for path in cs.get_paths():
        if path.codes is None or len(path.vertices) == 0:
            new.append(path)
            continue
        starts = list(np.nonzero(path.codes == Path.MOVETO)[0]) + [len(path.vertices)]
        verts, codes = [], []
        for a, b in zip(starts[:-1], starts[1:], strict=True):
            v = path.vertices[a:b]
            ext = np.ptp(to_axes.transform(v), axis=0)
            if ext[0] >= min_frac or ext[1] >= min_frac:
                verts.append(v)
                codes.append(path.codes[a:b])
        new.append(Path(np.concatenate(verts), np.concatenate(codes)) if verts
                   else Path(np.zeros((0, 2))))
    cs.set_paths(new)


def _drop_colliding(fig, label_sets, edge: float = 0.04) -> None:
    """Remove contour labels that overlap an earlier label of the same panel, and labels
    within ``edge`` (a fraction of the axes) of a side: there a contour enters the map for a
    few cells only, and its number reads as a stray label on the boundary (or covers a
    threshold marker)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax, labels in label_sets:
        kept = []
        inner = ax.get_window_extent(renderer).padded(
            -edge * ax.get_window_extent(renderer).width)
        for t in labels:
            box = t.get_window_extent(renderer).expanded(1.15, 1.3)
            inside = (box.x0 >= inner.x0 and box.x1 <= inner.x1 and box.y0 >= inner.y0
                      and box.y1 <= inner.y1)
            if not inside or any(box.overlaps(k) for k in kept):
                t.remove()
            else:
                kept.append(box)


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

    Examples
    --------
    A small map drawn to PNG and PDF (about 10 s: the map and a 300 dpi figure):

    >>> import tempfile
    >>> import numpy as np
    >>> from catbell_qutip.advantage import advantage_map  # doctest: +SKIP
    >>> ds = advantage_map(("length_km", np.linspace(0.0, 10.0, 3)),
    ...                    ("eta_c", np.linspace(0.5, 1.0, 3)),
    ...                    loss_orders=(0, 1))  # doctest: +SKIP
    >>> [p.suffix for p in plot_map(ds, tempfile.mkdtemp() + "/map")]  # doctest: +SKIP
    ['.png', '.pdf']
    """
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import blended_transform_factory, offset_copy

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
    fig, axes = plt.subplots(1, 3, figsize=(16.5, 6.4), layout="constrained")
    contour_labels = []
    shared = {}  # one legend for the three panels: label -> handle, in order of appearance
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
            # few round levels: the margin has kinks where the runner-up changes, and many
            # levels there draw jagged lines and stacked labels (the field is not smoothed)
            lo, hi = float(np.nanmin(m)), float(np.nanmax(m))
            levels = [v for v in MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
                      if lo < v < hi]
            cs = ax.contour(xv, yv, m, levels=levels or 4, colors="k", linewidths=0.8)
            _drop_small_loops(cs, ax)
            labels = ax.clabel(cs, fontsize=9, inline_spacing=6,
                               fmt=lambda v: f"{v:.0f}" if abs(v) >= 10 else f"{v:.3g}")
            contour_labels.append((ax, labels))
            handles.append(Line2D([], [], color="k", lw=0.8,
                                  label="contours: margin of the winner over the runner-up "
                                        "(unit in each panel's title)"))
            title += f"\ncontours: margin {mlabel}"
        for (pname, axis_is_x) in ((xn, True), (yn, False)):
            for k, l in enumerate(orders):
                v = ds.attrs.get(f"threshold_{pname}_l{l}")
                if v is None or not np.isfinite(v):
                    continue
                c = _CODE_COLOURS.get(l, "k")
                ms = max(14 - 4 * (k - 1), 5)  # later codes smaller: equal values stay visible
                values = xv if axis_is_x else yv
                inside = min(values) <= v <= max(values)
                # just inside the axes, the base on the spine: the tick labels stay free;
                # left out of the layout (a marker is not a decoration to make room for)
                if inside and axis_is_x:
                    tr = offset_copy(blended_transform_factory(ax.transData, ax.transAxes),
                                     fig=fig, y=ms / 2, units="points")
                    ax.plot([v], [0.0], marker="^", ms=ms, color=c, mec="k", clip_on=False,
                            transform=tr, zorder=5)[0].set_in_layout(False)
                elif inside:
                    tr = offset_copy(blended_transform_factory(ax.transAxes, ax.transData),
                                     fig=fig, x=ms / 2, units="points")
                    ax.plot([0.0], [v], marker=">", ms=ms, color=c, mec="k", clip_on=False,
                            transform=tr, zorder=5)[0].set_in_layout(False)
                sym = {"eta_int": r"\eta_\mathrm{int}", "eta_c": r"\eta_c",
                       "eta_d": r"\eta_d"}[pname]
                handles.append(Line2D([], [], ls="", marker="^" if axis_is_x else ">",
                                      ms=9, color=c, mec="k",
                                      label=rf"one-at-a-time threshold $l = {l}$: "
                                            rf"${sym} = {v:.4f}$"
                                            + ("" if inside else " (outside the map)")))
        if xn in _LOG_AXES:
            ax.set_xscale("log")
        if yn in _LOG_AXES:
            ax.set_yscale("log")
        ax.set_xlabel(_label(xn), fontsize=11)
        ax.set_ylabel(_label(yn), fontsize=11)
        ax.set_title(title, fontsize=11)
        for h in handles:
            shared.setdefault(h.get_label(), h)
    fig.legend(handles=list(shared.values()), fontsize=11, loc="outside lower center",
               ncol=3, frameon=False)
    fixed = []
    for k, sym, unit in (("length_km", "L", "km"), ("encoder", "encoder", ""),
                         ("eta_int_placement", r"$\eta_\mathrm{int}$ placement", ""),
                         ("decoder", "decoder", "")):
        v = ds.attrs.get(f"param_{k}")
        if v is not None:
            fixed.append(f"{sym} = {v:g} {unit}".strip() if isinstance(v, float)
                         else f"{sym}: {v}")
    fig.suptitle("Which code pays off? " + ", ".join(fixed), fontsize=13)
    _drop_colliding(fig, contour_labels)
    out_stem = Path(out_stem)
    files = [out_stem.with_suffix(".png"), out_stem.with_suffix(".pdf")]
    for f in files:  # no creation date: the PDF is byte-identical run to run
        fig.savefig(f, dpi=300, **({"metadata": {"CreationDate": None}}
                                   if f.suffix == ".pdf" else {}))
    plt.close(fig)
    return files
