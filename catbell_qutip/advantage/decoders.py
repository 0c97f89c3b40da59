"""What the per-record ml decoder changes against smallest-loss, in the reproduction's
settings (docs/model.md section 3, step 6)."""

from __future__ import annotations

import numpy as np

from ..keyrate import peak_key_rate
from ..panels import calibrate_t0
from ..paper import (
    ALPHA_MAX_FIG3G,
    ALPHA_MAX_FIG4,
    LENGTH_FIG4_KM,
    LENGTH_MAX_FIG3G_KM,
    LENGTH_THRESHOLD_KM,
    RATE_FIG3G_HZ,
    RATE_FIG23_HZ,
    S_LEVEL,
)
from ..params import merge_layers, preset
from ..rates import S_vs_length
from ..thresholds import max_length_above, threshold
from .settings import REPRO_PRESET, _bar

__all__ = ["DECODERS", "decoder_table", "decoder_table_markdown"]

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
      (c) ``table1-uc0.2``, at the t0 of :func:`catbell_qutip.panels.calibrate_t0`
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

    Examples
    --------
    Minutes of thresholds and scans, so not run here; every row has one value per decoder:

    >>> table = decoder_table(quick=True)  # doctest: +SKIP
    >>> all(set(DECODERS) <= set(row) for row in table["rows"])  # doctest: +SKIP
    True
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
                th = threshold(p, l, length_km=LENGTH_THRESHOLD_KM, rate_hz=RATE_FIG23_HZ,
                               engine=engine,
                               encoder=encoder, n_grid=g["n_grid"],
                               **dict(th_fixed, decoder=d))
                vals[d] = th.value
                if th.value is None:
                    notes[d] = th.message
                bar.update()
            row(f"{p} threshold ({LENGTH_THRESHOLD_KM:g} km, {RATE_FIG23_HZ:g} Hz)", "1", l,
                vals, notes)
    # Fig. 3(g)
    f3g = merge_layers(base, preset("table1"))
    L = np.geomspace(0.1, LENGTH_MAX_FIG3G_KM, g["n_length"])
    fig3g = dict(engine=engine, alpha_max=ALPHA_MAX_FIG3G, n_scan=g["n_scan"])
    for l in (0, 1, 3):
        vals, notes = {}, {}
        for d in decoders:
            f = dict(f3g, decoder=d)
            S = S_vs_length(l, RATE_FIG3G_HZ, L, **fig3g, **f)["S"].values
            v, note = max_length_above(l, S_LEVEL, L, S, rate_hz=RATE_FIG3G_HZ,
                                       tol_km=g["tol"], **fig3g, **f)
            vals[d] = v
            if v is None or "lower bound" in note:
                notes[d] = note
            bar.update()
        row(f"Fig. 3(g): largest L with S >= {S_LEVEL:g} (Table I, {RATE_FIG3G_HZ:g} Hz)",
            "km", l, vals, notes)
    cal = calibrate_t0(engine=engine, n_alpha=g["n_alpha"])
    t0 = cal["t0_s"]
    bar.update()
    for panel, layers in (("4(a) channel loss only", ()), ("4(b) Table I", ("table1",)),
                          ("4(c) Table I, eta_uc = 0.2", ("table1-uc0.2",))):
        f = merge_layers(base, *(preset(n) for n in layers), {"t0_s": t0})
        for l in (0, 1):
            vals, alphas = {}, {}
            for d in decoders:
                a, k = peak_key_rate(l, alpha_max=ALPHA_MAX_FIG4, n_scan=g["n_alpha"],
                                     engine=engine, length_km=LENGTH_FIG4_KM,
                                     **dict(f, decoder=d))
                vals[d], alphas[d] = k, (None if not np.isfinite(a) else a)
                bar.update()
            row(f"Fig. {panel}: peak key rate ({LENGTH_FIG4_KM:g} km)", "bit/s", l, vals,
                {d: f"alpha = {alphas[d]:.4f}" if alphas[d] is not None else "no key"
                 for d in decoders})
    bar.close()
    settings = {k: v for k, v in base.items() if k != "decoder"}
    return {"settings": settings, "engine": engine, "quick": bool(quick), "t0_s": t0,
            "t0_note": cal["note"], "decoders": list(decoders), "rows": rows}


def decoder_table_markdown(table: dict) -> str:
    """The result of :func:`decoder_table` as a Markdown table.

    Parameters
    ----------
    table : dict
        A :func:`decoder_table` result (``decoders``, ``rows``, ``settings``, ``engine``,
        ``t0_s`` in s).

    Returns
    -------
    str
        One row per quantity (bit/s to 0.1 or 0.001, km to 0.01, dimensionless to 1e-4;
        "none" where there is no value), then a line with the settings.

    Examples
    --------
    >>> table = {"decoders": ["smallest-loss", "ml"], "engine": "coherent", "t0_s": 1e-4,
    ...          "settings": {"usd": "tub"},
    ...          "rows": [{"quantity": "eta_c threshold", "unit": "1", "loss_order": 1,
    ...                    "values": {"smallest-loss": 0.5, "ml": None}, "notes": {}}]}
    >>> print(decoder_table_markdown(table).splitlines()[2])
    | eta_c threshold | 1 | 0.5000 | none |  |
    """
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
