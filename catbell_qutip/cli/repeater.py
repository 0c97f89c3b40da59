"""``catbell repeater``: key rate and S against total distance for chains of n segments.

Every link is this package's protocol at its own optimised amplitude (docs/repeater.md);
the link parameters come from the usual flags (``--preset table1``, ``--t-c``, ...).
Writes ``repeater.png``/``repeater.pdf`` (with the PLOB bound), ``repeater.nc`` (xarray /
netCDF) and ``summary.json`` into ``--out``.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from .._checks import check_memory
from ..outputs import dumps, json_ready
from ..params import ALPHA_MAX, merge_layers
from ..repeater import (
    KEY_MIN_BIT_S,
    MAX_MARKOV_SEGMENTS,
    MAX_PARALLEL_SEGMENTS,
    S_LEVEL,
    STRATEGIES,
    plot_scan,
    scan,
    scan_cost,
    scan_summary,
)
from . import summary
from ._common import (
    add_param_flags,
    check_out_dir,
    code_engine,
    layers_from_args,
    staged_output,
)

__all__ = ["add_parser", "run"]

#: longest scan the command starts, by the estimate of :func:`scan_cost` (an hour)
MAX_SCAN_SECONDS = 3600.0
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
    g.add_argument("--segments", nargs="+", metavar="N", default=DEFAULT_SEGMENTS.split(),
                   help=f"numbers of segments to compare (default {DEFAULT_SEGMENTS})")
    g.add_argument("--loss-orders", nargs="+", metavar="L",
                   default=DEFAULT_LOSS_ORDERS.split(),
                   help=f"codes l of the links (default {DEFAULT_LOSS_ORDERS})")
    g.add_argument("--strategy", default="parallel", metavar="{" + ",".join(STRATEGIES) + "}",
                   help="when nodes swap: parallel (all links ready, default), nested "
                        "(doubling tree, n = 2^k), asap (as soon as both neighbours are "
                        f"ready); nested and asap need n <= {MAX_MARKOV_SEGMENTS}")
    g.add_argument("--p-swap", default="1", metavar="P",
                   help="success probability of each swap, (0, 1] (default 1)")
    g.add_argument("--swap-depol", default="0", metavar="P",
                   help="two-qubit depolarising probability of each swap, [0, 1] (default 0)")
    g.add_argument("--length-max-km", default="400", metavar="KM",
                   help="largest total distance in km (default 400)")
    g.add_argument("--num-lengths", default="60", metavar="K",
                   help="distances from KM/K to KM (default 60)")
    g.add_argument("--objective", default="key-rate", metavar="{key-rate,S}",
                   help="key-rate (alpha maximising the key rate, default) or S (alpha "
                        "giving the delivery rate --rate-hz; S reported there)")
    g.add_argument("--rate-hz", default=None, metavar="HZ",
                   help="delivery rate for --objective S, in Hz (no default: required with "
                        "--objective S, refused with key-rate)")
    g.add_argument("--alpha-max", default="4", metavar="A",
                   help="largest amplitude scanned (default 4)")
    g.add_argument("--n-alpha", default="80", metavar="K",
                   help="amplitudes scanned before refining (default 80)")
    g.add_argument("--plob-rate-hz", default=None, metavar="HZ",
                   help="source rate of the PLOB comparison, channel uses per second "
                        "(default: one use per attempt of a single link over the whole "
                        "distance, max(L / c_f, t0); the same for every --segments)")
    g.add_argument("--s-level", default=str(S_LEVEL), metavar="S",
                   help=f"S level of the reported reach (default {S_LEVEL}; S - 2 never "
                        "vanishes exactly without bit-flip noise)")
    g.add_argument("--key-min", default=f"{KEY_MIN_BIT_S:g}", metavar="BIT_S",
                   help=f"key-rate floor of the reported reach and of the figure, bit/s "
                        f"(default {KEY_MIN_BIT_S:g})")
    p.add_argument("--out", default="results/repeater", metavar="DIR",
                   help="output folder (default results/repeater)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_param_flags(p, point=False, exclude=("length_km",))
    return p


def _number(text, flag, *, kind=float, low=None, high=None, low_open=False):
    """Parse one value of a chain flag; ValueError naming the flag and the fix."""
    try:
        v = kind(text)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number"
        raise ValueError(f"{flag} must be {what}, got {text!r}") from None
    if kind is float and math.isnan(v):
        raise ValueError(f"{flag} must be a number, got {text!r}")
    bad = (low is not None and (v <= low if low_open else v < low)) or (
        high is not None and v > high)
    if bad:
        lo = "(" if low_open else "["
        rng = f"{lo}{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise ValueError(f"{flag} = {text} is outside the allowed range {rng}")
    return v


def _check_cost(segments, num_lengths, n_codes, n_alpha) -> None:
    """Refuse, before any work, a scan estimated (:func:`scan_cost`) to take more than
    :data:`MAX_SCAN_SECONDS` or more memory than the limit."""
    way_out = "give fewer or smaller --segments, fewer --num-lengths or a smaller --n-alpha"
    seconds, peak = scan_cost([1, *segments], num_lengths, n_codes, n_alpha)
    what = (f"this scan ({n_codes} code(s) x {num_lengths} distances x --segments "
            f"{' '.join(map(str, segments))}, {n_alpha} amplitudes)")
    if seconds > MAX_SCAN_SECONDS:
        raise ValueError(f"{what} would take about {seconds / 3600:.2g} h (more than "
                         f"{MAX_SCAN_SECONDS / 3600:g} h); {way_out}")
    check_memory(peak, what, way_out)


def _options(args) -> dict:
    if args.strategy not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {', '.join(STRATEGIES)}, "
                         f"got {args.strategy!r}")
    segs = [_number(s, "--segments", kind=int) for s in args.segments]
    for n in segs:
        if n < 1:
            raise ValueError(f"--segments {n}: a chain has at least 1 segment; give "
                             "integers >= 1 (e.g. --segments 1 2 4 8)")
        if args.strategy == "nested" and n & (n - 1):
            raise ValueError(f"--segments {n} is not a power of 2, which --strategy nested "
                             "needs; use powers of 2 or --strategy parallel")
        if args.strategy != "parallel" and n > MAX_MARKOV_SEGMENTS:
            raise ValueError(f"--segments {n}: --strategy {args.strategy} is exact up to "
                             f"{MAX_MARKOV_SEGMENTS} segments; use --strategy parallel")
        if n > MAX_PARALLEL_SEGMENTS:
            raise ValueError(f"--segments {n}: the exact waiting-time statistics hold up to "
                             f"{MAX_PARALLEL_SEGMENTS} segments (docs/repeater.md section 7); "
                             f"give --segments <= {MAX_PARALLEL_SEGMENTS}")
    if len(set(segs)) != len(segs):
        raise ValueError("--segments lists a number twice; give each n once")
    orders = [_number(s, "--loss-orders", kind=int) for s in args.loss_orders]
    for l in orders:
        if l < 0 or (l + 1) & l:
            raise ValueError(f"--loss-orders {l}: a loss order is 2^m - 1 (0, 1, 3, 7, ...)")
    if len(set(orders)) != len(orders):
        raise ValueError("--loss-orders lists a code twice; give each l once")
    p_swap = _number(args.p_swap, "--p-swap", low=0.0, high=1.0, low_open=True)
    if p_swap < 1 and args.strategy != "parallel":
        raise ValueError(f"--p-swap {p_swap:g} < 1 needs --strategy parallel (the other "
                         "strategies' statistics are exact for deterministic swaps only)")
    objective = {"key-rate": "key_rate", "S": "S"}.get(args.objective)
    if objective is None:
        raise ValueError(f"--objective must be key-rate or S, got {args.objective!r}")
    rate = None
    if objective == "S":
        if args.rate_hz is None:
            raise ValueError("--objective S needs --rate-hz, the delivery rate to reach (Hz)")
        rate = _number(args.rate_hz, "--rate-hz", low=0.0, low_open=True)
        if math.isinf(rate):
            raise ValueError("--rate-hz must be finite")
    elif args.rate_hz is not None:
        raise ValueError("--rate-hz is used only with --objective S")
    L_max = _number(args.length_max_km, "--length-max-km", low=0.0, low_open=True)
    if math.isinf(L_max):
        raise ValueError("--length-max-km must be finite")
    plob_rate = None
    if args.plob_rate_hz is not None:
        plob_rate = _number(args.plob_rate_hz, "--plob-rate-hz", low=0.0, low_open=True)
        if math.isinf(plob_rate):
            raise ValueError("--plob-rate-hz must be finite")
    num = _number(args.num_lengths, "--num-lengths", kind=int, low=2)
    n_alpha = _number(args.n_alpha, "--n-alpha", kind=int, low=3)
    _check_cost(segs, num, len(orders), n_alpha)
    return dict(
        segments=segs, loss_orders=orders, strategy=args.strategy, p_swap=p_swap,
        swap_depol=_number(args.swap_depol, "--swap-depol", low=0.0, high=1.0),
        objective=objective, rate_hz=rate, plob_rate_hz=plob_rate,
        length_km=np.linspace(L_max / num, L_max, num),
        alpha_max=_number(args.alpha_max, "--alpha-max", low=0.0, low_open=True,
                          high=ALPHA_MAX),
        n_alpha=n_alpha,
        s_level=_number(args.s_level, "--s-level", low=2.0, high=2 * math.sqrt(2)),
        key_min=_number(args.key_min, "--key-min", low=0.0, low_open=True),
    )


def _fields(args) -> dict:
    if args.t_c is not None and not args.t_c > 0:
        raise ValueError(f"--t-c = {args.t_c:g} s is outside the allowed range (0, inf] s: "
                         "give the memory coherence time in seconds (inf for an ideal memory)")
    fields = merge_layers(*layers_from_args(args))
    for name, flag in (("length_km", "--length-km"), ("alpha", "--alpha"),
                       ("loss_order", "--loss-order")):
        if name in fields:
            hint = {"length_km": "use --length-max-km and --num-lengths (total distance)",
                    "alpha": "it is optimised per distance",
                    "loss_order": "use --loss-orders"}[name]
            raise ValueError(f"{flag} (or {name} in a preset/config) does not apply to "
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
        ds.to_netcdf(stage / "repeater.nc")
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
                  f"{_km(r['S_reach_km'], L_max)}, above PLOB from "
                  f"{_km(r['beats_plob_from_km'])}, {_vs_one(n, r)}key at {L_max:g} km "
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


def _km(v, end=None):
    if v is None:
        return "none"
    return f">= {v:g} km (grid end)" if end is not None and v >= end else f"{v:.4g} km"
