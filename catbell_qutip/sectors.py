"""Photon-number sector sums, the special functions behind every closed form.

MODEL.md section 5 writes the closed forms through

    S_r(y) = sum_{n = r (mod M)} y^n / n!

For real ``y >= 0`` this module returns the *Poisson residue masses*
``w_r(y) = exp(-y) S_r(y)``: the probability that a Poisson variable of mean ``y`` is
``r`` modulo ``M``. They are sums of positive terms, computed in log space, so they are
accurate to machine precision for ``y`` from 0 to several hundred, including the tiny
masses of high residues at small ``y`` (where the textbook roots-of-unity formula
``S_r(y) = (1/M) sum_k w^{-kr} exp(y w^k)`` cancels catastrophically).

For complex arguments (needed by the linear-optics detector model) :func:`residue_series`
evaluates ``T_d(z) = sum_{j = d (mod M)} z^j / j!`` by its power series for small ``|z|``
and by the roots-of-unity formula for large ``|z|``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, xlogy

__all__ = ["poisson_residue_masses", "residue_series", "poisson_tail"]

_SERIES_RADIUS = 2.0


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
    ~1e-18 of the distribution, so every entry has a small *relative* error, even a mass
    of 1e-40 at tiny ``y`` (MODEL.md section 5).
    """
    y = np.asarray(y, dtype=float)
    if np.any(y < 0) or not np.all(np.isfinite(y)):
        raise ValueError("poisson_residue_masses: y must be finite and >= 0")
    n = _n_grid(float(np.max(y)) if y.size else 0.0)
    logp = xlogy(n, y[..., None]) - y[..., None] - gammaln(n + 1.0)
    p = np.exp(logp)
    out = np.zeros(y.shape + (modulus,))
    for r in range(modulus):
        out[..., r] = p[..., r::modulus].sum(axis=-1)
    return out


def poisson_tail(y, n_max) -> np.ndarray:
    """Probability that a Poisson variable of mean ``y`` exceeds ``n_max``.

    Accurate in relative terms (regularised incomplete gamma function), also when the
    tail is far below machine epsilon.
    """
    from scipy.special import gammainc

    y = np.asarray(y, dtype=float)
    return np.where(y > 0, gammainc(np.asarray(n_max) + 1.0, y), 0.0)


def residue_series(z, modulus: int) -> np.ndarray:
    """``T_d(z) = sum_{j = d (mod M)} z^j / j!`` for complex ``z``, ``d = 0..M-1``.

    Parameters
    ----------
    z : complex or array_like
        Argument(s).
    modulus : int
        The modulus ``M``.

    Returns
    -------
    ndarray of shape ``(*z.shape, M)``, complex.

    Notes
    -----
    For ``|z| <= 2`` the power series (60 terms, error below 1e-40 relative to e^|z|);
    above, ``(1/M) sum_k exp(-2 pi i k d / M) exp(z exp(2 pi i k / M))``, which is exact
    and loses at most a factor ``exp(|z| (1 - cos(pi/M))) M`` of relative precision.
    """
    z = np.asarray(z, dtype=complex)
    out = np.empty(z.shape + (modulus,), dtype=complex)
    small = np.abs(z) <= _SERIES_RADIUS
    j = np.arange(60)
    logfact = gammaln(j + 1.0)
    if np.any(small):
        zs = z[small][..., None]
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(j == 0, 1.0 + 0j, zs ** j / np.exp(logfact))
        for d in range(modulus):
            out[small, d] = terms[..., d::modulus].sum(axis=-1)
    if np.any(~small):
        zl = z[~small][..., None]
        k = np.arange(modulus)
        roots = np.exp(2j * np.pi * k / modulus)
        ez = np.exp(zl * roots)  # (..., M)
        for d in range(modulus):
            out[~small, d] = (ez * np.exp(-2j * np.pi * k * d / modulus)).sum(axis=-1) / modulus
    return out
