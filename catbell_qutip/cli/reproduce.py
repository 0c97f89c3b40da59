"""``catbell reproduce``: every panel of the paper, its data, and a summary (docs/model.md 6).

See :mod:`catbell_qutip.reproduce` and REPRODUCTION.md.
"""

from __future__ import annotations

from ..reproduce import reproduce

__all__ = ["add_parser", "run"]


def add_parser(sub):
    p = sub.add_parser(
        "reproduce", help="reproduce every figure panel of the paper",
        description="Compute panels 2(a), 2(b), 3(a)-(g), 4(a)-(c) and the efficiency "
                    "thresholds; write PNG/PDF figures, netCDF/CSV data, summary.md and "
                    "summary.json (REPRODUCTION.md compares them with the paper).")
    p.add_argument("--out", default="results", metavar="DIR",
                   help="output folder (default results/)")
    p.add_argument("--engine", choices=["coherent", "fock"], default="coherent",
                   help="engine (default coherent; fock is much slower)")
    p.add_argument("--quick", action="store_true", help="coarse grids (a fast check)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def run(args) -> int:
    summary = reproduce(args.out, engine=args.engine, quick=args.quick,
                        progress=not args.no_progress)
    meta = summary["_meta"]
    print(f"wrote {args.out}/ (12 panels, thresholds, summary.md, summary.json) in "
          f"{meta['wall_time_s']:.1f} s on the {args.engine} engine")
    return 0
