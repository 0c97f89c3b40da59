"""``catbell bench``: where it writes by default, and what it says about refused points.

The benchmarks themselves take minutes and are not run here (README, "Benchmarks").
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from catbell_qutip.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
convergence = pytest.importorskip("benchmarks.convergence")


def _ignored(path: Path) -> bool:
    """git check-ignore: would git leave this path out of ``git status``?"""
    proc = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", str(path)])
    return proc.returncode == 0


def test_default_output_is_not_tracked():
    """`catbell bench convergence` rewrote docs/bench/ (tracked files) by default."""
    args = build_parser("bench").parse_args(["bench", "convergence"])
    assert args.out is not None and not Path(args.out).is_absolute()
    assert _ignored(ROOT / args.out / "convergence.json"), args.out
    assert not _ignored(ROOT / "docs" / "bench" / "convergence.json")  # the committed copy
    assert Path(convergence.DEFAULT_OUT) == Path(args.out)


def _row(status, message=None, P=None):
    base = {"group": "fig3c", "loss_order": 1, "alpha": 0.1, "eta": 1.0, "length_km": 5.0,
            "t_c_s": math.inf, "usd": "linear", "encoder": "ideal", "fock_s": 0.01}
    if status == "ok":
        return {**base, "status": "ok", "cutoff": 12, "P": 0.3, "truncation_error": 1e-13,
                "err_P": 1e-13, "err_F": 2e-13, "err_S": 3e-13}
    return {**base, "status": "fock refused", "message": message, "cutoff": None,
            "P_coherent": P, "err_P": math.nan, "err_F": math.nan, "err_S": math.nan}


def test_refusals_are_reported_whole_with_their_numbers():
    """The summary printed "P = # is below ... floor # ... the cancellation in i": numbers
    masked and the text cut at 100 characters."""
    msg = ("P = {P:.3g} is below the Fock engine's resolution floor 1e-07 for the "
           "linear-optics USD: the cancellation in its click effects (~3e-17) would dominate "
           "F, S and Q, which are conditioned on success; use engine='coherent', which stays "
           "exact at any P")
    rows = [_row("ok"), _row("r", msg.format(P=3.91e-8), 4e-8),
            _row("r", msg.format(P=2.5e-12), 3e-12), _row("r", "P = 0", 0.0)]
    s = convergence.summarise_validation(rows, "test grid")
    kinds = {k["example"].split(" is")[0]: k for k in s["skipped_reasons"]}
    assert sum(k["points"] for k in s["skipped_reasons"]) == 3
    text = convergence.format_summary({**s, "curves": {"eta": 0.3, "max_err_S_at_default": 0.0},
                                       "files": [], "wall_s": 1.0})
    assert "#" not in text.split("refused", 1)[1].split("\n")[0]
    # whole, with its numbers, in command-line terms (the JSON keeps the library's words)
    assert msg.format(P=3.91e-8).replace("engine='coherent'", "--engine coherent") in text
    assert "engine=" not in text
    assert "engine='coherent'" in kinds["P = 3.91e-08"]["example"]
    assert "2 point(s) (Fock P from 2.5e-12 to 3.9e-08)" in text
    assert kinds["P = 3.91e-08"]["P_fock_range"] == [2.5e-12, 3.91e-8]


def _bench_error(argv, capsys) -> str:
    try:
        rc = main(argv)
    except SystemExit as exc:  # refused by the parser
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    return err


def test_errors_name_the_bench_action(tmp_path, capsys):
    """Errors of `catbell bench convergence` said "catbell bench:", argparse's own errors
    "catbell bench convergence:"; both name the action now."""
    err = _bench_error(["bench", "convergence", "--out", ""], capsys)
    assert err.startswith("catbell bench convergence: error: --out is empty"), err
    err = _bench_error(["bench", "speed", "--repeats", "0"], capsys)
    assert err.startswith("catbell bench speed: error: --repeats = 0"), err
    err = _bench_error(["bench", "convergence", "--jsn"], capsys)
    assert err.startswith("catbell bench convergence: error: unrecognized"), err


def test_convergence_no_progress_silences_the_progress_lines(tmp_path, capsys, monkeypatch):
    """--no-progress exists for `bench convergence` (as for the other long commands) and
    turns off its progress lines; `bench speed` prints none and says so in its --help."""
    seen = []

    def fake_run(out, *, quick=False, progress=False):
        seen.append(progress)
        raise ValueError("stopped by the test")

    monkeypatch.setattr(convergence, "run_convergence", fake_run)
    for extra, progress in (([], True), (["--no-progress"], False), (["--json"], False)):
        _bench_error(["bench", "convergence", "--out", str(tmp_path / "b"), *extra], capsys)
        assert seen.pop() is progress
    assert not (tmp_path / "b").exists()
    with pytest.raises(SystemExit):
        main(["bench", "speed", "--help"])
    flat = " ".join(capsys.readouterr().out.split())
    assert "shows no progress (so it has no --no-progress)" in flat
