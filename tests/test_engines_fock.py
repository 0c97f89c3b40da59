"""The Fock engine's pure-loss channel on its two routes against QuTiP's Kraus operators.

:func:`catbell_qutip.engines.fock._apply_loss_rows` applies the loss through a cached
sparse superoperator (one transmission, or transmissions met before) or, for a batch of
light matrices with several new transmissions, Kraus index by Kraus index
(:func:`~catbell_qutip.engines.fock._direct_loss`). Both must equal
sum_k A_k rho A_k^dag with A_k = sqrt((1 - eta)^k / k!) eta^(n/2) a^k built from
``qutip.destroy``, and the adjoint must satisfy Tr[G L(rho)] = Tr[L^dag(G) rho].
The caches stay within their byte bounds.

Cost: under 1 s CPU.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import qutip

import catbell_qutip.engines.fock as fock
from catbell_qutip.codes import fock_amplitudes
from catbell_qutip.engines import FockState
from catbell_qutip.engines.base import LightAtomState, sign_phases
from catbell_qutip.operations import sector_idp_factors
from catbell_qutip.params import ProtocolParams
from catbell_qutip.protocol import run_protocol

L = 18


def _kraus_loss(rho: np.ndarray, eta: float, adjoint: bool = False) -> np.ndarray:
    """sum_k A_k rho A_k^dag (adjoint: sum_k A_k^dag rho A_k) from qutip.destroy."""
    a = qutip.destroy(L).full()
    damp = np.diag(eta ** (np.arange(L) / 2.0))
    out = np.zeros_like(rho)
    ak = np.eye(L)
    for k in range(L):
        A = math.sqrt((1.0 - eta) ** k / math.factorial(k)) * damp @ ak
        out += A.conj().T @ rho @ A if adjoint else A @ rho @ A.conj().T
        ak = ak @ a
    return out


def _random_matrices(rng, B):
    X = rng.normal(size=(B, L, L)) + 1j * rng.normal(size=(B, L, L))
    rho = X @ np.swapaxes(X, -1, -2).conj()
    return rho / np.trace(rho, axis1=1, axis2=2)[:, None, None]


@pytest.fixture
def empty_cache(monkeypatch):
    monkeypatch.setattr(fock, "_LOSS_CACHE", fock._ByteLRU(fock.LOSS_CACHE_BYTES))
    monkeypatch.setattr(fock, "_SEEN", fock._Flags(2 ** 20))


@pytest.mark.parametrize("route", ["one transmission", "several new transmissions",
                                   "several, some cached"])
def test_loss_equals_qutip_kraus_sum(route, empty_cache):
    rng = np.random.default_rng(7)
    B = 5
    rho = _random_matrices(rng, B)
    eta = {"one transmission": np.full(B, 0.63),
           "several new transmissions": np.array([0.2, 0.5, 1.0, 0.77, 0.5]),
           "several, some cached": np.array([0.2, 0.5, 0.9, 0.77, 0.3])}[route]
    if route == "several, some cached":
        fock._cached_loss(0.5, L, False)
        fock._cached_loss(0.9, L, False)
    out = fock._apply_loss_rows(rho.reshape(B, 1, L * L), eta).reshape(B, L, L)
    for b in range(B):
        np.testing.assert_allclose(out[b], _kraus_loss(rho[b], eta[b]), rtol=0, atol=1e-14)


@pytest.mark.parametrize("n_rows", [1, 4])
def test_adjoint_loss_is_the_adjoint(n_rows, empty_cache):
    rng = np.random.default_rng(11)
    B = 4
    eta = np.array([0.35, 0.6, 0.8, 0.95])
    rho = _random_matrices(rng, B * n_rows).reshape(B, n_rows, L, L)
    G = _random_matrices(rng, B * n_rows).reshape(B, n_rows, L, L)
    fwd = fock._apply_loss_rows(rho.reshape(B, n_rows, -1), eta).reshape(rho.shape)
    back = fock._apply_loss_rows(G.reshape(B, n_rows, -1), eta, adjoint=True).reshape(G.shape)
    lhs = np.einsum("bjpq,bjqp->bj", G, fwd)
    rhs = np.einsum("bjpq,bjqp->bj", back, rho)
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-14)


def test_loss_preserves_trace_on_both_routes(empty_cache):
    rng = np.random.default_rng(3)
    rho = _random_matrices(rng, 6)
    eta = np.linspace(0.1, 0.9, 6)
    direct = fock._direct_loss(rho, eta, adjoint=False)
    sparse = fock._apply_loss_rows(rho.reshape(6, 1, -1), 0.4)  # one transmission: sparse
    # the truncated space loses no mass under pure loss (it only lowers photon numbers)
    np.testing.assert_allclose(np.trace(direct, axis1=1, axis2=2).real, 1.0, atol=1e-14)
    np.testing.assert_allclose(np.trace(sparse.reshape(6, L, L), axis1=1, axis2=2).real, 1.0,
                               atol=1e-14)


def test_new_transmissions_go_direct_then_cached_when_met_again(empty_cache, monkeypatch):
    rng = np.random.default_rng(5)
    rho = _random_matrices(rng, 3).reshape(3, 1, L * L)
    eta = np.array([0.3, 0.6, 0.9])
    calls = []
    monkeypatch.setattr(fock, "_direct_loss",
                        lambda *a, **k: calls.append(1) or _DIRECT(*a, **k))
    first = fock._apply_loss_rows(rho, eta)
    assert calls and not fock._LOSS_CACHE.items  # first meeting: direct, nothing built
    second = fock._apply_loss_rows(rho, eta)
    assert len(calls) == 1 and len(fock._LOSS_CACHE.items) == 3  # met again: built, kept
    np.testing.assert_allclose(first, second, rtol=0, atol=1e-15)


_DIRECT = fock._direct_loss


def test_caches_stay_within_their_byte_bounds():
    cache = fock._ByteLRU(3 * 8 * 100)
    for key in range(10):
        cache.get(key, lambda: np.zeros(100))
        assert cache.size <= cache.limit
    assert list(cache.items) == [7, 8, 9]
    cache.get(7, lambda: pytest.fail("a cached value is rebuilt"))
    assert list(cache.items) == [8, 9, 7]  # 7 is now the most recently used
    pattern = fock._loss_pattern(12)
    assert fock._loss_pattern(12) is pattern


def _sector_matrices(rng, B, period):
    """Random density matrices that vanish off m = n (mod period): mixtures of states
    supported on one residue class each (the structure a cat code of order N keeps)."""
    out = np.zeros((B, L, L), dtype=complex)
    n = np.arange(L)
    for r in range(min(period, L)):
        X = rng.normal(size=(B, L, 3)) + 1j * rng.normal(size=(B, L, 3))
        X[:, n % period != r] = 0.0
        out += X @ np.swapaxes(X, -1, -2).conj()
    return out / np.trace(out, axis1=1, axis2=2)[:, None, None]


@pytest.mark.parametrize("period", [2, 4, 6, L])
def test_period_is_the_gcd_of_the_occupied_offsets(period):
    rho = _sector_matrices(np.random.default_rng(period), 3, period)
    assert fock._period(rho.reshape(3, 1, L * L), L) == period
    rho[0, 0, 1] = 1e-30  # one entry off the structure: nothing is gained
    assert fock._period(rho.reshape(3, 1, L * L), L) == 1


@pytest.mark.parametrize("adjoint", [False, True])
@pytest.mark.parametrize("period", [2, 4, L])
def test_loss_on_the_sector_entries_equals_the_full_kraus_sum(period, adjoint, empty_cache):
    rng = np.random.default_rng(21 + period)
    B = 4
    rho = _sector_matrices(rng, B, period)
    eta = np.array([0.3, 0.3, 0.85, 0.85])
    # two light blocks per point (a register): the sparse route, operators cached
    out = fock._apply_loss_rows(rho.reshape(B // 2, 2, L * L), eta[::2], adjoint=adjoint)
    assert any(key[3] == period for key in fock._LOSS_CACHE.items)  # the restricted operator
    out = out.reshape(B, L, L)
    for b in range(B):
        want = _kraus_loss(rho[b], eta[b], adjoint=adjoint)
        np.testing.assert_allclose(out[b], want, rtol=0, atol=1e-14)
        # the loss keeps the structure: nothing appears off m = n (mod period)
        off = (np.subtract.outer(np.arange(L), np.arange(L)) % period) != 0
        assert not np.any(out[b][off])



# -- the real path: cat codes at l = 0 stay real (R(pi) = (-1)^n) ------------------------

def _outcomes(params, state):
    outs = run_protocol(params, state, explicit=params.encoder == "explicit")
    return {(o.encoder_sector, o.syndrome, o.usd): o for o in outs}


@pytest.mark.parametrize("fields", [
    dict(eta_int=0.81, eta_dc=0.8, eta_uc=0.05, eta_d=0.97, length_km=4.0),
    dict(eta=0.6, eta_int=0.9, eta_int_placement="before", t_c_s=1e-3, length_km=20.0),
    dict(eta=0.7, usd="linear", eta_d=0.9),
    dict(eta=0.5, encoder="explicit", decoder="ml", eta_int=0.95),
    dict(eta=1.0),
])
def test_real_path_equals_the_complex_path(fields):
    # the same batch run from a real initial state (the fast path) and from that state
    # cast to complex (the general path): every record's probability and state agree
    alphas = np.array([0.6, 1.3, 2.2, 2.9])
    params = ProtocolParams(loss_order=0, alpha=alphas, **fields)
    cutoffs = np.array([14, 20, 27, 33])
    real = FockState.initial_cats(alphas, 1, cutoffs, explicit=params.encoder == "explicit",
                                  truncation_errors=np.zeros(4))
    assert real.K.dtype == np.float64
    cplx = FockState(real.K.astype(complex), (), real.x, cutoffs=cutoffs)
    a, b = _outcomes(params, real), _outcomes(params, cplx)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key].probability, b[key].probability, rtol=0,
                                   atol=1e-14)
        if a[key].rho_ab is not None:
            np.testing.assert_allclose(a[key].rho_ab, b[key].rho_ab, rtol=0, atol=1e-14)


def test_real_state_stays_real_only_where_every_phase_is_a_sign():
    st = FockState.initial_cats(np.array([1.1, 2.0]), 1, np.array([20, 24]), explicit=False,
                                truncation_errors=np.zeros(2)).add_qubit("A")
    assert st.K.dtype == np.float64
    assert st.reflect("A", np.pi).K.dtype == np.float64  # R(pi) = (-1)^n
    assert st.reflect("A", np.pi).loss(np.array([0.3, 0.8])).K.dtype == np.float64
    assert np.iscomplexobj(st.reflect("A", np.pi / 2).K)
    # the real signs are the complex phases to rounding
    n = np.arange(40)
    for theta in (np.pi, 2 * np.pi, -np.pi):
        np.testing.assert_allclose(sign_phases(theta, n), np.exp(1j * theta * n), rtol=0,
                                   atol=1e-13)
    assert sign_phases(np.pi / 2, n) is None and sign_phases(0.3, n) is None
    # reflect on a real state gives the complex path's numbers
    real = st.reflect("A", np.pi).K
    cplx = FockState(st.K.astype(complex), st.qubits, st.x).reflect("A", np.pi).K
    np.testing.assert_allclose(real, cplx, rtol=0, atol=1e-15)


def _register_state(rng, B, cutoffs, *, real: bool, paired: bool = True):
    """A batch of one-qubit-register states |psi><psi| (x) light with a random Hermitian
    PSD register-light matrix (real if ``real``); ``paired=False`` breaks
    K[1, 0] = K[0, 1]^dag in one entry (not a density matrix: the maps are linear)."""
    L = int(max(cutoffs)) + 1
    X = rng.normal(size=(B, 2 * L, 3))
    if not real:
        X = X + 1j * rng.normal(size=(B, 2 * L, 3))
    for b, c in enumerate(cutoffs):  # each point's light up to its own cutoff
        X[b].reshape(2, L, 3)[:, c + 1:] = 0.0
    rho = X @ np.swapaxes(X, -1, -2).conj()
    rho /= np.trace(rho, axis1=1, axis2=2)[:, None, None]
    K = rho.reshape(B, 2, L, 2, L).transpose(0, 1, 3, 2, 4).copy()
    if not paired:
        K[0, 1, 0, 2, 1] += 1e-3
    x = rng.uniform(0.5, 4.0, B)
    return FockState(K, ("A",), x, cutoffs=np.asarray(cutoffs), eta_tot=np.ones(B))


@pytest.mark.parametrize("real", [True, False])
@pytest.mark.parametrize("paired", [True, False])
def test_loss_of_a_register_equals_the_kraus_sum_per_block(real, paired, empty_cache):
    rng = np.random.default_rng(31)
    st = _register_state(rng, 4, [9, 12, 17, 17], real=real, paired=paired)
    eta = np.array([0.3, 0.9, 0.3, 0.55])
    out = st.loss(eta).K
    for b in range(4):
        for a in range(2):
            for c in range(2):
                block = np.pad(st.K[b, a, c], (0, L - st.K.shape[-1])).astype(complex)
                want = _kraus_loss(block, eta[b])
                np.testing.assert_allclose(out[b, a, c], want[: out.shape[-1], : out.shape[-1]],
                                           rtol=0, atol=1e-14)


@pytest.mark.parametrize("real", [True, False])
@pytest.mark.parametrize("paired", [True, False])
@pytest.mark.parametrize("route", [dict(eta_final=0.6, usd="tub"),
                                   dict(eta_final=np.array([1.0, 0.4, 0.8]), usd="tub"),
                                   dict(eta_final=1.0, usd="tub"),
                                   dict(eta_final=0.7, usd="linear")])
def test_entangle_and_measure_equals_the_literal_operations(real, paired, route):
    # the Fock engine's one-pass version (real arithmetic for a real state at theta = pi)
    # against the base class's literal sequence: add B, reflect, lose, build the effects,
    # measure
    rng = np.random.default_rng(5)
    st = _register_state(rng, 3, [12, 16, 16], real=real, paired=paired)
    args = ("B", np.pi, route["eta_final"], route["usd"], 1, 0)
    total, fast = st.entangle_and_measure(*args)
    want_total, want = LightAtomState.entangle_and_measure(st, *args)
    np.testing.assert_allclose(total, want_total, rtol=0, atol=1e-14)
    for name in ("even", "odd"):
        np.testing.assert_allclose(fast[name], want[name], rtol=0, atol=1e-14)


def test_pulled_back_rank_one_effects_and_their_transpose():
    # w L^dag(|v><v|) against the adjoint of QuTiP's Kraus sum; the transposed form
    # (computed directly) is its transpose
    rng = np.random.default_rng(9)
    B = 3
    V = rng.normal(size=(B, 2, L)) + 1j * rng.normal(size=(B, 2, L))
    V /= np.linalg.norm(V, axis=-1, keepdims=True)  # unit vectors: effects below 1
    w = np.array([0.5, 1.0, 0.8])
    eta = np.array([0.3, 0.75, 0.75])
    G = fock._adjoint_rank_one(w, V, eta)
    GT = fock._adjoint_rank_one(w, V, eta, transposed=True)
    for b in range(B):
        for e in range(2):
            want = w[b] * _kraus_loss(np.outer(V[b, e], V[b, e].conj()), eta[b], adjoint=True)
            np.testing.assert_allclose(G[b, e], want, rtol=0, atol=1e-15)
            np.testing.assert_allclose(GT[b, e], want.T, rtol=0, atol=1e-15)


@pytest.mark.parametrize("n_comp", [1, 2, 4])
def test_cat_tub_factors_of_every_sector_match_the_one_point_construction(n_comp):
    # the batch factors (all sectors of a light computed at once, then kept) against the
    # generic one-point construction on each point's own truncated amplitudes; the order
    # in which the sectors are asked for must not matter
    x = np.array([0.3, 2.0, 5.5, 1e-9])
    cut = np.array([12, 20, 9, 20])
    L = 21
    for order in (range(n_comp), reversed(range(n_comp))):
        fock.clear_value_caches()
        for s in order:
            w, v, u = fock._cat_tub_factors(n_comp, s, x, cut, L)
            for b in range(x.size):
                ref = fock_amplitudes(np.sqrt(x[b]), int(cut[b]))
                rw, rv, ru = sector_idp_factors(ref, n_comp, s)
                assert w[b] == pytest.approx(rw, rel=1e-13, abs=1e-15)
                c = int(cut[b]) + 1
                np.testing.assert_allclose(v[b, :c], rv, rtol=0, atol=1e-13)
                np.testing.assert_allclose(u[b, :c], ru, rtol=0, atol=1e-13)
                assert not np.any(v[b, c:]) and not np.any(u[b, c:])
