"""``catbell bench``: truncation convergence and speed benchmarks.

The benchmarks live in the repository's ``benchmarks/`` folder (next to the package);
this subcommand runs them from a source checkout:

- ``catbell bench convergence [--out DIR] [--json] [--quick] [--no-progress]``:
  Fock-cutoff convergence against the coherent engine and validation of the automatic
  cutoff rule (``benchmarks/convergence.py``); exit code 1 if the rule fails somewhere.
- ``catbell bench speed [--json] [--out DIR] [--repeats R] [--quick]``: per-point times,
  vectorised throughput, ``catbell reproduce --quick``, the full-space QuTiP baseline
  (``benchmarks/speed.py``).

Files go to ``--out`` (convergence: default ``results/bench``, git-ignored, like every
command's default output), written all at once (:func:`._common.staged_output`): an
interrupted run leaves no partial files. The copies the documentation shows live in
``docs/bench/`` and are refreshed only on purpose (README, "Benchmarks").
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from . import summary
from ._common import check_out_dir

__all__ = ["add_parser", "run", "DEFAULT_OUT"]

#: default output folder of ``catbell bench convergence`` (relative to the current folder)
DEFAULT_OUT = "results/bench"


def add_parser(sub):
    p = sub.add_parser("bench", help=summary("bench"),
                       description="Truncation-convergence and speed benchmarks. They live in "
                                   "the repository's benchmarks/ folder, so this runs from a "
                                   "source checkout.")
    acts = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = acts.add_parser("convergence", help="Fock cutoff vs the coherent engine; check the "
                                            "automatic cutoff rule (|delta S| <= 1e-8)",
                        description="Fock-cutoff convergence against the coherent engine and "
                                    "a check of the automatic cutoff rule (|delta S| <= 1e-8; "
                                    "exit code 1 if it fails somewhere).")
    c.add_argument("--out", metavar="DIR", default=DEFAULT_OUT,
                   help=f"output folder (default {DEFAULT_OUT}; docs/bench holds the copies "
                        "the documentation shows)")
    c.add_argument("--json", action="store_true", help="print the summary as JSON")
    c.add_argument("--quick", action="store_true", help="coarser curves and grid")
    c.add_argument("--no-progress", action="store_true",
                   help="no progress lines on stderr (one per 100 points checked; --json "
                        "prints none either)")
    s = acts.add_parser(
        "speed", help="engine timings, ratios and targets",
        description="Per-point engine timings, vectorised throughput, 'catbell reproduce "
                    "--quick' and the full-space QuTiP baseline, with ratios and targets. "
                    "It shows no progress (so it has no --no-progress): it prints its "
                    "tables when done, after a few minutes.")
    add_speed_arguments(s)
    for action in (c, s):  # a mistyped flag is named by the action's own parser
        action.set_defaults(_parser=action)
    return p


def add_speed_arguments(s) -> None:
    """Flags of the speed benchmark (shared with ``python benchmarks/speed.py``)."""
    s.add_argument("--json", action="store_true", help="print JSON instead of tables")
    s.add_argument("--out", metavar="DIR", default=None,
                   help="also write speed.json and speed.md to DIR (default: print only)")
    s.add_argument("--repeats", type=int, default=5, help="runs per median (default 5)")
    s.add_argument("--quick", action="store_true", help="smoke test: fewer runs and points")
    s.add_argument("--no-reproduce", action="store_true",
                   help="skip timing 'catbell reproduce' (default grids) and 'catbell "
                        "reproduce --quick --engine fock'")
    s.add_argument("--readme", metavar="FILE",
                   help="also rewrite the run-time table of FILE (README.md) between its "
                        "speed-table markers")
    s.add_argument("--reproduce-full", action="store_true",
                   help="also time 'catbell reproduce --engine fock' on the default grids "
                        "(minutes)")


def _bench_module(name: str):
    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / f"{name}.py").is_file():
        raise ValueError(f"benchmarks/{name}.py not found next to the package (at {root}); "
                         "catbell bench runs from a source checkout of the repository")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(f"benchmarks.{name}")


def run(args) -> int:
    if args.out is not None:
        check_out_dir(args.out)
    readme = getattr(args, "readme", None)
    if readme is not None and not Path(readme).is_file():
        raise ValueError(f"--readme {readme}: no such file (give the README whose run-time "
                         "table to rewrite)")
    mod = _bench_module(args.action)
    return mod.run_cli(args)
