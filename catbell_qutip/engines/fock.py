"""Fock-space density-matrix engine: qubits (x) light truncated in Fock space, batched.

The light basis is |n>, n = 0..L-1, so the labels of :mod:`.base` are the photon numbers
and the Gram diagonal is 1. A state may carry a batch of parameter points (leading axis of
``K``); every point has its own cutoff (largest photon number of its initial state) and
the batch shares the light dimension L = max(cutoff) + 1, the smaller points padded with
zeros. Padding changes no number: every operation keeps or lowers photon numbers, so the
padded levels stay empty, and each point's USD effects are built at its own cutoff.

The hot path works on the block structure (the register blocks K[a, b] are light
operators) with NumPy and one cached sparse superoperator per loss transmission;
:meth:`FockState.to_qobj` gives the full QuTiP density matrix, and the tests check every
operation against the explicit QuTiP operators of :mod:`catbell_qutip.operations`.

Truncation: the probability mass a cutoff drops is that of the initial light state
(``truncation_error``), and nothing else.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict

import numpy as np
import scipy.sparse
from scipy.special import gammaln, xlogy

from .._qutip import qutip
from ..codes import (
    cat_initial_amplitudes,
    codeword_truncation_error,
    fock_amplitudes,
    sector_codeword,
)
from ..operations import (
    clear_effect_caches,
    linear_optics_povm_matrices,
    sector_idp_effects,
    sector_idp_factors,
    tub_povm_matrices,
)
from ..sectors import _log_factorials
from .base import LightAtomState, sign_phases

__all__ = ["FockState", "clear_value_caches"]


class _ByteLRU:
    """A least-recently-used cache bounded by the bytes of its values (NumPy arrays,
    tuples of them, or sparse CSR matrices)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.items: OrderedDict = OrderedDict()
        self.size = 0

    @staticmethod
    def _nbytes(value) -> int:
        if isinstance(value, scipy.sparse.csr_matrix):
            return value.data.nbytes + value.indices.nbytes + value.indptr.nbytes
        if isinstance(value, tuple):
            return sum(a.nbytes for a in value)
        return value.nbytes

    def clear(self) -> None:
        """Empty the cache."""
        self.items.clear()
        self.size = 0

    def get(self, key, make):
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
            return value
        value = make()
        self.items[key] = value
        self.size += self._nbytes(value)
        while self.size > self.limit and len(self.items) > 1:
            _, old = self.items.popitem(last=False)
            self.size -= self._nbytes(old)
        return value


#: memory the cached sparsity patterns of the loss may take, bytes (~7 L^3 bytes each;
#: a batch pads to its chunk's cutoff, so a sweep meets many dimensions L)
PATTERN_CACHE_BYTES = 2 ** 27

_PATTERN_CACHE = _ByteLRU(PATTERN_CACHE_BYTES)


def _loss_pattern(L: int, period: int = 1):
    """Sparsity pattern of the pure-loss superoperator on L x L light matrices whose
    entries (m, n) vanish unless m = n (mod ``period``).

    That set of entries is closed under the loss (which moves (m + k, n + k) to (m, n)), so
    the superoperator acts on the vector of its entries alone: ``keep`` lists them (row-major
    positions m*L + n), and row i of the operator is entry keep[i], with terms (m+k, n+k)
    in CSR order (by k). Returns (left, right, indices, indptr, keep): the term of (m, n)
    with index k has the weight W[k, m + k] W[k, n + k], read from the flattened L x L
    weights at ``left`` = k L + m + k and ``right`` = k L + n + k. Read-only and cached per
    (L, period) (byte-bounded). ``period`` 1 is every entry.
    """
    return _PATTERN_CACHE.get((int(L), int(period)),
                              lambda: _build_pattern(int(L), int(period)))


def _build_pattern(L: int, period: int = 1):
    m, n, k = np.meshgrid(np.arange(L), np.arange(L), np.arange(L), indexing="ij")
    keep = (m + k < L) & (n + k < L) & ((m - n) % period == 0)
    m, n, k = m[keep], n[keep], k[keep]  # already sorted by row m*L + n, then by k
    mm, nn = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
    entries = np.nonzero(((mm - nn) % period == 0).ravel())[0]
    pos = np.full(L * L, -1, dtype=np.int64)
    pos[entries] = np.arange(entries.size)
    indices = pos[(m + k) * L + (n + k)].astype(np.int32)
    counts = np.bincount(pos[m * L + n], minlength=entries.size)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    out = ((k * L + m + k).astype(np.intp), (k * L + n + k).astype(np.intp), indices, indptr,
           entries.astype(np.int32))
    for a in out:
        a.flags.writeable = False
    return out


@functools.lru_cache(maxsize=64)
def _abs_offsets(L: int) -> np.ndarray:
    """|m - n| of the entries of an L x L matrix, row-major (read-only, cached per L)."""
    d = np.abs(np.subtract.outer(np.arange(L), np.arange(L))).ravel()
    d.flags.writeable = False
    return d


def _period(rows: np.ndarray, L: int) -> int:
    """The largest p such that every light matrix in ``rows`` (shape (..., L*L)) vanishes
    off the entries m = n (mod p): the gcd of the offsets m - n of the nonzero entries (L
    for matrices diagonal in n; 1 where nothing is gained). A cat code of order N keeps its
    light on m = n (mod N) from the encoding on (docs/model.md section 7), and the loss,
    the reflections and the sector projections all keep that structure."""
    if L < 3:
        return 1
    nz = np.any(rows.reshape(-1, L * L) != 0, axis=0)
    offsets = np.nonzero(np.bincount(_abs_offsets(L)[nz], minlength=L))[0]
    g = int(np.gcd.reduce(offsets)) if offsets.size else 0
    return L if g == 0 else g


#: memory the cached loss superoperators may take, bytes (each ~4 L^3 bytes: a sweep
#: reuses a transmission at every amplitude and every solver step, so they are kept)
LOSS_CACHE_BYTES = 2 ** 28

_LOSS_CACHE = _ByteLRU(LOSS_CACHE_BYTES)


class _Flags(_ByteLRU):
    """Keys seen before (a bounded LRU set; each flag counts as 64 bytes)."""

    @staticmethod
    def _nbytes(value) -> int:
        return 64


_SEEN = _Flags(2 ** 22)


def clear_value_caches() -> None:
    """Empty the Fock engine's caches keyed by a point's values (its amplitude, code,
    transmissions): the loss channels per transmission, the TUB and linear-optics effects,
    the cat amplitudes. Tables keyed only by the truncation (loss patterns per cutoff,
    reflection phases, log-factorials) are kept. For benchmarks that time a point met for
    the first time; results never depend on these caches.

    Examples
    --------
    >>> clear_value_caches()
    >>> len(_LOSS_CACHE.items), _cat_amplitudes.cache_info().currsize
    (0, 0)
    """
    _LOSS_CACHE.clear()
    _SEEN.clear()
    _CAT_TUB_CACHE.clear()
    _WEIGHTS_CACHE.clear()
    for cached in (_code_tub, _code_tub_factors, _cat_amplitudes):
        cached.cache_clear()
    clear_effect_caches()


def _cached_loss(eta: float, L: int, adjoint: bool,
                 period: int = 1) -> scipy.sparse.csr_matrix:
    """The pure-loss superoperator (or its adjoint) from a byte-bounded LRU cache, on the
    entries m = n (mod ``period``) (:func:`_loss_pattern`)."""
    def make():
        mat = _build_loss(eta, L, period)
        return mat.T.tocsr() if adjoint else mat

    return _LOSS_CACHE.get((eta, L, adjoint, period), make)


@functools.lru_cache(maxsize=16)
def _log_binomials(L: int) -> np.ndarray:
    """log C(n, k) at [k, n] for n >= k, 0 elsewhere (read-only, cached per L)."""
    n = np.arange(L)[None, :]
    k = np.arange(L)[:, None]
    nk = np.where(n >= k, n - k, 0)
    out = np.where(n >= k, gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(nk + 1.0), 0.0)
    out.flags.writeable = False
    return out


def _loss_weights_batch(eta: np.ndarray, L: int) -> np.ndarray:
    """W[b, k, n] = sqrt(C(n, k) eta_b^(n-k) (1 - eta_b)^k) for n >= k, else 0: the pure
    loss's Kraus operators, (A_k)[n - k, n] = W[k, n], of every point b at once (log space,
    as :func:`catbell_qutip.operations.loss_weights`).

    Parameters
    ----------
    eta : ndarray, shape (B,)
        Transmissions in [0, 1].
    L : int
        Dimension of the light space (cutoff + 1).
    """
    n = np.arange(L)[None, :]
    k = np.arange(L)[:, None]
    nk = np.where(n >= k, n - k, 0)
    e = np.asarray(eta, dtype=float)[:, None, None]
    return np.where(n >= k, np.exp(0.5 * (_log_binomials(L)[None] + xlogy(nk[None], e)
                                          + xlogy(k[None], 1.0 - e))), 0.0)


#: loss weights of the last final-loss transmissions (bytes-bounded)
_WEIGHTS_CACHE = _ByteLRU(2 ** 24)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _pulled_back_vectors(V: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """U[b, e, k, n] = W[b, k, n] V[b, e, n - k] (0 for n < k): the vectors A_k^dag v of
    every point b, effect vector e and Kraus index k, so that a rank-one effect w |v><v|
    pulled back through the loss is w sum_k |A_k^dag v><A_k^dag v| (V of shape (B, e, L),
    ``eta`` of shape (B,))."""
    L = V.shape[-1]
    n = np.arange(L)[None, :]
    k = np.arange(L)[:, None]
    nk = np.where(n >= k, n - k, 0)
    # the weights once per distinct transmission (a batch shares eta_d, eta_int), the
    # same numbers per point as computing them point by point; kept for the run's other
    # syndrome records, which pull their effects back through the same final loss
    values, inverse = np.unique(eta, return_inverse=True)
    W = _WEIGHTS_CACHE.get((values.tobytes(), L), lambda: _frozen(_loss_weights_batch(values, L)))
    if values.size > 1:
        W = W[inverse.reshape(-1)]  # (B, k, n)
    return W[:, None] * V[:, :, nk]  # W vanishes for n < k


def _build_loss(eta: float, L: int, period: int = 1) -> scipy.sparse.csr_matrix:
    """The pure-loss channel on vectorised L x L light matrices (sparse, real), on the
    entries m = n (mod ``period``) (:func:`_loss_pattern`): entries W[k, m+k] W[k, n+k],
    W[k, n] = sqrt(C(n, k) eta^(n-k) (1-eta)^k) in log space (as
    :func:`catbell_qutip.operations.loss_weights`)."""
    W = _loss_weights_batch(np.array([eta]), L)[0].ravel()
    left, right, indices, indptr, keep = _loss_pattern(L, period)
    return scipy.sparse.csr_matrix((W.take(left) * W.take(right), indices, indptr),
                                   shape=(keep.size, keep.size))


def _loss_superoperator(eta: float, L: int, period: int = 1) -> scipy.sparse.csr_matrix:
    """The pure-loss channel on vectorised L x L light matrices (sparse, real; cached)."""
    return _cached_loss(float(eta), int(L), False, int(period))


def _loss_adjoint(eta: float, L: int, period: int = 1) -> scipy.sparse.csr_matrix:
    """The adjoint (Heisenberg-picture) loss channel, acting on effects: S^T (cached)."""
    return _cached_loss(float(eta), int(L), True, int(period))


def _apply_loss_rows(rows: np.ndarray, eta, *, adjoint: bool = False) -> np.ndarray:
    """The pure loss (or its adjoint) on each row of ``rows`` (shape (B, n, L*L)), point b
    with transmission eta[b] (``eta`` scalar or shape (B,)): one sparse product per
    distinct transmission, with operators cached across calls (a sweep or a solver meets
    the same transmissions again and again). Rows that vanish off the entries
    m = n (mod p) (:func:`_period`; p = N for a cat code of order N) are transformed on
    those entries alone, with the operator restricted to them: the same products summed
    in the same order, on 1/p of the entries."""
    B, n, LL = rows.shape
    L = int(round(np.sqrt(LL)))
    make = _loss_adjoint if adjoint else _loss_superoperator
    eta = np.asarray(eta, dtype=float)
    if eta.ndim == 0 or np.all(eta == eta.flat[0]):
        if float(eta.flat[0]) == 1.0:
            return rows
    period = _period(rows, L)
    keep = None if period == 1 else _loss_pattern(L, period)[4]

    def sparse(value: float, sub: np.ndarray) -> np.ndarray:  # sub: (rows, L*L)
        op = make(value, L, period)
        if keep is None:
            return _apply_superoperator(op, sub)
        res = np.zeros_like(sub)
        res[:, keep] = _apply_superoperator(op, sub[:, keep])
        return res

    if eta.ndim == 0 or np.all(eta == eta.flat[0]):
        return sparse(float(eta.flat[0]), rows.reshape(-1, LL)).reshape(rows.shape)
    etas = np.broadcast_to(eta, (B,))
    values, inverse = np.unique(etas, return_inverse=True)
    out = np.empty_like(rows)
    # transmissions met for the first time: a light matrix per point (P alone) is cheaper
    # to transform directly than to build an operator for, when there are several; a
    # transmission met again (a solver's next iteration) gets its operator built and cached
    keys = [(float(v), L, adjoint, period) for v in values]
    fresh = [j for j, key in enumerate(keys) if values[j] != 1.0
             and key not in _LOSS_CACHE.items and key not in _SEEN.items]
    for key in keys:
        _SEEN.get(key, lambda: True)  # remembered (bounded): seen once
    direct = n == 1 and len(fresh) > 1
    if direct:
        idx = np.nonzero(np.isin(inverse, fresh))[0]
        out[idx] = _direct_loss(rows[idx].reshape(-1, L, L), etas[idx],
                                adjoint=adjoint).reshape(idx.size, n, LL)
    for j, value in enumerate(values):
        if direct and j in fresh:
            continue
        idx = np.nonzero(inverse == j)[0]
        if value == 1.0:
            out[idx] = rows[idx]
            continue
        out[idx] = sparse(float(value), rows[idx].reshape(-1, LL)).reshape(idx.size, n, LL)
    return out


def _direct_loss(rho: np.ndarray, eta: np.ndarray, *, adjoint: bool) -> np.ndarray:
    """The pure loss on light matrices rho (shape (B, L, L)), point b with eta[b], Kraus
    index by Kraus index: out[:L-k, :L-k] += w_k w_k^T * rho[k:, k:] with w_k = W[k, k:]
    (adjoint: out[k:, k:] += w_k w_k^T * rho[:L-k, :L-k]). The same sums as the sparse
    superoperator of :func:`_build_loss`, without building it."""
    L = rho.shape[-1]
    W = _loss_weights_batch(eta, L)
    out = np.zeros_like(rho)
    for k in range(L):
        w = W[:, k, k:]
        ww = w[:, :, None] * w[:, None, :]
        if adjoint:
            out[:, k:, k:] += ww * rho[:, : L - k, : L - k]
        else:
            out[:, : L - k, : L - k] += ww * rho[:, k:, k:]
    return out


def _apply_superoperator(S, rows: np.ndarray) -> np.ndarray:
    """``S`` applied to each row of ``rows`` (shape (n, L*L), real or complex): one real
    sparse x dense product (on the (re, im) pairs of complex rows)."""
    Kt = np.ascontiguousarray(rows.T)  # (L*L, n)
    if not np.iscomplexobj(Kt):
        return (S @ Kt).T
    out = (S @ Kt.view(np.float64)).view(np.complex128)
    return out.T


@functools.lru_cache(maxsize=4096)
def _code_tub(code, encoder_sector: int, syndrome: int, eta_det: float, cutoff: int):
    """Generalised TUB effects of one point (docs/model.md section 7; cached)."""
    ref = code.reference_vector(encoder_sector, syndrome, eta_det, cutoff)
    e, o = sector_idp_effects(ref, code.n_comp, syndrome)
    e.flags.writeable = False
    o.flags.writeable = False
    return e, o


@functools.lru_cache(maxsize=4096)
def _code_tub_factors(code, encoder_sector: int, syndrome: int, eta_det: float, cutoff: int):
    """Rank-one factors of :func:`_code_tub` (cached)."""
    ref = code.reference_vector(encoder_sector, syndrome, eta_det, cutoff)
    return sector_idp_factors(ref, code.n_comp, syndrome)


@functools.lru_cache(maxsize=64)
def _cat_amplitudes(x: bytes, cutoffs: bytes, L: int) -> np.ndarray:
    """<n|beta_b> for every point b (beta_b = sqrt(x[b])), zero above each point's cutoff:
    cached, since every syndrome sector of a run builds its effects from the same light."""
    n = np.arange(L)
    r = np.sqrt(np.frombuffer(x))[:, None]
    cut = np.frombuffer(cutoffs, dtype=int)
    amps = np.exp(xlogy(n[None, :], r) - 0.5 * r * r - 0.5 * _log_factorials(L)[None, :])
    amps = np.where(n[None, :] <= cut[:, None], amps, 0.0)
    amps.flags.writeable = False
    return amps


#: the TUB factors of every syndrome sector of the last cat lights (bytes-bounded): a run
#: asks for each sector of the same light in turn (one per syndrome record)
_CAT_TUB_CACHE = _ByteLRU(2 ** 24)


def _cat_tub_factors(n_comp: int, sector: int, x: np.ndarray, cutoffs: np.ndarray, L: int):
    """Rank-one factors of the TUB of a batch of cat-code points: (weight, o_perp, e_perp)
    of shapes (B,), (B, L), (B, L) (:func:`catbell_qutip.operations.sector_idp_factors`
    for P_s|beta_b>, beta_b = sqrt(x[b]), each point's amplitudes cut at its own cutoff).
    Every sector s = 0..N-1 of the light is computed at once, on the first request, and
    kept for the others (the same operations on each sector's row as sector by sector)."""
    key = (n_comp, x.tobytes(), cutoffs.tobytes(), L)
    weight, v_perp, u_perp = _CAT_TUB_CACHE.get(
        key, lambda: _cat_tub_all_sectors(n_comp, x, cutoffs, L))
    return weight[sector], v_perp[sector], u_perp[sector]


def _cat_tub_all_sectors(n_comp: int, x: np.ndarray, cutoffs: np.ndarray, L: int):
    """:func:`_cat_tub_factors` for every sector: shapes (N, B), (N, B, L), (N, B, L)."""
    n = np.arange(L)
    amps = _cat_amplitudes(x.tobytes(), cutoffs.tobytes(), L)
    sector = np.arange(n_comp)[:, None, None]
    f = np.where(n % (2 * n_comp) == sector, amps, 0.0)
    g = np.where(n % (2 * n_comp) == sector + n_comp, amps, 0.0)
    a = np.sqrt(np.sum(f * f, axis=-1))
    b = np.sqrt(np.sum(g * g, axis=-1))
    ok = (a > 0) & (b > 0)
    a_, b_ = np.where(ok, a, 1.0)[..., None], np.where(ok, b, 1.0)[..., None]
    e1, e2 = f / a_, g / b_
    norm = np.hypot(a_, b_)
    v_perp = (b_ * e1 + a_ * e2) / norm
    u_perp = (b_ * e1 - a_ * e2) / norm
    weight = np.where(ok, (a * a + b * b) / (2.0 * np.maximum(a * a, b * b) + (~ok)), 0.0)
    for arr in (weight, v_perp, u_perp):
        arr.flags.writeable = False
    return weight, v_perp, u_perp


def _adjoint_rank_one(w: np.ndarray, V: np.ndarray, eta, *,
                      transposed: bool = False) -> np.ndarray:
    """L^dag(w |v><v|) for rank-one effects, every point and effect at once.

    L^dag(X) = sum_k A_k^dag X A_k, and (A_k^dag v)[n] = W[k, n] v[n - k] (n >= k), so
    with U[k, n] = W[k, n] v[n - k] the pulled-back effect is w U^T conj(U): one batched
    matrix product, every point with its own transmission (W as
    :func:`catbell_qutip.operations.loss_weights`, in log space).

    Parameters
    ----------
    w : ndarray, shape (B,)
    V : ndarray, shape (B, e, L)
        The effects' vectors.
    eta : float or ndarray, shape (B,)
    transposed : bool, optional
        Return the transpose, computed directly as w U^dag U (contiguous, for an
        elementwise product with the state's blocks).
    """
    B, ne, L = V.shape
    U = _pulled_back_vectors(V, np.broadcast_to(np.asarray(eta, dtype=float), (B,)))
    if transposed:
        return w[:, None, None, None] * np.matmul(np.swapaxes(U.conj(), -1, -2), U)
    return w[:, None, None, None] * np.matmul(np.swapaxes(U, -1, -2), U.conj())


def _cat_tub_batch(n_comp: int, sector: int, x: np.ndarray, cutoffs: np.ndarray, L: int):
    """The TUB effects of a batch of cat-code points at once, shape (B, L, L) each."""
    weight, v_perp, u_perp = _cat_tub_factors(n_comp, sector, x, cutoffs, L)
    e = weight[:, None, None] * (v_perp[:, :, None] * v_perp[:, None, :])
    o = weight[:, None, None] * (u_perp[:, :, None] * u_perp[:, None, :])
    return e.astype(complex), o.astype(complex)


@functools.lru_cache(maxsize=64)
def _rotation_rows(theta: float, L: int, complex_state: bool) -> np.ndarray:
    """:meth:`FockState._rotations` (cached per angle and dimension, read-only)."""
    signs = None if complex_state else sign_phases(theta, np.arange(L))
    if signs is not None:
        out = np.stack([np.ones(L), signs])
    else:
        out = np.stack([np.ones(L), np.exp(1j * theta * np.arange(L))])
    out.flags.writeable = False
    return out


def _padded(M: np.ndarray, L: int) -> np.ndarray:
    c = M.shape[-1]
    if c == L:
        return M
    out = np.zeros((L, L), dtype=M.dtype)
    out[:c, :c] = M
    return out


class FockState(LightAtomState):
    """Density matrix of qubits (x) light in truncated Fock space, for one point or a batch.

    Parameters
    ----------
    K : ndarray, shape (d, d, L, L) or (B, d, d, L, L), complex or real
        Coefficients of :class:`~catbell_qutip.engines.base.LightAtomState` in the Fock
        basis |0>..|L-1>, d = 2^(number of qubits), B points. Real (float64) for cat
        codes with real alpha while every operation keeps it real (at l = 0, R(pi) =
        (-1)^n): half the memory and arithmetic of complex128, the same numbers to
        rounding (tests/test_engines_fock.py checks the two against each other).
    qubits : tuple of str
        Labels of the register's qubits.
    x : float or ndarray
        |beta|^2 of a cat code's light (the cat USD effects are built for it);
        multiplied by eta at every loss.
    truncation_error : float or ndarray
        Probability mass each point's cutoff dropped from its initial light state.
    codes : tuple of Code, optional
        The code of each point (:class:`catbell_qutip.codes.Code`); None means a cat code
        whose amplitude is sqrt(x) (what :meth:`coherent` and :meth:`codeword` build).
    cutoffs : ndarray of int, optional
        Each point's cutoff (default: L - 1 for every point).
    eta_tot : float or ndarray
        Transmission of every loss the light has met so far (1 at the start): the
        generalised TUB of non-cat codes is built for it.

    Raises
    ------
    ValueError
        From the operations: a per-point loss on a state without one batch axis, a
        cat-code USD asked of a non-cat code, ``to_qobj()`` of a batch, or a qubit label
        not in the register.

    Examples
    --------
    |alpha> on 21 levels: trace 1 - (dropped mass), which is below 1e-18 at alpha = 1:

    >>> import numpy as np
    >>> s = FockState.coherent(1.0, 2, cutoff=20)
    >>> s.cutoff, bool(abs(s.trace() - 1.0) < 1e-15), float(s.loss(0.5).x)
    (20, True, 0.5)
    """

    name = "fock"

    def __init__(self, K, qubits, x, *, truncation_error=0.0, codes=None, cutoffs=None,
                 eta_tot=1.0):
        super().__init__(K, qubits, x)
        self.truncation_error = truncation_error
        self.codes = None if codes is None else tuple(codes)
        self.cutoffs = None if cutoffs is None else np.asarray(cutoffs, dtype=int)
        self.eta_tot = np.asarray(eta_tot, dtype=float)

    @property
    def cutoff(self) -> int:
        """Largest photon number kept (of the batch: L - 1)."""
        return self.K.shape[-1] - 1

    def _derived(self, K, qubits, x) -> FockState:
        return FockState(K, qubits, x, truncation_error=self.truncation_error,
                         codes=self.codes, cutoffs=self.cutoffs, eta_tot=self.eta_tot)

    # -- construction ------------------------------------------------------------------
    @classmethod
    def coherent(cls, alpha: float, n_comp: int, *, cutoff: int,
                 truncation_error: float | None = None) -> FockState:
        """|alpha><alpha| on ``cutoff + 1`` levels (the explicit encoder's input).

        ``truncation_error``: the dropped mass if the caller already has it (else computed).
        """
        c = fock_amplitudes(alpha, cutoff)
        if truncation_error is None:
            truncation_error = codeword_truncation_error(n_comp - 1, alpha, cutoff)
        return cls(np.outer(c, c.conj())[None, None], (), alpha ** 2,
                   truncation_error=truncation_error)

    @classmethod
    def codeword(cls, alpha: float, n_comp: int, *, cutoff: int,
                 truncation_error: float | None = None) -> FockState:
        """|0_N><0_N| (the ideal encoder writes it; Alice's CR(pi/N) then makes |1_N>).

        ``truncation_error``: the dropped mass if the caller already has it (else computed).
        """
        c = sector_codeword(alpha, n_comp, 0, cutoff)
        if truncation_error is None:
            truncation_error = codeword_truncation_error(n_comp - 1, alpha, cutoff, sector=0)
        return cls(np.outer(c, c.conj())[None, None], (), alpha ** 2,
                   truncation_error=truncation_error)

    @classmethod
    def initial(cls, codes, cutoffs, *, explicit: bool, truncation_errors=None) -> FockState:
        """The light before encoding for a batch of points, padded to a common dimension.

        Parameters
        ----------
        codes : sequence of Code
            One code per point (:class:`catbell_qutip.codes.Code`).
        cutoffs : sequence of int
            Each point's cutoff.
        explicit : bool
            The primitive (explicit encoder) or |Theta_N> (ideal encoder).
        truncation_errors : sequence of float, optional
            The dropped masses if the caller already has them (else computed).
        """
        cutoffs = np.asarray(cutoffs, dtype=int)
        B = len(codes)
        L = int(cutoffs.max()) + 1
        K = np.zeros((B, 1, 1, L, L), dtype=complex)
        x = np.empty(B)
        for i, (code, c) in enumerate(zip(codes, cutoffs, strict=True)):
            amps = code.initial_amplitudes(explicit, int(c))
            K[i, 0, 0, : c + 1, : c + 1] = np.outer(amps, amps.conj())
            x[i] = (code.alpha or 0.0) ** 2
        if truncation_errors is None:
            sector = None if explicit else 0
            truncation_errors = [code.truncation_error(int(c), sector)
                                 for code, c in zip(codes, cutoffs, strict=True)]
        return cls(K, (), x, truncation_error=np.asarray(truncation_errors, dtype=float),
                   codes=codes, cutoffs=cutoffs, eta_tot=np.ones(B))

    @classmethod
    def initial_cats(cls, alphas, n_comp: int, cutoffs, *, explicit: bool,
                     truncation_errors) -> FockState:
        """:meth:`initial` for a batch of cat-code points, vectorised (no Code objects:
        a cat point is described by its amplitude, ``x`` = |alpha|^2)."""
        alphas = np.asarray(alphas, dtype=float).ravel()
        cutoffs = np.asarray(cutoffs, dtype=int)
        L = int(cutoffs.max()) + 1
        amps = cat_initial_amplitudes(alphas, n_comp, cutoffs, L, explicit=explicit)
        if not np.any(amps.imag):  # real alpha: a real state (kept real while it can be)
            amps = amps.real
        K = (amps[:, :, None] * amps.conj()[:, None, :])[:, None, None]
        return cls(K, (), alphas ** 2, truncation_error=np.asarray(truncation_errors, float),
                   codes=None, cutoffs=cutoffs, eta_tot=np.ones(alphas.size))

    # -- batch bookkeeping -------------------------------------------------------------
    def _per_point(self, value, shape):
        v = np.asarray(value)
        return v if v.ndim == 0 else np.broadcast_to(v, shape).reshape(-1)

    def flat_batch(self, shape: tuple) -> FockState:
        """The state broadcast to batch ``shape`` and flattened to one batch axis."""
        tail = self.K.shape[-4:]
        K = np.broadcast_to(self.K, tuple(shape) + tail).reshape((-1,) + tail)
        n = K.shape[0]
        codes = self.codes
        if codes is not None and len(codes) != n:
            codes = tuple(codes) * (n // len(codes))
        return FockState(K, self.qubits, self._per_point(self.x, shape),
                         truncation_error=self._per_point(self.truncation_error, shape),
                         codes=codes,
                         cutoffs=None if self.cutoffs is None else
                         self._per_point(self.cutoffs, shape),
                         eta_tot=self._per_point(self.eta_tot, shape))

    def batch_slice(self, sl: slice) -> FockState:
        """Points ``sl`` of a state with one batch axis (see :meth:`flat_batch`)."""
        def cut(v):
            v = np.asarray(v)
            return v if v.ndim == 0 else v[sl]

        return FockState(self.K[sl], self.qubits, cut(self.x),
                         truncation_error=cut(self.truncation_error),
                         codes=None if self.codes is None else self.codes[sl],
                         cutoffs=None if self.cutoffs is None else self.cutoffs[sl],
                         eta_tot=cut(self.eta_tot))

    def _point_cutoffs(self) -> np.ndarray:
        n = math.prod(self.batch_shape)
        if self.cutoffs is None:
            return np.full(n, self.cutoff)
        if self.cutoffs.shape == (n,):
            return self.cutoffs
        return np.broadcast_to(self.cutoffs, (n,))

    @property
    def amplitude(self) -> float:
        return float(np.sqrt(self.x))

    def gram_diagonal(self):
        return np.ones(self.K.shape[-1])

    # -- the channel -------------------------------------------------------------------
    def loss(self, eta) -> FockState:
        """rho -> sum_k A_k rho A_k^dag with the binomial Kraus operators, per point.

        All Kraus operators at once, as one sparse real superoperator on the light block
        (out[m, n] = sum_k W[k, m+k] W[k, n+k] K[m+k, n+k]) applied to every register block
        of every point with that transmission (one product per distinct transmission).
        """
        eta = np.asarray(eta, dtype=float)
        if np.all(eta == 1.0):  # the identity channel: A_0 = 1, A_k = 0 exactly
            return self._new(self.K)
        L = self.cutoff + 1
        batch = self.batch_shape
        if eta.ndim and len(batch) != 1:
            raise ValueError("a per-point loss needs a state with one batch axis")
        rows = self.K.reshape((int(np.prod(batch)) if batch else 1, -1, L * L))
        out = _apply_loss_rows(rows, eta).reshape(self.K.shape)
        return FockState(out, self.qubits, self.x * eta,
                         truncation_error=self.truncation_error, codes=self.codes,
                         cutoffs=self.cutoffs, eta_tot=self.eta_tot * eta)

    # -- Bob's measurement -------------------------------------------------------------
    def usd_effects(self, variant: str, n_comp: int, sector: int, p_dark=0.0,
                    encoder_sector: int = 0, *, x=None, eta_tot=None) -> dict:
        """{"even": E, "odd": E}, shape (L, L) or (B, L, L): each point's effects built at
        its own cutoff and padded. Cat codes: the IDP POVM for P_s|beta> (TUB) or the
        2N-mode linear-optics scheme; other codes: the generalised TUB for the record
        (``encoder_sector``, ``sector``), docs/model.md section 7. ``x`` and ``eta_tot``
        override the state's own (effects for the light after a further loss)."""
        L = self.cutoff + 1
        cut = self._point_cutoffs()
        x = np.broadcast_to(self.x if x is None else x, (cut.size,))
        eta_tot = np.broadcast_to(self.eta_tot if eta_tot is None else eta_tot, (cut.size,))
        pd = np.broadcast_to(np.asarray(p_dark, dtype=float), (cut.size,))
        all_cats = self.codes is None or all(c.is_cat for c in self.codes)
        if variant == "tub" and all_cats and self.batch_shape:
            e, o = _cat_tub_batch(n_comp, sector, np.ascontiguousarray(x, dtype=float),
                                  np.ascontiguousarray(cut, dtype=int), L)
            shape = self.batch_shape + (L, L)
            return {"even": e.reshape(shape), "odd": o.reshape(shape)}
        evens, odds = [], []
        for i, c in enumerate(cut):
            code = None if self.codes is None else self.codes[i]
            if code is not None and not code.is_cat:
                if variant != "tub":
                    raise ValueError(f"the {variant!r} USD is a cat-code scheme; "
                                     f"{code.family} codes take usd='tub'")
                e, o = _code_tub(code, int(encoder_sector), int(sector),
                                 float(eta_tot[i]), int(c))
            elif variant == "tub":
                e, o = tub_povm_matrices(n_comp, sector, float(np.sqrt(x[i])), int(c))
            else:
                e, o = linear_optics_povm_matrices(n_comp, float(np.sqrt(x[i])), int(c),
                                                   float(pd[i]))
            evens.append(_padded(e, L))
            odds.append(_padded(o, L))
        if not self.batch_shape:
            return {"even": evens[0], "odd": odds[0]}
        shape = self.batch_shape + (L, L)
        return {"even": np.stack(evens).reshape(shape), "odd": np.stack(odds).reshape(shape)}

    def tub_factors(self, n_comp: int, sector: int, encoder_sector: int = 0, *, x=None,
                    eta_tot=None):
        """Rank-one factors (weight (B,), o_perp (B, L), e_perp (B, L)) of every point's
        TUB effects (see :meth:`usd_effects`; ``x``, ``eta_tot`` as there)."""
        L = self.cutoff + 1
        cut = self._point_cutoffs()
        if self.codes is None or all(c.is_cat for c in self.codes):
            x = self.x if x is None else x
            if not (isinstance(x, np.ndarray) and x.shape == cut.shape
                    and x.dtype == np.float64 and x.flags.c_contiguous):
                x = np.ascontiguousarray(np.broadcast_to(x, cut.shape), dtype=float)
            if not (cut.dtype == np.int_ and cut.flags.c_contiguous):
                cut = np.ascontiguousarray(cut, dtype=int)
            return _cat_tub_factors(n_comp, sector, x, cut, L)
        eta_tot = np.broadcast_to(self.eta_tot if eta_tot is None else eta_tot, (cut.size,))
        w = np.zeros(cut.size)
        v = np.zeros((cut.size, L), dtype=complex)
        u = np.zeros((cut.size, L), dtype=complex)
        for i, c in enumerate(cut):
            w[i], vi, ui = _code_tub_factors(self.codes[i], int(encoder_sector), int(sector),
                                             float(eta_tot[i]), int(c))
            v[i, : c + 1], u[i, : c + 1] = vi, ui
        return w, v, u

    def conclusive_probability(self, theta: float, eta_final, usd: str, n_comp: int,
                               sector: int, p_dark=0.0, encoder_sector: int = 0):
        """The base class's probability in one pass: with the light's state rho (no
        register), P = 1/2 sum_b Tr[G R^b rho R^-b], G = L^dag(E_even + E_odd) (rank-one
        effects as quadratic forms when there is no final loss)."""
        if self.K.ndim != 5 or self.n_qubits != 0:
            return super().conclusive_probability(theta, eta_final, usd, n_comp, sector,
                                                  p_dark, encoder_sector)
        eta_final = np.asarray(eta_final, dtype=float)
        B, L = self.K.shape[0], self.cutoff + 1
        rho = self.K.reshape(B, L, L)
        if usd == "tub" and np.all(eta_final == 1.0):
            w, v, u = self.tub_factors(n_comp, sector, encoder_sector)
            rot = np.stack([np.ones(L), np.exp(-1j * theta * np.arange(L))])
            y = np.stack([v, u], axis=1)[:, :, None, :] * rot[None, None]  # (B, e, b, q)
            y = y.reshape(B, 4, L)
            Z = np.matmul(rho, np.swapaxes(y, -1, -2))  # (B, q, 4)
            quad = np.einsum("zjq,zqj->z", y.conj(), Z)
            return 0.5 * w * np.real(quad)
        effects = self.usd_effects(usd, n_comp, sector, p_dark, encoder_sector,
                                   x=self.x * eta_final, eta_tot=self.eta_tot * eta_final)
        E = (effects["even"] + effects["odd"]).reshape(B, 1, L * L)
        G = _apply_loss_rows(E.astype(complex), eta_final, adjoint=True).reshape(B, L, L)
        ph = np.exp(1j * theta * (np.arange(L)[:, None] - np.arange(L)[None, :]))
        # Tr[G R^b rho R^-b] = sum_{q,p} G[p, q] e^{i theta b (q - p)} rho[q, p]
        M = np.swapaxes(G, -1, -2) * rho
        return 0.5 * np.real(M.sum(axis=(-1, -2)) + (M * ph).sum(axis=(-1, -2)))

    def _rotations(self, theta: float, L: int) -> np.ndarray:
        """[1, e^{i theta n}] on n = 0..L-1, shape (2, L): real signs when the state is
        real and every phase is a sign (:func:`~.base.sign_phases`), else complex."""
        return _rotation_rows(float(theta), int(L), bool(np.iscomplexobj(self.K)))

    def entangle_and_measure(self, label: str, theta: float, eta_final, usd: str,
                             n_comp: int, sector: int, p_dark=0.0,
                             encoder_sector: int = 0):
        """Bob's reflection, the final loss and the USD in one pass (see the base class).

        With qubit ``label`` in |+> and its reflection R^b (b = 0, 1), the record's
        register state is

            rho[(a, b), (a', b')] = 1/2 Tr[E L(R^b rho_aa' R^-b')]
                                  = 1/2 sum_{q, p} G[p, q] e^{i theta (b q - b' p)} K[a, a', q, p],

        G = L^dag(E) the effect pulled back through the final pure loss L (the adjoint
        channel, the transpose of its superoperator). So the loss acts on the two effects
        instead of the 16 register blocks, and B never enters the register.
        """
        if self.K.ndim != 5 or self.n_qubits != 1:
            return super().entangle_and_measure(label, theta, eta_final, usd, n_comp,
                                                sector, p_dark, encoder_sector)
        eta_final = np.asarray(eta_final, dtype=float)
        B, L = self.K.shape[0], self.cutoff + 1
        names = ("even", "odd")
        if usd == "tub" and np.all(eta_final == 1.0):
            # rank-one effects E = w |v><v|: the entry (b, b') of block (a, a') is
            # w (R^-b v)^dag rho_aa' (R^-b' v), two matrix-vector products per block
            w, v, u = self.tub_factors(n_comp, sector, encoder_sector)
            rot = self._rotations(-theta, L)  # R^-b
            y = np.stack([v, u], axis=1)[:, :, None, :] * rot[None, None]  # (B, e, b, q)
            Z = np.matmul(self.K.reshape(B, 1, 4, L, L),
                          np.swapaxes(y, -1, -2)[:, :, None])  # (B, e, aa', q, b')
            Y = np.matmul(y.conj()[:, :, None], Z)  # (B, e, aa', b, b')
            Y = Y * (0.5 * w)[:, None, None, None, None]
            out = Y.reshape(B, 2, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(B, 2, 4, 4)
            return self.trace(), {k: out[:, i] for i, k in enumerate(names)}
        if usd == "tub":  # rank-one effects pulled back: L^dag(w v v^dag) = w U^T conj(U)
            w, v, u = self.tub_factors(n_comp, sector, encoder_sector, x=self.x * eta_final,
                                       eta_tot=self.eta_tot * eta_final)
            GT = _adjoint_rank_one(w, np.stack([v, u], axis=1), eta_final, transposed=True)
        else:
            effects = self.usd_effects(usd, n_comp, sector, p_dark, encoder_sector,
                                       x=self.x * eta_final, eta_tot=self.eta_tot * eta_final)
            E = np.stack([effects[k] for k in names], axis=1).reshape(B, 2, L * L)
            G = _apply_loss_rows(E.astype(complex), eta_final, adjoint=True)
            GT = np.swapaxes(G.reshape(B, 2, L, L), -1, -2)
        # rot[b, q] = e^{i theta b q}; M[q, p] = G[p, q] K[a, a', q, p]; the record's entry
        # (b, b') is sum_{q, p} rot[b, q] M[q, p] conj(rot[b', p])
        rot = self._rotations(theta, L)
        M = GT[:, :, None] * self.K.reshape(B, 1, 4, L, L)  # (B, 2, aa', q, p)
        Y = np.matmul(rot, np.matmul(M, rot.conj().T))  # (B, 2, aa', b, b')
        out = 0.5 * Y.reshape(B, 2, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
        out = out.reshape(B, 2, 4, 4)
        return self.trace(), {k: out[:, i] for i, k in enumerate(names)}

    # -- QuTiP views -------------------------------------------------------------------
    def to_qobj(self) -> qutip.Qobj:
        """The full density matrix of a single point as a Qobj with dims
        [2]*n_qubits + [cutoff + 1]."""
        K = self.K
        if K.ndim == 5 and K.shape[0] == 1:
            K = K[0]
        if K.ndim != 4:
            raise ValueError("to_qobj() takes a single point; slice the batch first")
        d = 2 ** self.n_qubits
        L = self.cutoff + 1
        mat = K.transpose(0, 2, 1, 3).reshape(d * L, d * L)
        dims = [2] * self.n_qubits + [L]
        return qutip.Qobj(mat, dims=[dims, dims])

    @classmethod
    def from_qobj(cls, rho: qutip.Qobj, qubits, *, x: float, cutoff: int) -> FockState:
        """Inverse of :meth:`to_qobj` (for tests and for users composing their own steps)."""
        d = 2 ** len(qubits)
        L = cutoff + 1
        K = rho.full().reshape(d, L, d, L).transpose(0, 2, 1, 3)
        return cls(K, tuple(qubits), x)
