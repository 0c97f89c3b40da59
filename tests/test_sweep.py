"""Parameter sweeps: values, resumption after a kill, the Dask path, bad specs.

Expected values come from independent calls: pointwise :func:`catbell_qutip.simulate`
(and one vectorised :func:`catbell_qutip.evaluate` over the whole grid), never from the
sweep itself.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import tol

import catbell_qutip as cb
import catbell_qutip.api
from catbell_qutip.cli import main
from catbell_qutip.sweep import CHUNK_DELAY_ENV, SweepError, SweepSpec, sweep

SUMMARY = re.compile(r"(\d+) points computed, (\d+) reused, (\d+) failed")


def write_spec(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def summary_counts(out: str) -> tuple[int, int, int]:
    m = SUMMARY.search(out)
    assert m, out
    return tuple(int(x) for x in m.groups())


# -- a sweep equals pointwise simulate ------------------------------------------------------
def test_three_axis_sweep_equals_pointwise_simulate(tmp_path):
    spec = {
        "engine": "coherent", "preset": "table1", "outputs": ["P", "F", "S", "Q"],
        "fixed": {"loss_order": 1, "t_c_s": 1e-3},
        "axes": {"alpha": {"start": 0.5, "stop": 2.5, "num": 5},
                 "eta_c": [0.3, 0.6, 1.0],
                 "length_km": {"start": 1.0, "stop": 20.0, "num": 3, "scale": "log"}},
        "chunks": {"alpha": 2, "eta_c": 2},      # ragged edge chunks on purpose
    }
    ds = sweep(spec, tmp_path / "s.zarr", workers=2, progress=False).load()
    assert ds.S.dims == ("alpha", "eta_c", "length_km")
    assert ds.length_km.attrs["units"] == "km"
    np.testing.assert_allclose(ds.length_km, [1.0, np.sqrt(20.0), 20.0], rtol=1e-15)
    for a in ds.alpha.values:
        for c in ds.eta_c.values:
            for L in ds.length_km.values:
                # table1 gives eta_dc/eta_uc; the spec's eta_c replaces them
                r = cb.simulate(1, a, engine="coherent", eta_c=c, length_km=L, t_c_s=1e-3,
                                eta_int=0.81, eta_d=0.97)
                pt = ds.sel(alpha=a, eta_c=c, length_km=L)
                for k in ("P", "F", "S", "Q"):
                    assert abs(float(pt[k]) - getattr(r, k)) <= tol(1e-12), (k, a, c, L)


def test_fock_sweep_equals_pointwise_simulate():
    spec = {"engine": "fock", "outputs": ["P", "F", "S"],
            "fixed": {"eta": 0.8},
            "axes": {"loss_order": [0, 1], "usd": ["tub", "linear"], "alpha": [0.9, 1.6]}}
    ds = sweep(spec, workers=2, progress=False)
    assert ds.usd.values.tolist() == ["tub", "linear"]
    for lo in (0, 1):
        for usd in ("tub", "linear"):
            for a in (0.9, 1.6):
                r = cb.simulate(lo, a, 0.8, usd=usd)
                pt = ds.sel(loss_order=lo, usd=usd, alpha=a)
                for k in ("P", "F", "S"):
                    assert abs(float(pt[k]) - getattr(r, k)) <= tol(1e-12), (k, lo, usd, a)


# -- interrupted and resumed ----------------------------------------------------------------
RESUME_SPEC = """
engine = "coherent"
outputs = ["P", "F", "S", "Q"]
chunks = {alpha = 1}
[fixed]
loss_order = 3
[axes]
alpha = {start = 0.4, stop = 2.6, num = 12}
eta = [0.5, 0.75, 1.0]
"""


def done_flags(store: Path) -> list[str]:
    d = store / "_sweep" / "done"
    return sorted(p.name for p in d.iterdir() if not p.name.startswith(".")) if d.is_dir() else []


def run_cli(*args, env=None) -> subprocess.CompletedProcess:
    """``python -m catbell_qutip ARGS`` in a fresh interpreter, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "catbell_qutip", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_killed_sweep_resumes_only_missing_chunks(tmp_path):
    spec = write_spec(tmp_path / "spec.toml", RESUME_SPEC)
    store = tmp_path / "killed.zarr"
    cmd = ["sweep", str(spec), "--out", str(store), "--no-progress"]
    env = dict(os.environ, **{CHUNK_DELAY_ENV: "0.4"})  # slow chunks: kill lands mid-sweep
    proc = subprocess.Popen([sys.executable, "-m", "catbell_qutip", *cmd, "--workers", "1"],
                            env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(done_flags(store)) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no chunk written within 60 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its worker, mid-sweep
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    done = done_flags(store)
    assert 3 <= len(done) < 12
    written = {f: (store / "P" / f).stat().st_mtime_ns for f in done}

    rerun = run_cli(*cmd, "--workers", "2")    # the same command again
    assert rerun.returncode == 0, rerun.stderr
    computed, reused, failed = summary_counts(rerun.stdout)
    assert (computed, reused, failed) == (3 * (12 - len(done)), 3 * len(done), 0)
    assert {f: (store / "P" / f).stat().st_mtime_ns for f in done} == written  # untouched
    assert len(done_flags(store)) == 12

    ref = tmp_path / "uninterrupted.zarr"
    whole = run_cli("sweep", str(spec), "--out", str(ref), "--no-progress")
    assert whole.returncode == 0, whole.stderr
    assert summary_counts(whole.stdout) == (36, 0, 0)
    a, b = xr.open_zarr(store).load(), xr.open_zarr(ref).load()
    xr.testing.assert_identical(a, b)
    for k in ("P", "F", "S", "Q"):
        assert np.array_equal(a[k].values, b[k].values)  # bit for bit
        assert np.all(np.isfinite(a[k].values))


# -- the dask.distributed path --------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_cluster():
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                           dashboard_address=":0")  # a free port: None does not disable it
    try:
        yield cluster
    finally:
        cluster.close()


DASK_SPEC = """
engine = "coherent"
outputs = ["P", "S"]
[fixed]
loss_order = 1
length_km = 5
[axes]
alpha = {start = 0.2, stop = 2.0, num = 20}
eta_int = [0.8, 0.9, 1.0]
"""


def test_dask_scheduler_path(tmp_path, dask_cluster, capsys):
    spec = write_spec(tmp_path / "spec.toml", DASK_SPEC)
    store = tmp_path / "dask.zarr"
    assert main(["sweep", str(spec), "--out", str(store), "--scheduler",
                 dask_cluster.scheduler_address]) == 0
    out, err = capsys.readouterr()
    assert summary_counts(out) == (60, 0, 0)
    assert "Dask scheduler" in out
    assert re.search(r"sweep: 100%.*chunk", err)   # the tqdm bar over chunks
    ds = xr.open_zarr(store).load()
    alpha = np.linspace(0.2, 2.0, 20)
    ref = cb.evaluate(1, grid=True, alpha=alpha, eta_int=[0.8, 0.9, 1.0], length_km=5)
    for k in ("P", "S"):
        np.testing.assert_allclose(ds[k].values, ref[k].values, rtol=0, atol=tol(1e-12))


def test_failing_point_is_retried_once_then_reported(tmp_path, dask_cluster, monkeypatch):
    real = catbell_qutip.api.evaluate
    calls = {"n": 0}

    def broken(loss_order, **kw):
        if np.any(np.asarray(kw.get("alpha")) == 1.1):
            calls["n"] += 1
            raise FloatingPointError("injected failure")
        return real(loss_order, **kw)

    monkeypatch.setattr(catbell_qutip.api, "evaluate", broken)
    spec = {"engine": "coherent", "outputs": ["P"], "chunks": {"alpha": 2},
            "fixed": {"loss_order": 1}, "axes": {"alpha": [0.5, 0.8, 1.1, 1.4]}}
    store = tmp_path / "fail.zarr"
    with pytest.raises(SweepError, match=r"alpha=1\.1: FloatingPointError: injected") as info:
        sweep(spec, store, scheduler=dask_cluster.scheduler_address, progress=False)
    stats = info.value.stats
    assert (stats.computed, stats.failed, stats.retried_chunks) == (2, 1, 1)
    assert [f["point"] for f in stats.failures] == [{"alpha": 1.1}]
    # vectorised chunk, then that point alone, on each of the two attempts
    assert calls["n"] == 4
    # the failing chunk is neither stored nor marked done: never a silent NaN
    assert done_flags(store) == ["0"]
    assert not (store / "_sweep" / "lock").exists()    # released after the error

    monkeypatch.setattr(catbell_qutip.api, "evaluate", real)
    ds = sweep(spec, store, scheduler=dask_cluster.scheduler_address, progress=False)
    ref = cb.evaluate(1, alpha=np.array([0.5, 0.8, 1.1, 1.4]), outputs=("P",))["P"]
    np.testing.assert_allclose(ds.P.values, ref, rtol=0, atol=tol(1e-12))


def test_transient_failure_is_retried(dask_cluster, monkeypatch):
    real = catbell_qutip.api.evaluate
    calls = {"n": 0}

    def flaky(loss_order, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise MemoryError("transient")
        return real(loss_order, **kw)

    monkeypatch.setattr(catbell_qutip.api, "evaluate", flaky)
    spec = {"engine": "fock", "outputs": ["P"], "fixed": {"loss_order": 0},
            "axes": {"alpha": [1.0]}}
    ds = sweep(spec, scheduler=dask_cluster.scheduler_address, progress=False)
    assert ds.P.values[0] == pytest.approx(1 - np.exp(-2.0), abs=1e-12)  # l = 0 closed form


# -- bad specs ------------------------------------------------------------------------------
GOOD = {"engine": "coherent", "outputs": ["P"], "fixed": {"loss_order": 1},
        "axes": {"alpha": [0.5, 1.0]}}


@pytest.mark.parametrize("change, key", [
    ({"axes": {"alpha": [0.5], "eta_cc": [0.5]}}, "axes.eta_cc"),
    ({"fixed": {"loss_order": 1, "lenght_km": 5}}, "fixed.lenght_km"),
    ({"speed": 3}, "'speed'"),
    ({"axes": {"alpha": []}}, "axes.alpha is empty"),
    ({"axes": {"alpha": {"start": 0.1, "stop": 1.0, "num": 0}}}, "axes.alpha is empty"),
    ({"axes": {"alpha": [0.5], "eta": [0.5, 1.2]}}, "axes.eta: eta = 1.2"),
    ({"fixed": {"loss_order": 1, "eta": 1.5}}, "fixed.eta: eta = 1.5"),
    ({"fixed": {"loss_order": 2}}, "loss_order"),
    ({"axes": {"alpha": {"start": 0.0, "stop": 1.0, "num": 3, "scale": "log"}}}, "axes.alpha"),
    ({"outputs": ["P", "fidelity"]}, "'fidelity'"),
    ({"outputs": ["alpha_at_rate"]}, "target_rate_hz"),
    ({"chunks": {"eta": 2}}, "chunks.eta"),
], ids=["unknown-axis", "unknown-fixed", "unknown-key", "empty-list", "empty-range",
        "eta-axis-gt-1", "eta-fixed-gt-1", "loss-order", "log-from-0", "unknown-output",
        "rate-without-target", "chunk-not-axis"])
def test_bad_spec_refused_naming_the_key(tmp_path, change, key):
    spec = dict(GOOD, **change)
    with pytest.raises(ValueError, match=re.escape(key)):
        SweepSpec.from_dict(spec)
    store = tmp_path / "never.zarr"
    with pytest.raises(ValueError, match=re.escape(key)):
        sweep(spec, store, progress=False)
    assert not store.exists()  # refused before any work


def test_bad_spec_exit_code_2(tmp_path, capsys):
    spec = write_spec(tmp_path / "bad.toml", '[fixed]\nloss_order = 1\neta = 1.5\n'
                                                  '[axes]\nalpha = [1.0]\n')
    store = tmp_path / "never.zarr"
    assert main(["sweep", str(spec), "--out", str(store)]) == 2
    assert "fixed.eta: eta = 1.5" in capsys.readouterr().err
    assert not store.exists()


def test_store_from_other_spec_is_refused_untouched(tmp_path, capsys):
    store = tmp_path / "s.zarr"
    spec = write_spec(tmp_path / "a.toml", '[fixed]\nloss_order = 1\n[axes]\n'
                                           'alpha = [0.5, 1.0]\n')
    assert main(["sweep", str(spec), "--out", str(store), "--workers", "1",
                 "--no-progress"]) == 0
    before = {str(p): p.stat().st_mtime_ns for p in store.rglob("*")}
    attrs = json.loads((store / ".zattrs").read_text())
    other = write_spec(tmp_path / "b.toml", '[fixed]\nloss_order = 1\n[axes]\n'
                                            'alpha = [0.5, 1.5]\n')
    capsys.readouterr()
    assert main(["sweep", str(other), "--out", str(store), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "different sweep spec (axes.alpha differs)" in err
    assert {str(p): p.stat().st_mtime_ns for p in store.rglob("*")} == before
    assert json.loads((store / ".zattrs").read_text()) == attrs
    # not a sweep store at all
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "data.txt").write_text("keep me")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "plain")]) == 2
    assert "not a catbell sweep store" in capsys.readouterr().err
    assert (tmp_path / "plain" / "data.txt").read_text() == "keep me"


# -- rate outputs ---------------------------------------------------------------------------
def test_rate_outputs_match_l0_closed_forms():
    """l = 0, channel loss only (docs/model.md section 5): P = 1 - exp(-2 eta_f alpha^2),
    F = (1 + exp(-2 (1 - eta_f) alpha^2)) / 2, S = 2 sqrt(1 + (2F - 1)^2), Q = 0, and the
    key rate R_eg (1 - chi(S)) with chi(S) = h((1 + sqrt((S/2)^2 - 1)) / 2)."""
    from catbell_qutip.closed_forms import l0_fidelity, l0_success

    rate = 3000.0
    spec = {"engine": "coherent", "preset": "ideal", "target_rate_hz": rate,
            "outputs": ["P", "S", "key_rate", "alpha_at_rate"],
            "fixed": {"loss_order": 0},
            "axes": {"length_km": [2.0, 5.0, 10.0, 200.0]}}
    with pytest.warns(RuntimeWarning, match="1 point.*cannot reach target_rate_hz"):
        ds = sweep(spec, workers=1, progress=False)
    assert ds.key_rate.attrs["units"] == "bit/s"
    L = np.array([2.0, 5.0, 10.0])
    T = L * 1e3 / 2e8                         # attempt time L / c_f, t0 = 0
    eta_f = 10 ** (-0.2 * L / 10)
    alpha = ds.alpha_at_rate.values[:3]
    P = l0_success(alpha, eta_f)
    np.testing.assert_allclose(P / T, rate, rtol=1e-9)     # the solver's stated accuracy
    np.testing.assert_allclose(ds.P.values[:3], P, rtol=0, atol=tol(1e-12))
    F = l0_fidelity(alpha, eta_f)
    S = 2 * np.sqrt(1 + (2 * F - 1) ** 2)
    np.testing.assert_allclose(ds.S.values[:3], S, rtol=0, atol=tol(1e-12))
    p = (1 + np.sqrt((S / 2) ** 2 - 1)) / 2
    chi = -p * np.log2(p) - (1 - p) * np.log2(1 - p)
    np.testing.assert_allclose(ds.key_rate.values[:3], P / T * (1 - chi), rtol=1e-9)
    # 200 km: one attempt takes 1 ms, so 3000 Hz needs P = 3: unattainable, NaN everywhere
    for k in ("P", "S", "key_rate", "alpha_at_rate"):
        assert np.isnan(ds[k].values[3])


def test_key_rate_needs_an_attempt_time():
    spec = {"outputs": ["key_rate"], "fixed": {"loss_order": 0, "alpha": 1.0},
            "axes": {"length_km": [0.0, 5.0]}}
    with pytest.raises(ValueError, match="attempt time"):
        SweepSpec.from_dict(spec)
    with pytest.raises(ValueError, match="fixed.alpha"):
        SweepSpec.from_dict({"target_rate_hz": 3000.0, "fixed": {"loss_order": 0, "alpha": 1.0},
                             "axes": {"length_km": [5.0]}})


@pytest.mark.skipif(__import__("multiprocessing").get_start_method() != "fork",
                    reason="the patched function reaches the pool's workers only by fork")
def test_worker_crash_is_retried_then_reported(monkeypatch):
    """A worker that dies breaks the local pool and fails every chunk in flight with it.
    Whatever the scheduling, the design guarantees: the innocent chunks lost that way are
    resubmitted and stored, and only the chunk that kills its worker (twice, alone) is
    reported. The chunk delay keeps an innocent chunk in flight when the crash comes."""
    real = catbell_qutip.api.evaluate

    def crashing(loss_order, **kw):
        if np.any(np.asarray(kw.get("alpha")) == 1.1):
            os._exit(3)  # the worker process dies, as on a segfault or the OOM killer
        return real(loss_order, **kw)

    monkeypatch.setattr(catbell_qutip.api, "evaluate", crashing)
    monkeypatch.setenv(CHUNK_DELAY_ENV, "0.2")
    spec = {"engine": "coherent", "outputs": ["P"], "chunks": {"alpha": 1},
            "fixed": {"loss_order": 1}, "axes": {"alpha": [0.5, 0.8, 1.1, 1.4, 1.7]}}
    with pytest.raises(SweepError, match=r"alpha=1\.1: .*BrokenProcessPool.*died twice "
                                         r"running this chunk alone") as info:
        sweep(spec, workers=2, progress=False)
    stats = info.value.stats
    assert (stats.computed, stats.failed, stats.chunks_failed) == (4, 1, 1)
    assert [f["point"] for f in stats.failures] == [{"alpha": 1.1}]
    P = info.value.dataset.P.values
    ref = real(1, alpha=np.array([0.5, 0.8, 1.4, 1.7]), outputs=("P",))["P"]
    assert np.isnan(P[2])
    np.testing.assert_allclose(np.delete(P, 2), ref, rtol=0, atol=tol(1e-12))
