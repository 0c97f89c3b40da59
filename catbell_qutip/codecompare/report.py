"""What the comparison says: the summary (does any rotation-symmetric code beat the cat code
at the paper's settings, where, by how much, at which mean photon number), the printed
table, and the files (netCDF, CSV, figures, summary.json)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..outputs import csv_header, dumps, write_netcdf
from .compute import TIE_REL, TIE_S
from .figure import plot_key_rate, plot_map, plot_S_at_rate
from .settings import FAMILY_NAMES, KEY_SETTINGS

__all__ = ["summarise", "table_text", "write_results", "STEMS"]

#: file stems of the three results
STEMS = {"key": "codes_key_rate", "rate": "codes_S_at_rate", "map": "codes_map"}
#: lengths (km) the printed table shows (the nearest grid points)
TABLE_KEY_KM = (0.0, 5.0, 10.0, 20.0, 50.0, 100.0)
TABLE_RATE_KM = (1.0, 5.0, 10.0, 15.0, 20.0)


def _ranges(x, mask) -> list:
    """Stretches of x where mask holds, as [first, last] pairs."""
    out, start = [], None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        if (not m or i == len(mask) - 1) and start is not None:
            end = i if m else i - 1
            out.append([float(x[start]), float(x[end])])
            start = None
    return out


def _params(sel, family: str) -> dict:
    if family == "binomial":
        return {"binomial_m": int(sel.binomial_m)}
    out = {"alpha": float(sel.alpha)}
    if family == "squeezed-cat":
        out["squeezing"] = float(sel.squeezing)
    return out


def _key_summary(ds) -> dict:
    out = {}
    L = ds.length_km.values
    for s in ds.setting.values:
        per_l = {}
        for l in ds.loss_order.values:
            d = ds.sel(setting=s, loss_order=l)
            K = {f: np.nan_to_num(d.key_rate.sel(family=f).values) for f in ds.family.values}
            cat = K["cat"]
            rs = np.maximum(K["squeezed-cat"], K["binomial"])
            beats = (rs > cat * (1 + TIE_REL)) & (rs > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                gain = np.where(cat > 0, rs / cat - 1.0, np.where(rs > 0, np.inf, np.nan))
            entry = {"rsbc_beats_cat_km": _ranges(L, beats),
                     "rsbc_beats_cat_points": int(beats.sum()), "points": int(L.size)}
            for f in ("squeezed-cat", "binomial"):
                with np.errstate(invalid="ignore", divide="ignore"):
                    g = np.where((cat > 0) & (K[f] > 0), K[f] / cat - 1.0, np.nan)
                entry[f"{f}_beats_cat_km"] = _ranges(L, (K[f] > cat * (1 + TIE_REL))
                                                     & (K[f] > 0))
                entry[f"{f}_gain_range"] = ([float(np.nanmin(g)), float(np.nanmax(g))]
                                            if np.any(np.isfinite(g)) else None)
                # at L = 0 every code may tie (P -> 1): the range where the fibre has length
                gp = g[L > 0]
                entry[f"{f}_gain_range_L_gt_0"] = ([float(np.nanmin(gp)), float(np.nanmax(gp))]
                                                   if np.any(np.isfinite(gp)) else None)
                entry[f"{f}_key_up_to_km"] = (float(L[K[f] > 0].max()) if np.any(K[f] > 0)
                                              else None)
            if beats.any():
                i = int(np.nanargmax(np.where(beats, gain, -np.inf)))
                fam = "squeezed-cat" if K["squeezed-cat"][i] >= K["binomial"][i] else "binomial"
                entry["largest_gain"] = {
                    "length_km": float(L[i]), "family": fam, "gain": float(gain[i]),
                    "key_rate_bit_s": float(K[fam][i]), "cat_key_rate_bit_s": float(cat[i]),
                    "params": _params(d.sel(family=fam).isel(length_km=i), fam),
                    "cat_alpha": float(d.alpha.sel(family="cat")[i]),
                    "mean_photon_number": float(d.mean_photon_number.sel(family=fam)[i]),
                    "cat_mean_photon_number": float(
                        d.mean_photon_number.sel(family="cat")[i])}
            else:
                entry["largest_gain"] = None
            at = d.at_bound.values
            entry["at_bound_points"] = {str(f): int(np.nansum(at[k]))
                                        for k, f in enumerate(ds.family.values)}
            per_l[f"l{int(l)}"] = entry
        out[str(s)] = per_l
    return out


def _rate_summary(ds) -> dict:
    out = {}
    L = ds.length_km.values
    for l in ds.loss_order.values:
        d = ds.sel(loss_order=l)
        S = {f: d.S.sel(family=f).values for f in ds.family.values}
        cat = S["cat"]
        entry = {}
        best_any = None
        for f in ("squeezed-cat", "binomial"):
            with np.errstate(invalid="ignore"):
                dS = S[f] - cat
                beats = np.isfinite(dS) & (dS > TIE_S)
            entry[f"{f}_beats_cat_km"] = _ranges(L, beats)
            entry[f"{f}_reaches_rate_km"] = _ranges(L, np.isfinite(S[f]))
            if beats.any():
                i = int(np.nanargmax(np.where(beats, dS, -np.inf)))
                cand = {"length_km": float(L[i]), "family": f, "delta_S": float(dS[i]),
                        "S": float(S[f][i]), "cat_S": float(cat[i]),
                        "params": _params(d.sel(family=f).isel(length_km=i), f),
                        "cat_alpha": float(d.alpha.sel(family="cat")[i]),
                        "mean_photon_number": float(d.mean_photon_number.sel(family=f)[i]),
                        "cat_mean_photon_number": float(
                            d.mean_photon_number.sel(family="cat")[i])}
                if best_any is None or cand["delta_S"] > best_any["delta_S"]:
                    best_any = cand
        entry["cat_reaches_rate_km"] = _ranges(L, np.isfinite(cat))
        entry["largest_gain"] = best_any
        entry["at_bound_points"] = {str(f): int(np.nansum(d.at_bound.sel(family=f).values))
                                    for f in ds.family.values}
        out[f"l{int(l)}"] = entry
    return out


def _map_summary(ds) -> dict:
    labels = [s.strip() for s in ds.attrs["codes"].split(",")]
    win = ds.winner.values
    share = {lab: float(np.mean(win == i)) for i, lab in enumerate(labels)}
    share["no key"] = float(np.mean(win == -1))
    n_cat = sum(lab.startswith("cat ") for lab in labels)
    rsbc = (win >= n_cat)
    g = ds.gain_rsbc_over_cat.values
    out = {"share": share, "rsbc_wins_share": float(np.mean(rsbc)),
           "gain_range": ([float(np.nanmin(g)), float(np.nanmax(g))]
                          if np.any(np.isfinite(g)) else None)}
    if np.any(np.isfinite(g)):
        i, j = np.unravel_index(int(np.nanargmax(g)), g.shape)
        w = int(win[i, j])
        out["largest_gain"] = {"length_km": float(ds.length_km[i]),
                               "eta_c": float(ds.eta_c[j]), "gain": float(g[i, j]),
                               "winner": labels[w] if w >= 0 else None,
                               "mean_photon_number": float(
                                   ds.winner_mean_photon_number[i, j])}
    # the channel transmission eta_c 10^(-a L / 10) each winner holds (the map's diagonals)
    a = float(ds.attrs.get("param_db_per_km", 0.2))
    eta = ds.eta_c.values[None, :] * 10.0 ** (-a * ds.length_km.values[:, None] / 10.0)
    out["winner_transmission_range"] = {lab: [float(eta[win == i].min()),
                                              float(eta[win == i].max())]
                                        for i, lab in enumerate(labels) if np.any(win == i)}
    nb = ds.winner_mean_photon_number.values
    out["winner_mean_photon_number_range"] = ([float(np.nanmin(nb)), float(np.nanmax(nb))]
                                              if np.any(np.isfinite(nb)) else None)
    return out


def _params_text(params: dict) -> str:
    """"alpha = 1.23, squeezing = 0.456" (floats to 3 significant digits)."""
    return ", ".join(f"{k} = {v:.3g}" if isinstance(v, float) else f"{k} = {v}"
                     for k, v in params.items())


def _pct(x: float) -> str:
    """A relative gain in per cent: one decimal, or two significant digits where one
    decimal would print a gain as "+0.0 %" or "-0.0 %"."""
    v = 100.0 * x
    return f"{v:+.1f} %" if v == 0.0 or abs(v) >= 0.05 else f"{v:+.2g} %"


def _answer(key: dict, rate: dict, mp: dict) -> list[str]:
    """One sentence per criterion, numbers from the summaries."""
    lines = []
    for s, per_l in key.items():
        name = KEY_SETTINGS[s][1] if s in KEY_SETTINGS else s
        for lk, e in per_l.items():
            l = lk[1:]
            lg = e["largest_gain"]
            if lg is None:
                lines.append(f"key rate, {name}, l = {l}: no rotation-symmetric code beats the "
                             f"cat code by more than {100 * TIE_REL:g} % at any L")
                continue
            where = ", ".join(f"{a:g}-{b:g} km" if a != b else f"{a:g} km"
                              for a, b in e["rsbc_beats_cat_km"])
            gr = e["squeezed-cat_gain_range_L_gt_0"]
            sq = f"; the squeezed cat {_pct(gr[0])} to {_pct(gr[1])} at L > 0" if gr else ""
            up = e["binomial_key_up_to_km"]
            bi = ("; binomial: no key" if up is None
                  else "; binomial key only at L = 0" if up == 0
                  else f"; binomial key up to {up:g} km")
            p = _params_text(lg["params"])
            lines.append(
                f"key rate, {name}, l = {l}: a non-cat code beats the cat code at {where}; "
                f"largest gain {_pct(lg['gain'])} at L = {lg['length_km']:g} km "
                f"({FAMILY_NAMES[lg['family']]}, {p}, <n> = {lg['mean_photon_number']:.3g}; "
                f"{lg['key_rate_bit_s']:.4g} against {lg['cat_key_rate_bit_s']:.4g} bit/s for "
                f"the cat code at <n> = {lg['cat_mean_photon_number']:.3g}){sq}{bi}")
    for lk, e in rate.items():
        l = lk[1:]
        lg = e["largest_gain"]
        if lg is None:
            lines.append(f"S at the common rate, l = {l}: no rotation-symmetric code beats the "
                         f"cat code by more than {TIE_S:g} in S")
            continue
        p = _params_text(lg["params"])
        lines.append(
            f"S at the common rate, l = {l}: largest gain over the cat code dS = "
            f"{lg['delta_S']:+.4f} at L = {lg['length_km']:g} km ({FAMILY_NAMES[lg['family']]},"
            f" {p}, <n> = {lg['mean_photon_number']:.3g}; S = {lg['S']:.4f} against "
            f"{lg['cat_S']:.4f} for the cat code at <n> = {lg['cat_mean_photon_number']:.3g})")
    if mp.get("largest_gain"):
        lg = mp["largest_gain"]
        lines.append(
            f"map over (L, eta_c): a non-cat code is the best code on "
            f"{100 * mp['rsbc_wins_share']:.1f} % of the grid; the best non-cat code beats the "
            f"best cat code by {_pct(mp['gain_range'][0])} to "
            f"{_pct(mp['gain_range'][1])}, most at L = {lg['length_km']:g} km, eta_c = "
            f"{lg['eta_c']:.3g} ({lg['winner']}, <n> = {lg['mean_photon_number']:.3g})")
        tr = mp.get("winner_transmission_range", {})
        lines.append("map over (L, eta_c), best code: " + "; ".join(
            f"{lab} on {100 * mp['share'][lab]:.1f} % (channel transmission "
            f"{tr[lab][0]:.3g} to {tr[lab][1]:.3g})"
            for lab in sorted(tr, key=lambda k: -mp["share"][k])))
    return lines


def summarise(res: dict) -> dict:
    """The JSON summary of :func:`~.compute.compare_codes`' result.

    Parameters
    ----------
    res : dict
        The result of :func:`~catbell_qutip.codecompare.compute.compare_codes`.

    Returns
    -------
    dict
        ``answer`` (sentences), ``key_rate`` (per setting and loss order: where a non-cat
        code beats the cat code, the largest gain, its parameters and mean photon number),
        ``S_at_rate`` (the same for S at the common rate), ``map`` (share of the grid each
        code wins, the gain range), ``global_check``, ``settings``, ``run`` (CPU and wall
        seconds, workers).

    Examples
    --------
    Not run in the doctests (:func:`~catbell_qutip.codecompare.compute.compare_codes`
    takes minutes even with ``quick=True``; ``catbell codes`` runs this):

    >>> from catbell_qutip.codecompare import compare_codes
    >>> res = compare_codes(quick=True, workers=1)  # doctest: +SKIP
    >>> summarise(res)["run"]["quick"]  # doctest: +SKIP
    True
    """
    key, rate, mp = _key_summary(res["key"]), _rate_summary(res["rate"]), _map_summary(
        res["map"])
    checks = res.get("check", [])
    worst = None
    for c in checks:
        d = (c["grid_key_fraction"] - c["optimum_key_fraction"]) / max(
            c["optimum_key_fraction"], 1e-300)
        worst = d if worst is None else max(worst, d)
    return {
        "question": "does any rotation-symmetric code (squeezed cat, binomial) beat the cat "
                    "code at the paper's settings, where, by how much, at which mean photon "
                    "number?",
        "answer": _answer(key, rate, mp),
        "tie_relative_key_rate": TIE_REL, "tie_S": TIE_S,
        "key_rate": key, "S_at_rate": rate, "map": mp,
        "global_check": {"points": checks,
                         "largest_excess_of_grid_over_optimum": worst,
                         "note": "the full (alpha, r) grid of the squeezed cat at anchor "
                                 "points; a positive excess would mean the search missed a "
                                 "better basin"},
        "settings": {"key": {str(s): KEY_SETTINGS[str(s)][0] for s in res["key"].setting.values},
                     "rate": res["rate"].attrs.get("preset"),
                     "rate_hz": res["rate"].attrs.get("rate_hz"),
                     "map": res["map"].attrs.get("setting")},
        "run": {"cpu_s": res["cpu_s"], "wall_s": res["wall_s"], "workers": res["workers"],
                "quick": res["quick"]},
    }


def _nearest(values, wanted):
    idx = sorted({int(np.argmin(np.abs(values - w))) for w in wanted})
    return idx


def table_text(res: dict, summary: dict) -> str:
    """The printed table: key rates and S at a few lengths, then the answers.

    Parameters
    ----------
    res : dict
        The result of :func:`~catbell_qutip.codecompare.compute.compare_codes`.
    summary : dict
        Its :func:`summarise`.

    Returns
    -------
    str
        Two tables, (a) key rates [bit/s] with each family's parameters and mean photon
        number and (b) S at the common rate, then the answer sentences.

    Examples
    --------
    Not run in the doctests (:func:`~catbell_qutip.codecompare.compute.compare_codes`
    takes minutes even with ``quick=True``; ``catbell codes`` runs this):

    >>> from catbell_qutip.codecompare import compare_codes
    >>> res = compare_codes(quick=True, workers=1)  # doctest: +SKIP
    >>> table_text(res, summarise(res)).splitlines()[0][:3]  # doctest: +SKIP
    '(a)'
    """
    ds = res["key"]
    L = ds.length_km.values
    lines = ["(a) key rate (bit/s) at each family's best parameters; <n>: mean photon number",
             f"{'setting':<18}{'l':>2}{'L km':>7}  {'cat: K (alpha; <n>)':<28}"
             f"{'squeezed cat: K (alpha, r; <n>)':<38}{'binomial: K (M; <n>)':<26}best / gain"]
    for s in ds.setting.values:
        name = KEY_SETTINGS[str(s)][1]
        for l in ds.loss_order.values:
            for i in _nearest(L, TABLE_KEY_KM):
                d = ds.sel(setting=s, loss_order=l).isel(length_km=i)
                c, q, b = (d.sel(family=f) for f in ("cat", "squeezed-cat", "binomial"))
                Ks = {f: float(np.nan_to_num(d.key_rate.sel(family=f)))
                      for f in ("cat", "squeezed-cat", "binomial")}
                best = max(Ks, key=lambda f: (Ks[f] > Ks["cat"] * (1 + TIE_REL), Ks[f]))
                if Ks[best] <= Ks["cat"] * (1 + TIE_REL):
                    best = "cat"
                gain = (f"{100 * (Ks[best] / Ks['cat'] - 1):+.1f} %" if Ks["cat"] > 0 and
                        best != "cat" else "")
                lines.append(
                    f"{name:<18}{int(l):>2}{L[i]:>7.1f}  "
                    f"{_k(Ks['cat'])} ({float(c.alpha):.3f}; {float(c.mean_photon_number):.3g})"
                    .ljust(28 + 27)
                    + f"{_k(Ks['squeezed-cat'])} ({float(q.alpha):.3f}, "
                      f"{float(q.squeezing):+.3f}; {float(q.mean_photon_number):.3g})".ljust(38)
                    + (f"{_k(Ks['binomial'])} ({int(b.binomial_m)}; "
                       f"{float(b.mean_photon_number):.3g})" if Ks["binomial"] > 0
                       else f"{'no key':>10}").ljust(26)
                    + ("cat" if Ks["cat"] <= 0 and best == "cat" and Ks["cat"] == 0 else
                       f"{FAMILY_NAMES[best]} {gain}".strip()))
    r = res["rate"]
    Lr = r.length_km.values
    lines += ["", f"(b) S at R_eg = {r.attrs.get('rate_hz', 3000):g} Hz (Fig. 2(a) setting); "
                  "binomial: S where its fixed R_eg reaches the rate, else -",
              f"{'l':>2}{'L km':>7}  {'cat: S (alpha; <n>)':<28}"
              f"{'squeezed cat: S (alpha, r; <n>)':<38}{'binomial: S (M; <n>)':<26}"]
    for l in r.loss_order.values:
        for i in _nearest(Lr, TABLE_RATE_KM):
            d = r.sel(loss_order=l).isel(length_km=i)
            c, q, b = (d.sel(family=f) for f in ("cat", "squeezed-cat", "binomial"))
            lines.append(
                f"{int(l):>2}{Lr[i]:>7.2f}  "
                + (f"{_s(c.S)} ({float(c.alpha):.3f}; {float(c.mean_photon_number):.3g})"
                   if np.isfinite(float(c.S)) else "-").ljust(28)
                + (f"{_s(q.S)} ({float(q.alpha):.3f}, {float(q.squeezing):+.3f}; "
                   f"{float(q.mean_photon_number):.3g})" if np.isfinite(float(q.S))
                   else "-").ljust(38)
                + (f"{_s(b.S)} ({int(b.binomial_m)}; {float(b.mean_photon_number):.3g})"
                   if np.isfinite(float(b.S)) else "-"))
    lines += ["", "Answer:"] + [f"- {a}" for a in summary["answer"]]
    gc = summary["global_check"]["largest_excess_of_grid_over_optimum"]
    if gc is not None:
        lines.append(f"- global check: at {len(summary['global_check']['points'])} anchor "
                     f"points the full (alpha, r) grid exceeds the squeezed cat's optimum by at "
                     f"most {100 * gc:+.3f} % (negative: the optimum is better than every grid "
                     "point)")
    return "\n".join(lines)


def _k(v) -> str:
    return f"{v:10.4g}"


def _s(v) -> str:
    v = float(v)
    return f"{v:.4f}" if np.isfinite(v) else "  -   "


def _write_data(ds, path: Path) -> list:
    write_netcdf(ds, path.with_suffix(".nc"))
    df = ds.to_dataframe().reset_index()
    units = {c: (ds[c].attrs.get("units", "") if c in ds.variables else "")
             for c in df.columns}
    with open(path.with_suffix(".csv"), "w") as fh:
        fh.write(csv_header(ds.attrs.get("title", path.stem), units) + "\n")
        df.to_csv(fh, index=False)
    return [path.with_suffix(".nc"), path.with_suffix(".csv")]


def write_results(res: dict, out, summary: dict | None = None) -> list:
    """Write the datasets (netCDF + CSV), figures (PNG + PDF, 300 dpi) and summary.json.

    Everything goes into the folder ``out`` (created).

    Parameters
    ----------
    res : dict
        The result of :func:`~catbell_qutip.codecompare.compute.compare_codes`.
    out : str or path-like
        Output folder.
    summary : dict, optional
        Its :func:`summarise` (computed if not given).

    Returns
    -------
    list of pathlib.Path
        The files written (``codes_key_rate``, ``codes_S_at_rate``, ``codes_map``
        .nc/.csv/.png/.pdf and summary.json).

    Examples
    --------
    Not run in the doctests (:func:`~catbell_qutip.codecompare.compute.compare_codes`
    takes minutes even with ``quick=True``; ``catbell codes`` runs this):

    >>> from catbell_qutip.codecompare import compare_codes
    >>> res = compare_codes(quick=True, workers=1)  # doctest: +SKIP
    >>> [p.name for p in write_results(res, "codes")][-1]  # doctest: +SKIP
    'summary.json'
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for k, stem in STEMS.items():
        files += _write_data(res[k], out / stem)
    files += plot_key_rate(res["key"], out / STEMS["key"])
    files += plot_S_at_rate(res["rate"], out / STEMS["rate"])
    files += plot_map(res["map"], out / STEMS["map"])
    summary = summarise(res) if summary is None else summary
    with open(out / "summary.json", "w") as fh:
        fh.write(dumps(summary, indent=1))
    files.append(out / "summary.json")
    return files
