"""Photon-number sector sums, the special functions behind every closed form.

docs/model.md section 5 writes the closed forms through

    S_r(y) = sum_{n = r (mod M)} y^n / n!

For real ``y >= 0`` this module returns the *Poisson residue masses*
``w_r(y) = exp(-y) S_r(y)``: the probability that a Poisson variable of mean ``y`` is
``r`` modulo ``M``. They are sums of positive terms, computed in log space, so they are
accurate to machine precision for ``y`` from 0 to several hundred, including the tiny
masses of high residues at small ``y`` (where the textbook roots-of-unity formula
``S_r(y) = (1/M) sum_k w^{-kr} exp(y w^k)`` cancels catastrophically).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.special import gammaln

__all__ = ["poisson_residue_masses", "poisson_tail"]

@functools.lru_cache(maxsize=32)
def _log_factorials(size: int) -> np.ndarray:
    """log(n!) for n = 0..size-1 (read-only, cached)."""
    out = gammaln(np.arange(size) + 1.0)
    out.flags.writeable = False
    return out


def _n_grid(y_max: float) -> np.ndarray:
    """Photon numbers that carry all but ~1e-18 of a Poisson(y_max) distribution."""
    n_hi = int(np.ceil(y_max + 12.0 * np.sqrt(y_max) + 40.0))
    return np.arange(n_hi + 1)


def poisson_residue_masses(y, modulus: int) -> np.ndarray:
    """Probability that a Poisson variable of mean ``y`` equals ``r`` modulo ``modulus``.

    Parameters
    ----------
    y : float or array_like
        Mean photon number(s), ``y >= 0`` (dimensionless).
    modulus : int
        The modulus ``M >= 1``.

    Returns
    -------
    ndarray of shape ``(*y.shape, M)``
        ``w[..., r] = exp(-y) * sum_{n = r mod M} y^n / n!``; the last axis sums to 1.

    Notes
    -----
    Summed term by term in log space over a photon-number window that holds all but
    ~1e-18 of the distribution, then renormalised, so every entry has a small *relative*
    error, even a mass of 1e-40 at tiny ``y`` (docs/model.md section 5).
    """
    y = np.asarray(y, dtype=float)
    if np.any(y < 0) or not np.all(np.isfinite(y)):
        raise ValueError("poisson_residue_masses: y must be finite and >= 0")
    n = _n_grid(float(np.max(y)) if y.size else 0.0)
    # n log y as xlogy(n, y) gives it (0 for n = 0, also at y = 0), without xlogy's cost
    with np.errstate(divide="ignore"):
        logy = np.log(y)[..., None]
    nlogy = np.empty(y.shape + (n.size,))
    nlogy[..., 0] = 0.0
    np.multiply(n[1:], logy, out=nlogy[..., 1:])
    logp = nlogy - y[..., None] - _log_factorials(n.size)
    p = np.exp(logp, out=logp)
    out = np.zeros(y.shape + (modulus,))
    for r in range(modulus):
        out[..., r] = p[..., r::modulus].sum(axis=-1)
    # the window holds all but ~1e-18 of the mass; renormalising removes the ~1e-13
    # systematic error that log-space terms pick up at large y (n log y - lgamma(n+1) cancels)
    return out / out.sum(axis=-1, keepdims=True)


def poisson_tail(y, n_max) -> np.ndarray:
    """Probability that a Poisson variable of mean ``y`` exceeds ``n_max``.

    Accurate in relative terms (regularised incomplete gamma function), also when the
    tail is far below machine epsilon.
    """
    from scipy.special import gammainc

    y = np.asarray(y, dtype=float)
    return np.where(y > 0, gammainc(np.asarray(n_max) + 1.0, y), 0.0)
