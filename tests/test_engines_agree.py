"""The Fock engine and the coherent-state engine run the same protocol on different light
representations; they must agree.

Below P = 1e-7 the Fock engine refuses the linear-optics USD (api.FOCK_LINEAR_P_FLOOR); such
random points are checked for that refusal instead of agreement.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import LOSS_ORDERS, random_ideal_points, random_imperfect_points, tol

from catbell_qutip import evaluate, simulate
from catbell_qutip.api import FOCK_LINEAR_P_FLOOR


def _assert_agree(a, b, atol):
    assert abs(a.P - b.P) <= atol, (a.P, b.P)
    assert abs(a.F - b.F) <= atol, (a.F, b.F)
    assert abs(a.S - b.S) <= atol, (a.S, b.S)


@pytest.mark.parametrize("loss_order", LOSS_ORDERS)
@pytest.mark.parametrize("encoder", ["ideal", "explicit"])
def test_ideal_protocol_engines_agree(loss_order, encoder):
    for a, e in random_ideal_points(7 + loss_order, 50):
        f = simulate(loss_order, a, e, engine="fock", encoder=encoder)
        c = simulate(loss_order, a, e, engine="coherent", encoder=encoder)
        _assert_agree(f, c, tol(1e-9))
        assert abs(f.Q - c.Q) <= tol(1e-9)


@pytest.mark.parametrize("loss_order", LOSS_ORDERS)
@pytest.mark.parametrize("usd", ["tub", "linear"])
@pytest.mark.parametrize("encoder", ["ideal", "explicit"])
def test_all_imperfections_engines_agree(loss_order, usd, encoder):
    compared = 0
    for pt in random_imperfect_points(31 * (loss_order + 1) + len(usd), 30, usd):
        c = simulate(loss_order, engine="coherent", encoder=encoder, **pt)
        if usd == "linear" and c.P < FOCK_LINEAR_P_FLOOR:
            with pytest.raises(ValueError, match="resolution floor"):
                simulate(loss_order, engine="fock", encoder=encoder, **pt)
            continue
        f = simulate(loss_order, engine="fock", encoder=encoder, **pt)
        _assert_agree(f, c, tol(1e-9))
        assert abs(f.Q - c.Q) <= tol(1e-9)
        assert np.allclose(f.rho_ab.full(), c.rho_ab.full(), atol=tol(1e-9))
        compared += 1
    assert compared >= 20  # the floor must not hollow out the comparison


@pytest.mark.parametrize("loss_order", LOSS_ORDERS)
def test_vectorised_equals_pointwise(loss_order):
    rng = np.random.default_rng(loss_order)
    alpha = rng.uniform(0.2, 2.5, 12)
    eta = rng.uniform(0.05, 1.0, 12)
    kw = dict(length_km=3.0, eta_int=0.93, usd="linear", p_dark=0.01, encoder="explicit")
    vec = evaluate(loss_order, alpha=alpha, eta=eta, **kw)
    for i in range(alpha.size):
        r = simulate(loss_order, alpha[i], eta[i], engine="coherent", **kw)
        for k in ("P", "F", "S", "Q"):
            assert abs(vec[k][i] - getattr(r, k)) <= 1e-13


def test_grid_dataset_matches_broadcast():
    a = np.linspace(0.3, 2.0, 5)
    L = np.array([0.0, 5.0, 20.0])
    ds = evaluate(1, alpha=a, length_km=L, grid=True, eta_int=0.9)
    assert ds["S"].dims == ("alpha", "length_km")
    assert ds["length_km"].attrs["units"] == "km"
    flat = evaluate(1, alpha=a[:, None], length_km=L[None, :], eta_int=0.9)
    assert np.array_equal(ds["S"].values, flat["S"])


def test_evaluate_fock_loop_matches_coherent():
    a = np.array([0.6, 1.4])
    f = evaluate(3, alpha=a, eta=0.8, engine="fock")
    c = evaluate(3, alpha=a, eta=0.8)
    for k in ("P", "F", "S"):
        assert np.allclose(f[k], c[k], atol=tol(1e-9), rtol=0)
