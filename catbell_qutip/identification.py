"""Which model did the paper use? Identified from its own numbers (docs/model.md 3, 6).

docs/model.md section 3 ("Imperfections") leaves two choices that the paper does not state:
which reflections carry eta_int (``encoder``: "ideal", the paper's attempt of m + 2
reflections, or "explicit", plus Alice's m encoding rounds) and where eta_int acts
(``eta_int_placement``: "after", "before", "lumped"). :func:`model_table` computes, for each of
the six combinations, the seven numbers of :data:`MODEL_CLAIMS` that depend on them (the
eta_int and eta_c thresholds of C3/C4, and the l = 0 numbers behind C7, C9, C10), and
:func:`identify_model` picks the combination closest to the paper's stated values by
:func:`deviation`. The claims table itself is :mod:`catbell_qutip.claims`.
"""

from __future__ import annotations

import math

import numpy as np

from .claims import check_passes, number_text
from .keyrate import peak_key_rate
from .outputs import json_ready
from .paper import (
    ALPHA_MAX_FIG3G,
    ALPHA_MAX_FIG4,
    LENGTH_FIG4_KM,
    LENGTH_MAX_FIG3G_KM,
    RATE_FIG3G_HZ,
    S_LEVEL,
)
from .params import ENCODERS, ETA_INT_PLACEMENTS, merge_layers, preset
from .rates import S_vs_length
from .thresholds import max_length_above, threshold, thresholds

__all__ = ["MODEL_CLAIMS", "CRITERIA", "deviation", "identify_model", "model_numbers",
           "model_table", "within_tolerance", "MODEL_TOLERANCE", "model_table_markdown",
           "write_model_table", "threshold_tag"]

#: the numbers that depend on the model choice: key -> (claim, paper's value, unit, what)
MODEL_CLAIMS = {
    "threshold_eta_int_l1": ("C3", 0.87, "1", "eta_int threshold, l = 1"),
    "threshold_eta_int_l3": ("C3", 0.91, "1", "eta_int threshold, l = 3"),
    "threshold_eta_c_l1": ("C4", 0.62, "1", "eta_c threshold, l = 1"),
    "threshold_eta_c_l3": ("C4", 0.67, "1", "eta_c threshold, l = 3"),
    "fig3g_max_km_S_above_2.01_l0": ("C7", 80.0, "km",
                                      "largest L with S >= 2.01, l = 0, Table I, 3 Hz"),
    "fig4b_peak_l0": ("C9", 25.0, "bit/s", "Fig. 4(b) peak key rate, l = 0"),
    "fig4c_peak_l0": ("C10", 100.0, "bit/s", "Fig. 4(c) peak key rate, l = 0"),
}

#: the claims table's tolerance of each of those numbers: (kind, tolerance), see build_claims
MODEL_TOLERANCE = {"threshold_eta_int_l1": ("abs", 0.02), "threshold_eta_int_l3": ("abs", 0.02),
                   "threshold_eta_c_l1": ("abs", 0.02), "threshold_eta_c_l3": ("abs", 0.02),
                   "fig3g_max_km_S_above_2.01_l0": ("rel", 0.10),
                   "fig4b_peak_l0": ("rel", 0.20), "fig4c_peak_l0": ("rel", 0.20)}



def _ratios(row: dict) -> np.ndarray:
    return np.array([row[k] / MODEL_CLAIMS[k][1] if row.get(k) is not None else np.nan
                     for k in MODEL_CLAIMS])


def _relative(r):
    return float(np.sum(np.abs(r - 1.0)))


def _squared_log(r):
    return float(np.sum(np.log(r) ** 2))


def _max_relative(r):
    return float(np.max(np.abs(r - 1.0)))


#: name -> (function of the ratios ours/paper, description)
CRITERIA = {
    "relative": (_relative, "sum over claims of |ours / paper - 1|"),
    "squared-log": (_squared_log, "sum over claims of ln(ours / paper)^2"),
    "max-relative": (_max_relative, "max over claims of |ours / paper - 1|"),
}


def deviation(row: dict, criterion: str = "relative") -> float:
    """How far one model's numbers are from the paper's stated values (docs/model.md 6).

    The default criterion is the total relative deviation sum_k |ours_k / paper_k - 1| over
    the seven numbers of :data:`MODEL_CLAIMS`. Relative, because the claims have different
    units and scales (efficiencies near 0.9, a length of 80 km, key rates of 25 and 100
    bit/s): an absolute sum would be decided by the largest number, and each paper value is
    read off a figure to a similar relative precision. :data:`CRITERIA` also offers the sum
    of squared log-ratios and the largest relative deviation, to show that the choice does
    not hinge on the weighting.

    Parameters
    ----------
    row : dict
        One row of :func:`model_table` (or any dict with the keys of :data:`MODEL_CLAIMS`).
    criterion : {"relative", "squared-log", "max-relative"}
        See :data:`CRITERIA`.

    Returns
    -------
    float
        The deviation (dimensionless); ``inf`` if a number is missing (no crossing, or the
        rate unreachable), so a model that cannot produce a claim is never picked.

    Raises
    ------
    ValueError
        If ``criterion`` is not a key of :data:`CRITERIA`.

    Examples
    --------
    The paper's own numbers deviate by 0; a missing number by ``inf``; 10 % off on one
    number is 0.1 under "relative":

    >>> paper = {k: v[1] for k, v in MODEL_CLAIMS.items()}
    >>> deviation(paper), deviation(dict(paper, fig4b_peak_l0=None))
    (0.0, inf)
    >>> round(deviation(dict(paper, fig4c_peak_l0=110.0)), 6)
    0.1
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {sorted(CRITERIA)}, got {criterion!r}")
    r = _ratios(row)
    if not np.all(np.isfinite(r)) or np.any(r <= 0):
        return math.inf
    return CRITERIA[criterion][0](r)


def identify_model(rows, criterion: str = "relative") -> dict:
    """The encoder and eta_int placement whose numbers are closest to the paper's.

    Parameters
    ----------
    rows : list of dict
        :func:`model_table` rows (keys ``encoder``, ``eta_int_placement`` and those of
        :data:`MODEL_CLAIMS`).
    criterion : str
        A key of :data:`CRITERIA` (default "relative", see :func:`deviation`).

    Returns
    -------
    dict
        ``{"encoder": ..., "eta_int_placement": ...}`` of the row with the smallest
        deviation (ties: the first row).

    Raises
    ------
    ValueError
        If ``criterion`` is not a key of :data:`CRITERIA`.

    Examples
    --------
    >>> paper = {k: v[1] for k, v in MODEL_CLAIMS.items()}
    >>> rows = [dict(paper, encoder="ideal", eta_int_placement="after", fig4b_peak_l0=30.0),
    ...         dict(paper, encoder="explicit", eta_int_placement="before")]
    >>> identify_model(rows)
    {'encoder': 'explicit', 'eta_int_placement': 'before'}
    """
    best = min(rows, key=lambda row: _sort_key(row, criterion))
    return {"encoder": best["encoder"], "eta_int_placement": best["eta_int_placement"]}


def _sort_key(row, criterion):
    """Deviation by ``criterion``; ties (e.g. the largest deviation set by a claim that does
    not depend on the encoder) are broken by the default "relative" criterion."""
    return (deviation(row, criterion), deviation(row, "relative"))


def within_tolerance(row: dict) -> int:
    """How many of the seven numbers of a model row meet the claims table's tolerance.

    Parameters
    ----------
    row : dict
        A :func:`model_table` row (or any dict with keys of :data:`MODEL_CLAIMS`; missing
        keys fail their check).

    Returns
    -------
    int
        Between 0 and 7 (tolerances: :data:`MODEL_TOLERANCE`).

    Examples
    --------
    >>> paper = {k: v[1] for k, v in MODEL_CLAIMS.items()}
    >>> within_tolerance(paper), within_tolerance(dict(paper, threshold_eta_c_l1=0.7))
    (7, 6)
    """
    return sum(check_passes(dict(ours=row.get(k), paper=MODEL_CLAIMS[k][1], kind=kind,
                                 tolerance=tol)) for k, (kind, tol) in MODEL_TOLERANCE.items())


def threshold_tag(key: str, encoder: str, placement: str) -> tuple:
    """The key of a threshold in :func:`model_numbers`' cache.

    An eta_c threshold does not depend on the eta_int placement (eta_int = 1 there: no loss
    at any reflection, and a loss of 1 is skipped, so every placement gives the same
    number to the last bit); the eta_int thresholds depend on both choices.

    Parameters
    ----------
    key : str
        A threshold key of :data:`MODEL_CLAIMS` (``"threshold_eta_c_l1"``, ...).
    encoder, placement : str
        The model.

    Returns
    -------
    tuple
        ``(key, encoder)`` for eta_c, ``(key, encoder, placement)`` otherwise.

    Examples
    --------
    >>> threshold_tag("threshold_eta_c_l1", "ideal", "lumped")
    ('threshold_eta_c_l1', 'ideal')
    >>> threshold_tag("threshold_eta_int_l3", "ideal", "lumped")
    ('threshold_eta_int_l3', 'ideal', 'lumped')
    """
    if key.startswith("threshold_eta_c_"):
        return (key, encoder)
    return (key, encoder, placement)


def model_numbers(encoder: str, placement: str, *, t0_s: float, engine: str = "coherent",
                  n_threshold: int = 25, n_scan: int = 24, n_length: int = 30,
                  n_alpha: int = 200, length_tol_km: float = 1e-3,
                  cache: dict | None = None) -> dict:
    """The seven numbers of :data:`MODEL_CLAIMS` for one encoder and eta_int placement.

    - C3/C4: :func:`catbell_qutip.thresholds.threshold` at 5 km and 3000 Hz, every other
      imperfection ideal (preset ``repro-base`` with this encoder and placement);
    - C7: the largest L with S >= 2.01 for l = 0 with Table I at 3 Hz (preset
      ``repro-fig3g``). S >= 2.01 and not S > 2: at a fixed rate S(L) only approaches 2
      (F > 1/2 while any light arrives), so S > 2 holds up to where the rate becomes
      unreachable, a property of P alone; a curve read off a plot is "above 2" when it is
      visibly above it, and 0.01 is about 1 % of the plotted S range. Both are reported by
      ``catbell reproduce``;
    - C9/C10: the l = 0 peak key rates of Fig. 4(b)/(c) at 10 km with ``t0_s``.

    Parameters
    ----------
    encoder : {"ideal", "explicit"}
    placement : {"after", "before", "lumped"}
    t0_s : float
        Fig. 4 repetition time in s (calibrated from Fig. 4(a), which has no eta_int, so it
        is the same for every model).
    engine : {"coherent", "fock"}
    n_threshold, n_scan, n_length, n_alpha : int
        Threshold grid, alpha scan of the rate solver, l = 0 length grid on [10, 150] km
        (log), alpha scan of the key-rate peak.
    length_tol_km : float
        Tolerance of the C7 length, km.
    cache : dict or None
        Shared between calls to skip numbers another combination already gave exactly: the
        eta_c thresholds do not depend on the placement (eta_int = 1 there, no loss at any
        reflection) and the l = 0 numbers not on the encoder (l = 0 has no encoding rounds).

    Returns
    -------
    dict
        ``encoder``, ``eta_int_placement`` and the keys of :data:`MODEL_CLAIMS` (None where
        a number does not exist).

    Examples
    --------
    Not run in the doctests (thresholds, a rate solve and two key-rate peaks take
    minutes); ``catbell reproduce`` writes the results to model_table.md:

    >>> row = model_numbers("ideal", "after", t0_s=1e-4)  # doctest: +SKIP
    >>> sorted(row) == sorted(["encoder", "eta_int_placement", *MODEL_CLAIMS])  # doctest: +SKIP
    True
    """
    model = {"encoder": encoder, "eta_int_placement": placement}
    row = dict(model)
    cache = {} if cache is None else cache
    base = merge_layers(preset("repro-base"), model)
    for key in list(MODEL_CLAIMS)[:4]:
        param, l = key.split("_l")
        tag = threshold_tag(key, encoder, placement)
        if tag not in cache:
            cache[tag] = threshold(param.removeprefix("threshold_"), int(l), engine=engine,
                                   n_grid=n_threshold, n_scan=n_scan, **base).value
        row[key] = cache[tag]
    if ("l0", placement) in cache:
        row.update(cache["l0", placement])
        return row
    f3g = merge_layers(preset("repro-fig3g"), model)
    L = np.geomspace(10.0, LENGTH_MAX_FIG3G_KM, n_length)
    fig3g = dict(rate_hz=RATE_FIG3G_HZ, engine=engine, alpha_max=ALPHA_MAX_FIG3G, n_scan=n_scan)
    S = S_vs_length(0, fig3g["rate_hz"], L, **{k: v for k, v in fig3g.items() if k != "rate_hz"},
                    **f3g)["S"].values
    row["fig3g_max_km_S_above_2.01_l0"], _ = max_length_above(
        0, S_LEVEL, L, S, tol_km=length_tol_km, **fig3g, **f3g)
    for fig in ("fig4b", "fig4c"):
        f = merge_layers(preset(f"repro-{fig}"), model, {"t0_s": t0_s})
        a, k = peak_key_rate(0, alpha_max=ALPHA_MAX_FIG4, n_scan=n_alpha, engine=engine,
                             length_km=LENGTH_FIG4_KM, **f)
        row[f"{fig}_peak_l0"] = k if math.isfinite(a) else None
    cache["l0", placement] = {k: row[k] for k in list(MODEL_CLAIMS)[4:]}
    return row


def _fill_thresholds(cache: dict, kwargs: dict) -> None:
    """Compute every threshold of the table that ``cache`` lacks, all at once
    (:func:`catbell_qutip.thresholds.thresholds`: their refining solves run in lockstep,
    each giving bit for bit what :func:`model_numbers` would compute alone)."""
    engine = kwargs.get("engine", "coherent")
    n_grid, n_scan = kwargs.get("n_threshold", 25), kwargs.get("n_scan", 24)
    todo = {}
    for enc in ENCODERS:
        for pl in ETA_INT_PLACEMENTS:
            for key in list(MODEL_CLAIMS)[:4]:
                tag = threshold_tag(key, enc, pl)
                if tag not in cache and tag not in todo:
                    param, l = key.split("_l")
                    todo[tag] = dict(merge_layers(preset("repro-base"), {
                        "encoder": enc, "eta_int_placement": pl}),
                        parameter=param.removeprefix("threshold_"), loss_order=int(l))
    if todo:
        found = thresholds(list(todo.values()), engine=engine, n_grid=n_grid, n_scan=n_scan)
        cache.update({tag: th.value for tag, th in zip(todo, found, strict=True)})


def model_table(*, t0_s: float, progress=None, cache: dict | None = None,
                **kwargs) -> list[dict]:
    """:func:`model_numbers` for every encoder x placement, with deviations and picks.

    Parameters
    ----------
    t0_s : float
        Fig. 4 repetition time, s.
    progress : callable or None
        Called once per combination (e.g. a tqdm bar's ``update``).
    cache : dict or None
        :func:`model_numbers`' cache, possibly holding thresholds computed elsewhere with
        the same arguments (``catbell reproduce`` passes those of its threshold table,
        keyed by :func:`threshold_tag`); None starts empty.
    **kwargs
        Grids and engine of :func:`model_numbers`.

    Returns
    -------
    list of dict
        One row per combination: its numbers, ``deviation`` (dict criterion -> value),
        ``rank`` (dict criterion -> 1 for the best) and ``picked`` (dict criterion -> bool).

    Examples
    --------
    Not run in the doctests (six :func:`model_numbers` calls take minutes):

    >>> rows = model_table(t0_s=1e-4)  # doctest: +SKIP
    >>> len(rows), sum(r["picked"]["relative"] for r in rows)  # doctest: +SKIP
    (6, 1)
    """
    rows = []
    cache = {} if cache is None else cache
    _fill_thresholds(cache, kwargs)
    for enc in ENCODERS:
        for pl in ETA_INT_PLACEMENTS:
            rows.append(model_numbers(enc, pl, t0_s=t0_s, cache=cache, **kwargs))
            if progress is not None:
                progress()
    for row in rows:
        row["deviation"] = {c: deviation(row, c) for c in CRITERIA}
        row["within_tolerance"] = within_tolerance(row)
    for c in CRITERIA:
        pick = identify_model(rows, c)
        order = sorted(rows, key=lambda r: _sort_key(r, c))
        for row in rows:
            row.setdefault("rank", {})[c] = order.index(row) + 1
            row.setdefault("picked", {})[c] = (
                row["encoder"] == pick["encoder"]
                and row["eta_int_placement"] == pick["eta_int_placement"])
    return rows


def model_table_markdown(rows) -> str:
    """The model table as Markdown (numbers, deviations, ranks; the pick in bold).

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`model_table` (with ``deviation``, ``rank``, ``picked`` and
        ``within_tolerance``).

    Returns
    -------
    str
        The table (a header, a separator, the paper's row, one row per model) and a
        paragraph naming the pick.

    Examples
    --------
    >>> paper = {k: v[1] for k, v in MODEL_CLAIMS.items()}
    >>> rows = [dict(paper, encoder="ideal", eta_int_placement="after",
    ...              deviation={c: 0.0 for c in CRITERIA}, rank={c: 1 for c in CRITERIA},
    ...              picked={c: True for c in CRITERIA}, within_tolerance=7)]
    >>> md = model_table_markdown(rows)
    >>> md.startswith("| encoder | placement |"), "**0.0000 (#1)**" in md
    (True, True)
    """
    head = ["encoder", "placement"] + [f"{MODEL_CLAIMS[k][0]}: {MODEL_CLAIMS[k][3]}"
                                       for k in MODEL_CLAIMS] + [
        f"{c} ({CRITERIA[c][1]})".replace("|", "\\|") for c in CRITERIA] + [
        f"numbers within the claims' tolerance (of {len(MODEL_CLAIMS)})"]
    paper = (["paper", ""] + [f"{MODEL_CLAIMS[k][1]:g}" for k in MODEL_CLAIMS] + ["0"] * 3
             + [f"{len(MODEL_CLAIMS)}"])
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head),
             "| " + " | ".join(paper) + " |"]
    for row in rows:
        cells = [row["encoder"], row["eta_int_placement"]]
        cells += [number_text(row[k]) for k in MODEL_CLAIMS]
        for c in CRITERIA:
            cell = f"{number_text(row['deviation'][c], '.4f')} (#{row['rank'][c]})"
            cells.append(f"**{cell}**" if row["picked"][c] else cell)
        cells.append(str(row["within_tolerance"]))
        lines.append("| " + " | ".join(cells) + " |")
    pick = identify_model(rows)
    same = all(identify_model(rows, c) == pick for c in CRITERIA)
    lines += ["", f"Picked (criterion `relative`, {CRITERIA['relative'][1]}): encoder = "
              f"\"{pick['encoder']}\", eta_int_placement = \"{pick['eta_int_placement']}\". "
              + ("Every other criterion picks the same combination." if same else
                 "Other criteria pick differently: " + ", ".join(
                     f"{c}: {identify_model(rows, c)}" for c in CRITERIA)),
              "Ties (equal deviation) go to the smaller `relative` deviation. Tolerances: "
              "thresholds +/-0.02, C7 +/-10 %, C9 and C10 +/-20 % (claims.md).", ""]
    return "\n".join(lines)


def write_model_table(rows, out) -> None:
    """model_table.json, model_table.md and model_table.csv in folder ``out``.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`model_table`.
    out : str or path-like
        An existing folder; the three files are overwritten.

    Returns
    -------
    None

    Examples
    --------
    >>> paper = {k: v[1] for k, v in MODEL_CLAIMS.items()}
    >>> rows = [dict(paper, encoder="ideal", eta_int_placement="after",
    ...              deviation={c: 0.0 for c in CRITERIA}, rank={c: 1 for c in CRITERIA},
    ...              picked={c: True for c in CRITERIA}, within_tolerance=7)]
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     write_model_table(rows, d)
    ...     sorted(p.name for p in pathlib.Path(d).iterdir())
    ['model_table.csv', 'model_table.json', 'model_table.md']
    """
    import json
    from pathlib import Path

    out = Path(out)
    clean = json_ready(rows)
    doc = {"paper": {k: MODEL_CLAIMS[k][1] for k in MODEL_CLAIMS},
           "units": {k: MODEL_CLAIMS[k][2] for k in MODEL_CLAIMS},
           "criteria": {c: CRITERIA[c][1] for c in CRITERIA},
           "picked": identify_model(rows), "rows": clean}
    with open(out / "model_table.json", "w") as fh:
        json.dump(doc, fh, indent=2, allow_nan=False)
    (out / "model_table.md").write_text(
        "# Which model did the paper use? (docs/model.md 3, 6)\n\n" + model_table_markdown(rows))
    with open(out / "model_table.csv", "w") as fh:
        fh.write("# units: " + ", ".join(f"{k} [{MODEL_CLAIMS[k][2]}]" for k in MODEL_CLAIMS)
                 + "; deviation_* [1]\n")
        fh.write(",".join(["encoder", "eta_int_placement", *MODEL_CLAIMS]
                          + [f"deviation_{c}" for c in CRITERIA]
                          + [f"picked_{c}" for c in CRITERIA]) + "\n")
        for row in clean:
            vals = [row["encoder"], row["eta_int_placement"]]
            vals += ["" if row[k] is None else f"{row[k]:.8g}" for k in MODEL_CLAIMS]
            vals += ["" if row["deviation"][c] is None else f"{row['deviation'][c]:.8g}"
                     for c in CRITERIA]
            vals += [str(row["picked"][c]).lower() for c in CRITERIA]
            fh.write(",".join(vals) + "\n")
