"""Cat codes (docs/model.md section 2), sector sums, and the Fock truncation rule."""

from __future__ import annotations

import numpy as np
import pytest
import qutip
from scipy.special import factorial

from catbell_qutip.codes import (
    auto_cutoff,
    check_cutoff,
    codeword_truncation_error,
    codewords,
    fock_amplitudes,
)
from catbell_qutip.sectors import poisson_residue_masses, poisson_tail


@pytest.mark.parametrize("l", [0, 1, 3, 7])
def test_codewords_against_coherent_sums(l):
    """|0_N> ~ sum_k |a e^{2 pi i k/N}>, |1_N> ~ sum_k |a e^{i(2k+1) pi/N}> (built from
    qutip.coherent(method='analytic'), independent of codes.py)."""
    N, a, cut = l + 1, 1.7, 60
    z = sum(qutip.coherent(cut + 1, a * np.exp(2j * np.pi * k / N), method="analytic")
            for k in range(N)).unit()
    o = sum(qutip.coherent(cut + 1, a * np.exp(1j * (2 * k + 1) * np.pi / N), method="analytic")
            for k in range(N)).unit()
    zero, one = codewords(l, a, cut)
    assert abs(abs(zero.overlap(z)) - 1) < 1e-12
    assert abs(abs(one.overlap(o)) - 1) < 1e-12


@pytest.mark.parametrize("l", [0, 1, 3])
def test_code_structure(l):
    N, a, cut = l + 1, 1.3, 50
    zero, one = codewords(l, a, cut)
    n = np.arange(cut + 1)
    # support on n = 0 mod N, |1_N> carries (-1)^(n/N)
    z, o = zero.full().ravel(), one.full().ravel()
    assert np.all(z[n % N != 0] == 0)
    assert np.allclose(o[n % N == 0], z[n % N == 0] * (-1.0) ** (n[n % N == 0] // N))
    # normalised up to the dropped tail, NOT orthogonal: <0|1> = (W_0 - W_N)/(W_0 + W_N) (mod 2N)
    assert abs(zero.norm() ** 2 - (1 - codeword_truncation_error(l, a, cut, sector=0))) < 1e-14
    W = poisson_residue_masses(a * a, 2 * N)
    assert abs(zero.overlap(one) - (W[0] - W[N]) / (W[0] + W[N])) < 1e-12
    # logical X: R(pi/N)|0_N> = |1_N>, R(pi/N)|1_N> = |0_N>
    R = (1j * np.pi / N * qutip.num(cut + 1)).expm()
    assert (R * zero - one).norm() < 1e-12 and (R * one - zero).norm() < 1e-12
    # a^N acts as alpha^N Z on the code (exact away from the cutoff)
    aN = qutip.destroy(cut + 1) ** N
    assert (aN * zero - a ** N * zero).full()[: cut - 2 * N].__abs__().max() < 1e-10
    assert (aN * one + a ** N * one).full()[: cut - 2 * N].__abs__().max() < 1e-10


def test_fock_amplitudes_accurate_near_cutoff():
    """log-space amplitudes vs exact rational arithmetic where qutip's operator method fails."""
    a, cut = 3.0, 30
    c = fock_amplitudes(a, cut)
    n = np.arange(cut + 1)
    ref = np.exp(-a * a / 2) * a ** n / np.sqrt(factorial(n, exact=False))
    assert np.allclose(c, ref, rtol=1e-12, atol=0)


def test_poisson_residue_masses():
    for M in (1, 2, 4, 8):
        for y in (0.0, 1e-9, 0.3, 4.0, 36.0, 200.0):
            w = poisson_residue_masses(y, M)
            assert abs(w.sum() - 1) < 1e-13 and np.all(w >= 0)
            if 0 < y < 10:  # roots-of-unity formula is accurate here
                k = np.arange(M)
                ref = [np.real(np.sum(np.exp(-2j * np.pi * k * r / M)
                                      * np.exp(y * np.exp(2j * np.pi * k / M)))) / M * np.exp(-y)
                       for r in range(M)]
                assert np.allclose(w, ref, rtol=1e-9, atol=1e-15)
    # tiny y: leading term exp(-y) y^r / r!, in relative terms
    w = poisson_residue_masses(1e-6, 8)
    assert np.allclose(w[1:], np.exp(-1e-6) * 1e-6 ** np.arange(1, 8) / factorial(np.arange(1, 8)),
                       rtol=1e-9)
    assert abs(poisson_tail(3.0, 10) - (1 - np.sum(np.exp(-3) * 3.0 ** np.arange(11)
                                                 / factorial(np.arange(11))))) < 1e-14


@pytest.mark.parametrize("l,alpha", [(0, 0.5), (1, 2.0), (3, 4.0), (3, 6.0)])
def test_auto_cutoff_is_smallest_within_tolerance(l, alpha):
    for sector in (None, 0):
        c = auto_cutoff(l, alpha, sector=sector)
        assert codeword_truncation_error(l, alpha, c, sector=sector) <= 1e-12
        assert codeword_truncation_error(l, alpha, c - 1, sector=sector) > 1e-12


def test_check_cutoff_names_a_sufficient_cutoff():
    pattern = r"cutoff = 10 drops probability mass .* use cutoff >= (\d+)"
    with pytest.raises(ValueError, match=pattern) as exc:
        check_cutoff(1, 3.0, 10)
    need = int(str(exc.value).split("cutoff >= ")[1].split()[0])
    assert check_cutoff(1, 3.0, need) <= 1e-12
