"""``catbell simulate``: one protocol point, as a table or as JSON."""

from __future__ import annotations

import json

from ..api import simulate
from ..params import ALPHA_CODES, merge_layers, resolve_params
from . import summary
from ._common import _float, _int, add_param_flags, layers_from_args


def add_parser(sub):
    p = sub.add_parser("simulate", help=summary("simulate"),
                       description="Simulate one protocol point (docs/model.md section 3).")
    add_param_flags(p)
    p.add_argument("--engine", choices=["fock", "coherent"], default="fock",
                   help="state representation (default fock)")
    p.add_argument("--cutoff", type=_int,
                   help="Fock cutoff, largest photon number kept (--engine fock only; "
                        "default: automatic)")
    p.add_argument("--tol", type=_float, default=1e-12,
                   help="largest probability mass the Fock cutoff may drop, in (0, 1); "
                        "sensible 1e-15 .. 1e-6 (default 1e-12)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def run(args) -> int:
    layers = layers_from_args(args)
    merged = merge_layers(*layers)
    code = merged.get("code", "cat")
    need = [("loss_order", "--loss-order")] + ([("alpha", "--alpha")]
                                               if code in ALPHA_CODES else [])
    for field, flag in need:
        if field not in merged:
            raise ValueError(f"give {flag} (or {field} in --config FILE.toml)")
    if code not in ALPHA_CODES and "alpha" in merged:
        raise ValueError(f"--alpha does not apply to --code {code} (its photon numbers are "
                         "fixed by the code); leave it out")
    if code != "cat" and args.engine == "coherent":
        raise ValueError(f"--engine coherent computes cat codes only; --code {code} runs "
                         "on --engine fock")
    params = resolve_params(*layers)
    res = simulate(params=params, engine=args.engine, cutoff=args.cutoff, tol=args.tol)
    out = res.to_dict()
    if args.json:
        print(json.dumps(out, allow_nan=False))
        return 0
    def cond(v, fmt):  # conditioned on success: undefined where nothing heralds
        return "undefined (P = 0: nothing heralds)" if v is None else format(v, fmt)

    code = res.code_info()
    described = ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                          for k, v in code.items()
                          if k not in ("family", "N", "mean_photon_number"))
    rows = [
        ("loss order l", f"{params.loss_order}"),
        ("code", code["family"] + (f" ({described})" if described else "")),
        ("mean photon number", f"{code['mean_photon_number']:.6g}"),
        ("engine", res.engine),
        ("cutoff", "none (truncation-free)" if res.cutoff is None else f"{res.cutoff}"),
        ("truncation error", f"{res.truncation_error:.3g}"),
        ("P (heralding probability)", f"{res.P:.10g}"),
        ("F (heralded fidelity)", cond(res.F, ".10g")),
        ("S (CHSH, Horodecki)", cond(res.S, ".10g")),
        ("Q (key-round bit-error rate)", cond(res.Q, ".3g")),
        ("R_eg (Hz)", "undefined (L = 0, t0 = 0)" if res.R_eg is None else f"{res.R_eg:.6g}"),
        ("key rate (bit/s)", "undefined" if res.key_rate is None else f"{res.key_rate:.6g}"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0
