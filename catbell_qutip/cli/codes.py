"""``catbell codes``: which rotation-symmetric code wins at the paper's settings
(docs/model.md sections 4, 6, 7; :mod:`catbell_qutip.codecompare`)."""

from __future__ import annotations

import time

from ..codecompare import LOSS_ORDERS, compare_codes, summarise, table_text, write_results
from ..outputs import dumps
from . import summary as command_summary
from ._common import check_out_dir, positive_int, staged_output

__all__ = ["add_parser", "run"]


def add_parser(sub):
    p = sub.add_parser(
        "codes", help=command_summary("codes"),
        description="For l = 0, 1, 3, each code family at its best parameters (cat: alpha; "
                    "squeezed cat: alpha and r; binomial: M in 0..4) at the paper's settings: "
                    "the key rate against L (channel loss only; Table I; Fig. 4's t0), S "
                    "against L at R_eg = 3000 Hz (Fig. 2(a)), and the best code over an "
                    "(L, eta_c) grid with the mean photon number it uses. Writes netCDF, "
                    "CSV, PNG (300 dpi) and PDF figures and summary.json into --out, and "
                    "prints a table and the answer: does any code beat the cat code, where, "
                    "by how much.")
    p.add_argument("--out", metavar="DIR", help="output folder (created)")
    p.add_argument("--quick", action="store_true",
                   help="coarse grids and no global check (a smoke test, under a minute)")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="processes (default: one per available core; 1: this process only)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # the loss orders are fixed: a --loss-order(s) flag is no typo of --workers
    always = (f"it always compares l = {', '.join(map(str, LOSS_ORDERS))}; other loss "
              "orders: catbell advantage, thresholds or repeater --loss-orders")
    p.not_taken = {"--loss-orders": always, "--loss-order": always}
    return p


def run(args) -> int:
    if args.out is None:
        raise ValueError("give --out DIR (the folder for the figures and data)")
    out = check_out_dir(args.out)
    t = time.perf_counter()
    res = compare_codes(quick=args.quick, workers=args.workers,
                        progress=not args.no_progress)
    summary = summarise(res)
    with staged_output(out) as stage:  # every file or none (Ctrl-C)
        files = write_results(res, stage, summary)
        summary["run"]["wall_s_with_files"] = time.perf_counter() - t
        with open(stage / "summary.json", "w") as fh:
            fh.write(dumps(summary, indent=1))
    files = [out / f.relative_to(stage) for f in files]
    if args.json:
        print(dumps({**summary, "files": [str(f) for f in files]}))
        return 0
    print(f"catbell codes: {'quick grids, ' if args.quick else ''}{res['workers']} "
          f"process(es), {summary['run']['wall_s_with_files']:.1f} s wall, "
          f"{res['cpu_s']:.1f} s CPU in the tasks")
    print(table_text(res, summary))
    for f in files:
        print(f"  wrote {f}")
    return 0
