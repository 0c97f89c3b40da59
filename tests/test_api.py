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
from catbell_qutip.closed_forms import ideal_protocol
from catbell_qutip.engines import CoherentState, FockState, fock
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


# -- the quick floor on P that lets a single cat point skip the coherent estimate ------------

@pytest.mark.parametrize("loss_order", [0, 1, 3])
def test_p_floor_is_below_the_ideal_protocols_p(loss_order):
    # ideal encoder, every loss in the channel, no dark counts: P is the syndrome-weighted
    # mean of the sector successes (closed form), so the floor (their minimum) is below it
    for alpha in (0.3, 0.8, 1.5, 2.2, 3.0):
        for eta in (0.05, 0.3, 0.7, 1.0):
            p = ProtocolParams(loss_order=loss_order, alpha=alpha, eta=eta)
            floor = api._p_floor(p)
            P = float(ideal_protocol(loss_order, alpha, eta)["P"])
            assert 0.0 <= floor <= P + 1e-15, (alpha, eta, floor, P)
    # and it is not trivially small where the detectors see light
    assert api._p_floor(ProtocolParams(loss_order=1, alpha=2.0, eta=0.5)) > 0.5


@pytest.mark.parametrize("planted", ["floor", "always skip", "never skip"])
def test_single_point_cutoffs_are_the_rules_whatever_the_floor(planted, no_memo, monkeypatch):
    # ideal points (high P: the floor skips the estimate) and Table I points (P ~ 1e-3)
    if planted == "always skip":
        monkeypatch.setattr(api, "_p_floor", lambda params: 1.0)
    elif planted == "never skip":
        monkeypatch.setattr(api, "_p_floor", lambda params: 0.0)
    points = [dict(alpha=a, eta=e) for a in (1.0, 2.0, 2.6) for e in (0.2, 0.9)]
    points += [dict(alpha=a, length_km=20.0, **preset("table1")) for a in (1.0, 2.0)]
    for kw in points:
        p = ProtocolParams(loss_order=1, **kw)
        api._P_MEMO.clear()
        P0, _, c0, _, _ = api._run_fock(p, tol=TOL, estimate=False)  # the plain rule
        api._P_MEMO.clear()
        P1, _, c1, m1, _ = api._run_fock(p, tol=TOL)
        assert int(c1[0]) == int(c0[0]), kw
        assert P1[0] == pytest.approx(P0[0], rel=1e-14, abs=0)
        assert m1[0] <= TOL * P1[0]


def test_a_high_p_point_skips_the_coherent_estimate_and_runs_once(no_memo, monkeypatch):
    coherent, runs = [], []
    real = api.run_probability
    monkeypatch.setattr(api, "run_probability",
                        lambda *a, **k: (coherent.append(1) if isinstance(a[1], CoherentState)
                                         else None) or real(*a, **k))
    monkeypatch.setattr(api, "run_protocol",
                        lambda *a, **k: runs.append(1) or protocol.run_protocol(*a, **k))
    api._run_fock(ProtocolParams(loss_order=1, alpha=2.0, eta=0.5), tol=TOL)
    assert (len(coherent), len(runs)) == (0, 1)
    # a Table I point (P ~ 1e-3, below the first cutoff's mass / tol) still takes it
    api._run_fock(ProtocolParams(loss_order=1, alpha=2.0, length_km=20.0, **preset("table1")),
                  tol=TOL)
    assert (len(coherent), len(runs)) == (1, 2)


def test_forget_points_empties_the_value_caches_and_changes_no_result():
    p = ProtocolParams(loss_order=1, alpha=1.7, eta=0.6)
    first = api.simulate(params=p)
    assert api._P_MEMO and fock._LOSS_CACHE.items
    api.forget_points()
    assert not api._P_MEMO and not fock._LOSS_CACHE.items
    assert api._auto_cutoff.cache_info().currsize == 0
    assert fock._cat_amplitudes.cache_info().currsize == 0
    again = api.simulate(params=p)
    assert (again.P, again.F, again.cutoff) == (first.P, first.F, first.cutoff)
