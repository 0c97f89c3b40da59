"""Entanglement swapping, and the memory dephasing of the output pair (docs/repeater.md 2, 4).

A node measures its two atoms (B_i, A_{i+1}) in the Bell basis and the outcome is corrected by a
Pauli on the last atom of the chain (docs/repeater.md section 2): :func:`swap_outcomes` gives
every outcome, :func:`bell_swap` their sum, optionally after a two-qubit depolarising error
("Swap errors"), and :func:`compose_chain` the state of an n-link chain ("Chains"); exact for
any two-qubit states, not only Bell-diagonal ones. :func:`dephase_output` applies the expected
memory dephasing E[d_A], E[d_B], E[d_A d_B] (from :mod:`.waiting`) to the composed state
(docs/repeater.md section 4): dephasing commutes with the swaps and lands on the output pair.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_real

__all__ = ["BSM_OUTCOMES", "swap_outcomes", "bell_swap", "compose_chain", "dephase_output"]

#: Bell-measurement outcomes on (B_i, A_{i+1}), |beta_k> = (1 x sigma_k)|phi+>, and the
#: Pauli correction sigma_k applied to the last atom of the chain.
BSM_OUTCOMES = (("phi+", "I"), ("psi+", "X"), ("psi-", "Y"), ("phi-", "Z"))

_PAULI = np.array([[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]],
                  dtype=complex)
_PHI_PLUS = np.array([[1, 0], [0, 1]], dtype=complex) / np.sqrt(2.0)  # amplitudes [b, c]
# |beta_k>[b, c] = ((1 x sigma_k)|phi+>)[b, c] = sum_c' phi+[b, c'] sigma_k[c, c']
_BELL = np.einsum("bd,kcd->kbc", _PHI_PLUS, _PAULI)


def _as_states(rho, name: str) -> np.ndarray:
    rho = np.asarray(rho, dtype=complex)
    if rho.shape[-2:] != (4, 4):
        raise ValueError(f"{name} must be two-qubit density matrices of shape (..., 4, 4), "
                         f"got shape {rho.shape}")
    return rho


def swap_outcomes(rho_left, rho_right) -> np.ndarray:
    """Every outcome of an ideal Bell measurement between two links, Pauli-corrected.

    The left link holds atoms (A1, B1), the right one (A2, B2); the node measures (B1, A2)
    in the Bell basis |beta_k> = (1 x sigma_k)|phi+> (:data:`BSM_OUTCOMES`) and outcome k is
    corrected by sigma_k on B2 (docs/repeater.md section 2). Exact for any two-qubit states.

    Parameters
    ----------
    rho_left, rho_right : array_like, shape (..., 4, 4)
        Two-qubit states (basis |up up>, |up down>, |down up>, |down down>), broadcast.

    Returns
    -------
    ndarray, shape (4, ..., 4, 4)
        Unnormalised corrected states of (A1, B2), one per outcome; the trace of each is the
        probability of that outcome, and their sum is :func:`bell_swap`.

    Raises
    ------
    ValueError
        If a state is not of shape (..., 4, 4).

    Examples
    --------
    Swapping two Bell pairs: four outcomes, each with probability 1/4:

    >>> import numpy as np
    >>> phi = np.array([1, 0, 0, 1]) / np.sqrt(2)
    >>> def werner(v):                      # v |phi+><phi+| + (1 - v) 1/4
    ...     return v * np.outer(phi, phi) + (1 - v) * np.eye(4) / 4
    >>> out = swap_outcomes(werner(1.0), werner(1.0))
    >>> out.shape, np.trace(out, axis1=-2, axis2=-1).real.round(12).tolist()
    ((4, 4, 4), [0.25, 0.25, 0.25, 0.25])
    """
    r1 = _as_states(rho_left, "rho_left")
    r2 = _as_states(rho_right, "rho_right")
    r1 = r1.reshape(r1.shape[:-2] + (2, 2, 2, 2))  # [a, b, a', b']
    r2 = r2.reshape(r2.shape[:-2] + (2, 2, 2, 2))  # [c, d, c', d']
    out = np.einsum("kbc,kyz,kDd,kWw,...abxy,...cdzw->k...aDxW", _BELL.conj(), _BELL,
                    _PAULI, _PAULI.conj(), r1, r2, optimize=True)
    return out.reshape(out.shape[:-4] + (4, 4))


def _marginal_A(rho):
    """tr_B rho, (..., 2, 2)."""
    return np.einsum("...abcb->...ac", rho.reshape(rho.shape[:-2] + (2, 2, 2, 2)))


def _marginal_B(rho):
    """tr_A rho, (..., 2, 2)."""
    return np.einsum("...abad->...bd", rho.reshape(rho.shape[:-2] + (2, 2, 2, 2)))


def bell_swap(rho_left, rho_right, *, depol: float = 0.0) -> np.ndarray:
    """The swapped state of (A1, B2), summed over the Bell-measurement outcomes.

    Parameters
    ----------
    rho_left, rho_right : array_like, shape (..., 4, 4)
        States of (A1, B1) and (A2, B2).
    depol : float
        Probability p of a two-qubit depolarising error on the measured atoms (B1, A2)
        before an ideal Bell measurement, rho -> (1 - p) rho + p 1/4 (x) tr_{B1 A2} rho
        (docs/repeater.md section 2). Default 0.

    Returns
    -------
    ndarray, shape (..., 4, 4)
        The corrected state of (A1, B2); its trace is the product of the input traces
        (the Bell measurement itself always succeeds; its failure probability only enters
        the rate).

    Raises
    ------
    ValueError
        If a state is not of shape (..., 4, 4), or ``depol`` is not in [0, 1]
        (a :class:`~catbell_qutip._checks.ParameterError`).

    Examples
    --------
    Werner states of visibilities v1, v2 swap to visibility v1 v2; a depolarising error
    p on two Bell pairs leaves visibility 1 - p:

    >>> import numpy as np
    >>> phi = np.array([1, 0, 0, 1]) / np.sqrt(2)
    >>> def werner(v):                      # v |phi+><phi+| + (1 - v) 1/4
    ...     return v * np.outer(phi, phi) + (1 - v) * np.eye(4) / 4
    >>> bool(np.allclose(bell_swap(werner(0.9), werner(0.8)), werner(0.72)))
    True
    >>> bool(np.allclose(bell_swap(werner(1.0), werner(1.0), depol=0.2), werner(0.8)))
    True

    Notes
    -----
    The depolarised branch is the swap of the product states (rho_A1 (x) 1/2) and
    (1/2 (x) rho_B2): after the error the measured pair is maximally mixed and uncorrelated
    with the rest, so the output is rho_A1 (x) 1/2.
    """
    p = check_real(depol, "depol", low=0.0, high=1.0)
    r1 = _as_states(rho_left, "rho_left")
    r2 = _as_states(rho_right, "rho_right")
    out = swap_outcomes(r1, r2).sum(axis=0)
    if p == 0.0:
        return out
    half = np.eye(2) / 2.0
    r1_dep = np.einsum("...ac,bd->...abcd", _marginal_A(r1), half)  # rho_A1 (x) 1/2
    r2_dep = np.einsum("ce,...df->...cdef", half, _marginal_B(r2))  # 1/2 (x) rho_B2
    r1_dep = r1_dep.reshape(r1_dep.shape[:-4] + (4, 4))
    r2_dep = r2_dep.reshape(r2_dep.shape[:-4] + (4, 4))
    return (1.0 - p) * out + p * swap_outcomes(r1_dep, r2_dep).sum(axis=0)


def compose_chain(links, *, depol: float = 0.0) -> np.ndarray:
    """The end-to-end state of a chain of links, every node swapping (no memory yet).

    Parameters
    ----------
    links : sequence of array_like, each (..., 4, 4)
        The states of links 1 ... n, left to right (broadcast together).
    depol : float
        Depolarising probability of every swap (see :func:`bell_swap`).

    Returns
    -------
    ndarray, shape (..., 4, 4)
        State of (A1, B_n). Bell measurements on different nodes commute, and every
        correction is a Pauli on B_n, so the order of the swaps does not matter.

    Raises
    ------
    ValueError
        If ``links`` is empty or a state is not of shape (..., 4, 4), or ``depol`` is not
        in [0, 1].

    Examples
    --------
    Visibilities multiply along the chain: 0.9 x 0.8 x 0.5 = 0.36:

    >>> import numpy as np
    >>> phi = np.array([1, 0, 0, 1]) / np.sqrt(2)
    >>> def werner(v):                      # v |phi+><phi+| + (1 - v) 1/4
    ...     return v * np.outer(phi, phi) + (1 - v) * np.eye(4) / 4
    >>> links = [werner(0.9), werner(0.8), werner(0.5)]
    >>> bool(np.allclose(compose_chain(links), werner(0.36)))
    True
    """
    links = list(links)
    if not links:
        raise ValueError("links must hold at least one two-qubit state")
    out = _as_states(links[0], "links[0]")
    for i, rho in enumerate(links[1:], start=1):
        out = bell_swap(out, _as_states(rho, f"links[{i}]"), depol=depol)
    return out


_DIFF_A = np.array([[(i >> 1) != (j >> 1) for j in range(4)] for i in range(4)])
_DIFF_B = np.array([[(i & 1) != (j & 1) for j in range(4)] for i in range(4)])


def dephase_output(rho, d_A, d_B, d_AB) -> np.ndarray:
    """Apply the expected memory dephasing to the end-to-end state (docs/repeater.md 4).

    Element rho[ab, a'b'] is multiplied by E[d_A] if only a != a', by E[d_B] if only
    b != b', by E[d_A d_B] if both differ (docs/model.md section 3.7, per atom).

    Parameters
    ----------
    rho : array_like, shape (..., 4, 4)
        State of (A1, B_n).
    d_A, d_B, d_AB : float or ndarray
        E[d_A], E[d_B], E[d_A d_B] (:func:`memory_factors`), broadcast with ``rho[..., 0, 0]``.

    Returns
    -------
    ndarray, shape (..., 4, 4)
        The dephased state (same trace).

    Raises
    ------
    ValueError
        If ``rho`` is not of shape (..., 4, 4).

    Examples
    --------
    The coherence |up up><down down| of a Bell pair flips both atoms: it takes E[d_A d_B]:

    >>> import numpy as np
    >>> phi = np.array([1, 0, 0, 1]) / np.sqrt(2)
    >>> out = dephase_output(np.outer(phi, phi), 0.9, 0.8, 0.7)
    >>> round(float(out[0, 3].real), 12), round(float(out[0, 0].real), 12)
    (0.35, 0.5)
    """
    rho = _as_states(rho, "rho")
    dA = np.asarray(d_A, dtype=float)[..., None, None]
    dB = np.asarray(d_B, dtype=float)[..., None, None]
    dAB = np.asarray(d_AB, dtype=float)[..., None, None]
    f = np.where(_DIFF_A & _DIFF_B, dAB, np.where(_DIFF_A, dA, np.where(_DIFF_B, dB, 1.0)))
    return rho * f
