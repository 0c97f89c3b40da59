"""DI-QKD key rate (docs/model.md section 4): R = R_eg (1 - h(Q) - chi(S)), clipped at 0."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

from catbell_qutip.bell import chsh_from_fidelity
from catbell_qutip.closed_forms import l0_fidelity, l0_success
from catbell_qutip.keyrate import (
    S_MAX,
    binary_entropy,
    chi,
    key_rate,
    key_rate_vs_alpha,
    peak_key_rate,
)


def h_ref(p):
    return 0.0 if p in (0.0, 1.0) else -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def test_binary_entropy_values():
    assert binary_entropy(0.5) == 1.0
    assert binary_entropy(0.0) == 0.0 and binary_entropy(1.0) == 0.0
    p = np.array([0.01, 0.11, 0.3, 0.7])
    np.testing.assert_allclose(binary_entropy(p), [h_ref(x) for x in p], rtol=1e-14)
    np.testing.assert_allclose(binary_entropy(p), binary_entropy(1 - p), rtol=1e-13)
    with pytest.raises(ValueError, match=r"p = 1.2 is outside the allowed range \[0, 1\]"):
        binary_entropy(1.2)


def test_key_rate_tsirelson_and_no_error_gives_R_eg():
    assert key_rate(1234.5, S_MAX, 0.0) == pytest.approx(1234.5, rel=1e-12)
    np.testing.assert_allclose(key_rate(np.array([1.0, 10.0]), S_MAX, 0.0), [1.0, 10.0],
                               rtol=1e-12)


def test_key_rate_zero_without_violation():
    S = np.array([0.0, 1.0, 1.99, 2.0])
    np.testing.assert_array_equal(key_rate(1000.0, S, 0.0), 0.0)
    # a violation too small for the bit errors: bracket negative, clipped to 0
    assert key_rate(1000.0, 2.3, 0.1) == 0.0


def test_key_rate_formula():
    S, Q, R = 2.7, 0.01, 500.0
    x = (1 + math.sqrt((S / 2) ** 2 - 1)) / 2
    assert key_rate(R, S, Q) == pytest.approx(R * (1 - h_ref(Q) - h_ref(x)), rel=1e-13)


def test_chi_monotonic_and_endpoints():
    S = np.linspace(2.0, S_MAX, 2001)
    c = chi(S)
    assert c[0] == 1.0 and abs(c[-1]) < 1e-12
    assert np.all(np.diff(c) < 0)
    assert chi(1.5) == 1.0
    with pytest.raises(ValueError, match="S = 2.9 is outside the allowed range"):
        chi(2.9)


def test_depolarised_threshold_7_1_percent():
    """Depolarised maximally entangled pairs, S = 2 sqrt 2 (1 - 2Q): the CHSH DI-QKD rate
    vanishes at Q ~ 7.1% (Acin et al., PRL 98, 230501 (2007))."""
    q = brentq(lambda Q: key_rate(1.0, S_MAX * (1 - 2 * Q), Q) - 1e-12, 0.01, 0.09)
    assert q == pytest.approx(0.071, abs=6e-4)


def test_l0_peak_key_rate_matches_closed_form():
    """Channel loss only, l = 0: R(alpha) = P/T (1 - chi(S(F))) from the closed forms."""
    L, T = 10.0, 10e3 / 2e8
    eta = 10 ** (-0.2)

    def neg(a):
        S = chsh_from_fidelity(l0_fidelity(a, eta))
        return -float(l0_success(a, eta) / T * (1 - chi(S)))

    ref = minimize_scalar(neg, bounds=(0.3, 1.2), method="bounded",
                          options={"xatol": 1e-10})
    a_opt, peak = peak_key_rate(0, length_km=L, encoder="explicit")
    assert peak == pytest.approx(-ref.fun, rel=1e-8)
    assert a_opt == pytest.approx(ref.x, rel=1e-4)
    ds = key_rate_vs_alpha(0, [0.2, 0.5, a_opt], length_km=L)
    assert ds["key_rate"].attrs["units"] == "bit/s"
    assert np.all(ds["key_rate"].values <= peak * (1 + 1e-12))
    # t0 beyond L / c_f scales every rate by T / t0 and does not move the optimum
    a2, p2 = peak_key_rate(0, length_km=L, t0_s=2 * T)
    assert p2 == pytest.approx(peak / 2, rel=1e-8)
    assert a2 == pytest.approx(a_opt, rel=1e-4)
