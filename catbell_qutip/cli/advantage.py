"""``catbell advantage``: which code pays off, over a grid of two parameters, and what the
``ml`` decoder changes (docs/model.md sections 3, 4 and 6; :mod:`catbell_qutip.advantage`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from ..advantage import (
    AXIS_NAMES,
    DEFAULT_LENGTH_KM,
    DEFAULT_RATE_HZ,
    DEFAULT_X,
    DEFAULT_Y,
    KEY_ALPHA_MAX,
    N_KEY_ALPHA,
    REPRO_PRESET,
    advantage_map,
    decoder_table,
    decoder_table_markdown,
    parse_axis,
    plot_map,
    repro_settings,
)
from ..outputs import csv_header, dumps, write_netcdf
from ..params import CONVERSION_PARTNERS, merge_layers
from . import summary
from ._common import (
    add_param_flags,
    check_out_dir,
    code_engine,
    layers_from_args,
    positive_int,
    staged_output,
)

__all__ = ["add_parser", "run", "summarise_map"]

STEM = "advantage_map"
#: output folder unless --out says otherwise (git-ignored, like the other commands' results/)
DEFAULT_OUT = "results/advantage"


def add_parser(sub):
    dx, dy = DEFAULT_X, DEFAULT_Y
    p = sub.add_parser(
        "advantage", help=summary("advantage"),
        description="For every point of a grid over two parameters, the loss order with the "
                    "highest S and the highest key rate when every code runs at the same "
                    "entanglement-generation rate (each at its own alpha), the highest key "
                    "rate with alpha free, and the margin to the runner-up; writes a map "
                    "(PNG + PDF), netCDF and CSV data and summary.json. The paper's "
                    "one-at-a-time thresholds (same encoder, eta_int placement and decoder) "
                    "are marked on the axes. Defaults: L = 5 km, R_eg = 3000 Hz, the "
                    f"encoder and eta_int placement of the {REPRO_PRESET!r} preset, every "
                    "imperfection ideal except the two axes. With --decoder-table: the "
                    "paper's thresholds, Fig. 3(g) reach and Fig. 4 peaks under each "
                    "decoder (docs/model.md 3, step 6).")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT,
                   help=f"output folder of the map (created; default {DEFAULT_OUT})")
    p.add_argument("--x", metavar="NAME=START:STOP:NUM[:log]",
                   help=f"first axis (default {dx[0]}={dx[1]:g}:{dx[2]:g}:{dx[3]}); NAME is "
                        f"one of {', '.join(AXIS_NAMES)}; or NAME=V1,V2,...")
    p.add_argument("--y", metavar="NAME=START:STOP:NUM[:log]",
                   help=f"second axis (default {dy[0]}={dy[1]:g}:{dy[2]:g}:{dy[3]})")
    p.add_argument("--loss-orders", type=int, nargs="+", default=[0, 1, 3], metavar="L",
                   help="codes compared (0 1 3)")
    p.add_argument("--rate-hz", type=float, default=DEFAULT_RATE_HZ,
                   help="entanglement-generation rate every code runs at, Hz (3000)")
    p.add_argument("--key-alpha-max", type=float, default=KEY_ALPHA_MAX,
                   help=f"alpha-optimised key rate: largest alpha of the grid ({KEY_ALPHA_MAX:g})")
    p.add_argument("--n-key-alpha", type=int, default=N_KEY_ALPHA,
                   help=f"alpha-optimised key rate: grid points ({N_KEY_ALPHA})")
    p.add_argument("--engine", choices=["coherent", "fock"], default=None,
                   help="engine (default coherent, vectorised; fock for --code "
                        "squeezed-cat, which only it runs)")
    p.add_argument("--processes", type=positive_int, metavar="N",
                   help="the plain vectorised path on N forked processes (default: one per "
                        "available core; 1: this process only)")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="run through the sweep machinery instead, chunk by chunk, on N "
                        "local processes (large grids)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run through the sweep machinery on a dask.distributed scheduler")
    p.add_argument("--no-thresholds", action="store_true",
                   help="do not compute the one-at-a-time thresholds")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--decoder-table", action="store_true",
                   help="print the decoder table (smallest-loss vs ml) instead of a map")
    p.add_argument("--quick", action="store_true",
                   help="--decoder-table on coarse grids (a smoke test)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_param_flags(p, point=False, defaults_from=REPRO_PRESET,
                    preset_fields=tuple(repro_settings()),
                    defaults={"length_km": DEFAULT_LENGTH_KM})
    return p


def _changes(values, winners):
    """Positions (midpoints between grid points) where the winner changes along a line."""
    out = []
    for i in range(len(winners) - 1):
        if winners[i] != winners[i + 1]:
            out.append({"from": int(winners[i]), "to": int(winners[i + 1]),
                        "between": [float(values[i]), float(values[i + 1])]})
    return out


def summarise_map(ds) -> dict:
    """Key numbers of a map: share of the grid each code wins, where the winner changes
    along the four edges, and the one-at-a-time thresholds."""
    xn, yn = ds.attrs["x"], ds.attrs["y"]
    xv, yv = ds[xn].values, ds[yn].values
    orders = [int(l) for l in ds["loss_order"].values]
    out = {"x": xn, "y": yn, "criteria": {}}
    for q in ("S", "key_rate_at_rate", "key_rate_opt"):
        w = ds[f"winner_{q}"].values
        m = ds[f"margin_{q}"].values
        share = {f"l{l}": float(np.mean(w == l)) for l in orders}
        share["none"] = float(np.mean(w == -1))
        edges = {
            f"{yn} = {yv[-1]:g}": _changes(xv, w[:, -1]),
            f"{yn} = {yv[0]:g}": _changes(xv, w[:, 0]),
            f"{xn} = {xv[-1]:g}": _changes(yv, w[-1, :]),
            f"{xn} = {xv[0]:g}": _changes(yv, w[0, :]),
        }
        out["criteria"][q] = {"share": share, "winner_changes": edges,
                              "largest_margin": float(np.nanmax(m)) if np.any(
                                  np.isfinite(m)) else None,
                              "unit": ds[f"margin_{q}"].attrs["units"]}
    edge = ds["key_alpha_at_edge"]
    out["key_alpha_at_edge"] = {f"l{int(l)}": float(edge.sel(loss_order=l).mean())
                                for l in ds["loss_order"].values}
    out["thresholds"] = {k[len("threshold_"):]: v for k, v in ds.attrs.items()
                         if k.startswith("threshold_") and not k.endswith("_message")}
    return out


def _write(ds, out: Path):
    write_netcdf(ds, out / f"{STEM}.nc")
    df = ds.to_dataframe().reset_index()
    cols = list(df.columns)
    units = {c: ds[c].attrs.get("units", "") for c in cols}
    with open(out / f"{STEM}.csv", "w") as fh:
        fh.write(csv_header(ds.attrs["title"], units) + "\n")
        df.to_csv(fh, index=False)
    return [out / f"{STEM}.nc", out / f"{STEM}.csv"]


def run(args) -> int:
    code_fields = merge_layers(*layers_from_args(args))
    args.engine = code_engine(args.engine, code_fields, command="advantage",
                              solves="a common --rate-hz and the key rate")
    if args.decoder_table and code_fields.get("code", "cat") != "cat":
        raise ValueError("--decoder-table analyses the paper's cat codes; drop --code")
    if args.decoder_table:
        table = decoder_table(engine=args.engine, quick=args.quick,
                              progress=not args.no_progress)
        if args.json:
            print(dumps(table))
        else:
            print(decoder_table_markdown(table))
        return 0
    if args.quick:
        raise ValueError("--quick only applies to --decoder-table")
    out = check_out_dir(args.out)
    layers = layers_from_args(args)
    # every value is checked once, by advantage_map (before any work); the command line
    # only parses the axes' text
    args.x = parse_axis(args.x, "--x") if args.x is not None else None
    args.y = parse_axis(args.y, "--y") if args.y is not None else None
    # layering: a preset's or config file's value of an axis (or of its eta_c /
    # eta_dc, eta_uc partner) gives way to the axis; a flag that fixes it is refused
    names = [(a if a is not None else d)[0] for a, d in ((args.x, DEFAULT_X),
                                                          (args.y, DEFAULT_Y))]
    drop = set(names).union(*(CONVERSION_PARTNERS.get(n, ()) for n in names))
    fields = merge_layers(*({k: v for k, v in layer.items() if k not in drop}
                            for layer in layers[:-1]), layers[-1])
    t = time.perf_counter()
    ds = advantage_map(args.x, args.y, loss_orders=args.loss_orders, rate_hz=args.rate_hz,
                       engine=args.engine, key_alpha_max=args.key_alpha_max,
                       n_key_alpha=args.n_key_alpha, processes=args.processes,
                       workers=args.workers,
                       scheduler=args.scheduler, thresholds=not args.no_thresholds,
                       progress=not args.no_progress, **fields)
    elapsed = time.perf_counter() - t
    summary = summarise_map(ds)
    summary["seconds"] = elapsed
    summary["attrs"] = {k: v for k, v in ds.attrs.items()}
    with staged_output(out) as stage:  # every file or none (Ctrl-C)
        files = plot_map(ds, stage / STEM) + _write(ds, stage)
        with open(stage / "summary.json", "w") as fh:
            fh.write(dumps(summary, indent=1))
        files.append(stage / "summary.json")
    files = [out / f.relative_to(stage) for f in files]
    if args.json:
        print(dumps({**summary, "files": [str(f) for f in files]}))
        return 0
    xn, yn = ds.attrs["x"], ds.attrs["y"]
    print(f"catbell advantage: {ds[xn].size} x {ds[yn].size} grid over {xn} x {yn}, codes "
          f"l = {ds.attrs['loss_orders']}, decoder {ds.attrs.get('param_decoder')}, encoder "
          f"{ds.attrs.get('param_encoder')}, eta_int placement "
          f"{ds.attrs.get('param_eta_int_placement')}, {elapsed:.1f} s")
    names = {"S": "highest S at the rate", "key_rate_at_rate": "highest key rate at the rate",
             "key_rate_opt": "highest key rate, alpha optimised (t0 = "
                             f"{ds.attrs['t0_s_key_rate_opt']} s)"}
    for q, c in summary["criteria"].items():
        share = ", ".join(f"{k} {100 * v:.1f}%" for k, v in c["share"].items())
        print(f"  {names[q]}: {share}")
        for edge, ch in c["winner_changes"].items():
            for e in ch:
                print(f"    along {edge}: l = {e['from']} -> l = {e['to']} between "
                      f"{e['between'][0]:.5g} and {e['between'][1]:.5g}")
    for code, share in summary["key_alpha_at_edge"].items():
        if share > 0:
            print(f"  note: the alpha-optimised key rate of {code.replace('l', 'l = ')} peaks "
                  f"at the grid's largest alpha ({args.key_alpha_max:g}) on "
                  f"{100 * share:.1f}% of the grid: a lower bound there (raise "
                  "--key-alpha-max and --n-key-alpha to see past it)")
    for k, v in summary["thresholds"].items():
        shown = "none" if v is None or not math.isfinite(v) else f"{v:.5f}"
        print(f"  one-at-a-time threshold {k}: {shown}")
    for f in files:
        print(f"  wrote {f}")
    return 0

