"""``catbell repeater``: key rate and S against total distance for chains of n segments.

Every link is this package's protocol at its own optimised amplitude (docs/repeater.md);
the link parameters come from the usual flags (``--preset table1``, ``--t-c``, ...).
Writes ``repeater.png``/``repeater.pdf`` (with the PLOB bound), ``repeater.nc`` (xarray /
netCDF) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from .._checks import check_int, check_real
from ..outputs import dumps, json_ready, write_netcdf
from ..params import merge_layers
from ..repeater import (
    KEY_MIN_BIT_S,
    MAX_MARKOV_SEGMENTS,
    S_LEVEL,
    STRATEGIES,
    check_scan,
    plot_scan,
    scan,
    scan_summary,
)
from . import summary
from ._common import (
    _float,
    _int,
    add_param_flags,
    check_out_dir,
    code_engine,
    layers_from_args,
    staged_output,
)

__all__ = ["add_parser", "run"]

DEFAULT_SEGMENTS = "1 2 4 8"
DEFAULT_LOSS_ORDERS = "0 1"


def add_parser(sub):
    p = sub.add_parser(
        "repeater", help=summary("repeater"),
        description="Key rate and CHSH value S against total distance for chains of n "
                    "segments, each link this protocol at its own optimised amplitude; "
                    "links retry until they succeed and wait in memory (t_c), nodes swap "
                    "by Bell measurements (docs/repeater.md). Writes repeater.png/.pdf "
                    "(with the PLOB bound), repeater.nc and summary.json into --out.")
    g = p.add_argument_group("chain")
    g.add_argument("--segments", nargs="+", type=_int, metavar="N",
                   default=[int(n) for n in DEFAULT_SEGMENTS.split()],
                   help=f"numbers of segments to compare (default {DEFAULT_SEGMENTS})")
    g.add_argument("--loss-orders", nargs="+", type=_int, metavar="L",
                   default=[int(n) for n in DEFAULT_LOSS_ORDERS.split()],
                   help=f"codes l of the links (default {DEFAULT_LOSS_ORDERS})")
    g.add_argument("--strategy", default="parallel", choices=list(STRATEGIES),
                   help="when nodes swap: parallel (all links ready, default), nested "
                        "(doubling tree, n = 2^k), asap (as soon as both neighbours are "
                        f"ready); nested and asap need n <= {MAX_MARKOV_SEGMENTS}")
    g.add_argument("--p-swap", default=1.0, type=_float, metavar="P",
                   help="success probability of each swap, (0, 1] (default 1)")
    g.add_argument("--swap-depol", default=0.0, type=_float, metavar="P",
                   help="two-qubit depolarising probability of each swap, [0, 1] (default 0)")
    g.add_argument("--length-max-km", default=400.0, type=_float, metavar="KM",
                   help="largest total distance in km (default 400)")
    g.add_argument("--num-lengths", default=60, type=_int, metavar="K",
                   help="distances from KM/K to KM (default 60)")
    g.add_argument("--objective", default="key-rate", choices=list(_OBJECTIVES),
                   help="key-rate (alpha maximising the key rate, default) or S (alpha "
                        "giving the delivery rate --rate-hz; S reported there)")
    g.add_argument("--rate-hz", default=None, type=_float, metavar="HZ",
                   help="delivery rate for --objective S, in Hz (no default: required with "
                        "--objective S, refused with key-rate)")
    g.add_argument("--alpha-max", default=4.0, type=_float, metavar="A",
                   help="largest amplitude scanned (default 4)")
    g.add_argument("--n-alpha", default=80, type=_int, metavar="K",
                   help="amplitudes scanned before refining (default 80)")
    g.add_argument("--plob-rate-hz", default=None, type=_float, metavar="HZ",
                   help="source rate of the PLOB comparison, channel uses per second "
                        "(default: one use per attempt of a single link over the whole "
                        "distance, max(L / c_f, t0); the same for every --segments)")
    g.add_argument("--s-level", default=S_LEVEL, type=_float, metavar="S",
                   help=f"S level of the reported reach (default {S_LEVEL}; S - 2 never "
                        "vanishes exactly without bit-flip noise)")
    g.add_argument("--key-min", default=KEY_MIN_BIT_S, type=_float, metavar="BIT_S",
                   help=f"key-rate floor of the reported reach and of the figure, bit/s "
                        f"(default {KEY_MIN_BIT_S:g})")
    p.add_argument("--out", default="results/repeater", metavar="DIR",
                   help="output folder (default results/repeater)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_param_flags(p, point=False, exclude=("length_km",))
    return p


#: --objective spellings -> the API's objectives
_OBJECTIVES = {"key-rate": "key_rate", "S": "S"}


def _options(args) -> dict:
    """The chain options, validated (and the scan refused by its estimated time and
    memory) by :func:`catbell_qutip.repeater.check_scan`, before any work; the command
    only builds the distance grid and translates --objective's spelling."""
    L_max = check_real(args.length_max_km, "length_max_km", low=0.0, low_open=True,
                       unit="km")
    num = check_int(args.num_lengths, "num_lengths", low=2)
    opts = dict(objective=_OBJECTIVES[args.objective], rate_hz=args.rate_hz,
                strategy=args.strategy, p_swap=args.p_swap, swap_depol=args.swap_depol,
                alpha_max=args.alpha_max, n_alpha=args.n_alpha)
    checked = check_scan(args.loss_orders, np.linspace(L_max / num, L_max, num),
                         args.segments, s_level=args.s_level, key_min=args.key_min,
                         plob_rate_hz=args.plob_rate_hz, **opts, **_fields(args))
    return {**opts, **checked, "s_level": args.s_level, "key_min": args.key_min,
            "plob_rate_hz": args.plob_rate_hz}


def _fields(args) -> dict:
    fields = merge_layers(*layers_from_args(args))
    for name, flag in (("length_km", "--length-km"), ("alpha", "--alpha"),
                       ("loss_order", "--loss-order")):
        if name in fields:
            hint = {"length_km": "use --length-max-km and --num-lengths (total distance)",
                    "alpha": "it is optimised per distance",
                    "loss_order": "use --loss-orders"}[name]
            raise ValueError(f"{flag} (or {name!r} in a preset/config) does not apply to "
                             f"catbell repeater: {hint}")
    # every link runs at its own optimised amplitude: codes without one are refused; the
    # others run on the Fock engine (the links choose it from the code)
    code_engine(None, fields, command="repeater", solves="every link and distance")
    return fields


def run(args) -> int:
    from tqdm.auto import tqdm

    opts = _options(args)
    fields = _fields(args)
    out = check_out_dir(args.out)
    start = time.perf_counter()
    steps = len(opts["loss_orders"]) * (1 + len(opts["segments"]))
    with tqdm(total=steps, desc="catbell repeater", unit="step",
              disable=args.no_progress) as bar:
        ds = scan(opts["loss_orders"], opts["length_km"], opts["segments"],
                  objective=opts["objective"], rate_hz=opts["rate_hz"],
                  strategy=opts["strategy"], p_swap=opts["p_swap"],
                  swap_depol=opts["swap_depol"], alpha_max=opts["alpha_max"],
                  n_alpha=opts["n_alpha"], progress=bar.update,
                  plob_rate_hz=opts["plob_rate_hz"], **fields)
    if not np.isfinite(ds["alpha"].values).any():
        what = ("no positive key rate" if opts["objective"] == "key_rate" else
                f"the delivery rate {opts['rate_hz']:g} Hz is unattainable")
        raise ValueError(
            f"nothing is reachable: {what} for every code, number of segments and distance "
            f"up to {opts['length_km'][-1]:g} km with alpha <= {opts['alpha_max']:g}; lower "
            "--length-max-km or --rate-hz, raise --t-c or --alpha-max, or improve the link "
            "parameters")
    ds.attrs["command"] = "catbell " + " ".join(sys.argv[1:]) if sys.argv[1:2] == [
        "repeater"] else "catbell repeater"
    summary = scan_summary(ds, s_level=opts["s_level"], key_min=opts["key_min"])
    summary["_meta"] = {
        "strategy": opts["strategy"], "objective": opts["objective"],
        "rate_hz": opts["rate_hz"], "p_swap": opts["p_swap"],
        "swap_depol": opts["swap_depol"], "link_parameters": {
            k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in fields.items()},
        "plob_clock": ds.attrs["plob_clock"], "wall_time_s": time.perf_counter() - start,
        "files": ["repeater.png", "repeater.pdf", "repeater.nc", "summary.json"],
    }
    summary = json_ready(summary)
    with staged_output(out) as stage:  # every file or none (Ctrl-C)
        write_netcdf(ds, stage / "repeater.nc")
        plot_scan(ds, stage / "repeater", usd=fields.get("usd", "tub"),
                  key_min=opts["key_min"], s_level=opts["s_level"])
        (stage / "summary.json").write_text(dumps(summary, indent=2))
    if args.json:
        print(dumps(summary))
        return 0
    print(f"catbell repeater: strategy {opts['strategy']}, {opts['objective']} objective, "
          f"distances up to {opts['length_km'][-1]:g} km (step {summary['grid_step_km']:g} km)")
    L_max = summary["max_km"]
    for l in opts["loss_orders"]:
        for n in opts["segments"]:
            r = summary[f"l{l}"][f"n{n}"]
            print(f"  l = {l}, n = {n}: key >= {opts['key_min']:g} bit/s up to "
                  f"{_km(r['key_reach_km'], L_max)}, S >= {opts['s_level']:g} up to "
                  f"{_km(r['S_reach_km'], L_max)}"
                  f"{_undefined(r['S_undefined_from_km'], opts['objective'])}, "
                  f"{_plob(r['beats_plob_from_km'])}, "
                  f"{_vs_one(n, r)}key at {L_max:g} km "
                  f"{r['key_rate_at_max_km']:.3g} bit/s")
    print(f"wrote {out}/repeater.png, repeater.pdf, repeater.nc, summary.json in "
          f"{summary['_meta']['wall_time_s']:.1f} s")
    return 0


def _vs_one(n, r) -> str:
    """The summary's comparison with one link (nothing for n = 1)."""
    if n == 1:
        return ""
    v = r["beats_one_segment_from_km"]
    if v is None:
        return "never above n = 1 (where either has a key), "
    return f"above n = 1 from {v:.4g} km (where either has a key), "


def _undefined(v, objective: str) -> str:
    """Where the S reach ends because no alpha meets the objective (S undefined), not S."""
    if v is None:
        return ""
    if objective == "key_rate":
        return (f" (S undefined from {v:.4g} km: no alpha gives a key there; "
                "--objective S --rate-hz HZ gives S)")
    return f" (S undefined from {v:.4g} km: no alpha reaches --rate-hz there)"


def _plob(v) -> str:
    return "never above PLOB" if v is None else f"above PLOB from {_km(v)}"


def _km(v, end=None):
    if v is None:
        return "none"
    return f">= {v:g} km (grid end)" if end is not None and v >= end else f"{v:.4g} km"
