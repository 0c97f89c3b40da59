"""``catbell sweep``: a parameter sweep from a TOML spec into a resumable Zarr store, and
``catbell sweep --verify STORE``: check a store's chunks against their checksums.

Exit codes: 0 done (or, with --verify, no damage found); 1 some points failed twice, a
write failed during the run, or (with --verify) damaged chunks were found; 2 bad input
refused before any work (spec, options, memory limit, store path, lock, code version);
130 interrupted.
"""

from __future__ import annotations

import sys

from ..sweep import SweepError, load_spec, run_sweep, verify_store
from . import summary
from ._common import cli_text, parser_flags, positive_int

#: exit code of --verify when damaged chunks are found
EXIT_DAMAGED = 1


def add_parser(sub):
    p = sub.add_parser(
        "sweep", help=summary("sweep"),
        description="Sweep protocol parameters over a grid (TOML spec: engine, preset, "
                    "outputs, [fixed], [axes]) and store the result as a chunked Zarr store, "
                    "chunk by chunk, each with a checksum. Rerunning the same command on an "
                    "interrupted store verifies the stored chunks and computes only the "
                    "missing or damaged ones; a store made from another spec is refused, and "
                    "so is a store in use by another sweep. Runs on a local process pool, or "
                    "on a Dask cluster with --scheduler. Exit codes: 0 done, 1 points failed "
                    "(or --verify found damage), 2 bad input, 130 interrupted. An example "
                    "spec to start from: examples/sweep_example.toml in the repository "
                    "(README, 'Parameter sweeps', explains every key).")
    p.add_argument("spec", metavar="SPEC.toml", nargs="?", help="sweep specification")
    p.add_argument("--out", metavar="STORE.zarr", help="Zarr store to create or resume")
    p.add_argument("--workers", type=positive_int, metavar="N",
                   help="local worker processes (default: one per available core)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask.distributed scheduler to run on, e.g. tcp://HOST:8786")
    p.add_argument("--force", action="store_true",
                   help="resume a store written by another version of the computing code "
                        "(recorded in the store)")
    p.add_argument("--verify", metavar="STORE.zarr",
                   help="only check STORE's chunks against their checksums (exit 1 if "
                        "any is damaged, 0 if none)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _verify(args) -> int:
    others = [f for f, v in (("SPEC.toml", args.spec), ("--out", args.out),
                             ("--workers", args.workers), ("--scheduler", args.scheduler),
                             ("--force", args.force)) if v]
    if others:
        raise ValueError(f"--verify takes a store and nothing else; drop {others[0]}")
    report = verify_store(args.verify)
    for line in report.damaged:
        print(f"catbell sweep: damaged: {line}", file=sys.stderr)
    print(f"catbell sweep: {report.summary()}")
    if report.damaged:
        what = ("restore its layout and recompute the damaged chunks" if report.layout
                else "recompute the damaged chunks")
        print(f"catbell sweep: rerun the sweep command on this store to {what}",
              file=sys.stderr)
        return EXIT_DAMAGED
    return 0


def run(args) -> int:
    if args.verify is not None:
        return _verify(args)
    if args.spec is None or args.out is None:
        raise ValueError("give SPEC.toml and --out STORE.zarr (or --verify STORE.zarr)")
    spec = load_spec(args.spec)
    flags = parser_flags(args._parser)

    def note(msg: str) -> None:
        print(f"catbell sweep: {cli_text(msg, 'sweep', flags=flags)}", file=sys.stderr,
              flush=True)

    try:
        _, stats = run_sweep(spec, args.out, workers=args.workers, scheduler=args.scheduler,
                             progress=not args.no_progress, force=args.force, note=note)
    except SweepError as exc:
        print(f"catbell sweep: {exc.stats.summary()} -> {args.out}")
        print(f"catbell sweep: error: {exc}", file=sys.stderr)
        print("catbell sweep: the other chunks are stored; rerun the same command to retry "
              "the failed ones", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"catbell sweep: error: writing {args.out!r} failed ({exc}); the chunks "
              "flagged done are intact: fix the cause and rerun the same command to resume",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("catbell sweep: interrupted; finished chunks are stored, rerun the same "
              "command to resume", file=sys.stderr)
        return 130
    print(f"catbell sweep: {stats.summary()} -> {args.out}")
    return 0
