"""CHSH values of two-qubit states, three independent ways (docs/model.md section 4).

- :func:`chsh_horodecki`: S_max = 2 sqrt(t1 + t2), t1 >= t2 the two largest eigenvalues of
  T^T T, T_ij = tr[rho sigma_i (x) sigma_j] (Horodecki criterion), for any two-qubit state.
- :func:`chsh_numerical`: direct maximisation of tr[rho B_CHSH] over measurement directions.
- :func:`chsh_from_fidelity`: the closed form 2 sqrt(1 + (2F - 1)^2), valid for
  F phi+ + (1 - F) phi-.

Also :func:`chsh_value` for given directions and :func:`optimal_settings` for the closed
form's settings (A0 = sz, A1 = sx, B0,1 = cos t sz +/- sin t sx, tan t = 2F - 1).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

__all__ = [
    "correlation_matrix",
    "chsh_horodecki",
    "chsh_numerical",
    "chsh_from_fidelity",
    "chsh_value",
    "optimal_settings",
    "bell_fidelity",
    "qber_z",
]

_PAULI = np.array([
    [[0, 1], [1, 0]],
    [[0, -1j], [1j, 0]],
    [[1, 0], [0, -1]],
])


#: sigma_i (x) sigma_j for i, j in (x, y, z), shape (3, 3, 4, 4): built once
_PAULI_PAIRS = np.einsum("iab,jcd->ijacbd", _PAULI, _PAULI).reshape(3, 3, 4, 4)
_PAULI_PAIRS.flags.writeable = False


def _as_array(rho) -> np.ndarray:
    if hasattr(rho, "full"):
        rho = rho.full()
    rho = np.asarray(rho)
    if rho.shape[-2:] != (4, 4):
        raise ValueError(
            f"expected two-qubit density matrices of shape (..., 4, 4), got {rho.shape}"
        )
    return rho


def correlation_matrix(rho) -> np.ndarray:
    """T_ij = tr[rho sigma_i (x) sigma_j], i, j in (x, y, z); shape (..., 3, 3), real.

    Parameters
    ----------
    rho : array_like or qutip.Qobj
        Two-qubit density matrix (dimensionless), shape (..., 4, 4), basis order
        |up up>, |up down>, |down up>, |down down>; a batch is any leading shape.

    Returns
    -------
    numpy.ndarray
        The correlation matrix T, real, shape (..., 3, 3).

    Raises
    ------
    ValueError
        If the last two axes of ``rho`` are not (4, 4).

    Examples
    --------
    phi+ = (|up up> + |down down>) / sqrt 2 has <sx sx> = 1, <sy sy> = -1, <sz sz> = 1:

    >>> import numpy as np
    >>> phi = np.array([1, 0, 0, 1]) / np.sqrt(2)
    >>> np.round(correlation_matrix(np.outer(phi, phi)), 12) + 0.0
    array([[ 1.,  0.,  0.],
           [ 0., -1.,  0.],
           [ 0.,  0.,  1.]])
    """
    rho = _as_array(rho)
    return np.real(np.einsum("ijab,...ba->...ij", _PAULI_PAIRS, rho))


def chsh_horodecki(rho) -> np.ndarray:
    """Maximal CHSH value by the Horodecki criterion; works on (..., 4, 4) batches.

    Parameters
    ----------
    rho : array_like or qutip.Qobj
        Two-qubit density matrix (dimensionless), shape (..., 4, 4).

    Returns
    -------
    numpy.ndarray
        S_max = 2 sqrt(t1 + t2) (dimensionless, in [0, 2 sqrt 2]), t1 >= t2 the two largest
        eigenvalues of T^T T (:func:`correlation_matrix`); shape (...).

    Raises
    ------
    ValueError
        If the last two axes of ``rho`` are not (4, 4).

    Examples
    --------
    Tsirelson's bound 2 sqrt 2 for phi+, 0 for the maximally mixed state:

    >>> import numpy as np
    >>> phi = np.array([1, 0, 0, 1]) / np.sqrt(2)
    >>> round(float(chsh_horodecki(np.outer(phi, phi))), 12), float(chsh_horodecki(np.eye(4) / 4))
    (2.828427124746, 0.0)
    """
    T = correlation_matrix(rho)
    ev = np.linalg.eigvalsh(np.swapaxes(T, -1, -2) @ T)
    top = np.clip(ev[..., -1] + ev[..., -2], 0.0, None)
    return 2.0 * np.sqrt(top)


def chsh_from_fidelity(F) -> np.ndarray:
    """S_max = 2 sqrt(1 + (2F - 1)^2) of F phi+ + (1 - F) phi- (docs/model.md section 4).

    Parameters
    ----------
    F : float or array_like
        Fidelity with phi+ (dimensionless, in [0, 1]) of a state F phi+ + (1 - F) phi-.

    Returns
    -------
    numpy.ndarray
        The maximal CHSH value (dimensionless, in [2, 2 sqrt 2]), the shape of ``F``.

    Examples
    --------
    F = 1 reaches Tsirelson's bound, F = 1/2 (a classical mixture) the local bound 2:

    >>> [round(float(chsh_from_fidelity(F)), 6) for F in (1.0, 0.9, 0.5)]
    [2.828427, 2.56125, 2.0]
    """
    F = np.asarray(F, dtype=float)
    return 2.0 * np.sqrt(1.0 + (2.0 * F - 1.0) ** 2)


def _unit(theta, phi):
    return np.array([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])


def chsh_value(rho, a0, a1, b0, b1) -> float:
    """tr[rho (A0 B0 + A0 B1 + A1 B0 - A1 B1)] for Bloch directions a0, a1, b0, b1.

    Parameters
    ----------
    rho : array_like or qutip.Qobj
        One two-qubit density matrix (dimensionless), shape (4, 4).
    a0, a1, b0, b1 : array_like
        Unit Bloch vectors (x, y, z) of Alice's and Bob's measurements, A = a . sigma.

    Returns
    -------
    float
        The CHSH value S (dimensionless; |S| <= 2 for local correlations).

    Raises
    ------
    ValueError
        If ``rho`` is not (4, 4).

    Examples
    --------
    At the settings of :func:`optimal_settings` the state F phi+ + (1 - F) phi- reaches
    :func:`chsh_from_fidelity`:

    >>> import numpy as np
    >>> phi_p, phi_m = np.array([1, 0, 0, 1]) / np.sqrt(2), np.array([1, 0, 0, -1]) / np.sqrt(2)
    >>> rho = 0.9 * np.outer(phi_p, phi_p) + 0.1 * np.outer(phi_m, phi_m)
    >>> round(chsh_value(rho, *optimal_settings(0.9)), 6)
    2.56125
    """
    T = correlation_matrix(rho)
    a0, a1, b0, b1 = (np.asarray(v, dtype=float) for v in (a0, a1, b0, b1))
    return float(a0 @ T @ (b0 + b1) + a1 @ T @ (b0 - b1))


def chsh_numerical(rho, *, starts: int = 8, seed: int = 0) -> float:
    """Maximise the CHSH value over all four measurement directions numerically.

    For fixed Alice directions a0, a1 the best Bob directions are analytic (b0 + b1 along
    T^T (a0 + a1), b0 - b1 along T^T (a0 - a1)), so S(a0, a1) = |T^T(a0 + a1)| +
    |T^T(a0 - a1)| is maximised over the four angles of a0, a1 with BFGS from several
    random starts. Independent of the eigenvalue formula of :func:`chsh_horodecki`.

    Parameters
    ----------
    rho : array_like or qutip.Qobj
        One two-qubit density matrix (dimensionless), shape (4, 4).
    starts : int
        Number of random starting directions (default 8).
    seed : int
        Seed of the starting directions (default 0), so the result is reproducible.

    Returns
    -------
    float
        The largest CHSH value found (dimensionless).

    Raises
    ------
    ValueError
        If ``rho`` is a batch or not (4, 4).

    Examples
    --------
    >>> import numpy as np
    >>> phi = np.array([1, 0, 0, 1]) / np.sqrt(2)
    >>> round(chsh_numerical(np.outer(phi, phi)), 9)
    2.828427125
    """
    T = correlation_matrix(rho)
    if T.ndim != 2:
        raise ValueError("chsh_numerical takes a single state, not a batch")

    def neg(v):
        a0, a1 = _unit(v[0], v[1]), _unit(v[2], v[3])
        return -(np.linalg.norm(T.T @ (a0 + a1)) + np.linalg.norm(T.T @ (a0 - a1)))

    rng = np.random.default_rng(seed)
    best = np.inf
    for _ in range(starts):
        v0 = rng.uniform(0, np.pi, 4) * np.array([1, 2, 1, 2])
        res = minimize(neg, v0, method="BFGS", options={"gtol": 1e-12, "xrtol": 1e-14})
        res = minimize(neg, res.x, method="Nelder-Mead",
                       options={"xatol": 1e-13, "fatol": 1e-15, "maxiter": 4000})
        best = min(best, res.fun)
    return float(-best)


def optimal_settings(F: float):
    """Directions (a0, a1, b0, b1) that reach the closed form for F phi+ + (1-F) phi-.

    Parameters
    ----------
    F : float
        Fidelity with phi+ (dimensionless, in [0, 1]).

    Returns
    -------
    tuple of numpy.ndarray
        Unit Bloch vectors a0 = z, a1 = x, b0,1 = cos t z +/- sin t x with
        tan t = 2F - 1 (t in rad).

    Examples
    --------
    For phi+ (F = 1) Bob measures at +/- 45 degrees between z and x:

    >>> a0, a1, b0, b1 = optimal_settings(1.0)
    >>> b0.round(6), b1.round(6)
    (array([0.707107, 0.      , 0.707107]), array([-0.707107,  0.      ,  0.707107]))
    """
    t = np.arctan(2.0 * F - 1.0)
    z, x = np.array([0, 0, 1.0]), np.array([1.0, 0, 0])
    return z, x, np.cos(t) * z + np.sin(t) * x, np.cos(t) * z - np.sin(t) * x


def bell_fidelity(rho) -> np.ndarray:
    """<phi+|rho|phi+> with phi+ = (|up up> + |down down>)/sqrt 2, batched.

    Parameters
    ----------
    rho : array_like or qutip.Qobj
        Two-qubit density matrix (dimensionless), shape (..., 4, 4).

    Returns
    -------
    numpy.ndarray
        The fidelity F (dimensionless, in [0, 1]), shape (...).

    Raises
    ------
    ValueError
        If the last two axes of ``rho`` are not (4, 4).

    Examples
    --------
    >>> import numpy as np
    >>> phi = np.array([1, 0, 0, 1]) / np.sqrt(2)
    >>> round(float(bell_fidelity(np.outer(phi, phi))), 12), float(bell_fidelity(np.eye(4) / 4))
    (1.0, 0.25)
    """
    rho = _as_array(rho)
    return 0.5 * np.real(rho[..., 0, 0] + rho[..., 3, 3] + 2.0 * rho[..., 0, 3])


def qber_z(rho) -> np.ndarray:
    """Bit-error rate Q of key rounds A0 = B_key = sz: P(z outcomes differ), batched.

    Parameters
    ----------
    rho : array_like or qutip.Qobj
        Two-qubit density matrix (dimensionless), shape (..., 4, 4).

    Returns
    -------
    numpy.ndarray
        Q = <up down|rho|up down> + <down up|rho|down up> (dimensionless, in [0, 1]),
        shape (...).

    Raises
    ------
    ValueError
        If the last two axes of ``rho`` are not (4, 4).

    Examples
    --------
    phi+ and phi- agree in z (Q = 0); the maximally mixed state errs half the time:

    >>> import numpy as np
    >>> phi = np.array([1, 0, 0, -1]) / np.sqrt(2)
    >>> float(qber_z(np.outer(phi, phi))), float(qber_z(np.eye(4) / 4))
    (0.0, 0.5)
    """
    rho = _as_array(rho)
    return np.real(rho[..., 1, 1] + rho[..., 2, 2])
