"""``catbell sweep``: a parameter sweep from a TOML spec into a resumable Zarr store."""

from __future__ import annotations

import sys

from ..sweep import SweepError, _run, load_spec


def _positive_int(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def add_parser(sub):
    p = sub.add_parser(
        "sweep", help="parameter sweep into a resumable Zarr store",
        description="Sweep protocol parameters over a grid (TOML spec: engine, preset, "
                    "outputs, [fixed], [axes]) and store the result as a chunked Zarr store, "
                    "chunk by chunk. Rerunning the same command on an interrupted store "
                    "computes only the missing chunks; a store made from another spec is "
                    "refused. Runs on a local process pool, or on a Dask cluster with "
                    "--scheduler.")
    p.add_argument("spec", metavar="SPEC.toml", help="sweep specification")
    p.add_argument("--out", required=True, metavar="STORE.zarr",
                   help="Zarr store to create or resume")
    p.add_argument("--workers", type=_positive_int, metavar="N",
                   help="local worker processes (default: one per available core)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="dask.distributed scheduler to run on, e.g. tcp://HOST:8786")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run(args) -> int:
    spec = load_spec(args.spec)
    try:
        _, stats = _run(spec, args.out, workers=args.workers, scheduler=args.scheduler,
                        progress=not args.no_progress)
    except SweepError as exc:
        print(f"catbell sweep: {exc.stats.summary()} -> {args.out}")
        print(f"catbell sweep: error: {exc}", file=sys.stderr)
        print("catbell sweep: the other chunks are stored; rerun the same command to retry "
              "the failed ones", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("catbell sweep: interrupted; finished chunks are stored, rerun the same "
              "command to resume", file=sys.stderr)
        return 130
    print(f"catbell sweep: {stats.summary()} -> {args.out}")
    return 0
