"""The sweep driver and executors (catbell_qutip/sweep/driver.py, executors.py): the public
entry point other commands call, and the executor interface."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import tol

import catbell_qutip.cli.sweep as cli_sweep
from catbell_qutip.cli import main
from catbell_qutip.sweep import Executor, SweepStats, run_sweep
from catbell_qutip.sweep.executors import DaskExecutor, LocalExecutor


def test_run_sweep_is_the_public_entry_point(tmp_path):
    spec = {"engine": "coherent", "outputs": ["P"], "fixed": {"loss_order": 0},
            "axes": {"alpha": [0.5, 1.0, 1.5], "eta": [0.3, 0.9]}}
    ds, stats = run_sweep(spec, tmp_path / "s.zarr", workers=1, progress=False)
    assert isinstance(stats, SweepStats)
    assert (stats.computed, stats.reused, stats.failed) == (6, 0, 0)
    # l = 0 closed form (docs/model.md section 5): P = 1 - exp(-2 eta alpha^2)
    a, e = np.meshgrid([0.5, 1.0, 1.5], [0.3, 0.9], indexing="ij")
    np.testing.assert_allclose(ds.P.values, 1 - np.exp(-2 * e * a**2), rtol=0,
                               atol=tol(1e-12))
    _, again = run_sweep(spec, tmp_path / "s.zarr", workers=1, progress=False)
    assert (again.computed, again.reused) == (0, 6)
    assert cli_sweep.run_sweep is run_sweep and not hasattr(cli_sweep, "_run")


def test_options_named_in_the_callers_terms(tmp_path, capsys):
    """The API names its arguments; the command line names the flags (cli_message)."""
    spec = {"fixed": {"loss_order": 0}, "axes": {"alpha": [1.0]}}
    with pytest.raises(ValueError, match=r"^workers = 0 is outside the allowed range \[1, "):
        run_sweep(spec, workers=0, progress=False)
    with pytest.raises(ValueError, match=r"^workers sizes the local pool, and with "
                                         r"scheduler=ADDRESS"):
        run_sweep(spec, workers=1, scheduler="tcp://x:1", progress=False)
    f = tmp_path / "spec.toml"
    f.write_text('[fixed]\nloss_order = 0\n[axes]\nalpha = [1.0]\n')
    assert main(["sweep", str(f), "--out", str(tmp_path / "s.zarr"), "--workers", "1",
                 "--scheduler", "tcp://x:1"]) == 2
    err = capsys.readouterr().err
    assert "error: --workers sizes the local pool, and with --scheduler ADDRESS the" in err
    (tmp_path / "file").write_text("x")
    assert main(["sweep", str(f), "--out", str(tmp_path / "file")]) == 2
    assert f"error: --out {str(tmp_path / 'file')!r} is an existing file" in \
        capsys.readouterr().err


def test_executors_implement_the_protocol():
    ex = LocalExecutor(1)
    try:
        assert isinstance(ex, Executor)
        fut = ex.submit(abs, -3)
        assert ex.wait([fut]) == {fut} and fut.result() == 3
        assert not ex.lost(ValueError("a task's own failure"), ex.generation)
    finally:
        ex.close()
    for name in ("window", "submit", "wait", "lost", "close"):
        assert callable(getattr(DaskExecutor, name))


# -- refused before a store is created --------------------------------------------------------
def test_huge_sweep_is_refused_before_any_work(tmp_path):
    """A 10^4 x 10^4 spec hung building a task graph (and left a .partial folder when
    killed); it is refused by its time estimate before a store exists."""
    from catbell_qutip._checks import TimeLimitError

    spec = {"fixed": {"loss_order": 1},
            "axes": {"alpha": {"start": 0.1, "stop": 2.0, "num": 10000},
                     "eta": {"start": 0.1, "stop": 1.0, "num": 10000}}}
    with pytest.raises(TimeLimitError, match=r"this sweep \(1e\+08 points, 2e\+05 chunks to "
                                             r"compute, on 2 local worker process\(es\)\) "
                                             r"would take about .* h"):
        run_sweep(spec, tmp_path / "big.zarr", workers=2, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("spec,what", [
    ({"fixed": {"loss_order": 1023}, "axes": {"alpha": [1.0, 2.0]}},
     "the coherent engine on 1 point"),
    ({"engine": "fock", "fixed": {"loss_order": 1}, "axes": {"alpha": [50.0, 60.0]}},
     "the Fock engine at alpha = 50"),
])
def test_sweep_whose_every_point_fails_is_refused_before_the_store(tmp_path, spec, what):
    from catbell_qutip._checks import MemoryLimitError

    with pytest.raises(MemoryLimitError, match=f"every point of this sweep would be refused, "
                                               f"even the cheapest: {what}"):
        run_sweep(spec, tmp_path / "s.zarr", workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_pre_check_takes_the_code_of_the_grid(tmp_path):
    """The "cheapest point" check before the store gives a binomial code no amplitude (it
    used to add alpha = 0.2, which ProtocolParams refuses for codes without one, so no
    binomial sweep could start); the sweep then matches evaluate point by point."""
    from catbell_qutip import evaluate

    spec = {"engine": "fock", "outputs": ["P", "S"],
            "fixed": {"loss_order": 1, "code": "binomial"},
            "axes": {"binomial_m": [1, 2], "eta": [0.8, 0.9]}}
    ds, _ = run_sweep(spec, tmp_path / "b.zarr", workers=1, progress=False)
    for m in (1, 2):
        ref = evaluate(1, code="binomial", binomial_m=m, eta=[0.8, 0.9], outputs=("P", "S"))
        for k in ("P", "S"):
            assert np.allclose(ds[k].sel(binomial_m=m).values, ref[k], rtol=tol(1e-12),
                               atol=0), (m, k)


def test_unreachable_scheduler_leaves_no_store(tmp_path, monkeypatch):
    """The scheduler is reached before the store is created (a real unreachable address
    takes the client's 20 s timeout; the refusal is simulated)."""
    import catbell_qutip.sweep.driver as drv
    from catbell_qutip._checks import ParameterError

    def unreachable(address):
        raise ParameterError(f"scheduler {address!r}: cannot reach the Dask scheduler",
                             "scheduler")

    monkeypatch.setattr(drv, "DaskExecutor", unreachable)
    spec = {"fixed": {"loss_order": 0}, "axes": {"alpha": [1.0]}}
    with pytest.raises(ParameterError, match="cannot reach the Dask scheduler"):
        run_sweep(spec, tmp_path / "s.zarr", scheduler="tcp://127.0.0.1:1", progress=False)
    assert list(tmp_path.iterdir()) == []
