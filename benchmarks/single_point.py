"""Where the time of one Fock point called alone goes, against the 10x target of
``catbell bench speed`` (full-space QuTiP / Fock engine for one point called alone).

Run ``python benchmarks/single_point.py [--repeats R]``. For each single point of
``catbell bench speed`` (:data:`benchmarks.speed.POINTS` at l = 1 and
:data:`benchmarks.speed.CODE_POINTS`) it prints, as medians of CPU time per call (the
variants run in turn, rotating the order each round, as in :mod:`benchmarks.speed`):

- ``alone``: :func:`catbell_qutip.simulate` on a point met for the first time (every
  cache keyed by a point's values emptied: :func:`catbell_qutip.api.forget_points`), what
  ``catbell bench speed`` times;
- ``repeat``: the same call with those caches warm (the point called again);
- ``protocol``: the Fock protocol alone (initial state, steps 1-6, the heralded sum) at
  the point's cutoff, caches warm: no cutoff rule, no estimate of P, no summary;
- ``floor``: the same protocol at cutoff N + 1 (N = l + 1): every step, almost no
  arithmetic, so what the protocol's ~25 steps cost in Python and NumPy calls;
- ``baseline``: the plain full-space QuTiP route (:mod:`benchmarks.baseline_qutip`) at the
  point's cutoff, and ``need``: a tenth of it, the time a call must take for 10x.

The machine is shared: compare the columns of one run, not runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.baseline_qutip import baseline_point as _plain_baseline  # noqa: E402
from benchmarks.speed import CODE_POINTS, POINTS  # noqa: E402
from catbell_qutip import api, simulate  # noqa: E402
from catbell_qutip._threads import with_limited_blas  # noqa: E402
from catbell_qutip.codes import codes_of  # noqa: E402
from catbell_qutip.engines import FockState  # noqa: E402
from catbell_qutip.params import ProtocolParams  # noqa: E402
from catbell_qutip.protocol import run_protocol  # noqa: E402
from catbell_qutip.result import herald  # noqa: E402

#: the baseline on one BLAS thread, as the engines run (catbell_qutip._threads): with
#: OpenBLAS's default threads its CPU time at cutoff 48 was ~1.35x higher on this
#: 2-core machine (threads spinning), which inflated the ratios
baseline_point = with_limited_blas(_plain_baseline)

INNER = 10


@with_limited_blas  # as simulate(): one BLAS thread
def _protocol(p: ProtocolParams, cutoff: int):
    explicit = p.encoder == "explicit"
    state = FockState.initial(codes_of(p), [cutoff], explicit=explicit,
                              truncation_errors=[0.0]).batch_slice(slice(0, 1))
    return herald(run_protocol(p, state, explicit=explicit))


def measure(p: ProtocolParams, repeats: int = 7) -> dict:
    """CPU seconds per call of each variant (see the module docstring) at point ``p``."""
    cut = simulate(params=p).cutoff
    fns = {
        "alone": lambda: (api.forget_points(), simulate(params=p)),
        "repeat": lambda: simulate(params=p),
        "protocol": lambda: _protocol(p, cut),
        "floor": lambda: _protocol(p, p.n_components + 1),
        "baseline": lambda: baseline_point(p, cut),
    }
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    names = list(fns)
    for i in range(repeats):
        for name in names[i % len(names):] + names[: i % len(names)]:
            c = time.process_time()
            for _ in range(INNER):
                fns[name]()
            times[name].append((time.process_time() - c) / INNER)
    out = {k: float(np.median(v)) for k, v in times.items()}
    out["cutoff"] = cut
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7, help="rounds per median (default 7)")
    args = ap.parse_args(argv)
    points = {f"l1_{k}": dict(loss_order=1, **v) for k, v in POINTS.items()}
    points.update(CODE_POINTS)
    print(f"load average {os.getloadavg()[0]:.2f}; CPU ms per call, medians of "
          f"{args.repeats} x {INNER}")
    cols = ("alone", "repeat", "protocol", "floor", "baseline")
    print(f"| point | cutoff | {' | '.join(cols)} | need (baseline / 10) |")
    print("|---|---|" + "---|" * (len(cols) + 1))
    for name, kw in points.items():
        r = measure(ProtocolParams(**kw), args.repeats)
        cells = " | ".join(f"{1e3 * r[c]:.2f}" for c in cols)
        print(f"| {name} | {r['cutoff']} | {cells} | {1e3 * r['baseline'] / 10:.2f} |")
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
