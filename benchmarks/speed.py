"""Speed of the two engines, of the vectorised path, of ``catbell reproduce``, and of the
plain full-space QuTiP baseline, against the targets of :data:`TARGETS`.

Run ``python benchmarks/speed.py [--json] [--repeats R]`` or ``catbell bench speed``.

Every time is the median over ``repeats`` runs; every ratio divides two medians taken in
the same process, with the runs of the two sides interleaved, so that load from other
processes hits both alike. Times are wall-clock (``time.perf_counter``) with the process
CPU time next to them (``time.process_time``): CPU time ~ wall time means one busy core.

Measured:

- ``per_point``: one point of each engine through :func:`catbell_qutip.simulate` (default
  cutoff for Fock), l = 0, 1, 3, at an ideal point (alpha = 2, eta = 0.5) and a Table I
  point (alpha = 2, L = 20 km, preset ``table1``).
- ``grid``: :func:`catbell_qutip.evaluate` on a 100 x 100 (alpha, eta) grid (alpha in
  [0.04, 4], eta in [0.01, 1]) per loss order, ideal and Table I; against the Fock engine
  on a seeded sample of points *of the same grid* (per-point mean), in the same run.
- ``baseline``: the same l = 1 point with full-space Qobj operators
  (:mod:`benchmarks.baseline_qutip`) and with the Fock engine at the same cutoff; results
  must agree to 1e-10.
- ``reproduce_quick``: wall time and peak memory (max RSS) of ``catbell reproduce --quick``
  in a subprocess (``"not available"`` when that command fails); with
  ``--reproduce-full`` also the default ``catbell reproduce`` (``reproduce_default``).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.baseline_qutip import baseline_point  # noqa: E402
from catbell_qutip import evaluate, simulate  # noqa: E402
from catbell_qutip.cli._common import staged_output  # noqa: E402
from catbell_qutip.outputs import dumps  # noqa: E402
from catbell_qutip.params import ProtocolParams, preset  # noqa: E402

__all__ = ["run_speed", "format_table", "main", "GRID_ALPHA", "GRID_ETA", "POINTS"]

GRID_ALPHA = np.linspace(0.04, 4.0, 100)
GRID_ETA = np.linspace(0.01, 1.0, 100)

#: the single points of ``per_point`` and ``baseline``
POINTS = {
    "ideal": dict(alpha=2.0, eta=0.5),
    "table1": dict(alpha=2.0, length_km=20.0, **preset("table1")),
}

#: targets: (quantity, threshold, direction)
TARGETS = {
    "grid_l1_ideal_seconds": ("vectorised l = 1 100x100 grid time [s]", 1.0, "<"),
    "grid_l1_ideal_ratio": ("Fock / vectorised coherent time per point, l = 1", 100.0, ">="),
    "baseline_l1_min_ratio": (
        "full-space QuTiP / Fock engine (auto cutoff), l = 1, worse of the two points",
        10.0, ">="),
    "reproduce_quick_seconds": ("catbell reproduce --quick wall time [s]", 30.0, "<"),
    "reproduce_default_seconds": ("catbell reproduce wall time [s]", 180.0, "<"),
}


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def _interleaved(fns: dict, repeats: int) -> dict:
    """Median wall and CPU time of each callable, the callables run in turn each round."""
    walls = {k: [] for k in fns}
    cpus = {k: [] for k in fns}
    for fn in fns.values():  # warm-up: imports, caches of fixed tables
        fn()
    names = list(fns)
    for i in range(repeats):
        # rotate the order each round: a call that always follows another pays that call's
        # cache and allocator aftermath (the Qobj baseline leaves a lot), a systematic bias
        for name in names[i % len(names):] + names[: i % len(names)]:
            w, c, _ = _timed(fns[name])
            walls[name].append(w)
            cpus[name].append(c)
    return {k: {"wall_s": float(np.median(walls[k])), "cpu_s": float(np.median(cpus[k]))}
            for k in fns}


def _per_point(repeats: int) -> dict:
    out = {}
    for scen, kw in POINTS.items():
        for l in (0, 1, 3):
            fns = {
                "fock": lambda l=l, kw=kw: simulate(l, engine="fock", **kw),
                "coherent": lambda l=l, kw=kw: simulate(l, engine="coherent", **kw),
            }
            t = _interleaved(fns, repeats)
            r = simulate(l, engine="fock", **kw)
            out[f"l{l}_{scen}"] = {
                "fock_s": t["fock"]["wall_s"], "coherent_s": t["coherent"]["wall_s"],
                "fock_cpu_s": t["fock"]["cpu_s"], "coherent_cpu_s": t["coherent"]["cpu_s"],
                "cutoff": r.cutoff,
            }
    return out


def _grid(repeats: int, loss_orders, n_fock: int, seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    scenarios = {"ideal": {}, "table1": dict(length_km=20.0, **preset("table1"))}
    for scen, kw in scenarios.items():
        for l in loss_orders:
            ia = rng.integers(0, GRID_ALPHA.size, n_fock)
            ie = rng.integers(0, GRID_ETA.size, n_fock)
            sample = list(zip(GRID_ALPHA[ia], GRID_ETA[ie], strict=True))

            def grid(l=l, kw=kw):
                return evaluate(l, alpha=GRID_ALPHA[:, None], eta=GRID_ETA[None, :], **kw)

            def fock(l=l, kw=kw, sample=sample):
                for a, e in sample:
                    simulate(l, float(a), float(e), engine="fock", **kw)

            t = _interleaved({"grid": grid, "fock": fock}, repeats)
            n = GRID_ALPHA.size * GRID_ETA.size
            coh_pp = t["grid"]["wall_s"] / n
            fock_pp = t["fock"]["wall_s"] / n_fock
            out[f"l{l}_{scen}"] = {
                "grid_points": n, "grid_s": t["grid"]["wall_s"], "grid_cpu_s": t["grid"]["cpu_s"],
                "coherent_per_point_s": coh_pp, "fock_per_point_s": fock_pp,
                "fock_sample_points": n_fock, "ratio": fock_pp / coh_pp,
            }
    return out


#: calls per timed sample in the baseline comparison
INNER = 10


def _baseline(repeats: int) -> dict:
    out = {}
    for scen, kw in POINTS.items():
        p = ProtocolParams(loss_order=1, **kw)
        r = simulate(params=p, engine="fock")
        c = r.cutoff
        # each sample is a batch of INNER calls (the same for every side): single ~1 ms calls
        # are at the mercy of the timer and of whatever ran just before them
        t = _interleaved({
            "baseline": lambda p=p, c=c: [baseline_point(p, c) for _ in range(INNER)],
            "fock_auto": lambda p=p: [simulate(params=p, engine="fock") for _ in range(INNER)],
            "fock_fixed": lambda p=p, c=c: [simulate(params=p, engine="fock", cutoff=c)
                                            for _ in range(INNER)],
        }, repeats)
        t = {k: {kk: vv / INNER for kk, vv in v.items()} for k, v in t.items()}
        P, F = baseline_point(p, c)
        out[f"l1_{scen}"] = {
            "cutoff": c,
            "baseline_s": t["baseline"]["wall_s"],
            "fock_s": t["fock_auto"]["wall_s"],
            "fock_fixed_cutoff_s": t["fock_fixed"]["wall_s"],
            "ratio": t["baseline"]["wall_s"] / t["fock_auto"]["wall_s"],
            "ratio_fixed_cutoff": t["baseline"]["wall_s"] / t["fock_fixed"]["wall_s"],
            "abs_diff_P": abs(P - r.P), "abs_diff_F": abs(F - r.F),
            "identical_1e-10": bool(abs(P - r.P) <= 1e-10 and abs(F - r.F) <= 1e-10),
        }
    return out


def _reproduce(quick: bool = True) -> dict:
    """``catbell reproduce [--quick]`` in a subprocess: wall time, peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "catbell_qutip", "reproduce", "--no-progress",
               "--out", tmp] + (["--quick"] if quick else [])
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        w = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - w
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        return {"status": "not available", "returncode": proc.returncode, "message": tail[0]}
    # ru_maxrss of children is the largest child so far: exact if this child is the largest
    return {"status": "ok", "wall_s": wall,
            "peak_rss_mib": peak_kib / 1024.0 if peak_kib > before else None,
            "command": "catbell reproduce" + (" --quick" if quick else "")}


def run_speed(repeats: int = 5, *, quick: bool = False, reproduce: bool = True,
              reproduce_full: bool = False) -> dict:
    """Run every measurement; return a JSON-ready dict (see the module docstring).

    ``quick`` shrinks the repeats and the Fock sample (a smoke test, not for reporting).
    """
    if quick:
        repeats = min(repeats, 2)
    n_fock = 4 if quick else 12
    t0 = time.perf_counter()
    res = {
        "meta": {
            "python": platform.python_version(), "numpy": np.__version__,
            "machine": platform.machine(), "cpu_count": os.cpu_count(),
            "loadavg_start": list(os.getloadavg()), "repeats": repeats,
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
            "grid": "alpha = linspace(0.04, 4, 100) x eta = linspace(0.01, 1, 100)",
            "points": {k: {kk: vv for kk, vv in v.items()} for k, v in POINTS.items()},
        },
    }
    res["per_point"] = _per_point(repeats)
    res["grid"] = _grid(repeats, (0, 1) if quick else (0, 1, 3), n_fock)
    res["baseline"] = _baseline(repeats)
    res["reproduce_quick"] = _reproduce(True) if reproduce else {"status": "skipped"}
    res["reproduce_default"] = _reproduce(False) if reproduce_full else {"status": "skipped"}
    g = res["grid"]["l1_ideal"]
    base = res["baseline"].values()
    rq = res["reproduce_quick"]
    values = {
        "grid_l1_ideal_seconds": g["grid_s"],
        "grid_l1_ideal_ratio": g["ratio"],
        # the worse point counts: the target is for "an l = 1 point", not the best one
        "baseline_l1_min_ratio": min(b["ratio"] if b["identical_1e-10"] else 0.0
                                     for b in base),
        "reproduce_quick_seconds": rq.get("wall_s", float("nan")),
        "reproduce_default_seconds": res["reproduce_default"].get("wall_s", float("nan")),
    }
    res["targets"] = {}
    for key, (what, thr, op) in TARGETS.items():
        v = values[key]
        met = (v < thr) if op == "<" else (v >= thr)
        res["targets"][key] = {"what": what, "value": v, "target": f"{op} {thr:g}",
                               "met": bool(met) if np.isfinite(v) else None}
    res["meta"]["loadavg_end"] = list(os.getloadavg())
    res["meta"]["total_s"] = time.perf_counter() - t0
    return res


def _fmt_t(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def format_table(res: dict) -> str:
    """The measurements as Markdown tables, for people."""
    lines = ["Per point, simulate() (median wall time):", "",
             "| point | cutoff | Fock | coherent | Fock / coherent |", "|---|---|---|---|---|"]
    for k, v in res["per_point"].items():
        lines.append(f"| {k} | {v['cutoff']} | {_fmt_t(v['fock_s'])} | "
                     f"{_fmt_t(v['coherent_s'])} | {v['fock_s'] / v['coherent_s']:.1f} |")
    lines += ["", "Vectorised evaluate() on the 100 x 100 (alpha, eta) grid vs the Fock engine "
              "on points of the same grid:", "",
              "| grid | grid time (CPU) | coherent / point | Fock / point | ratio |",
              "|---|---|---|---|---|"]
    for k, v in res["grid"].items():
        lines.append(f"| {k} | {_fmt_t(v['grid_s'])} ({_fmt_t(v['grid_cpu_s'])}) | "
                     f"{_fmt_t(v['coherent_per_point_s'])} | {_fmt_t(v['fock_per_point_s'])} | "
                     f"{v['ratio']:.0f} |")
    lines += ["", "Full-space QuTiP baseline vs the Fock engine, one l = 1 point:", "",
              "| point | cutoff | QuTiP full space | Fock (auto cutoff) | ratio | "
              "Fock (fixed cutoff) | ratio | max abs diff P, F |",
              "|---|---|---|---|---|---|---|---|"]
    for k, v in res["baseline"].items():
        lines.append(f"| {k} | {v['cutoff']} | {_fmt_t(v['baseline_s'])} | {_fmt_t(v['fock_s'])} "
                     f"| {v['ratio']:.1f} | {_fmt_t(v['fock_fixed_cutoff_s'])} | "
                     f"{v['ratio_fixed_cutoff']:.1f} | "
                     f"{max(v['abs_diff_P'], v['abs_diff_F']):.1e} |")
    lines += [""]
    for key, name in (("reproduce_quick", "catbell reproduce --quick"),
                      ("reproduce_default", "catbell reproduce")):
        rq = res[key]
        if rq.get("status") == "ok":
            mem = rq["peak_rss_mib"]
            lines.append(f"{name}: {rq['wall_s']:.1f} s wall, peak RSS "
                         f"{'n/a' if mem is None else f'{mem:.0f} MiB'}")
        else:
            lines.append(f"{name}: {rq.get('status')} {rq.get('message', '')}".rstrip())
    lines += ["", "Targets:", "", "| target | value | wanted | met |", "|---|---|---|---|"]
    for v in res["targets"].values():
        met = "not measured" if v["met"] is None else ("yes" if v["met"] else "NO")
        lines.append(f"| {v['what']} | {v['value']:.3g} | {v['target']} | {met} |")
    m = res["meta"]
    lines += ["", f"load average {m['loadavg_start'][0]:.1f} -> {m['loadavg_end'][0]:.1f} on "
              f"{m['cpu_count']} cores; medians of {m['repeats']} runs; total "
              f"{m['total_s']:.0f} s"]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    from catbell_qutip.cli.bench import add_speed_arguments

    add_speed_arguments(ap)
    args = ap.parse_args(argv)
    return run_cli(args)


def run_cli(args) -> int:
    if args.repeats < 1:
        raise ValueError(f"--repeats = {args.repeats} must be >= 1")
    res = run_speed(args.repeats, quick=args.quick, reproduce=not args.no_reproduce,
                    reproduce_full=getattr(args, "reproduce_full", False))
    text = dumps(res, indent=2) if args.json else format_table(res)
    print(text)
    if args.out:
        with staged_output(args.out) as stage:  # both files or neither
            (stage / "speed.json").write_text(dumps(res, indent=2) + "\n")
            (stage / "speed.md").write_text(format_table(res) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
