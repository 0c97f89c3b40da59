"""``catbell thresholds``: the efficiencies below which an l-loss code stops beating l = 0.

For each parameter in {eta_int, eta_c, eta_d (linear-optics USD)} and each loss order,
the value where S_l(L) = S_0(L) at a fixed R_eg, every other imperfection ideal
(docs/model.md section 6; :mod:`catbell_qutip.thresholds`).
"""

from __future__ import annotations

import json

from ..thresholds import THRESHOLD_PARAMETERS, reference_S, threshold

__all__ = ["add_parser", "run"]


def add_parser(sub):
    p = sub.add_parser(
        "thresholds", help="efficiency thresholds where S_l = S_0 (docs/model.md 6)",
        description="For each parameter and loss order, the efficiency at which "
                    "S_l(L) = S_0(L) at a fixed entanglement-generation rate, every other "
                    "imperfection ideal (root finding to 1e-5).")
    p.add_argument("--length-km", type=float, default=5.0, help="fibre length in km (5)")
    p.add_argument("--rate-hz", type=float, default=3000.0,
                   help="entanglement-generation rate both codes run at, Hz (3000)")
    p.add_argument("--loss-orders", type=int, nargs="+", default=[1, 3], metavar="L",
                   help="loss orders compared with l = 0 (1 3)")
    p.add_argument("--parameters", nargs="+", default=list(THRESHOLD_PARAMETERS),
                   choices=list(THRESHOLD_PARAMETERS), metavar="NAME",
                   help="eta_int, eta_c, eta_d (eta_d uses the linear-optics USD)")
    p.add_argument("--encoder", choices=["explicit", "ideal"], default="explicit",
                   help="Alice's encoder (default explicit: eta_int after her rounds too)")
    p.add_argument("--engine", choices=["coherent", "fock"], default="coherent",
                   help="engine (default coherent)")
    p.add_argument("--grid", type=int, default=25, help="scan points in (0, 1] (25)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def run(args) -> int:
    kw = dict(length_km=args.length_km, rate_hz=args.rate_hz, engine=args.engine,
              encoder=args.encoder)
    if args.grid < 2:
        raise ValueError(f"--grid = {args.grid} is outside the allowed range [2, inf)")
    ref = reference_S((0, *args.loss_orders), **kw)
    rows = [threshold(p, l, n_grid=args.grid, **kw)
            for p in args.parameters for l in args.loss_orders]
    if args.json:
        print(json.dumps({
            "length_km": args.length_km, "rate_hz": args.rate_hz, "encoder": args.encoder,
            "engine": args.engine,
            "S_reference": {f"l{k}": v for k, v in ref.items()},
            "thresholds": [r.to_dict() for r in rows],
        }))
        return 0
    print(f"S_l({args.length_km:g} km) at R_eg = {args.rate_hz:g} Hz, every efficiency 1, "
          f"encoder {args.encoder}: " + ", ".join(f"S_{k} = {v:.6f}" for k, v in ref.items()))
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
