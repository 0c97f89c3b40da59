"""The statistics p(a, b | x, y) of the CHSH DI-QKD protocol on a two-qubit state.

Alice measures A0, A1 (x = 0, 1), Bob B0, B1 (CHSH, y = 0, 1) and B2 (key, y = 2); outcomes
a, b in {0, 1} stand for the eigenvalues +1, -1 of the spin observables along Bloch
directions. For a two-qubit state with local Bloch vectors r_A, r_B and correlation matrix T
(:func:`catbell_qutip.bell.correlation_matrix`):

    p(a, b | x, y) = (1 + (-1)^a a_x . r_A + (-1)^b b_y . r_B + (-1)^(a + b) a_x . T b_y) / 4.

Settings (:func:`chsh_settings`): the Horodecki directions, which reach the largest CHSH
value S = 2 sqrt(t1 + t2) (t1 >= t2 the two largest eigenvalues of T^T T, eigenvectors e1,
e2): Bob's b0, b1 = cos(th) e1 +- sin(th) e2 with tan(th) = sqrt(t2 / t1), Alice's a0 =
T e1 / |T e1|, a1 = T e2 / |T e2|. Alice's key setting is A0 (the larger singular value),
Bob's key setting B2 is aligned with it: b2 = T^T a0 / |T^T a0|, the direction that
maximises their correlation, so Q = (1 - sqrt(t1)) / 2. For the paper's heralded state
F phi+ + (1 - F) phi- this is A0 = B2 = sz and Q = the bit-error rate of
:func:`catbell_qutip.bell.qber_z`.
"""

from __future__ import annotations

import numpy as np

from .._checks import ParameterError
from ..bell import correlation_matrix
from .bound import FiniteKey, finite_key

__all__ = ["chsh_settings", "correlation_table", "statistics_from_table",
           "protocol_statistics_of_state", "finite_key_from_table"]

#: Q below this is rounding of a0 . T b2 = 1 (products of unit vectors, ~1e-16) and is 0
_Q_ROUND = 1e-14

_PAULI = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])


def _as_array(rho) -> np.ndarray:
    """A single 4 x 4 state as an ndarray (a qutip.Qobj is converted)."""
    rho = np.asarray(rho.full() if hasattr(rho, "full") else rho)
    if rho.shape != (4, 4):
        raise ValueError(f"expected one two-qubit density matrix of shape (4, 4), got "
                         f"{rho.shape}")
    return rho


def _bloch(rho):
    """Local Bloch vectors (r_A, r_B) of a 4x4 two-qubit state."""
    rA = np.array([np.real(np.trace(rho @ np.kron(s, np.eye(2)))) for s in _PAULI])
    rB = np.array([np.real(np.trace(rho @ np.kron(np.eye(2), s))) for s in _PAULI])
    return rA, rB


def chsh_settings(rho) -> dict:
    """Measurement directions of the CHSH DI-QKD protocol for a two-qubit state.

    Parameters
    ----------
    rho : array_like or qutip.Qobj
        4 x 4 density matrix (basis |up up>, |up down>, |down up>, |down down>).

    Returns
    -------
    dict
        ``a0``, ``a1`` (Alice), ``b0``, ``b1``, ``b2`` (Bob): unit Bloch vectors (ndarray of
        3). Directions of zero correlation (T = 0) default to z and x.

    Examples
    --------
    For phi+ (T = diag(1, -1, 1)) Alice measures z and x (or y) and Bob the diagonals:

    >>> phi = np.zeros(4); phi[[0, 3]] = 2 ** -0.5
    >>> d = chsh_settings(np.outer(phi, phi))
    >>> np.round(d["a0"], 12).tolist(), np.round(d["b2"], 12).tolist()
    ([0.0, 0.0, 1.0], [0.0, 0.0, 1.0])
    """
    T = correlation_matrix(_as_array(rho))
    ev, vec = np.linalg.eigh(T.T @ T)
    t1, t2 = max(ev[2], 0.0), max(ev[1], 0.0)
    e1, e2 = vec[:, 2], vec[:, 1]
    th = np.arctan2(np.sqrt(t2), np.sqrt(t1))
    b0 = np.cos(th) * e1 + np.sin(th) * e2
    b1 = np.cos(th) * e1 - np.sin(th) * e2

    def unit(v, default):
        nv = np.linalg.norm(v)
        return v / nv if nv > 1e-300 else np.asarray(default, dtype=float)

    a0 = unit(T @ e1, [0.0, 0.0, 1.0])
    a1 = unit(T @ e2, [1.0, 0.0, 0.0])
    b2 = unit(T.T @ a0, a0)
    return {"a0": a0, "a1": a1, "b0": b0, "b1": b1, "b2": b2}


def correlation_table(rho, settings: dict | None = None) -> np.ndarray:
    """p(a, b | x, y) of the protocol: shape (2, 2, 2, 3), index [a, b, x, y].

    x in {0, 1} selects Alice's a0, a1; y in {0, 1, 2} Bob's b0, b1, b2; each (x, y) slice
    sums to 1. ``settings`` defaults to :func:`chsh_settings` of ``rho``.

    Examples
    --------
    >>> phi = np.zeros(4); phi[[0, 3]] = 2 ** -0.5
    >>> p = correlation_table(np.outer(phi, phi))
    >>> S, Q = statistics_from_table(p)
    >>> round(S, 12), round(Q, 12)
    (2.828427124746, 0.0)
    """
    rho = _as_array(rho)
    d = chsh_settings(rho) if settings is None else settings
    T = correlation_matrix(rho)
    rA, rB = _bloch(rho)
    A = [d["a0"], d["a1"]]
    Bs = [d["b0"], d["b1"], d["b2"]]
    p = np.empty((2, 2, 2, 3))
    for x in range(2):
        for y in range(3):
            ma, mb, c = A[x] @ rA, Bs[y] @ rB, A[x] @ T @ Bs[y]
            for a in range(2):
                for b in range(2):
                    sa, sb = (-1) ** a, (-1) ** b
                    p[a, b, x, y] = 0.25 * (1 + sa * ma + sb * mb + sa * sb * c)
    return np.clip(p, 0.0, 1.0)


def statistics_from_table(p) -> tuple[float, float]:
    """(S, Q) of a table p(a, b | x, y) of shape (2, 2, 2, 3), index [a, b, x, y].

    S = sum over x, y in {0, 1} of (-1)^(x y) E_xy, E_xy = sum_ab (-1)^(a + b) p(a, b | x, y);
    Q = p(a != b | x = 0, y = 2). A table whose CHSH sum is negative is the same experiment
    with one of Bob's outcomes relabelled: S is its absolute value. The slice x = 1, y = 2
    never occurs in the protocol (key rounds have x = 0) and is not used (zeros are fine).

    Raises
    ------
    catbell_qutip._checks.ParameterError
        If the shape is wrong, an entry is negative or not finite, or a slice does not sum
        to 1 (to 1e-6).

    Examples
    --------
    [N22]'s model at S = 2.64, Q = 0.018 (its eqs. 6-7):

    >>> p = np.zeros((2, 2, 2, 3))
    >>> for x in (0, 1):
    ...     for y in (0, 1):
    ...         for a in (0, 1):
    ...             for b in (0, 1):
    ...                 p[a, b, x, y] = (1 + (-1) ** (a + b + x * y) * 2.64 / 4) / 4
    >>> p[:, :, 0, 2] = [[0.491, 0.009], [0.009, 0.491]]
    >>> tuple(round(v, 12) for v in statistics_from_table(p))
    (2.64, 0.018)
    """
    p = np.asarray(p, dtype=float)
    if p.shape != (2, 2, 2, 3):
        raise ParameterError(f"the table p(a, b | x, y) must have shape (2, 2, 2, 3) "
                             f"(index [a, b, x, y]), got {p.shape}", "table")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ParameterError("the table p(a, b | x, y) must hold finite probabilities >= 0",
                             "table")
    sums = p.sum(axis=(0, 1))
    bad = np.abs(sums - 1.0) > 1e-6
    bad[1, 2] = False  # x = 1, y = 2 does not occur
    if np.any(bad):
        x, y = np.argwhere(bad)[0]
        raise ParameterError(f"p(a, b | x = {x}, y = {y}) sums to {sums[x, y]:.9g}, not 1",
                             "table")
    E = np.einsum("ab,abxy->xy", np.array([[1, -1], [-1, 1]]), p[:, :, :, :2])
    S = abs(E[0, 0] + E[0, 1] + E[1, 0] - E[1, 1])
    Q = p[0, 1, 0, 2] + p[1, 0, 0, 2]
    return float(S), float(Q)


def protocol_statistics_of_state(rho) -> dict:
    """S, Q and the table of the protocol on one two-qubit state.

    Returns
    -------
    dict
        ``S`` (CHSH value of the Horodecki settings: :func:`catbell_qutip.bell.chsh_horodecki`
        of the state), ``Q`` (p(a0 != b2) = (1 - a0 . T b2) / 2, 0 below 1e-14), ``table``
        (:func:`correlation_table`; :func:`statistics_from_table` gives the same S and Q to
        rounding) and ``settings`` (:func:`chsh_settings`).
    """
    d = chsh_settings(rho)
    p = correlation_table(rho, d)
    T = correlation_matrix(_as_array(rho))
    # from the correlators directly (the table's sums would add rounding to Q = 0)
    S = float(d["a0"] @ T @ (d["b0"] + d["b1"]) + d["a1"] @ T @ (d["b0"] - d["b1"]))
    Q = float(np.clip((1.0 - d["a0"] @ T @ d["b2"]) / 2.0, 0.0, 0.5))
    Q = 0.0 if Q < _Q_ROUND else Q  # a0 . T b2 = 1 to rounding: no bit errors
    return {"S": min(abs(S), 2.0 * np.sqrt(2.0)), "Q": Q, "table": p, "settings": d}


def finite_key_from_table(n, table, **options) -> FiniteKey:
    """:func:`.bound.finite_key` for a measured table p(a, b | x, y): its S and Q
    (:func:`statistics_from_table`) are the expected values the protocol is tuned to.

    Examples
    --------
    >>> phi = np.zeros(4); phi[[0, 3]] = 2 ** -0.5
    >>> r = finite_key_from_table(10 ** 7, correlation_table(np.outer(phi, phi)))
    >>> r.S == finite_key(1, 2 * 2 ** 0.5, 0.0).S, r.key_length_bits > 0
    (True, True)
    """
    S, Q = statistics_from_table(table)
    return finite_key(n, S, Q, **options)
