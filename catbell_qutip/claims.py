"""The paper's claims C1-C10, answered from our numbers (docs/model.md section 6).

:func:`build_claims` turns the summary of :func:`catbell_qutip.reproduce.reproduce` into one
record per claim: the paper's statement, our value(s), the difference, a stated tolerance
with its reason, a verdict (``agrees`` / ``differs``) that follows from them, and a one-line
reason. Which model (encoder, eta_int placement) the numbers come from is identified from
the paper's own numbers in :mod:`catbell_qutip.identification`; the computations behind the
claims that differ (C8, C5/C6) live in :mod:`catbell_qutip.discrepancies`.
"""

from __future__ import annotations

import math

from .outputs import json_ready

__all__ = ["CLAIMS", "check_passes", "build_claims", "claims_markdown", "write_claims",
           "number_text"]


def number_text(v, fmt=".4g") -> str:
    """``v`` formatted with ``fmt``, or "none" for a missing or non-finite number.

    Parameters
    ----------
    v : float or None
        The number (any unit).
    fmt : str, optional
        A :func:`format` spec, default ".4g".

    Returns
    -------
    str

    Examples
    --------
    >>> number_text(0.123456), number_text(None), number_text(float("nan"))
    ('0.1235', 'none', 'none')
    """
    return "none" if v is None or not math.isfinite(v) else format(v, fmt)


# -- the claims table --------------------------------------------------------------------
#: claim -> (figure, the paper's statement quoted from docs/model.md section 6)
CLAIMS = {
    "C1": ("Fig. 2(a)", 'at 3000 Hz S(l=1) "consistently exceeds" S(l=0), and S(l=3) '
                        "exceeds S(l=1)"),
    "C2": ("Fig. 2(b)", "at 5 km l = 0 and l = 1 are very close; S saturates for t_c around "
                        "1e-3 to 1e-2 s"),
    "C3": ("Fig. 3(a),(d)", "at eta_int = 0.91 l = 3 still beats l = 0 and meets it at 5 km; at "
                            "0.87 l = 0 beats l = 3, and l = 1 beats l = 0 but meets it at 5 "
                            "km. Thresholds: eta_int = 0.91 (l = 3), 0.87 (l = 1)"),
    "C4": ("Fig. 3(b),(e)", "eta_c thresholds 0.67 (l = 3) and 0.62 (l = 1)"),
    "C5": ("Fig. 3(c)", "the linear-optics USD for l = 1 lowers S markedly even at eta_d = 1, "
                        "but l = 1 keeps a slight advantage over l = 0 for L < 10 km"),
    "C6": ("Fig. 3(f)", "at eta_d = 0.5, S(l = 1) matches S(l = 0)"),
    "C7": ("Fig. 3(g)", "with Table I, higher-loss codes give no advantage; S > 2 up to nearly "
                        "80 km"),
    "C8": ("Fig. 4(a)", "peak key rate nearly 6000 bit/s for l = 1 and about 2000 bit/s for "
                        "l = 0"),
    "C9": ("Fig. 4(b)", "Table I: l = 1 drops almost to zero, l = 0 stays around 25 bit/s"),
    "C10": ("Fig. 4(c)", "eta_uc = 0.2: about 100 bit/s"),
}

_THR = ("a threshold read off a figure, stated to two digits: +/-0.02")


def _check(quantity, ours, paper, kind, tol, unit, why):
    """One comparison. kind: "abs" |ours - paper| <= tol; "rel" |ours / paper - 1| <= tol;
    "log10" |log10(ours / paper)| <= tol; "ge" ours >= paper - tol; "le" ours <= paper + tol."""
    c = dict(quantity=quantity, ours=ours, paper=paper, unit=unit, kind=kind,
             tolerance=tol, tolerance_why=why)
    if ours is None or not math.isfinite(ours):
        c["difference"] = None
    elif kind == "rel":
        c["difference"] = ours / paper - 1.0
    elif kind == "log10":
        c["difference"] = math.log10(ours / paper) if ours > 0 else None
    else:
        c["difference"] = ours - paper
    c["passes"] = check_passes(c)
    return c


def check_passes(c: dict) -> bool:
    """Whether one check of a claim holds.

    Recomputed from ``ours``, ``paper``, ``kind`` and ``tolerance``; a missing number never
    passes. Kinds: "abs" |ours - paper| <= tol; "rel" |ours / paper - 1| <= tol; "log10"
    |log10(ours / paper)| <= tol; "ge" ours >= paper - tol; "le" ours <= paper + tol.

    Parameters
    ----------
    c : dict
        A check with keys ``ours`` (float or None), ``paper`` (float, same unit),
        ``kind`` (str) and ``tolerance`` (float, in the unit of ``paper``, or
        dimensionless for "rel" and in decades for "log10").

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        If ``kind`` is not one of abs, rel, log10, ge, le.

    Examples
    --------
    >>> check_passes(dict(ours=0.88, paper=0.87, kind="abs", tolerance=0.02))
    True
    >>> check_passes(dict(ours=None, paper=80.0, kind="rel", tolerance=0.1))
    False
    """
    ours, paper, tol, kind = c["ours"], c["paper"], c["tolerance"], c["kind"]
    if ours is None or not math.isfinite(ours):
        return False
    if kind == "abs":
        return abs(ours - paper) <= tol
    if kind == "rel":
        return abs(ours / paper - 1.0) <= tol
    if kind == "log10":
        return ours > 0 and abs(math.log10(ours / paper)) <= tol
    if kind == "ge":
        return ours >= paper - tol
    if kind == "le":
        return ours <= paper + tol
    raise ValueError(f"check kind must be abs, rel, log10, ge or le, got {kind!r}")


def _percent(d: float) -> str:
    """100 d to one decimal with its sign; a difference that rounds to zero is "+0.0" on
    either side (never "-0.0")."""
    return f"{round(100 * d, 1) + 0.0:+.1f}"


def build_claims(s: dict) -> list[dict]:
    """One record per claim C1-C10 from a ``catbell reproduce`` summary.

    Each record: ``id``, ``figure``, ``paper`` (the statement), ``checks`` (each with
    ``quantity``, ``ours``, ``paper``, ``unit``, ``kind``, ``tolerance``,
    ``tolerance_why``, ``difference``, ``passes``), ``ours`` and ``difference`` (one line
    each), ``verdict`` ("agrees" iff every check passes, else "differs") and ``reason``.

    Parameters
    ----------
    s : dict
        The summary of ``catbell reproduce`` (summary.json): number name -> value in the unit
        of its check (km, s, bit/s or dimensionless); missing keys count as missing numbers.

    Returns
    -------
    list of dict
        Ten records, C1 to C10.

    Examples
    --------
    With no numbers at all, every claim "differs" (a missing number never passes):

    >>> claims = build_claims({})
    >>> [c["id"] for c in claims][::3], {c["verdict"] for c in claims}
    (['C1', 'C4', 'C7', 'C10'], {'differs'})
    """
    g = s.get
    out = []

    def add(cid, checks, reason_agree, reason_differ):
        ok = all(c["passes"] for c in checks)
        out.append(dict(
            id=cid, figure=CLAIMS[cid][0], paper=CLAIMS[cid][1], checks=checks,
            ours="; ".join(f"{c['quantity']} = {number_text(c['ours'], '.5g')} {c['unit']}".rstrip()
                           for c in checks),
            difference="; ".join(
                f"{c['quantity']}: " + ("n/a" if c["difference"] is None else
                                        (f"{_percent(c['difference'])} %" if c["kind"] == "rel"
                                         else f"{c['difference']:+.3g} decade"
                                         if c["kind"] == "log10"
                                         else f"{c['difference']:+.4g} {c['unit']}".rstrip()))
                for c in checks),
            verdict="agrees" if ok else "differs",
            reason=reason_agree if ok else reason_differ))

    first = g("fig2a_order_holds_to_km")
    add("C1", [_check("L up to which S_3 > S_1 > S_0", first, 10.0, "ge", 0.0, "km",
                      "the paper's Figs. 2-3 plot L up to about 5-10 km (docs/model.md 6): "
                      "the order must hold to 10 km")],
        f"S_3 > S_1 > S_0 from 0 to {number_text(first)} km, beyond 10 km, the largest L the "
        "paper's Figs. 2-3 plot (our Fig. 2(a) runs on to show where the order breaks)",
        f"the order breaks at {number_text(first)} km, inside the 10 km the paper's Figs. 2-3 plot")
    add("C2", [_check("max |S_1 - S_0| over t_c, 5 km", g("fig2b_max_abs_S_l1_minus_l0"),
                      0.0, "le", 0.03, "",
                      "'very close' on a plot whose S axis spans about 0.8: 0.03"),
               _check("t_c where S_0 is 0.01 below its t_c = inf value",
                      g("fig2b_tc_saturation_s_l0"), math.sqrt(1e-3 * 1e-2), "log10", 0.5,
                      "s", "'around 1e-3 to 1e-2 s' on a log axis: the interval [1e-3, 1e-2] s "
                      "is its geometric centre 3.16e-3 s +/- 0.5 decade")],
        "the two codes stay within 0.03 and saturate inside 1e-3..1e-2 s",
        "outside the stated closeness or saturation range")
    thr = ("the threshold rule of docs/model.md 6 (S_l(5 km) = S_0(5 km), 3000 Hz) on the "
           "identified model")
    add("C3", [_check("eta_int threshold, l = 1", g("threshold_eta_int_l1"), 0.87, "abs",
                      0.02, "", _THR),
               _check("eta_int threshold, l = 3", g("threshold_eta_int_l3"), 0.91, "abs",
                      0.02, "", _THR)],
        f"both within 0.02: {thr}",
        "a threshold of the identified model is off by more than 0.02; model_table.md shows "
        "which encoder x placement meets C3 and what that costs C7, C9, C10")
    add("C4", [_check("eta_c threshold, l = 1", g("threshold_eta_c_l1"), 0.62, "abs", 0.02, "",
                      _THR),
               _check("eta_c threshold, l = 3", g("threshold_eta_c_l3"), 0.67, "abs", 0.02, "",
                      _THR)],
        f"both within 0.02: {thr}", "a threshold is off by more than 0.02")
    add("C5", [_check("S_1 - S_0 at 5 km, linear-optics USD, eta_d = 1",
                      _diff(g("fig3c_S_5km_l1"), g("fig3c_S_5km_l0")), 0.0, "ge", 0.0, "",
                      "'keeps a slight advantage': S_1 - S_0 > 0 (no tolerance: a sign)")],
        "l = 1 keeps its advantage with linear optics",
        f"our l = 1 linear-optics scheme (docs/model.md 3.5, not the paper's) succeeds "
        f"{number_text(g('c5_P_ratio_linear_to_tub_5km'), '.3f')} x the TUB at 5 km; "
        f"l = 1 would beat l = 0 at 5 km from {number_text(g('c5_f_needed_5km'), '.3f')} x, "
        "up to 10 km from "
        f"{number_text(g('c5_f_needed_10km'), '.3f')} x (`catbell thresholds --usd-factor`)")
    add("C6", [_check("S_1 - S_0 at 5 km, linear-optics USD, eta_d = 0.5",
                      _diff(g("fig3f_S_5km_l1"), g("fig3f_S_5km_l0")), 0.0, "abs", 0.02, "",
                      "'matches' on a plot whose S axis spans about 0.8: +/-0.02")],
        "S_1 matches S_0 within 0.02",
        f"our l = 1 linear-optics scheme succeeds "
        f"{number_text(g('c6_P_ratio_linear_to_tub_5km'), '.3f')} x the TUB at eta_d = 0.5; "
        "S_1 = S_0 at 5 km needs "
        f"{number_text(g('c6_f_needed_5km'), '.3f')} x (`catbell thresholds --usd-factor`)")
    add("C7", [_check("largest L with S >= 2.01, l = 0", g("fig3g_max_km_S_above_2.01_l0"),
                      80.0, "rel", 0.10, "km",
                      "'nearly 80 km' read off a log-length axis: +/-10 %"),
               _check("best l >= 1 length minus l = 0 length",
                      _diff(max(g("fig3g_max_km_S_above_2.01_l1") or 0.0,
                                g("fig3g_max_km_S_above_2.01_l3") or 0.0),
                            g("fig3g_max_km_S_above_2.01_l0")), 0.0, "le", 0.0, "km",
                      "'no advantage': no l >= 1 code reaches further (a sign)")],
        "l = 0 reaches furthest, near 80 km", "see the Fig. 3(g) numbers")
    add("C8", [_check("peak key rate, l = 0", g("fig4a_peak_l0"), 2000.0, "rel", 0.20,
                      "bit/s", "'about 2000': +/-20 % (t0 is calibrated on this number)"),
               _check("peak key rate, l = 1", g("fig4a_peak_l1"), 6000.0, "rel", 0.15,
                      "bit/s", "'nearly 6000': +/-15 %")],
        "both peaks as stated",
        "with one t0 for both codes peak(l = 1) / peak(l = 0) <= max P (1 - h - chi) ratio "
        f"{number_text(g('c8_key_fraction_l1'))} / {number_text(g('c8_key_fraction_l0'))} = "
        f"{number_text(g('c8_max_ratio_l1_l0'), '.3f')}, not 3; no t0 lifts l = 1 above "
        f"{number_text(g('c8_max_peak_l1_any_t0'), '.0f')} bit/s "
        "(`catbell thresholds --key-fractions`)")
    add("C9", [_check("peak key rate, l = 0", g("fig4b_peak_l0"), 25.0, "rel", 0.20, "bit/s",
                      "'around 25 bit/s': +/-20 %"),
               _check("peak key rate, l = 1", g("fig4b_peak_l1"), 0.0, "le", 2.5, "bit/s",
                      "'almost zero' on an axis scaled to the l = 0 peak: below 10 % of 25")],
        "l = 0 near 25 bit/s, l = 1 almost zero", "see the Fig. 4(b) numbers")
    add("C10", [_check("peak key rate, l = 0", g("fig4c_peak_l0"), 100.0, "rel", 0.20,
                       "bit/s", "'about 100 bit/s': +/-20 %")],
        "l = 0 near 100 bit/s", "see the Fig. 4(c) numbers")
    return out


def _diff(a, b):
    return None if a is None or b is None else a - b


def claims_markdown(claims) -> str:
    """The claims table as Markdown: claim, paper, ours, difference, tolerance, verdict.

    Parameters
    ----------
    claims : list of dict
        Records of :func:`build_claims`.

    Returns
    -------
    str
        A Markdown table: header, separator and one row per claim, ending in a newline.

    Examples
    --------
    >>> md = claims_markdown(build_claims({}))
    >>> len(md.splitlines()), md.startswith("| claim |")
    (12, True)
    """
    lines = ["| claim | paper (docs/model.md 6) | ours | difference | tolerance | verdict | "
             "reason |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for c in claims:
        # two checks with the same reason (C3, C4) state it once
        tol = "; ".join(dict.fromkeys(c2["tolerance_why"] for c2 in c["checks"]))
        cells = [f"{c['id']} {c['figure']}", c["paper"], c["ours"], c["difference"], tol,
                 f"**{c['verdict']}**", c["reason"]]
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
    return "\n".join(lines) + "\n"


def write_claims(claims, out) -> None:
    r"""claims.json (no NaN: null) and claims.md in folder ``out``.

    Parameters
    ----------
    claims : list of dict
        Records of :func:`build_claims`.
    out : str or path-like
        An existing folder; the two files are overwritten.

    Returns
    -------
    None

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     write_claims(build_claims({}), d)
    ...     sorted(p.name for p in pathlib.Path(d).iterdir()), \
    ...         len(json.loads((pathlib.Path(d) / "claims.json").read_text()))
    (['claims.json', 'claims.md'], 10)
    """
    import json
    from pathlib import Path

    out = Path(out)

    with open(out / "claims.json", "w") as fh:
        json.dump(json_ready(list(claims)), fh, indent=2, allow_nan=False)
    (out / "claims.md").write_text("# The paper's claims C1-C10, answered\n\n"
                                   + claims_markdown(claims))
