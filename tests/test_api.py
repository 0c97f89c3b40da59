"""The Fock engine's cutoff rule in :func:`catbell_qutip.api._run_fock` with an estimate of P.

The rule: the cutoff drops at most tol of the initial light and at most tol P (F, S, Q
are conditioned on success), raised to drop at most tol P / 2 where the first fails. A
batch of cat points takes an estimate of P from the coherent engine, a single point the P
of the last point with the same other fields; either way the cutoffs must come out as the
rule's, evaluated at the Fock run's own P, whatever the estimate: here against each point
run alone with no estimate (the rule's plain route), with the estimate right and planted
wrong.

Cost: ~3 s CPU.
"""

from __future__ import annotations

import numpy as np
import pytest

import catbell_qutip.api as api
from catbell_qutip import protocol
from catbell_qutip.engines import CoherentState, FockState
from catbell_qutip.params import ProtocolParams, preset

TOL = 1e-12
ALPHAS = np.linspace(0.6, 2.6, 7)


def _batch(loss_order):
    return ProtocolParams(loss_order=loss_order, alpha=ALPHAS[:, None],
                          length_km=np.array([[2.0, 30.0]]), **preset("table1"))


def _alone(loss_order):
    """Each point alone with the memo emptied: the rule without any estimate."""
    out = []
    for a in ALPHAS:
        for L in (2.0, 30.0):
            api._P_MEMO.clear()
            p = ProtocolParams(loss_order=loss_order, alpha=float(a), length_km=L,
                               **preset("table1"))
            P, _, cuts, _, _ = api._run_fock(p, tol=TOL, estimate=False)
            out.append((int(cuts[0]), float(P[0])))
    return np.array(out)


@pytest.fixture
def no_memo(monkeypatch):
    monkeypatch.setattr(api, "_P_MEMO", type(api._P_MEMO)())


@pytest.mark.parametrize("estimate", ["coherent", "too high", "too low"])
@pytest.mark.parametrize("loss_order", [0, 1])
def test_batch_cutoffs_are_the_rules_whatever_the_estimate(loss_order, estimate, no_memo,
                                                           monkeypatch):
    ref = _alone(loss_order)
    assert np.any(ref[:, 0] > 0)
    if estimate != "coherent":
        value = 1.0 if estimate == "too high" else 1e-9
        monkeypatch.setattr(api, "_evaluate_coherent",
                            lambda params, outputs: {"P": np.full(ALPHAS.size * 2, value)})
    P, _, cuts, masses, _ = api._run_fock(_batch(loss_order), tol=TOL)
    np.testing.assert_array_equal(cuts, ref[:, 0])
    np.testing.assert_allclose(P, ref[:, 1], rtol=1e-13, atol=0)
    assert np.all(masses <= TOL * P)  # the rule holds at the run's own P


def test_a_batch_with_an_estimate_runs_once(no_memo, monkeypatch):
    calls = []
    monkeypatch.setattr(api, "run_probability",  # the Fock engine's calls, not the estimate's
                        lambda *a, **k: (calls.append(1) if isinstance(a[1], FockState)
                                         else None) or protocol.run_probability(*a, **k))
    runs = []
    monkeypatch.setattr(api, "run_protocol",
                        lambda *a, **k: runs.append(1) or protocol.run_protocol(*a, **k))
    api._run_fock(_batch(1), tol=TOL)
    assert not calls  # no P-alone pass before the full run
    assert len(runs) == len(api._fock_chunks(api._run_fock(_batch(1), tol=TOL)[2],
                                             np.arange(ALPHAS.size * 2)))


@pytest.mark.parametrize("estimate", ["coherent", "too high", "too low"])
def test_single_point_cutoffs_are_the_rules_whatever_the_coherent_estimate(estimate, no_memo,
                                                                           monkeypatch):
    # a single cat point met first takes its estimate of P from the coherent engine
    ref = _alone(1)
    if estimate != "coherent":
        value = 1.0 if estimate == "too high" else 1e-9
        real = api.run_probability
        monkeypatch.setattr(api, "run_probability",
                            lambda *a, **k: (np.array([value]) if isinstance(a[1], CoherentState)
                                             else real(*a, **k)))
    got = []
    for a in ALPHAS:
        for L in (2.0, 30.0):
            api._P_MEMO.clear()
            p = ProtocolParams(loss_order=1, alpha=float(a), length_km=L, **preset("table1"))
            P, _, cuts, masses, _ = api._run_fock(p, tol=TOL)
            assert masses[0] <= TOL * P[0]  # the rule holds at the run's own P
            got.append((int(cuts[0]), float(P[0])))
    got = np.array(got)
    np.testing.assert_array_equal(got[:, 0], ref[:, 0])
    np.testing.assert_allclose(got[:, 1], ref[:, 1], rtol=1e-13, atol=0)


def test_a_single_point_met_first_runs_once_with_the_coherent_estimate(no_memo, monkeypatch):
    runs = []
    monkeypatch.setattr(api, "run_protocol",
                        lambda *a, **k: runs.append(1) or protocol.run_protocol(*a, **k))
    p = ProtocolParams(loss_order=1, alpha=2.0, length_km=20.0, **preset("table1"))
    api._run_fock(p, tol=TOL, estimate=False)
    assert len(runs) == 2  # without it: P ~ 1e-3 needs a higher cutoff than the first run's
    runs.clear()
    api._P_MEMO.clear()
    api._run_fock(p, tol=TOL)
    assert len(runs) == 1


@pytest.mark.parametrize("planted", [1.0, 1e-9, None])
def test_single_point_memo_never_changes_the_cutoff(planted, no_memo):
    p = ProtocolParams(loss_order=1, alpha=1.9, length_km=30.0, **preset("table1"))
    P0, _, c0, _, _ = api._run_fock(p, tol=TOL, estimate=False)  # the plain rule
    assert api._P_MEMO  # remembered
    if planted is not None:
        api._P_MEMO[api._memo_key(p)] = planted
    P1, _, c1, _, _ = api._run_fock(p, tol=TOL)
    assert int(c1[0]) == int(c0[0])
    assert P1[0] == pytest.approx(P0[0], rel=1e-14, abs=0)
