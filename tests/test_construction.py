"""Objects are built complete by their constructors, and shared rules are defined once:
engine states, parameter slices, the Poisson tail rule, the re-exported formulas."""

from __future__ import annotations

import dataclasses
from math import factorial

import numpy as np
import pytest
from scipy.special import gammainc

from catbell_qutip import formulas, keyrate, rates
from catbell_qutip.codes import codewords, sector_codeword
from catbell_qutip.engines import CoherentState, FockState
from catbell_qutip.params import ProtocolParams
from catbell_qutip.sectors import poisson_n_max, poisson_pmf


def test_formulas_are_defined_once_and_re_exported():
    assert keyrate.key_rate is formulas.key_rate
    assert keyrate.binary_entropy is formulas.binary_entropy
    assert keyrate.chi is formulas.chi
    assert keyrate.S_MAX is formulas.S_MAX
    assert rates.entanglement_rate is formulas.entanglement_rate


def test_secret_key_rate_is_the_composition():
    P, S, Q, L, t0 = 0.3, 2.7, 0.01, 12.0, 1e-5
    R_eg = P / max(L * 1e3 / 2e8, t0)  # docs/model.md section 4
    h = lambda p: -p * np.log2(p) - (1 - p) * np.log2(1 - p)  # noqa: E731
    chi = h(0.5 * (1 + np.sqrt((S / 2) ** 2 - 1)))
    assert formulas.secret_key_rate(P, S, Q, L, t0) == pytest.approx(R_eg * (1 - h(Q) - chi),
                                                                     rel=1e-13)


def test_fock_state_is_complete_from_its_constructor():
    K = np.zeros((1, 1, 8, 8), dtype=complex)
    K[0, 0, 0, 0] = 1.0
    st = FockState(K, (), 0.0, truncation_error=1e-13)
    assert st.cutoff == 7 and st.truncation_error == 1e-13
    assert np.array_equal(st.labels, np.arange(8))
    derived = st.add_qubit("A").reflect("A", np.pi / 2).loss(0.5)
    assert type(derived) is FockState
    assert derived.cutoff == 7 and derived.truncation_error == 1e-13
    assert derived.qubits == ("A",)


def test_coherent_state_is_complete_and_shares_its_gram_cache():
    st = CoherentState.codeword(np.array([1.0, 2.0]), 2)
    assert st.n_ring == 4 and np.array_equal(st.labels, np.arange(4))
    a = st.add_qubit("A")
    b = a.reflect("A", np.pi / 2)
    assert a._grams is st._grams and b._grams is st._grams
    fresh = CoherentState(st.K, (), st.x)
    assert fresh._grams == {} and fresh._grams is not st._grams
    # trace 1 from the Gram diagonal of a fresh state (normalised codewords)
    assert np.allclose(fresh.trace(), 1.0, atol=1e-14)


def test_fock_codeword_is_the_code_of_docs_model_section_2():
    alpha, cutoff = 1.7, 40
    st = FockState.codeword(alpha, 2, cutoff=cutoff)
    zero = codewords(1, alpha, cutoff)[0].full()[:, 0]
    assert np.allclose(st.K[0, 0], np.outer(zero, zero.conj()), atol=1e-15)
    # only even photon numbers, and (untruncated) unit norm
    c = sector_codeword(alpha, 2, 0, cutoff)
    assert np.all(c[1::2] == 0) and abs(np.vdot(c, c) - 1) < 1e-12


def test_flat_slice_gives_the_points_of_the_flattened_batch():
    params = ProtocolParams(loss_order=1, alpha=np.array([[1.0], [2.0]]),
                            eta=np.array([0.5, 0.7, 0.9]), eta_d=0.8)
    sub = params.flat_slice(slice(2, 5))
    assert sub.batch_shape == (3,)
    points = [params.at(np.unravel_index(i, (2, 3))) for i in range(2, 5)]
    assert np.array_equal(sub.alpha, [p.alpha for p in points])
    assert np.array_equal(sub.eta, [p.eta for p in points])
    assert sub.eta_d == 0.8 and sub.loss_order == 1


def test_sub_batches_equal_the_validated_construction():
    # take and flat_slice copy pieces of validated arrays without validating again: the
    # result must be what a full (validating) construction of those pieces gives
    params = ProtocolParams(loss_order=1, alpha=np.array([[1.0], [2.0]]),
                            eta=np.array([0.5, 0.7, 0.9]), eta_d=0.8, length_km=3.0)
    flat_alpha = np.broadcast_to(params.alpha, (2, 3)).reshape(-1)
    flat_eta = np.broadcast_to(params.eta, (2, 3)).reshape(-1)
    for sub, idx in ((params.take([4, 0, 5]), [4, 0, 5]),
                     (params.flat_slice(slice(1, 4)), [1, 2, 3])):
        want = dataclasses.replace(params, alpha=flat_alpha[idx], eta=flat_eta[idx])
        assert sub.batch_shape == want.batch_shape == (3,)
        for f in dataclasses.fields(ProtocolParams):
            a, b = getattr(sub, f.name), getattr(want, f.name)
            assert np.array_equal(a, b), f.name
    assert params.take([2]).batch_shape == (1,)
    scalar = ProtocolParams(loss_order=0, alpha=1.5)
    same = scalar.flat_slice(slice(0, 1), (4,))  # nothing to slice
    assert same.batch_shape == () and same.alpha == 1.5 and same.loss_order == 0


@pytest.mark.parametrize("y", [0.0, 1e-3, 0.5, 4.0, 30.0, 200.0])
@pytest.mark.parametrize("n_from", [0, 10, 60])
def test_poisson_tail_rule_drops_nothing_that_counts(y, n_from):
    # the mass beyond poisson_n_max is < 1e-18 of the mass from n_from on; Poisson tails
    # from the regularised incomplete gamma function, P(N >= k) = gammainc(k, y)
    n_max = poisson_n_max(y, n_from)
    assert n_max >= max(y, n_from) + 40
    if y == 0.0:
        return  # all the mass is at n = 0
    beyond = gammainc(n_max + 1.0, y)
    from_on = gammainc(float(n_from), y) if n_from else 1.0
    assert beyond <= 1e-18 * from_on


def test_poisson_pmf_matches_the_closed_form():
    y = np.array([0.0, 0.3, 5.0])
    p = poisson_pmf(y, 6)
    n = np.arange(7)
    ref = np.exp(-y[:, None]) * y[:, None] ** n / np.array([factorial(k) for k in n])
    assert np.allclose(p, ref, rtol=1e-13, atol=0)
