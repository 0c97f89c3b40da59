"""Speed-up of a Fock-engine sweep from 1 to 2 local workers (target: >= 1.7x).

    python benchmarks/sweep_scaling.py [--repeat N] [--json]

The sweep: Fock engine, Table I preset, l = 1, linear-optics USD, L = 5 km, alpha (20
values in [0.5, 3]) x eta_int (10 values in [0.8, 1]) = 200 points, roughly 20-100 ms each.
Each run is the whole ``catbell_qutip.sweep`` call into a fresh Zarr store: pool start-up,
store creation, chunk scheduling and store writes included (one untimed warm-up sweep first
takes the one-time imports out of the comparison). Runs alternate 1 and 2 workers; the best of
``--repeat`` runs of each is compared, which is the least noisy estimate on a shared
machine; "cores busy" (worker CPU seconds / wall seconds) shows how much of the machine the
workers actually got, so a speed-up held down by other load is visible as such. The script
also checks that both runs stored bit-identical numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from catbell_qutip.sweep import SweepSpec, sweep

SPEC = {
    "engine": "fock",
    "preset": "table1",
    "outputs": ["P", "F", "S", "Q"],
    "fixed": {"loss_order": 1, "usd": "linear", "length_km": 5.0},
    "axes": {"alpha": {"start": 0.5, "stop": 3.0, "num": 20},
             "eta_int": {"start": 0.8, "stop": 1.0, "num": 10}},
}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed_run(workers: int, root: Path, tag: str):
    """(wall seconds, worker CPU seconds, dataset). The pool's processes are joined when
    the sweep returns, so their CPU time is in RUSAGE_CHILDREN by then."""
    store = root / f"{tag}.zarr"
    cpu = _children_cpu()
    t = time.perf_counter()
    ds = sweep(SPEC, store, workers=workers, progress=False)
    elapsed = time.perf_counter() - t
    return elapsed, _children_cpu() - cpu, ds.load()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="runs per worker count (best kept)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    spec = SweepSpec.from_dict(SPEC)
    load_before = os.getloadavg()
    times = {1: [], 2: []}
    cores_used = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        # warm-up, untimed: one-time imports (zarr, dask.array, xarray's backend) would
        # otherwise be charged to whichever run comes first
        sweep(dict(SPEC, axes={"alpha": [1.0]}), Path(tmp) / "warmup.zarr", workers=1,
              progress=False).load()
        results = {}
        for r in range(args.repeat):
            for w in (1, 2):
                t, cpu, ds = timed_run(w, Path(tmp), f"w{w}-{r}")
                times[w].append(t)
                cores_used[w].append(cpu / t)
                results[w] = ds
        for k in spec.outputs:
            if not np.array_equal(results[1][k].values, results[2][k].values,
                                  equal_nan=True):
                raise SystemExit(f"1 and 2 workers stored different {k}")
    best = {w: min(ts) for w, ts in times.items()}
    out = {
        "points": spec.size, "chunks": int(np.prod(spec.chunk_grid)),
        "chunk_shape": list(spec.chunks), "cores": os.cpu_count(),
        "loadavg_1min_before": round(load_before[0], 2),
        "seconds_1_worker": [round(t, 2) for t in times[1]],
        "seconds_2_workers": [round(t, 2) for t in times[2]],
        "worker_cores_used_1": [round(c, 2) for c in cores_used[1]],
        "worker_cores_used_2": [round(c, 2) for c in cores_used[2]],
        "speedup": round(best[1] / best[2], 3),
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(f"Fock sweep, {out['points']} points in {out['chunks']} chunks "
              f"(chunk {out['chunk_shape']}), {out['cores']} cores, load average "
              f"{out['loadavg_1min_before']} before the runs")
        for w in (1, 2):
            runs = ", ".join(f"{t:.2f} s ({c:.2f} cores busy)"
                             for t, c in zip(times[w], cores_used[w], strict=True))
            print(f"{w} worker{'s' if w > 1 else ' '}: {runs}")
        print(f"speed-up (best of each): {out['speedup']:.2f}x  (target >= 1.7x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
