"""``catbell thresholds``: the efficiencies below which an l-loss code stops beating l = 0.

For each parameter in {eta_int, eta_c, eta_d (linear-optics USD)} and each loss order,
the value where S_l(L) = S_0(L) at a fixed R_eg, every other imperfection as given
(docs/model.md section 6; :mod:`catbell_qutip.thresholds`). The model defaults to preset
``repro-base`` (the encoder and eta_int placement identified from the paper's numbers);
every protocol flag overrides it.

Three analyses behind the paper's claims (:mod:`catbell_qutip.identification`,
:mod:`catbell_qutip.discrepancies`) share the command:
``--model-table`` (which encoder x eta_int placement the paper's numbers point to),
``--key-fractions`` (claim C8) and ``--usd-factor`` (claims C5/C6).
"""

from __future__ import annotations

import sys

from .. import discrepancies, identification
from ..fibre import attempt_time_s
from ..formulas import timing
from ..outputs import dumps
from ..panels import calibrate_t0
from ..paper import LENGTH_THRESHOLD_KM, RATE_FIG23_HZ
from ..params import ProtocolParams, merge_layers, preset
from ..rates import alpha_for_rate
from ..thresholds import THRESHOLD_PARAMETERS, check_thresholds, reference_S, threshold
from . import summary
from ._common import (
    add_param_flags,
    check_out_dir,
    code_engine,
    layers_from_args,
    staged_output,
)

__all__ = ["add_parser", "run"]

#: total distance of the thresholds unless --length-km (or a preset/config) says otherwise
DEFAULT_LENGTH_KM = LENGTH_THRESHOLD_KM


def add_parser(sub):
    p = sub.add_parser(
        "thresholds", help=summary("thresholds"),
        description="For each parameter and loss order, the efficiency at which "
                    "S_l(L) = S_0(L) at a fixed entanglement-generation rate (root finding "
                    "to 1e-5). Model: preset repro-base (the paper's model as identified by "
                    "--model-table) unless --preset, --config or a protocol flag says "
                    "otherwise; --length-km defaults to 5.")
    add_param_flags(p, point=False, defaults_from="repro-base",
                    defaults={"length_km": DEFAULT_LENGTH_KM})
    p.add_argument("--rate-hz", type=float, default=RATE_FIG23_HZ,
                   help=f"entanglement-generation rate both codes run at, Hz "
                        f"({RATE_FIG23_HZ:g})")
    p.add_argument("--loss-orders", type=int, nargs="+", default=[1, 3], metavar="L",
                   help="loss orders compared with l = 0 (1 3)")
    p.add_argument("--parameters", nargs="+", default=None,
                   choices=list(THRESHOLD_PARAMETERS), metavar="NAME",
                   help="eta_int, eta_c, eta_d (eta_d uses the linear-optics USD, so it "
                        "applies to cat codes only; default: all that apply)")
    p.add_argument("--engine", choices=["coherent", "fock"], default=None,
                   help="engine (default coherent; fock for --code squeezed-cat, which only "
                        "it runs)")
    p.add_argument("--grid", type=int, default=25, help="scan points in (0, 1] (25)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--model-table", action="store_true",
                      help="instead: the paper's threshold and l = 0 claims for every encoder "
                           "x eta_int placement, and the combination closest to the paper")
    mode.add_argument("--key-fractions", action="store_true",
                      help="instead: max over alpha of P (1 - h(Q) - chi(S)) for l = 0 and "
                           "l = 1 at 10 km (claim C8)")
    mode.add_argument("--usd-factor", action="store_true",
                      help="instead: the USD success (fraction of the TUB's) an l = 1 scheme "
                           "needs to match l = 0 with linear optics (claims C5/C6)")
    p.add_argument("--out", metavar="DIR",
                   help="with --model-table: also write model_table.json/.md/.csv there")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def _print_json(obj):
    print(dumps(obj))


def _bar(total, args):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="catbell thresholds", unit="task", file=sys.stderr,
                disable=args.no_progress)


def _model_table(args):
    bar = _bar(7, args)
    t0 = calibrate_t0(args.engine)["t0_s"]
    bar.update()
    rows = identification.model_table(t0_s=t0, engine=args.engine, n_threshold=args.grid,
                              progress=bar.update)
    bar.close()
    if args.out:
        with staged_output(args.out) as stage:  # every file or none (Ctrl-C)
            identification.write_model_table(rows, stage)
    if args.json:
        _print_json({"fig4_t0_s": t0, "picked": identification.identify_model(rows), "rows": rows})
    else:
        print(identification.model_table_markdown(rows))
    return 0


def _key_fractions(args, fields):
    fields = merge_layers(fields, {"length_km": fields.get("length_km", 10.0)})
    out = {}
    for l in (0, 1):
        a, k = discrepancies.key_fraction_max(l, engine=args.engine, **fields)
        out[f"l{l}"] = {"alpha": a, "fraction": k}
    ratio = out["l1"]["fraction"] / out["l0"]["fraction"] if out["l0"]["fraction"] > 0 else None
    T = float(attempt_time_s(**dict(timing(fields), t0_s=0.0)))
    if args.json:
        _print_json({"length_km": fields["length_km"], "key_fraction": out,
                     "max_ratio_l1_l0": ratio, "max_peak_l1_bit_s": out["l1"]["fraction"] / T})
        return 0
    print(f"max over |alpha| of P (1 - h(Q) - chi(S)) at L = {fields['length_km']:g} km "
          "(bit per attempt):")
    for l in (0, 1):
        print(f"  l = {l}: {out[f'l{l}']['fraction']:.6f} at |alpha| = "
              f"{out[f'l{l}']['alpha']:.4f}")
    print(f"with one attempt time for both codes, peak(l = 1) / peak(l = 0) <= "
          f"{ratio:.4f}; the l = 1 peak is at most {out['l1']['fraction'] / T:.1f} bit/s "
          f"(attempt time at t0 = 0: {T * 1e6:g} us, i.e. any t0 up to that)")
    return 0


def _usd_factor(args, fields):
    rows = []
    for eta_d, lengths in ((1.0, (5.0, 10.0)), (0.5, (5.0,))):
        for L in lengths:
            f = dict(fields, eta_d=eta_d, length_km=L)
            f.pop("usd", None)
            r = discrepancies.usd_factor_needed(1, rate_hz=args.rate_hz, engine=args.engine, **f)
            rows.append(dict(eta_d=eta_d, length_km=L, **r))
    if args.json:
        _print_json({"rate_hz": args.rate_hz, "rows": rows})
        return 0
    print(f"l = 1 against l = 0 (linear-optics USD) at R_eg = {args.rate_hz:g} Hz: f = the USD "
          "success, as a fraction of the TUB's, at which S_1 = S_0")
    for r in rows:
        f = "none (the TUB itself loses)" if r["f_needed"] is None else f"{r['f_needed']:.4f}"
        print(f"  eta_d = {r['eta_d']:g}, L = {r['length_km']:g} km: S_0 = {r['S_0']:.5f}, "
              f"S_1 (TUB) = {r['S_l_tub']:.5f}, S_1 (our linear optics) = "
              f"{r['S_l_linear']:.5f}; our P_linear / P_TUB = "
              f"{r['P_ratio_linear_to_tub']:.4f} at |alpha| = {r['alpha_linear']:.4f}; "
              f"f needed = {f}")
    return 0


def _check_code(args, fields: dict) -> None:
    """Thresholds of the code families of docs/model.md 7: squeezed cats compare with the
    squeezed cat of l = 0 on the Fock engine (alpha solved for the rate, as for cats);
    binomial codes have no amplitude to solve; the paper's analyses are cat-code ones."""
    code = fields.get("code", "cat")
    args.engine = code_engine(args.engine, fields, command="thresholds",
                              solves="a common --rate-hz")
    if args.parameters is None:
        args.parameters = [p for p in THRESHOLD_PARAMETERS if code == "cat" or p != "eta_d"]
    if code == "cat":
        return
    if "eta_d" in args.parameters:
        raise ValueError("--parameters eta_d: the eta_d threshold uses the linear-optics USD, "
                         f"a cat-code scheme; --code {code} takes eta_int and eta_c")
    for flag, on in (("--model-table", args.model_table),
                     ("--key-fractions", args.key_fractions),
                     ("--usd-factor", args.usd_factor)):
        if on:
            raise ValueError(f"{flag} analyses the paper's cat codes; drop --code {code}")


def run(args) -> int:
    if args.out is not None:
        if not args.model_table:
            raise ValueError("--out only applies to --model-table (it writes model_table.* "
                             "there); drop --out or add --model-table")
        check_out_dir(args.out)
    layers = layers_from_args(args)
    given = merge_layers(*layers)
    fields = merge_layers(preset("repro-base"), *layers)
    _check_code(args, fields)
    # every option checked by the API before any work (and before the progress bar)
    check_thresholds(args.parameters, args.loss_orders, n_grid=args.grid,
                     rate_hz=args.rate_hz, engine=args.engine,
                     **{k: fields[k] for k in ("encoder", "usd") if k in fields})
    ProtocolParams(**fields)  # validate the combination
    if args.model_table:
        return _model_table(args)
    if args.key_fractions:
        return _key_fractions(args, fields)
    if args.usd_factor:
        return _usd_factor(args, fields)
    for name in args.parameters:
        if name in given:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} is the efficiency being scanned; leave it out or drop "
                             f"{name} from --parameters")
    fields.setdefault("length_km", DEFAULT_LENGTH_KM)
    L = fields.pop("length_km")
    kw = dict(length_km=L, rate_hz=args.rate_hz, engine=args.engine)
    ref = reference_S((0, *args.loss_orders), **kw, **fields)
    missing = [l for l, v in ref.items() if v is None]
    if missing:
        try:
            alpha_for_rate(missing[0], args.rate_hz, engine=args.engine, length_km=L, **fields)
        except ValueError as exc:  # in API terms: catbell's cli_message translates it
            why = str(exc)
        else:  # pragma: no cover - reference_S found no alpha, so this raises
            why = ""
        raise ValueError(
            f"--rate-hz {args.rate_hz:g} is not reachable at --length-km {L:g} by l = "
            f"{', '.join(map(str, missing))}, so no threshold exists ({why})")
    bar = _bar(len(args.parameters) * len(args.loss_orders), args)
    rows = []
    for p in args.parameters:
        for l in args.loss_orders:
            rows.append(threshold(p, l, n_grid=args.grid, **kw, **fields))
            bar.update()
    bar.close()
    model = {k: fields[k] for k in ("code", "squeezing", "encoder", "eta_int_placement",
                                    "decoder", "usd")
             if k in fields and not (k in ("code", "squeezing") and fields.get("code",
                                                                              "cat") == "cat")}
    if args.json:
        _print_json({
            "length_km": L, "rate_hz": args.rate_hz, "engine": args.engine, "model": model,
            "S_reference": {f"l{k}": v for k, v in ref.items()},
            "thresholds": [r.to_dict() for r in rows],
        })
        return 0
    print(f"S_l({L:g} km) at R_eg = {args.rate_hz:g} Hz ("
          + ", ".join(f"{k} = {v}" for k, v in model.items()) + "): "
          + ", ".join(f"S_{k} = {v:.6f}" for k, v in ref.items()))
    print()
    head = ("parameter", "l", "threshold", "")
    table = [head] + [
        ("eta_d (linear USD)" if r.parameter == "eta_d" else r.parameter, str(r.loss_order),
         "none" if r.value is None else f"{r.value:.5f}",
         "" if r.value is not None else r.message.split(": ", 1)[-1])
        for r in rows]
    w = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        print(f"{row[0]:<{w[0]}}  {row[1]:>{w[1]}}  {row[2]:>{w[2]}}  {row[3]}".rstrip())
    return 0
