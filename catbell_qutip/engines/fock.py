"""Fock-space density-matrix engine: qubits (x) light truncated at ``cutoff`` photons.

The light basis is |n>, n = 0..cutoff, so the labels of :mod:`.base` are the photon
numbers and the Gram diagonal is 1. The hot path works on the block structure (the
register blocks K[a, b] are light operators) with NumPy; :meth:`FockState.to_qobj`
gives the full QuTiP density matrix, and the tests check every operation against the
explicit QuTiP operators of :mod:`catbell_qutip.operations`.

Truncation: every operation keeps or lowers photon numbers, so the probability mass a
cutoff drops is that of the initial light state (``truncation_error``), and nothing else.
"""

from __future__ import annotations

import functools

import numpy as np
import qutip
import scipy.sparse

from ..codes import codeword_truncation_error, fock_amplitudes, sector_codeword
from ..operations import linear_optics_povm_matrices, loss_weights, tub_povm_matrices
from .base import LightAtomState

__all__ = ["FockState"]


@functools.lru_cache(maxsize=16)
def _loss_pattern(L: int):
    """Sparsity pattern of the pure-loss superoperator on L x L light matrices.

    Entries (row m*L + n, column (m+k)*L + (n+k)) for m + k, n + k < L, in CSR order;
    returns (k, m, n, indices, indptr), read-only and cached per L.
    """
    m, n, k = np.meshgrid(np.arange(L), np.arange(L), np.arange(L), indexing="ij")
    keep = (m + k < L) & (n + k < L)
    m, n, k = m[keep], n[keep], k[keep]  # already sorted by row m*L + n, then by k
    indices = (m + k) * L + (n + k)
    counts = np.bincount(m * L + n, minlength=L * L)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    out = (k, m, n, indices, indptr)
    for a in out:
        a.flags.writeable = False
    return out


@functools.lru_cache(maxsize=64)
def _loss_superoperator(eta: float, L: int) -> scipy.sparse.csr_matrix:
    """The pure-loss channel on vectorised L x L light matrices (sparse, real; cached)."""
    W = loss_weights(eta, L - 1)
    k, m, n, indices, indptr = _loss_pattern(L)
    return scipy.sparse.csr_matrix((W[k, m + k] * W[k, n + k], indices, indptr),
                                   shape=(L * L, L * L))


class FockState(LightAtomState):
    """Density matrix of qubits (x) light in truncated Fock space (a single parameter point).

    Parameters
    ----------
    K : ndarray, shape (1, 1, L, L) or (d, d, L, L), complex
        Coefficients of :class:`~catbell_qutip.engines.base.LightAtomState` in the Fock
        basis |0>..|cutoff>, L = cutoff + 1.
    qubits : tuple of str
        Labels of the register's qubits.
    x : float
        |beta|^2 of the light's ring (the USD effects are built for it).
    truncation_error : float
        Probability mass the cutoff dropped from the initial light state (default 0).
    """

    name = "fock"

    def __init__(self, K, qubits, x, *, truncation_error: float = 0.0):
        super().__init__(K, qubits, x)
        self.truncation_error = truncation_error

    @property
    def cutoff(self) -> int:
        """Largest photon number kept."""
        return self.K.shape[-1] - 1

    def _derived(self, K, qubits, x) -> FockState:
        return FockState(K, qubits, x, truncation_error=self.truncation_error)

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

    @property
    def amplitude(self) -> float:
        return float(np.sqrt(self.x))

    def gram_diagonal(self):
        return np.ones(self.K.shape[-1])

    def loss(self, eta) -> FockState:
        """rho -> sum_k A_k rho A_k^dag with the binomial Kraus operators.

        All Kraus operators at once, as one sparse real superoperator on the light block
        (out[m, n] = sum_k W[k, m+k] W[k, n+k] K[m+k, n+k]) applied to every register block.
        """
        eta = float(eta)
        if eta == 1.0:  # the identity channel: A_0 = 1, A_k = 0 exactly
            return self._new(self.K)
        L = self.cutoff + 1
        S = _loss_superoperator(eta, L)
        # light index first, complex entries as (re, im) pairs: a real sparse x dense product
        Kt = np.ascontiguousarray(self.K.reshape(-1, L * L).T)  # (L*L, d*d) complex
        out = (S @ Kt.view(np.float64)).view(np.complex128)
        return self._new(np.ascontiguousarray(out.T).reshape(self.K.shape), x=self.x * eta)

    def usd_effects(self, variant: str, n_comp: int, sector: int, p_dark=0.0) -> dict:
        beta = self.amplitude
        if variant == "tub":
            e, o = tub_povm_matrices(n_comp, sector, beta, self.cutoff)
        else:
            e, o = linear_optics_povm_matrices(n_comp, beta, self.cutoff, float(p_dark))
        return {"even": e, "odd": o}

    def to_qobj(self) -> qutip.Qobj:
        """The full density matrix as a Qobj with dims [2]*n_qubits + [cutoff + 1]."""
        d = 2 ** self.n_qubits
        L = self.cutoff + 1
        mat = self.K.transpose(0, 2, 1, 3).reshape(d * L, d * L)
        dims = [2] * self.n_qubits + [L]
        return qutip.Qobj(mat, dims=[dims, dims])

    @classmethod
    def from_qobj(cls, rho: qutip.Qobj, qubits, *, x: float, cutoff: int) -> FockState:
        """Inverse of :meth:`to_qobj` (for tests and for users composing their own steps)."""
        d = 2 ** len(qubits)
        L = cutoff + 1
        K = rho.full().reshape(d, L, d, L).transpose(0, 2, 1, 3)
        return cls(K, tuple(qubits), x)
