"""Fock-cutoff convergence against the truncation-free coherent engine.

Run ``python benchmarks/convergence.py [--out DIR] [--json] [--quick]`` or
``catbell bench convergence``. Two parts:

1. **Curves.** For l = 0, 1, 3 and alpha = 0.5, 1, 2, 3, 4 at one ideal point (eta = 0.3,
   ideal encoder, optimal USD), the errors |P_fock - P_coh|, |F_fock - F_coh|,
   |S_fock - S_coh| as functions of the cutoff (the Fock engine run at cutoff c with the
   truncation checks of ``simulate`` left out: :func:`_fock_at_cutoff`), and the default
   cutoff of the automatic rule. Written as ``convergence.csv`` and ``convergence.png``
   (log-scale error vs cutoff, one curve per alpha, the default cutoff marked).

2. **Validation of the automatic cutoff rule.** At the *default* cutoff, |delta S| (and
   |delta P|, |delta F|) over a grid that covers ``catbell reproduce``: every panel of
   :data:`catbell_qutip.reproduce.PANELS` with its presets and loss orders, its length
   range (or its length, and t_c for the memory panel), alpha from 0.02 to the panel's
   alpha_max; plus the ideal protocol (eta = 1, 0.5, 0.1, 0.01) for l = 0, 1, 3, both
   encoders and both USD variants. The rule passes if max |delta S| <= 1e-8.
   Written as ``convergence_validation.csv`` and ``convergence.json``.

Points the Fock engine refuses (P = 0, or P below its resolution floor for the linear-optics
USD) are skipped, counted, and listed with the coherent engine's P.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catbell_qutip import simulate  # noqa: E402
from catbell_qutip.cli._common import cli_text, staged_output  # noqa: E402
from catbell_qutip.outputs import dumps  # noqa: E402

__all__ = ["convergence_curves", "validation_points", "validate_rule", "run_convergence",
           "plot_curves", "main", "S_TOL"]

#: the bound the automatic cutoff must meet on S
S_TOL = 1e-8
CURVE_ORDERS = (0, 1, 3)
CURVE_ALPHAS = (0.5, 1.0, 2.0, 3.0, 4.0)
CURVE_ETA = 0.3
#: default output folder, relative to the current folder and git-ignored (the copies the
#: README shows are docs/bench/, refreshed with --out docs/bench on purpose)
DEFAULT_OUT = Path("results") / "bench"


def _fock_at_cutoff(l, cutoff, **kw):
    """The Fock engine at a fixed ``cutoff`` without the truncation checks of ``simulate``
    (whose ``tol`` must be in (0, 1)): a small cutoff is exactly what the curves show."""
    from types import SimpleNamespace

    from catbell_qutip.api import _fock_initial
    from catbell_qutip.params import ProtocolParams
    from catbell_qutip.protocol import run_protocol
    from catbell_qutip.result import herald, summarise

    params = ProtocolParams(loss_order=l, **kw)
    outcomes = run_protocol(params, _fock_initial(params, cutoff),
                            explicit=params.encoder == "explicit")
    P, rho = herald(outcomes)  # the engine runs a batch (of one point here)
    if not np.ravel(P)[0] > 0:
        return "P = 0"
    _, F, S, _ = summarise(rho, P)
    return SimpleNamespace(**{k: float(np.ravel(v)[0]) for k, v in (("P", P), ("F", F),
                                                                       ("S", S))})


def _fock(l, cutoff=None, **kw):
    try:
        if cutoff is not None:
            return _fock_at_cutoff(l, cutoff, **kw)
        r = simulate(l, engine="fock", **kw)
    except ValueError as exc:  # below the Fock engine's resolution floor
        return str(exc)
    return r if r.P > 0 else "P = 0"


def convergence_curves(orders=CURVE_ORDERS, alphas=CURVE_ALPHAS, eta=CURVE_ETA,
                       extra: int = 6) -> list[dict]:
    """Rows (l, alpha, eta, cutoff, default_cutoff, errors) for the convergence plot."""
    rows = []
    for l in orders:
        for a in alphas:
            ref = simulate(l, a, eta, engine="coherent")
            auto = simulate(l, a, eta, engine="fock")
            for c in range(l + 2, auto.cutoff + extra + 1):
                r = _fock(l, cutoff=c, alpha=a, eta=eta)
                err = ({k: abs(getattr(r, k) - getattr(ref, k)) for k in "PFS"}
                       if not isinstance(r, str) else dict.fromkeys("PFS", math.nan))
                rows.append({"loss_order": l, "alpha": a, "eta": eta, "cutoff": c,
                             "default_cutoff": auto.cutoff,
                             "err_P": err["P"], "err_F": err["F"], "err_S": err["S"]})
    return rows


def plot_curves(rows: list[dict], path: Path) -> None:
    """Log-scale error vs cutoff, one curve per alpha; rows l, columns P, F, S (300 dpi,
    the legend below the panels so it covers no curve)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    orders = sorted({r["loss_order"] for r in rows})
    alphas = sorted({r["alpha"] for r in rows})
    fig, axes = plt.subplots(len(orders), 3, figsize=(10, 2.6 * len(orders) + 0.6),
                             sharex="row", squeeze=False, layout="constrained")
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(alphas)))
    floor = 1e-17
    for i, l in enumerate(orders):
        for j, q in enumerate("PFS"):
            ax = axes[i, j]
            for a, col in zip(alphas, colors, strict=True):
                rr = [r for r in rows if r["loss_order"] == l and r["alpha"] == a]
                c = np.array([r["cutoff"] for r in rr])
                e = np.array([r[f"err_{q}"] for r in rr], dtype=float)
                ax.semilogy(c, np.maximum(e, floor), "-", color=col, lw=1.2)
                d = rr[0]["default_cutoff"]
                ed = e[c == d]
                if ed.size:
                    ax.plot([d], [max(ed[0], floor)], "o", color=col, ms=4)
            if q == "S":
                ax.axhline(S_TOL, color="red", lw=0.8, ls="--")
            ax.set_ylim(floor / 2, 2)
            ax.grid(alpha=0.3)
            ax.set_title(rf"$l = {l}$: $|{q}_\mathrm{{Fock}} - {q}_\mathrm{{coherent}}|$",
                         fontsize=9)
            if i == len(orders) - 1:
                ax.set_xlabel(r"Fock cutoff $n_\mathrm{max}$ (largest photon number)")
        axes[i, 0].set_ylabel("absolute error (1)")
    handles = [Line2D([], [], color=col, lw=1.2, label=rf"$|\alpha| = {a:g}$")
               for a, col in zip(alphas, colors, strict=True)]
    handles += [Line2D([], [], color="0.3", marker="o", ls="none", ms=4,
                       label="default (automatic) cutoff"),
                Line2D([], [], color="red", lw=0.8, ls="--",
                       label=rf"$S$ tolerance $10^{{{round(math.log10(S_TOL))}}}$")]
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5),
               fontsize=7, frameon=False)
    fig.suptitle(rf"Fock engine vs coherent engine, $\eta = {rows[0]['eta']:g}$", fontsize=10)
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=300)
    plt.close(fig)
    buf.seek(0)
    # a 256-colour palette keeps the committed figure small
    Image.open(buf).convert("RGB").quantize(256).save(path, optimize=True, dpi=(300, 300))


def _geom(lo, hi, n):
    return [float(v) for v in np.geomspace(lo, hi, n)]


def validation_points(n_alpha: int = 6, n_length: int = 5) -> tuple[list[dict], str]:
    """Parameter points covering ``catbell reproduce`` (see module docstring).

    Returns (points, source), each point a dict of ``simulate`` keyword arguments
    including ``loss_order`` and a ``group`` label.
    """
    pts = []
    try:
        from catbell_qutip.reproduce import PANELS, panel_fields
        source = "catbell_qutip.reproduce.PANELS (presets, loss orders, length ranges)"
    except ImportError:  # pragma: no cover - reproduce is part of the package now
        PANELS, panel_fields = (), None
        source = "fallback grid (catbell_qutip.reproduce not importable)"
    for panel in PANELS:
        fields = panel_fields(panel)
        alphas = _geom(0.02, panel.alpha_max, n_alpha)
        if panel.kind == "length":
            lo, hi = panel.length_km
            Ls = (_geom(lo, hi, n_length) if panel.log_x
                  else [float(v) for v in np.linspace(lo, hi, n_length)])
            extra = [{"length_km": L} for L in sorted(set(Ls) | {5.0})]
        elif panel.kind == "memory":
            extra = [{"length_km": panel.length_km[0], "t_c_s": tc}
                     for tc in _geom(1e-6, 1e-1, 3)]
        else:
            extra = [{"length_km": panel.length_km[0]}]
        for l in panel.loss_orders:
            for e in extra:
                for a in alphas:
                    pts.append(dict(fields, **e, loss_order=l, alpha=a, group=panel.name))
    if not PANELS:  # the grid the brief asks for, when reproduce is not there
        from catbell_qutip.params import preset
        for name in ("table1", "table1-uc0.2"):
            for l in (0, 1, 3):
                for L in (0.0, 5.0, 25.0, 50.0, 100.0):
                    for a in _geom(0.02, 4.0, n_alpha):
                        pts.append(dict(preset(name), loss_order=l, alpha=a, length_km=L,
                                        group=name))
    # the ideal protocol, both encoders, both USD variants
    for usd in ("tub", "linear"):
        for enc in ("ideal", "explicit"):
            for l in (0, 1, 3):
                etas = (1.0, 0.5, 0.1, 0.01) if not (usd == "linear" and l == 3) else (1.0, 0.1)
                na = n_alpha if not (usd == "linear" and l == 3) else 3
                for eta in etas:
                    for a in _geom(0.02, 4.0, na):
                        pts.append(dict(loss_order=l, alpha=a, eta=eta, usd=usd, encoder=enc,
                                        group=f"ideal-{usd}-{enc}"))
    return pts, source


def validate_rule(points: list[dict], progress: bool = False) -> list[dict]:
    """Fock at the default cutoff vs coherent at each point: rows with the errors."""
    rows = []
    for i, p in enumerate(points):
        kw = {k: v for k, v in p.items() if k not in ("group", "loss_order")}
        l = p["loss_order"]
        t = time.perf_counter()
        r = _fock(l, **kw)
        tf = time.perf_counter() - t
        row = {"group": p["group"], "loss_order": l, "alpha": p["alpha"],
               "eta": kw.get("eta", 1.0), "length_km": kw.get("length_km", 0.0),
               "t_c_s": kw.get("t_c_s", math.inf), "usd": kw.get("usd", "tub"),
               "encoder": kw.get("encoder", "ideal")}
        try:
            ref = simulate(l, engine="coherent", **kw)
        except ValueError:
            ref = None
        if isinstance(r, str):
            row.update(status="fock refused", message=r, cutoff=None,
                       P_coherent=None if ref is None else ref.P,
                       err_P=math.nan, err_F=math.nan, err_S=math.nan, fock_s=tf)
        else:
            row.update(status="ok", cutoff=r.cutoff, P=r.P, truncation_error=r.truncation_error,
                       err_P=abs(r.P - ref.P), err_F=abs(r.F - ref.F), err_S=abs(r.S - ref.S),
                       fock_s=tf)
        rows.append(row)
        if progress and (i + 1) % 100 == 0:
            print(f"  {i + 1}/{len(points)} points", file=sys.stderr, flush=True)
    return rows


def _write_csv(rows, path: Path) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6e}" if isinstance(v, float) else v) for k, v in r.items()})


def skipped_reasons(rows: list[dict]) -> list[dict]:
    """The Fock engine's refusals, one entry per kind of message (its numbers aside): how
    many points, the full message of the first, and the range of the Fock P it names."""
    kinds: dict[str, dict] = {}
    for r in rows:
        if r["status"] == "ok":
            continue
        key = re.sub(r"\d[\d.e+-]*", "#", r["message"])
        k = kinds.setdefault(key, {"points": 0, "example": r["message"], "P_fock": []})
        k["points"] += 1
        m = re.match(r"P = ([-+0-9.e]+)", r["message"])
        if m:
            k["P_fock"].append(float(m[1]))
    out = []
    for k in kinds.values():
        ps = k.pop("P_fock")
        k["P_fock_range"] = [min(ps), max(ps)] if ps else None
        out.append(k)
    return sorted(out, key=lambda k: -k["points"])


def summarise_validation(rows: list[dict], source: str) -> dict:
    ok = [r for r in rows if r["status"] == "ok"]
    worst = {}
    for q in "PFS":
        r = max(ok, key=lambda r, q=q: r[f"err_{q}"])
        worst[q] = {"max_abs_err": r[f"err_{q}"],
                    "at": {k: r[k] for k in ("group", "loss_order", "alpha", "eta", "length_km",
                                             "t_c_s", "usd", "encoder", "cutoff", "P")}}
    fails = [r for r in ok if r["err_S"] > S_TOL]
    by_group = {}
    for r in ok:
        g = by_group.setdefault(r["group"], {"points": 0, "max_err_S": 0.0})
        g["points"] += 1
        g["max_err_S"] = max(g["max_err_S"], r["err_S"])
    return {
        "grid_source": source,
        "points": len(rows), "evaluated": len(ok),
        "skipped": len(rows) - len(ok),
        "skipped_reasons": skipped_reasons(rows),
        "skipped_max_P_coherent": max((r["P_coherent"] or 0.0 for r in rows
                                       if r["status"] != "ok"), default=None),
        "S_tol": S_TOL, "rule_holds": not fails, "n_fail": len(fails),
        "fails": [{k: r[k] for k in ("group", "loss_order", "alpha", "eta", "length_km",
                                     "usd", "encoder", "cutoff", "P", "err_S")}
                  for r in sorted(fails, key=lambda r: -r["err_S"])[:20]],
        "worst": worst, "by_group": by_group,
        "fock_time_s": sum(r["fock_s"] for r in rows),
    }


def run_convergence(out=DEFAULT_OUT, *, quick: bool = False, progress: bool = False) -> dict:
    """Both parts; writes CSVs, the PNG and convergence.json to ``out``; returns the summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    curves = convergence_curves(alphas=(0.5, 2.0, 4.0) if quick else CURVE_ALPHAS,
                                extra=3 if quick else 6)
    _write_csv(curves, out / "convergence.csv")
    plot_curves(curves, out / "convergence.png")
    pts, source = validation_points(*((3, 3) if quick else (6, 5)))
    rows = validate_rule(pts, progress=progress)
    _write_csv(rows, out / "convergence_validation.csv")
    summary = summarise_validation(rows, source)
    summary["quick"] = quick
    summary["curves"] = {
        "eta": CURVE_ETA,
        "default_cutoffs": {f"l{r['loss_order']}_alpha{r['alpha']:g}": r["default_cutoff"]
                            for r in curves},
        "max_err_S_at_default": max(r["err_S"] for r in curves
                                    if r["cutoff"] == r["default_cutoff"]),
    }
    summary["files"] = ["convergence.csv", "convergence.png", "convergence_validation.csv",
                        "convergence.json"]
    summary["wall_s"] = time.perf_counter() - t0
    (out / "convergence.json").write_text(dumps(summary, indent=2) + "\n")
    return summary


def format_summary(s: dict) -> str:
    verdict = "HOLDS" if s["rule_holds"] else f"FAILS at {s['n_fail']} points"
    lines = [f"grid: {s['grid_source']}",
             f"points: {s['points']} ({s['evaluated']} evaluated, {s['skipped']} refused by "
             f"the Fock engine, coherent P there <= {s['skipped_max_P_coherent'] or 0:.2g})",
             *(f"  refused at {k['points']} point(s)"
               + (f" (Fock P from {k['P_fock_range'][0]:.2g} to {k['P_fock_range'][1]:.2g})"
                  if k["P_fock_range"] else "")
               # the library's message, in command-line terms (--engine coherent)
               + f", e.g.: {cli_text(k['example'], 'bench')}"
               for k in s["skipped_reasons"]),
             f"automatic cutoff rule, |delta S| <= {s['S_tol']:g} everywhere: "
             f"{verdict}"]
    for q, w in s["worst"].items():
        a = w["at"]
        lines.append(f"  max |delta {q}| = {w['max_abs_err']:.2e} at {a['group']}, "
                     f"l = {a['loss_order']}, alpha = {a['alpha']:.3g}, eta = {a['eta']:g}, "
                     f"L = {a['length_km']:g} km, cutoff = {a['cutoff']}, P = {a['P']:.2e}")
    for f in s["fails"][:10]:
        lines.append(f"  FAIL {f}")
    lines.append(f"curves (eta = {s['curves']['eta']}): max |delta S| at the default cutoff "
                 f"{s['curves']['max_err_S_at_default']:.2e}")
    lines.append(f"wrote {', '.join(s['files'])} to {s.get('out', '.')} in {s['wall_s']:.0f} s")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR",
                    help="output folder (default results/bench)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument("--quick", action="store_true", help="coarser curves and grid")
    ap.add_argument("--no-progress", action="store_true",
                    help="no progress lines on stderr (one per 100 points checked)")
    return run_cli(ap.parse_args(argv))


def run_cli(args) -> int:
    with staged_output(args.out) as stage:  # an interrupted run leaves no partial files
        s = run_convergence(stage, quick=args.quick,
                            progress=not (args.json or args.no_progress))
    s["out"] = str(args.out)
    print(dumps(s, indent=2) if args.json else format_summary(s))
    return 0 if s["rule_holds"] else 1


if __name__ == "__main__":
    sys.exit(main())
