"""Engines against the closed forms of docs/model.md section 5.

l = 0:  F = (1 + d exp(-2 (1 - eta_pre) x)) / 2,  P = 1 - exp(-2 eta_tot x),  x = |alpha|^2.
Any N, one pure loss eta, ideal syndrome, TUB: P, heralded F and the unweighted syndrome
average from the loss-number distribution (catbell_qutip.closed_forms, derivation there).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import LOSS_ORDERS, random_ideal_points, tol
from scipy.special import factorial

from catbell_qutip import evaluate, simulate
from catbell_qutip.closed_forms import (
    ideal_protocol,
    l0_fidelity,
    l0_success,
    loss_distribution,
    tub_sector_success,
)
from catbell_qutip.params import ProtocolParams

ALPHAS = np.linspace(0.1, 2.5, 9)
ETAS = np.linspace(0.05, 1.0, 7)


@pytest.mark.parametrize("engine", ["fock", "coherent"])
def test_l0_grid_matches_closed_form(engine):
    for a in ALPHAS:
        for e in ETAS:
            r = simulate(0, a, e, engine=engine)
            x = a * a
            assert abs(r.F - (1 + np.exp(-2 * (1 - e) * x)) / 2) <= tol(1e-9)
            assert abs(r.P - (1 - np.exp(-2 * e * x))) <= tol(1e-9)


def test_l0_closed_form_with_every_imperfection():
    """eta_pre / eta_tot bookkeeping and the memory factor (docs/model.md 5) with all < 1."""
    kw = dict(eta_int=0.87, eta_c=0.6, eta_d=0.7, length_km=7.0, t_c_s=2e-4, eta=0.9)
    p = ProtocolParams(loss_order=0, alpha=1.3, **kw)
    eta_pre = 0.87 * p.eta_channel  # Alice's reflection loss, then the channel
    eta_tot = eta_pre * 0.87 * 0.7  # then Bob's reflection loss and the detectors
    d = np.exp(-(7e3 / 2e8) / 2e-4)
    for engine in ("fock", "coherent"):
        for usd in ("tub", "linear"):
            r = simulate(params=p.replace(usd=usd), engine=engine)
            assert abs(r.F - (1 + d * np.exp(-2 * (1 - eta_pre) * 1.69)) / 2) <= tol(1e-9)
            assert abs(r.P - (1 - np.exp(-2 * eta_tot * 1.69))) <= tol(1e-9)
    assert np.isclose(l0_fidelity(1.3, eta_pre, d), (1 + d * np.exp(-2 * (1 - eta_pre) * 1.69)) / 2)
    assert np.isclose(l0_success(1.3, eta_tot), 1 - np.exp(-2 * eta_tot * 1.69))


@pytest.mark.parametrize("loss_order", LOSS_ORDERS)
@pytest.mark.parametrize("encoder", ["ideal", "explicit"])
def test_closed_forms_match_both_engines(loss_order, encoder):
    for a, e in random_ideal_points(100 + loss_order, 50):
        cf = ideal_protocol(loss_order, a, e, encoder=encoder)
        for engine in ("coherent", "fock"):
            r = simulate(loss_order, a, e, engine=engine, encoder=encoder)
            assert abs(r.P - cf["P"]) <= tol(1e-10)
            assert abs(r.F - cf["F"]) <= tol(1e-10)
            assert abs(r.S - cf["S"]) <= tol(1e-10)


def test_loss_distribution_against_direct_sum():
    """p(j) of docs/model.md 5 against the Fock-space norm of A_j |0_N>, summed term by term."""
    a, eta, l = 1.4, 0.6, 3
    N = l + 1
    x = a * a
    p = loss_distribution(a, eta, l, j_max=30)
    n = np.arange(0, 120)
    c2 = np.where(n % N == 0, x ** n / factorial(n), 0.0)
    c2 = c2 / c2.sum()  # |<n|0_N>|^2
    from scipy.special import comb

    direct = [np.sum(c2[n >= j] * comb(n[n >= j], j) * eta ** (n[n >= j] - j) * (1 - eta) ** j)
              for j in range(31)]
    assert np.allclose(p, direct, rtol=1e-12, atol=1e-15)
    assert abs(p.sum() - 1) < 1e-12


@pytest.mark.parametrize("loss_order", [1, 3])
def test_heralded_and_unweighted_fidelity(loss_order):
    """The heralded F weights sectors by USD success; it differs from the plain syndrome
    average, and each matches its closed form (docs/model.md 3.6)."""
    a, e = 1.2, 0.7
    cf = ideal_protocol(loss_order, a, e)
    for engine in ("coherent", "fock"):
        r = simulate(loss_order, a, e, engine=engine)
        assert abs(r.F - cf["F"]) <= tol(1e-10)
        assert abs(r.syndrome_average_fidelity() - cf["F_unweighted"]) <= tol(1e-10)
    assert abs(cf["F"] - cf["F_unweighted"]) > 1e-5


def test_unweighted_average_from_loss_distribution():
    """F_unweighted = P(floor(j/N) even), straight from p(j) (docs/model.md 5)."""
    for l in (1, 3):
        N = l + 1
        p = loss_distribution(1.1, 0.75, l, j_max=60)
        j = np.arange(p.size)
        no_flip = p[(j // N) % 2 == 0].sum()
        assert abs(ideal_protocol(l, 1.1, 0.75)["F_unweighted"] - no_flip) < 1e-12


def test_tub_sector_success_equals_overlap_formula():
    """1 - |<u|v>|/|u|^2 computed from Fock vectors (moderate x, no cancellation issue)."""
    from catbell_qutip.codes import fock_amplitudes

    for N in (1, 2, 4):
        for s in range(N):
            for x in (0.3, 1.7, 5.0):
                b = np.sqrt(x)
                n = np.arange(80)
                u = np.where(n % N == s, fock_amplitudes(b, 79), 0)
                v = np.where(n % N == s, fock_amplitudes(b * np.exp(1j * np.pi / N), 79), 0)
                ref = 1 - abs(np.vdot(u, v)) / np.vdot(u, u).real
                assert abs(tub_sector_success(x, N - 1, s) - ref) < 1e-12


@pytest.mark.parametrize("loss_order", [1, 3])
def test_code_beats_l0_at_small_loss(loss_order):
    """Where the code should help (small loss), F_l > F_0 at the same alpha and eta."""
    for a in (0.8, 1.2, 1.6):
        for e in (0.9, 0.95, 0.99):
            assert simulate(loss_order, a, e).F > simulate(0, a, e).F


def test_tiny_usd_success_has_no_cancellation():
    """1 - |c| ~ x^N / ... for x -> 0: compare with the leading-order series."""
    for x in (1e-3, 1e-6):
        # N = 2, sector 0: W0 = 1 + x^4/24, W2 = x^2/2 -> sigma = 2 W2 / (W0 + W2)
        W0, W2 = 1 + x ** 4 / 24, x ** 2 / 2 + x ** 6 / 720
        assert np.isclose(tub_sector_success(x, 1, 0), 2 * W2 / (W0 + W2), rtol=1e-10)
    r = evaluate(1, alpha=1e-3, eta=1.0)
    assert r["P"] > 0 and np.isfinite(r["F"])
