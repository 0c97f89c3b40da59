"""BLAS threads while catbell_qutip computes (catbell_qutip/_threads.py): one inside every
public computation, the caller's setting restored after it, CATBELL_BLAS_THREADS obeyed
and checked (a bad value is a one-line error, exit 2 on the command line).

Cost: under 2 s CPU.
"""

from __future__ import annotations

import threadpoolctl

import catbell_qutip as cb
import catbell_qutip.api as api
from catbell_qutip._checks import ParameterError
from catbell_qutip._threads import BLAS_THREADS_ENV, blas_threads, limited_blas
from catbell_qutip.cli import main


def _blas_threads_now() -> list[int]:
    return [p["num_threads"] for p in threadpoolctl.threadpool_info()
            if p["user_api"] == "blas"]


def _spy_inside_simulate(monkeypatch):
    seen = []
    real = api._run_fock

    def spy(*args, **kwargs):
        seen.append(_blas_threads_now())
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "_run_fock", spy)
    return seen


def test_simulate_runs_on_one_blas_thread_and_restores_the_callers(monkeypatch):
    monkeypatch.delenv(BLAS_THREADS_ENV, raising=False)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = _blas_threads_now()
        seen = _spy_inside_simulate(monkeypatch)
        cb.simulate(1, 1.0, 0.8, engine="fock")
        after = _blas_threads_now()
    assert seen and all(n == 1 for n in seen[0])
    assert after == before and set(before) == {2}


def test_zero_leaves_the_blas_pools_alone(monkeypatch):
    monkeypatch.setenv(BLAS_THREADS_ENV, "0")
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        seen = _spy_inside_simulate(monkeypatch)
        cb.simulate(1, 1.0, 0.8, engine="fock")
    assert seen and set(seen[0]) == {2}


def test_nested_blocks_set_the_limit_once(monkeypatch):
    monkeypatch.setenv(BLAS_THREADS_ENV, "1")
    with limited_blas():
        monkeypatch.setenv(BLAS_THREADS_ENV, "not read inside")
        with limited_blas():  # inner block: does not read the variable again
            assert set(_blas_threads_now()) == {1}


def test_bad_setting_is_refused_in_python_and_on_the_command_line(monkeypatch, capsys):
    monkeypatch.setenv(BLAS_THREADS_ENV, "-2")
    try:
        blas_threads()
    except ParameterError as exc:
        assert BLAS_THREADS_ENV in str(exc) and "non-negative integer" in str(exc)
    else:
        raise AssertionError("CATBELL_BLAS_THREADS=-2 accepted")
    assert main(["simulate", "--loss-order", "1", "--alpha", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and BLAS_THREADS_ENV in err[0]


def test_an_error_inside_restores_the_callers_threads(monkeypatch):
    monkeypatch.delenv(BLAS_THREADS_ENV, raising=False)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        try:
            with limited_blas():
                assert set(_blas_threads_now()) == {1}
                raise KeyError("boom")
        except KeyError:
            pass
        assert set(_blas_threads_now()) == {2}
