"""Speed of the Fock engine against the plain full-space QuTiP baseline, of the vectorised
coherent path, and of ``catbell reproduce`` on both engines, against :data:`TARGETS`.

Run ``python benchmarks/speed.py [--json] [--repeats R] [--reproduce-full]`` or
``catbell bench speed``.

Every time is the median over ``repeats`` runs, as CPU time of this process
(``time.process_time``) with the wall time (``time.perf_counter``) beside it; every ratio
divides two medians taken in the same process, the two sides run in turn (rotating the
order each round), so that load from other processes hits both alike, and both on one BLAS
thread (the engines' setting, :mod:`catbell_qutip._threads`). The load average at
the start and the end is reported: wall times at load 5 are 2-3x those at load 1, CPU
times much less so.

Measured:

- ``batch``: :func:`catbell_qutip.evaluate` with ``engine="fock"`` on a 20 x 10 grid (200
  points: alpha in [0.5, 3] x eta in [0.1, 1] ("ideal"), or x L in [1, 40] km with the
  ``table1`` preset), l = 0, 1, 3, per point; the baseline
  (:mod:`benchmarks.baseline_qutip`, full-space Qobj operators) on a seeded sample of
  :data:`N_SAMPLE` points of the same grid, each at the Fock engine's own cutoff, per
  point. The results must agree to 1e-10 (P, F) at the sample.
- ``single``: one point called alone through :func:`catbell_qutip.simulate`, Fock engine
  and baseline at the same cutoff: l = 1 at the points of :data:`POINTS`, and the code
  families of docs/model.md 7 (:data:`CODE_POINTS`); samples of :data:`INNER` calls, each
  with every cache keyed by a point's values emptied (a point met for the first time, not
  a repeat: :func:`catbell_qutip.api.forget_points`).
- ``grid``: the coherent engine's 100 x 100 (alpha, eta) grid, l = 1 (vectorised path).
- ``reproduce_*``: ``catbell reproduce`` in a subprocess (default grids, coherent engine;
  ``--quick`` on the Fock engine; with ``--reproduce-full`` the default grids on the Fock
  engine too): CPU time (user + sys of the child), wall time, peak memory.
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

from benchmarks.baseline_qutip import baseline_point as _plain_baseline  # noqa: E402
from catbell_qutip import api, evaluate, simulate  # noqa: E402
from catbell_qutip._threads import with_limited_blas  # noqa: E402
from catbell_qutip.cli._common import staged_output  # noqa: E402
from catbell_qutip.outputs import dumps  # noqa: E402
from catbell_qutip.params import ProtocolParams, preset  # noqa: E402

#: the baseline on one BLAS thread, as the engines run (catbell_qutip._threads): with
#: OpenBLAS's default threads its CPU time at cutoff 48 was ~1.35x higher on this
#: 2-core machine (threads spinning), which inflated the ratios
baseline_point = with_limited_blas(_plain_baseline)

__all__ = ["run_speed", "format_table", "write_readme_table", "main", "POINTS", "CODE_POINTS",
           "TARGETS", "BATCH_ALPHA", "BATCH_ETA", "BATCH_LENGTH"]

BATCH_ALPHA = np.linspace(0.5, 3.0, 20)
BATCH_ETA = np.linspace(0.1, 1.0, 10)
BATCH_LENGTH = np.linspace(1.0, 40.0, 10)
GRID_ALPHA = np.linspace(0.04, 4.0, 100)
GRID_ETA = np.linspace(0.01, 1.0, 100)
#: baseline points sampled from each 200-point batch
N_SAMPLE = 6
#: calls per timed sample of a single point (single ~1 ms calls are timer noise)
INNER = 10

#: the single l = 1 points
POINTS = {
    "ideal": dict(alpha=2.0, eta=0.5),
    "table1": dict(alpha=2.0, length_km=20.0, **preset("table1")),
}

#: single points of the code families (docs/model.md 7): name -> ProtocolParams fields
CODE_POINTS = {
    "binomial l=1 M=1 table1": dict(loss_order=1, code="binomial", binomial_m=1,
                                   length_km=5.0, **preset("table1")),
    "binomial l=3 M=3": dict(loss_order=3, code="binomial", eta=0.7),
    "squeezed-cat l=1 r=0.3": dict(loss_order=1, code="squeezed-cat", alpha=1.5,
                                   squeezing=0.3, eta=0.7),
    "squeezed-cat l=3 r=-0.2 table1": dict(loss_order=3, code="squeezed-cat", alpha=2.0,
                                           squeezing=-0.2, length_km=5.0,
                                           **preset("table1")),
}

#: targets: key -> (quantity, threshold, direction)
TARGETS = {
    "batch_ratio_min": ("full-space QuTiP / Fock engine per point, batches of 200 through "
                        "evaluate (worst of l = 0, 1, 3 x ideal, Table I)", 30.0, ">="),
    "single_l1_ratio_min": ("full-space QuTiP / Fock engine, one l = 1 point called alone "
                            "(worse of ideal, Table I)", 10.0, ">="),
    "codes_ratio_min": ("full-space QuTiP / Fock engine, one binomial or squeezed-cat point "
                        "(worst)", 10.0, ">="),
    "grid_l1_seconds": ("coherent engine, l = 1 100 x 100 grid, CPU time [s]", 1.0, "<"),
    "reproduce_default_cpu_s": ("catbell reproduce, CPU time [s]", 10.0, "<"),
    "reproduce_fock_cpu_s": ("catbell reproduce --engine fock, CPU time [s]", 180.0, "<"),
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


def _batch(repeats: int, loss_orders=(0, 1, 3), seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    scenarios = {"ideal": dict(eta=BATCH_ETA[None, :]),
                 "table1": dict(length_km=BATCH_LENGTH[None, :], **preset("table1"))}
    for scen, kw in scenarios.items():
        for l in loss_orders:
            res = evaluate(l, engine="fock", alpha=BATCH_ALPHA[:, None], **kw)
            ia = rng.integers(0, BATCH_ALPHA.size, N_SAMPLE)
            ij = rng.integers(0, 10, N_SAMPLE)
            sample = []
            for i, j in zip(ia, ij, strict=True):
                fields = {k: (float(np.ravel(v)[j]) if np.ndim(v) else v) for k, v in kw.items()}
                p = ProtocolParams(loss_order=l, alpha=float(BATCH_ALPHA[i]), **fields)
                sample.append((p, simulate(params=p).cutoff, i, j))
            diff = max(max(abs(P - res["P"][i, j]), abs(F - res["F"][i, j]))
                       for (P, F), (_, _, i, j) in
                       zip([baseline_point(p, c) for p, c, _, _ in sample], sample,
                           strict=True))
            t = _interleaved({
                "fock": lambda l=l, kw=kw: evaluate(l, engine="fock",
                                                    alpha=BATCH_ALPHA[:, None], **kw),
                "baseline": lambda sample=sample: [baseline_point(p, c)
                                                   for p, c, _, _ in sample],
            }, repeats)
            n = BATCH_ALPHA.size * 10
            fock_cpu, base_cpu = t["fock"]["cpu_s"] / n, t["baseline"]["cpu_s"] / N_SAMPLE
            out[f"l{l}_{scen}"] = {
                "points": n, "fock_cpu_per_point_s": fock_cpu,
                "fock_wall_per_point_s": t["fock"]["wall_s"] / n,
                "baseline_cpu_per_point_s": base_cpu,
                "baseline_wall_per_point_s": t["baseline"]["wall_s"] / N_SAMPLE,
                "ratio": base_cpu / fock_cpu, "max_abs_diff": float(diff),
                "identical_1e-10": bool(diff <= 1e-10),
            }
    return out


def _alone(p: ProtocolParams):
    """One point called alone, as a point met for the first time: every cache keyed by a
    point's values emptied first (:func:`catbell_qutip.api.forget_points`: the memo of P
    that a solver or a scan reuses at nearby amplitudes, the cutoff rule per code, the
    loss channels per transmission, the USD effects), so every call pays the cutoff rule
    and builds its operators in full; only tables keyed by the cutoff stay (every point at
    that cutoff shares them)."""
    api.forget_points()
    return simulate(params=p)


def _single(repeats: int, points: dict) -> dict:
    out = {}
    for name, kw in points.items():
        p = ProtocolParams(**kw)
        r = simulate(params=p)
        c = r.cutoff
        t = _interleaved({
            "baseline": lambda p=p, c=c: [baseline_point(p, c) for _ in range(INNER)],
            "fock": lambda p=p: [_alone(p) for _ in range(INNER)],
        }, repeats)
        P, F = baseline_point(p, c)
        diff = max(abs(P - r.P), abs(F - r.F))
        out[name] = {
            "cutoff": c,
            "baseline_cpu_s": t["baseline"]["cpu_s"] / INNER,
            "fock_cpu_s": t["fock"]["cpu_s"] / INNER,
            "baseline_wall_s": t["baseline"]["wall_s"] / INNER,
            "fock_wall_s": t["fock"]["wall_s"] / INNER,
            "ratio": t["baseline"]["cpu_s"] / t["fock"]["cpu_s"],
            "max_abs_diff": float(diff), "identical_1e-10": bool(diff <= 1e-10),
        }
    return out


def _grid(repeats: int) -> dict:
    t = _interleaved({"grid": lambda: evaluate(1, alpha=GRID_ALPHA[:, None],
                                               eta=GRID_ETA[None, :])}, repeats)
    return {"l1_ideal": {"points": GRID_ALPHA.size * GRID_ETA.size, **t["grid"]}}


def _reproduce(engine: str, quick: bool) -> dict:
    """``catbell reproduce`` in a subprocess: CPU time (user + sys), wall time, peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "catbell_qutip", "reproduce", "--no-progress",
               "--engine", engine, "--out", tmp] + (["--quick"] if quick else [])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        load = os.getloadavg()[0]
        w = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - w
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    name = "catbell reproduce" + (" --quick" if quick else "") + \
        (" --engine fock" if engine == "fock" else "")
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        return {"status": "not available", "command": name, "returncode": proc.returncode,
                "message": tail[0]}
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"status": "ok", "command": name, "cpu_s": cpu, "wall_s": wall,
            "load_start": load, "load_end": os.getloadavg()[0],
            # ru_maxrss of children is the largest child so far
            "peak_rss_mib": after.ru_maxrss / 1024.0 if after.ru_maxrss > before.ru_maxrss
            else None}


def run_speed(repeats: int = 5, *, quick: bool = False, reproduce: bool = True,
              reproduce_full: bool = False) -> dict:
    """Run every measurement; return a JSON-ready dict (see the module docstring).

    ``quick`` shrinks the repeats and the batches (a smoke test, not for reporting).
    """
    if quick:
        repeats = min(repeats, 2)
    t0 = time.perf_counter()
    res = {"meta": {
        "python": platform.python_version(), "numpy": np.__version__,
        "machine": platform.machine(), "cpu_count": os.cpu_count(),
        "loadavg_start": list(os.getloadavg()), "repeats": repeats,
        "batch": "alpha = linspace(0.5, 3, 20) x eta = linspace(0.1, 1, 10) (ideal) or "
                 "L = linspace(1, 40, 10) km (table1)",
        "points": POINTS, "code_points": CODE_POINTS,
    }}
    res["batch"] = _batch(repeats, (0, 1) if quick else (0, 1, 3))
    single = dict(POINTS) if not quick else {"ideal": POINTS["ideal"]}
    res["single"] = _single(repeats, {f"l1_{k}": dict(loss_order=1, **v)
                                      for k, v in single.items()})
    codes = CODE_POINTS if not quick else dict(list(CODE_POINTS.items())[:2])
    res["codes"] = _single(repeats, codes)
    res["grid"] = _grid(repeats)
    skipped = {"status": "skipped"}
    res["reproduce_default"] = _reproduce("coherent", False) if reproduce else skipped
    res["reproduce_fock_quick"] = _reproduce("fock", True) if reproduce else skipped
    res["reproduce_fock"] = _reproduce("fock", False) if reproduce_full else skipped

    def ok_ratio(block):
        return min(b["ratio"] if b["identical_1e-10"] else 0.0 for b in block.values())

    values = {
        "batch_ratio_min": ok_ratio(res["batch"]),
        "single_l1_ratio_min": ok_ratio(res["single"]),
        "codes_ratio_min": ok_ratio(res["codes"]),
        "grid_l1_seconds": res["grid"]["l1_ideal"]["cpu_s"],
        "reproduce_default_cpu_s": res["reproduce_default"].get("cpu_s", float("nan")),
        "reproduce_fock_cpu_s": res["reproduce_fock"].get("cpu_s", float("nan")),
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
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.1f} s"


def format_table(res: dict) -> str:
    """The measurements as Markdown tables, for people (CPU time, wall time in brackets)."""
    m = res["meta"]
    lines = [f"Load average {m['loadavg_start'][0]:.1f} -> {m['loadavg_end'][0]:.1f} on "
             f"{m['cpu_count']} cores; medians of {m['repeats']} runs; CPU time (wall time).",
             "", "Batches of 200 points through evaluate(engine=\"fock\") against the "
             "full-space QuTiP baseline, per point:", "",
             "| batch | Fock | QuTiP full space | ratio | max abs diff P, F |",
             "|---|---|---|---|---|"]
    for k, v in res["batch"].items():
        lines.append(f"| {k} | {_fmt_t(v['fock_cpu_per_point_s'])} "
                     f"({_fmt_t(v['fock_wall_per_point_s'])}) | "
                     f"{_fmt_t(v['baseline_cpu_per_point_s'])} "
                     f"({_fmt_t(v['baseline_wall_per_point_s'])}) | {v['ratio']:.0f} | "
                     f"{v['max_abs_diff']:.1e} |")
    lines += ["", "One point called alone through simulate(), same cutoff on both sides:", "",
              "| point | cutoff | Fock | QuTiP full space | ratio | max abs diff P, F |",
              "|---|---|---|---|---|---|"]
    for k, v in {**res["single"], **res["codes"]}.items():
        lines.append(f"| {k} | {v['cutoff']} | {_fmt_t(v['fock_cpu_s'])} "
                     f"({_fmt_t(v['fock_wall_s'])}) | {_fmt_t(v['baseline_cpu_s'])} "
                     f"({_fmt_t(v['baseline_wall_s'])}) | {v['ratio']:.1f} | "
                     f"{v['max_abs_diff']:.1e} |")
    g = res["grid"]["l1_ideal"]
    lines += ["", f"Coherent engine, l = 1, 100 x 100 grid: {_fmt_t(g['cpu_s'])} "
              f"({_fmt_t(g['wall_s'])})", "",
              "| command | CPU time | wall time | load (start -> end) | peak memory |",
              "|---|---|---|---|---|"]
    for key in ("reproduce_default", "reproduce_fock_quick", "reproduce_fock"):
        r = res[key]
        if r.get("status") == "ok":
            mem = "n/a" if r["peak_rss_mib"] is None else f"{r['peak_rss_mib']:.0f} MiB"
            lines.append(f"| {r['command']} | {r['cpu_s']:.1f} s | {r['wall_s']:.1f} s | "
                         f"{r['load_start']:.1f} -> {r['load_end']:.1f} | {mem} |")
        elif r.get("status") != "skipped":
            lines.append(f"| {r.get('command')} | {r.get('status')}: "
                         f"{r.get('message', '')} | | | |")
    lines += ["", "Targets:", "", "| target | value | wanted | met |", "|---|---|---|---|"]
    for v in res["targets"].values():
        met = "not measured" if v["met"] is None else ("yes" if v["met"] else "NO")
        value = f"{v['value']:.3g}" if v["met"] is not None else "-"
        lines.append(f"| {v['what']} | {value} | {v['target']} | {met} |")
    lines += ["", f"total {m['total_s']:.0f} s"]
    return "\n".join(lines)


#: the README's run-time table lies between these lines (``--readme README.md`` rewrites it)
README_BEGIN = ("<!-- speed-table:begin (catbell bench speed --reproduce-full --readme "
                "README.md) -->")
README_END = "<!-- speed-table:end -->"


def write_readme_table(res: dict, path) -> None:
    """Replace the block between :data:`README_BEGIN` and :data:`README_END` of ``path``
    with :func:`format_table` of ``res``; ValueError if the markers are missing."""
    path = Path(path)
    text = path.read_text()
    if README_BEGIN not in text or README_END not in text:
        raise ValueError(f"{path} has no speed-table markers ({README_BEGIN!r} ... "
                         f"{README_END!r}); add them where the table goes")
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    path.write_text(f"{head}{README_BEGIN}\n{format_table(res)}\n{README_END}{tail}")


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
    if getattr(args, "readme", None):
        write_readme_table(res, args.readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
