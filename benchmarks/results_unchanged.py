"""Check that a refactoring leaves every number unchanged.

Run ``python benchmarks/results_unchanged.py --store DIR`` on the tree *before* a change and
``python benchmarks/results_unchanged.py --compare DIR`` after it. ``DIR`` should lie outside
the repository.

``--store`` writes

- ``DIR/reproduce``: the output of ``catbell reproduce --quick --out DIR/reproduce``
  (``summary.json``, netCDF and CSV data; figures are not compared), and
- ``DIR/points.json``: the ``catbell simulate --json`` objects of the fixed points in
  :data:`POINTS` (both engines; l = 0, 1, 3; both encoders; both USDs, with and without
  dark clicks; every ``eta_int_placement``; both decoders; imperfections on).

``--compare`` recomputes both into a temporary folder and compares every number: the JSON
values (``summary.json`` and the points), every variable and coordinate of every netCDF file
and every numeric cell of every CSV file. Two numbers agree when
``|a - b| <= RTOL * max(|a|, |b|)`` or ``|a - b| <= ATOL`` (values near 0); non-numeric
values must be equal; run times (:data:`IGNORED_KEYS`, :data:`IGNORED_FILES`) are skipped,
present or not. It prints the largest relative and absolute differences and exits 1 on any
disagreement (or a missing or extra file or key), 0 otherwise.

Two kinds of number are not defined to 1e-12 by the computation itself, so they are
compared at the accuracy they have (every other number at RTOL):

- the location of a maximum found by a solver (``peak_alpha``, ``*_peak_*_alpha``) is
  defined to the solver's own tolerance,
  :data:`catbell_qutip.keyrate.PEAK_ALPHA_RTOL`, not to rounding (the key rate is flat at
  its peak: any change of rounding moves the argmax by ~sqrt(eps));
- a key rate R_eg (1 - h(Q) - chi(S)) amplifies a relative change e of S and Q to
  kappa e, kappa = (|S chi'(S)| + |Q h'(Q)|) / |1 - h(Q) - chi(S)| (chi' diverges at
  S -> 2): it is compared at RTOL (1 + kappa), kappa from the reference's own S and Q of
  the same row, point or grid element (:func:`key_rate_condition`). S and Q themselves are
  compared at RTOL.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catbell_qutip.formulas import binary_entropy, chi  # noqa: E402
from catbell_qutip.keyrate import PEAK_ALPHA_RTOL  # noqa: E402

RTOL = 1e-12
ATOL = 1e-12
#: JSON keys not compared: run times, which differ between any two runs
IGNORED_KEYS = ("wall_time_s", "task_wall_times_s")
#: reproduce files not compared: run times only (``catbell reproduce`` writes its wall times
#: to timing.json, not to summary.*, so that every other file is identical run to run)
IGNORED_FILES = ("timing.json",)

_IMPERFECT = [
    "--length-km", "20", "--eta-int", "0.9", "--eta-dc", "0.8", "--eta-uc", "0.85",
    "--eta-d", "0.95", "--t-c", "0.01", "--t0", "1e-6",
]  # fmt: skip

#: The fixed ``catbell simulate`` points, as argument lists (``--json`` is added).
POINTS: list[list[str]] = []
for _engine in ("fock", "coherent"):
    POINTS += [
        ["--engine", _engine, "--loss-order", "0", "--alpha", "1.5", "--eta", "0.7"],
        ["--engine", _engine, "--loss-order", "1", "--alpha", "2", "--eta", "0.6"],
        ["--engine", _engine, "--loss-order", "3", "--alpha", "2.5", "--eta", "0.8"],
        ["--engine", _engine, "--loss-order", "1", "--alpha", "2", *_IMPERFECT],
        ["--engine", _engine, "--loss-order", "1", "--alpha", "2", "--encoder", "explicit",
         *_IMPERFECT],
        ["--engine", _engine, "--loss-order", "1", "--alpha", "1.8", "--usd", "linear",
         "--p-dark", "1e-3", *_IMPERFECT],
        ["--engine", _engine, "--loss-order", "0", "--alpha", "1.2", "--usd", "linear",
         *_IMPERFECT],
        ["--engine", _engine, "--loss-order", "1", "--alpha", "2",
         "--eta-int-placement", "before", *_IMPERFECT],
        ["--engine", _engine, "--loss-order", "1", "--alpha", "2",
         "--eta-int-placement", "lumped", *_IMPERFECT],
        ["--engine", _engine, "--loss-order", "3", "--alpha", "2.2", "--decoder", "ml",
         "--eta-int-placement", "before", "--usd", "linear", *_IMPERFECT],
        ["--engine", _engine, "--loss-order", "1", "--alpha", "2", "--decoder", "ml",
         "--encoder", "explicit", "--usd", "linear", "--p-dark", "1e-4", *_IMPERFECT],
    ]  # fmt: skip


def _catbell(*args: str) -> str:
    """Run ``python -m catbell_qutip ARGS`` and return its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "catbell_qutip", *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"catbell {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def store(folder: Path) -> None:
    """Compute the reference results into ``folder`` (see the module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "reproduce").exists():
        shutil.rmtree(folder / "reproduce")
    _catbell("reproduce", "--quick", "--no-progress", "--out", str(folder / "reproduce"))
    points = [
        {"args": args, "result": json.loads(_catbell("simulate", "--json", *args))}
        for args in POINTS
    ]
    (folder / "points.json").write_text(json.dumps(points, indent=1))


def key_rate_condition(S: float, Q: float) -> float:
    """kappa: the relative change of R_eg (1 - h(Q) - chi(S)) per relative change of S and Q
    (central differences; inf where the bracket is 0)."""
    if not (np.isfinite(S) and np.isfinite(Q)) or S <= 2.0:
        return 0.0
    bracket = 1.0 - float(binary_entropy(Q)) - float(chi(S))
    if bracket == 0.0:
        return math.inf
    dS = 1e-7 * S
    d_chi = (float(chi(min(S + dS, 2 * math.sqrt(2)))) - float(chi(max(S - dS, 2.0 + 1e-15)))) \
        / (min(S + dS, 2 * math.sqrt(2)) - max(S - dS, 2.0 + 1e-15))
    d_h = 0.0
    if 0.0 < Q < 0.5:
        dQ = 1e-7 * Q
        d_h = (float(binary_entropy(Q + dQ)) - float(binary_entropy(Q - dQ))) / (2 * dQ)
    return (abs(S * d_chi) + abs(Q * d_h)) / abs(bracket)


def _rtol_for(name: str, S: float = math.nan, Q: float = math.nan) -> float:
    """The relative tolerance of a named quantity (see the module docstring)."""
    low = name.lower()
    if "peak" in low and "alpha" in low:
        return PEAK_ALPHA_RTOL
    if "key_rate" in low and "peak" not in low:
        return RTOL * (1.0 + key_rate_condition(S, 0.0 if not np.isfinite(Q) else Q))
    return RTOL


class _Diff:
    """Running record of the comparison."""

    def __init__(self) -> None:
        self.n = 0
        self.max_rel = (0.0, "")
        self.max_abs = (0.0, "")
        self.failures: list[str] = []
        self.added: set[str] = set()

    def number(self, a: float, b: float, where: str, rtol: float = RTOL) -> None:
        self.n += 1
        if math.isnan(a) and math.isnan(b):
            return
        if math.isinf(a) or math.isinf(b) or math.isnan(a) or math.isnan(b):
            if a != b:
                self.failures.append(f"{where}: {a!r} != {b!r}")
            return
        d = abs(a - b)
        scale = max(abs(a), abs(b))
        rel = d / scale if scale > 0 else 0.0
        if d > self.max_abs[0]:
            self.max_abs = (d, where)
        if d > ATOL and rel > self.max_rel[0]:
            self.max_rel = (rel, where)
        if d > ATOL and d > rtol * scale:
            self.failures.append(f"{where}: {a!r} vs {b!r} (abs {d:.3g}, rel {rel:.3g})")

    def other(self, a: object, b: object, where: str) -> None:
        self.n += 1
        if a != b:
            self.failures.append(f"{where}: {a!r} != {b!r}")

    def json(self, a: object, b: object, where: str, rtol: float = RTOL) -> None:
        num = (int, float)
        if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool):
            self.number(float(a), float(b), where, rtol)
        elif isinstance(a, dict) and isinstance(b, dict):
            missing = set(a) - set(b) - set(IGNORED_KEYS)
            if missing:
                self.failures.append(f"{where}: keys missing: {sorted(missing)}")
            for k in sorted(set(b) - set(a)):  # a new field or output: reported, not a move
                self.added.add(k)
            S, Q = a.get("S"), a.get("Q")
            S = float(S) if isinstance(S, num) else math.nan
            Q = float(Q) if isinstance(Q, num) else math.nan
            for k in sorted(set(a) & set(b) - set(IGNORED_KEYS)):
                self.json(a[k], b[k], f"{where}.{k}", _rtol_for(k, S, Q))
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                self.failures.append(f"{where}: lengths {len(a)} != {len(b)}")
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                self.json(x, y, f"{where}[{i}]")
        else:
            self.other(a, b, where)

    def array(self, a: np.ndarray, b: np.ndarray, where: str, rtols=None) -> None:
        if a.shape != b.shape:
            self.failures.append(f"{where}: shapes {a.shape} != {b.shape}")
            return
        if a.dtype.kind in "fiuc" and b.dtype.kind in "fiuc":
            rt = np.broadcast_to(RTOL if rtols is None else rtols, a.shape).ravel()
            for idx, (x, y) in enumerate(zip(a.ravel(), b.ravel(), strict=True)):
                self.number(float(x), float(y), f"{where}[{idx}]", float(rt[idx]))
        else:
            for idx, (x, y) in enumerate(zip(a.ravel(), b.ravel(), strict=True)):
                self.other(x, y, f"{where}[{idx}]")

    def csv_file(self, a: Path, b: Path, where: str) -> None:
        with a.open() as fa, b.open() as fb:
            ra, rb = list(csv.reader(fa)), list(csv.reader(fb))
        if len(ra) != len(rb):
            self.failures.append(f"{where}: {len(ra)} != {len(rb)} rows")
        header = next((r for r in ra if r and not r[0].startswith("#")), [])

        def cell(row, name):
            try:
                return float(row[header.index(name)])
            except (ValueError, IndexError):
                return math.nan

        for i, (x, y) in enumerate(zip(ra, rb, strict=False)):
            if len(x) != len(y):
                self.failures.append(f"{where} row {i}: {len(x)} != {len(y)} cells")
            for j, (u, v) in enumerate(zip(x, y, strict=False)):
                try:
                    fu, fv = float(u), float(v)
                except ValueError:
                    self.other(u, v, f"{where}[{i},{j}]")
                else:
                    name = header[j] if j < len(header) else ""
                    self.number(fu, fv, f"{where}[{i},{j}]",
                                _rtol_for(name, cell(x, "S"), cell(x, "Q")))

    def netcdf(self, a: Path, b: Path, where: str) -> None:
        import xarray as xr  # heavy; only needed for the netCDF comparison

        with xr.open_dataset(a) as da, xr.open_dataset(b) as db:
            names_a = set(da.variables)
            names_b = set(db.variables)
            if names_a != names_b:
                self.failures.append(f"{where}: variables differ {sorted(names_a ^ names_b)}")
            for name in sorted(names_a & names_b):
                rtols = None
                if "key_rate" in name and "peak" not in name and {"S", "Q"} <= names_a:
                    S, Q = xr.broadcast(da["S"], da["Q"], da[name])[:2]
                    rtols = np.vectorize(lambda s_, q_, n=name: _rtol_for(n, s_, q_))(
                        np.asarray(S.transpose(*da[name].dims).values),
                        np.asarray(Q.transpose(*da[name].dims).values))
                elif "peak" in name and "alpha" in name:
                    rtols = PEAK_ALPHA_RTOL
                self.array(np.asarray(da[name].values), np.asarray(db[name].values),
                           f"{where}:{name}", rtols)  # fmt: skip
                self.json(_plain(da[name].attrs), _plain(db[name].attrs),
                          f"{where}:{name}.attrs")  # fmt: skip
            self.json(_plain(da.attrs), _plain(db.attrs), f"{where}.attrs")


def _plain(attrs: dict) -> dict:
    """netCDF attributes as JSON-like Python values."""
    out = {}
    for k, v in attrs.items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def compare(reference: Path) -> int:
    """Recompute into a temporary folder, compare with ``reference``; return the exit code."""
    diff = _Diff()
    with tempfile.TemporaryDirectory() as tmp:
        new = Path(tmp)
        store(new)
        diff.json(
            json.loads((reference / "points.json").read_text()),
            json.loads((new / "points.json").read_text()),
            "points",
        )
        ref_files = {p.relative_to(reference / "reproduce")
                     for p in (reference / "reproduce").rglob("*")
                     if p.is_file() and p.name not in IGNORED_FILES}  # fmt: skip
        new_files = {p.relative_to(new / "reproduce")
                     for p in (new / "reproduce").rglob("*")
                     if p.is_file() and p.name not in IGNORED_FILES}  # fmt: skip
        if ref_files != new_files:
            odd = sorted(map(str, ref_files ^ new_files))
            diff.failures.append(f"reproduce files differ: {odd}")
        for rel in sorted(ref_files & new_files):
            a, b = reference / "reproduce" / rel, new / "reproduce" / rel
            if rel.suffix == ".json":
                diff.json(json.loads(a.read_text()), json.loads(b.read_text()), str(rel))
            elif rel.suffix == ".nc":
                diff.netcdf(a, b, str(rel))
            elif rel.suffix == ".csv":
                diff.csv_file(a, b, str(rel))
    print(f"compared {diff.n} values ({len(POINTS)} simulate points + catbell reproduce --quick)")
    print(f"largest relative difference: {diff.max_rel[0]:.3g} at {diff.max_rel[1] or '-'}")
    print(f"largest absolute difference: {diff.max_abs[0]:.3g} at {diff.max_abs[1] or '-'}")
    if diff.added:
        print(f"keys new in this tree (not compared): {', '.join(sorted(diff.added))}")
    if diff.failures:
        print(f"{len(diff.failures)} disagreement(s) beyond rtol={RTOL:g}, atol={ATOL:g}:")
        for line in diff.failures[:40]:
            print("  " + line)
        return 1
    print(f"all values agree (rtol={RTOL:g}, atol={ATOL:g}; solver argmax locations at "
          f"rtol={PEAK_ALPHA_RTOL:g}, key rates at rtol={RTOL:g} (1 + kappa))")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--store", metavar="DIR", type=Path, help="write reference results")
    group.add_argument("--compare", metavar="DIR", type=Path, help="compare with DIR")
    args = parser.parse_args(argv)
    if args.store is not None:
        store(args.store)
        print(f"stored {len(POINTS)} simulate points and catbell reproduce --quick in {args.store}")
        return 0
    return compare(args.compare)


if __name__ == "__main__":
    sys.exit(main())
