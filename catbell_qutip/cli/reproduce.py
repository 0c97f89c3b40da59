"""``catbell reproduce``: every panel of the paper, its data, the claims table and a summary
(docs/model.md section 6).

See :mod:`catbell_qutip.reproduce`, :mod:`catbell_qutip.claims` and REPRODUCTION.md.
"""

from __future__ import annotations

from ..params import ENCODERS, ETA_INT_PLACEMENTS
from ..reproduce import model_text, reproduce
from . import summary
from ._common import check_out_dir, staged_output

__all__ = ["add_parser", "run"]


def add_parser(sub):
    p = sub.add_parser(
        "reproduce", help=summary("reproduce"),
        description="Compute panels 2(a), 2(b), 3(a)-(g), 4(a)-(c), the efficiency "
                    "thresholds, the model table (which encoder and eta_int placement the "
                    "paper's numbers point to) and the claims table C1-C10; write PNG/PDF "
                    "figures, netCDF/CSV data, summary.md/.json, claims.md/.json and "
                    "model_table.md/.json/.csv (REPRODUCTION.md compares them with the paper).")
    p.add_argument("--out", default="results", metavar="DIR",
                   help="output folder (default results/)")
    p.add_argument("--engine", choices=["coherent", "fock"], default="coherent",
                   help="engine (default coherent; fock is much slower)")
    p.add_argument("--quick", action="store_true", help="coarse grids (a fast check)")
    p.add_argument("--encoder", choices=list(ENCODERS),
                   help="override the encoder the repro presets pin (identified from the "
                        "paper's numbers: see model_table.md)")
    p.add_argument("--eta-int-placement", choices=list(ETA_INT_PLACEMENTS),
                   help="override where eta_int acts (the repro presets pin the placement "
                        "identified from the paper's numbers)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def run(args) -> int:
    check_out_dir(args.out)
    with staged_output(args.out) as stage:  # every file or none (Ctrl-C)
        summary = reproduce(stage, engine=args.engine, quick=args.quick,
                            progress=not args.no_progress, encoder=args.encoder,
                            eta_int_placement=args.eta_int_placement)
    meta = summary["_meta"]
    print(f"The paper's claims (model: {model_text(meta['model'])}; identified from the "
          f"paper's numbers: {model_text(meta['identified_model'])}):")
    for c in summary["_claims"]:
        print(f"  {c['id']:<4} {c['figure']:<14} {c['verdict']:<8} {c['ours']}")
        print(f"  {'':<4} {'':<14} {'':<8} paper: {c['paper']}")
        print(f"  {'':<4} {'':<14} {'':<8} {c['reason']}")
    print(f"wrote {args.out}/ (12 panels, thresholds, model_table, claims, summary) in "
          f"{summary['_timing']['wall_time_s']:.1f} s on the {args.engine} engine")
    return 0
