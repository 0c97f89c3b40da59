"""``catbell simulate``: one protocol point, as a table or as JSON.

``--rate-hz R`` solves the amplitude for the entanglement-generation rate R first, as the
rate-constrained panels of ``catbell reproduce`` do (:func:`catbell_qutip.rates.alpha_for_rate`:
the smallest alpha in (0, --alpha-max] with R_eg(alpha) = R, to 1e-9 relative), so a point
of a panel is one command.
"""

from __future__ import annotations

from ..api import simulate
from ..outputs import dumps
from ..params import ALPHA_CODES, merge_layers, resolve_params
from ..rates import DEFAULT_ALPHA_MAX, alpha_for_rate
from . import summary
from ._common import _float, _int, add_param_flags, layers_from_args


def add_parser(sub):
    p = sub.add_parser(
        "simulate", help=summary("simulate"),
        description="Simulate one protocol point (docs/model.md section 3). Give --alpha, or "
                    "--rate-hz to solve alpha for an entanglement-generation rate as the "
                    "panels of 'catbell reproduce' do (e.g. the 5 km point of Fig. 3(d): "
                    "catbell simulate --preset repro-fig3d --loss-order 1 --rate-hz 3000 "
                    "--length-km 5).")
    add_param_flags(p)
    g = p.add_argument_group("alpha from a rate (instead of --alpha)")
    g.add_argument("--rate-hz", type=_float, metavar="R",
                   help="solve alpha: the smallest alpha whose entanglement-generation rate "
                        "R_eg = P / max(L / c_f, t0) is R, in Hz (needs --length-km > 0 or "
                        "--t0 > 0; no default: --alpha is used when this is not given)")
    g.add_argument("--alpha-max", type=_float, metavar="A",
                   help=f"largest alpha the --rate-hz solve scans (default "
                        f"{DEFAULT_ALPHA_MAX:g}; the Fig. 3(g) panel scans to 8)")
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


def _solve_alpha(args, layers) -> float:
    """alpha for --rate-hz on the given layers (without alpha), on the chosen engine.
    --rate-hz and --alpha-max are checked by :func:`~catbell_qutip.rates.alpha_for_rate`
    itself; its messages reach the user through the one translation into flags
    (:func:`catbell_qutip.cli._common.cli_message`)."""
    if any("alpha" in layer for layer in layers):
        raise ValueError("give --alpha or --rate-hz, not both (--rate-hz solves alpha)")
    alpha_max = DEFAULT_ALPHA_MAX if args.alpha_max is None else args.alpha_max
    p = resolve_params(*layers, {"alpha": 1.0})  # validated; then alpha left out
    fields = {k: getattr(p, k) for k in p.as_dict()}
    loss_order = fields.pop("loss_order")
    fields.pop("alpha")
    return float(alpha_for_rate(loss_order, args.rate_hz, engine=args.engine,
                                alpha_max=alpha_max, **fields))


def run(args) -> int:
    layers = layers_from_args(args)
    merged = merge_layers(*layers)
    code = merged.get("code", "cat")
    solve = args.rate_hz is not None
    if args.alpha_max is not None and not solve:
        raise ValueError("--alpha-max applies only with --rate-hz (the alpha scan)")
    if solve and code not in ALPHA_CODES:
        raise ValueError(f"--rate-hz solves the amplitude alpha, and --code {code} has none "
                         "(its P is fixed); leave --rate-hz out")
    need = [("loss_order", "--loss-order")] + ([("alpha", "--alpha")]
                                               if code in ALPHA_CODES and not solve else [])
    for field, flag in need:
        if field not in merged:
            hint = " or --rate-hz R to solve it" if field == "alpha" else ""
            raise ValueError(f"give {flag}{hint} (or {field} in --config FILE.toml)")
    if code not in ALPHA_CODES and "alpha" in merged:
        raise ValueError(f"--alpha does not apply to --code {code} (its photon numbers are "
                         "fixed by the code); leave it out")
    if code != "cat" and args.engine == "coherent":
        raise ValueError(f"--engine coherent computes cat codes only; --code {code} runs "
                         "on --engine fock")
    if solve:
        layers = [*layers, {"alpha": _solve_alpha(args, layers)}]
    params = resolve_params(*layers)
    res = simulate(params=params, engine=args.engine, cutoff=args.cutoff, tol=args.tol)
    out = res.to_dict()
    if args.rate_hz is not None:
        out["alpha_solved_for_rate_hz"] = args.rate_hz
    if args.json:
        print(dumps(out))
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
        *([("alpha", f"{float(params.alpha):.10g} (solved for R_eg = {args.rate_hz:g} Hz)")]
          if args.rate_hz is not None else []),
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
