"""``catbell finite-key``: the finite-size DI-QKD key (docs/finite-key.md).

Three uses, combinable with ``--out``:

- measured statistics: ``--S 2.677 --Q 0.0144 --rounds 1.5e6`` prints the key length and
  every input it assumed;
- a simulated point: ``--loss-order 0 --alpha 0.7 --length-km 10 --rounds 1e9`` (any
  protocol flag, preset or config) adds the time to the first key and, with ``--hours``,
  the key after that long;
- ``--out DIR``: the figures and data of :func:`catbell_qutip.finitekey.write_outputs`
  (key per round against n at the paper's Fig. 4 points, shortest run against distance).
"""

from __future__ import annotations

import math
import sys
import time

from ..finitekey import (
    EC_EFFICIENCY,
    EC_MARGIN,
    EPS_COMPLETENESS,
    EPS_SOUND,
    FIG4_PANELS,
    HeraldError,
    check_bound_options,
    check_output_options,
    finite_key,
    finite_key_at,
    write_outputs,
)
from ..finitekey.figure import LENGTH_MAX_KM
from ..formulas import S_MAX
from ..outputs import dumps, json_ready
from ..params import resolve_params
from . import summary
from ._common import add_param_flags, check_out_dir, layers_from_args, staged_output

__all__ = ["add_parser", "run"]


def add_parser(sub):
    p = sub.add_parser(
        "finite-key", help=summary("finite-key"),
        description="Secure key length of n heralded rounds of the CHSH DI-QKD protocol "
                    "under the entropy-accumulation bound of Nadlinger et al., Nature 607, "
                    "682 (2022), Suppl. Prop. 2 (docs/finite-key.md), with the test fraction "
                    "and the proof's parameters optimised. Give measured statistics (--S, --Q, "
                    "--rounds), or a simulated point (--loss-order, --alpha and any protocol "
                    "flag, with --rounds and/or --hours), and/or --out DIR for the figures.")
    g = p.add_argument_group("measured statistics")
    g.add_argument("--S", metavar="S", help=f"CHSH value, in (2, {float(S_MAX):.6g}]")
    g.add_argument("--Q", metavar="Q", help="bit-error rate of the key rounds, in [0, 0.5]")
    g = p.add_argument_group("run length")
    g.add_argument("--rounds", metavar="N",
                   help="heralded rounds n, a whole number >= 1 (1.5e6 is fine)")
    g.add_argument("--hours", metavar="T",
                   help="run time in hours (simulated point): n = floor(R_eg T 3600)")
    g = p.add_argument_group("security and error correction")
    g.add_argument("--eps-sound", default=repr(EPS_SOUND), metavar="EPS",
                   help=f"soundness error, in (0, 1) (default {EPS_SOUND:g})")
    g.add_argument("--eps-completeness", default=repr(EPS_COMPLETENESS), metavar="EPS",
                   help="largest honest abort probability of the Bell test, in (0, 1) "
                        f"(default {EPS_COMPLETENESS:g})")
    g.add_argument("--ec-efficiency", default=repr(EC_EFFICIENCY), metavar="F",
                   help="error-correction efficiency f in [1, 10]: syndrome = f n H(A|B) + "
                        f"{EC_MARGIN:g} sqrt(n) (default {EC_EFFICIENCY:g})")
    g.add_argument("--gamma", metavar="G",
                   help="fixed test-round probability in (0, 1) (default: optimised)")
    g = p.add_argument_group("figures (--out)")
    g.add_argument("--out", metavar="DIR",
                   help="write key_vs_rounds and run_time_vs_distance figures (PNG 300 dpi, "
                        "PDF) and data (netCDF, CSV) into DIR")
    g.add_argument("--panels", nargs="+", default=list(FIG4_PANELS), choices=FIG4_PANELS,
                   metavar="NAME", help="which of the paper's Fig. 4 points "
                                        f"({', '.join(FIG4_PANELS)}; default all)")
    g.add_argument("--num-rounds", default="41", metavar="K",
                   help="numbers of rounds from 1e4 to 1e12 in the key figure (default 41)")
    g.add_argument("--num-lengths", default="12", metavar="K",
                   help="fibre lengths from KM/K to KM in the run-time figure (default 12)")
    g.add_argument("--length-max-km", default=f"{LENGTH_MAX_KM:g}", metavar="KM",
                   help=f"largest fibre length of the run-time figure (default "
                        f"{LENGTH_MAX_KM:g})")
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--engine", choices=["coherent", "fock"], default="coherent",
                   help="engine of simulated points (default coherent)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_param_flags(p)
    return p


def _number(text, flag):
    """The number a flag's text spells; its range is the API's to check (catbell's
    cli_message names the flag in the API's refusal)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{flag} must be a number, got {text!r}") from None


def _options(args) -> dict:
    """The bound's options given on the command line (parsed, not checked)."""
    opts = {"eps_sound": _number(args.eps_sound, "--eps-sound"),
            "eps_completeness": _number(args.eps_completeness, "--eps-completeness"),
            "ec_efficiency": _number(args.ec_efficiency, "--ec-efficiency")}
    if args.gamma is not None:
        opts["gamma"] = _number(args.gamma, "--gamma")
    return opts


def _mode(args, layers) -> str | None:
    measured = args.S is not None or args.Q is not None
    simulated = any("loss_order" in layer or "alpha" in layer for layer in layers)
    if measured and simulated:
        raise ValueError("give either measured statistics (--S, --Q) or a simulated point "
                         "(--loss-order, --alpha), not both")
    if measured:
        if args.S is None or args.Q is None:
            raise ValueError("measured statistics need both --S and --Q (and --rounds)")
        if args.rounds is None:
            raise ValueError("give --rounds N, the number of heralded rounds measured")
        if args.hours is not None:
            raise ValueError("--hours needs a simulated point (its R_eg); with measured "
                             "statistics give --rounds")
        return "measured"
    if simulated:
        for field, flag in (("loss_order", "--loss-order"), ("alpha", "--alpha")):
            if not any(field in layer for layer in layers):
                raise ValueError(f"a simulated point needs {flag} (or {field} in "
                                 "--config FILE.toml)")
        if args.rounds is None and args.hours is None:
            raise ValueError("give --rounds N and/or --hours T for the simulated point")
        return "simulated"
    if args.rounds is not None or args.hours is not None:
        raise ValueError("--rounds/--hours need measured statistics (--S, --Q) or a "
                         "simulated point (--loss-order, --alpha)")
    if args.out is None:
        raise ValueError("give --S, --Q and --rounds (measured statistics), or --loss-order, "
                         "--alpha and --rounds/--hours (a simulated point), or --out DIR "
                         "(the figures)")
    return None


def _key_fields(key, n) -> dict:
    """The JSON fields of one key (None: no key because S <= 2)."""
    if key is None:
        return {"rounds": n, "key_length_bits": 0, "key_per_round": 0.0,
                "dominant_loss": None, "losses_bits": None, "params": None}
    d = key.to_dict()
    return {"rounds": n, "key_length_bits": d["key_length_bits"],
            "key_per_round": d["key_per_round"], "dominant_loss": d["dominant_loss"],
            "losses_bits": d["losses_bits"], "params": d["params"]}


def run(args) -> int:
    layers = layers_from_args(args)
    mode = _mode(args, layers)
    # the command line parses text; every range is checked by the API, before any work
    opts = _options(args)
    check_bound_options(**opts)
    rounds = _number(args.rounds, "--rounds") if args.rounds is not None else None
    hours = _number(args.hours, "--hours") if args.hours is not None else None
    out_dir = check_out_dir(args.out) if args.out is not None else None
    figure = None
    if out_dir is not None:
        figure = check_output_options(
            panels=args.panels, engine=args.engine,
            num_rounds=_number(args.num_rounds, "--num-rounds"),
            num_lengths=_number(args.num_lengths, "--num-lengths"),
            length_max_km=_number(args.length_max_km, "--length-max-km"))
    result: dict = {"mode": mode}
    if mode == "measured":
        S, Q = _number(args.S, "--S"), _number(args.Q, "--Q")
        key = finite_key(rounds, S, Q, **opts)
        result.update(S=key.S, Q=key.Q, asymptotic_key_per_round=key.asymptotic_key_per_round,
                      **_key_fields(key, key.n), inputs=key.inputs)
    elif mode == "simulated":
        params = resolve_params(*layers)
        gamma = opts.pop("gamma", None)
        eps = {k: opts.pop(k) for k in ("eps_sound", "eps_completeness")}
        bound_options = dict(opts, **({"gamma": gamma} if gamma is not None else {}))
        try:
            r = finite_key_at(params=params, engine=args.engine, rounds=rounds, hours=hours,
                              bound_options=bound_options, **eps)
        except HeraldError:
            raise ValueError(f"no attempt heralds at --alpha {float(params.alpha):g} with "
                             "these transmissions (P = 0): no rounds, no key; give --alpha > 0 "
                             "and efficiencies > 0") from None
        if hours is not None and r["R_eg_hz"] is None:
            raise ValueError("--hours needs a rate, undefined at --length-km 0 with --t0 0")
        result.update(S=r["S"], Q=r["Q"], P=r["P"], R_eg_hz=r["R_eg_hz"],
                      asymptotic_key_per_round=r["asymptotic_key_per_round"],
                      min_rounds=r["min_rounds"], time_to_first_key_s=r["time_to_first_key_s"],
                      engine=args.engine,
                      protocol={k: getattr(params, k) for k in params.as_dict()})
        if rounds is not None:
            a = r["at_rounds"]
            result.update(**_key_fields(a["key"], a["rounds"]), run_time_s=a["run_time_s"])
        if hours is not None:
            h = r["after_hours"]
            after = dict(_key_fields(h["key"], h["rounds"]), hours=hours)
            if rounds is None:
                result.update(**_key_fields(h["key"], h["rounds"]), hours=hours)
            else:
                result["after_hours"] = after
        result["inputs"] = dict(eps, **bound_options)
    if out_dir is not None:
        result["out"] = _write_figures(args, out_dir, figure,
                                       opts if mode != "simulated" else {})
    result = json_ready(result)
    if args.json:
        print(dumps(result))
        return 0
    _print(result)
    return 0


def _write_figures(args, out_dir, figure, opts) -> dict:
    """``figure``: the checked arguments of write_outputs (check_output_options)."""
    from tqdm.auto import tqdm

    start = time.perf_counter()
    steps = 2 * len(figure["panels"]) * (1 + figure["num_lengths"])
    bound = {k: v for k, v in opts.items() if k != "gamma"}
    with tqdm(total=steps, desc="catbell finite-key", unit="curve point", file=sys.stderr,
              disable=args.no_progress) as bar, staged_output(out_dir) as stage:
        res = write_outputs(stage, **figure, progress=bar.update, **bound)
    pts = []
    ds = res["key_vs_rounds"]
    for i, p in enumerate(res["points"]):
        pts.append({"panel": p["panel"], "loss_order": p["loss_order"], "alpha": p["alpha"],
                    "S": p["S"], "Q": p["Q"], "R_eg_hz": p["R_eg_hz"],
                    "asymptotic_key_per_round": p["asymptotic_key_per_round"],
                    "min_rounds": _finite(float(ds["min_rounds"].values[i]))})
    t = res["run_time"]
    faster = {}
    if {0, 1} <= set(t["loss_order"].values.tolist()):
        for pn in t["panel"].values.tolist():
            t0, t1 = (t["run_time_s"].sel(panel=pn, loss_order=l).values for l in (0, 1))
            ok = (t1 < t0)
            L = t["length_km"].values
            faster[pn] = float(L[ok].max()) if ok.any() else None
    return {"dir": str(out_dir), "files": [p.name for p in res["files"]],
            "fig4_points": pts, "l1_faster_up_to_km": faster,
            "wall_time_s": time.perf_counter() - start}


def _finite(v):
    return v if math.isfinite(v) else None


def _fmt_time(s):
    if s is None:
        return "never (no key at any n)"
    for unit, sec in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if s >= sec:
            return f"{s:.4g} s ({s / sec:.3g} {unit})"
    return f"{s:.4g} s"


def _print(r: dict) -> None:
    if r["mode"] is not None:
        inp = r["inputs"]
        p = r.get("params") or {}
        print(f"catbell finite-key ({r['mode']} statistics): CHSH DI-QKD, Nadlinger et al. "
              "2022 bound (docs/finite-key.md)")
        rows = [("S (CHSH value)", f"{r['S']:.6g}"),
                ("Q (key-round bit-error rate)", f"{r['Q']:.4g}")]
        if r["mode"] == "simulated":
            rows += [("P (heralding probability)", f"{r['P']:.6g}"),
                     ("R_eg (heralded rounds/s)", "undefined (L = 0, t0 = 0)"
                      if r["R_eg_hz"] is None else f"{r['R_eg_hz']:.6g} Hz"),
                     ("smallest n with a key", "none" if r["min_rounds"] is None
                      else f"{r['min_rounds']:.6g}"),
                     ("time to first key", _fmt_time(r["time_to_first_key_s"]))]
        rows += [("rounds n", f"{r['rounds']}"),
                 ("secure key", f"{r['key_length_bits']} bits ({r['key_per_round']:.6g} "
                                f"bit/round)"),
                 ("asymptotic 1 - h(Q) - chi(S)", f"{r['asymptotic_key_per_round']:.6g} "
                                                  "bit/round")]
        if r.get("run_time_s") is not None:
            rows.append(("run time of n rounds", _fmt_time(r["run_time_s"])))
        if r.get("hours") is not None and "after_hours" not in r:
            rows.append(("(n from --hours)", f"{r['hours']:g} h"))
        if "after_hours" in r:
            a = r["after_hours"]
            rows.append((f"key after {a['hours']:g} h", f"{a['key_length_bits']} bits from "
                                                        f"{a['rounds']} rounds"))
        if r.get("dominant_loss"):
            rows.append(("largest loss", f"{r['dominant_loss']} "
                                         f"({r['losses_bits'][r['dominant_loss']]:.4g} bits)"))
        rows.append(("assumed: eps_sound", f"{inp['eps_sound']:g}"))
        rows.append(("assumed: eps_completeness", f"{inp['eps_completeness']:g} (Bell test)"))
        rows.append(("assumed: EC efficiency f", f"{inp['ec_efficiency']:g} (syndrome f n "
                                                 f"H + {EC_MARGIN:g} sqrt(n) bits)"))
        if p:
            fixed = " (fixed)" if inp.get("gamma") is not None or inp.get("gamma_fixed") else \
                " (optimised)"
            rows += [("test fraction gamma", f"{p['gamma']:.4g}{fixed}"),
                     ("threshold omega_thr", f"{p['omega_thr']:.6f} (honest abort "
                                             f"{p['abort_probability']:.2g})"),
                     ("syndrome length m", f"{p['syndrome_bits']} bits"),
                     ("Renyi alpha', alpha''", f"{p['alpha1']:.6g}, {p['alpha2']:.6g}")]
        width = max(len(k) for k, _ in rows)
        for k, v in rows:
            print(f"{k:<{width}}  {v}")
    if "out" in r:
        o = r["out"]
        print(f"Fig. 4 points (10 km, key-optimal alpha), written to {o['dir']} in "
              f"{o['wall_time_s']:.1f} s: {', '.join(o['files'])}")
        for p in o["fig4_points"]:
            if p["alpha"] is None:
                print(f"  {p['panel']} l = {p['loss_order']}: no key at any alpha")
                continue
            nm = p["min_rounds"]
            first = ("no key at any n" if nm is None else
                     f"first key at n = {nm:.4g}, after {_fmt_time(nm / p['R_eg_hz'])}")
            print(f"  {p['panel']} l = {p['loss_order']}: alpha = {p['alpha']:.4f}, "
                  f"S = {p['S']:.4f}, Q = {p['Q']:.3g}, R_eg = {p['R_eg_hz']:.4g} Hz, "
                  f"asymptotic {p['asymptotic_key_per_round']:.4f} bit/round, {first}")
        for pn, km in o["l1_faster_up_to_km"].items():
            where = "at no length" if km is None else f"up to {km:g} km (grid)"
            print(f"  {pn}: l = 1 reaches a first key sooner than l = 0 {where}")
