"""``catbell simulate``: one protocol point, as a table or as JSON."""

from __future__ import annotations

import json

from ..api import simulate
from ..params import resolve_params
from ._common import add_param_flags, layers_from_args


def add_parser(sub):
    p = sub.add_parser("simulate", help="simulate one protocol point",
                       description="Simulate one protocol point (docs/model.md section 3).")
    add_param_flags(p)
    p.add_argument("--engine", choices=["fock", "coherent"], default="fock",
                   help="state representation (default fock)")
    p.add_argument("--cutoff", type=int, help="Fock cutoff (default: automatic)")
    p.add_argument("--tol", type=float, default=1e-12,
                   help="largest probability mass the cutoff may drop (default 1e-12)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def run(args) -> int:
    layers = layers_from_args(args)
    for field, flag in (("loss_order", "--loss-order"), ("alpha", "--alpha")):
        if not any(field in layer for layer in layers):
            raise ValueError(f"give {flag} (or {field} in --config FILE.toml)")
    params = resolve_params(*layers)
    res = simulate(params=params, engine=args.engine, cutoff=args.cutoff, tol=args.tol)
    out = res.to_dict()
    if args.json:
        print(json.dumps(out))
        return 0
    rows = [
        ("loss order l", f"{params.loss_order}"),
        ("alpha", f"{float(params.alpha):g}"),
        ("engine", res.engine),
        ("cutoff", "none (truncation-free)" if res.cutoff is None else f"{res.cutoff}"),
        ("truncation error", f"{res.truncation_error:.3g}"),
        ("P (heralding probability)", f"{res.P:.10g}"),
        ("F (heralded fidelity)", f"{res.F:.10g}"),
        ("S (CHSH, Horodecki)", f"{res.S:.10g}"),
        ("Q (key-round bit-error rate)", f"{res.Q:.3g}"),
        ("R_eg (Hz)", "undefined (L = 0, t0 = 0)" if res.R_eg is None else f"{res.R_eg:.6g}"),
        ("key rate (bit/s)", "undefined" if res.key_rate is None else f"{res.key_rate:.6g}"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0
