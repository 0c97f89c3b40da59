"""Engine operations against explicit QuTiP operators, and POVM properties.

Reference identities (docs/model.md sections 1, 3, 5):
- CR(theta) = |up><up| (x) 1 + |down><down| (x) exp(i theta n).
- Pure loss: rho -> sum_k A_k rho A_k^dag, A_k = sum_n sqrt(C(n,k) eta^(n-k) (1-eta)^k) |n-k><n|;
  on coherent dyads |a><b| -> <sqrt(1-eta) b|sqrt(1-eta) a> |sqrt(eta) a><sqrt(eta) b|.
- USD: effects are positive, E_even + E_odd <= 1, E_even never fires on the odd state.
"""

from __future__ import annotations

import numpy as np
import pytest
import qutip

from catbell_qutip.codes import fock_amplitudes
from catbell_qutip.engines import CoherentState, FockState
from catbell_qutip.operations import (
    conditional_rotation,
    idp_povm,
    linear_optics_povm,
    loss_kraus,
    loss_superoperator,
    loss_weights,
    sector_projector,
    tub_povm,
    tub_povm_matrices,
    x_basis_projectors,
)

CUT = 14


def _random_state(seed, n_qubits=2, cutoff=CUT):
    rho = qutip.rand_dm([2] * n_qubits + [cutoff + 1], seed=seed)
    qubits = tuple(f"q{i}" for i in range(n_qubits))
    return rho, FockState.from_qobj(rho, qubits, x=1.0, cutoff=cutoff)


@pytest.mark.parametrize("eta", [0.0, 1e-9, 0.37, 1 - 1e-9, 1.0])
def test_fock_loss_matches_qutip_kraus(eta):
    rho, st = _random_state(1)
    ops = [qutip.tensor(qutip.qeye(2), qutip.qeye(2), A) for A in loss_kraus(eta, CUT)]
    ref = sum(A * rho * A.dag() for A in ops)
    assert np.abs(st.loss(eta).to_qobj().full() - ref.full()).max() < 1e-13
    # trace preserving: sum_k A_k^dag A_k = 1
    S = sum(A.dag() * A for A in loss_kraus(eta, CUT))
    assert np.abs(S.full() - np.eye(CUT + 1)).max() < 1e-12


def test_loss_superoperator_on_coherent_state():
    """|a><a| -> |sqrt(eta) a><sqrt(eta) a| exactly (the dyad rule with a = b)."""
    cut, a, eta = 40, 1.5, 0.6
    ket = qutip.Qobj(fock_amplitudes(a, cut))
    vec = qutip.operator_to_vector(ket.proj())
    out = qutip.vector_to_operator(loss_superoperator(eta, cut) * vec)
    ref = qutip.Qobj(fock_amplitudes(np.sqrt(eta) * a, cut)).proj()
    assert np.abs(out.full() - ref.full()).max() < 1e-12


def test_loss_weights_stable_near_edges():
    """sum_k W[k, n]^2 = 1 (binomial normalisation) and W[k, k]^2 = (1 - eta)^k, also for
    transmissions within 1e-12 of 0 and 1 and n up to 150."""
    n = np.arange(151)
    for eta in (1e-12, 0.5, 1 - 1e-12):
        W = loss_weights(eta, 150)
        assert np.all(np.isfinite(W)) and np.all(W >= 0)
        assert np.allclose((W ** 2).sum(axis=0), 1.0, rtol=0, atol=1e-12)
        assert np.allclose(W[n, n] ** 2, (1 - eta) ** n, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="eta = 1.5"):
        loss_weights(1.5, 5)


@pytest.mark.parametrize("control", [0, 1])
def test_reflect_matches_conditional_rotation(control):
    rho, st = _random_state(2)
    theta = 0.731
    U = conditional_rotation(theta, CUT, n_qubits=2, control=control)
    ref = U * rho * U.dag()
    out = st.reflect(f"q{control}", theta).to_qobj()
    assert np.abs(out.full() - ref.full()).max() < 1e-13


def test_measure_x_and_sector_projection_match_qutip():
    rho, st = _random_state(3)
    Pp, Pm = x_basis_projectors()
    for (_t, sub), P in zip(st.measure_qubit_x("q0"), (Pp, Pm), strict=True):
        ref = (qutip.tensor(P, qutip.qeye(2), qutip.qeye(CUT + 1)) * rho).ptrace([1, 2])
        assert np.abs(sub.to_qobj().full() - ref.full()).max() < 1e-13
    proj = qutip.tensor(qutip.qeye(2), qutip.qeye(2), sector_projector(4, 1, CUT))
    ref = proj * rho * proj
    assert np.abs(st.project_sector(4, 1).to_qobj().full() - ref.full()).max() < 1e-14


def test_dyad_rule_cat_basis_and_fock_agree():
    """Random state on the ring dyads |b w^k><b w^k'| (M = 4): the coherent engine's loss,
    the dyad rule of docs/model.md 5 written out, and the Fock engine's Kraus loss agree."""
    M, b, eta, cut = 4, 1.1, 0.63, 60  # ring of 2N = 4 points (l = 1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(M, M)) + 1j * rng.normal(size=(M, M))
    C = X @ X.conj().T  # positive coefficient matrix on the dyads
    w = np.exp(2j * np.pi / M)
    kets = [fock_amplitudes(b * w ** k, cut) for k in range(M)]
    rho = sum(C[k, l] * np.outer(kets[k], kets[l].conj()) for k in range(M) for l in range(M))
    # dyad rule
    c = np.sqrt(1 - eta) * b
    shrunk = [fock_amplitudes(np.sqrt(eta) * b * w ** k, cut) for k in range(M)]
    ref = sum(C[k, l] * np.exp(-c * c * (1 - w ** (k - l))) * np.outer(shrunk[k], shrunk[l].conj())
              for k in range(M) for l in range(M))
    # Fock engine
    st = FockState.from_qobj(qutip.Qobj(rho), (), x=b * b, cutoff=cut)
    fock = st.loss(eta).K[0, 0]
    # coherent engine: |b w^k> = sum_q w^{kq} f_q, so K_qp = sum_kl C_kl w^{kq} w^{-lp}
    F = w ** np.outer(np.arange(M), np.arange(M))
    K = F.T @ C @ F.conj()
    cs = CoherentState(K[None, None], (), b * b)
    assert cs.n_ring == M
    out = cs.loss(eta)
    n = np.arange(cut + 1)
    fq = [np.where(n % M == q, fock_amplitudes(np.sqrt(eta) * b, cut), 0) for q in range(M)]
    coh = sum(out.K[0, 0, q, p] * np.outer(fq[q], fq[p].conj()) for q in range(M) for p in range(M))
    assert np.abs(fock - ref).max() < 1e-12
    assert np.abs(coh - ref).max() < 1e-12


@pytest.mark.parametrize("N", [1, 2, 4])
def test_tub_povm_properties(N):
    cut, b = 50, 1.3
    for s in range(N):
        E, O, I = tub_povm(N, s, b, cut)
        for op in (E, O, I):
            assert np.linalg.eigvalsh(op.full()).min() > -1e-12
        n = np.arange(cut + 1)
        u = qutip.Qobj(np.where(n % N == s, fock_amplitudes(b, cut), 0)).unit()
        odd = fock_amplitudes(b * np.exp(1j * np.pi / N), cut)
        v = qutip.Qobj(np.where(n % N == s, odd, 0)).unit()
        c = abs(u.overlap(v))
        assert abs(qutip.expect(O, u)) < 1e-13 and abs(qutip.expect(E, v)) < 1e-13
        assert abs(qutip.expect(E, u) - (1 - c)) < 1e-12
        assert abs(qutip.expect(O, v) - (1 - c)) < 1e-12
        # same POVM as the generic Gram-Schmidt construction where that one is accurate
        e2, o2 = idp_povm(u.full().ravel(), v.full().ravel())
        e1, o1 = tub_povm_matrices(N, s, b, cut)
        assert np.abs(e1 - e2).max() < 1e-12 and np.abs(o1 - o2).max() < 1e-12


@pytest.mark.parametrize("N", [1, 2])
def test_linear_optics_povm_properties(N):
    cut, b = 40, 1.5
    E, O, I = linear_optics_povm(N, b, cut)
    for op in (E, O, I):
        assert np.linalg.eigvalsh(op.full()).min() > -1e-12
    w = np.exp(1j * np.pi / N)
    for k in range(2 * N):  # unambiguous on every ring point
        ket = qutip.Qobj(fock_amplitudes(b * w ** k, cut))
        wrong = O if k % 2 == 0 else E
        assert abs(qutip.expect(wrong, ket)) < 1e-13
    if N == 1:
        Et, Ot, _ = tub_povm(1, 0, b, cut)
        ket = qutip.Qobj(fock_amplitudes(b, cut))
        assert abs(qutip.expect(E, ket) - qutip.expect(Et, ket)) < 1e-12


def test_linear_optics_numbers_quoted_in_model():
    """docs/model.md 3.5: for N = 2, beta = 1.5, in the loss-free sector, linear optics about 0.46
    against 0.87 for the TUB (two-digit numbers as docs/model.md quotes them)."""
    cut, b = 50, 1.5
    n = np.arange(cut + 1)
    zero = qutip.Qobj(np.where(n % 2 == 0, fock_amplitudes(b, cut), 0)).unit()
    E, _, _ = linear_optics_povm(2, b, cut)
    Et, _, _ = tub_povm(2, 0, b, cut)
    assert abs(qutip.expect(E, zero) - 0.46) < 0.005
    assert abs(qutip.expect(Et, zero) - 0.87) < 0.005


def test_coherent_engine_rejects_off_ring_angles():
    st = CoherentState.coherent(1.0, 2)
    with pytest.raises(ValueError, match="multiples of 2 pi / 4"):
        st.add_qubit("a").reflect("a", 0.3)
